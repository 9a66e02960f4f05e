// Package doctor checks a deployed keywarden stack for the misconfigurations
// that fail silently: a region where IAM's events never arrive, an alert
// topic nobody confirmed, an SES sender that cannot send, no trail feeding
// CloudTrail events to EventBridge, a disabled rule, undelivered events, a
// daily run that stopped, failed executions and alarms in ALARM. A hub
// (organization mode, organization.go) also gets its member StackSet and
// its instances, the in-scope accounts without a member stack, the hub
// bus's policy and the organization trail checked.
//
// Each check is a small function over a narrow client interface that the
// real SDK clients satisfy. It passes, warns or fails, and says what fixes
// it. Doctor only reads; docs/doctor.md lists the read-only actions it
// needs.
package doctor

import (
	"context"
	"fmt"
	"time"
)

// Status is a check's outcome.
type Status string

// Outcomes: a warning needs a look but does not make the run fail.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Result is one check's outcome: what was checked, what was found and, when
// it warns or fails, the command or console link that fixes it.
type Result struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Report is a whole run.
type Report struct {
	Stack   string   `json:"stack"`
	Region  string   `json:"region"`
	Results []Result `json:"results"`
	// NotChecked says why the checks after the stack's did not run (no
	// stack to read them from); empty when all ran.
	NotChecked string `json:"notChecked,omitempty"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	for _, res := range r.Results {
		if res.Status == Fail {
			return true
		}
	}
	return false
}

// DefaultStack is the stack name infra/ deploys.
const DefaultStack = "Keywarden"

// Doctor runs the checks against one stack in one region.
type Doctor struct {
	Clients Clients
	Stack   string
	Region  string
	// Now is the clock the time windows are measured from; time.Now when
	// nil.
	Now func() time.Time
}

// Run runs every check and returns their results in a fixed order. API
// errors become failed checks that name the call and the error; Run
// itself does not fail.
func (d Doctor) Run(ctx context.Context) Report {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	rep := Report{Stack: d.Stack, Region: d.Region}
	add := func(r Result) { rep.Results = append(rep.Results, r) }

	add(checkRegion(d.Region))
	stackResult, stack := checkStack(ctx, d.Clients.CloudFormation, d.Stack, d.Region)
	add(stackResult)
	if stack == nil {
		rep.NotChecked = fmt.Sprintf("the other checks read the stack's outputs and resources; they run once stack %s is deployed in %s", d.Stack, d.Region)
		return rep
	}
	add(checkOutputs(stack))
	add(checkSettings(stack))
	add(checkSubscriptions(ctx, d.Clients.SNS, stack, d.Region))
	sender := stack.output(outNoticeSender)
	add(checkSESSender(ctx, d.Clients.SES, sender, d.Region))
	add(checkSESAccount(ctx, d.Clients.SES, sender, d.Region))
	add(checkTrail(ctx, d.Clients.CloudTrail, d.Region))
	add(checkRules(ctx, d.Clients.CloudFormation, d.Clients.EventBridge, stack))
	add(checkDeadLetterQueue(ctx, d.Clients.SQS, stack, d.Region))
	execs := listExecutions(ctx, d.Clients.StepFunctions, stack.output(outStateMachine), now().Add(-failedWindow))
	add(checkDailyRun(execs, stack, now(), d.Region))
	add(checkFailedExecutions(execs, stack, now(), d.Region))
	add(checkAlarms(ctx, d.Clients.CloudWatch, stack, d.Region))
	// A hub's checks: a per-account stack has no Mode output.
	if stack.output(outMode) != "" {
		d.checkOrganization(ctx, stack, now, add)
	}
	return rep
}

// notChecked is the failure of a check whose input the stack lacks.
func notChecked(id, title, output string) Result {
	return Result{ID: id, Title: title, Status: Fail,
		Detail: fmt.Sprintf("not checked: the stack has no %s output", output),
		Fix:    "deploy the current keywarden (cdk deploy), whose stack has every output doctor reads"}
}

// callFailed is the failure of a check whose API call failed.
func callFailed(id, title, action string, err error) Result {
	return Result{ID: id, Title: title, Status: Fail,
		Detail: fmt.Sprintf("could not check: %v", err),
		Fix:    fmt.Sprintf("the credentials running doctor need %s (docs/doctor.md#permissions); then run doctor again", action)}
}
