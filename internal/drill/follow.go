package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// FollowAPI is what following executions calls: the same operations
// against the local interpreter's API and against AWS.
type FollowAPI interface {
	ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, optFns ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

var _ FollowAPI = (*sfn.Client)(nil)

// ExecutionView is an execution as the console shows it.
type ExecutionView struct {
	Name     string          `json:"name"`
	Arn      string          `json:"executionArn"`
	Status   string          `json:"status"`
	Error    string          `json:"error,omitempty"`
	Cause    string          `json:"cause,omitempty"`
	Duration time.Duration   `json:"durationNs"`
	States   []StateView     `json:"states"`
	Output   json.RawMessage `json:"output,omitempty"`
	// MapRuns are the runs of its Distributed Map states, with their
	// child executions (when the API serves Map Runs: MapRunAPI).
	MapRuns []MapRunView `json:"mapRuns,omitempty"`
}

// MapRunView is one Map Run, as the console's Map Run page shows it.
type MapRunView struct {
	Arn                        string          `json:"mapRunArn"`
	Status                     string          `json:"status"`
	MaxConcurrency             int32           `json:"maxConcurrency"`
	ToleratedFailurePercentage float32         `json:"toleratedFailurePercentage"`
	ItemsTotal, ItemsFailed    int64           `json:"-"`
	Children                   []ExecutionView `json:"children"`
}

// MapRunAPI reads Map Runs: the same operations locally and in AWS.
type MapRunAPI interface {
	ListMapRuns(ctx context.Context, in *sfn.ListMapRunsInput, optFns ...func(*sfn.Options)) (*sfn.ListMapRunsOutput, error)
	DescribeMapRun(ctx context.Context, in *sfn.DescribeMapRunInput, optFns ...func(*sfn.Options)) (*sfn.DescribeMapRunOutput, error)
}

var _ MapRunAPI = (*sfn.Client)(nil)

// StateView is one state the execution passed through.
type StateView struct {
	Name    string        `json:"name"`
	Type    string        `json:"type"`
	Offset  time.Duration `json:"offsetNs"` // since the execution started
	Elapsed time.Duration `json:"elapsedNs"`
	// Retries counts failed attempts that were retried; Errors names them.
	Retries int      `json:"retries"`
	Errors  []string `json:"errors,omitempty"`
	// Input is the state's input as it entered (the console's "Input"
	// tab); Output what it passed on when it exited.
	Input  json.RawMessage `json:"input,omitempty"`
	Output json.RawMessage `json:"output,omitempty"`
}

// Follow lists the state machine's executions started at or after since
// (all when zero), except those in skip, oldest first, each with its
// state-by-state history.
func Follow(ctx context.Context, api FollowAPI, machine string, since time.Time, skip map[string]bool) ([]ExecutionView, error) {
	listed, err := list(ctx, api, machine, since)
	if err != nil {
		return nil, err
	}
	var items []sfntypes.ExecutionListItem
	for _, it := range listed {
		if !skip[aws.ToString(it.ExecutionArn)] {
			items = append(items, it)
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return aws.ToTime(items[i].StartDate).Before(aws.ToTime(items[j].StartDate)) })
	views := make([]ExecutionView, 0, len(items))
	for _, it := range items {
		v, err := describe(ctx, api, aws.ToString(it.ExecutionArn))
		if err != nil {
			return views, err
		}
		views = append(views, v)
	}
	return views, nil
}

func list(ctx context.Context, api FollowAPI, machine string, since time.Time) ([]sfntypes.ExecutionListItem, error) {
	var items []sfntypes.ExecutionListItem
	p := sfn.NewListExecutionsPaginator(api, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machine)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list executions of %s: %w", machine, err)
		}
		for _, it := range page.Executions {
			if since.IsZero() || !aws.ToTime(it.StartDate).Before(since) {
				items = append(items, it)
			}
		}
	}
	return items, nil
}

