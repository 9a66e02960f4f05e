package intake

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/event"
)

var ownRoles = []string{
	"arn:aws:iam::123456789012:role/keywarden-RevokeFunctionRole",
	"arn:aws:iam::123456789012:role/keywarden-TamperFunctionRole",
}

// Each tamper-watch call is one execution named after its CloudTrail
// event: a redelivery is a duplicate.
func TestTamperExecutionNames(t *testing.T) {
	for _, tc := range []struct{ sample, name string }{
		{"cloudtrail-update-access-key.json", "tamper-ci-deployer-AKIAKEYWARDENDRILL01-8c4e2f10-6a3b-4c5d-9e7f-0a1b2c3d4e51"},
		{"cloudtrail-delete-user-policy.json", "tamper-ci-deployer-revoke-policy-1e3a5c7e-9b2d-4f6a-8c0e-2a4c6e8a0c12"},
		{"cloudtrail-put-user-policy.json", "tamper-ci-deployer-revoke-policy-2f4b6d8f-0a1c-4e3a-9b5d-7f9b1d3f5a23"},
		{"cloudtrail-detach-user-policy.json", "tamper-ci-deployer-revoke-policy-3c5e7a9c-1d4f-4b8a-9e2c-4b6d8f0a2c35"},
		{"cloudtrail-tag-user.json", "tamper-erin-tags-4b6d8f0b-2c3d-4e5f-9a6b-7c8d9e0f1a45"},
		{"cloudtrail-untag-user.json", "tamper-ci-deployer-tags-5c7e9a1c-3d4e-4f5a-8b6c-7d8e9f0a1b56"},
		// Creation keeps its own name; the tamper check runs in it.
		{"cloudtrail-create-access-key.json", "created-bob-AKIAKEYWARDENBOB0001"},
	} {
		t.Run(tc.sample, func(t *testing.T) {
			f := &fakeSFN{started: map[string]string{}}
			h := Handler{SFN: f, IAM: owners{}, StateMachineArn: "arn:sm", OwnRoles: ownRoles}
			first, err := h.Handle(context.Background(), sample(t, tc.sample))
			if err != nil || first.Name != tc.name || first.Duplicate || first.Ignored != "" {
				t.Fatalf("first delivery: %+v, %v; want %s", first, err, tc.name)
			}
			again, err := h.Handle(context.Background(), sample(t, tc.sample))
			if err != nil || !again.Duplicate || len(f.started) != 1 {
				t.Errorf("redelivery: %+v, %v, started %d", again, err, len(f.started))
			}
		})
	}
}

// Names fit Step Functions' 80 characters whatever the user's name: the
// user is shortened, the key and event id are kept.
func TestTamperNameFits(t *testing.T) {
	c := event.IAMCall{EventName: event.EventNameUpdateAccessKey, User: strings.Repeat("u", 64), AccessKeyID: "AKIAKEYWARDENDRILL01",
		EventID: "8c4e2f10-6a3b-4c5d-9e7f-0a1b2c3d4e51"}
	name := TamperName(c)
	if len(name) > maxName || !strings.HasSuffix(name, "-AKIAKEYWARDENDRILL01-8c4e2f10-6a3b-4c5d-9e7f-0a1b2c3d4e51") || !strings.HasPrefix(name, "tamper-uuu") {
		t.Errorf("name %q (%d characters)", name, len(name))
	}
	c.User, c.AccessKeyID, c.EventID = "a,b", strings.Repeat("K", 128), strings.Repeat("e", 200)
	if name := TamperName(c); len(name) > maxName || strings.Contains(name, ",") {
		t.Errorf("long parts: %q (%d)", name, len(name))
	}
}

// keywarden's own writes start nothing; the intake says so. Without the
// roles it cannot tell, and leaves the decision to the tamper function.
func TestOwnWritesStartNothing(t *testing.T) {
	f := &fakeSFN{started: map[string]string{}}
	h := Handler{SFN: f, IAM: owners{}, StateMachineArn: "arn:sm", OwnRoles: ownRoles}
	res, err := h.Handle(context.Background(), sample(t, "cloudtrail-put-user-policy-keywarden.json"))
	if err != nil || len(f.started) != 0 || !strings.Contains(res.Ignored, "keywarden-RevokeFunctionRole") ||
		res.Name != "tamper-ci-deployer-revoke-policy-3a5c7e9a-1b2c-4d3e-8f4a-5b6c7d8e9f34" {
		t.Errorf("own write: %+v, %v, started %v", res, err, f.started)
	}
	h.OwnRoles = nil
	if res, err := h.Handle(context.Background(), sample(t, "cloudtrail-put-user-policy-keywarden.json")); err != nil || res.Ignored != "" || len(f.started) != 1 {
		t.Errorf("without roles: %+v, %v, started %v", res, err, f.started)
	}
}

// A tamper-watch record the branch will refuse still starts an execution,
// invalid-<event id>, which fails and alerts.
func TestBadTamperEventStartsInvalid(t *testing.T) {
	var env map[string]any
	if err := json.Unmarshal(sample(t, "cloudtrail-update-access-key.json"), &env); err != nil {
		t.Fatal(err)
	}
	delete(env["detail"].(map[string]any)["requestParameters"].(map[string]any), "accessKeyId")
	raw, _ := json.Marshal(env)
	f := &fakeSFN{started: map[string]string{}}
	h := Handler{SFN: f, IAM: owners{}, StateMachineArn: "arn:sm", OwnRoles: ownRoles}
	res, err := h.Handle(context.Background(), raw)
	if err != nil || res.Name != "invalid-3f1c7a52-8e0b-4d21-9c6a-1b2d3e4f5a61" {
		t.Errorf("got %+v, %v", res, err)
	}
}
