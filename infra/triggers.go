package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/settings"
)

// Delivery to a target is retried for up to two hours; what still fails
// goes to the dead-letter queue.
var (
	targetMaxEventAge   = awscdk.Duration_Hours(jsii.Number(2))
	targetRetryAttempts = 8.0
)

// trigger is one EventBridge rule that starts a response through the
// intake: an event pattern, or a schedule.
type trigger struct {
	id          string
	description string
	pattern     *awsevents.EventPattern
	schedule    awsevents.Schedule
}

// triggers are the exposed-key signals, key creation and the daily key-age
// run. The synthesized template's EventPattern of each rule is what tests
// and the offline drill read; the schedule rule has none (the drill starts
// its daily run with the drill schedule pattern, as put-events does).
func triggers(s settings.Settings, revokePolicy awsiam.ManagedPolicy) []trigger {
	detached := detachedPolicy(revokePolicy)
	ts := signalTriggers(s, detached)
	// The intake names a scheduled run daily-<date>: a schedule that
	// fires twice in a day starts one execution.
	ts = append(ts, trigger{id: "ScheduleRule", description: "keywarden: the daily key-age run (schedule " + s.Schedule + ")",
		schedule: awsevents.Schedule_Expression(jsii.String(s.Schedule))})
	if s.DrillSources {
		ts = append(ts,
			trigger{"DrillRule", "keywarden drills: mock Trusted Advisor exposed-key events (put-events)",
				trustedAdvisorPattern(event.SourceTrustedAdvisorMock), nil},
			// put-events cannot send source aws.events: a drill run of
			// the key-age branch sends the scheduled event from the mock
			// source.
			trigger{"DrillScheduleRule", "keywarden drills: a mock daily schedule event starts a key-age run (put-events)",
				&awsevents.EventPattern{
					Source:     jsii.Strings(event.SourceScheduleDrill),
					DetailType: jsii.Strings(event.DetailTypeSchedule),
				}, nil},
			trigger{"DrillKeyCreationRule", "keywarden drills: a mock CloudTrail CreateAccessKey event records a key creation (put-events)",
				keyCreationPattern(event.SourceIAMDrill), nil})
		ts = append(ts, tamperTriggers(s, detached, event.SourceIAMDrill, "Drill")...)
	}
	return ts
}

// detachedPolicy is what the tamper watch's detach rule matches as the
// policy detached: the stack's deny policy with revokeWith attachedPolicy,
// nil with inlinePolicy (no such rule).
func detachedPolicy(revokePolicy awsiam.ManagedPolicy) []any {
	if revokePolicy == nil {
		return nil
	}
	return []any{revokePolicy.ManagedPolicyArn()}
}

// trustedAdvisorPattern matches Trusted Advisor's exposed-key check in ERROR.
func trustedAdvisorPattern(source string) *awsevents.EventPattern {
	return &awsevents.EventPattern{
		Source:     jsii.Strings(source),
		DetailType: jsii.Strings(event.DetailTypeTrustedAdvisor),
		Detail: &map[string]any{
			"status":     []string{"ERROR"},
			"check-name": []string{event.CheckExposedAccessKeys},
		},
	}
}

// keyCreationPattern matches CloudTrail's CreateAccessKey.
func keyCreationPattern(source string) *awsevents.EventPattern {
	return &awsevents.EventPattern{
		Source:     jsii.Strings(source),
		DetailType: jsii.Strings(event.DetailTypeCloudTrail),
		Detail: &map[string]any{
			"eventSource": []string{event.EventSourceIAM},
			"eventName":   []string{event.EventNameCreateAccessKey},
		},
	}
}

// signalTriggers are the rules of AWS's own signals: Trusted Advisor's and
// Health's exposed keys, and the CloudTrail IAM calls of key creation and
// the tamper watch. Organization mode builds the same rules on the hub's
// bus and in each member (organization.go), from this one list.
func signalTriggers(s settings.Settings, detached []any) []trigger {
	ts := []trigger{
		{"TrustedAdvisorRule", "keywarden: Trusted Advisor reports an exposed access key", trustedAdvisorPattern(event.SourceTrustedAdvisor), nil},
		{"HealthRule", "keywarden: AWS Health reports an exposed or compromised access key, or another IAM credential risk", &awsevents.EventPattern{
			Source:     jsii.Strings(event.SourceHealth),
			DetailType: jsii.Strings(event.DetailTypeHealth),
			// Every Health code about IAM credentials: the key codes get
			// the exposed-key response, the notice codes an alert
			// (docs/exposed-key.md lists each with its source). Matched
			// on the codes alone: published samples disagree on
			// detail.service for these events (RISK, IAM, ABUSE), and
			// the codes are specific enough.
			Detail: &map[string]any{"eventTypeCode": event.HealthRiskCodes},
		}, nil},
	}
	// Key creation (workflow 3). IAM is a global service: CloudTrail
	// records its calls in us-east-1, and EventBridge receives them there
	// only, on that region's default bus; deployed anywhere else this
	// rule never fires. EventBridge also receives "AWS API Call via
	// CloudTrail" events only from a CloudTrail trail with logging
	// enabled (EventBridge User Guide, "Events from AWS services": event
	// history alone delivers nothing), and a trail that covers us-east-1
	// (multi-region, an organization trail, or one in us-east-1).
	// CreateAccessKey is a write management event, which trails log by
	// default, so the rule needs no read-only-events opt-in. keywarden
	// creates no trail: most accounts have one, and a second copy of
	// management events is billed. Drills (put-events with the mock
	// source) need no trail.
	ts = append(ts, trigger{"KeyCreationRule", "keywarden: an IAM access key was created (CloudTrail CreateAccessKey); record who created it",
		keyCreationPattern(event.SourceIAM), nil})
	return append(ts, tamperTriggers(s, detached, event.SourceIAM, "")...)
}

// newTriggers routes each signal on the default bus, and the schedule, to
// the intake, which names the execution after the key (or the day) so that
// the same key reported twice is one incident.
func newTriggers(stack awscdk.Stack, s settings.Settings, revokePolicy awsiam.ManagedPolicy, intake awslambda.IFunction, dlq awssqs.IQueue) {
	for _, t := range triggers(s, revokePolicy) {
		awsevents.NewRule(stack, jsii.String(t.id), &awsevents.RuleProps{
			Description:  jsii.String(t.description),
			EventPattern: t.pattern,
			Schedule:     t.schedule,
			Targets:      &[]awsevents.IRuleTarget{intakeTarget(intake, dlq)},
		})
	}
}

// intakeTarget delivers a rule's events to the intake, retried for up to
// two hours, then kept in the dead-letter queue.
func intakeTarget(intake awslambda.IFunction, dlq awssqs.IQueue) awsevents.IRuleTarget {
	return awseventstargets.NewLambdaFunction(intake, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: dlq,
		MaxEventAge:     targetMaxEventAge,
		RetryAttempts:   jsii.Number(targetRetryAttempts),
	})
}

// newDeadLetterQueue keeps events that EventBridge could not deliver and
// intake invocations that failed every retry: each is an unhandled report.
func newDeadLetterQueue(stack awscdk.Stack) awssqs.Queue {
	return awssqs.NewQueue(stack, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		// SSE-SQS: EventBridge cannot send to a queue under an AWS
		// managed KMS key, and a customer managed one would need its own
		// key policy for events.amazonaws.com and lambda.
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
}
