package doctor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

const (
	// dailyWindow: the schedule fires once a day; 26 hours leave two for
	// a slow or retried run, as the DailyRunMissing alarm does.
	dailyWindow = 26 * time.Hour
	// failedWindow is how far back failed executions are listed.
	failedWindow = 7 * 24 * time.Hour
	// maxExecutionPages bounds the listing (100 executions a page).
	maxExecutionPages = 50
	dailyPrefix       = "daily-"
)

// checkRules: a disabled rule drops its events without a trace.
func checkRules(ctx context.Context, cfn CloudFormation, eb EventBridge, s *stack) Result {
	r := Result{ID: "rules", Title: "EventBridge rules"}
	var rules []string
	in := &cloudformation.ListStackResourcesInput{StackName: aws.String(s.name)}
	for {
		out, err := cfn.ListStackResources(ctx, in)
		if err != nil {
			return callFailed(r.ID, r.Title, "cloudformation:ListStackResources", err)
		}
		for _, res := range out.StackResourceSummaries {
			if aws.ToString(res.ResourceType) == "AWS::Events::Rule" && aws.ToString(res.PhysicalResourceId) != "" {
				rules = append(rules, aws.ToString(res.PhysicalResourceId))
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	if len(rules) == 0 {
		r.Status, r.Detail = Fail, "the stack has no EventBridge rule: nothing starts keywarden"
		r.Fix = "deploy the current keywarden (cdk deploy)"
		return r
	}
	var disabled []string
	for _, id := range rules {
		// A rule on another bus has the physical id "bus|name".
		in := &eventbridge.DescribeRuleInput{Name: aws.String(id)}
		if bus, name, ok := strings.Cut(id, "|"); ok {
			in = &eventbridge.DescribeRuleInput{Name: aws.String(name), EventBusName: aws.String(bus)}
		}
		out, err := eb.DescribeRule(ctx, in)
		if err != nil {
			return callFailed(r.ID, r.Title, "events:DescribeRule", err)
		}
		if out.State == ebtypes.RuleStateDisabled {
			disabled = append(disabled, aws.ToString(out.Name))
		}
	}
	if len(disabled) > 0 {
		r.Status = Fail
		r.Detail = fmt.Sprintf("%d of %d disabled: %s", len(disabled), len(rules), strings.Join(disabled, ", "))
		var cmds []string
		for _, n := range disabled {
			cmds = append(cmds, "aws events enable-rule --name "+n)
		}
		r.Fix = strings.Join(cmds, "; ")
		return r
	}
	r.Status, r.Detail = Pass, fmt.Sprintf("all %d enabled", len(rules))
	return r
}

// checkDeadLetterQueue: an event there is a report nobody handled.
func checkDeadLetterQueue(ctx context.Context, client SQS, s *stack, region string) Result {
	r := Result{ID: "dead-letter-queue", Title: "Dead-letter queue"}
	queue := s.output(outDeadLetterQueue)
	if queue == "" {
		return notChecked(r.ID, r.Title, outDeadLetterQueue)
	}
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queue),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
	})
	var gone *sqstypes.QueueDoesNotExist
	if errors.As(err, &gone) {
		r.Status, r.Detail = Fail, "the queue "+queue+" does not exist: undeliverable events are lost"
		r.Fix = "deploy the current keywarden (cdk deploy)"
		return r
	}
	if err != nil {
		return callFailed(r.ID, r.Title, "sqs:GetQueueAttributes", err)
	}
	waiting, err1 := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, err2 := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	if err := errors.Join(err1, err2); err != nil {
		r.Status, r.Detail = Fail, fmt.Sprintf("could not read the queue's depth: %v", err)
		return r
	}
	if total := waiting + inFlight; total > 0 {
		r.Status = Fail
		r.Detail = fmt.Sprintf("%d event(s) wait (%d being read): each is a report keywarden did not handle", total, inFlight)
		r.Fix = fmt.Sprintf("read them (aws sqs receive-message --region %s --queue-url %s --max-number-of-messages 10), fix the cause, re-invoke the intake with each body, delete them (docs/operations.md)", region, queue)
		return r
	}
	r.Status, r.Detail = Pass, "empty"
	return r
}

