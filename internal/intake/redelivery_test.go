package intake

import (
	"context"
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
