package exposure

import (
	"context"
	"errors"
	"testing"

	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/settings"
)

// fakeLedger records what the containment and the revocation write.
type fakeLedger struct {
	actions     []string
	action      ledger.Action
	revocations []ledger.Revocation
	err         error
}

func (l *fakeLedger) RecordAction(_ context.Context, keyID, action string, a ledger.Action) (bool, error) {
	l.actions = append(l.actions, action+" "+keyID)
	l.action = a
	return l.err == nil, l.err
}

func (l *fakeLedger) RecordRevocation(_ context.Context, r ledger.Revocation) (bool, error) {
	l.revocations = append(l.revocations, r)
	return l.err == nil, l.err
}

const execution = "exposed-ci-deployer-" + key

// A containment is recorded once the key reads back Inactive, after the
// deactivation: the tamper watch knows the key from then on.
func TestContainRecordsTheContainment(t *testing.T) {
	f, l := &fakeIAM{listed: []string{"Inactive"}}, &fakeLedger{}
	x := finding
	x.Signal = "trusted-advisor"
	c, err := ContainHandler{IAM: f, Ledger: l, Now: now, ReadBackAttempts: 1}.Handle(context.Background(), Input{Finding: x, Execution: execution})
	if err != nil || !c.Recorded || c.LedgerError != "" {
		t.Fatalf("%+v, %v", c, err)
	}
	if len(l.actions) != 1 || l.actions[0] != ledger.ActionContain+" "+key || l.action.User != "ci-deployer" || l.action.RunID != execution ||
		!l.action.At.Equal(t0) || l.action.Reason != "reported exposed by trusted-advisor" {
		t.Errorf("recorded %v %+v", l.actions, l.action)
	}
	if f.calls[0] != "UpdateAccessKey ci-deployer "+key+" Inactive" {
		t.Errorf("the deactivation is not the first call: %v", f.calls)
	}

	// Nothing to record for a key already gone, or one not contained.
	for _, f := range []*fakeIAM{{updateErr: noSuch}, {updateErr: denied}} {
		l := &fakeLedger{}
		c, _ := ContainHandler{IAM: f, Ledger: l, Now: now, ReadBackAttempts: 1}.Handle(context.Background(), Input{Finding: finding})
		if len(l.actions) != 0 || c.Recorded {
			t.Errorf("%v: recorded %v", f.updateErr, l.actions)
		}
	}
}

// A ledger that cannot be written does not undo or stop the containment:
// the outcome says so, for the alert.
func TestContainLedgerFailureIsReported(t *testing.T) {
	l := &fakeLedger{err: errors.New("ledger: Throttled")}
	c, err := ContainHandler{IAM: &fakeIAM{listed: []string{"Inactive"}}, Ledger: l, Now: now, ReadBackAttempts: 1}.Handle(context.Background(), Input{Finding: finding})
	if err != nil || c.Status != StatusDeactivated || c.Recorded || c.LedgerError != "ledger: Throttled" {
		t.Errorf("%+v, %v", c, err)
	}
}

// The revocation's cut-off is recorded, so the tamper watch can put the
// policy back exactly.
func TestRevokeRecordsTheCutOff(t *testing.T) {
	l := &fakeLedger{}
	r, err := RevokeHandler{IAM: &fakeIAM{}, Ledger: l, Now: now}.Handle(context.Background(), Input{Finding: finding, Execution: execution})
	if err != nil || !r.Recorded {
		t.Fatalf("%+v, %v", r, err)
	}
	want := ledger.Revocation{Account: thisAccount, User: "ci-deployer", KeyID: key, IssuedBefore: t0, At: t0, Execution: execution, With: settings.RevokeInlinePolicy}
	if len(l.revocations) != 1 || l.revocations[0] != want {
		t.Errorf("recorded %+v, want %+v", l.revocations, want)
	}
	if RevokePolicy(l.revocations[0].IssuedBefore) != RevokePolicy(r.IssuedBefore) {
		t.Error("the recorded cut-off does not give back the policy written")
	}
	l = &fakeLedger{}
	if r, _ := (RevokeHandler{IAM: &fakeIAM{putErr: noSuch}, Ledger: l, Now: now}).Handle(context.Background(), Input{Finding: finding}); len(l.revocations) != 0 || r.Recorded {
		t.Errorf("user gone: recorded %+v", l.revocations)
	}
	l = &fakeLedger{err: errors.New("boom")}
	if r, err := (RevokeHandler{IAM: &fakeIAM{}, Ledger: l, Now: now}).Handle(context.Background(), Input{Finding: finding}); err != nil || r.Recorded || r.LedgerError != "boom" {
		t.Errorf("ledger failure: %+v, %v", r, err)
	}
}
