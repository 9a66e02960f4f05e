package sfnlocal

import (
	"encoding/json"
	"fmt"
	"time"
)

// MapRun is the run of one Distributed Map state: its settings, outcome and
// item counts, as DescribeMapRun reports them. Its child executions are in
// the parent Execution's Children, each naming the MapRunArn.
type MapRun struct {
	Arn          string
	ExecutionArn string // the execution whose Map state started the run
	StateName    string
	Status       string // SUCCEEDED, FAILED
	Error, Cause string
	StartDate    time.Time
	StopDate     time.Time
	// MaxConcurrency 0 means no limit.
	MaxConcurrency             int
	ToleratedFailurePercentage float64
	ToleratedFailureCount      int64
	// ItemTotal and ItemFailed count items, not children (a batch is one
	// child of several items).
	ItemTotal, ItemFailed int
}

// mapRunLine is runner.mjs's {"type":"MapRun"} line.
type mapRunLine struct {
	MapRunArn                  string  `json:"mapRunArn"`
	ExecutionArn               string  `json:"executionArn"`
	StateName                  string  `json:"stateName"`
	Status                     string  `json:"status"`
	Error                      string  `json:"error"`
	Cause                      string  `json:"cause"`
	StartDate                  int64   `json:"startDate"`
	StopDate                   int64   `json:"stopDate"`
	MaxConcurrency             int     `json:"maxConcurrency"`
	ToleratedFailurePercentage float64 `json:"toleratedFailurePercentage"`
	ToleratedFailureCount      int64   `json:"toleratedFailureCount"`
	ItemTotal                  int     `json:"itemTotal"`
	ItemFailed                 int     `json:"itemFailed"`
}

// childLine is runner.mjs's {"type":"ChildExecution"} line, written when a
// child execution of a Map Run has ended.
type childLine struct {
	Arn       string          `json:"arn"`
	Name      string          `json:"name"`
	MapRunArn string          `json:"mapRunArn"`
	Input     json.RawMessage `json:"input"`
	Output    json.RawMessage `json:"output"`
	Status    string          `json:"status"`
	Error     string          `json:"error"`
	Cause     string          `json:"cause"`
	StartDate int64           `json:"startDate"`
	StopDate  int64           `json:"stopDate"`
	Items     int             `json:"items"`
}

// collector sorts runner.mjs's lines into the execution, its Map Runs and
// their child executions.
type collector struct {
	arn      string
	exe      *Execution
	res      *result
	defError string
	childEvs map[string][]Event
}

func (c *collector) add(line []byte) {
	var probe struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	if json.Unmarshal(line, &probe) != nil {
		return
	}
	switch probe.Type {
	case "Result":
		c.res = &result{}
		_ = json.Unmarshal(line, c.res)
	case "DefinitionError":
		c.defError = probe.Message
	case "MapRun":
		var m mapRunLine
		if json.Unmarshal(line, &m) == nil {
			c.exe.MapRuns = append(c.exe.MapRuns, MapRun{
				Arn: m.MapRunArn, ExecutionArn: m.ExecutionArn, StateName: m.StateName, Status: m.Status, Error: m.Error, Cause: m.Cause,
				StartDate: time.UnixMilli(m.StartDate).UTC(), StopDate: time.UnixMilli(m.StopDate).UTC(),
				MaxConcurrency: m.MaxConcurrency, ToleratedFailurePercentage: m.ToleratedFailurePercentage, ToleratedFailureCount: m.ToleratedFailureCount,
				ItemTotal: m.ItemTotal, ItemFailed: m.ItemFailed,
			})
		}
	case "ChildExecution":
		var ch childLine
		if json.Unmarshal(line, &ch) == nil {
			c.exe.Children = append(c.exe.Children, Execution{
				Name: ch.Name, Arn: ch.Arn, MapRunArn: ch.MapRunArn, ItemCount: ch.Items, Input: ch.Input, Output: ch.Output,
				Status: ch.Status, Error: ch.Error, Cause: ch.Cause,
				StartDate: time.UnixMilli(ch.StartDate).UTC(), StopDate: time.UnixMilli(ch.StopDate).UTC(),
				Events: c.childEvs[ch.Arn],
			})
			delete(c.childEvs, ch.Arn)
		}
	default:
		var ev Event
		if json.Unmarshal(line, &ev) != nil {
			return
		}
		// A child execution's events make its own history, as in AWS,
		// not the parent's.
		if ev.Execution != "" && ev.Execution != c.arn {
			if c.childEvs == nil {
				c.childEvs = map[string][]Event{}
			}
			c.childEvs[ev.Execution] = append(c.childEvs[ev.Execution], ev)
			return
		}
		c.exe.Events = append(c.exe.Events, ev)
	}
}

// MapRunCounts counts a Map Run's items and child executions by status, as
// DescribeMapRun's itemCounts and executionCounts do.
func (e Execution) MapRunCounts(mapRunArn string) (items, executions map[string]int64) {
	items, executions = map[string]int64{}, map[string]int64{}
	for _, k := range []string{"pending", "running", "succeeded", "failed", "timedOut", "aborted", "total", "resultsWritten"} {
		items[k], executions[k] = 0, 0
	}
	for _, m := range e.MapRuns {
		if m.Arn == mapRunArn {
			items["total"] = int64(m.ItemTotal)
		}
	}
	var childItems int64
	for _, c := range e.Children {
		if c.MapRunArn != mapRunArn {
			continue
		}
		n := int64(c.ItemCount)
		childItems += n
		executions["total"]++
		switch c.Status {
		case "SUCCEEDED":
			executions["succeeded"]++
			items["succeeded"] += n
		case "FAILED":
			executions["failed"]++
			items["failed"] += n
		case "ABORTED":
			executions["aborted"]++
			items["aborted"] += n
		}
	}
	// Items whose child never started because the run failed first.
	if rest := items["total"] - childItems; rest > 0 {
		items["aborted"] += rest
	}
	return items, executions
}

// find returns the execution or child execution with this ARN.
func (e Execution) find(arn string) (Execution, bool) {
	if e.Arn == arn {
		return e, true
	}
	for _, c := range e.Children {
		if c.Arn == arn {
			return c, true
		}
	}
	return Execution{}, false
}

func (c *collector) err(name string) error {
	if c.defError != "" {
		return fmt.Errorf("execution %s: %s", name, c.defError)
	}
	return nil
}
