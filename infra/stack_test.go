package main

// The stack is synthesized once, in TestMain, with cdk.json's context (the
// feature flags `cdk synth` uses); every test reads that one template.
// Variants (other settings) get one more App, built on first use: a
// construct tree cannot change after synthesis. jsii failures are panics;
// run with -count=1 (Go's test cache cannot see the files node reads).

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/statemachine"
)

// runMainEnv makes the test binary run main() instead of the tests, so a
// test can watch the app fail the way `cdk synth` runs it.
const runMainEnv = "KEYWARDEN_INFRA_RUN_MAIN"

var (
	repoRoot     string
	cdkContext   map[string]any
	defaultStack awscdk.Stack
	defaultTmpl  *cfnTemplate
)

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	defer jsii.Close()
	var err error
	if repoRoot, err = findRepoRoot("."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if cdkContext, err = readCDKContext(repoRoot); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var tmpl assertions.Template
	defaultStack, tmpl, err = synth(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if defaultTmpl, err = parseTemplate(tmpl); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// synth builds an App from cdk.json's context with overrides and
// synthesizes its stack. A failed validation (say, an unsuppressed cdk-nag
// error) is a jsii panic, returned here as an error.
func synth(overrides map[string]any) (stack awscdk.Stack, tmpl assertions.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synthesis failed (findings printed above): %v", r)
		}
	}()
	ctx := maps.Clone(cdkContext)
	// The CDK CLI sets this; the tests find resources by their path.
	ctx["aws:cdk:enable-path-metadata"] = true
	maps.Copy(ctx, overrides)
	if _, stack, err = newApp(repoRoot, ctx); err != nil {
		return nil, nil, err
	}
	return stack, assertions.Template_FromStack(stack, nil), nil
}

// The variant: every setting away from its default.
var (
	variantOnce  sync.Once
	variantStack awscdk.Stack
	variantTmpl  *cfnTemplate
	variantErr   error
)

var variantSettings = map[string]any{
	"exposedKeyAction":    "deactivate",
	"drillSources":        false,
	"activityWindowHours": 72,
	"activityRegions":     []any{"us-east-1", "eu-west-1"},
	"activityMaxEvents":   1000,
	"alertEmails":         []any{"security@example.com", "oncall@example.com"},
	"logRetentionDays":    90,
	// Unset keyAge fields keep their defaults.
	// Rotation off.
	"keyAge":       map[string]any{"warnDays": []any{60, 75}, "limitDays": 85, "deleteAfterDays": 30, "rotationDays": 0},
	"dryRun":       false,
	"schedule":     "rate(1 day)",
	"noticeSender": "keywarden@example.com",
	// The record's noAccessKeysTag check off.
	"noAccessKeysTag": "",
}

func variant(t *testing.T) (awscdk.Stack, *cfnTemplate) {
	t.Helper()
	variantOnce.Do(func() {
		var tmpl assertions.Template
		if variantStack, tmpl, variantErr = synth(variantSettings); variantErr == nil {
			variantTmpl, variantErr = parseTemplate(tmpl)
		}
	})
	if variantErr != nil {
		t.Fatal(variantErr)
	}
	return variantStack, variantTmpl
}

// ---- the synthesized template, as plain Go values ----

type cfnResource struct {
	Type                string         `json:"Type"`
	Properties          map[string]any `json:"Properties"`
	Metadata            map[string]any `json:"Metadata"`
	DeletionPolicy      string         `json:"DeletionPolicy"`
	UpdateReplacePolicy string         `json:"UpdateReplacePolicy"`
}

type cfnTemplate struct {
	Resources map[string]cfnResource `json:"Resources"`
	Outputs   map[string]struct {
		Value any `json:"Value"`
	} `json:"Outputs"`
}

func parseTemplate(tmpl assertions.Template) (*cfnTemplate, error) {
	raw, err := json.Marshal(tmpl.ToJSON())
	if err != nil {
		return nil, err
	}
	var t cfnTemplate
	return &t, json.Unmarshal(raw, &t)
}

// id returns the logical id of the resource at construct path
// Keywarden/<path>.
func (t *cfnTemplate) id(tb testing.TB, path string) string {
	tb.Helper()
	for id, r := range t.Resources {
		if r.Metadata["aws:cdk:path"] == stackName+"/"+path {
			return id
		}
	}
	tb.Fatalf("no resource at %s/%s", stackName, path)
	return ""
}

func (t *cfnTemplate) at(tb testing.TB, path string) cfnResource {
	tb.Helper()
	return t.Resources[t.id(tb, path)]
}

