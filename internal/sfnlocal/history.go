package sfnlocal

import (
	"encoding/json"
	"fmt"
)

// History renders an execution's interpreter events as Step Functions
// history events (the GetExecutionHistory shape), so the drill shows local
// and real executions with one renderer.
func History(e Execution) []map[string]any {
	var out []map[string]any
	add := func(ts int64, typ string, details string, d map[string]any) {
		ev := map[string]any{"id": len(out) + 1, "previousEventId": len(out), "timestamp": float64(ts) / 1000, "type": typ}
		if details != "" {
			ev[details] = d
		}
		out = append(out, ev)
	}
	str := func(raw json.RawMessage) string {
		if raw == nil {
			return "null"
		}
		return string(raw)
	}
	for _, ev := range e.Events {
		switch ev.Type {
		case "ExecutionStarted":
			add(ev.Timestamp, "ExecutionStarted", "executionStartedEventDetails", map[string]any{"input": str(ev.Input)})
		case "StateEntered":
			add(ev.Timestamp, ev.State.Type+"StateEntered", "stateEnteredEventDetails", map[string]any{"name": ev.State.Name, "input": str(ev.State.Input)})
		case "StateExited":
			add(ev.Timestamp, ev.State.Type+"StateExited", "stateExitedEventDetails", map[string]any{"name": ev.State.Name, "output": str(ev.State.Output)})
		case "StateFailed":
			if ev.State != nil && ev.State.Type == "Task" {
				add(ev.Timestamp, "LambdaFunctionFailed", "lambdaFunctionFailedEventDetails", map[string]any{"error": ev.Error, "cause": causeString(ev.Cause)})
			}
		case "StateRetried":
			attempt := 0
			if ev.Retry != nil {
				attempt = ev.Retry.Attempt
			}
			add(ev.Timestamp, "LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails", map[string]any{"resource": fmt.Sprintf("%s (retry %d)", ev.State.Name, attempt)})
		case "MapRunStarted":
			add(ev.Timestamp, "MapRunStarted", "mapRunStartedEventDetails", map[string]any{"mapRunArn": ev.MapRunArn})
		case "MapRunSucceeded":
			add(ev.Timestamp, "MapRunSucceeded", "", nil)
		case "MapRunFailed":
			add(ev.Timestamp, "MapRunFailed", "mapRunFailedEventDetails", map[string]any{"error": ev.Error, "cause": causeString(ev.Cause)})
		case "ExecutionSucceeded":
			add(ev.Timestamp, "ExecutionSucceeded", "executionSucceededEventDetails", map[string]any{"output": str(ev.Output)})
		case "ExecutionFailed":
			add(ev.Timestamp, "ExecutionFailed", "executionFailedEventDetails", map[string]any{"error": ev.Error, "cause": causeString(ev.Cause)})
		case "ExecutionAborted", "ExecutionTimeout":
			typ := "ExecutionAborted"
			if ev.Type == "ExecutionTimeout" {
				typ = "ExecutionTimedOut"
			}
			add(ev.Timestamp, typ, "", nil)
		}
	}
	return out
}
