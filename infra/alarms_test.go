package main

import (
	"reflect"
	"strings"
	"testing"
)

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
