package keyage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/credreport"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/step"
)

const orgExecution = "arn:aws:states:us-east-1:999999999999:execution:Keywarden:daily-2026-12-01"

type snapshot struct{ s inventory.Snapshot }

func (s *snapshot) Accounts(context.Context) (*inventory.Snapshot, error) { return &s.s, nil }

type failingLister struct{ err error }

func (f failingLister) Accounts(context.Context) (*inventory.Snapshot, error) { return nil, f.err }

// memParts is a RunPartStore in memory.
type memParts map[string][]byte

func (m memParts) PutRunPart(_ context.Context, run, name string, data []byte) error {
	m[run+"/"+name] = data
	return nil
}

func (m memParts) RunParts(_ context.Context, run, prefix string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for k, v := range m {
		if name, ok := strings.CutPrefix(k, run+"/"); ok && strings.HasPrefix(name, prefix) {
			out[name] = v
		}
	}
	return out, nil
}

type noFlags struct{ created, tags, undone []UserKey }

func (f noFlags) CreatedAgainstPolicy(context.Context, time.Time, time.Time) ([]UserKey, error) {
	return f.created, nil
}

func (f noFlags) Tampering(context.Context, time.Time, time.Time) ([]UserKey, []UserKey, error) {
	return f.tags, f.undone, nil
}

type orgTopic struct{ subjects, bodies []string }

func (tp *orgTopic) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	tp.subjects = append(tp.subjects, aws.ToString(in.Subject))
	tp.bodies = append(tp.bodies, aws.ToString(in.Message))
	return &sns.PublishOutput{MessageId: aws.String(fmt.Sprintf("m%d", len(tp.subjects)))}, nil
}

func scheduled(at time.Time) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"version": "0", "id": "e", "source": "aws.events", "detail-type": "Scheduled Event",
		"account": "999999999999", "time": at.Format(time.RFC3339), "region": "us-east-1", "resources": []string{}, "detail": map[string]any{}})
	return b
}

func threeAccounts() *snapshot {
	return &snapshot{inventory.Snapshot{
		Accounts: []inventory.Account{{ID: "111111111111", Name: "Production"}, {ID: "222222222222", Name: "Staging"}, {ID: "333333333333", Name: "Sandbox"}},
		Excluded: []inventory.Excluded{{ID: "444444444444", Name: "Management", Reason: inventory.ReasonManagement}},
	}}
}

func TestListAccounts(t *testing.T) {
	parts := memParts{}
	h := ListAccountsHandler{Inventory: threeAccounts(), Parts: parts, DryRun: true, Now: func() time.Time { return now }}
	res, err := h.Handle(context.Background(), ScanInput{Step: StepAccounts, Event: scheduled(now), Execution: orgExecution})
	if err != nil {
		t.Fatal(err)
	}
	if res.RunID != "daily-2026-12-01" || !res.DryRun || len(res.Accounts) != 3 || res.OutOfScope != 1 ||
		res.Accounts[2] != (AccountRef{Account: "333333333333", Name: "Sandbox"}) {
		t.Errorf("ListAccounts = %+v", res)
	}
	var part accountsPart
	if err := json.Unmarshal(parts["daily-2026-12-01/accounts"], &part); err != nil {
		t.Fatal(err)
	}
	if !part.At.Equal(now) || len(part.Accounts) != 3 || part.OutOfScopeTotal != 1 || part.OutOfScope[0].Reason != string(inventory.ReasonManagement) {
		t.Errorf("recorded accounts = %+v", part)
	}

	h.Inventory = failingLister{step.Errorf(step.AccessDenied, "organizations: %w", inventory.ErrAccessDenied)}
	if _, err := h.Handle(context.Background(), ScanInput{Step: StepAccounts, Event: scheduled(now), Execution: orgExecution}); step.Name(err) != step.AccessDenied ||
		!strings.Contains(err.Error(), "list the organization's accounts in scope") {
		t.Errorf("an inventory refused: %v (%s), want AccessDenied", err, step.Name(err))
	}
	if _, err := h.Handle(context.Background(), ScanInput{Step: StepAccounts, Event: scheduled(now.AddDate(0, 0, 90)), Execution: orgExecution}); step.Name(err) != step.InvalidEvent {
		t.Errorf("a run from the future: %v, want InvalidEvent", err)
	}
}

