package exposure

import (
	"context"
	"testing"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/member/membertest"
	"github.com/keywarden/keywarden/internal/step"
)

const hub = "999988887777"

func TestFindingInOrganizationMode(t *testing.T) {
	ctx := context.Background()
	srv := membertest.NewMember(t, localaws.Fixture{Users: []localaws.FixtureUser{{Name: "build-bot"}},
		Keys: []localaws.FixtureKey{{User: "build-bot", ID: key}}})
	const exec = "exposed-123456789012-ci-deployer-" + key

	t.Run("member in scope: owner asked there, account named", func(t *testing.T) {
		accounts := &membertest.Accounts{InScope: map[string]string{thisAccount: "payments-prod"}, Member: srv}
		x, err := FindingHandler{Account: hub, Organization: accounts}.Handle(ctx,
			FindingInput{Event: sample(t, "trusted-advisor-exposed-key.json"), Execution: exec})
		if err != nil {
			t.Fatal(err)
		}
		if x.ForeignAccount || x.AccountName != "payments-prod" || x.UserName != "build-bot" || x.ReportedUserName != "ci-deployer" || !x.OwnerVerified {
			t.Errorf("finding %+v", x)
		}
		equalCalls(t, accounts.Configs(), thisAccount+" read "+exec)
	})
	t.Run("outside the organization: no role assumed", func(t *testing.T) {
		accounts := &membertest.Accounts{Member: srv}
		x, err := FindingHandler{Account: hub, Organization: accounts}.Handle(ctx,
			FindingInput{Event: sample(t, "trusted-advisor-exposed-key.json"), Execution: exec})
		if err != nil {
			t.Fatal(err)
		}
		if !x.ForeignAccount || x.OutOfScope != string(inventory.ReasonNotInOrganization) || x.ActsIn != hub {
			t.Errorf("finding %+v", x)
		}
		equalCalls(t, accounts.Configs())
	})
	t.Run("Health's organizational view in the hub names a member", func(t *testing.T) {
		accounts := &membertest.Accounts{InScope: map[string]string{"111122223333": "data-prod"}, Member: srv}
		x, err := FindingHandler{Account: thisAccount, Organization: accounts}.Handle(ctx,
			FindingInput{Event: sample(t, "health-organizational-view.json"), Execution: exec})
		// The emulated member does not know the key and Health names no
		// user: the named InvalidEvent, after asking the member.
		if step.Name(err) != step.InvalidEvent || x.AccountName != "data-prod" {
			t.Errorf("finding %+v, %v", x, err)
		}
		equalCalls(t, accounts.Configs(), "111122223333 read "+exec)
	})
	t.Run("a member's event naming another account is refused", func(t *testing.T) {
		// The organizational-view sample as if delivered in a member
		// (123456789012), not in the hub.
		accounts := &membertest.Accounts{InScope: map[string]string{"111122223333": "data-prod", thisAccount: "payments-prod"}, Member: srv}
		x, err := FindingHandler{Account: hub, Organization: accounts}.Handle(ctx,
			FindingInput{Event: sample(t, "health-organizational-view.json"), Execution: exec})
		if err != nil {
			t.Fatal(err)
		}
		if !x.ForeignAccount || x.OutOfScope == "" || x.ReceivedIn != thisAccount {
			t.Errorf("finding %+v", x)
		}
		equalCalls(t, accounts.Configs())
	})
	t.Run("organization unreadable: the named error", func(t *testing.T) {
		accounts := &membertest.Accounts{Member: srv, ScopeErr: step.Errorf(step.Throttled, "organizations throttled")}
		_, err := FindingHandler{Account: hub, Organization: accounts}.Handle(ctx,
			FindingInput{Event: sample(t, "trusted-advisor-exposed-key.json"), Execution: exec})
		if step.Name(err) != step.Throttled {
			t.Errorf("err %v", err)
		}
	})
}
