package drill

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// StateView.Input is the input of the StateEntered event, as the console's
// Input tab shows; Output the StateExited output.
func TestStatesOfInputAndOutput(t *testing.T) {
	start := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(ms int) *time.Time { t := start.Add(time.Duration(ms) * time.Millisecond); return &t }
	events := []sfntypes.HistoryEvent{
		{Type: sfntypes.HistoryEventTypeExecutionStarted, Timestamp: at(0)},
		{Type: sfntypes.HistoryEventTypeTaskStateEntered, Timestamp: at(5), StateEnteredEventDetails: &sfntypes.StateEnteredEventDetails{Name: aws.String("ContainKey"), Input: aws.String(`{"finding":{"accessKeyId":"AKIA1"}}`)}},
		{Type: sfntypes.HistoryEventTypeLambdaFunctionFailed, Timestamp: at(9), LambdaFunctionFailedEventDetails: &sfntypes.LambdaFunctionFailedEventDetails{Error: aws.String("Throttled")}},
		{Type: sfntypes.HistoryEventTypeLambdaFunctionScheduled, Timestamp: at(10)},
		{Type: sfntypes.HistoryEventTypeTaskStateExited, Timestamp: at(20), StateExitedEventDetails: &sfntypes.StateExitedEventDetails{Name: aws.String("ContainKey"), Output: aws.String(`{"containment":{"status":"contained"}}`)}},
		{Type: sfntypes.HistoryEventTypeSucceedStateEntered, Timestamp: at(21), StateEnteredEventDetails: &sfntypes.StateEnteredEventDetails{Name: aws.String("Contained")}},
	}
	got := statesOf(events, start)
	if len(got) != 2 {
		t.Fatalf("%d states, want 2", len(got))
	}
	c := got[0]
	if c.Name != "ContainKey" || c.Type != "Task" || string(c.Input) != `{"finding":{"accessKeyId":"AKIA1"}}` || string(c.Output) != `{"containment":{"status":"contained"}}` {
		t.Errorf("ContainKey: %+v", c)
	}
	if c.Retries != 1 || len(c.Errors) != 1 || c.Elapsed != 15*time.Millisecond {
		t.Errorf("ContainKey retries %d errors %v elapsed %s", c.Retries, c.Errors, c.Elapsed)
	}
	if got[1].Input != nil {
		t.Errorf("a state entered with no input has Input %q", got[1].Input)
	}
	// --json stays what it was, with the input added beside the output.
	b, _ := json.Marshal(c)
	for _, key := range []string{`"name":"ContainKey"`, `"offsetNs":5000000`, `"retries":1`, `"input":{"finding"`, `"output":{"containment"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s has no %s", b, key)
		}
	}
}