func (t *cfnTemplate) ofType(typ string) map[string]cfnResource {
	out := map[string]cfnResource{}
	for id, r := range t.Resources {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

func ref(id string) any { return map[string]any{"Ref": id} }

func getAtt(id, attr string) any { return map[string]any{"Fn::GetAtt": []any{id, attr}} }

// usersArn is arn:${Partition}:iam::${Account}:user/* as the CDK renders it.
var usersArn = map[string]any{"Fn::Join": []any{"", []any{
	"arn:", ref("AWS::Partition"), ":iam::", ref("AWS::AccountId"), ":user/*",
}}}

// sesIdentityArn is arn:${Partition}:ses:${Region}:${Account}:identity/<identity>.
func sesIdentityArn(identity string) any {
	return map[string]any{"Fn::Join": []any{"", []any{
		"arn:", ref("AWS::Partition"), ":ses:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":identity/" + identity,
	}}}
}

// list normalizes an IAM field that is one value or a list.
func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// statements returns every policy statement granted to the role: its inline
// policies and every AWS::IAM::Policy attached to it.
func (t *cfnTemplate) statements(roleID string) []map[string]any {
	var docs []any
	for _, p := range list(t.Resources[roleID].Properties["Policies"]) {
		docs = append(docs, p.(map[string]any)["PolicyDocument"])
	}
	for _, p := range t.ofType("AWS::IAM::Policy") {
		for _, r := range list(p.Properties["Roles"]) {
			if reflect.DeepEqual(r, ref(roleID)) {
				docs = append(docs, p.Properties["PolicyDocument"])
			}
		}
	}
	var out []map[string]any
	for _, d := range docs {
		for _, s := range list(d.(map[string]any)["Statement"]) {
			out = append(out, s.(map[string]any))
		}
	}
	return out
}

func actionsOf(stmts []map[string]any) []string {
	var out []string
	for _, s := range stmts {
		for _, a := range list(s["Action"]) {
			out = append(out, a.(string))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// ---- tests ----

func TestResourceCounts(t *testing.T) {
	counts := map[string]int{}
	for _, r := range defaultTmpl.Resources {
		counts[r.Type]++
	}
	want := map[string]int{
		"AWS::Lambda::Function":            11,
		"AWS::StepFunctions::StateMachine": 1,
		"AWS::SNS::Topic":                  1,
		// The alert topic's and rotation's secrets'.
		"AWS::KMS::Key":        2,
		"AWS::SQS::Queue":      1,
		"AWS::DynamoDB::Table": 1,
		// Three exposed-key triggers (with drill sources), the
		// failed-execution alert, the daily schedule and its drill rule,
		// key creation and its drill rule.
		"AWS::Events::Rule": 8,
		// One per function and the state machine's.
		"AWS::Logs::LogGroup": 12,
		"AWS::IAM::Role":      12,
		// The default context has no alert e-mail addresses.
		"AWS::SNS::Subscription": 0,
		// Daily run missing, dead-letter queue, failed executions.
		"AWS::CloudWatch::Alarm": 3,
	}
	for typ, n := range want {
		if counts[typ] != n {
			t.Errorf("%s: %d resources, want %d", typ, counts[typ], n)
		}
	}
}

// Every lambdas/<name> is deployed, and nothing else.
func TestFunctionsAreTheLambdaDirectories(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(repoRoot, "lambdas"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs, specs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	for _, f := range functionSpecs {
		specs = append(specs, f.name)
	}
	slices.Sort(specs)
	if !slices.Equal(dirs, specs) {
		t.Errorf("lambdas/ holds %v, the stack deploys %v", dirs, specs)
	}
}

func TestFunctionConfiguration(t *testing.T) {
	for _, spec := range functionSpecs {
		t.Run(spec.name, func(t *testing.T) {
			p := defaultTmpl.at(t, spec.constructID()+"/Resource").Properties
			want := map[string]any{
				"Runtime":       "provided.al2023",
				"Architectures": []any{"arm64"},
				"Handler":       "bootstrap",
				"MemorySize":    spec.memoryMB,
				"Timeout":       spec.timeoutSecs,
				"Role":          getAtt(defaultTmpl.id(t, spec.constructID()+"Role/Resource"), "Arn"),
				"LoggingConfig": map[string]any{"LogGroup": ref(defaultTmpl.id(t, spec.constructID()+"Logs/Resource"))},
			}
			for k, v := range want {
				if !reflect.DeepEqual(p[k], v) {
					t.Errorf("%s = %s, want %s", k, toJSON(p[k]), toJSON(v))
				}
			}
		})
	}
	for name, want := range map[string][2]float64{ // timeout s, memory MB
		fnActivity: {300, 256}, fnScan: {900, 512}, fnAct: {900, 256}, fnDigest: {60, 256}, fnRecord: {60, 256},
	} {
		p := defaultTmpl.at(t, specNamed(name).constructID()+"/Resource").Properties
		if got := [2]any{p["Timeout"], p["MemorySize"]}; got != [2]any{want[0], want[1]} {
			t.Errorf("%s timeout, memory %v, want %v", name, got, want)
		}
	}
}

// Every task's TimeoutSeconds in the definition is at least its function's
// timeout, so a Lambda timeout is not cut short by the state machine.
func TestTaskTimeoutsCoverFunctions(t *testing.T) {
	var def map[string]any
	if err := json.Unmarshal([]byte(statemachine.Definition()), &def); err != nil {
		t.Fatal(err)
	}
	byPlaceholder := map[string]functionSpec{}
	for _, f := range functionSpecs {
		byPlaceholder["${"+f.placeholder()+"}"] = f
	}
	tasks := 0
	var walk func(states map[string]any)
	walk = func(states map[string]any) {
		for name, st := range states {
			st := st.(map[string]any)
			if p, ok := st["ItemProcessor"].(map[string]any); ok {
				walk(p["States"].(map[string]any))
			}
			for _, b := range list(st["Branches"]) {
				walk(b.(map[string]any)["States"].(map[string]any))
			}
			res, _ := st["Resource"].(string)
			f, ok := byPlaceholder[res]
			if !ok {
				continue
			}
			tasks++
			if got, _ := st["TimeoutSeconds"].(float64); got < f.timeoutSecs {
				t.Errorf("state %s: TimeoutSeconds %v, below the %s function's %v s", name, st["TimeoutSeconds"], f.name, f.timeoutSecs)
			}
		}
	}
	walk(def["States"].(map[string]any))
	if tasks == 0 {
		t.Error("no task of the definition names a function placeholder")
	}
}

func TestFunctionEnvironment(t *testing.T) {
	machine := defaultTmpl.id(t, "StateMachine/Resource")
	topic := defaultTmpl.id(t, "AlertTopic/Resource")
	table := defaultTmpl.id(t, "LedgerTable/Resource")
	policy, err := json.Marshal(settings.Default().KeyAge)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{
		fnIntake:   {settings.EnvStateMachineArn: ref(machine)},
		fnFinding:  nil,
		fnContain:  nil,
		fnRevoke:   nil,
		fnActivity: {settings.EnvActivityWindow: "24", settings.EnvActivityRegions: ref("AWS::Region"), settings.EnvActivityMaxEvents: "500"},
		fnRemove:   {settings.EnvExposedKeyAction: "delete"},
		fnAlert:    {settings.EnvAlertTopicArn: ref(topic), settings.EnvConsoleRegion: ref("AWS::Region"), settings.EnvLedgerTable: ref(table)},
		fnScan:     {settings.EnvKeyAgePolicy: string(policy), settings.EnvDryRun: "true", settings.EnvLedgerTable: ref(table)},
		// No sender configured: notices go to the topic.
		// Rotation on: the secrets' key, the partition for the users'
		// ARNs, and the role's own ARN for each secret's policy.
		fnAct: {settings.EnvLedgerTable: ref(table), settings.EnvAlertTopicArn: ref(topic), settings.EnvAccount: ref("AWS::AccountId"),
			settings.EnvRotationKMSKey: getAtt(defaultTmpl.id(t, "RotationSecretsKey/Resource"), "Arn"), settings.EnvPartition: ref("AWS::Partition"),
			settings.EnvRotationWriter: getAtt(defaultTmpl.id(t, "ActFunctionRole/Resource"), "Arn")},
		fnDigest: {settings.EnvAlertTopicArn: ref(topic), settings.EnvConsoleRegion: ref("AWS::Region")},
		fnRecord: {settings.EnvLedgerTable: ref(table), settings.EnvAlertTopicArn: ref(topic), settings.EnvNoKeysTag: "keywarden:no-access-keys"},
	}
	if len(want) != len(functionSpecs) {
		t.Errorf("expectations for %d functions, the stack has %d", len(want), len(functionSpecs))
	}
	// The scan reads the policy back as the Lambda does.
	raw, _ := functionEnv(t, defaultTmpl, fnScan)[settings.EnvKeyAgePolicy].(string)
	if got, err := settings.ParseKeyAge(raw); err != nil || !reflect.DeepEqual(got, settings.Default().KeyAge) {
		t.Errorf("scan %s reads back as %+v, %v; want the default policy", settings.EnvKeyAgePolicy, got, err)
	}
	for name, env := range want {
		got := functionEnv(t, defaultTmpl, name)
		if !reflect.DeepEqual(got, env) {
			t.Errorf("%s environment = %s, want %s", name, toJSON(got), toJSON(env))
		}
	}
}

func functionEnv(t *testing.T, tmpl *cfnTemplate, name string) map[string]any {
	t.Helper()
	p := tmpl.at(t, specNamed(name).constructID()+"/Resource").Properties
	env, _ := p["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	return vars
}

func TestEncryptionAndTransport(t *testing.T) {
	key := defaultTmpl.id(t, "AlertKey/Resource")
	if r := defaultTmpl.Resources[key].Properties["EnableKeyRotation"]; r != true {
		t.Errorf("alert key EnableKeyRotation = %v, want true", r)
	}
	topic := defaultTmpl.at(t, "AlertTopic/Resource").Properties
	if !reflect.DeepEqual(topic["KmsMasterKeyId"], getAtt(key, "Arn")) {
		t.Errorf("topic KmsMasterKeyId = %s, want the alert key", toJSON(topic["KmsMasterKeyId"]))
	}
	queue := defaultTmpl.at(t, "DeadLetterQueue/Resource").Properties
	if queue["SqsManagedSseEnabled"] != true {
		t.Errorf("dead-letter queue SqsManagedSseEnabled = %v, want true", queue["SqsManagedSseEnabled"])
	}
	if queue["MessageRetentionPeriod"] != 14*24*3600.0 {
		t.Errorf("dead-letter queue retention %v s, want 14 days", queue["MessageRetentionPeriod"])
	}
	// EnforceSSL: each resource policy denies requests without TLS.
	for _, path := range []string{"AlertTopic/Policy/Resource", "DeadLetterQueue/Policy/Resource"} {
		doc := defaultTmpl.at(t, path).Properties["PolicyDocument"].(map[string]any)
		denies := false
		for _, s := range list(doc["Statement"]) {
			s := s.(map[string]any)
			denies = denies || (s["Effect"] == "Deny" &&
				reflect.DeepEqual(s["Condition"], map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}))
		}
		if !denies {
			t.Errorf("%s does not deny aws:SecureTransport false", path)
		}
	}
	// EventBridge publishes the failed-execution alert: the key policy
	// must let it encrypt.
	stmts := list(defaultTmpl.Resources[key].Properties["KeyPolicy"].(map[string]any)["Statement"])
	eventsMayEncrypt := false
	for _, s := range stmts {
		s := s.(map[string]any)
		if reflect.DeepEqual(s["Principal"], map[string]any{"Service": "events.amazonaws.com"}) {
			acts := actionsOf([]map[string]any{s})
			eventsMayEncrypt = slices.Contains(acts, "kms:Decrypt") && slices.Contains(acts, "kms:GenerateDataKey*")
		}
	}
	if !eventsMayEncrypt {
		t.Errorf("the alert key's policy does not let events.amazonaws.com use it: %s", toJSON(stmts))
	}
}

func TestLogGroupsRetention(t *testing.T) {
	check := func(t *testing.T, tmpl *cfnTemplate, days float64) {
		groups := tmpl.ofType("AWS::Logs::LogGroup")
		if len(groups) != 12 {
			t.Errorf("%d log groups, want 12", len(groups))
		}
		for id, g := range groups {
			if g.Properties["RetentionInDays"] != days {
				t.Errorf("log group %s retention %v, want %v", id, g.Properties["RetentionInDays"], days)
			}
		}
	}
	t.Run("default", func(t *testing.T) { check(t, defaultTmpl, 365) })
	t.Run("variant", func(t *testing.T) {
		_, tmpl := variant(t)
		check(t, tmpl, 90)
	})
}

// Every retention settings accepts has a CDK value.
func TestRetentionCoversSettings(t *testing.T) {
	for d := 0; d <= 4000; d++ {
		s := settings.Default()
		s.LogRetentionDays = d
		if _, ok := retentionDays[d]; (s.Validate() == nil) != ok {
			t.Errorf("%d days: settings accepts it %v, infra maps it %v", d, s.Validate() == nil, ok)
		}
	}
}

// The exact patterns: tests here and the offline drill read them from the
// template.
func TestEventPatterns(t *testing.T) {
	machine := defaultTmpl.id(t, "StateMachine/Resource")
	want := map[string]string{
		"TrustedAdvisorRule": `{"source":["aws.trustedadvisor"],"detail-type":["Trusted Advisor Check Item Refresh Notification"],
			"detail":{"status":["ERROR"],"check-name":["Exposed Access Keys"]}}`,
		"HealthRule": `{"source":["aws.health"],"detail-type":["AWS Health Event"],
			"detail":{"eventTypeCode":["AWS_RISK_CREDENTIALS_EXPOSED","AWS_RISK_CREDENTIALS_COMPROMISED","AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED"]}}`,
		"DrillRule": `{"source":["awsmock.trustedadvisor"],"detail-type":["Trusted Advisor Check Item Refresh Notification"],
			"detail":{"status":["ERROR"],"check-name":["Exposed Access Keys"]}}`,
		"FailedExecutionRule": `{"source":["aws.states"],"detail-type":["Step Functions Execution Status Change"],
			"detail":{"status":["FAILED","TIMED_OUT","ABORTED"],"stateMachineArn":[{"Ref":"` + machine + `"}]}}`,
		"DrillScheduleRule": `{"source":["awsmock.keywarden"],"detail-type":["Scheduled Event"]}`,
		"KeyCreationRule": `{"source":["aws.iam"],"detail-type":["AWS API Call via CloudTrail"],
			"detail":{"eventSource":["iam.amazonaws.com"],"eventName":["CreateAccessKey"]}}`,
		"DrillKeyCreationRule": `{"source":["awsmock.iam"],"detail-type":["AWS API Call via CloudTrail"],
			"detail":{"eventSource":["iam.amazonaws.com"],"eventName":["CreateAccessKey"]}}`,
	}
	rules := defaultTmpl.ofType("AWS::Events::Rule")
	if len(rules) != len(want)+1 { // and the schedule
		t.Errorf("%d rules, want %d", len(rules), len(want)+1)
	}
	schedule := defaultTmpl.at(t, "ScheduleRule/Resource").Properties
	if schedule["ScheduleExpression"] != "cron(0 8 * * ? *)" || schedule["EventPattern"] != nil {
		t.Errorf("ScheduleRule ScheduleExpression %v, EventPattern %v; want cron(0 8 * * ? *) and no pattern",
			schedule["ScheduleExpression"], toJSON(schedule["EventPattern"]))
	}
	for name, pattern := range want {
		var w any
		if err := json.Unmarshal([]byte(pattern), &w); err != nil {
			t.Fatal(err)
		}
		got := defaultTmpl.at(t, name+"/Resource").Properties["EventPattern"]
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s EventPattern\n got %s\nwant %s", name, toJSON(got), toJSON(w))
		}
	}
}

// Each trigger delivers to the intake with retries and the dead-letter
// queue; the failed-execution rule delivers to the alert topic the same way.
func TestRuleTargets(t *testing.T) {
	dlq := getAtt(defaultTmpl.id(t, "DeadLetterQueue/Resource"), "Arn")
	intake := getAtt(defaultTmpl.id(t, "IntakeFunction/Resource"), "Arn")
	topic := ref(defaultTmpl.id(t, "AlertTopic/Resource"))
	for rule, arn := range map[string]any{
		"TrustedAdvisorRule": intake, "HealthRule": intake, "DrillRule": intake,
		"ScheduleRule": intake, "DrillScheduleRule": intake, "FailedExecutionRule": topic,
		"KeyCreationRule": intake, "DrillKeyCreationRule": intake,
	} {
		targets := list(defaultTmpl.at(t, rule+"/Resource").Properties["Targets"])
		if len(targets) != 1 {
			t.Errorf("%s has %d targets, want 1", rule, len(targets))
			continue
		}
		target := targets[0].(map[string]any)
		if !reflect.DeepEqual(target["Arn"], arn) {
			t.Errorf("%s targets %s, want %s", rule, toJSON(target["Arn"]), toJSON(arn))
		}
		if want := map[string]any{"MaximumEventAgeInSeconds": 7200.0, "MaximumRetryAttempts": 8.0}; !reflect.DeepEqual(target["RetryPolicy"], want) {
			t.Errorf("%s RetryPolicy %s, want %s", rule, toJSON(target["RetryPolicy"]), toJSON(want))
		}
		if want := map[string]any{"Arn": dlq}; !reflect.DeepEqual(target["DeadLetterConfig"], want) {
			t.Errorf("%s DeadLetterConfig %s, want the dead-letter queue", rule, toJSON(target["DeadLetterConfig"]))
		}
	}
	// The alert carries names, not the execution's input or output.
	transformer := list(defaultTmpl.at(t, "FailedExecutionRule/Resource").Properties["Targets"])[0].(map[string]any)["InputTransformer"].(map[string]any)
	for name, path := range transformer["InputPathsMap"].(map[string]any) {
		if p := path.(string); strings.Contains(p, "input") || strings.Contains(p, "output") {
			t.Errorf("failed-execution alert reads %s=%s: execution data must not reach alerts", name, p)
		}
	}
}

// A failing intake loses nothing: Lambda retries the asynchronous
// invocation, then sends it to the dead-letter queue.
func TestIntakeAsyncFailures(t *testing.T) {
	intake := defaultTmpl.id(t, "IntakeFunction/Resource")
	dlq := getAtt(defaultTmpl.id(t, "DeadLetterQueue/Resource"), "Arn")
	if got := defaultTmpl.Resources[intake].Properties["DeadLetterConfig"]; !reflect.DeepEqual(got, map[string]any{"TargetArn": dlq}) {
		t.Errorf("intake DeadLetterConfig %s, want the dead-letter queue", toJSON(got))
	}
	found := false
	for _, c := range defaultTmpl.ofType("AWS::Lambda::EventInvokeConfig") {
		if reflect.DeepEqual(c.Properties["FunctionName"], ref(intake)) {
			found = true
			if c.Properties["MaximumRetryAttempts"] != 2.0 {
				t.Errorf("intake MaximumRetryAttempts %v, want 2", c.Properties["MaximumRetryAttempts"])
			}
		}
	}
	if !found {
		t.Error("intake has no EventInvokeConfig")
	}
}

// The template carries statemachine/keywarden.asl.json byte for byte;
// CloudFormation fills each placeholder with a task function's ARN.
func TestDefinitionIsTheFile(t *testing.T) {
	p := defaultTmpl.at(t, "StateMachine/Resource").Properties
	if got := p["DefinitionString"]; got != statemachine.Definition() {
		t.Errorf("DefinitionString differs from statemachine/keywarden.asl.json:\n%v", got)
	}
	subs, _ := p["DefinitionSubstitutions"].(map[string]any)
	keys := slices.Sorted(maps.Keys(subs))
	if want := statemachine.Placeholders(); !slices.Equal(keys, want) {
		t.Fatalf("DefinitionSubstitutions keys %v, want the definition's placeholders %v", keys, want)
	}
	// Every function but the intake is a task.
	if len(keys) != 10 {
		t.Errorf("%d placeholders filled, want 10: every function but the intake", len(keys))
	}
	for _, placeholder := range keys {
		id := strings.TrimSuffix(placeholder, "Arn") // ActivityFunctionArn → ActivityFunction
		want := getAtt(defaultTmpl.id(t, id+"/Resource"), "Arn")
		if !reflect.DeepEqual(subs[placeholder], want) {
			t.Errorf("${%s} = %s, want %s", placeholder, toJSON(subs[placeholder]), toJSON(want))
		}
	}
}

func TestCheckPlaceholders(t *testing.T) {
	if err := checkPlaceholders(); err != nil {
		t.Fatal(err)
	}
	saved := functionSpecs
	defer func() { functionSpecs = saved }()
	functionSpecs = slices.DeleteFunc(slices.Clone(saved), func(f functionSpec) bool { return f.name == fnActivity })
	err := checkPlaceholders()
	if err == nil || !strings.Contains(err.Error(), "${ActivityFunctionArn}") {
		t.Errorf("without the activity function: %v, want an error naming ${ActivityFunctionArn}", err)
	}
}

func TestStateMachineConfiguration(t *testing.T) {
	p := defaultTmpl.at(t, "StateMachine/Resource").Properties
	if p["StateMachineType"] != "STANDARD" {
		t.Errorf("StateMachineType %v, want STANDARD", p["StateMachineType"])
	}
	if want := map[string]any{"Enabled": true}; !reflect.DeepEqual(p["TracingConfiguration"], want) {
		t.Errorf("TracingConfiguration %s, want enabled", toJSON(p["TracingConfiguration"]))
	}
	logs := p["LoggingConfiguration"].(map[string]any)
	if logs["IncludeExecutionData"] != false {
		t.Errorf("IncludeExecutionData %v: execution data must not reach the logs", logs["IncludeExecutionData"])
	}
	if logs["Level"] != "ALL" {
		t.Errorf("log Level %v, want ALL", logs["Level"])
	}
	group := defaultTmpl.id(t, "StateMachineLogs/Resource")
	want := []any{map[string]any{"CloudWatchLogsLogGroup": map[string]any{"LogGroupArn": getAtt(group, "Arn")}}}
	if !reflect.DeepEqual(logs["Destinations"], want) {
		t.Errorf("log Destinations %s, want the StateMachineLogs group", toJSON(logs["Destinations"]))
	}
}

var logActions = []string{"logs:CreateLogStream", "logs:PutLogEvents"}

var (
	scanLedger = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}
	actLedger  = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}
	publishing = []string{"kms:Decrypt", "kms:GenerateDataKey", "sns:Publish"}
	// Conditional puts only: an existing record returns with the failed
	// condition, not through a GetItem.
	recordLedger = []string{"dynamodb:PutItem"}
)

// wantActions is each function role's complete list of actions with the
// default settings.
var wantActions = map[string][]string{
	fnIntake:   {"iam:GetAccessKeyLastUsed", "sqs:SendMessage", "states:DescribeExecution", "states:ListExecutions", "states:StartExecution"},
	fnFinding:  {"iam:GetAccessKeyLastUsed"},
	fnContain:  {"iam:ListAccessKeys", "iam:UpdateAccessKey"},
	fnRevoke:   {"iam:PutUserPolicy"},
	fnActivity: {"cloudtrail:LookupEvents"},
	fnRemove:   {"iam:DeleteAccessKey"},
	// The alert reads the key's creator from the ledger.
	fnAlert: append([]string{"dynamodb:GetItem"}, publishing...),
	fnScan: append([]string{"iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:ListAccessKeys", "iam:ListUserTags"},
		scanLedger...),
	// rotationDays 60: keys created for tagged users, deleted when
	// replaced, kept in secrets; no noticeSender: no SES.
	fnAct:    append(append(append([]string{"iam:ListAccessKeys", "iam:UpdateAccessKey"}, actLedger...), publishing...), rotationActions...),
	fnDigest: publishing,
	// noAccessKeysTag set: the user's tags, and the alert on a key created
	// against them.
	fnRecord: append(append([]string{"iam:ListUserTags"}, recordLedger...), publishing...),
}

// rotationActions are what the act role gains with rotation on (besides
// kms:GenerateDataKey and kms:Decrypt on the secrets' key, see
// TestRotationPermissions).
var rotationActions = []string{"iam:CreateAccessKey", "iam:DeleteAccessKey", "secretsmanager:CreateSecret", "secretsmanager:DescribeSecret",
	"secretsmanager:PutResourcePolicy", "secretsmanager:PutSecretValue"}

// rotationSids are the act role's statements with conditions, which
// TestRotationPermissions checks whole.
var rotationSids = []string{"CreateKeysForRotationUsers", "EncryptRotatedKeySecrets"}

// resourcesOf is the one set of resources each action may name.
func resourcesOf(t *testing.T, tmpl *cfnTemplate, sender string) map[string][]any {
	machine := ref(tmpl.id(t, "StateMachine/Resource"))
	topic := ref(tmpl.id(t, "AlertTopic/Resource"))
	key := getAtt(tmpl.id(t, "AlertKey/Resource"), "Arn")
	dlq := getAtt(tmpl.id(t, "DeadLetterQueue/Resource"), "Arn")
	table := getAtt(tmpl.id(t, "LedgerTable/Resource"), "Arn")
	out := map[string][]any{
		"iam:GetAccessKeyLastUsed": {usersArn}, "iam:ListAccessKeys": {usersArn}, "iam:UpdateAccessKey": {usersArn},
		"iam:PutUserPolicy": {usersArn}, "iam:DeleteAccessKey": {usersArn}, "iam:ListUserTags": {usersArn},
		// No resource-level permissions for these.
		"cloudtrail:LookupEvents": {"*"}, "iam:GenerateCredentialReport": {"*"}, "iam:GetCredentialReport": {"*"},
		"states:StartExecution": {machine}, "states:ListExecutions": {machine},
		"states:DescribeExecution": {map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":states:", ref("AWS::Region"), ":",
			ref("AWS::AccountId"), ":execution:", getAtt(tmpl.id(t, "StateMachine/Resource"), "Name"), ":*"}}}},
		"sqs:SendMessage": {dlq},
		"sns:Publish":     {topic},
		"kms:Decrypt":     {key}, "kms:GenerateDataKey": {key},
	}
	for _, a := range rotationActions[2:] {
		out[a] = []any{secretsArnPattern}
	}
	for _, a := range actLedger {
		out[a] = []any{table}
	}
	if sender != "" {
		out["ses:SendEmail"] = []any{sesIdentityArn(sender[strings.LastIndex(sender, "@")+1:]), sesIdentityArn(sender)}
	}
	return out
}