// executions are the state machine's executions since a time, newest
// first, or why they could not be listed.
type executions struct {
	list      []sfntypes.ExecutionListItem
	err       error
	truncated bool
}

func listExecutions(ctx context.Context, client StepFunctions, machine string, since time.Time) executions {
	var ex executions
	if machine == "" {
		return ex
	}
	in := &sfn.ListExecutionsInput{StateMachineArn: aws.String(machine), MaxResults: 100}
	for page := 0; ; page++ {
		if page == maxExecutionPages {
			ex.truncated = true
			return ex
		}
		out, err := client.ListExecutions(ctx, in)
		if err != nil {
			ex.err = err
			return ex
		}
		for _, e := range out.Executions {
			if aws.ToTime(e.StartDate).Before(since) {
				return ex
			}
			ex.list = append(ex.list, e)
		}
		if aws.ToString(out.NextToken) == "" {
			return ex
		}
		in.NextToken = out.NextToken
	}
}

func executionLink(region, arn string) string {
	return fmt.Sprintf("https://%s.console.aws.amazon.com/states/home?region=%s#/v2/executions/details/%s", region, region, arn)
}

func machineLink(region, arn string) string {
	return fmt.Sprintf("https://%s.console.aws.amazon.com/states/home?region=%s#/statemachines/view/%s", region, region, arn)
}

func stamp(t *time.Time) string { return aws.ToTime(t).UTC().Format("2006-01-02 15:04 UTC") }

// checkDailyRun: the daily key-age run succeeded within 26 hours.
func checkDailyRun(ex executions, s *stack, now time.Time, region string) Result {
	r := Result{ID: "daily-run", Title: "Daily key-age run"}
	machine := s.output(outStateMachine)
	if machine == "" {
		return notChecked(r.ID, r.Title, outStateMachine)
	}
	if ex.err != nil {
		return callFailed(r.ID, r.Title, "states:ListExecutions", ex.err)
	}
	var latest *sfntypes.ExecutionListItem
	for i, e := range ex.list {
		if !strings.HasPrefix(aws.ToString(e.Name), dailyPrefix) {
			continue
		}
		if latest == nil {
			latest = &ex.list[i]
		}
		if e.Status == sfntypes.ExecutionStatusSucceeded && now.Sub(aws.ToTime(e.StopDate)) <= dailyWindow {
			r.Status, r.Detail = Pass, fmt.Sprintf("%s succeeded at %s", aws.ToString(e.Name), stamp(e.StopDate))
			return r
		}
	}
	fix := "check the ScheduleRule, the dead-letter queue, the intake's logs and the daily-YYYY-MM-DD executions (" + machineLink(region, machine) + "); docs/operations.md"
	switch {
	case latest != nil && latest.Status == sfntypes.ExecutionStatusRunning && now.Sub(aws.ToTime(latest.StartDate)) <= dailyWindow:
		r.Status, r.Detail = Warn, fmt.Sprintf("%s is running since %s; no run has succeeded in the last 26 hours", aws.ToString(latest.Name), stamp(latest.StartDate))
		r.Fix = "run doctor again when it has finished: " + executionLink(region, aws.ToString(latest.ExecutionArn))
	case now.Sub(s.created) < dailyWindow:
		r.Status, r.Detail = Warn, "no successful daily run yet; the stack is less than 26 hours old, and the first run comes with the schedule"
		r.Fix = "run doctor again after the first scheduled run"
	case latest != nil:
		r.Status = Fail
		r.Detail = fmt.Sprintf("no daily run succeeded in the last 26 hours; the latest, %s, is %s (started %s)", aws.ToString(latest.Name), latest.Status, stamp(latest.StartDate))
		r.Fix = "open " + executionLink(region, aws.ToString(latest.ExecutionArn)) + "; then " + fix
	default:
		r.Status, r.Detail = Fail, "no daily run in the last 7 days: aging keys are neither noticed nor deactivated"
		r.Fix = fix
	}
	return r
}

