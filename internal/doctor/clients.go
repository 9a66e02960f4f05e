package doctor

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// CloudFormation reads the stack: its outputs, status and rules.
type CloudFormation interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	ListStackResources(context.Context, *cloudformation.ListStackResourcesInput, ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error)
}

// SNS lists the alert topic's subscriptions.
type SNS interface {
	ListSubscriptionsByTopic(context.Context, *sns.ListSubscriptionsByTopicInput, ...func(*sns.Options)) (*sns.ListSubscriptionsByTopicOutput, error)
}

// SES reads the notice sender's identity and the account's sending state.
type SES interface {
	GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
	GetEmailIdentity(context.Context, *sesv2.GetEmailIdentityInput, ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error)
}

// CloudTrail reads the trails and what they log.
type CloudTrail interface {
	DescribeTrails(context.Context, *cloudtrail.DescribeTrailsInput, ...func(*cloudtrail.Options)) (*cloudtrail.DescribeTrailsOutput, error)
	GetTrailStatus(context.Context, *cloudtrail.GetTrailStatusInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailStatusOutput, error)
	GetEventSelectors(context.Context, *cloudtrail.GetEventSelectorsInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetEventSelectorsOutput, error)
}

// EventBridge reads whether a rule is enabled.
type EventBridge interface {
	DescribeRule(context.Context, *eventbridge.DescribeRuleInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
}

// SQS reads the dead-letter queue's depth.
type SQS interface {
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// StepFunctions lists the state machine's executions.
type StepFunctions interface {
	ListExecutions(context.Context, *sfn.ListExecutionsInput, ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
}

// CloudWatch reads the alarms' states.
type CloudWatch interface {
	DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// Clients are the calls doctor makes, one interface per service.
type Clients struct {
	CloudFormation CloudFormation
	SNS            SNS
	SES            SES
	CloudTrail     CloudTrail
	EventBridge    EventBridge
	SQS            SQS
	StepFunctions  StepFunctions
	CloudWatch     CloudWatch
}

// NewClients builds the real SDK clients from cfg.
func NewClients(cfg aws.Config) Clients {
	return Clients{
		CloudFormation: cloudformation.NewFromConfig(cfg),
		SNS:            sns.NewFromConfig(cfg),
		SES:            sesv2.NewFromConfig(cfg),
		CloudTrail:     cloudtrail.NewFromConfig(cfg),
		EventBridge:    eventbridge.NewFromConfig(cfg),
		SQS:            sqs.NewFromConfig(cfg),
		StepFunctions:  sfn.NewFromConfig(cfg),
		CloudWatch:     cloudwatch.NewFromConfig(cfg),
	}
}

var (
	_ CloudFormation = (*cloudformation.Client)(nil)
	_ SNS            = (*sns.Client)(nil)
	_ SES            = (*sesv2.Client)(nil)
	_ CloudTrail     = (*cloudtrail.Client)(nil)
	_ EventBridge    = (*eventbridge.Client)(nil)
	_ SQS            = (*sqs.Client)(nil)
	_ StepFunctions  = (*sfn.Client)(nil)
	_ CloudWatch     = (*cloudwatch.Client)(nil)
)
