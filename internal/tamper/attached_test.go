package tamper

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

// The drill's name for the stack's deny policy, as in the CloudTrail sample.
const denyArn = "arn:aws:iam::123456789012:policy/keywarden-DenyTemporarySessionsPolicy"

var attachedRevocation = &ledger.Revocation{User: user, KeyID: keyID, IssuedBefore: t0, At: t0, Execution: "exposed-ci-deployer-" + keyID,
	With: settings.RevokeAttachedPolicy, PolicyArn: denyArn}

func detach(arn string, at time.Time) event.IAMCall {
	return call(event.EventNameDetachUserPolicy, at, func(c *event.IAMCall) { c.PolicyArn = arn })
}

// With revokeWith attachedPolicy the watch guards the attachment: a detach
// of that very policy while the incident is open is attached again; any
// other policy, or an inline revocation, is not its business; after the
// incident a detach is how a person lifts the deny, reported only.
func TestDecideDetach(t *testing.T) {
	later := t0.Add(time.Hour)
	closed := t0.AddDate(0, 0, 31)
	noUndo := cfg
	noUndo.Undo = false
	for _, tc := range []struct {
		name   string
		call   event.IAMCall
		facts  Facts
		cfg    Config
		tamper bool
		undo   string
		says   string
	}{
		{"our policy, incident open", detach(denyArn, later), Facts{Revocation: attachedRevocation}, cfg, true, UndoRestorePolicy,
			"since the exposure of key " + keyID + " was detached"},
		{"another policy", detach("arn:aws:iam::123456789012:policy/ReadOnly", later), Facts{Revocation: attachedRevocation}, cfg, false, "",
			"is not the one keywarden attached"},
		{"an AWS managed policy", detach("arn:aws:iam::aws:policy/AWSDenyAll", later), Facts{Revocation: attachedRevocation}, cfg, false, "",
			"is not the one keywarden attached"},
		{"revoked inline", detach(denyArn, later), Facts{Revocation: revocation}, cfg, false, "", "with its inline policy"},
		{"never revoked", detach(denyArn, later), Facts{}, cfg, false, "", "holds no revocation"},
		{"before the revocation", detach(denyArn, t0.Add(-time.Hour)), Facts{Revocation: attachedRevocation}, cfg, false, "", "came before"},
		{"after the incident closed", detach(denyArn, closed), Facts{Revocation: attachedRevocation}, cfg, true, "",
			"how a person lifts the deny"},
		{"tamperUndo off", detach(denyArn, later), Facts{Revocation: attachedRevocation}, noUndo, true, "", "reports only"},
		{"keywarden's own re-attach", by(detach(denyArn, later), event.Caller{Type: "AssumedRole",
			ARN: "arn:aws:sts::123456789012:assumed-role/keywarden-TamperFunctionRole/t", RoleARN: tamperer}),
			Facts{Revocation: attachedRevocation}, cfg, false, "", "keywarden's own write"},
		// The inline policy's calls do not bend an attached revocation.
		{"inline policy deleted, revoked attached", policyCall(event.EventNameDeleteUserPolicy, later), Facts{Revocation: attachedRevocation}, cfg, false, "",
			"by attaching " + denyArn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Decide(tc.call, tc.facts, tc.cfg)
			if a.Tamper != tc.tamper || a.Undo != tc.undo || !strings.Contains(a.Reason+" "+a.NoUndo, tc.says) {
				t.Errorf("tamper %v undo %q, reason %q / %q; want %v %q saying %q", a.Tamper, a.Undo, a.Reason, a.NoUndo, tc.tamper, tc.undo, tc.says)
			}
			if a.Tamper && (a.Kind != KindRevokePolicy || a.Revoked == nil || a.Revoked.PolicyArn != denyArn || !a.Revoked.Attached()) {
				t.Errorf("kind %q, revoked %+v", a.Kind, a.Revoked)
			}
		})
	}
}

// The response attaches exactly the recorded policy again and writes no
// inline policy; a user gone is said; LimitExceeded is named.
func TestRespondAttachesThePolicyAgain(t *testing.T) {
	api, l, h := newFakes()
	l.revocations[user] = *attachedRevocation
	a, err := h.Check(context.Background(), raw(t, "cloudtrail-detach-user-policy.json"))
	if err != nil || a.Undo != UndoRestorePolicy {
		t.Fatalf("check: %+v, %v", a, err)
	}
	if !slices.Equal(l.reads, []string{"revocation of " + user}) {
		t.Errorf("ledger reads %q", l.reads)
	}
	r, err := h.Respond(context.Background(), a)
	if err != nil || r.Status != StatusRestored || !r.Flagged {
		t.Fatalf("response %+v, %v", r, err)
	}
	if want := []string{"AttachUserPolicy ci-deployer " + denyArn}; !slices.Equal(api.calls, want) || len(api.policies) != 0 {
		t.Errorf("IAM calls %q, inline policies %v; want %q", api.calls, api.policies, want)
	}
	if f := l.flags[0]; !strings.Contains(f.Detail, "detached") || !strings.Contains(f.Detail, "undone: restored") {
		t.Errorf("flag %+v", f)
	}

	api.putErr = &types.NoSuchEntityException{Message: aws.String("The user with name ci-deployer cannot be found.")}
	if r, err := h.Respond(context.Background(), a); err != nil || r.Status != StatusUserGone {
		t.Errorf("user gone: %+v, %v", r, err)
	}
	api.putErr = &types.LimitExceededException{Message: aws.String("Cannot exceed quota for PoliciesPerUser: 10")}
	if _, err := h.Respond(context.Background(), a); step.Name(err) != "RevokePolicyLimitExceeded" {
		t.Errorf("ten policies: %v (%s)", err, step.Name(err))
	}
}
