package sfnlocal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// scanLambda stands in for the Lambda Invoke API: it scans an "account"
// (fails those named fail-…), sleeps so that runs overlap, and records how
// many invocations ran at once.
type scanLambda struct {
	mu            sync.Mutex
	inFlight, max int
	inputs        []json.RawMessage
}

func (l *scanLambda) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	l.mu.Lock()
	l.inFlight++
	l.max = max(l.max, l.inFlight)
	l.inputs = append(l.inputs, body)
	l.mu.Unlock()
	defer func() { l.mu.Lock(); l.inFlight--; l.mu.Unlock() }()
	time.Sleep(30 * time.Millisecond)
	var in struct {
		Account string            `json:"account"`
		Index   int               `json:"index"`
		Items   []json.RawMessage `json:"Items"`
	}
	_ = json.Unmarshal(body, &in)
	if strings.HasPrefix(in.Account, "fail-") {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		_, _ = fmt.Fprintf(w, `{"errorType":"ScanFailed","errorMessage":"cannot scan %s"}`, in.Account)
		return
	}
	if in.Items != nil {
		_, _ = fmt.Fprintf(w, `{"batch":%d}`, len(in.Items))
		return
	}
	_, _ = fmt.Fprintf(w, `{"scanned":%q,"index":%d}`, in.Account, in.Index)
}

// dailyRun is shaped like the organization daily run: a Distributed Map
// over the accounts a previous state computed, %s filling in the Map's
// tolerance, batching and selector fields.
const dailyRun = `{
  "StartAt": "InScope",
  "States": {
    "InScope": {"Type": "Pass", "Next": "ScanAccounts"},
    "ScanAccounts": {
      "Type": "Map", "ItemsPath": "$.accounts", "MaxConcurrency": 2, "Label": "daily",
      %s
      "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "ScanAccount",
        "States": {"ScanAccount": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:scan", "End": true}}
      },
      "ResultPath": "$.scanned",
      "Catch": [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "ResultPath": "$.error", "Next": "TooManyFailed"}],
      "Next": "Scanned"
    },
    "Scanned": {"Type": "Succeed"},
    "TooManyFailed": {"Type": "Pass", "End": true}
  }
}`

const selectAccount = `"ItemSelector": {"account.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "run.$": "$$.Execution.Name"},`

func mapRunner(t *testing.T, fields string) (Runner, *scanLambda) {
	t.Helper()
	tools, err := FindTools(filepath.Join("..", ".."))
	if err != nil {
		t.Skipf("needs the pinned npm tools: %v", err)
	}
	l := &scanLambda{}
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	return Runner{Node: tools.Node, Module: tools.Module, Definition: fmt.Sprintf(dailyRun, fields), Region: "us-east-1", LambdaEndpoint: srv.URL}, l
}

