package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The exact patterns: tests here and the offline drill read them from the
// template.
func TestEventPatterns(t *testing.T) {
	machine := defaultTmpl.id(t, "StateMachine/Resource")
	want := map[string]string{
		"TrustedAdvisorRule": `{"source":["aws.trustedadvisor"],"detail-type":["Trusted Advisor Check Item Refresh Notification"],
			"detail":{"status":["ERROR"],"check-name":["Exposed Access Keys"]}}`,
		"HealthRule": `{"source":["aws.health"],"detail-type":["AWS Health Event"],
			"detail":{"eventTypeCode":["AWS_RISK_CREDENTIALS_EXPOSED","AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
				"AWS_RISK_CREDENTIALS_COMPROMISED","AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED",
				"AWS_RISK_IAM_QUARANTINE","AWS_RISK_ACCOUNT_CONSOLE_COMPROMISE"]}}`,
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
	// The tamper rules' patterns are checked in tamper_test.go.
	for name := range tamperPatterns("", "aws.iam", defaultWatchedTags) {
		want[name], want["Drill"+name] = "", ""
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
		if pattern == "" {
			continue
		}
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
