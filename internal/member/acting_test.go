package member_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

// orgEnv is a member-acting function's environment in organization mode,
// covering the whole organization.
func orgEnv(t *testing.T, h *hubOrg, extra map[string]string) settings.Lookup {
	t.Helper()
	scope, err := json.Marshal(settings.Scope{OrganizationID: h.org.ID(), OrganizationalUnits: []string{h.org.RootID()},
		OptOutTag: settings.DefaultOptOutTag})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{settings.EnvMode: settings.ModeOrganization, settings.EnvOrganization: string(scope), settings.EnvAccount: hubAccount}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func newActing(t *testing.T, h *hubOrg) *member.Acting {
	t.Helper()
	if err := h.org.RegisterDelegatedAdministrator(hubAccount); err != nil {
		t.Fatal(err)
	}
	a, err := member.NewActing(h.lambda, orgEnv(t, h, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Organization() {
		t.Fatal("organization mode not read from the environment")
	}
	return a
}

// In organization mode a step acts in a member in scope through its duty's
// role, is refused with the named error where the role is missing, and
// assumes nothing in an account out of scope.
func TestActingJudgesTheAccountBeforeAssuming(t *testing.T) {
	ctx := context.Background()
	h := newHubOrg(t)
	if _, err := h.org.AddOutsideAccount("444444444444"); err != nil {
		t.Fatal(err)
	}
	a := newActing(t, h)

	cfg, err := a.Config(ctx, accountA, member.Respond, execution)
	if err != nil {
		t.Fatalf("respond in %s: %v", accountA, err)
	}
	if err := member.Verify(ctx, cfg, accountA); err != nil {
		t.Fatal(err)
	}
	d, err := a.Scope(ctx, accountA)
	if err != nil || !d.InScope || d.Name != "payments" {
		t.Errorf("scope of %s: %+v, %v", accountA, d, err)
	}

	if _, err := a.Config(ctx, accountB, member.Respond, execution); step.Name(err) != step.MemberRoleNotDeployed {
		t.Errorf("respond in %s (no respond role): %v, want %s", accountB, err, step.MemberRoleNotDeployed)
	}

	before := h.assumeRoleCalls()
	for account, reason := range map[string]string{
		"444444444444": "not an account of the organization",
		"999999999999": "the management account",
		"12345":        "not an account of the organization",
	} {
		_, err := a.Config(ctx, account, member.Read, execution)
		if step.Name(err) != step.AccountOutOfScope || !strings.Contains(err.Error(), reason) {
			t.Errorf("%s: %v (%s), want %s saying %q", account, err, step.Name(err), step.AccountOutOfScope, reason)
		}
	}
	if got := h.assumeRoleCalls() - before; got != 0 {
		t.Errorf("%d AssumeRole calls for accounts out of scope, want none", got)
	}
}

// Step gives each input a client of its own account in organization mode,
// one AssumeRole per input, and one fixed client in account mode.
func TestStepActsInTheInputsAccount(t *testing.T) {
	ctx := context.Background()
	h := newHubOrg(t)
	a := newActing(t, h)
	type input struct{ account string }
	whoAmI := func(ctx context.Context, api *iam.Client, in input) (string, error) {
		out, err := api.ListUsers(ctx, &iam.ListUsersInput{})
		if err != nil || len(out.Users) != 1 {
			return "", err
		}
		return aws.ToString(out.Users[0].UserName), nil
	}
	target := func(in input) (string, string) { return in.account, execution }

	run := member.Step(a, member.Read, iam.NewFromConfig, target, whoAmI)
	before := h.assumeRoleCalls()
	// Each account holds one user: its name says where the call went.
	for account, user := range map[string]string{accountA: "alice", accountB: "bob"} {
		got, err := run(ctx, input{account})
		if err != nil || got != user {
			t.Errorf("in %s: %q, %v; want %s", account, got, err, user)
		}
	}
	if got := h.assumeRoleCalls() - before; got != 2 {
		t.Errorf("%d AssumeRole calls for two inputs, want 2", got)
	}
	if _, err := run(ctx, input{"999999999999"}); step.Name(err) != step.AccountOutOfScope {
		t.Errorf("management account: %v", err)
	}

	own, err := member.NewActing(h.lambda, func(string) (string, bool) { return "", false })
	if err != nil || own.Organization() {
		t.Fatalf("account mode: %+v, %v", own, err)
	}
	before = h.assumeRoleCalls()
	got, err := member.Step(own, member.Read, iam.NewFromConfig, target, whoAmI)(ctx, input{accountA})
	if err != nil || got != "deployer" || h.assumeRoleCalls() != before {
		t.Errorf("account mode acts with its own client: %q, %v, %d AssumeRole", got, err, h.assumeRoleCalls()-before)
	}
}

// A bad mode or scope fails the function at cold start, named.
func TestNewActingRefusesBadSettings(t *testing.T) {
	h := newHubOrg(t)
	for name, extra := range map[string]map[string]string{
		"unknown mode":      {settings.EnvMode: "galaxy"},
		"no scope":          {settings.EnvOrganization: ""},
		"scope not JSON":    {settings.EnvOrganization: "o-abc"},
		"unknown field":     {settings.EnvOrganization: `{"organizationId":"o-abcdefghij","organizationalUnits":["r-ab12"],"optOutTag":"t","extra":1}`},
		"bad organization":  {settings.EnvOrganization: `{"organizationId":"org","organizationalUnits":["r-ab12"],"optOutTag":"t"}`},
		"no hub account":    {settings.EnvAccount: ""},
		"no units":          {settings.EnvOrganization: `{"organizationId":"o-abcdefghij","organizationalUnits":[],"optOutTag":"t"}`},
		"bad excluded":      {settings.EnvOrganization: `{"organizationId":"o-abcdefghij","organizationalUnits":["r-ab12"],"excludedAccounts":["12"],"optOutTag":"t"}`},
		"empty opt-out tag": {settings.EnvOrganization: `{"organizationId":"o-abcdefghij","organizationalUnits":["r-ab12"],"optOutTag":""}`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := member.NewActing(h.lambda, orgEnv(t, h, extra))
			if !errors.Is(err, settings.ErrInvalid) {
				t.Errorf("err %v, want settings.ErrInvalid", err)
			}
		})
	}
}

// A daily run's child assumes its role with no Organizations call: its
// account comes from the run's own read of the inventory.
func TestListedAssumesWithoutReadingTheOrganization(t *testing.T) {
	ctx := context.Background()
	h := newHubOrg(t)
	a := newActing(t, h)
	organizationsCalls := func() int {
		n := 0
		for _, c := range h.hub.Calls() {
			if c.Service == "organizations" {
				n++
			}
		}
		return n
	}
	before, assumed := organizationsCalls(), h.assumeRoleCalls()
	cfg, err := a.Listed().Config(ctx, accountA, member.Read, execution)
	if err != nil {
		t.Fatal(err)
	}
	if err := member.Verify(ctx, cfg, accountA); err != nil {
		t.Fatal(err)
	}
	if got := organizationsCalls() - before; got != 0 {
		t.Errorf("%d Organizations calls, want none", got)
	}
	if got := h.assumeRoleCalls() - assumed; got != 1 {
		t.Errorf("%d AssumeRole calls, want 1", got)
	}
	// A role that is not there is still the named outcome.
	if _, err := a.Listed().Config(ctx, accountB, member.Respond, execution); step.Name(err) != step.MemberRoleNotDeployed {
		t.Errorf("respond in %s: %v", accountB, err)
	}
}
