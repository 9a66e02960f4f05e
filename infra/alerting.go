package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"

	"github.com/keywarden/keywarden/internal/settings"
)

// alerting is the security team's channel: an SNS topic encrypted with a
// customer managed key.
type alerting struct {
	key   awskms.Key
	topic awssns.Topic
}

func newAlerting(stack awscdk.Stack, s settings.Settings) *alerting {
	// The key policy keeps CDK's default (the account's IAM policies
	// decide); publishers get kms:GenerateDataKey and kms:Decrypt on it:
	// the alert function through its role, EventBridge through the key
	// policy statement that grantPublish adds for events.amazonaws.com,
	// CloudWatch alarms through allowCloudWatchAlarms.
	key := awskms.NewKey(stack, jsii.String("AlertKey"), &awskms.KeyProps{
		Description:       jsii.String("keywarden: encrypts the alert topic's messages"),
		EnableKeyRotation: jsii.Bool(true),
	})
	topic := awssns.NewTopic(stack, jsii.String("AlertTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("keywarden"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	for _, email := range s.AlertEmails {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	}
	return &alerting{key: key, topic: topic}
}

// publishStatements let a function publish to the alert topic: sns:Publish
// on the topic, and the alert key that encrypts its messages.
func (a *alerting) publishStatements() []awsiam.PolicyStatement {
	return []awsiam.PolicyStatement{
		allow("PublishAlert", []string{"sns:Publish"}, a.topic.TopicArn()),
		allow("UseAlertKey", []string{"kms:GenerateDataKey", "kms:Decrypt"}, a.key.KeyArn()),
	}
}

// allowCloudWatchAlarms lets this stack's CloudWatch alarms notify the
// topic. CloudWatch publishes as the service principal
// cloudwatch.amazonaws.com, and SNS encrypts the message with the alert key
// on its behalf: the key policy must allow it kms:GenerateDataKey* and
// kms:Decrypt (the SNS Developer Guide, "Enable compatibility between event
// sources from AWS services and encrypted topics"; without it the alarm
// history shows "CloudWatch Alarms does not have authorization to access
// the SNS topic encryption key"). The CDK's SnsAction adds neither grant.
//
// The topic has a policy of its own (EnforceSSL, EventBridge), which
// replaces SNS's default account-wide one, so it allows sns:Publish to
// CloudWatch explicitly. Both are confused-deputy guarded: this account
// only, and on the topic only this stack's alarms (by name prefix, see
// alarmName). The key statement keeps to aws:SourceAccount: the key policy
// cannot name the topic (kms:EncryptionContext:aws:sns:topicArn) without a
// dependency cycle, the topic being encrypted with the key.
func (a *alerting) allowCloudWatchAlarms(stack awscdk.Stack) {
	cloudwatch := awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)
	thisAccount := map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}
	a.key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarmsToUseKey"),
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{cloudwatch},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": thisAccount},
	}), jsii.Bool(false))
	stackAlarms := stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("cloudwatch"),
		Resource:     jsii.String("alarm"),
		ResourceName: awscdk.Fn_Join(jsii.String(""), &[]*string{awscdk.Aws_STACK_NAME(), jsii.String("-*")}),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
	a.topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarmsToPublish"),
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{cloudwatch},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{a.topic.TopicArn()},
		Conditions: &map[string]any{
			"StringEquals": thisAccount,
			"ArnLike":      map[string]any{"aws:SourceArn": stackAlarms},
		},
	}))
}

// Execution statuses that mean an incident may be unhandled.
var failedExecutionStatuses = []string{"FAILED", "TIMED_OUT", "ABORTED"}

// alertOnFailedExecutions is the backstop behind the definition's Catch
// alerts: an execution that failed, timed out or was aborted is reported
// even when the alert function itself is what failed. The message names the
// execution only: its input and output never reach the topic.
func (a *alerting) alertOnFailedExecutions(stack awscdk.Stack, machine awsstepfunctions.StateMachine, dlq awssqs.IQueue) {
	field := func(path string) string { return *awsevents.EventField_FromPath(jsii.String(path)) }
	message := "keywarden: execution " + field("$.detail.name") + " ended " + field("$.detail.status") +
		". The response may be incomplete: check the failed step. For an exposed key, finish containing it by hand; " +
		"for a daily key-age run (daily-YYYY-MM-DD), fix the cause: the next run decides every key afresh. " +
		"https://" + field("$.region") + ".console.aws.amazon.com/states/home?region=" + field("$.region") +
		"#/v2/executions/details/" + field("$.detail.executionArn")
	awsevents.NewRule(stack, jsii.String("FailedExecutionRule"), &awsevents.RuleProps{
		Description: jsii.String("keywarden: alert when an execution (exposed key or daily key-age run) fails, times out or is aborted"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.states"),
			DetailType: jsii.Strings("Step Functions Execution Status Change"),
			Detail: &map[string]any{
				"status":          failedExecutionStatuses,
				"stateMachineArn": []*string{machine.StateMachineArn()},
			},
		},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSnsTopic(a.topic, &awseventstargets.SnsTopicProps{
			Message:         awsevents.RuleTargetInput_FromText(jsii.String(message)),
			DeadLetterQueue: dlq,
			MaxEventAge:     targetMaxEventAge,
			RetryAttempts:   jsii.Number(targetRetryAttempts),
		})},
	})
}
