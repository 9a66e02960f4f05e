package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/smithy-go"
)

// The stack outputs doctor reads (infra/stack.go, newOutputs).
const (
	outStateMachine      = "StateMachineArn"
	outAlertTopic        = "AlertTopicArn"
	outDeadLetterQueue   = "DeadLetterQueueUrl"
	outDailyRunAlarm     = "DailyRunMissingAlarmName"
	outDeadLetterAlarm   = "DeadLetterQueueAlarmName"
	outFailedExecsAlarm  = "FailedExecutionsAlarmName"
	outKeyAgeMode        = "KeyAgeMode"
	outNoticeSender      = "NoticeSender"
	noNoticeSender       = "none"
	keyAgeModeDryRun     = "dry-run"
	keyAgeModeEnforcing  = "enforcing"
	requiredRegion       = "us-east-1"
	stackConsoleFragment = "#/stacks"
)

var requiredOutputs = []string{outStateMachine, outAlertTopic, outDeadLetterQueue,
	outDailyRunAlarm, outDeadLetterAlarm, outFailedExecsAlarm, outKeyAgeMode, outNoticeSender}

// stack is the deployed stack as DescribeStacks shows it.
type stack struct {
	name    string
	account string // from the stack's id
	status  string
	created time.Time
	outputs map[string]string
}

func (s *stack) output(key string) string { return s.outputs[key] }

func checkRegion(region string) Result {
	r := Result{ID: "region", Title: "Region"}
	if region == requiredRegion {
		r.Status, r.Detail = Pass, "us-east-1: IAM's CloudTrail events, Trusted Advisor's and Health's reach EventBridge here"
		return r
	}
	r.Status = Fail
	r.Detail = fmt.Sprintf("%s: IAM's CloudTrail events and Trusted Advisor's exposed-key events reach EventBridge only in us-east-1, so a stack here never hears of a leaked or created key", orNone(region))
	r.Fix = "deploy in us-east-1 (AWS_REGION=us-east-1 cdk deploy) and run doctor with --region us-east-1"
	return r
}

func orNone(s string) string {
	if s == "" {
		return "(no region)"
	}
	return s
}

// checkStack reads the stack; it returns nil when there is none to check.
func checkStack(ctx context.Context, cfn CloudFormation, name, region string) (Result, *stack) {
	r := Result{ID: "stack", Title: "Stack"}
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" && strings.Contains(apiErr.ErrorMessage(), "does not exist") {
		r.Status = Fail
		r.Detail = fmt.Sprintf("no stack %s in %s", name, region)
		r.Fix = fmt.Sprintf("deploy it: AWS_REGION=%s cdk deploy (or pass --stack with the name you deployed)", region)
		return r, nil
	}
	if err != nil {
		return callFailed(r.ID, r.Title, "cloudformation:DescribeStacks", err), nil
	}
	if len(out.Stacks) != 1 {
		r.Status, r.Detail = Fail, fmt.Sprintf("DescribeStacks answered %d stacks for %s, want 1", len(out.Stacks), name)
		return r, nil
	}
	s := out.Stacks[0]
	st := &stack{name: aws.ToString(s.StackName), status: string(s.StackStatus), created: aws.ToTime(s.CreationTime), outputs: map[string]string{}}
	if parts := strings.Split(aws.ToString(s.StackId), ":"); len(parts) > 4 {
		st.account = parts[4]
	}
	for _, o := range s.Outputs {
		st.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	console := fmt.Sprintf("https://%s.console.aws.amazon.com/cloudformation/home?region=%s%s", region, region, stackConsoleFragment)
	switch {
	case st.status == "CREATE_COMPLETE" || st.status == "UPDATE_COMPLETE" || st.status == "IMPORT_COMPLETE":
		r.Status, r.Detail = Pass, fmt.Sprintf("%s is %s", st.name, st.status)
	case st.status == "UPDATE_ROLLBACK_COMPLETE":
		r.Status = Warn
		r.Detail = fmt.Sprintf("%s is %s: the last update failed and was rolled back; the version before it runs", st.name, st.status)
		r.Fix = "read the failed update's events (" + console + ") and deploy again: cdk deploy"
	case strings.HasSuffix(st.status, "_IN_PROGRESS"):
		r.Status = Warn
		r.Detail = fmt.Sprintf("%s is %s", st.name, st.status)
		r.Fix = "run doctor again once the stack operation has finished"
	default:
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s is %s: keywarden is not (fully) deployed", st.name, st.status)
		r.Fix = "read the stack's events (" + console + "), fix the cause and deploy again: cdk deploy"
		if st.status == "ROLLBACK_COMPLETE" || strings.HasPrefix(st.status, "DELETE_") {
			return r, nil
		}
	}
	return r, st
}

func checkOutputs(s *stack) Result {
	r := Result{ID: "outputs", Title: "Stack outputs"}
	required := requiredOutputs
	if s.organizationMode() {
		required = append(slices.Clone(requiredOutputs), organizationOutputs...)
	}
	var missing []string
	for _, k := range required {
		if s.output(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		r.Status = Fail
		r.Detail = "missing: " + strings.Join(missing, ", ")
		r.Fix = "deploy the current keywarden (cdk deploy): an older stack lacks outputs doctor reads"
		return r
	}
	r.Status, r.Detail = Pass, fmt.Sprintf("all %d outputs doctor reads are there", len(required))
	return r
}

func checkSettings(s *stack) Result {
	r := Result{ID: "settings", Title: "Settings as deployed"}
	mode := s.output(outKeyAgeMode)
	sender := s.output(outNoticeSender)
	notices := "owner notices go to the alert topic (no noticeSender)"
	if sender != "" && sender != noNoticeSender {
		notices = "owner notices are e-mailed from " + sender
	}
	switch mode {
	case keyAgeModeEnforcing:
		r.Status, r.Detail = Pass, "enforcing: the daily run deactivates keys past the limit; "+notices
	case keyAgeModeDryRun:
		r.Status = Warn
		r.Detail = "dry run: the daily run decides and notifies but deactivates no key; " + notices
		r.Fix = `when the notices look right, set "dryRun": false in cdk.json and run cdk deploy`
	case "":
		return notChecked(r.ID, r.Title, outKeyAgeMode)
	default:
		r.Status, r.Detail = Fail, fmt.Sprintf("unknown %s %q", outKeyAgeMode, mode)
		r.Fix = "deploy the current keywarden (cdk deploy)"
	}
	return r
}
