package intake

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/step"
)

// fakeSFN behaves as Step Functions does for names: a second start of a
// name already used fails with ExecutionAlreadyExists.
type fakeSFN struct {
	started map[string]string
	err     error
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	name := aws.ToString(in.Name)
	if _, ok := f.started[name]; ok {
		return nil, &sfntypes.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists: " + name)}
	}
	f.started[name] = aws.ToString(in.Input)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:Keywarden:" + name)}, nil
}

func (f *fakeSFN) ListExecutions(_ context.Context, in *sfn.ListExecutionsInput, _ ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	out := &sfn.ListExecutionsOutput{}
	for name := range f.started {
		out.Executions = append(out.Executions, sfntypes.ExecutionListItem{Name: aws.String(name)})
	}
	return out, nil
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	arn := aws.ToString(in.ExecutionArn)
	name := arn[strings.LastIndex(arn, ":")+1:]
	input, ok := f.started[name]
	if !ok {
		return nil, &sfntypes.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: " + arn)}
	}
	return &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Name: aws.String(name), Input: aws.String(input)}, nil
}

type owners map[string]string

func (o owners) GetAccessKeyLastUsed(_ context.Context, in *iam.GetAccessKeyLastUsedInput, _ ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	u, ok := o[aws.ToString(in.AccessKeyId)]
	if !ok {
		return nil, &iamtypes.NoSuchEntityException{Message: aws.String("unknown key")}
	}
	return &iam.GetAccessKeyLastUsedOutput{UserName: aws.String(u)}, nil
}

