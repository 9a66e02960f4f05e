package main

import (
	"reflect"
	"testing"
)

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