// The fan-out's items travel in the state: with Organizations' longest
// account names (50 characters), 2,000 accounts fit Step Functions' 256 KB
// payload with room for the rest of the state; past MaxAccountsInState
// bytes ListAccounts refuses, named, rather than fail the Map on the
// payload limit (see docs/organization.md, "The daily run").
func TestAccountsFitThePayload(t *testing.T) {
	accounts := func(n int) *snapshot {
		snap := &snapshot{}
		for i := range n {
			snap.s.Accounts = append(snap.s.Accounts, inventory.Account{ID: fmt.Sprintf("%012d", i), Name: strings.Repeat("n", 50)})
		}
		return snap
	}
	h := ListAccountsHandler{Inventory: accounts(2000), Parts: memParts{}, Now: func() time.Time { return now }}
	res, err := h.Handle(context.Background(), ScanInput{Step: StepAccounts, Event: scheduled(now), Execution: orgExecution})
	if err != nil {
		t.Fatal(err)
	}
	state, _ := json.Marshal(map[string]any{"event": json.RawMessage(scheduled(now)), "accounts": res})
	if len(state) > 200*1024 {
		t.Errorf("2,000 accounts take %d bytes of the state, over 200 KB", len(state))
	}
	t.Logf("2,000 accounts: %d bytes of state (%d per account)", len(state), len(state)/2000)
	h.Inventory = accounts(3000)
	if _, err := h.Handle(context.Background(), ScanInput{Step: StepAccounts, Event: scheduled(now), Execution: orgExecution}); step.Name(err) != step.Failed ||
		!strings.Contains(err.Error(), "ItemReader") {
		t.Errorf("3,000 accounts of long names: %v, want a named refusal", err)
	}
}

func TestOrganizationScanNeedsAnAccount(t *testing.T) {
	h := ScanHandler{Organization: true, Now: func() time.Time { return now }}
	if _, err := h.Handle(context.Background(), ScanInput{Event: scheduled(now), Execution: orgExecution}); step.Name(err) != step.InvalidEvent ||
		!strings.Contains(err.Error(), "names no account") {
		t.Errorf("an organization scan without an account: %v", err)
	}
}

func TestSummarize(t *testing.T) {
	in := AccountInput{Account: "111111111111", Name: "Production",
		Scan: &ScanResult{Users: 5, Keys: 7, Exempt: 1, NoContactTotal: 2, RootHasKeys: true,
			Counts: []StageCount{{policy.StageOK, 2}, {"warning-70", 1}, {policy.StageFinal, 1}, {policy.StageDeactivate, 2}, {policy.StageDelete, 1}}},
		Results: []ChunkResult{{Notices: 3, AlreadyNotified: 1, WouldDeactivate: []UserKey{{User: "a"}, {User: "b"}}},
			{Notices: 1, Failures: []Failure{{KeyID: "AKIA1", User: "c", What: "notice", Error: "Throttled", Cause: strings.Repeat("x", 400)}}}}}
	s := in.Summarize()
	if s.Failed || s.PastLimit != 4 || s.Notices != 4 || s.AlreadyNotified != 1 || s.WouldDeactivate != 2 || s.KeyFailureTotal != 1 ||
		s.Users != 5 || s.Keys != 7 || !s.RootHasKeys || s.NoContact != 2 || len(s.KeyFailures[0].Cause) > 310 {
		t.Errorf("summary = %+v", s)
	}
	failed := AccountInput{Account: "333333333333", Error: &StepFailure{Error: step.MemberRoleNotDeployed,
		Cause: `{"errorType":"MemberRoleNotDeployed","errorMessage":"member role keywarden-member-read not deployed in account 333333333333"}`}}.Summarize()
	if !failed.Failed || failed.Error != step.MemberRoleNotDeployed || failed.Cause != "member role keywarden-member-read not deployed in account 333333333333" {
		t.Errorf("failed summary = %+v", failed)
	}
	prefixed := AccountInput{Account: "333333333333", Error: &StepFailure{Error: step.MemberRoleNotDeployed,
		Cause: "MemberRoleNotDeployed: member role keywarden-member-read not deployed in account 333333333333"}}.Summarize()
	if prefixed.Cause != "member role keywarden-member-read not deployed in account 333333333333" {
		t.Errorf("a cause that repeats its error's name: %q", prefixed.Cause)
	}
	if s := (AccountInput{Account: "1"}).Summarize(); !s.Failed || s.Error != step.Failed {
		t.Errorf("an account with neither scan nor error: %+v", s)
	}
}