// checkFailedExecutions lists the last week's failed, timed-out and
// aborted executions. It warns: each already alerted when it ended, and
// they need a look rather than a fix to the deployment.
func checkFailedExecutions(ex executions, s *stack, now time.Time, region string) Result {
	r := Result{ID: "failed-executions", Title: "Failed executions, last 7 days"}
	if s.output(outStateMachine) == "" {
		return notChecked(r.ID, r.Title, outStateMachine)
	}
	if ex.err != nil {
		return callFailed(r.ID, r.Title, "states:ListExecutions", ex.err)
	}
	var failed []string
	for _, e := range ex.list {
		switch e.Status {
		case sfntypes.ExecutionStatusFailed, sfntypes.ExecutionStatusTimedOut, sfntypes.ExecutionStatusAborted:
			failed = append(failed, fmt.Sprintf("%s %s at %s: %s", aws.ToString(e.Name), e.Status, stamp(e.StopDate), executionLink(region, aws.ToString(e.ExecutionArn))))
		}
	}
	more := ""
	if ex.truncated {
		more = fmt.Sprintf(" (only the newest %d executions were read)", maxExecutionPages*100)
	}
	if len(failed) == 0 {
		r.Status, r.Detail = Pass, fmt.Sprintf("none among %d executions%s", len(ex.list), more)
		return r
	}
	r.Status = Warn
	r.Detail = fmt.Sprintf("%d of %d executions%s:\n%s", len(failed), len(ex.list), more, strings.Join(failed, "\n"))
	r.Fix = "open each; the manual-action alert it sent says what failed. To run a response again, see docs/exposed-key.md#one-incident-per-key"
	return r
}

// checkAlarms: keywarden's alarms exist and none is in ALARM.
func checkAlarms(ctx context.Context, client CloudWatch, s *stack, region string) Result {
	r := Result{ID: "alarms", Title: "CloudWatch alarms"}
	var names []string
	for _, k := range []string{outDailyRunAlarm, outDeadLetterAlarm, outFailedExecsAlarm} {
		if s.output(k) == "" {
			return notChecked(r.ID, r.Title, k)
		}
		names = append(names, s.output(k))
	}
	out, err := client.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: names})
	if err != nil {
		return callFailed(r.ID, r.Title, "cloudwatch:DescribeAlarms", err)
	}
	state := map[string]string{}
	reason := map[string]string{}
	for _, a := range out.MetricAlarms {
		state[aws.ToString(a.AlarmName)] = string(a.StateValue)
		reason[aws.ToString(a.AlarmName)] = aws.ToString(a.StateReason)
	}
	var bad, unsure, ok []string
	for _, n := range names {
		switch state[n] {
		case "OK":
			ok = append(ok, n)
		case "ALARM":
			bad = append(bad, fmt.Sprintf("%s is in ALARM (%s)", n, reason[n]))
		case "INSUFFICIENT_DATA":
			unsure = append(unsure, n+" has insufficient data")
		case "":
			bad = append(bad, n+" does not exist")
		default:
			unsure = append(unsure, n+" is "+state[n])
		}
	}
	sort.Strings(ok)
	console := fmt.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#alarmsV2:?~(search~'%s)", region, region, s.name)
	switch {
	case len(bad) > 0:
		r.Status = Fail
		r.Detail = strings.Join(append(bad, unsure...), "; ")
		r.Fix = "each alarm's description says what to check (" + console + "); docs/operations.md#operational-signals"
	case len(unsure) > 0:
		r.Status = Warn
		r.Detail = strings.Join(unsure, "; ")
		r.Fix = "a new alarm has no data until its metric does; look again later: " + console
	default:
		r.Status, r.Detail = Pass, "all OK: "+strings.Join(ok, ", ")
	}
	return r
}
