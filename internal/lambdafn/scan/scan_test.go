package scan

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/keywarden/keywarden/internal/credreport"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/keyage"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/member/membertest"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/step"
)

const exec = "arn:aws:states:us-east-1:999988887777:execution:Keywarden:daily-2026-12-01"

type lister struct{ s inventory.Snapshot }

func (l *lister) Accounts(context.Context) (*inventory.Snapshot, error) { return &l.s, nil }

// Organization mode: "accounts" lists the inventory with no AssumeRole;
// an account's scan assumes its read role once, as the execution; a role
// STS refuses is the named MemberRoleNotDeployed.
func TestOrganization(t *testing.T) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ctx := context.Background()
	srv := membertest.NewMember(t, localaws.Fixture{Users: []localaws.FixtureUser{{Name: "alice", Tags: map[string]string{"UserType": "Employee"}}},
		Keys: []localaws.FixtureKey{{User: "alice", Created: "-75d"}}})
	if err := srv.CreateDynamoDBTable(localaws.DynamoDBTable{Name: "ledger", PartitionKey: "pk", SortKey: "sk"}); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(dynamodb.NewFromConfig(srv.SDKConfig()), "ledger", ledger.Options{ByAccount: true, Now: srv.Now})
	if err != nil {
		t.Fatal(err)
	}
	store := keyage.LedgerStore{L: l, DryRun: true}
	accounts := &membertest.Accounts{InScope: map[string]string{"111111111111": "prod", "333333333333": "sandbox"}, Member: srv}
	inv := &lister{inventory.Snapshot{Accounts: []inventory.Account{{ID: "111111111111", Name: "prod"}, {ID: "333333333333", Name: "sandbox"}}}}
	h := keyage.ScanHandler{Store: store, Policy: policy.DefaultConfig(), DryRun: true, Now: srv.Now, Fetch: credreport.FetchOptions{FirstDelay: time.Millisecond}}
	handle := Organization(accounts, inv, store, h)
	ev, _ := json.Marshal(map[string]any{"version": "0", "id": "e", "source": "aws.events", "detail-type": "Scheduled Event",
		"account": "999988887777", "time": srv.Now().Format(time.RFC3339), "region": "us-east-1", "resources": []string{}, "detail": map[string]any{}})

	out, err := handle(ctx, keyage.ScanInput{Step: keyage.StepAccounts, Event: ev, Execution: exec})
	if err != nil {
		t.Fatal(err)
	}
	if list, ok := out.(keyage.AccountsResult); !ok || len(list.Accounts) != 2 || list.RunID != "daily-2026-12-01" {
		t.Errorf("accounts = %#v", out)
	}
	if c := accounts.Configs(); len(c) != 0 {
		t.Errorf("listing the accounts assumed %v", c)
	}

	out, err = handle(ctx, keyage.ScanInput{Event: ev, Execution: exec, Account: "111111111111", Name: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	res, ok := out.(keyage.ScanResult)
	if !ok || res.Account != "111111111111" || res.RunID != "daily-2026-12-01-111111111111" || res.Keys != 1 || res.Flagged != 1 {
		t.Errorf("scan = %#v", out)
	}
	if c := accounts.Configs(); len(c) != 1 || c[0] != "111111111111 read daily-2026-12-01" {
		t.Errorf("member sessions %v, want one read session in 111111111111 named after the execution (its name, not its ARN)", c)
	}

	if _, err := handle(ctx, keyage.ScanInput{Event: ev, Execution: exec, Account: "555555555555"}); step.Name(err) != step.AccountOutOfScope {
		t.Errorf("an account out of scope: %v", err)
	}
	if _, err := handle(ctx, keyage.ScanInput{Event: ev, Execution: exec}); step.Name(err) != step.InvalidEvent || !strings.Contains(err.Error(), "names no account") {
		t.Errorf("no account: %v", err)
	}
	accounts.RoleErr = step.Errorf(member.NotDeployed, "member role keywarden-member-read not deployed in account 333333333333: %w", member.ErrMemberRoleNotDeployed)
	if _, err := handle(ctx, keyage.ScanInput{Event: ev, Execution: exec, Account: "333333333333", Name: "sandbox"}); step.Name(err) != step.MemberRoleNotDeployed {
		t.Errorf("a member without its role: %v (%s)", err, step.Name(err))
	}
}
