package drill

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/keywarden/keywarden/internal/event"
)

// AWSOptions configure a drill against a deployed keywarden.
type AWSOptions struct {
	Root            string
	StateMachineArn string
	// Files are put-events entries files, relative to Root.
	Files []string
	// Wait bounds how long to wait for executions to start and finish.
	Wait time.Duration
	// Poll is the interval between checks; default 2 s.
	Poll time.Duration
}

// RunAWS sends each file to EventBridge with the caller's credentials, then
// follows the executions the deployed rules started — ListExecutions,
// DescribeExecution, GetExecutionHistory — and reports them as Run does.
// An execution that did not succeed, or a file that started none, fails the
// outcome.
func RunAWS(ctx context.Context, cfg aws.Config, o AWSOptions) ([]Outcome, error) {
	if o.StateMachineArn == "" {
		return nil, fmt.Errorf("the state machine ARN is required (the stack output StateMachineArn)")
	}
	if o.Wait == 0 {
		o.Wait = 5 * time.Minute
	}
	if o.Poll == 0 {
		o.Poll = 2 * time.Second
	}
	eb, states := eventbridge.NewFromConfig(cfg), sfn.NewFromConfig(cfg)
	var outcomes []Outcome
	for _, file := range o.Files {
		oc, err := drillFile(ctx, eb, states, o, file)
		if err != nil {
			return outcomes, err
		}
		outcomes = append(outcomes, oc)
	}
	return outcomes, nil
}

// drillFile sends one file's entries to EventBridge and follows the
// executions they started.
func drillFile(ctx context.Context, eb *eventbridge.Client, states FollowAPI, o AWSOptions, file string) (Outcome, error) {
	oc := Outcome{Scenario: filepath.Base(file), Title: "put-events --entries file://" + file}
	in, err := readPutEvents(o.Root, file)
	if err != nil {
		return oc, err
	}
	// Executions started from here on are this file's. Step Functions
	// stamps them with its own clock, so allow for skew, and leave out
	// those that already existed.
	since := time.Now().Add(-time.Minute)
	before, err := list(ctx, states, o.StateMachineArn, since)
	if err != nil {
		return oc, err
	}
	skip := map[string]bool{}
	for _, it := range before {
		skip[aws.ToString(it.ExecutionArn)] = true
	}
	out, err := eb.PutEvents(ctx, in)
	if err != nil {
		return oc, fmt.Errorf("put-events %s: %w", file, err)
	}
	put := PutResult{File: file, FailedEntries: int(out.FailedEntryCount), EntryErrors: entryErrors(out.Entries)}
	oc.Puts = append(oc.Puts, put)
	views, err := waitForExecutions(ctx, states, o, since, skip)
	if err != nil {
		return oc, err
	}
	oc.Executions = views
	oc.Checks = deployedChecks(put, views, o.Wait)
	oc.Passed = true
	for _, c := range oc.Checks {
		oc.Passed = oc.Passed && c.Passed
	}
	return oc, nil
}

// readPutEvents reads a put-events entries file as the input the CLI would
// send.
func readPutEvents(root, file string) (*eventbridge.PutEventsInput, error) {
	raw, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		return nil, err
	}
	entries, err := event.ReadEntries(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	in := &eventbridge.PutEventsInput{}
	for _, e := range entries {
		in.Entries = append(in.Entries, ebtypes.PutEventsRequestEntry{Source: aws.String(e.Source), DetailType: aws.String(e.DetailType), Detail: aws.String(e.Detail), Resources: e.Resources})
	}
	return in, nil
}

// deployedChecks are what a deployed stack must do with a file: start an
// execution, and every execution it started succeeds.
func deployedChecks(put PutResult, views []ExecutionView, wait time.Duration) []Check {
	ok := len(views) > 0 && put.FailedEntries == 0
	detail := "none started within " + wait.String() + ": is the stack deployed with drillSources on, in this region?"
	checks := []Check{{What: "an execution started", Passed: ok, Detail: map[bool]string{true: "", false: detail}[ok]}}
	for _, v := range views {
		good := v.Status == "SUCCEEDED"
		c := Check{What: fmt.Sprintf("execution %s ended %s", v.Name, v.Status), Passed: good}
		if !good {
			c.Detail = v.Error + ": " + oneLine(v.Cause, 200)
		}
		checks = append(checks, c)
	}
	return checks
}

// waitForExecutions polls until at least one execution started since then
// and none of them is still running, or the wait runs out.
func waitForExecutions(ctx context.Context, api FollowAPI, o AWSOptions, since time.Time, skip map[string]bool) ([]ExecutionView, error) {
	deadline := time.Now().Add(o.Wait)
	for {
		views, err := Follow(ctx, api, o.StateMachineArn, since, skip)
		if err != nil {
			return nil, err
		}
		running := 0
		for _, v := range views {
			if v.Status == "RUNNING" {
				running++
			}
		}
		if (len(views) > 0 && running == 0) || time.Now().After(deadline) {
			return views, nil
		}
		select {
		case <-ctx.Done():
			return views, ctx.Err()
		case <-time.After(o.Poll):
		}
	}
}
