package intake

import (
	"context"
	"testing"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/member/membertest"
	"github.com/keywarden/keywarden/internal/step"
)

// In organization mode an exposure is named with its account, its owner
// asked of that account's IAM through the read role; Trusted Advisor and
// Health reports of one key still share the name; an account out of scope
// is named foreign with no role assumed; and a report whose owner cannot
// be asked still starts its execution.
func TestOrganizationNames(t *testing.T) {
	ctx := context.Background()
	srv := membertest.NewMember(t, localaws.Fixture{Users: []localaws.FixtureUser{{Name: "ci-deployer"}},
		Keys: []localaws.FixtureKey{{User: "ci-deployer", ID: "AKIAKEYWARDENDRILL01"}}})
	const want = "exposed-123456789012-ci-deployer-AKIAKEYWARDENDRILL01"

	f := &fakeSFN{started: map[string]string{}}
	accounts := &membertest.Accounts{InScope: map[string]string{"123456789012": "payments-prod"}, Member: srv}
	h := Handler{SFN: f, StateMachineArn: "arn:sm", Account: "999988887777", Organization: accounts}
	ta, err := h.Handle(ctx, sample(t, "trusted-advisor-exposed-key.json"))
	if err != nil || ta.Name != want || ta.Duplicate {
		t.Fatalf("Trusted Advisor report: %+v, %v", ta, err)
	}
	health, err := h.Handle(ctx, sample(t, "health-credentials-exposed.json"))
	if err != nil || health.Name != want || !health.Duplicate {
		t.Errorf("Health report of the same key: %+v, %v", health, err)
	}
	if s := accounts.Configs(); len(s) != 2 || s[0] != "123456789012 read intake-123456789012-AKIAKEYWARDENDRILL01" {
		t.Errorf("sessions %q", s)
	}

	out := &membertest.Accounts{Reason: inventory.ReasonExcluded, Member: srv}
	h.Organization = out
	res, err := h.Handle(ctx, sample(t, "trusted-advisor-exposed-key.json"))
	if err != nil || res.Name != "foreign-123456789012-AKIAKEYWARDENDRILL01" || len(out.Configs()) != 0 {
		t.Errorf("account out of scope: %+v, %v, sessions %q", res, err, out.Configs())
	}

	for name, a := range map[string]*membertest.Accounts{
		"role not deployed":       {InScope: map[string]string{"123456789012": "payments-prod"}, RoleErr: step.Errorf(step.MemberRoleNotDeployed, "no role")},
		"organization unreadable": {ScopeErr: step.Errorf(step.Throttled, "organizations throttled")},
	} {
		f := &fakeSFN{started: map[string]string{}}
		h := Handler{SFN: f, StateMachineArn: "arn:sm", Account: "999988887777", Organization: a}
		res, err := h.Handle(ctx, sample(t, "trusted-advisor-exposed-key.json"))
		if err != nil || res.Name != want || len(f.started) != 1 {
			t.Errorf("%s: %+v, %v; want %s started, the finding step to fail named", name, res, err, want)
		}
	}
}