// A daily run over three accounts, the third without its member role:
// two scanned from their credential reports and acted on (dry run:
// notices only), the third recorded with its error; one digest names it,
// with totals over the other two.
func TestOrganizationRun(t *testing.T) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ctx := context.Background()
	// One emulated account per member (its own users and keys), and the
	// hub's ledger on the first.
	member := func(account string) *localaws.Server {
		srv, err := localaws.New(localaws.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		var f localaws.Fixture
		for i, age := range []int{10, 75, 95} {
			user := fmt.Sprintf("user-%d", i)
			f.Users = append(f.Users, localaws.FixtureUser{Name: user, Tags: map[string]string{"UserType": "Employee", "email": user + "@example.com"}})
			// Access key ids are unique across AWS.
			f.Keys = append(f.Keys, localaws.FixtureKey{User: user, ID: fmt.Sprintf("AKIA%s%04d", account, i), Created: fmt.Sprintf("-%dd", age), LastUsed: "-1d"})
		}
		if err := srv.Seed(f); err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := member("111111111111")
	members := map[string]*localaws.Server{"111111111111": srv, "222222222222": member("222222222222")}
	if err := srv.CreateDynamoDBTable(localaws.DynamoDBTable{Name: "ledger", PartitionKey: "pk", SortKey: "sk"}); err != nil {
		t.Fatal(err)
	}
	cfg := srv.SDKConfig()
	l, err := ledger.New(dynamodb.NewFromConfig(cfg), "ledger", ledger.Options{ByAccount: true, Now: srv.Now})
	if err != nil {
		t.Fatal(err)
	}
	store := LedgerStore{L: l, DryRun: true}
	at := srv.Now()
	topic := &orgTopic{}

	list, err := ListAccountsHandler{Inventory: threeAccounts(), Parts: store, DryRun: true, Now: srv.Now}.
		Handle(ctx, ScanInput{Step: StepAccounts, Event: scheduled(at), Execution: orgExecution})
	if err != nil {
		t.Fatal(err)
	}
	scan := ScanHandler{IAM: iam.NewFromConfig(cfg), Store: store, Policy: policy.DefaultConfig(), DryRun: true, Organization: true,
		Fetch: credreport.FetchOptions{FirstDelay: time.Millisecond}, Now: srv.Now}
	act := ActHandler{IAM: iam.NewFromConfig(cfg), Store: store, Notifier: Notifier{SNS: topic, Topic: "arn:aws:sns:us-east-1:999999999999:keywarden"},
		Account: "999999999999", Now: srv.Now, ReadBackAttempts: 1}
	record := RecordAccountHandler{Parts: store}
	for _, a := range list.Accounts[:2] {
		api := iam.NewFromConfig(members[a.Account].SDKConfig())
		scan.IAM, act.IAM = api, api
		res, err := scan.Handle(ctx, ScanInput{Event: scheduled(at), Execution: orgExecution, Account: a.Account, Name: a.Name})
		if err != nil {
			t.Fatal(err)
		}
		if res.RunID != "daily-2026-12-01-"+a.Account || res.Account != a.Account || res.Keys != 3 || len(res.Chunks) != 1 || len(res.CreatedAgainstPolicy) != 0 {
			t.Errorf("scan of %s = %+v", a.Account, res)
		}
		var results []ChunkResult
		for _, n := range res.Chunks {
			r, err := act.Handle(ctx, ActInput{RunID: res.RunID, Chunk: n, DryRun: true, Account: a.Account, AccountName: a.Name, Execution: orgExecution})
			if err != nil {
				t.Fatal(err)
			}
			results = append(results, r)
		}
		if _, err := record.Handle(ctx, AccountInput{Step: StepAccount, Execution: orgExecution, Account: a.Account, Name: a.Name, Scan: &res, Results: results}); err != nil {
			t.Fatal(err)
		}
	}
	notices := len(topic.subjects)
	if notices != 4 || !strings.Contains(topic.bodies[0], "111111111111 (Production)") {
		t.Errorf("notices: %d, want 2 per account; first:\n%s", notices, topic.bodies[0])
	}
	cause, _ := json.Marshal(map[string]string{"errorType": step.MemberRoleNotDeployed,
		"errorMessage": "member role keywarden-member-read not deployed in account 333333333333 (or its trust does not allow this hub): deploy the keywarden-member StackSet"})
	if _, err := record.Handle(ctx, AccountInput{Step: StepAccount, Execution: orgExecution, Account: "333333333333", Name: "Sandbox",
		Error: &StepFailure{Error: step.MemberRoleNotDeployed, Cause: string(cause)}}); err != nil {
		t.Fatal(err)
	}

	digest := OrganizationDigestHandler{Digest: DigestHandler{SNS: topic, Topic: "arn:aws:sns:us-east-1:999999999999:keywarden", ConsoleRegion: "us-east-1",
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: srv.Now}, Parts: store,
		Flags: noFlags{created: []UserKey{{User: "ivan", KeyID: "AKIAKEYWARDENIVAN001", Detail: "created against policy"}}}}
	out, err := digest.Handle(ctx, OrganizationDigestInput{Step: StepOrganization, Execution: orgExecution, ToleratedFailurePercentage: 50})
	if err != nil {
		t.Fatal(err)
	}
	body := topic.bodies[len(topic.bodies)-1]
	if out.Accounts != 3 || out.Scanned != 2 || out.Failed != 1 || out.TooManyFailed || out.Error != nil {
		t.Errorf("digest result = %+v", out)
	}
	for _, want := range []string{
		"DRY RUN", "3 in scope: 2 scanned, 1 FAILED; 1 out of scope", "6 access keys in 2 accounts",
		"333333333333 (Sandbox)  MemberRoleNotDeployed: member role keywarden-member-read not deployed in account 333333333333",
		"Worst accounts", "111111111111 (Production)  1 past the limit of 3 keys; 2 notices; 1 would be deactivated, 0 would be deleted",
		"Notices:      4 sent", "AKIAKEYWARDENIVAN001", "444444444444 (Management): the management account",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the digest lacks %q:\n%s", want, body)
		}
	}
	if strings.Count(body, "AKIAKEYWARDENIVAN001") != 1 {
		t.Error("an organization-wide flag must show once")
	}
	if !strings.Contains(out.Subject, "1 ACCOUNTS NOT SCANNED of 3") {
		t.Errorf("subject %q", out.Subject)
	}

	// One failed account of three is more than 20% tolerated.
	out, err = digest.Handle(ctx, OrganizationDigestInput{Step: StepOrganization, Execution: orgExecution, ToleratedFailurePercentage: 20})
	if err != nil {
		t.Fatal(err)
	}
	if !out.TooManyFailed || out.Error == nil || out.Error.Error != step.AccountsFailed || !strings.Contains(out.Error.Cause, "333333333333 MemberRoleNotDeployed") {
		t.Errorf("past the tolerance: %+v", out)
	}
}

