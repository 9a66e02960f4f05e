package exposure

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

const denyArn = "arn:aws:iam::123456789012:policy/Keywarden-RevokeSessionsPolicy-9Z8Y7X"

var attached = Method{With: settings.RevokeAttachedPolicy, PolicyArn: denyArn}

// With attachedPolicy the step attaches exactly the stack's policy, writes
// no inline policy, and says how long the deny holds and how to lift it.
func TestRevokeAttachesTheStacksPolicy(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	f, l := &fakeIAM{}, &fakeLedger{}
	h := RevokeHandler{IAM: f, Method: attached, Ledger: l, Now: func() time.Time { return t0 }}
	r, err := h.Handle(context.Background(), Input{Finding: finding, Execution: "exposed-ci-deployer-" + key})
	if err != nil || r.Status != StatusRevoked || !r.Recorded {
		t.Fatalf("%+v, %v", r, err)
	}
	equalCalls(t, f.calls, "AttachUserPolicy ci-deployer "+denyArn)
	if f.policy != "" {
		t.Errorf("an inline policy was written: %s", f.policy)
	}
	if r.With != settings.RevokeAttachedPolicy || r.PolicyArn != denyArn || r.PolicyName != "Keywarden-RevokeSessionsPolicy-9Z8Y7X" {
		t.Errorf("outcome names %q %q %q", r.With, r.PolicyArn, r.PolicyName)
	}
	for _, want := range []string{"every temporary session of ci-deployer", "until a person detaches",
		"aws iam detach-user-policy --user-name ci-deployer --policy-arn " + denyArn} {
		if !strings.Contains(r.Holds, want) {
			t.Errorf("holds %q, want it to say %q", r.Holds, want)
		}
	}
	want := ledger.Revocation{Account: thisAccount, User: "ci-deployer", KeyID: key, IssuedBefore: t0, At: t0, Execution: "exposed-ci-deployer-" + key,
		With: settings.RevokeAttachedPolicy, PolicyArn: denyArn}
	if len(l.revocations) != 1 || l.revocations[0] != want {
		t.Errorf("recorded %+v, want %+v", l.revocations, want)
	}
	// The step's output names the way, for the execution's reader.
	b, _ := json.Marshal(r)
	for _, want := range []string{`"revokedWith":"attachedPolicy"`, `"policyArn":"` + denyArn + `"`, `"holds":`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("output %s lacks %s", b, want)
		}
	}
}

// The inline way stays as it was: its output names it too.
func TestRevokeInlineNamesItsWay(t *testing.T) {
	f := &fakeIAM{}
	r, err := RevokeHandler{IAM: f, Now: time.Now}.Handle(context.Background(), Input{Finding: finding})
	if err != nil || r.With != settings.RevokeInlinePolicy || r.PolicyName != RevokePolicyName || r.PolicyArn != "" {
		t.Fatalf("%+v, %v", r, err)
	}
	if !strings.Contains(r.Holds, "sessions issued later work") {
		t.Errorf("holds %q", r.Holds)
	}
	equalCalls(t, f.calls, "PutUserPolicy ci-deployer "+RevokePolicyName)
}

func TestRevokeAttachedErrors(t *testing.T) {
	userGone := &types.NoSuchEntityException{Message: aws.String("The user with name ci-deployer cannot be found.")}
	policyGone := &types.NoSuchEntityException{Message: aws.String("Policy " + denyArn + " does not exist or is not attachable.")}
	limit := &types.LimitExceededException{Message: aws.String("Cannot exceed quota for PoliciesPerUser: 10")}
	for _, tc := range []struct {
		name   string
		err    error
		status string
		named  string
	}{
		{"user gone", userGone, StatusUserGone, ""},
		{"policy gone", policyGone, "", ErrRevokePolicyMissing},
		{"ten policies attached", limit, "", ErrRevokePolicyLimitExceeded},
		{"throttled", &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}, "", step.Throttled},
		{"denied", &smithy.GenericAPIError{Code: "AccessDenied", Message: "not allowed"}, "", step.AccessDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &fakeLedger{}
			r, err := RevokeHandler{IAM: &fakeIAM{attachErr: tc.err}, Method: attached, Ledger: l, Now: time.Now}.
				Handle(context.Background(), Input{Finding: finding})
			if r.Status != tc.status || step.Name(err) != tc.named {
				t.Errorf("status %q, error %q (%v); want %q, %q", r.Status, step.Name(err), err, tc.status, tc.named)
			}
			if len(l.revocations) != 0 {
				t.Errorf("recorded %+v with nothing attached", l.revocations)
			}
			if tc.named == ErrRevokePolicyLimitExceeded && !strings.Contains(err.Error(), "10 by default") {
				t.Errorf("message %q", err)
			}
		})
	}
}

// The managed policy denies whenever the request carries a token issue
// time, that is, is signed with temporary credentials.
func TestAttachedRevokePolicyDocument(t *testing.T) {
	var doc struct {
		Version   string
		Statement []struct {
			Effect, Action, Resource string
			Condition                map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(AttachedRevokePolicy()), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2012-10-17" || len(doc.Statement) != 1 {
		t.Fatalf("%+v", doc)
	}
	st := doc.Statement[0]
	if st.Effect != "Deny" || st.Action != "*" || st.Resource != "*" || len(st.Condition) != 1 ||
		len(st.Condition["Null"]) != 1 || st.Condition["Null"]["aws:TokenIssueTime"] != "false" {
		t.Errorf("%+v", st)
	}
}