// checkRole: the function's role has no managed policy, trusts Lambda only
// and allows exactly these actions (and its own log writes), each on
// exactly its resources.
func checkRole(t *testing.T, tmpl *cfnTemplate, spec functionSpec, actions []string, resourceOf map[string][]any) {
	t.Helper()
	roleID := tmpl.id(t, spec.constructID()+"Role/Resource")
	role := tmpl.Resources[roleID].Properties
	if role["ManagedPolicyArns"] != nil {
		t.Errorf("role has managed policies %s", toJSON(role["ManagedPolicyArns"]))
	}
	if want := []any{map[string]any{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "lambda.amazonaws.com"}}}; !reflect.DeepEqual(role["AssumeRolePolicyDocument"].(map[string]any)["Statement"], want) {
		t.Errorf("role trust %s, want lambda.amazonaws.com only", toJSON(role["AssumeRolePolicyDocument"]))
	}
	stmts := tmpl.statements(roleID)
	want := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(logActions), actions...))))
	if got := actionsOf(stmts); !slices.Equal(got, want) {
		t.Errorf("actions %v, want exactly %v", got, want)
	}
	sorted := func(l []any) []string {
		var out []string
		for _, v := range l {
			out = append(out, toJSON(v))
		}
		slices.Sort(out)
		return out
	}
	ownLogs := getAtt(tmpl.id(t, spec.constructID()+"Logs/Resource"), "Arn")
	for _, s := range stmts {
		if sid, _ := s["Sid"].(string); slices.Contains(rotationSids, sid) {
			continue
		}
		if s["Effect"] != "Allow" || s["NotAction"] != nil || s["NotResource"] != nil || s["Condition"] != nil {
			t.Errorf("unexpected statement shape %s", toJSON(s))
		}
		for _, a := range list(s["Action"]) {
			want, ok := resourceOf[a.(string)]
			if slices.Contains(logActions, a.(string)) {
				want, ok = []any{ownLogs}, true
			}
			if !ok {
				t.Errorf("%s: no expected resources", a)
			}
			if got := list(s["Resource"]); !slices.Equal(sorted(got), sorted(want)) {
				t.Errorf("%s on %s, want only %s", a, toJSON(got), toJSON(want))
			}
		}
	}
}

