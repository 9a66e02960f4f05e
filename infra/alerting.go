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
	// policy statement that grantPublish adds for events.amazonaws.com.
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
