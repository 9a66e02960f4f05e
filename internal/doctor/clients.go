package doctor

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/keywarden/keywarden/internal/inventory"
)

// CloudFormation reads the stack: its outputs, status and rules.
type CloudFormation interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	ListStackResources(context.Context, *cloudformation.ListStackResourcesInput, ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error)
	// Organization mode: the member StackSet and its instances.
	DescribeStackSet(context.Context, *cloudformation.DescribeStackSetInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackSetOutput, error)
	ListStackInstances(context.Context, *cloudformation.ListStackInstancesInput, ...func(*cloudformation.Options)) (*cloudformation.ListStackInstancesOutput, error)
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

// EventBridge reads whether a rule is enabled and, in organization mode,
// the hub bus's policy.
type EventBridge interface {
	DescribeRule(context.Context, *eventbridge.DescribeRuleInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
	DescribeEventBus(context.Context, *eventbridge.DescribeEventBusInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeEventBusOutput, error)
}

// Organizations reads the organization's accounts, in organization mode
// only: the in-scope accounts are internal/inventory's.
type Organizations = inventory.API

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
	Organizations  Organizations
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
		Organizations:  organizations.NewFromConfig(cfg),
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