func TestFunctionRoles(t *testing.T) {
	resourceOf := resourcesOf(t, defaultTmpl, "")
	for _, spec := range functionSpecs {
		t.Run(spec.name, func(t *testing.T) {
			checkRole(t, defaultTmpl, spec, wantActions[spec.name], resourceOf)
		})
	}
}

// The state machine may invoke exactly its task functions (no ":*", no
// intake); the rest is what the CDK adds for logging and tracing.
func TestStateMachineRole(t *testing.T) {
	tmpl := defaultTmpl
	roleID := tmpl.id(t, "StateMachineRole/Resource")
	stmts := tmpl.statements(roleID)
	want := []string{
		"lambda:InvokeFunction",
		"logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
		"logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
		"xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
	}
	if got := actionsOf(stmts); !slices.Equal(got, want) {
		t.Errorf("actions %v, want exactly %v", got, want)
	}
	var wantFns []string
	for _, p := range statemachine.Placeholders() {
		wantFns = append(wantFns, toJSON(getAtt(tmpl.id(t, strings.TrimSuffix(p, "Arn")+"/Resource"), "Arn")))
	}
	slices.Sort(wantFns)
	for _, s := range stmts {
		if !slices.Contains(list(s["Action"]), any("lambda:InvokeFunction")) {
			continue
		}
		if len(list(s["Action"])) != 1 {
			t.Errorf("lambda:InvokeFunction shares a statement: %s", toJSON(s))
		}
		var got []string
		for _, r := range list(s["Resource"]) {
			got = append(got, toJSON(r))
		}
		slices.Sort(got)
		if !slices.Equal(got, wantFns) {
			t.Errorf("lambda:InvokeFunction on %v, want exactly %v", got, wantFns)
		}
	}
	if tmpl.Resources[roleID].Properties["ManagedPolicyArns"] != nil {
		t.Error("state machine role has managed policies")
	}
}

