package intake

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/event"
)

// countingOwners is owners that counts the IAM calls made.
type countingOwners struct {
	owners
	calls int
}

func (c *countingOwners) GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, o ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	c.calls++
	return c.owners.GetAccessKeyLastUsed(ctx, in, o...)
}

func healthHandler(f *fakeSFN, iamAPI interface {
	GetAccessKeyLastUsed(context.Context, *iam.GetAccessKeyLastUsedInput, ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
}) Handler {
	return Handler{SFN: f, IAM: iamAPI, StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:Keywarden", Account: "123456789012"}
}

func entityOf(t *testing.T, input string) string {
	t.Helper()
	var in map[string]any
	if err := json.Unmarshal([]byte(input), &in); err != nil {
		t.Fatal(err)
	}
	s, _ := in[event.EntityField].(string)
	return s
}

// A Health event listing two keys starts two responses, each input naming
// its key; delivered again, or once more from its backup region, it starts
// nothing new.
func TestHealthEventWithTwoKeysStartsTwoExecutions(t *testing.T) {
	f := &fakeSFN{started: map[string]string{}}
	h := healthHandler(f, owners{"AKIAKEYWARDENDRILL01": "ci-deployer", "AKIAKEYWARDENBOB0001": "bob"})
	res, err := h.Handle(context.Background(), sample(t, "health-credentials-exposed-two-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"exposed-ci-deployer-AKIAKEYWARDENDRILL01", "exposed-bob-AKIAKEYWARDENBOB0001"}
	if len(res.Executions) != 2 || res.Executions[0].Name != want[0] || res.Executions[1].Name != want[1] || res.Name != want[0] || res.Duplicate {
		t.Fatalf("result %+v; want executions %v", res, want)
	}
	for _, ex := range res.Executions {
		if ex.Duplicate || ex.ExecutionArn == "" {
			t.Errorf("%+v: want a new execution", ex)
		}
	}
	if len(f.started) != 2 {
		t.Fatalf("%d executions started, want 2", len(f.started))
	}
	if got := entityOf(t, f.started[want[0]]); got != "AKIAKEYWARDENDRILL01" {
		t.Errorf("%s handles %q", want[0], got)
	}
	if got := entityOf(t, f.started[want[1]]); got != "AKIAKEYWARDENBOB0001" {
		t.Errorf("%s handles %q", want[1], got)
	}
	for _, again := range []string{"health-credentials-exposed-two-keys.json", "health-credentials-exposed-two-keys-backup-region.json"} {
		dup, err := h.Handle(context.Background(), sample(t, again))
		if err != nil || !dup.Duplicate || len(dup.Executions) != 2 || !dup.Executions[0].Duplicate || !dup.Executions[1].Duplicate {
			t.Errorf("%s: %+v, %v; want two duplicates", again, dup, err)
		}
	}
	if len(f.started) != 2 {
		t.Errorf("%d executions after the redeliveries, want 2", len(f.started))
	}
}

// A failure part-way (throttled on the second key) is retried whole by
// Lambda: the retry finds the first key's execution and starts the second.
func TestHealthKeysAfterAPartialFailure(t *testing.T) {
	f := &fakeSFN{started: map[string]string{}}
	h := healthHandler(f, owners{"AKIAKEYWARDENDRILL01": "ci-deployer", "AKIAKEYWARDENBOB0001": "bob"})
	h.SFN = &failNth{fakeSFN: f, n: 2}
	if _, err := h.Handle(context.Background(), sample(t, "health-credentials-exposed-two-keys.json")); err == nil {
		t.Fatal("want the second start's error, for Lambda to retry")
	}
	res, err := h.Handle(context.Background(), sample(t, "health-credentials-exposed-two-keys.json"))
	if err != nil || len(res.Executions) != 2 || !res.Executions[0].Duplicate || res.Executions[1].Duplicate || len(f.started) != 2 {
		t.Errorf("retry: %+v, %v, %d started; want the first a duplicate, the second started", res, err, len(f.started))
	}
}

// failNth throttles the n-th StartExecution.
type failNth struct {
	*fakeSFN
	n, calls int
}

func (f *failNth) StartExecution(ctx context.Context, in *sfn.StartExecutionInput, o ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.calls++
	if f.calls == f.n {
		return nil, &smithy.GenericAPIError{Code: "ThrottlingException"}
	}
	return f.fakeSFN.StartExecution(ctx, in, o...)
}

// Health's organizational view names the member account: the key is not
// looked up in this account's IAM, and its execution names the account.
func TestOrganizationalViewKeyIsNotLookedUpHere(t *testing.T) {
	f := &fakeSFN{started: map[string]string{}}
	c := &countingOwners{owners: owners{"AKIAMEMBERACCOUNT001": "someone-here"}}
	h := healthHandler(f, c)
	res, err := h.Handle(context.Background(), sample(t, "health-organizational-view.json"))
	if err != nil || res.Name != "foreign-111122223333-AKIAMEMBERACCOUNT001" || res.Duplicate {
		t.Fatalf("%+v, %v", res, err)
	}
	if c.calls != 0 {
		t.Errorf("%d IAM calls for a key of another account, want none", c.calls)
	}
	again, _ := h.Handle(context.Background(), sample(t, "health-organizational-view.json"))
	if !again.Duplicate || len(f.started) != 1 {
		t.Errorf("redelivery: %+v, %d started", again, len(f.started))
	}
}

func TestCompromiseSuspectedIsAnExposure(t *testing.T) {
	f := &fakeSFN{started: map[string]string{}}
	h := healthHandler(f, owners{"AKIAKEYWARDENDRILL01": "ci-deployer"})
	res, err := h.Handle(context.Background(), sample(t, "health-credentials-compromise-suspected.json"))
	if err != nil || res.Name != "exposed-ci-deployer-AKIAKEYWARDENDRILL01" {
		t.Errorf("%+v, %v", res, err)
	}
}

// A notice names no key: one execution for the event, named after it (not
// after the delivery), with the event as delivered.
func TestHealthNoticeStartsOneExecution(t *testing.T) {
	f := &fakeSFN{started: map[string]string{}}
	c := &countingOwners{owners: owners{}}
	h := healthHandler(f, c)
	raw := sample(t, "health-iam-quarantine.json")
	res, err := h.Handle(context.Background(), raw)
	if err != nil || !strings.HasPrefix(res.Name, "notice-IAM_QUARANTINE-123456789012-") || len(res.Name) > 80 {
		t.Fatalf("%+v, %v", res, err)
	}
	if f.started[res.Name] != string(raw) || c.calls != 0 {
		t.Errorf("input %s, %d IAM calls; want the event as delivered and none", f.started[res.Name], c.calls)
	}
	var env map[string]any
	_ = json.Unmarshal(raw, &env)
	env["id"], env["region"] = "another-delivery", "us-west-2"
	backup, _ := json.Marshal(env)
	dup, err := h.Handle(context.Background(), backup)
	if err != nil || !dup.Duplicate || dup.Name != res.Name {
		t.Errorf("from the backup region: %+v, %v", dup, err)
	}
}

// Past event.MaxKeysPerEvent keys, the rest are named by one more
// execution that fails and alerts; an entity that is no key gets its own
// failing execution. Nothing is dropped.
func TestHealthKeysBeyondTheBoundAndBadEntities(t *testing.T) {
	var env map[string]any
	_ = json.Unmarshal(sample(t, "health-credentials-exposed-two-keys.json"), &env)
	detail := env["detail"].(map[string]any)
	var entities []any
	known := owners{}
	for i := range event.MaxKeysPerEvent + 3 {
		id := fmt.Sprintf("AKIAKEYWARDENMANY%03d", i)
		known[id] = "many"
		entities = append(entities, map[string]any{"entityValue": id})
	}
	detail["affectedEntities"] = entities
	raw, _ := json.Marshal(env)
	f := &fakeSFN{started: map[string]string{}}
	res, err := healthHandler(f, known).Handle(context.Background(), raw)
	if err != nil || len(res.Executions) != event.MaxKeysPerEvent+1 {
		t.Fatalf("%d executions, %v; want %d and one for the rest", len(res.Executions), err, event.MaxKeysPerEvent)
	}
	last := res.Executions[event.MaxKeysPerEvent]
	if !strings.HasPrefix(last.Name, "too-many-keys-") || entityOf(t, f.started[last.Name]) != "" {
		t.Errorf("the execution for the rest: %+v, input %s", last, f.started[last.Name])
	}
	if _, err := event.ParseExposure([]byte(f.started[last.Name])); err == nil || !strings.Contains(err.Error(), "AKIAKEYWARDENMANY052") {
		t.Errorf("its finding must fail naming the keys left: %v", err)
	}

	detail["affectedEntities"] = []any{map[string]any{"entityValue": "AKIAKEYWARDENDRILL01"}, map[string]any{"entityValue": "i-0123456789abcdef0"}}
	raw, _ = json.Marshal(env)
	f = &fakeSFN{started: map[string]string{}}
	res, err = healthHandler(f, owners{"AKIAKEYWARDENDRILL01": "ci-deployer"}).Handle(context.Background(), raw)
	if err != nil || len(res.Executions) != 2 || res.Executions[0].Name != "exposed-ci-deployer-AKIAKEYWARDENDRILL01" ||
		!strings.HasPrefix(res.Executions[1].Name, "invalid-") {
		t.Errorf("a key and an instance id: %+v, %v", res, err)
	}
}

// A delivered event cannot choose its own entity: the intake's value
// replaces one the event carries.
func TestADeliveredEntityFieldIsReplaced(t *testing.T) {
	var env map[string]any
	_ = json.Unmarshal(sample(t, "health-credentials-exposed-two-keys.json"), &env)
	env[event.EntityField] = "AKIAKEYWARDENDRILL01"
	raw, _ := json.Marshal(env)
	f := &fakeSFN{started: map[string]string{}}
	res, err := healthHandler(f, owners{"AKIAKEYWARDENDRILL01": "ci-deployer", "AKIAKEYWARDENBOB0001": "bob"}).Handle(context.Background(), raw)
	if err != nil || len(res.Executions) != 2 || entityOf(t, f.started["exposed-bob-AKIAKEYWARDENBOB0001"]) != "AKIAKEYWARDENBOB0001" {
		t.Errorf("%+v, %v", res, err)
	}
}
