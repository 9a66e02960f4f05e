package ledger

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/localaws"
)

// The ledger keeps a user's latest revocation, whatever order the writes
// come in, and finds it whatever case the user name is spelt in.
func TestRevocationKeepsTheLatest(t *testing.T) {
	e := newEnv(t, localaws.Options{}, Options{})
	ctx := context.Background()
	first := Revocation{User: "ci-deployer", KeyID: keyA, IssuedBefore: t0, At: t0, Execution: "exposed-ci-deployer-" + keyA}
	// The later one attached the stack's policy: how is kept with it.
	later := Revocation{User: "ci-deployer", KeyID: keyB, IssuedBefore: t0.Add(time.Hour), At: t0.Add(time.Hour), Execution: "exposed-ci-deployer-" + keyB,
		With: "attachedPolicy", PolicyArn: "arn:aws:iam::123456789012:policy/keywarden-deny-user-sessions"}

	for _, tc := range []struct {
		r    Revocation
		want bool
	}{
		{first, true},
		{first, true}, // a retry writes the same again
		{later, true},
		{first, false}, // older than what the ledger holds: kept out
	} {
		got, err := e.ledger.RecordRevocation(ctx, tc.r)
		if err != nil || got != tc.want {
			t.Errorf("RecordRevocation(%s) = %v, %v; want %v", tc.r.KeyID, got, err, tc.want)
		}
	}
	r, ok, err := e.ledger.Revocation(ctx, "", "CI-Deployer")
	if err != nil || !ok {
		t.Fatalf("Revocation = %v, %v", ok, err)
	}
	if r.KeyID != keyB || !r.IssuedBefore.Equal(later.IssuedBefore) || r.Execution != later.Execution || r.RecordedAt.IsZero() ||
		r.With != later.With || r.PolicyArn != later.PolicyArn {
		t.Errorf("got %+v, want the later revocation", r)
	}
	if _, ok, err := e.ledger.Revocation(ctx, "", "nobody"); ok || err != nil {
		t.Errorf("a user never revoked: %v, %v", ok, err)
	}
}

func TestRevocationRefusesBadInput(t *testing.T) {
	e := newEnv(t, localaws.Options{}, Options{})
	ctx := context.Background()
	for name, r := range map[string]Revocation{
		"no user":     {KeyID: keyA, IssuedBefore: t0, At: t0},
		"hostile":     {User: "a b\n", KeyID: keyA, IssuedBefore: t0, At: t0},
		"no key":      {User: "bob", IssuedBefore: t0, At: t0},
		"no cut-off":  {User: "bob", KeyID: keyA, At: t0},
		"no time":     {User: "bob", KeyID: keyA, IssuedBefore: t0},
		"bad key id!": {User: "bob", KeyID: "AKIA-!", IssuedBefore: t0, At: t0},
	} {
		if _, err := e.ledger.RecordRevocation(ctx, r); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: err = %v, want ErrInvalidInput", name, err)
		}
	}
	if _, _, err := e.ledger.Revocation(ctx, "", ""); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("empty user: %v", err)
	}
}

// A revocation expires with the ledger's retention like every item.
func TestRevocationExpires(t *testing.T) {
	e := newEnv(t, localaws.Options{}, Options{Retention: 48 * time.Hour})
	ctx := context.Background()
	if _, err := e.ledger.RecordRevocation(ctx, Revocation{User: "bob", KeyID: keyA, IssuedBefore: t0, At: t0}); err != nil {
		t.Fatal(err)
	}
	*e.now = t0.Add(72 * time.Hour)
	if _, ok, err := e.ledger.Revocation(ctx, "", "bob"); ok || err != nil {
		t.Errorf("an expired revocation is read: %v, %v", ok, err)
	}
	// And an older one may replace it once it expired.
	if got, err := e.ledger.RecordRevocation(ctx, Revocation{User: "bob", KeyID: keyB, IssuedBefore: t0.Add(-time.Hour), At: t0}); !got || err != nil {
		t.Errorf("RecordRevocation over an expired one = %v, %v", got, err)
	}
}

