package tamper

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/member/membertest"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

// In organization mode the watch judges only calls of accounts in scope,
// and undoes in the call's account through the respond member role.
func TestTamperInOrganizationMode(t *testing.T) {
	ctx := context.Background()
	srv := membertest.NewMember(t, localaws.Fixture{Users: []localaws.FixtureUser{{Name: user}}, Keys: []localaws.FixtureKey{{User: user, ID: keyID}}})
	const exec = "tamper-123456789012-event"

	_, _, h := newFakes()
	h.IAM = nil
	h.Organization = &membertest.Accounts{Member: srv}
	if _, err := h.Handle(ctx, Input{Step: StepCheck, Event: raw(t, "cloudtrail-update-access-key.json"), Execution: exec}); step.Name(err) != step.AccountOutOfScope {
		t.Errorf("a call of an account out of scope: %v, want %s", err, step.AccountOutOfScope)
	}

	accounts := &membertest.Accounts{InScope: map[string]string{"123456789012": "payments-prod"}, Member: srv}
	h.Organization = accounts
	a, err := h.Check(ctx, raw(t, "cloudtrail-update-access-key.json"))
	if err != nil || a.Undo != UndoDeactivateKey {
		t.Fatalf("check: %+v, %v", a, err)
	}
	if got := accounts.Configs(); len(got) != 0 {
		t.Errorf("the check assumed %q; it reads the ledger only", got)
	}
	out, err := h.Handle(ctx, Input{Step: StepRespond, Assessment: &a, Execution: exec})
	if err != nil || out.(Response).Status != StatusDeactivated {
		t.Fatalf("respond: %+v, %v", out, err)
	}
	if got := accounts.Configs(); len(got) != 1 || got[0] != "123456789012 respond "+exec {
		t.Errorf("sessions %q", got)
	}
	keys, err := iam.NewFromConfig(srv.SDKConfig()).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil || len(keys.AccessKeyMetadata) != 1 || keys.AccessKeyMetadata[0].Status != "Inactive" {
		t.Errorf("the member's key after the undo: %+v, %v", keys, err)
	}
}

// keywarden's writes in a member are made by sessions of the member roles:
// in organization mode those are its own, in any account.
func TestMemberRoleSessionsAreOwnWrites(t *testing.T) {
	org := settings.Lookup(func(k string) (string, bool) {
		v, ok := map[string]string{settings.EnvMode: settings.ModeOrganization}[k]
		return v, ok
	})
	session := event.Caller{ARN: "arn:aws:sts::222222222222:assumed-role/keywarden-member-respond/exposed-222222222222-bob-AKIA"}
	if _, own := OwnWrite(session, OwnRolesFromEnv(org)); !own {
		t.Error("a respond member role session is not keywarden's own in organization mode")
	}
	if _, own := OwnWrite(session, OwnRolesFromEnv(func(string) (string, bool) { return "", false })); own {
		t.Error("a member role session is keywarden's own in account mode")
	}
	other := event.Caller{ARN: "arn:aws:sts::222222222222:assumed-role/keywarden-member-read-not/x"}
	if _, own := OwnWrite(other, OwnRolesFromEnv(org)); own {
		t.Error("another role counts as keywarden's")
	}
}