func runDaily(t *testing.T, r Runner, accounts ...string) Execution {
	t.Helper()
	in, _ := json.Marshal(map[string]any{"accounts": accounts})
	exe, err := r.Run(context.Background(), "arn:aws:states:us-east-1:123456789012:execution:Test:daily-1", "daily-1", in, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func historyTypes(e Execution) []string {
	var types []string
	for _, h := range History(e) {
		types = append(types, h["type"].(string))
	}
	return types
}

var seven = []string{"a0", "a1", "a2", "a3", "a4", "a5", "a6"}

func TestDistributedMapBoundsConcurrencyAndKeepsItemOrder(t *testing.T) {
	r, l := mapRunner(t, selectAccount)
	exe := runDaily(t, r, seven...)
	if exe.Status != "SUCCEEDED" {
		t.Fatalf("status %s %s %s", exe.Status, exe.Error, exe.Cause)
	}
	if l.max > 2 || l.max < 2 {
		t.Errorf("at most %d scans ran at once, want 2 (MaxConcurrency)", l.max)
	}
	var out struct {
		Scanned []struct {
			Scanned string `json:"scanned"`
			Index   int    `json:"index"`
		} `json:"scanned"`
	}
	if err := json.Unmarshal(exe.Output, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Scanned) != 7 {
		t.Fatalf("output %s, want 7 results", exe.Output)
	}
	for i, s := range out.Scanned {
		if s.Scanned != seven[i] || s.Index != i {
			t.Errorf("result %d = %+v, want %s at index %d (item order)", i, s, seven[i], i)
		}
	}
	// ItemSelector saw the parent's context: $$.Execution.Name.
	if !strings.Contains(string(l.inputs[0]), `"run":"daily-1"`) {
		t.Errorf("child input %s lacks the parent's execution name", l.inputs[0])
	}
	if len(exe.MapRuns) != 1 || len(exe.Children) != 7 || exe.MapRuns[0].Status != "SUCCEEDED" || exe.MapRuns[0].MaxConcurrency != 2 {
		t.Fatalf("map runs %+v, %d children", exe.MapRuns, len(exe.Children))
	}
	want := []string{"ExecutionStarted", "PassStateEntered", "PassStateExited", "MapStateEntered", "MapRunStarted", "MapRunSucceeded", "MapStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"}
	if got := historyTypes(exe); mustJSON(got) != mustJSON(want) {
		t.Errorf("parent history %v,\nwant %v (child states belong to the children)", got, want)
	}
	child := exe.Children[0]
	if child.MapRunArn != exe.MapRuns[0].Arn || !strings.Contains(child.Arn, ":execution:Test/daily:") {
		t.Errorf("child %s of %s", child.Arn, child.MapRunArn)
	}
	if got := historyTypes(child); mustJSON(got) != mustJSON([]string{"ExecutionStarted", "TaskStateEntered", "TaskStateExited", "ExecutionSucceeded"}) {
		t.Errorf("child history %v", got)
	}
}

func TestDistributedMapToleratedFailures(t *testing.T) {
	for _, tc := range []struct {
		name, fields string
		accounts     []string
		wantEnd      string
		wantResults  int
		wantFailed   int
	}{
		{"one of seven under 20%", `"ToleratedFailurePercentage": 20,`, []string{"a0", "fail-a1", "a2", "a3", "a4", "a5", "a6"}, "Scanned", 6, 1},
		// The run fails at the second failure (2/7 > 20%), a third may race it.
		{"three of seven over 20%", `"ToleratedFailurePercentage": 20,`, []string{"a0", "fail-a1", "fail-a2", "fail-a3", "a4", "a5", "a6"}, "TooManyFailed", 0, 2},
		{"no tolerance set: one failure fails the run", ``, []string{"a0", "a1", "fail-a2", "a3"}, "TooManyFailed", 0, 1},
		{"count of 1 tolerates one", `"ToleratedFailureCount": 1,`, []string{"fail-a0", "a1", "a2"}, "Scanned", 2, 1},
		{"count of 1 with percentage 100: either threshold fails it", `"ToleratedFailureCount": 1, "ToleratedFailurePercentage": 100,`, []string{"fail-a0", "fail-a1", "a2"}, "TooManyFailed", 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := mapRunner(t, selectAccount+tc.fields)
			exe := runDaily(t, r, tc.accounts...)
			if exe.Status != "SUCCEEDED" {
				t.Fatalf("status %s %s %s", exe.Status, exe.Error, exe.Cause)
			}
			var out struct {
				Scanned []json.RawMessage `json:"scanned"`
				Error   struct{ Error, Cause string }
			}
			_ = json.Unmarshal(exe.Output, &out)
			last := exe.Events[len(exe.Events)-2].State
			if last == nil || last.Name != tc.wantEnd {
				t.Fatalf("ended in %+v, want %s; output %s", last, tc.wantEnd, exe.Output)
			}
			run := exe.MapRuns[0]
			if tc.wantEnd == "TooManyFailed" {
				if run.ItemFailed < tc.wantFailed {
					t.Errorf("%d items failed, want at least %d", run.ItemFailed, tc.wantFailed)
				}
				if out.Error.Error != "States.ExceedToleratedFailureThreshold" || run.Status != "FAILED" || !strings.Contains(out.Error.Cause, "ScanFailed") {
					t.Errorf("caught %+v, run %s", out.Error, run.Status)
				}
				if !contains(historyTypes(exe), "MapRunFailed") {
					t.Errorf("history %v lacks MapRunFailed", historyTypes(exe))
				}
				return
			}
			if run.ItemFailed != tc.wantFailed {
				t.Errorf("%d items failed, want %d", run.ItemFailed, tc.wantFailed)
			}
			// A tolerated failure adds no entry to the Map's output.
			if len(out.Scanned) != tc.wantResults || strings.Contains(mustJSON(out.Scanned), "fail-") {
				t.Errorf("output %s, want %d results and none for the failed account", exe.Output, tc.wantResults)
			}
			var failed []string
			for _, c := range exe.Children {
				if c.Status == "FAILED" {
					failed = append(failed, c.Error)
				}
			}
			if mustJSON(failed) != mustJSON([]string{"ScanFailed"}) {
				t.Errorf("failed children %v", failed)
			}
		})
	}
}

func TestDistributedMapBatchesItems(t *testing.T) {
	r, l := mapRunner(t, `"ItemBatcher": {"MaxItemsPerBatch": 3, "BatchInput": {"run.$": "$$.Execution.Name"}},`)
	exe := runDaily(t, r, seven...)
	if exe.Status != "SUCCEEDED" {
		t.Fatalf("status %s %s %s", exe.Status, exe.Error, exe.Cause)
	}
	if len(exe.Children) != 3 || len(l.inputs) != 3 {
		t.Fatalf("%d children, %d invocations, want 3", len(exe.Children), len(l.inputs))
	}
	if got := string(exe.Output); !strings.Contains(got, `"scanned":[{"batch":3},{"batch":3},{"batch":1}]`) {
		t.Errorf("output %s", got)
	}
	if !strings.Contains(string(l.inputs[0]), `"BatchInput":{"run":"daily-1"}`) {
		t.Errorf("batch input %s", l.inputs[0])
	}
	s, _ := mapService(t, r)
	e, _ := s.StartExecution("daily-2", json.RawMessage(`{"accounts":["a","b","c","d","e","f","g"]}`))
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	done, _, _ := s.find(e.Arn)
	items, execs := done.MapRunCounts(done.MapRuns[0].Arn)
	if items["total"] != 7 || items["succeeded"] != 7 || execs["total"] != 3 {
		t.Errorf("item counts %v, execution counts %v", items, execs)
	}
}

func TestDistributedMapRejectsS3ItemReader(t *testing.T) {
	r, _ := mapRunner(t, `"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"}, "Parameters": {"Bucket": "b", "Key": "k"}},`)
	in := json.RawMessage(`{"accounts":[]}`)
	_, err := r.Run(context.Background(), "arn:aws:states:us-east-1:123456789012:execution:Test:x", "x", in, time.Now())
	if err == nil || !strings.Contains(err.Error(), `state "ScanAccounts": ItemReader (reading items from S3) is not supported by the offline interpreter`) {
		t.Fatalf("err = %v", err)
	}
}

// An inline Map still runs as the interpreter always ran it: the first
// failed item fails the Map with that item's error.
func TestInlineMapUnchanged(t *testing.T) {
	r, _ := mapRunner(t, selectAccount)
	r.Definition = strings.Replace(r.Definition, `"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"`, `"Mode": "INLINE"`, 1)
	r.Definition = strings.Replace(r.Definition, `"States.ExceedToleratedFailureThreshold"`, `"States.ALL"`, 1)
	exe := runDaily(t, r, "a0", "fail-a1")
	if len(exe.MapRuns) != 0 || len(exe.Children) != 0 {
		t.Errorf("inline Map made map runs %+v", exe.MapRuns)
	}
	if !strings.Contains(string(exe.Output), `"Error":"ScanFailed"`) {
		t.Errorf("output %s, want the item's own error caught", exe.Output)
	}
	if !contains(historyTypes(exe), "TaskStateEntered") {
		t.Errorf("inline iterations' states are in the execution's history: %v", historyTypes(exe))
	}
}

func mapService(t *testing.T, r Runner) (*Service, *sfn.Client) {
	s := &Service{StateMachineArn: machine, Runner: r}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})
}

