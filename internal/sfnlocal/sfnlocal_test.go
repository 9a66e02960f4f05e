package sfnlocal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

const machine = "arn:aws:states:us-east-1:123456789012:stateMachine:Test"

// A definition with no Lambda task: Choice, Pass, Fail with paths.
const definition = `{
  "StartAt": "Route",
  "States": {
    "Route": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": true, "Next": "Done"}], "Default": "Broken"},
    "Done": {"Type": "Pass", "Parameters": {"name.$": "$$.Execution.Name"}, "End": true},
    "Broken": {"Type": "Fail", "ErrorPath": "$.why.error", "CausePath": "$.why.cause"}
  }
}`

func service(t *testing.T) (*Service, *sfn.Client) {
	t.Helper()
	tools, err := FindTools(filepath.Join("..", ".."))
	if err != nil {
		t.Skipf("needs the pinned npm tools: %v", err)
	}
	s := &Service{StateMachineArn: machine, Runner: Runner{Node: tools.Node, Module: tools.Module, Definition: definition, Region: "us-east-1", LambdaEndpoint: "http://127.0.0.1:1"}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	client := sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})
	return s, client
}

func TestServiceRunsAndDedupes(t *testing.T) {
	s, client := service(t)
	ctx := context.Background()
	out, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String("ok-1"), Input: aws.String(`{"ok":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String("ok-1"), Input: aws.String(`{"ok":true}`)})
	var exists *sfntypes.ExecutionAlreadyExists
	if !errors.As(err, &exists) {
		t.Fatalf("second start of a name: %v, want ExecutionAlreadyExists", err)
	}
	if _, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String("bad-1"), Input: aws.String(`{"ok":false,"why":{"error":"Nope","cause":"because"}}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != sfntypes.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"name":"ok-1"}` {
		t.Errorf("describe: %s %s", d.Status, aws.ToString(d.Output))
	}
	bad, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(s.ExecutionArn("bad-1"))})
	if err != nil {
		t.Fatal(err)
	}
	if bad.Status != sfntypes.ExecutionStatusFailed || aws.ToString(bad.Error) != "Nope" || aws.ToString(bad.Cause) != "because" {
		t.Errorf("failed execution: %s %q %q", bad.Status, aws.ToString(bad.Error), aws.ToString(bad.Cause))
	}
	list, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machine)})
	if err != nil || len(list.Executions) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
	h, err := client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: out.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range h.Events {
		types = append(types, string(e.Type))
	}
	want := []string{"ExecutionStarted", "ChoiceStateEntered", "ChoiceStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"}
	if b, _ := json.Marshal(types); string(b) != mustJSON(want) {
		t.Errorf("history %v, want %v", types, want)
	}
	if h.Events[0].Timestamp.Before(time.Now().Add(-time.Minute)) {
		t.Errorf("timestamp %v", h.Events[0].Timestamp)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