// An account whose child failed before recording is named as such, and
// counts as failed.
func TestDigestNamesAccountsWithNoResult(t *testing.T) {
	parts := memParts{}
	ctx := context.Background()
	if _, err := (ListAccountsHandler{Inventory: threeAccounts(), Parts: parts, Now: func() time.Time { return now }}).
		Handle(ctx, ScanInput{Step: StepAccounts, Event: scheduled(now), Execution: orgExecution}); err != nil {
		t.Fatal(err)
	}
	r, err := ReadOrganizationRun(ctx, parts, noFlags{}, orgExecution)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Failed()) != 3 || !strings.Contains(r.Summaries[0].Cause, "no result recorded") || !r.TooManyFailed(10) {
		t.Errorf("accounts with no result: %+v", r.Summaries)
	}
	if _, err := ReadOrganizationRun(ctx, memParts{}, noFlags{}, orgExecution); step.Name(err) != step.Failed {
		t.Errorf("a run with no accounts recorded: %v", err)
	}
	m := ComposeOrganizationDigest(r, 10, "us-east-1")
	check(t, "organization-digest-no-results.txt", "Subject: "+m.Subject+"\n\n"+m.Body)
}

func TestOrganizationDigestGolden(t *testing.T) {
	r := OrganizationRun{RunID: "daily-2026-12-01", Execution: orgExecution,
		accountsPart: accountsPart{At: now, Accounts: []AccountRef{{"111111111111", "Production"}, {"222222222222", "Staging"}, {"333333333333", "Sandbox"}},
			OutOfScope: []OutOfScopeAccount{{Account: "444444444444", Name: "Management", Reason: string(inventory.ReasonManagement)}}, OutOfScopeTotal: 1},
		Summaries: []AccountSummary{
			{Account: "111111111111", Name: "Production", Users: 40, Keys: 52, Counts: []StageCount{{"ok", 40}, {"warning-70", 5}, {"final", 3}, {"deactivate", 4}},
				PastLimit: 7, Notices: 9, AlreadyNotified: 2, Deactivated: 4, Rotated: 2, NoContact: 1, RootHasKeys: true,
				KeyFailures: []Failure{{KeyID: "AKIAKEYWARDENHENRY01", User: "henry", What: "deactivate", Error: "AccessDenied", Cause: "deactivate key AKIAKEYWARDENHENRY01 of henry: AccessDenied"}}, KeyFailureTotal: 1},
			{Account: "222222222222", Name: "Staging", Users: 10, Keys: 12, Counts: []StageCount{{"ok", 10}, {"warning-70", 1}, {"deactivate", 1}},
				PastLimit: 1, Notices: 2, Deactivated: 1},
			{Account: "333333333333", Name: "Sandbox", Failed: true, Error: step.MemberRoleNotDeployed,
				Cause: "member role keywarden-member-read not deployed in account 333333333333 (or its trust does not allow this hub): deploy the keywarden-member StackSet to the account's OU"},
		},
		CreatedAgainstPolicy: []UserKey{{User: "ivan", KeyID: "AKIAKEYWARDENIVAN001", Detail: "created against policy"}},
		Tampered:             []UserKey{{User: "ci-deployer", KeyID: "AKIAKEYWARDENDRILL01", Detail: "set Active again; undone"}},
	}
	m := ComposeOrganizationDigest(r, 10, "us-east-1")
	check(t, "organization-digest.txt", "Subject: "+m.Subject+"\n\n"+m.Body)
	r.DryRun = true
	for i := range r.Summaries[:2] {
		s := &r.Summaries[i]
		s.WouldDeactivate, s.Deactivated = s.Deactivated, 0
		s.WouldRotate, s.Rotated = s.Rotated, 0
	}
	dry := ComposeOrganizationDigest(r, 50, "us-east-1")
	check(t, "organization-digest-dry-run.txt", "Subject: "+dry.Subject+"\n\n"+dry.Body)
}