func TestOutputs(t *testing.T) {
	for _, name := range []string{"StateMachineArn", "AlertTopicArn", "DeadLetterQueueUrl", "ConsoleUrl", "LedgerTableName",
		"DailyRunMissingAlarmName", "DeadLetterQueueAlarmName", "FailedExecutionsAlarmName"} {
		if _, ok := defaultTmpl.Outputs[name]; !ok {
			t.Errorf("no output %s", name)
		}
	}
	// An alarm's Ref is its name.
	for _, alarm := range []string{"DailyRunMissingAlarm", "DeadLetterQueueAlarm", "FailedExecutionsAlarm"} {
		if got, want := defaultTmpl.Outputs[alarm+"Name"].Value, ref(defaultTmpl.id(t, alarm+"/Resource")); !reflect.DeepEqual(got, want) {
			t.Errorf("%sName = %s, want %s", alarm, toJSON(got), toJSON(want))
		}
	}
	if got, want := defaultTmpl.Outputs["LedgerTableName"].Value, ref(defaultTmpl.id(t, "LedgerTable/Resource")); !reflect.DeepEqual(got, want) {
		t.Errorf("LedgerTableName = %s, want %s", toJSON(got), toJSON(want))
	}
}

// The ledger: keys pk/sk, on demand, TTL expiresAt, point-in-time recovery,
// deletion protection, retained, encrypted with the AWS managed key.
func TestLedgerTable(t *testing.T) {
	table := defaultTmpl.at(t, "LedgerTable/Resource")
	if table.Type != "AWS::DynamoDB::Table" {
		t.Fatalf("ledger is %s, want AWS::DynamoDB::Table", table.Type)
	}
	want := map[string]string{
		"KeySchema":                        `[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]`,
		"AttributeDefinitions":             `[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"S"}]`,
		"BillingMode":                      `"PAY_PER_REQUEST"`,
		"TimeToLiveSpecification":          `{"AttributeName":"expiresAt","Enabled":true}`,
		"PointInTimeRecoverySpecification": `{"PointInTimeRecoveryEnabled":true}`,
		"DeletionProtectionEnabled":        `true`,
		// AWS managed key (aws/dynamodb): SSE on, no customer key.
		"SSESpecification":       `{"SSEEnabled":true}`,
		"GlobalSecondaryIndexes": `null`,
		"LocalSecondaryIndexes":  `null`,
		"StreamSpecification":    `null`,
		"TableName":              `null`,
	}
	for k, v := range want {
		var w any
		if err := json.Unmarshal([]byte(v), &w); err != nil {
			t.Fatal(err)
		}
		if got := table.Properties[k]; !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %s, want %s", k, toJSON(got), v)
		}
	}
	if table.DeletionPolicy != "Retain" || table.UpdateReplacePolicy != "Retain" {
		t.Errorf("DeletionPolicy %q, UpdateReplacePolicy %q; want Retain", table.DeletionPolicy, table.UpdateReplacePolicy)
	}
}

// cdk-nag gate: no unsuppressed AwsSolutions error or warning. (With
// cdk.json's feature flags an unsuppressed error already fails synthesis,
// in TestMain; this names the findings should that change.)
func TestNagClean(t *testing.T) {
	check := func(t *testing.T, stack awscdk.Stack) {
		a := assertions.Annotations_FromStack(stack)
		match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
		//lint:ignore SA1019 FindError and FindWarning return this type; the CDK Go module offers no other.
		for level, found := range map[string]*[]*cxapi.SynthesisMessage{
			"cdk-nag error":   a.FindError(jsii.String("*"), match),
			"cdk-nag warning": a.FindWarning(jsii.String("*"), match),
			// Any other warning, too, is fixed or acknowledged with its
			// reason (Annotations.AcknowledgeWarning).
			"warning": a.FindWarning(jsii.String("*"), assertions.Match_AnyValue()),
		} {
			if found == nil || len(*found) == 0 {
				continue
			}
			var lines []string
			for _, m := range *found {
				//lint:ignore SA1019 the fields of the type above.
				lines = append(lines, fmt.Sprintf("  %s: %v", *m.Id, m.Entry.Data))
			}
			t.Errorf("%d %ss:\n%s", len(lines), level, strings.Join(lines, "\n"))
		}
	}
	t.Run("default", func(t *testing.T) { check(t, defaultStack) })
	t.Run("variant", func(t *testing.T) {
		stack, _ := variant(t)
		check(t, stack)
	})
}

// Each role policy's IAM5 suppressions name exactly the wildcards it
// grants: none is unsuppressed, none covers nothing. Every suppression
// carries its reason.
func TestNagSuppressionsExact(t *testing.T) {
	check := func(t *testing.T, tmpl *cfnTemplate) {
		wildcard := func(res any) (string, bool) {
			switch {
			case res == "*":
				return nagAnyResource, true
			case reflect.DeepEqual(res, usersArn):
				return nagUsersWildcard, true
			case strings.Contains(toJSON(res), `":execution:",{"Fn::GetAtt":["StateMachine2E01A3A5","Name"]},":*"`):
				return "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<StateMachine2E01A3A5.Name>:*", true
			case reflect.DeepEqual(res, secretsArnPattern):
				return "Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:keywarden/access-key/*", true
			case strings.Contains(toJSON(res), "*"):
				t.Errorf("unexpected wildcard resource %s", toJSON(res))
			}
			return "", false
		}
		for id, p := range tmpl.ofType("AWS::IAM::Policy") {
			var granted, suppressed []string
			for _, s := range list(p.Properties["PolicyDocument"].(map[string]any)["Statement"]) {
				for _, res := range list(s.(map[string]any)["Resource"]) {
					if w, ok := wildcard(res); ok {
						granted = append(granted, w)
					}
				}
			}
			nag, _ := p.Metadata["cdk_nag"].(map[string]any)
			for _, sup := range list(nag["rules_to_suppress"]) {
				sup := sup.(map[string]any)
				if reason, _ := sup["reason"].(string); len(reason) < 40 {
					t.Errorf("%s: suppression %v has no real reason: %q", id, sup["id"], reason)
				}
				if sup["id"] != "AwsSolutions-IAM5" {
					continue
				}
				applies := list(sup["applies_to"])
				if len(applies) == 0 {
					t.Errorf("%s: IAM5 suppressed without applies_to", id)
				}
				for _, a := range applies {
					suppressed = append(suppressed, a.(string))
				}
			}
			slices.Sort(granted)
			slices.Sort(suppressed)
			if granted, suppressed = slices.Compact(granted), slices.Compact(suppressed); !slices.Equal(granted, suppressed) {
				t.Errorf("%s grants wildcards %v, IAM5 suppressions apply to %v", id, granted, suppressed)
			}
		}
	}
	t.Run("default", func(t *testing.T) { check(t, defaultTmpl) })
	t.Run("variant", func(t *testing.T) {
		_, tmpl := variant(t)
		check(t, tmpl)
	})
}

