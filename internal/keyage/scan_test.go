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

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/credreport"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/step"
)

// A large account: 3,000 users, 1,500 of them with a key past a warning.
// The decisions go to the ledger in chunks; what the state carries stays
// far below Step Functions' 256 KB, and each chunk reads back whole.
func TestScanKeepsTheStateSmall(t *testing.T) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	srv, err := localaws.New(localaws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var f localaws.Fixture
	for i := range 3000 {
		user := fmt.Sprintf("user-%04d", i)
		f.Users = append(f.Users, localaws.FixtureUser{Name: user, Tags: map[string]string{"UserType": "Employee", "email": user + "@example.com"}})
		age := 10
		if i%2 == 0 {
			age = 70 + i%40
		}
		f.Keys = append(f.Keys, localaws.FixtureKey{User: user, Created: fmt.Sprintf("-%dd", age), LastUsed: "-1d"})
	}
	if err := srv.Seed(f); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateDynamoDBTable(localaws.DynamoDBTable{Name: "ledger", PartitionKey: "pk", SortKey: "sk"}); err != nil {
		t.Fatal(err)
	}
	cfg := srv.SDKConfig()
	l, err := ledger.New(dynamodb.NewFromConfig(cfg), "ledger", ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store := LedgerStore{L: l, DryRun: true}
	h := ScanHandler{IAM: iam.NewFromConfig(cfg), Store: store, Policy: policy.DefaultConfig(), DryRun: true,
		Fetch: credreport.FetchOptions{FirstDelay: time.Millisecond}, Now: srv.Now}
	ev, _ := json.Marshal(map[string]any{"version": "0", "id": "e", "source": "aws.events", "detail-type": "Scheduled Event",
		"account": "123456789012", "time": srv.Now().Format(time.RFC3339), "region": "us-east-1", "resources": []string{}, "detail": map[string]any{}})
	res, err := h.Handle(context.Background(), ScanInput{Event: ev, Execution: "arn:aws:states:us-east-1:123456789012:execution:Keywarden:daily-test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Flagged != 1500 || len(res.Chunks) != 15 || res.Users != 3000 || res.Keys != 3000 {
		t.Errorf("flagged %d in %d chunks of %d users / %d keys", res.Flagged, len(res.Chunks), res.Users, res.Keys)
	}
	state, _ := json.Marshal(res)
	if len(state) > 16*1024 {
		t.Errorf("scan result is %d bytes in the state; it must stay small", len(state))
	}
	total := 0
	for _, n := range res.Chunks {
		data, err := store.GetChunk(context.Background(), res.RunID, n)
		if err != nil {
			t.Fatal(err)
		}
		var ds []policy.Decision
		if err := json.Unmarshal(data, &ds); err != nil {
			t.Fatal(err)
		}
		total += len(ds)
	}
	if total != res.Flagged {
		t.Errorf("chunks hold %d decisions, want %d", total, res.Flagged)
	}
	// Per-user calls only for the flagged users.
	perUser := 0
	for _, c := range srv.Calls() {
		if c.Operation == "ListUserTags" {
			perUser++
		}
	}
	if perUser != 1500 {
		t.Errorf("ListUserTags called %d times, want once per flagged user (1500)", perUser)
	}
	t.Logf("scan result %d bytes for %d flagged keys in %d chunks", len(state), res.Flagged, len(res.Chunks))
}

func TestScanRefusesEventsFromTheFuture(t *testing.T) {
	clock := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	h := ScanHandler{Now: func() time.Time { return clock }}
	ev := func(at time.Time) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"version": "0", "id": "e", "source": "aws.events", "detail-type": "Scheduled Event",
			"account": "123456789012", "time": at.Format(time.RFC3339), "region": "us-east-1", "resources": []string{}, "detail": map[string]any{}})
		return b
	}
	_, err := h.Handle(context.Background(), ScanInput{Event: ev(clock.AddDate(0, 0, 90)), Execution: "x:daily"})
	if step.Name(err) != step.InvalidEvent || !strings.Contains(err.Error(), "ahead of the clock") {
		t.Errorf("a run 90 days ahead: %v, want InvalidEvent", err)
	}
	for _, tc := range []struct {
		ahead time.Duration
		ok    bool
	}{{-48 * time.Hour, true}, {0, true}, {MaxEventAhead, true}, {MaxEventAhead + time.Second, false}} {
		if err := checkEventTime(clock.Add(tc.ahead), clock); (err == nil) != tc.ok {
			t.Errorf("event %s ahead: %v, want ok %t", tc.ahead, err, tc.ok)
		}
	}
}

func TestScanRefusesOtherEvents(t *testing.T) {
	h := ScanHandler{}
	_, err := h.Handle(context.Background(), ScanInput{Event: json.RawMessage(`{"source":"aws.ec2","detail-type":"x"}`), Execution: "x:y"})
	if step.Name(err) != step.InvalidEvent {
		t.Fatalf("a non-scheduled event must be refused as InvalidEvent: %v", err)
	}
}
