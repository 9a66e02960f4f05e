package exposure

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/step"
)

// fakeAccounts is organization mode's judge and door: the accounts in
// scope, each reached at one emulated account's endpoint.
type fakeAccounts struct {
	inScope map[string]string // account -> name
	member  *localaws.Server
	configs []string // "<account> <duty> <execution>" per Config call
	err     error
}

func (f *fakeAccounts) Scope(_ context.Context, account string) (inventory.Decision, error) {
	if f.err != nil {
		return inventory.Decision{}, f.err
	}
	if name, ok := f.inScope[account]; ok {
		return inventory.Decision{ID: account, Name: name, InScope: true}, nil
	}
	return inventory.Decision{ID: account, Reason: inventory.ReasonNotInOrganization}, nil
}

func (f *fakeAccounts) Config(_ context.Context, account string, duty member.Duty, execution string) (aws.Config, error) {
	f.configs = append(f.configs, account+" "+duty.String()+" "+execution)
	return f.member.SDKConfig(), nil
}

const hub = "999988887777"

func TestFindingInOrganizationMode(t *testing.T) {
	ctx := context.Background()
	srv, err := localaws.New(localaws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := srv.Seed(localaws.Fixture{Users: []localaws.FixtureUser{{Name: "build-bot"}},
		Keys: []localaws.FixtureKey{{User: "build-bot", ID: key}}}); err != nil {
		t.Fatal(err)
	}
	const exec = "exposed-123456789012-ci-deployer-" + key

	t.Run("member in scope: owner asked there, account named", func(t *testing.T) {
		accounts := &fakeAccounts{inScope: map[string]string{thisAccount: "payments-prod"}, member: srv}
		x, err := FindingHandler{Account: hub, Organization: accounts}.Handle(ctx,
			FindingInput{Event: sample(t, "trusted-advisor-exposed-key.json"), Execution: exec})
		if err != nil {
			t.Fatal(err)
		}
		if x.ForeignAccount || x.AccountName != "payments-prod" || x.UserName != "build-bot" || x.ReportedUserName != "ci-deployer" || !x.OwnerVerified {
			t.Errorf("finding %+v", x)
		}
		equalCalls(t, accounts.configs, thisAccount+" read "+exec)
	})
	t.Run("outside the organization: no role assumed", func(t *testing.T) {
		accounts := &fakeAccounts{member: srv}
		x, err := FindingHandler{Account: hub, Organization: accounts}.Handle(ctx,
			FindingInput{Event: sample(t, "trusted-advisor-exposed-key.json"), Execution: exec})
		if err != nil {
			t.Fatal(err)
		}
		if !x.ForeignAccount || x.OutOfScope != string(inventory.ReasonNotInOrganization) || x.ActsIn != hub {
			t.Errorf("finding %+v", x)
		}
		equalCalls(t, accounts.configs)
	})
	t.Run("Health's organizational view in the hub names a member", func(t *testing.T) {
		accounts := &fakeAccounts{inScope: map[string]string{"111122223333": "data-prod"}, member: srv}
		x, err := FindingHandler{Account: thisAccount, Organization: accounts}.Handle(ctx,
			FindingInput{Event: sample(t, "health-organizational-view.json"), Execution: exec})
		// The emulated member does not know the key and Health names no
		// user: the named InvalidEvent, after asking the member.
		if step.Name(err) != step.InvalidEvent || x.AccountName != "data-prod" {
			t.Errorf("finding %+v, %v", x, err)
		}
		equalCalls(t, accounts.configs, "111122223333 read "+exec)
	})
	t.Run("a member's event naming another account is refused", func(t *testing.T) {
		// The organizational-view sample as if delivered in a member
		// (123456789012), not in the hub.
		accounts := &fakeAccounts{inScope: map[string]string{"111122223333": "data-prod", thisAccount: "payments-prod"}, member: srv}
		x, err := FindingHandler{Account: hub, Organization: accounts}.Handle(ctx,
			FindingInput{Event: sample(t, "health-organizational-view.json"), Execution: exec})
		if err != nil {
			t.Fatal(err)
		}
		if !x.ForeignAccount || x.OutOfScope == "" || x.ReceivedIn != thisAccount {
			t.Errorf("finding %+v", x)
		}
		equalCalls(t, accounts.configs)
	})
	t.Run("organization unreadable: the named error", func(t *testing.T) {
		accounts := &fakeAccounts{member: srv, err: step.Errorf(step.Throttled, "organizations throttled")}
		_, err := FindingHandler{Account: hub, Organization: accounts}.Handle(ctx,
			FindingInput{Event: sample(t, "trusted-advisor-exposed-key.json"), Execution: exec})
		if step.Name(err) != step.Throttled {
			t.Errorf("err %v", err)
		}
	})
}