// The variant: deactivate instead of delete, no drill rules, e-mail
// subscriptions, explicit activity bounds; enforcing key-age policy with
// deletion, SES notices and a rate schedule; the key-creation record's
// tag check off.
func TestVariantSettings(t *testing.T) {
	_, tmpl := variant(t)

	removeRole := tmpl.id(t, "RemoveFunctionRole/Resource")
	if got := actionsOf(tmpl.statements(removeRole)); !slices.Equal(got, logActions) {
		t.Errorf("with exposedKeyAction=deactivate the remove role allows %v, want only its log writes", got)
	}
	if got := functionEnv(t, tmpl, fnRemove)[settings.EnvExposedKeyAction]; got != "deactivate" {
		t.Errorf("remove %s = %v, want deactivate", settings.EnvExposedKeyAction, got)
	}

	var rules []string
	for id := range tmpl.ofType("AWS::Events::Rule") {
		rules = append(rules, id)
	}
	if len(rules) != 5 { // two exposed-key triggers, key creation, the schedule and the failed-execution alert
		t.Errorf("with drillSources=false: rules %v, want 5", rules)
	}
	if _, ok := tmpl.Resources[tmpl.id(t, "KeyCreationRule/Resource")]; !ok {
		t.Error("with drillSources=false: no KeyCreationRule")
	}
	for _, id := range rules {
		if strings.HasPrefix(id, "Drill") {
			t.Errorf("drillSources=false still has %s", id)
		}
	}
	if got := tmpl.at(t, "ScheduleRule/Resource").Properties["ScheduleExpression"]; got != "rate(1 day)" {
		t.Errorf("ScheduleExpression %v, want rate(1 day)", got)
	}

	// Key age: the policy as set, enforcing, deletion and SES allowed.
	policy, _ := functionEnv(t, tmpl, fnScan)[settings.EnvKeyAgePolicy].(string)
	got, err := settings.ParseKeyAge(policy)
	wantPolicy := settings.Default().KeyAge
	wantPolicy.WarnDays, wantPolicy.LimitDays, wantPolicy.DeleteAfterDays, wantPolicy.RotationDays = []int{60, 75}, 85, 30, 0
	if err != nil || !reflect.DeepEqual(got, wantPolicy) {
		t.Errorf("scan %s = %s (%v), want %+v", settings.EnvKeyAgePolicy, policy, err, wantPolicy)
	}
	if dry := functionEnv(t, tmpl, fnScan)[settings.EnvDryRun]; dry != "false" {
		t.Errorf("scan %s = %v, want false", settings.EnvDryRun, dry)
	}
	if sender := functionEnv(t, tmpl, fnAct)[settings.EnvNoticeSender]; sender != "keywarden@example.com" {
		t.Errorf("act %s = %v, want keywarden@example.com", settings.EnvNoticeSender, sender)
	}
	// deleteAfterDays 30 and rotation off: deletion, but no rotation.
	actActions := append(append(append([]string{"iam:DeleteAccessKey", "iam:ListAccessKeys", "iam:UpdateAccessKey"}, actLedger...), publishing...), "ses:SendEmail")
	if keys := tmpl.ofType("AWS::KMS::Key"); len(keys) != 1 {
		t.Errorf("rotation off: KMS keys %v, want only the alert key", slices.Collect(maps.Keys(keys)))
	}
	for _, k := range []string{settings.EnvRotationKMSKey, settings.EnvRotationWriter} {
		if v, ok := functionEnv(t, tmpl, fnAct)[k]; ok {
			t.Errorf("rotation off, yet the act function has %s = %v", k, v)
		}
	}
	t.Run("act role", func(t *testing.T) {
		checkRole(t, tmpl, specNamed(fnAct), actActions, resourcesOf(t, tmpl, "keywarden@example.com"))
	})

	// noAccessKeysTag empty: the record only writes the ledger; no tag
	// in its environment, no IAM, SNS or KMS in its role.
	wantRecordEnv := map[string]any{
		settings.EnvLedgerTable:   ref(tmpl.id(t, "LedgerTable/Resource")),
		settings.EnvAlertTopicArn: ref(tmpl.id(t, "AlertTopic/Resource")),
	}
	if got := functionEnv(t, tmpl, fnRecord); !reflect.DeepEqual(got, wantRecordEnv) {
		t.Errorf("record environment %s, want %s", toJSON(got), toJSON(wantRecordEnv))
	}
	t.Run("record role", func(t *testing.T) {
		checkRole(t, tmpl, specNamed(fnRecord), recordLedger, resourcesOf(t, tmpl, ""))
	})

	want := map[string]any{
		settings.EnvActivityWindow:    "72",
		settings.EnvActivityRegions:   "us-east-1,eu-west-1",
		settings.EnvActivityMaxEvents: "1000",
	}
	if got := functionEnv(t, tmpl, fnActivity); !reflect.DeepEqual(got, want) {
		t.Errorf("activity environment %s, want %s", toJSON(got), toJSON(want))
	}

	topic := ref(tmpl.id(t, "AlertTopic/Resource"))
	var emails []string
	for _, s := range tmpl.ofType("AWS::SNS::Subscription") {
		if s.Properties["Protocol"] != "email" || !reflect.DeepEqual(s.Properties["TopicArn"], topic) {
			t.Errorf("subscription %s, want e-mail to the alert topic", toJSON(s.Properties))
		}
		emails = append(emails, s.Properties["Endpoint"].(string))
	}
	slices.Sort(emails)
	if want := []string{"oncall@example.com", "security@example.com"}; !slices.Equal(emails, want) {
		t.Errorf("subscriptions %v, want %v", emails, want)
	}
}

// Bad settings stop synthesis with settings' own message, before anything
// is built.
func TestBadSettings(t *testing.T) {
	for _, c := range []struct {
		key   string
		value any
		want  string
	}{
		{"exposedKeyAction", "shred", `exposedKeyAction is "shred"; use "delete" or "deactivate"`},
		{"keyAge", map[string]any{"warnDays": []any{95}}, "warnDays has 95, which is not below limitDays 90"},
		{"keyAge", map[string]any{"warnDay": []any{60}}, `unknown field "warnDay"`},
		{"schedule", "daily at 8", `schedule is "daily at 8"; use an EventBridge schedule expression`},
		{"noticeSender", "keywarden", `noticeSender is "keywarden"`},
		{"noAccessKeysTag", "aws:x", `noAccessKeysTag is "aws:x"; use a tag key of at most 128 characters not starting with aws:`},
	} {
		ctx := maps.Clone(cdkContext)
		ctx[c.key] = c.value
		_, _, err := newApp(repoRoot, ctx)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("newApp with %s=%s: %v, want an error containing %q", c.key, toJSON(c.value), err, c.want)
		}
	}
}

// The app run as `cdk synth` runs it (context in CDK_CONTEXT_JSON) exits 1
// and prints every problem.
func TestMainFailsOnBadSettings(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		runMainEnv+"=1",
		"CDK_OUTDIR="+t.TempDir(),
		`CDK_CONTEXT_JSON={"exposedKeyAction":"shred","logRetentionDays":8}`,
	)
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; output:\n%s", err, out)
	}
	for _, want := range []string{`exposedKeyAction is "shred"`, "logRetentionDays is 8"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "panic") {
		t.Errorf("the app panicked:\n%s", out)
	}
}

// cdk.json's settings are the defaults settings documents.
func TestCDKJSONDefaults(t *testing.T) {
	s, err := settings.FromContext(func(key string) any { return cdkContext[key] })
	if err != nil {
		t.Fatal(err)
	}
	d := settings.Default()
	// An empty list in cdk.json reads as an empty, non-nil slice.
	if len(s.ActivityRegions) == 0 && len(s.AlertEmails) == 0 {
		s.ActivityRegions, s.AlertEmails = nil, nil
	}
	if !reflect.DeepEqual(s, d) {
		t.Errorf("cdk.json context %+v, want settings.Default() %+v", s, d)
	}
	// keyAge spells out every field of the policy, so cdk.json documents
	// them all; noticeSender stays unset (no SES).
	raw, err := json.Marshal(d.KeyAge)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	keyAge, _ := cdkContext["keyAge"].(map[string]any)
	if got, want := slices.Sorted(maps.Keys(keyAge)), slices.Sorted(maps.Keys(fields)); !slices.Equal(got, want) {
		t.Errorf("cdk.json keyAge has %v, want every policy field %v", got, want)
	}
	for _, key := range []string{"dryRun", "schedule", "noAccessKeysTag"} {
		if _, ok := cdkContext[key]; !ok {
			t.Errorf("cdk.json context lacks %s", key)
		}
	}
	if _, ok := cdkContext["noticeSender"]; ok {
		t.Error("cdk.json sets noticeSender; the default is none")
	}
}