// The containment of an exposed key is an action like the others.
func TestContainAction(t *testing.T) {
	e := newEnv(t, localaws.Options{}, Options{})
	ctx := context.Background()
	a := Action{User: "ci-deployer", At: t0, RunID: "exposed-ci-deployer-" + keyA, Reason: "exposed (trusted-advisor)"}
	for _, want := range []bool{true, false} {
		if got, err := e.ledger.RecordAction(ctx, keyA, ActionContain, a); got != want || err != nil {
			t.Errorf("RecordAction(contain) = %v, %v; want %v", got, err, want)
		}
	}
	got, ok, err := e.ledger.Action(ctx, keyA, ActionContain)
	if err != nil || !ok || got.RunID != a.RunID || got.Reason != a.Reason {
		t.Errorf("Action(contain) = %+v, %v, %v", got, ok, err)
	}
}

// Flags about a user (no key) are told apart by their Ref.
func TestUserFlags(t *testing.T) {
	e := newEnv(t, localaws.Options{}, Options{})
	ctx := context.Background()
	for _, f := range []Flag{
		{Kind: FlagPolicyTagChanged, User: "erin", Ref: "event-1", At: t0, Detail: "keywarden:exempt set"},
		{Kind: FlagPolicyTagChanged, User: "erin", Ref: "event-2", At: t0, Detail: "UserType removed"},
		{Kind: FlagPolicyTagChanged, User: "erin", Ref: "event-1", At: t0, Detail: "redelivered"},
	} {
		mustOK(t, "RecordFlag", e.ledger.RecordFlag(ctx, f))
	}
	got, err := e.ledger.FlagsSince(ctx, FlagPolicyTagChanged, t0.Add(-time.Hour), t0)
	if err != nil || len(got) != 2 || got[0].Ref != "event-1" || got[0].Detail != "keywarden:exempt set" || got[1].KeyID != "" {
		t.Errorf("flags %+v, %v", got, err)
	}
	for _, bad := range []Flag{
		{Kind: FlagPolicyTagChanged, At: t0},
		{Kind: FlagPolicyTagChanged, User: "a b", At: t0},
	} {
		if err := e.ledger.RecordFlag(ctx, bad); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("RecordFlag(%+v) = %v, want ErrInvalidInput", bad, err)
		}
	}
}

// In organization mode one user name may be two users in two accounts:
// each account's revocation is its own, and one without an account is
// refused rather than filed under the wrong user.
func TestRevocationsKeyedByAccount(t *testing.T) {
	e := newEnv(t, localaws.Options{}, Options{ByAccount: true})
	ctx := context.Background()
	inA := Revocation{Account: "111111111111", User: "ci-deployer", KeyID: keyA, IssuedBefore: t0, At: t0}
	if got, err := e.ledger.RecordRevocation(ctx, inA); !got || err != nil {
		t.Fatalf("record in A: %v, %v", got, err)
	}
	if r, ok, err := e.ledger.Revocation(ctx, "111111111111", "CI-Deployer"); !ok || err != nil || r.Account != "111111111111" || r.KeyID != keyA {
		t.Errorf("read in A: %+v, %v, %v", r, ok, err)
	}
	if _, ok, err := e.ledger.Revocation(ctx, "222222222222", "ci-deployer"); ok || err != nil {
		t.Errorf("the same name in B has no revocation: %v, %v", ok, err)
	}
	if _, err := e.ledger.RecordRevocation(ctx, Revocation{User: "ci-deployer", KeyID: keyB, IssuedBefore: t0, At: t0}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("no account: %v, want ErrInvalidInput", err)
	}
	if _, _, err := e.ledger.Revocation(ctx, "", "ci-deployer"); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("read without an account: %v, want ErrInvalidInput", err)
	}
}
