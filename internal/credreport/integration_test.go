package credreport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/step"
)

func TestMain(m *testing.M) {
	// Fetch logs one line per report; tests and benchmarks need none.
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

// localNow is the emulator's fixed clock in the integration tests.
var localNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newLocalAWS(t testing.TB, opts localaws.Options) *localaws.Server {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return localNow }
	}
	srv, err := localaws.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// waitOnServerClock makes Fetch's waits move the emulator's clock instead
// of sleeping, so a report that takes minutes to generate is ready at once.
func waitOnServerClock(srv *localaws.Server) FetchOptions {
	return FetchOptions{
		Now: srv.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			srv.Advance(d)
			return ctx.Err()
		},
	}
}

func iamCalls(srv *localaws.Server) map[string]int {
	n := map[string]int{}
	for _, c := range srv.Calls() {
		if c.Service == "iam" {
			n[c.Operation]++
		}
	}
	return n
}

// TestAgainstLocalAWS runs the whole scan through the real IAM client and
// wire protocol: the report, its CSV, the per-user calls and the matching
// of slots to key ids.
func TestAgainstLocalAWS(t *testing.T) {
	ctx := context.Background()
	srv := newLocalAWS(t, localaws.Options{CredentialReportDelay: 45 * time.Second})
	if err := srv.Seed(localaws.Fixture{
		Users: []localaws.FixtureUser{
			{Name: "alice", Created: "-400d", Tags: map[string]string{"owner": "alice@example.com", "kind": "human"}},
			{Name: "ci-deployer", Path: "/machines/", Created: "-900d", Tags: map[string]string{"kind": "machine", "keywarden:exempt-until": "2026-06-30"}},
			{Name: "bob", Created: "-30d"},
			{Name: "fresh", Created: "-5d"},
		},
		Keys: []localaws.FixtureKey{
			{User: "alice", ID: "AKIAALICEOLD00000001", Created: "-95d", Status: "Inactive", LastUsed: "-91d", LastUsedRegion: "eu-west-1", LastUsedService: "s3"},
			{User: "alice", ID: "AKIAALICENEW00000002", Created: "-75d", LastUsed: "-1d"},
			{User: "ci-deployer", ID: "AKIACIDEPLOYER000001", Created: "-200d", LastUsed: "-2h", LastUsedService: "cloudformation"},
			{User: "fresh", ID: "AKIAFRESH00000000001", Created: "-3d"},
		},
	}); err != nil {
		t.Fatal(err)
	}
	api := iam.NewFromConfig(srv.SDKConfig())

	rep, err := Fetch(ctx, api, waitOnServerClock(srv))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if rep.Users != 4 || len(rep.Keys) != 4 || rep.RootHasKeys {
		t.Fatalf("report: %d users, %d keys, root keys %v: %+v", rep.Users, len(rep.Keys), rep.RootHasKeys, rep)
	}
	if want := localNow; !rep.Generated.Equal(want) {
		t.Errorf("generated %s, want %s", rep.Generated, want)
	}
	// Every key of the report is a key the emulator holds, dates intact.
	for _, k := range rep.Keys {
		var st localaws.AccessKeyState
		for _, s := range srv.AccessKeys(k.User) {
			if s.Created.Equal(k.LastRotated) {
				st = s
			}
		}
		if st.ID == "" || k.Active != (st.Status == "Active") || !k.LastUsed.Equal(st.LastUsed) || k.LastUsedRegion != st.LastUsedRegion || k.LastUsedService != st.LastUsedService {
			t.Errorf("report key %+v does not match the emulator's %+v", k, st)
		}
	}

	// Flag users with a key older than 70 days, as the policy step would,
	// plus one deleted since (not in the emulator).
	threshold := localNow.Add(-70 * 24 * time.Hour)
	var flagged []string
	for _, k := range rep.Keys {
		if k.LastRotated.Before(threshold) && !slices.Contains(flagged, k.User) {
			flagged = append(flagged, k.User)
		}
	}
	slices.Sort(flagged)
	if want := []string{"alice", "ci-deployer"}; !slices.Equal(flagged, want) {
		t.Fatalf("flagged %v, want %v", flagged, want)
	}
	before := iamCalls(srv)
	details, err := Resolve(ctx, api, append(flagged, "deleted-since"))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if d := details["ci-deployer"]; d.Tags["kind"] != "machine" || d.Tags["keywarden:exempt-until"] != "2026-06-30" || len(d.Keys) != 1 {
		t.Errorf("ci-deployer = %+v", d)
	}
	if d := details["alice"]; d.Tags["owner"] != "alice@example.com" || len(d.Keys) != 2 || d.Keys[0].ID != "AKIAALICEOLD00000001" {
		t.Errorf("alice = %+v", d)
	}
	if !details["deleted-since"].Gone {
		t.Errorf("deleted-since = %+v, want gone", details["deleted-since"])
	}

	byUser := rep.ByUser()
	wantIDs := map[string]string{"alice/1": "AKIAALICEOLD00000001", "alice/2": "AKIAALICENEW00000002", "ci-deployer/1": "AKIACIDEPLOYER000001"}
	for _, user := range flagged {
		for _, m := range MatchKeys(byUser[user], details[user].Keys) {
			slot := user + "/" + string(rune('0'+m.Slot))
			if m.AccessKeyID != wantIDs[slot] || m.Ambiguous {
				t.Errorf("%s matched %q (ambiguous %v), want %s", slot, m.AccessKeyID, m.Ambiguous, wantIDs[slot])
			}
		}
	}

	// The per-user calls went to the flagged users only: two each (one
	// page), plus one ListUserTags for the user already gone.
	after := iamCalls(srv)
	if got := after["ListUserTags"] - before["ListUserTags"]; got != 3 {
		t.Errorf("%d ListUserTags calls, want 3", got)
	}
	if got := after["ListAccessKeys"] - before["ListAccessKeys"]; got != 2 {
		t.Errorf("%d ListAccessKeys calls, want 2", got)
	}
	if after["ListUsers"] != 0 || after["GetAccessKeyLastUsed"] != 0 || after["GetCredentialReport"] != 1 {
		t.Errorf("IAM calls: %v", after)
	}
}