func TestFindRepoRoot(t *testing.T) {
	if got, err := findRepoRoot(filepath.Join(repoRoot, "infra")); err != nil || got != repoRoot {
		t.Errorf("from infra/: %q, %v; want %q", got, err, repoRoot)
	}
	if _, err := findRepoRoot(t.TempDir()); err == nil {
		t.Error("outside the repository: no error")
	}
}

// Each alarm exactly: its metric, evaluation and actions. Every one
// notifies the alert topic; the daily-run alarm also when it clears. Names
// are <stack name>-<suffix>, which the topic policy's aws:SourceArn
// pattern covers.
func TestAlarms(t *testing.T) {
	topic := []any{ref(defaultTmpl.id(t, "AlertTopic/Resource"))}
	machine := ref(defaultTmpl.id(t, "StateMachine/Resource"))
	queueName := getAtt(defaultTmpl.id(t, "DeadLetterQueue/Resource"), "QueueName")
	name := func(suffix string) any {
		return map[string]any{"Fn::Join": []any{"-", []any{ref("AWS::StackName"), suffix}}}
	}
	stateMetric := func(id, metric string) any {
		return map[string]any{"Id": id, "ReturnData": false, "MetricStat": map[string]any{
			"Metric": map[string]any{
				"Namespace": "AWS/States", "MetricName": metric,
				"Dimensions": []any{map[string]any{"Name": "StateMachineArn", "Value": machine}},
			},
			"Period": 300.0, "Stat": "Sum",
		}}
	}
	want := map[string]map[string]any{
		"DailyRunMissingAlarm": {
			"AlarmName": name("DailyRunMissing"),
			"Namespace": "keywarden", "MetricName": "KeyAgeRunSucceeded", "Dimensions": nil,
			"Statistic": "Sum", "Period": 3600.0,
			"EvaluationPeriods": 26.0, "DatapointsToAlarm": 26.0,
			"Threshold": 1.0, "ComparisonOperator": "LessThanThreshold",
			"TreatMissingData": "breaching",
			"AlarmActions":     topic, "OKActions": topic, "InsufficientDataActions": nil,
		},
		"DeadLetterQueueAlarm": {
			"AlarmName": name("DeadLetterQueue"),
			"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
			"Dimensions": []any{map[string]any{"Name": "QueueName", "Value": queueName}},
			"Statistic":  "Maximum", "Period": 300.0,
			"EvaluationPeriods": 1.0, "DatapointsToAlarm": nil,
			"Threshold": 1.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
			"TreatMissingData": "notBreaching",
			"AlarmActions":     topic, "OKActions": nil, "InsufficientDataActions": nil,
		},
		"FailedExecutionsAlarm": {
			"AlarmName": name("FailedExecutions"),
			"Namespace": nil, "MetricName": nil, "Statistic": nil, "Period": nil,
			"Metrics": []any{
				map[string]any{"Id": "expr_1", "Expression": "FILL(failed, 0) + FILL(timedOut, 0)",
					"Label": "Executions failed or timed out", "ReturnData": true},
				stateMetric("failed", "ExecutionsFailed"),
				stateMetric("timedOut", "ExecutionsTimedOut"),
			},
			"EvaluationPeriods": 1.0, "DatapointsToAlarm": nil,
			"Threshold": 1.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
			"TreatMissingData": "notBreaching",
			"AlarmActions":     topic, "OKActions": nil, "InsufficientDataActions": nil,
		},
	}
	if n := len(defaultTmpl.ofType("AWS::CloudWatch::Alarm")); n != len(want) {
		t.Errorf("%d alarms, want %d", n, len(want))
	}
	for alarm, props := range want {
		t.Run(alarm, func(t *testing.T) {
			p := defaultTmpl.at(t, alarm+"/Resource").Properties
			for k, v := range props {
				if !reflect.DeepEqual(p[k], v) {
					t.Errorf("%s = %s, want %s", k, toJSON(p[k]), toJSON(v))
				}
			}
			if p["ActionsEnabled"] == false {
				t.Error("actions disabled")
			}
			// CloudWatch's limit is 1024 characters.
			if d, _ := p["AlarmDescription"].(string); len(d) < 100 || len(d) > 1024 {
				t.Errorf("AlarmDescription of %d characters, want what to check, within 1024:\n%s", len(d), d)
			}
		})
	}
	if d := defaultTmpl.at(t, "DeadLetterQueueAlarm/Resource").Properties["AlarmDescription"].(string); !strings.Contains(d, "redrive") {
		t.Errorf("the dead-letter queue alarm does not say how to redrive: %s", d)
	}
}

// CloudWatch publishes alarm notifications as cloudwatch.amazonaws.com: the
// alert key's policy lets it encrypt (this account only), and the topic
// policy lets it publish (this account's alarms of this stack only).
func TestCloudWatchMayPublish(t *testing.T) {
	cloudwatch := map[string]any{"Service": "cloudwatch.amazonaws.com"}
	thisAccount := map[string]any{"aws:SourceAccount": ref("AWS::AccountId")}
	of := func(doc any) []map[string]any {
		var out []map[string]any
		for _, s := range list(doc.(map[string]any)["Statement"]) {
			if s := s.(map[string]any); reflect.DeepEqual(s["Principal"], cloudwatch) {
				out = append(out, s)
			}
		}
		return out
	}
	key := of(defaultTmpl.at(t, "AlertKey/Resource").Properties["KeyPolicy"])
	wantKey := map[string]any{
		"Sid": "AllowCloudWatchAlarmsToUseKey", "Effect": "Allow", "Principal": cloudwatch,
		"Action": []any{"kms:Decrypt", "kms:GenerateDataKey*"}, "Resource": "*",
		"Condition": map[string]any{"StringEquals": thisAccount},
	}
	if len(key) != 1 || !reflect.DeepEqual(key[0], wantKey) {
		t.Errorf("alert key policy statements for CloudWatch %s, want exactly %s", toJSON(key), toJSON(wantKey))
	}
	topic := of(defaultTmpl.at(t, "AlertTopic/Policy/Resource").Properties["PolicyDocument"])
	wantTopic := map[string]any{
		"Sid": "AllowCloudWatchAlarmsToPublish", "Effect": "Allow", "Principal": cloudwatch,
		"Action": "sns:Publish", "Resource": ref(defaultTmpl.id(t, "AlertTopic/Resource")),
		"Condition": map[string]any{
			"StringEquals": thisAccount,
			"ArnLike": map[string]any{"aws:SourceArn": map[string]any{"Fn::Join": []any{"", []any{
				"arn:", ref("AWS::Partition"), ":cloudwatch:", ref("AWS::Region"), ":", ref("AWS::AccountId"),
				":alarm:", ref("AWS::StackName"), "-*",
			}}}},
		},
	}
	if len(topic) != 1 || !reflect.DeepEqual(topic[0], wantTopic) {
		t.Errorf("topic policy statements for CloudWatch %s, want exactly %s", toJSON(topic), toJSON(wantTopic))
	}
}

// ---- cdk-nag: NIST 800-53 rev 5 ----

// nagReport reads the compliance report a cdk-nag pack wrote for the stack
// while it was synthesized (<outdir>/<pack>--<stack>-NagReport.csv): one row
// per rule and resource it checked, "Compliant", "Non-Compliant",
// "Suppressed" (with the reason) or "UNKNOWN" (the rule failed to run).
func nagReport(t *testing.T, stack awscdk.Stack, pack string) []map[string]string {
	t.Helper()
	path := filepath.Join(*awscdk.Stage_Of(stack).Outdir(), pack+"--"+*stack.StackName()+"-NagReport.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no %s report: the pack did not run on this stack (%v)", pack, err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("%s report: %d rows, %v", pack, len(rows), err)
	}
	var out []map[string]string
	for _, r := range rows[1:] {
		row := map[string]string{}
		for i, h := range rows[0] {
			row[h] = r[i]
		}
		out = append(out, row)
	}
	return out
}

