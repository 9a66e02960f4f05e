package intake

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/step"
)

// lossySFN starts the execution but loses the first answer (a timeout or a
// 5xx after Step Functions acted), or refuses the first call outright.
type lossySFN struct {
	fakeSFN
	calls       int
	loseAnswer  bool // first call: started, but the caller sees an error
	refuseFirst bool // first call: throttled, nothing started
}

func (l *lossySFN) StartExecution(ctx context.Context, in *sfn.StartExecutionInput, o ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	l.calls++
	if l.calls == 1 && l.refuseFirst {
		return nil, &smithy.GenericAPIError{Code: "ThrottlingException"}
	}
	out, err := l.fakeSFN.StartExecution(ctx, in, o...)
	if l.calls == 1 && l.loseAnswer {
		return nil, &smithy.GenericAPIError{Code: "InternalFailure", Message: "answer lost", Fault: smithy.FaultServer}
	}
	return out, err
}

// A redelivery after a failed first attempt — Lambda retrying the intake's
// asynchronous invocation — causes what a single delivery causes: one
// execution, whether the first attempt failed before starting it or after.
func TestRedeliveryAfterAFailedFirstAttemptStartsOneExecution(t *testing.T) {
	for _, tc := range []struct {
		name string
		sfn  *lossySFN
		dup  bool // the retry finds the execution the first attempt started
	}{
		{"first attempt throttled before starting", &lossySFN{fakeSFN: fakeSFN{started: map[string]string{}}, refuseFirst: true}, false},
		{"first attempt started it, then lost the answer", &lossySFN{fakeSFN: fakeSFN{started: map[string]string{}}, loseAnswer: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Handler{SFN: tc.sfn, IAM: owners{}, StateMachineArn: "arn:sm"}
			ev := sample(t, "trusted-advisor-exposed-key.json")
			_, err := h.Handle(context.Background(), ev)
			if n := step.Name(err); n != step.Throttled && n != step.Transient {
				t.Fatalf("first attempt: %v (%s), want a retryable error so Lambda delivers again", err, n)
			}
			res, err := h.Handle(context.Background(), ev)
			if err != nil || res.Duplicate != tc.dup {
				t.Fatalf("redelivery: %+v, %v; want duplicate %t", res, err, tc.dup)
			}
			if len(tc.sfn.started) != 1 {
				t.Errorf("%d executions started, want 1", len(tc.sfn.started))
			}
			// A third delivery (EventBridge's own retry) changes nothing.
			if res, err := h.Handle(context.Background(), ev); err != nil || !res.Duplicate || len(tc.sfn.started) != 1 {
				t.Errorf("third delivery: %+v, %v, %d executions", res, err, len(tc.sfn.started))
			}
		})
	}
}

// Someone who may start executions takes exposed-<user>-<key> first with a
// harmless input. The real report is not dropped as its duplicate: it gets
// its own response, and a redelivery of it is a duplicate of that one.
func TestATakenNameDoesNotSwallowTheReport(t *testing.T) {
	f := &fakeSFN{started: map[string]string{}}
	h := Handler{SFN: f, IAM: owners{"AKIAKEYWARDENDRILL01": "ci-deployer"}, StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:Keywarden"}
	taken := ExposedName("ci-deployer", "AKIAKEYWARDENDRILL01")
	f.started[taken] = `{"source":"aws.ec2","detail-type":"harmless","detail":{}}`
	ev := sample(t, "trusted-advisor-exposed-key.json")
	res, err := h.Handle(context.Background(), ev)
	if err != nil || res.Duplicate || res.Taken != taken || res.Name == taken || !strings.HasPrefix(res.Name, taken[:40]) {
		t.Fatalf("report after a taken name: %+v, %v; want a response under another name", res, err)
	}
	if f.started[res.Name] != string(ev) {
		t.Errorf("the response's input is not the report")
	}
	again, err := h.Handle(context.Background(), ev)
	if err != nil || !again.Duplicate || again.Name != res.Name || len(f.started) != 2 {
		t.Errorf("redelivery: %+v, %v, %d executions; want a duplicate of %s", again, err, len(f.started), res.Name)
	}
}
