package main

// Tests of the stack as a whole: what it holds, what crosses concerns, and
// the variant's settings end to end.

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
)

func TestResourceCounts(t *testing.T) {
	counts := map[string]int{}
	for _, r := range defaultTmpl.Resources {
		counts[r.Type]++
	}
	want := map[string]int{
		"AWS::Lambda::Function":            12,
		"AWS::StepFunctions::StateMachine": 1,
		"AWS::SNS::Topic":                  1,
		// The alert topic's and rotation's secrets'.
		"AWS::KMS::Key":        2,
		"AWS::SQS::Queue":      1,
		"AWS::DynamoDB::Table": 1,
		// Three exposed-key triggers (with drill sources), the
		// failed-execution alert, the daily schedule and its drill rule,
		// key creation and its drill rule, four tamper-watch rules and
		// their drill rules.
		"AWS::Events::Rule": 16,
		// One per function and the state machine's.
		"AWS::Logs::LogGroup": 13,
		"AWS::IAM::Role":      13,
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

func TestOutputs(t *testing.T) {
	for _, name := range []string{"StateMachineArn", "AlertTopicArn", "DeadLetterQueueUrl", "ConsoleUrl", "LedgerTableName",
		"DailyRunMissingAlarmName", "DeadLetterQueueAlarmName", "FailedExecutionsAlarmName", "KeyAgeMode", "NoticeSender"} {
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
	// keywarden doctor reads the deployed settings from these; the
	// defaults are a dry run without SES.
	if got := defaultTmpl.Outputs["KeyAgeMode"].Value; got != "dry-run" {
		t.Errorf("KeyAgeMode = %s, want dry-run", toJSON(got))
	}
	if got := defaultTmpl.Outputs["NoticeSender"].Value; got != "none" {
		t.Errorf("NoticeSender = %s, want none", toJSON(got))
	}
}

// The variant: deactivate instead of delete, no drill rules, e-mail
// subscriptions, explicit activity bounds; enforcing key-age policy with
// deletion, SES notices and a rate schedule; the key-creation record's
// tag check off.
func TestVariantSettings(t *testing.T) {
	_, tmpl := variant(t)

	if got := tmpl.Outputs["KeyAgeMode"].Value; got != "enforcing" {
		t.Errorf("with dryRun=false KeyAgeMode = %s, want enforcing", toJSON(got))
	}
	if got := tmpl.Outputs["NoticeSender"].Value; got != "keywarden@example.com" {
		t.Errorf("NoticeSender = %s, want the noticeSender setting", toJSON(got))
	}

	removeRole := tmpl.id(t, "RemoveFunctionRole/Resource")
	if got := actionsOf(tmpl.statements(removeRole)); !slices.Equal(got, logActions) {
		t.Errorf("with exposedKeyAction=deactivate the remove role allows %v, want only its log writes", got)
	}
	if got := functionEnv(t, tmpl, lambdafn.Remove)[settings.EnvExposedKeyAction]; got != "deactivate" {
		t.Errorf("remove %s = %v, want deactivate", settings.EnvExposedKeyAction, got)
	}

	var rules []string
	for id := range tmpl.ofType("AWS::Events::Rule") {
		rules = append(rules, id)
	}
	// Two exposed-key triggers, key creation, four tamper-watch rules, the
	// schedule and the failed-execution alert.
	if len(rules) != 9 {
		t.Errorf("with drillSources=false: rules %v, want 9", rules)
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
	policy, _ := functionEnv(t, tmpl, lambdafn.Scan)[settings.EnvKeyAgePolicy].(string)
	got, err := settings.ParseKeyAge(policy)
	wantPolicy := settings.Default().KeyAge
	wantPolicy.WarnDays, wantPolicy.LimitDays, wantPolicy.DeleteAfterDays, wantPolicy.RotationDays = []int{60, 75}, 85, 30, 0
	if err != nil || !reflect.DeepEqual(got, wantPolicy) {
		t.Errorf("scan %s = %s (%v), want %+v", settings.EnvKeyAgePolicy, policy, err, wantPolicy)
	}
	if dry := functionEnv(t, tmpl, lambdafn.Scan)[settings.EnvDryRun]; dry != "false" {
		t.Errorf("scan %s = %v, want false", settings.EnvDryRun, dry)
	}
	if sender := functionEnv(t, tmpl, lambdafn.Act)[settings.EnvNoticeSender]; sender != "keywarden@example.com" {
		t.Errorf("act %s = %v, want keywarden@example.com", settings.EnvNoticeSender, sender)
	}
	// deleteAfterDays 30 and rotation off: deletion, but no rotation.
	actActions := append(append(append([]string{"iam:DeleteAccessKey", "iam:ListAccessKeys", "iam:UpdateAccessKey"}, actLedger...), publishing...), "ses:SendEmail")
	if keys := tmpl.ofType("AWS::KMS::Key"); len(keys) != 1 {
		t.Errorf("rotation off: KMS keys %v, want only the alert key", slices.Collect(maps.Keys(keys)))
	}
	for _, k := range []string{settings.EnvRotationKMSKey, settings.EnvRotationWriter} {
		if v, ok := functionEnv(t, tmpl, lambdafn.Act)[k]; ok {
			t.Errorf("rotation off, yet the act function has %s = %v", k, v)
		}
	}
	t.Run("act role", func(t *testing.T) {
		checkRole(t, tmpl, specNamed(lambdafn.Act), actActions, resourcesOf(t, tmpl, "keywarden@example.com"))
	})

	// noAccessKeysTag empty: the record only writes the ledger; no tag
	// in its environment, no IAM, SNS or KMS in its role.
	wantRecordEnv := map[string]any{
		settings.EnvLedgerTable:   ref(tmpl.id(t, "LedgerTable/Resource")),
		settings.EnvAlertTopicArn: ref(tmpl.id(t, "AlertTopic/Resource")),
	}
	if got := functionEnv(t, tmpl, lambdafn.Record); !reflect.DeepEqual(got, wantRecordEnv) {
		t.Errorf("record environment %s, want %s", toJSON(got), toJSON(wantRecordEnv))
	}
	t.Run("record role", func(t *testing.T) {
		checkRole(t, tmpl, specNamed(lambdafn.Record), recordLedger, resourcesOf(t, tmpl, ""))
	})

	want := map[string]any{
		settings.EnvActivityWindow:    "72",
		settings.EnvActivityRegions:   "us-east-1,eu-west-1",
		settings.EnvActivityMaxEvents: "1000",
	}
	if got := functionEnv(t, tmpl, lambdafn.Activity); !reflect.DeepEqual(got, want) {
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