// nistPack is the NIST 800-53 rev 5 pack's name, the prefix of its rule ids.
const nistPack = "NIST.800.53.R5"

// Both packs ran on the synthesized template, and NIST 800-53 rev 5 has no
// unsuppressed finding: none in the report, no cdk-nag error or warning.
// Every NIST suppression covers a finding on the resource it is on and
// gives its reason, and SECURITY-NIST.md's table lists exactly the rules
// suppressed.
func TestNISTNagClean(t *testing.T) {
	check := func(t *testing.T, stack awscdk.Stack, tmpl *cfnTemplate) {
		if rows := nagReport(t, stack, "AwsSolutions"); len(rows) == 0 {
			t.Error("the AwsSolutions pack checked nothing")
		}
		suppressed := map[string]bool{} // rule + " " + resource path
		for _, r := range nagReport(t, stack, nistPack) {
			switch r["Compliance"] {
			case "Compliant":
			case "Suppressed":
				suppressed[r["Rule ID"]+" "+r["Resource ID"]] = true
			default:
				t.Errorf("%s on %s: %s", r["Rule ID"], r["Resource ID"], r["Compliance"])
			}
		}

		a := assertions.Annotations_FromStack(stack)
		match := assertions.Match_StringLikeRegexp(jsii.String(strings.ReplaceAll(nistPack, ".", `\.`) + "-.*"))
		//lint:ignore SA1019 FindError and FindWarning return this type; the CDK Go module offers no other.
		for level, found := range map[string]*[]*cxapi.SynthesisMessage{
			"error":   a.FindError(jsii.String("*"), match),
			"warning": a.FindWarning(jsii.String("*"), match),
		} {
			if found != nil {
				for _, m := range *found {
					//lint:ignore SA1019 the fields of the type above.
					t.Errorf("NIST %s at %s: %v", level, *m.Id, m.Entry.Data)
				}
			}
		}

		for id, r := range tmpl.Resources {
			nag, _ := r.Metadata["cdk_nag"].(map[string]any)
			for _, sup := range list(nag["rules_to_suppress"]) {
				sup := sup.(map[string]any)
				rule, _ := sup["id"].(string)
				if !strings.HasPrefix(rule, nistPack+"-") {
					continue
				}
				if reason, _ := sup["reason"].(string); len(reason) < 100 {
					t.Errorf("%s: %s suppressed without a specific reason: %q", id, rule, reason)
				}
				if !suppressed[rule+" "+r.Metadata["aws:cdk:path"].(string)] {
					t.Errorf("%s: %s suppressed, but it reports nothing there", id, rule)
				}
			}
		}

		rules := map[string]bool{}
		for k := range suppressed {
			rules[strings.Fields(k)[0]] = true
		}
		if got, want := slices.Sorted(maps.Keys(rules)), securityNISTSuppressed(t); !slices.Equal(got, want) {
			t.Errorf("NIST rules suppressed %v; SECURITY-NIST.md's table lists as suppressed %v", got, want)
		}
	}
	t.Run("default", func(t *testing.T) { check(t, defaultStack, defaultTmpl) })
	t.Run("variant", func(t *testing.T) {
		stack, tmpl := variant(t)
		check(t, stack, tmpl)
	})
}

// securityNISTSuppressed returns the rules of SECURITY-NIST.md's table
// (rows "| NIST.800.53.R5-<Rule> | resources | decision | why |") whose
// decision is "Suppressed", sorted.
func securityNISTSuppressed(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "SECURITY-NIST.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, line := range strings.Split(string(raw), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			continue
		}
		rule := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if strings.HasPrefix(rule, nistPack+"-") && strings.EqualFold(strings.TrimSpace(cells[3]), "suppressed") {
			rules = append(rules, rule)
		}
	}
	slices.Sort(rules)
	return rules
}

// The NIST pack, as newApp applies it, makes an unsuppressed finding an
// error that fails synthesis (synthesize, as `cdk synth` runs the app):
// here an unencrypted log group. (Its finding is printed above.)
func TestNISTFindingFailsSynthesis(t *testing.T) {
	ctx := maps.Clone(cdkContext)
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("Canary"), nil)
	awslogs.NewLogGroup(stack, jsii.String("Logs"), &awslogs.LogGroupProps{Retention: awslogs.RetentionDays_ONE_YEAR})
	for _, pack := range nagPacks() {
		awscdk.Aspects_Of(app).Add(pack, nil)
	}
	if err := synthesize(app); err == nil {
		t.Fatal("synthesis with an unsuppressed NIST finding succeeded")
	}
	raw, err := os.ReadFile(filepath.Join(*app.Outdir(), "validation-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var report struct {
		PluginReports []struct {
			Violations []struct {
				Description        string `json:"description"`
				Severity           string `json:"severity"`
				ViolatingConstruct []struct {
					ConstructPath string `json:"constructPath"`
				} `json:"violatingConstructs"`
			} `json:"violations"`
		} `json:"pluginReports"`
	}
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, p := range report.PluginReports {
		for _, v := range p.Violations {
			for _, c := range v.ViolatingConstruct {
				found = append(found, fmt.Sprintf("%s %s %s", v.Severity, c.ConstructPath, strings.SplitN(v.Description, ":", 2)[0]))
			}
		}
	}
	want := []string{"error Canary/Logs/Resource " + nistPack + "-CloudWatchLogGroupEncrypted"}
	if !slices.Equal(found, want) {
		t.Errorf("violations %q, want %q", found, want)
	}
}

var secretsArnPattern = map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":secretsmanager:", ref("AWS::Region"), ":",
	ref("AWS::AccountId"), ":secret:keywarden/access-key/*"}}}

// Rotation's conditional grants, whole: keys only for users whose rotation
// tag is "true", the secrets' key only through Secrets Manager; and the
// key's policy lets the account decrypt through Secrets Manager only, only
// keywarden's secrets.
func TestRotationPermissions(t *testing.T) {
	key := getAtt(defaultTmpl.id(t, "RotationSecretsKey/Resource"), "Arn")
	viaSecretsManager := map[string]any{"Fn::Join": []any{"", []any{"secretsmanager.", ref("AWS::Region"), ".amazonaws.com"}}}
	bySid := map[string]map[string]any{}
	for _, s := range defaultTmpl.statements(defaultTmpl.id(t, "ActFunctionRole/Resource")) {
		if sid, _ := s["Sid"].(string); sid != "" {
			bySid[sid] = s
		}
	}
	want := map[string]map[string]any{
		"CreateKeysForRotationUsers": {"Action": "iam:CreateAccessKey", "Effect": "Allow", "Resource": usersArn,
			"Condition": map[string]any{"StringEqualsIgnoreCase": map[string]any{"aws:ResourceTag/keywarden:rotate": "true"}}},
		"EncryptRotatedKeySecrets": {"Action": []any{"kms:Decrypt", "kms:GenerateDataKey"}, "Effect": "Allow", "Resource": key,
			"Condition": map[string]any{"StringEquals": map[string]any{"kms:ViaService": viaSecretsManager}}},
	}
	for sid, w := range want {
		w["Sid"] = sid
		if got := bySid[sid]; !reflect.DeepEqual(got, w) {
			t.Errorf("act role statement %s = %s, want %s", sid, toJSON(got), toJSON(w))
		}
	}

	var keyPolicy map[string]any
	for _, s := range list(defaultTmpl.at(t, "RotationSecretsKey/Resource").Properties["KeyPolicy"].(map[string]any)["Statement"]) {
		if st := s.(map[string]any); st["Sid"] == "DecryptRotatedKeysThroughSecretsManager" {
			keyPolicy = st
		}
	}
	wantKey := map[string]any{"Sid": "DecryptRotatedKeysThroughSecretsManager", "Effect": "Allow", "Principal": map[string]any{"AWS": "*"},
		"Action": "kms:Decrypt", "Resource": "*", "Condition": map[string]any{
			"StringEquals": map[string]any{"kms:ViaService": viaSecretsManager, "kms:CallerAccount": ref("AWS::AccountId")},
			"StringLike":   map[string]any{"kms:EncryptionContext:SecretARN": secretsArnPattern}}}
	if !reflect.DeepEqual(keyPolicy, wantKey) {
		t.Errorf("secrets key policy statement = %s, want %s", toJSON(keyPolicy), toJSON(wantKey))
	}
	if rot := defaultTmpl.at(t, "RotationSecretsKey/Resource").Properties["EnableKeyRotation"]; rot != true {
		t.Errorf("secrets key EnableKeyRotation = %v", rot)
	}
}