func TestServiceReportsMapRuns(t *testing.T) {
	r, _ := mapRunner(t, selectAccount+`"ToleratedFailurePercentage": 20,`)
	s, client := mapService(t, r)
	ctx := context.Background()
	start, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String("daily-1"),
		Input: aws.String(`{"accounts":["a0","fail-a1","a2","a3","a4","a5","a6"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	runs, err := client.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: start.ExecutionArn})
	if err != nil || len(runs.MapRuns) != 1 {
		t.Fatalf("list map runs: %+v %v", runs, err)
	}
	run, err := client.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: runs.MapRuns[0].MapRunArn})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != sfntypes.MapRunStatusSucceeded || run.MaxConcurrency != 2 || run.ToleratedFailurePercentage != 20 ||
		run.ItemCounts.Total != 7 || run.ItemCounts.Failed != 1 || run.ItemCounts.Succeeded != 6 || run.ExecutionCounts.Total != 7 {
		t.Errorf("map run %+v items %+v", run, run.ItemCounts)
	}
	children, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: runs.MapRuns[0].MapRunArn})
	if err != nil || len(children.Executions) != 7 {
		t.Fatalf("children: %+v %v", children, err)
	}
	top, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machine)})
	if err != nil || len(top.Executions) != 1 {
		t.Fatalf("the state machine's executions are the parent only: %+v %v", top, err)
	}
	var failed *sfn.DescribeExecutionOutput
	for _, c := range children.Executions {
		d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: c.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(d.MapRunArn) != aws.ToString(runs.MapRuns[0].MapRunArn) {
			t.Errorf("child %s names map run %q", aws.ToString(d.ExecutionArn), aws.ToString(d.MapRunArn))
		}
		if d.Status == sfntypes.ExecutionStatusFailed {
			failed = d
		}
	}
	if failed == nil || aws.ToString(failed.Error) != "ScanFailed" || !strings.Contains(aws.ToString(failed.Input), "fail-a1") {
		t.Fatalf("failed child: %+v", failed)
	}
	h, err := client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: failed.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range h.Events {
		types = append(types, string(e.Type))
	}
	if want := []string{"ExecutionStarted", "TaskStateEntered", "LambdaFunctionFailed", "ExecutionFailed"}; mustJSON(types) != mustJSON(want) {
		t.Errorf("failed child's history %v, want %v", types, want)
	}
	if _, err := client.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String("arn:aws:states:us-east-1:123456789012:mapRun:Test/x:y")}); err == nil {
		t.Error("an unknown map run was described")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
