package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/statemachine"
)

// Every lambdas/<name> is deployed, and nothing else; the deployed
// functions are lambdafn.Names, the list the drill runs.
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
	if names := slices.Sorted(slices.Values(lambdafn.Names)); !slices.Equal(names, specs) {
		t.Errorf("lambdafn.Names lists %v, the stack deploys %v", names, specs)
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
		lambdafn.Activity: {300, 256}, lambdafn.Scan: {900, 512}, lambdafn.Act: {900, 256}, lambdafn.Digest: {60, 256}, lambdafn.Record: {60, 256},
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
		lambdafn.Intake: {settings.EnvStateMachineArn: ref(machine), settings.EnvAccount: ref("AWS::AccountId"),
			settings.EnvOwnRoleArns: ownRoleArnsJoin(t, defaultTmpl)},
		lambdafn.Finding:  {settings.EnvAccount: ref("AWS::AccountId")},
		lambdafn.Contain:  {settings.EnvLedgerTable: ref(table)},
		lambdafn.Revoke:   {settings.EnvLedgerTable: ref(table), settings.EnvRevokeWith: "inlinePolicy"},
		lambdafn.Activity: {settings.EnvActivityWindow: "24", settings.EnvActivityRegions: ref("AWS::Region"), settings.EnvActivityMaxEvents: "500"},
		lambdafn.Remove:   {settings.EnvExposedKeyAction: "delete"},
		lambdafn.Alert:    {settings.EnvAlertTopicArn: ref(topic), settings.EnvConsoleRegion: ref("AWS::Region"), settings.EnvLedgerTable: ref(table)},
		lambdafn.Scan:     {settings.EnvKeyAgePolicy: string(policy), settings.EnvDryRun: "true", settings.EnvLedgerTable: ref(table)},
		// No sender configured: notices go to the topic.
		// Rotation on: the secrets' key, the partition for the users'
		// ARNs, and the role's own ARN for each secret's policy.
		lambdafn.Act: {settings.EnvLedgerTable: ref(table), settings.EnvAlertTopicArn: ref(topic), settings.EnvAccount: ref("AWS::AccountId"),
			settings.EnvRotationKMSKey: getAtt(defaultTmpl.id(t, "RotationSecretsKey/Resource"), "Arn"), settings.EnvPartition: ref("AWS::Partition"),
			settings.EnvRotationWriter: getAtt(defaultTmpl.id(t, "ActFunctionRole/Resource"), "Arn")},
		lambdafn.Digest: {settings.EnvAlertTopicArn: ref(topic), settings.EnvConsoleRegion: ref("AWS::Region")},
		lambdafn.Record: {settings.EnvLedgerTable: ref(table), settings.EnvAlertTopicArn: ref(topic), settings.EnvNoKeysTag: "keywarden:no-access-keys"},
		lambdafn.Tamper: tamperEnv(t, defaultTmpl, "UserType,keywarden:exempt,keywarden:rotate,keywarden:no-access-keys", "true", "30"),
	}
	if len(want) != len(functionSpecs) {
		t.Errorf("expectations for %d functions, the stack has %d", len(want), len(functionSpecs))
	}
	// The scan reads the policy back as the Lambda does.
	raw, _ := functionEnv(t, defaultTmpl, lambdafn.Scan)[settings.EnvKeyAgePolicy].(string)
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

func TestLogGroupsRetention(t *testing.T) {
	check := func(t *testing.T, tmpl *cfnTemplate, days float64) {
		groups := tmpl.ofType("AWS::Logs::LogGroup")
		if len(groups) != 13 {
			t.Errorf("%d log groups, want 13", len(groups))
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

// wantActions is each function role's complete list of actions with the
// default settings.
var wantActions = map[string][]string{
	lambdafn.Intake:   {"iam:GetAccessKeyLastUsed", "sqs:SendMessage", "states:DescribeExecution", "states:ListExecutions", "states:StartExecution"},
	lambdafn.Finding:  {"iam:GetAccessKeyLastUsed"},
	lambdafn.Contain:  {"dynamodb:PutItem", "iam:ListAccessKeys", "iam:UpdateAccessKey"}, // the containment recorded
	lambdafn.Revoke:   {"dynamodb:PutItem", "iam:PutUserPolicy"},                         // the revocation recorded
	lambdafn.Activity: {"cloudtrail:LookupEvents"},
	lambdafn.Remove:   {"iam:DeleteAccessKey"},
	// The alert reads the key's creator from the ledger.
	lambdafn.Alert: append([]string{"dynamodb:GetItem"}, publishing...),
	lambdafn.Scan: append([]string{"iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:ListAccessKeys", "iam:ListUserTags"},
		scanLedger...),
	// rotationDays 60: keys created for tagged users, deleted when
	// replaced, kept in secrets; no noticeSender: no SES.
	lambdafn.Act:    append(append(append([]string{"iam:ListAccessKeys", "iam:UpdateAccessKey"}, actLedger...), publishing...), rotationActions...),
	lambdafn.Digest: publishing,
	// noAccessKeysTag set: the user's tags, and the alert on a key created
	// against them.
	lambdafn.Record: append(append([]string{"iam:ListUserTags"}, recordLedger...), publishing...),
	// tamperUndo on: a re-activated exposed key set Inactive again and
	// read back, the revoke policy put back.
	lambdafn.Tamper: {"dynamodb:GetItem", "dynamodb:PutItem", "iam:ListAccessKeys", "iam:PutUserPolicy", "iam:UpdateAccessKey"},
}

func TestFunctionRoles(t *testing.T) {
	resourceOf := resourcesOf(t, defaultTmpl, "")
	for _, spec := range functionSpecs {
		t.Run(spec.name, func(t *testing.T) {
			checkRole(t, defaultTmpl, spec, wantActions[spec.name], resourceOf)
		})
	}
}
