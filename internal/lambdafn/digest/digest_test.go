package digest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/keyage"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/member/membertest"
	"github.com/keywarden/keywarden/internal/step"
)

const exec = "arn:aws:states:us-east-1:999988887777:execution:Keywarden:daily-2026-12-01"

type topic struct{ bodies []string }

func (tp *topic) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	tp.bodies = append(tp.bodies, aws.ToString(in.Message))
	return &sns.PublishOutput{MessageId: aws.String("m")}, nil
}

type lister struct{ s inventory.Snapshot }

func (l *lister) Accounts(context.Context) (*inventory.Snapshot, error) { return &l.s, nil }

// Organization mode: the digest function records each account's part of
// the run ("account") and publishes one digest from them
// ("organization"); any other input is refused, named.
func TestOrganization(t *testing.T) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ctx := context.Background()
	srv := membertest.NewMember(t, localaws.Fixture{})
	if err := srv.CreateDynamoDBTable(localaws.DynamoDBTable{Name: "ledger", PartitionKey: "pk", SortKey: "sk"}); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(dynamodb.NewFromConfig(srv.SDKConfig()), "ledger", ledger.Options{ByAccount: true, Now: srv.Now})
	if err != nil {
		t.Fatal(err)
	}
	store := keyage.LedgerStore{L: l}
	ev, _ := json.Marshal(map[string]any{"version": "0", "id": "e", "source": "aws.events", "detail-type": "Scheduled Event",
		"account": "999988887777", "time": srv.Now().Format(time.RFC3339), "region": "us-east-1", "resources": []string{}, "detail": map[string]any{}})
	inv := &lister{inventory.Snapshot{Accounts: []inventory.Account{{ID: "111111111111", Name: "prod"}, {ID: "333333333333", Name: "sandbox"}}}}
	if _, err := (keyage.ListAccountsHandler{Inventory: inv, Parts: store, Now: srv.Now}).Handle(ctx, keyage.ScanInput{Step: keyage.StepAccounts, Event: ev, Execution: exec}); err != nil {
		t.Fatal(err)
	}
	tp := &topic{}
	handle := Organization(keyage.DigestHandler{SNS: tp, Topic: "t", ConsoleRegion: "us-east-1", Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}, store)
	call := func(v any) (any, error) {
		raw, _ := json.Marshal(v)
		return handle(ctx, raw)
	}
	if _, err := call(keyage.AccountInput{Step: keyage.StepAccount, Execution: exec, Account: "111111111111", Name: "prod",
		Scan: &keyage.ScanResult{Users: 2, Keys: 3}, Results: []keyage.ChunkResult{{Notices: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := call(keyage.AccountInput{Step: keyage.StepAccount, Execution: exec, Account: "333333333333", Name: "sandbox",
		Error: &keyage.StepFailure{Error: step.MemberRoleNotDeployed, Cause: `{"errorType":"MemberRoleNotDeployed","errorMessage":"member role keywarden-member-read not deployed in account 333333333333"}`}}); err != nil {
		t.Fatal(err)
	}
	out, err := call(keyage.OrganizationDigestInput{Step: keyage.StepOrganization, Execution: exec, ToleratedFailurePercentage: 10})
	if err != nil {
		t.Fatal(err)
	}
	res, ok := out.(keyage.OrganizationDigestResult)
	if !ok || res.Scanned != 1 || res.Failed != 1 || !res.TooManyFailed || res.Error.Error != step.AccountsFailed {
		t.Errorf("digest %#v", out)
	}
	if len(tp.bodies) != 1 || !strings.Contains(tp.bodies[0], "333333333333 (sandbox)  MemberRoleNotDeployed: member role keywarden-member-read not deployed in account 333333333333") {
		t.Errorf("digest bodies %q", tp.bodies)
	}
	for _, bad := range []string{`{"scan":{}}`, `{"step":"nosuch"}`, `[]`} {
		if _, err := handle(ctx, json.RawMessage(bad)); step.Name(err) != step.InvalidEvent {
			t.Errorf("input %s: %v, want InvalidEvent", bad, err)
		}
	}
}