func describe(ctx context.Context, api FollowAPI, arn string) (ExecutionView, error) {
	d, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return ExecutionView{}, fmt.Errorf("describe %s: %w", arn, err)
	}
	v := ExecutionView{Name: aws.ToString(d.Name), Arn: arn, Status: string(d.Status), Error: aws.ToString(d.Error), Cause: aws.ToString(d.Cause)}
	if d.Output != nil {
		v.Output = json.RawMessage(aws.ToString(d.Output))
	}
	start := aws.ToTime(d.StartDate)
	if d.StopDate != nil {
		v.Duration = aws.ToTime(d.StopDate).Sub(start)
	}
	var events []sfntypes.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(api, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return v, fmt.Errorf("history of %s: %w", arn, err)
		}
		events = append(events, page.Events...)
	}
	v.States = statesOf(events, start)
	if m, ok := api.(MapRunAPI); ok && hasDistributedMap(events) {
		if v.MapRuns, err = mapRuns(ctx, api, m, arn); err != nil {
			return v, err
		}
	}
	return v, nil
}

// hasDistributedMap tells whether the history started a Map Run.
func hasDistributedMap(events []sfntypes.HistoryEvent) bool {
	for _, e := range events {
		if e.Type == sfntypes.HistoryEventTypeMapRunStarted {
			return true
		}
	}
	return false
}

// mapRuns describes the execution's Map Runs and their children.
func mapRuns(ctx context.Context, api FollowAPI, m MapRunAPI, arn string) ([]MapRunView, error) {
	out, err := m.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("list the Map Runs of %s: %w", arn, err)
	}
	var views []MapRunView
	for _, it := range out.MapRuns {
		d, err := m.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: it.MapRunArn})
		if err != nil {
			return views, fmt.Errorf("describe Map Run %s: %w", aws.ToString(it.MapRunArn), err)
		}
		v := MapRunView{Arn: aws.ToString(d.MapRunArn), Status: string(d.Status), MaxConcurrency: d.MaxConcurrency,
			ToleratedFailurePercentage: d.ToleratedFailurePercentage}
		if d.ItemCounts != nil {
			v.ItemsTotal, v.ItemsFailed = d.ItemCounts.Total, d.ItemCounts.Failed
		}
		var items []sfntypes.ExecutionListItem
		p := sfn.NewListExecutionsPaginator(api, &sfn.ListExecutionsInput{MapRunArn: d.MapRunArn})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return views, fmt.Errorf("list the children of Map Run %s: %w", v.Arn, err)
			}
			items = append(items, page.Executions...)
		}
		sort.SliceStable(items, func(i, j int) bool { return aws.ToTime(items[i].StartDate).Before(aws.ToTime(items[j].StartDate)) })
		for _, c := range items {
			cv, err := describe(ctx, api, aws.ToString(c.ExecutionArn))
			if err != nil {
				return views, err
			}
			v.Children = append(v.Children, cv)
		}
		views = append(views, v)
	}
	return views, nil
}

// statesOf folds history events into one row per state entered.
func statesOf(events []sfntypes.HistoryEvent, start time.Time) []StateView {
	var states []StateView
	current := -1
	for _, e := range events {
		t := aws.ToTime(e.Timestamp)
		switch {
		case e.StateEnteredEventDetails != nil:
			typ := string(e.Type)
			typ = typ[:len(typ)-len("StateEntered")]
			s := StateView{Name: aws.ToString(e.StateEnteredEventDetails.Name), Type: typ, Offset: t.Sub(start)}
			if in := aws.ToString(e.StateEnteredEventDetails.Input); in != "" {
				s.Input = json.RawMessage(in)
			}
			states = append(states, s)
			current = len(states) - 1
		case e.StateExitedEventDetails != nil && current >= 0:
			s := &states[current]
			s.Elapsed = t.Sub(start) - s.Offset
			if out := aws.ToString(e.StateExitedEventDetails.Output); out != "" {
				s.Output = json.RawMessage(out)
			}
		case e.LambdaFunctionFailedEventDetails != nil && current >= 0:
			s := &states[current]
			s.Errors = append(s.Errors, aws.ToString(e.LambdaFunctionFailedEventDetails.Error))
		case e.Type == sfntypes.HistoryEventTypeLambdaFunctionScheduled && current >= 0 && len(states[current].Errors) > 0:
			states[current].Retries++
		case e.TaskFailedEventDetails != nil && current >= 0:
			s := &states[current]
			s.Errors = append(s.Errors, aws.ToString(e.TaskFailedEventDetails.Error))
		}
	}
	return states
}
