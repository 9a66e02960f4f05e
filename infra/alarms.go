package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"

	"github.com/keywarden/keywarden/internal/keyage"
)

// The metric the digest function writes, as a CloudWatch Embedded Metric
// Format log line, after every daily key-age run it publishes
// (internal/keyage, DigestHandler): no dimensions, value 1, unit Count.
const (
	runMetricNamespace = keyage.MetricNamespace
	runMetricName      = keyage.RunSucceededMetric
)

// The dead-man's switch: 26 hourly periods with no successful run. The
// schedule fires once a day, so a window of 26 hours always holds one run
// plus two hours for a slow or retried one.
const (
	runMissingPeriods = 26
)

// Alarm names are the stack's name and a suffix ("Keywarden-DailyRunMissing"):
// readable in the notification's subject, unique per account and region as
// the stack name is, and known before the alarms exist, so the topic policy
// names them without depending on them.
const (
	alarmDailyRunMissing  = "DailyRunMissing"
	alarmDeadLetterQueue  = "DeadLetterQueue"
	alarmFailedExecutions = "FailedExecutions"
)

func alarmName(suffix string) *string {
	return awscdk.Fn_Join(jsii.String("-"), &[]*string{awscdk.Aws_STACK_NAME(), jsii.String(suffix)})
}

// alarms are keywarden's operational alarms; each notifies the alert topic.
type alarms struct {
	dailyRunMissing  awscloudwatch.Alarm
	deadLetterQueue  awscloudwatch.Alarm
	failedExecutions awscloudwatch.Alarm
}

// newAlarms watches what no execution reports by itself: a daily run that
// never happened or never finished, events that could not be delivered, and
// (beside the EventBridge rule) failed executions.
func newAlarms(stack awscdk.Stack, alerting *alerting, dlq awssqs.IQueue, machine awsstepfunctions.StateMachine) *alarms {
	notify := awscloudwatchactions.NewSnsAction(alerting.topic)
	fiveMinutes := awscdk.Duration_Minutes(jsii.Number(5))

	// Missing data is breaching: no run at all writes no datapoint. Right
	// after the first deployment the alarm is therefore in ALARM until the
	// first run succeeds; the OK notification says when it has.
	daily := awscloudwatch.NewAlarm(stack, jsii.String("DailyRunMissingAlarm"), &awscloudwatch.AlarmProps{
		AlarmName: alarmName(alarmDailyRunMissing),
		AlarmDescription: jsii.String("keywarden: no daily key-age run has succeeded for 26 hours (metric keywarden/KeyAgeRunSucceeded, " +
			"written by the digest function after it publishes the run's digest). Check, in order: the ScheduleRule " +
			"(enabled; its FailedInvocations metric), the dead-letter queue, the intake function's logs, the state machine's " +
			"daily-YYYY-MM-DD executions (missing, failed, or still running) and the digest function's logs. " +
			"Fix the cause; the next scheduled run decides every key afresh. A schedule less often than daily keeps this alarm in ALARM."),
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:  jsii.String(runMetricNamespace),
			MetricName: jsii.String(runMetricName),
			Statistic:  awscloudwatch.Stats_SUM(),
			Period:     awscdk.Duration_Hours(jsii.Number(1)),
		}),
		EvaluationPeriods:  jsii.Number(runMissingPeriods),
		DatapointsToAlarm:  jsii.Number(runMissingPeriods),
		Threshold:          jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
	})
	daily.AddAlarmAction(notify)
	daily.AddOkAction(notify)

	// SQS stops sending metrics for a queue idle for six hours: no data
	// means no message.
	queue := awscloudwatch.NewAlarm(stack, jsii.String("DeadLetterQueueAlarm"), &awscloudwatch.AlarmProps{
		AlarmName: alarmName(alarmDeadLetterQueue),
		AlarmDescription: jsii.String("keywarden: events are waiting in the dead-letter queue (output DeadLetterQueueUrl): " +
			"events EventBridge could not deliver to the intake or the alert topic, or intake invocations that failed every retry. " +
			"Each is an unhandled report. Read them (aws sqs receive-message; the attributes name the rule or the error) " +
			"and the intake function's logs, fix the cause, then redrive: send each message body (the original event) to the intake " +
			"again with aws lambda invoke --invocation-type Event --cli-binary-format raw-in-base64-out --payload file://event.json " +
			"(the intake names the execution after the key or day: a replay starts no second response), then delete the message. " +
			"A Step Functions status-change event (FailedExecutionRule) is an undelivered failure alert: check that execution by hand."),
		Metric: dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Statistic: awscloudwatch.Stats_MAXIMUM(),
			Period:    fiveMinutes,
		}),
		EvaluationPeriods:  jsii.Number(1),
		Threshold:          jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	queue.AddAlarmAction(notify)

	// A second channel beside FailedExecutionRule, independent of
	// EventBridge's delivery (and of the events.amazonaws.com grants on the
	// topic and key). FILL makes a period with neither metric count as 0.
	// Aborted executions are an operator's act; the rule reports them.
	stat := &awscloudwatch.MetricOptions{Statistic: awscloudwatch.Stats_SUM(), Period: fiveMinutes}
	failed := awscloudwatch.NewAlarm(stack, jsii.String("FailedExecutionsAlarm"), &awscloudwatch.AlarmProps{
		AlarmName: alarmName(alarmFailedExecutions),
		AlarmDescription: jsii.String("keywarden: an execution of the state machine (output StateMachineArn) failed or timed out. " +
			"The FailedExecutionRule alert names it; if that alert did not arrive, check the dead-letter queue. Open the state " +
			"machine's failed executions in the console (output ConsoleUrl) and check the failed step. For an exposed key, " +
			"finish containing it by hand; for a daily key-age run (daily-YYYY-MM-DD), fix the cause."),
		Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("FILL(failed, 0) + FILL(timedOut, 0)"),
			Label:      jsii.String("Executions failed or timed out"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"failed":   machine.MetricFailed(stat),
				"timedOut": machine.MetricTimedOut(stat),
			},
			Period: fiveMinutes,
		}),
		EvaluationPeriods:  jsii.Number(1),
		Threshold:          jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	failed.AddAlarmAction(notify)

	return &alarms{dailyRunMissing: daily, deadLetterQueue: queue, failedExecutions: failed}
}