func sample(t *testing.T, name string) json.RawMessage {
	b, err := os.ReadFile("../../events/samples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSameKeyFromTwoSignalsStartsOneExecution(t *testing.T) {
	f := &fakeSFN{started: map[string]string{}}
	h := Handler{SFN: f, IAM: owners{"AKIAKEYWARDENDRILL01": "ci-deployer"}, StateMachineArn: "arn:sm"}
	ta, err := h.Handle(context.Background(), sample(t, "trusted-advisor-exposed-key.json"))
	if err != nil || ta.Duplicate || ta.Name != "exposed-ci-deployer-AKIAKEYWARDENDRILL01" {
		t.Fatalf("first report: %+v, %v", ta, err)
	}
	health, err := h.Handle(context.Background(), sample(t, "health-credentials-exposed.json"))
	if err != nil || !health.Duplicate || health.Name != ta.Name {
		t.Errorf("Health report of the same key: %+v, %v", health, err)
	}
	again, err := h.Handle(context.Background(), sample(t, "trusted-advisor-exposed-key.json"))
	if err != nil || !again.Duplicate {
		t.Errorf("redelivery: %+v, %v", again, err)
	}
	if len(f.started) != 1 {
		t.Errorf("started %d executions, want 1", len(f.started))
	}
	if f.started[ta.Name] != string(sample(t, "trusted-advisor-exposed-key.json")) {
		t.Error("the execution input must be the event as delivered")
	}
}

// Health names no user; once an earlier execution deleted the key, IAM
// cannot name the owner either. Intake then finds that execution by key id.
func TestHealthAfterDeletionIsADuplicate(t *testing.T) {
	f := &fakeSFN{started: map[string]string{}}
	iamKnows := owners{"AKIAKEYWARDENDRILL01": "ci-deployer"}
	h := Handler{SFN: f, IAM: iamKnows, StateMachineArn: "arn:sm"}
	first, err := h.Handle(context.Background(), sample(t, "trusted-advisor-exposed-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	delete(iamKnows, "AKIAKEYWARDENDRILL01") // the first execution deleted it
	late, err := h.Handle(context.Background(), sample(t, "health-credentials-exposed.json"))
	if err != nil || !late.Duplicate || late.Name != first.Name {
		t.Errorf("late Health report: %+v, %v; want a duplicate of %s", late, err, first.Name)
	}
	h.SFN = &fakeSFN{started: map[string]string{}}
	fresh, err := h.Handle(context.Background(), sample(t, "health-credentials-exposed.json"))
	if err != nil || fresh.Duplicate || fresh.Name != "exposed-unknown-AKIAKEYWARDENDRILL01" {
		t.Errorf("unknown key with no earlier execution: %+v, %v", fresh, err)
	}
}

func TestUnreadableEventsStillStart(t *testing.T) {
	f := &fakeSFN{started: map[string]string{}}
	h := Handler{SFN: f, IAM: owners{}, StateMachineArn: "arn:sm"}
	for _, raw := range []string{`{"source":"x"`, `{}`, string(sample(t, "unsupported-event.json"))} {
		res, err := h.Handle(context.Background(), json.RawMessage(raw))
		if err != nil || !strings.HasPrefix(res.Name, "invalid-") {
			t.Errorf("%s: %+v, %v", raw, res, err)
		}
	}
	if len(f.started) != 3 {
		t.Errorf("started %d, want 3: unreadable events are started so the state machine alerts", len(f.started))
	}
	root, err := h.Handle(context.Background(), sample(t, "trusted-advisor-root-key.json"))
	if err != nil || root.Name != "exposed-root-AKIAROOTKEYDRILL0001" {
		t.Errorf("root: %+v, %v", root, err)
	}
}

func TestStartErrorsAreNamed(t *testing.T) {
	h := Handler{SFN: &fakeSFN{err: &smithy.GenericAPIError{Code: "ThrottlingException"}}, IAM: owners{}, StateMachineArn: "arn:sm"}
	if _, err := h.Handle(context.Background(), sample(t, "trusted-advisor-exposed-key.json")); step.Name(err) != step.Throttled {
		t.Errorf("err %v", err)
	}
}

func TestExecutionNames(t *testing.T) {
	for _, tc := range []struct{ user, key, want string }{
		{"alice", "AKIAKEYWARDENDRILL01", "exposed-alice-AKIAKEYWARDENDRILL01"},
		{"a,b=c+d@e.f", "AKIAKEYWARDENDRILL01", "exposed-a_b=c+d@e.f-AKIAKEYWARDENDRILL01"},
		{strings.Repeat("u", 64), "AKIAKEYWARDENDRILL01", "exposed-" + strings.Repeat("u", 51) + "-AKIAKEYWARDENDRILL01"},
	} {
		got := ExposedName(tc.user, tc.key)
		if got != tc.want || len(got) > 80 {
			t.Errorf("ExposedName(%q) = %q (%d), want %q", tc.user, got, len(got), tc.want)
		}
	}
	if a, b := OtherName("invalid", "", []byte("x")), OtherName("invalid", "", []byte("x")); a != b || len(a) > 80 {
		t.Errorf("OtherName must be stable and short: %q %q", a, b)
	}
	if got := OtherName("invalid", "id with spaces/and:colons", nil); got != "invalid-id_with_spaces_and_colons" {
		t.Errorf("OtherName sanitises: %q", got)
	}
}

// The daily schedule firing twice (or redelivered) starts one run per day.
func TestScheduledRunsAreNamedByDay(t *testing.T) {
	f := &fakeSFN{started: map[string]string{}}
	h := Handler{SFN: f, IAM: owners{}, StateMachineArn: "arn:sm"}
	ev := func(id, at string) json.RawMessage {
		return json.RawMessage(`{"version":"0","id":"` + id + `","source":"aws.events","detail-type":"Scheduled Event","account":"123456789012","time":"` + at + `","region":"us-east-1","resources":[],"detail":{}}`)
	}
	first, err := h.Handle(context.Background(), ev("a", "2026-12-01T08:00:00Z"))
	if err != nil || first.Name != "daily-2026-12-01" || first.Duplicate {
		t.Fatalf("first: %+v, %v", first, err)
	}
	again, err := h.Handle(context.Background(), ev("b", "2026-12-01T08:00:07Z"))
	if err != nil || !again.Duplicate {
		t.Errorf("second firing the same day: %+v, %v", again, err)
	}
	next, err := h.Handle(context.Background(), ev("c", "2026-12-02T08:00:00Z"))
	if err != nil || next.Name != "daily-2026-12-02" || next.Duplicate {
		t.Errorf("next day: %+v, %v", next, err)
	}
	noTime, _ := h.Handle(context.Background(), json.RawMessage(`{"id":"d","source":"aws.events","detail-type":"Scheduled Event"}`))
	if !strings.HasPrefix(noTime.Name, "invalid-") {
		t.Errorf("a scheduled event without a time: %+v", noTime)
	}
}

// A key creation is recorded once: a redelivery is a duplicate.
func TestKeyCreationNames(t *testing.T) {
	f := &fakeSFN{started: map[string]string{}}
	h := Handler{SFN: f, IAM: owners{}, StateMachineArn: "arn:sm"}
	first, err := h.Handle(context.Background(), sample(t, "cloudtrail-create-access-key.json"))
	if err != nil || first.Name != "created-bob-AKIAKEYWARDENBOB0001" || first.Duplicate {
		t.Fatalf("first: %+v, %v", first, err)
	}
	again, err := h.Handle(context.Background(), sample(t, "cloudtrail-create-access-key.json"))
	if err != nil || !again.Duplicate {
		t.Errorf("redelivery: %+v, %v", again, err)
	}
	failed, err := h.Handle(context.Background(), sample(t, "cloudtrail-create-access-key-failed.json"))
	if err != nil || !strings.HasPrefix(failed.Name, "created-failed-") {
		t.Errorf("failed call: %+v, %v", failed, err)
	}
}

func TestNonObjectInputIsWrapped(t *testing.T) {
	f := &fakeSFN{started: map[string]string{}}
	h := Handler{SFN: f, IAM: owners{}, StateMachineArn: "arn:sm"}
	res, err := h.Handle(context.Background(), json.RawMessage(`["source","aws.trustedadvisor"]`))
	if err != nil {
		t.Fatal(err)
	}
	var in map[string]string
	if err := json.Unmarshal([]byte(f.started[res.Name]), &in); err != nil || in["invalidInput"] != `["source","aws.trustedadvisor"]` {
		t.Errorf("input %s: %v", f.started[res.Name], err)
	}
}