// TestFetchLocalAWSLimitExceeded: IAM's LimitExceeded reaches Fetch through
// the real error deserializer, and Fetch waits and tries again.
func TestFetchLocalAWSLimitExceeded(t *testing.T) {
	srv := newLocalAWS(t, localaws.Options{})
	if err := srv.SetFault("iam:GenerateCredentialReport", localaws.Fault{ErrorCode: "LimitExceeded"}); err != nil {
		t.Fatal(err)
	}
	opts := waitOnServerClock(srv)
	waits := 0
	opts.Sleep = func(ctx context.Context, d time.Duration) error {
		if waits++; waits == 2 {
			srv.ClearFaults()
		}
		srv.Advance(d)
		return nil
	}
	rep, err := Fetch(context.Background(), iam.NewFromConfig(srv.SDKConfig()), opts)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if rep.Users != 0 || len(rep.Keys) != 0 {
		t.Errorf("report of an empty account: %+v", rep)
	}
	calls := iamCalls(srv)
	// Two refused, STARTED, COMPLETE; then the report.
	if calls["GenerateCredentialReport"] != 4 || calls["GetCredentialReport"] != 1 {
		t.Errorf("calls = %v", calls)
	}
}

// TestFetchLocalAWSNotReadyInTime: a report slower than MaxWait is a
// Transient error the state machine retries.
func TestFetchLocalAWSNotReadyInTime(t *testing.T) {
	srv := newLocalAWS(t, localaws.Options{CredentialReportDelay: 10 * time.Minute})
	_, err := Fetch(context.Background(), iam.NewFromConfig(srv.SDKConfig()), waitOnServerClock(srv))
	if step.Name(err) != step.Transient || !errors.Is(err, ErrReportNotReady) {
		t.Errorf("err = %v (%s), want Transient ErrReportNotReady", err, step.Name(err))
	}
}

// TestResolveLocalAWSFaults: throttling is retried by the SDK; a denied
// call fails Resolve with AccessDenied.
func TestResolveLocalAWSFaults(t *testing.T) {
	ctx := context.Background()
	srv := newLocalAWS(t, localaws.Options{Seed: 3})
	f := localaws.Fixture{}
	var users []string
	for _, name := range []string{"u1", "u2", "u3", "u4", "u5", "u6"} {
		f.Users = append(f.Users, localaws.FixtureUser{Name: name, Tags: map[string]string{"owner": name + "@example.com"}})
		f.Keys = append(f.Keys, localaws.FixtureKey{User: name, Created: "-100d"})
		users = append(users, name)
	}
	if err := srv.Seed(f); err != nil {
		t.Fatal(err)
	}
	cfg := srv.SDKConfig()
	cfg.RetryMaxAttempts = 8
	api := iam.NewFromConfig(cfg)

	if err := srv.SetFault("iam:*", localaws.Fault{ThrottleRate: 0.3}); err != nil {
		t.Fatal(err)
	}
	details, err := Resolve(ctx, api, users)
	if err != nil {
		t.Fatalf("Resolve under throttling: %v", err)
	}
	for _, u := range users {
		if d := details[u]; d.Tags["owner"] != u+"@example.com" || len(d.Keys) != 1 || d.Keys[0].Status != string(types.StatusTypeActive) {
			t.Errorf("%s = %+v", u, d)
		}
	}
	throttled := 0
	for _, c := range srv.Calls() {
		if c.ErrorCode == "Throttling" {
			throttled++
		}
	}
	if throttled == 0 {
		t.Error("no call was throttled; the test proves nothing")
	}

	srv.ClearFaults()
	if err := srv.SetFault("iam:ListAccessKeys", localaws.Fault{ErrorCode: "AccessDenied"}); err != nil {
		t.Fatal(err)
	}
	_, err = Resolve(ctx, api, users)
	if step.Name(err) != step.AccessDenied {
		t.Errorf("err = %v (%s), want AccessDenied", err, step.Name(err))
	}
}
