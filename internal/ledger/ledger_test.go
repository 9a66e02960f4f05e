package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/step"
)

const testTable = "keywarden-ledger"

// t0 is the fixed time the ledger's clock reads in most tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	keyA = "AKIAAAAAAAAAAAAAAAA1"
	keyB = "AKIABBBBBBBBBBBBBBB2"
)

// env is a localaws server with the ledger table, a real SDK client and a
// Ledger on it.
type env struct {
	srv    *localaws.Server
	client *dynamodb.Client
	ledger *Ledger
	now    *time.Time
}

func newEnv(t *testing.T, srvOpts localaws.Options, opts Options) *env {
	t.Helper()
	srv, err := localaws.New(srvOpts)
	if err != nil {
		t.Fatalf("localaws: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	cfg := srv.SDKConfig()
	// DynamoDB throttles in bursts; the Lambdas give its client more
	// attempts than the SDK's default three, and so do the tests.
	cfg.RetryMaxAttempts = 10
	client := dynamodb.NewFromConfig(cfg)
	createTable(t, client)
	e := &env{srv: srv, client: client}
	now := t0
	e.now = &now
	if opts.Now == nil {
		opts.Now = func() time.Time { return *e.now }
	}
	e.ledger, err = New(client, testTable, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// createTable creates the table as the CDK stack defines it.
func createTable(t *testing.T, c *dynamodb.Client) {
	t.Helper()
	_, err := c.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:   aws.String(testTable),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
}

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func notice(runID string) Notice {
	return Notice{User: "alice", SentAt: t0, Channel: ChannelSES, Contact: "alice@example.com", RunID: runID}
}

// items returns the ledger table's items whose pk is pk.
func (e *env) items(pk string) []map[string]any {
	var out []map[string]any
	for _, it := range e.srv.Items(testTable) {
		if it["pk"] == pk {
			out = append(out, it)
		}
	}
	return out
}

func TestKeyLayout(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{keyPK(keyA), "key#AKIAAAAAAAAAAAAAAAA1"},
		{noticeSK("warn-70"), "notice#warn-70"},
		{actionSK(ActionDeactivate), "action#deactivate"},
		{actionSK(ActionDelete), "action#delete"},
		{creationSK, "created"},
		{runPK("2026-03-01"), "run#2026-03-01"},
		{runSK, "run"},
		{chunkSK(0), "chunk#000000"},
		{chunkSK(42), "chunk#000042"},
		{chunkSK(maxChunks - 1), "chunk#999999"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	// A run's chunks sort in number order, as a Query returns them.
	var sks []string
	for _, n := range []int{10, 2, 100, 1, 0} {
		sks = append(sks, chunkSK(n))
	}
	sort.Strings(sks)
	if want := []string{chunkSK(0), chunkSK(1), chunkSK(2), chunkSK(10), chunkSK(100)}; !slices.Equal(sks, want) {
		t.Errorf("chunks sort as %v", sks)
	}
	// The record kinds of one key never collide.
	kinds := []string{noticeSK("x"), actionSK("x"), creationSK}
	for i, a := range kinds {
		for _, b := range kinds[i+1:] {
			if strings.HasPrefix(a, b) || strings.HasPrefix(b, a) {
				t.Errorf("sort keys %q and %q overlap", a, b)
			}
		}
	}
}

func TestRecordNoticeOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{})
	rec, err := e.ledger.RecordNotice(ctx, keyA, "warn-70", notice("2026-03-01"))
	mustOK(t, "RecordNotice", err)
	if !rec {
		t.Fatal("first RecordNotice: recorded = false")
	}
	later := notice("2026-03-02")
	later.SentAt = t0.Add(24 * time.Hour)
	rec, err = e.ledger.RecordNotice(ctx, keyA, "warn-70", later)
	mustOK(t, "second RecordNotice", err)
	if rec {
		t.Error("second RecordNotice: recorded = true; a stage's notice is recorded once")
	}
	// Another stage, another key: separate records.
	for _, k := range []struct{ key, stage string }{{keyA, "warn-80"}, {keyB, "warn-70"}} {
		rec, err := e.ledger.RecordNotice(ctx, k.key, k.stage, notice("2026-03-01"))
		mustOK(t, "RecordNotice "+k.key+" "+k.stage, err)
		if !rec {
			t.Errorf("RecordNotice %s %s: recorded = false", k.key, k.stage)
		}
	}

	items := e.items(keyPK(keyA))
	if len(items) != 2 {
		t.Fatalf("key A has %d items: %v", len(items), items)
	}
	it := items[0]
	want := map[string]any{
		"pk": "key#" + keyA, "sk": "notice#warn-70", "keyId": keyA, "stage": "warn-70", "user": "alice",
		"sentAt": "2026-03-01T12:00:00Z", "channel": "ses", "contact": "alice@example.com", "dryRun": false,
		"runId": "2026-03-01", "recordedAt": "2026-03-01T12:00:00Z",
		"expiresAt": json.Number(fmt.Sprint(t0.Add(DefaultRetention).Unix())),
	}
	// Exactly these attributes: ids, names, an address and times, nothing
	// else (and never a secret).
	if len(it) != len(want) {
		t.Errorf("stored attributes %v; want %v", it, want)
	}
	for k, v := range want {
		if it[k] != v {
			t.Errorf("stored %s = %v (%T), want %v", k, it[k], it[k], v)
		}
	}
}

// TestDryRunDoesNotSuppress: what a dry run recorded gives way to the first
// real notice or action, once; a dry run never replaces a real record.
func TestDryRunDoesNotSuppress(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{})
	dry := notice("dry")
	dry.DryRun = true
	live := notice("real")
	for i, tc := range []struct {
		n    Notice
		want bool
	}{{dry, true}, {dry, false}, {live, true}, {live, false}, {dry, false}} {
		rec, err := e.ledger.RecordNotice(ctx, keyA, "warn-70", tc.n)
		mustOK(t, "RecordNotice", err)
		if rec != tc.want {
			t.Errorf("notice #%d (dry run %t): recorded = %t, want %t", i, tc.n.DryRun, rec, tc.want)
		}
	}
	for i, tc := range []struct {
		dry, want bool
	}{{true, true}, {false, true}, {false, false}, {true, false}} {
		rec, err := e.ledger.RecordAction(ctx, keyA, ActionDeactivate, Action{At: t0, DryRun: tc.dry})
		mustOK(t, "RecordAction", err)
		if rec != tc.want {
			t.Errorf("action #%d (dry run %t): recorded = %t, want %t", i, tc.dry, rec, tc.want)
		}
	}
	h, err := e.ledger.History(ctx, keyA)
	mustOK(t, "History", err)
	if n := h.Notices["warn-70"]; n.DryRun || n.RunID != "real" || h.Actions[ActionDeactivate].DryRun {
		t.Errorf("history = %+v; want the real records", h)
	}
}

// TestConcurrentRecordNotice: eight Lambdas racing to notify the same key
// at the same stage; exactly one wins.
func TestConcurrentRecordNotice(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{})
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			rec, err := e.ledger.RecordNotice(ctx, keyA, "limit-90", notice(fmt.Sprintf("run-%d", i)))
			if err != nil {
				t.Errorf("RecordNotice #%d: %v", i, err)
			}
			if rec {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d callers recorded the notice; want exactly 1", wins.Load())
	}
	if n := len(e.items(keyPK(keyA))); n != 1 {
		t.Errorf("%d items stored; want 1", n)
	}
}

func TestConfirmNotice(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{})
	_, err := e.ledger.ConfirmNotice(ctx, keyA, "warn-70", t0, "msg-1")
	if !errors.Is(err, ErrNotFound) || step.Name(err) != step.Failed {
		t.Fatalf("ConfirmNotice of an unrecorded notice: %v (%s); want ErrNotFound", err, step.Name(err))
	}
	_, err = e.ledger.RecordNotice(ctx, keyA, "warn-70", notice("r1"))
	mustOK(t, "RecordNotice", err)
	n, err := e.ledger.ConfirmNotice(ctx, keyA, "warn-70", t0.Add(time.Second), "msg-1")
	mustOK(t, "ConfirmNotice", err)
	if !n.DeliveredAt.Equal(t0.Add(time.Second)) || n.MessageID != "msg-1" || n.User != "alice" || n.Contact != "alice@example.com" {
		t.Errorf("ConfirmNotice = %+v", n)
	}
	// A retried confirmation keeps the first.
	n, err = e.ledger.ConfirmNotice(ctx, keyA, "warn-70", t0.Add(time.Minute), "msg-2")
	mustOK(t, "second ConfirmNotice", err)
	if !n.DeliveredAt.Equal(t0.Add(time.Second)) || n.MessageID != "msg-1" {
		t.Errorf("second ConfirmNotice = %+v; want the first confirmation", n)
	}
	h, err := e.ledger.History(ctx, keyA)
	mustOK(t, "History", err)
	if got := h.Notices["warn-70"]; got.MessageID != "msg-1" || !got.RecordedAt.Equal(t0) {
		t.Errorf("History notice = %+v", got)
	}
}

func TestRecordActionOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{})
	a := Action{User: "alice", At: t0, RunID: "2026-03-01", Reason: "96 days old, limit 90"}
	for i, want := range []bool{true, false} {
		rec, err := e.ledger.RecordAction(ctx, keyA, ActionDeactivate, a)
		mustOK(t, "RecordAction", err)
		if rec != want {
			t.Errorf("RecordAction #%d: recorded = %t, want %t", i, rec, want)
		}
	}
	rec, err := e.ledger.RecordAction(ctx, keyA, ActionDelete, a)
	mustOK(t, "RecordAction delete", err)
	if !rec {
		t.Error("RecordAction delete: recorded = false")
	}
	_, err = e.ledger.RecordAction(ctx, keyA, "reactivate", a)
	if !errors.Is(err, ErrInvalidInput) || step.Name(err) != step.InvalidEvent {
		t.Errorf("unknown action: %v", err)
	}
	_, err = e.ledger.RecordAction(ctx, keyA, ActionRotated, a)
	if !errors.Is(err, ErrInvalidInput) {
		t.Errorf("rotated without the new key and secret: %v", err)
	}
}

func TestRecordRotation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{})
	secret := "arn:aws:secretsmanager:us-east-1:123456789012:secret:keywarden/access-key/svc-AbCdEf"
	for _, step := range []struct {
		action string
		a      Action
	}{
		{ActionRotate, Action{User: "svc", At: t0, RunID: "run-1", Reason: "60 days old"}},
		{ActionRotated, Action{User: "svc", At: t0.Add(time.Minute), RunID: "run-1", NewKeyID: "AKIANEW", SecretARN: secret}},
	} {
		rec, err := e.ledger.RecordAction(ctx, keyA, step.action, step.a)
		mustOK(t, "RecordAction "+step.action, err)
		if !rec {
			t.Errorf("RecordAction %s: recorded = false", step.action)
		}
	}
	h, err := e.ledger.History(ctx, keyA)
	mustOK(t, "History", err)
	got := h.Actions[ActionRotated]
	if got.NewKeyID != "AKIANEW" || got.SecretARN != secret || !got.At.Equal(t0.Add(time.Minute)) || !h.Acted(ActionRotate) {
		t.Errorf("rotation read back as %+v (rotate recorded: %t)", got, h.Acted(ActionRotate))
	}
	one, ok, err := e.ledger.Action(ctx, keyA, ActionRotated)
	if err != nil || !ok || one.NewKeyID != "AKIANEW" || one.SecretARN != secret {
		t.Errorf("Action(rotated) = %+v, %t, %v", one, ok, err)
	}
	if _, ok, err := e.ledger.Action(ctx, keyB, ActionRotated); ok || err != nil {
		t.Errorf("Action of a key never rotated: %t, %v", ok, err)
	}
}

func TestHistory(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{})
	h, err := e.ledger.History(ctx, keyA)
	mustOK(t, "History of an unknown key", err)
	if len(h.Notices) != 0 || len(h.Actions) != 0 || h.Creation != nil || h.KeyID != keyA || h.Noticed("warn-70") {
		t.Errorf("empty history = %+v", h)
	}

	mustOK(t, "RecordCreation", e.ledger.RecordCreation(ctx, Creation{KeyID: keyA, User: "alice", CreatorARN: "arn:aws:iam::123456789012:user/admin", SourceIP: "192.0.2.7", UserAgent: "aws-cli/2", CreatedAt: t0.Add(-100 * 24 * time.Hour), EventID: "ev-1"}))
	for i, stage := range []string{"warn-70", "warn-80", "limit-90"} {
		n := notice("r")
		n.SentAt = t0.Add(time.Duration(i) * time.Hour)
		if stage == "limit-90" {
			n.Channel, n.Contact, n.DryRun = ChannelSNS, "", true
		}
		_, err := e.ledger.RecordNotice(ctx, keyA, stage, n)
		mustOK(t, "RecordNotice", err)
	}
	_, err = e.ledger.RecordAction(ctx, keyA, ActionDeactivate, Action{User: "alice", At: t0.Add(3 * time.Hour), Reason: "limit"})
	mustOK(t, "RecordAction", err)
	_, err = e.ledger.RecordNotice(ctx, keyB, "warn-70", notice("r"))
	mustOK(t, "RecordNotice B", err)
	started, err := e.ledger.StartRun(ctx, "2026-03-01", t0)
	mustOK(t, "StartRun", err)
	if !started {
		t.Fatal("StartRun: started = false")
	}

	h, err = e.ledger.History(ctx, keyA)
	mustOK(t, "History", err)
	if len(h.Notices) != 3 || len(h.Actions) != 1 || h.Creation == nil {
		t.Fatalf("History = %+v", h)
	}
	if n := h.Notices["warn-80"]; !n.SentAt.Equal(t0.Add(time.Hour)) || n.Channel != ChannelSES || n.User != "alice" {
		t.Errorf("warn-80 = %+v", n)
	}
	if n := h.Notices["limit-90"]; n.Channel != ChannelSNS || n.Contact != "" || !n.DryRun || !n.DeliveredAt.IsZero() {
		t.Errorf("limit-90 = %+v", n)
	}
	if a := h.Actions[ActionDeactivate]; !a.At.Equal(t0.Add(3*time.Hour)) || a.Reason != "limit" || !h.Acted(ActionDeactivate) || h.Acted(ActionDelete) {
		t.Errorf("actions = %+v", h.Actions)
	}
	if c := h.Creation; c.EventID != "ev-1" || c.SourceIP != "192.0.2.7" || !c.CreatedAt.Equal(t0.Add(-100*24*time.Hour)) {
		t.Errorf("creation = %+v", c)
	}
}

// countingAPI counts the queries in flight, to check Histories' bound.
type countingAPI struct {
	API
	inFlight, peak atomic.Int32
}

func (c *countingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(5 * time.Millisecond) // let the others pile up
	return c.API.Query(ctx, in, optFns...)
}

func TestHistories(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{})
	var keys []string
	for i := range 20 {
		id := fmt.Sprintf("AKIATESTKEY%09d", i)
		keys = append(keys, id)
		if i%2 == 0 {
			_, err := e.ledger.RecordNotice(ctx, id, "warn-70", notice("r"))
			mustOK(t, "RecordNotice", err)
		}
	}
	counting := &countingAPI{API: e.client}
	l, err := New(counting, testTable, Options{Concurrency: 3, Now: func() time.Time { return t0 }})
	mustOK(t, "New", err)
	got, err := l.Histories(ctx, append(keys, keys[0], keys[1])) // duplicates read once
	mustOK(t, "Histories", err)
	if len(got) != 20 {
		t.Fatalf("%d histories; want 20", len(got))
	}
	for i, id := range keys {
		h := got[id]
		if h.KeyID != id || h.Noticed("warn-70") != (i%2 == 0) {
			t.Errorf("history of %s = %+v", id, h)
		}
	}
	if p := counting.peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak concurrency %d; want 2-3 with Concurrency 3", p)
	}
	empty, err := l.Histories(ctx, nil)
	if err != nil || len(empty) != 0 {
		t.Errorf("Histories(nil) = %v, %v", empty, err)
	}
	_, err = l.Histories(ctx, []string{keyA, "not a key"})
	if !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Histories with a bad id: %v", err)
	}

	// One failing query fails the whole call, named and classified.
	mustOK(t, "SetFault", e.srv.SetFault("dynamodb:Query", localaws.Fault{ErrorCode: "AccessDeniedException"}))
	_, err = l.Histories(ctx, keys)
	if step.Name(err) != step.AccessDenied || !strings.Contains(err.Error(), "read history of key AKIATESTKEY") {
		t.Errorf("Histories with denied queries: %v (%s)", err, step.Name(err))
	}
}

func TestRuns(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{})
	_, ok, err := e.ledger.Run(ctx, "2026-03-01")
	mustOK(t, "Run", err)
	if ok {
		t.Error("Run of a run never started: ok")
	}
	_, err = e.ledger.FinishRun(ctx, "2026-03-01", t0, 0)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("FinishRun before StartRun: %v; want ErrNotFound", err)
	}

	// The schedule fires twice: one run.
	for i, want := range []bool{true, false} {
		started, err := e.ledger.StartRun(ctx, "2026-03-01", t0.Add(time.Duration(i)*time.Minute))
		mustOK(t, "StartRun", err)
		if started != want {
			t.Errorf("StartRun #%d: started = %t, want %t", i, started, want)
		}
	}
	r, ok, err := e.ledger.Run(ctx, "2026-03-01")
	mustOK(t, "Run", err)
	if !ok || !r.StartedAt.Equal(t0) || !r.FinishedAt.IsZero() || r.ID != "2026-03-01" {
		t.Errorf("Run = %+v, %t; want started at t0 by the first firing", r, ok)
	}
	for i, want := range []bool{true, false} {
		finished, err := e.ledger.FinishRun(ctx, "2026-03-01", t0.Add(time.Duration(10+i)*time.Minute), 3+i)
		mustOK(t, "FinishRun", err)
		if finished != want {
			t.Errorf("FinishRun #%d: finished = %t, want %t", i, finished, want)
		}
	}
	r, _, err = e.ledger.Run(ctx, "2026-03-01")
	mustOK(t, "Run", err)
	if !r.FinishedAt.Equal(t0.Add(10*time.Minute)) || r.Chunks != 3 {
		t.Errorf("finished Run = %+v; want the first finish", r)
	}
	started, err := e.ledger.StartRun(ctx, "2026-03-02", t0.Add(24*time.Hour))
	mustOK(t, "StartRun next day", err)
	if !started {
		t.Error("the next day's run did not start")
	}
}

func TestChunks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{})
	full := bytes.Repeat([]byte("decision;"), MaxChunkSize/9)
	full = append(full, bytes.Repeat([]byte{0xff}, MaxChunkSize-len(full))...)
	chunks := map[int][]byte{0: []byte(`[{"key":"AKIA…","decision":"warn-70"}]`), 1: full, 2: {}}
	for n, data := range chunks {
		mustOK(t, fmt.Sprintf("PutChunk %d", n), e.ledger.PutChunk(ctx, "2026-03-01", n, data))
	}
	for n, want := range chunks {
		got, err := e.ledger.GetChunk(ctx, "2026-03-01", n)
		mustOK(t, fmt.Sprintf("GetChunk %d", n), err)
		if !bytes.Equal(got, want) || got == nil {
			t.Errorf("chunk %d: got %d bytes, want %d", n, len(got), len(want))
		}
	}
	// A retried step rewrites its chunk.
	mustOK(t, "PutChunk again", e.ledger.PutChunk(ctx, "2026-03-01", 0, []byte("v2")))
	if got, _ := e.ledger.GetChunk(ctx, "2026-03-01", 0); string(got) != "v2" {
		t.Errorf("rewritten chunk = %q", got)
	}

	err := e.ledger.PutChunk(ctx, "2026-03-01", 3, make([]byte, MaxChunkSize+1))
	if !errors.Is(err, ErrChunkTooLarge) || step.Name(err) != step.Failed || !strings.Contains(err.Error(), "chunk 3 of run 2026-03-01") {
		t.Errorf("oversize chunk: %v (%s)", err, step.Name(err))
	}
	_, err = e.ledger.GetChunk(ctx, "2026-03-01", 7)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("missing chunk: %v; want ErrNotFound", err)
	}
	if err := e.ledger.PutChunk(ctx, "2026-03-01", -1, nil); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("chunk -1: %v", err)
	}
}

func TestCreation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{})
	_, ok, err := e.ledger.Creation(ctx, keyA)
	mustOK(t, "Creation", err)
	if ok {
		t.Error("Creation of an unrecorded key: ok")
	}
	c := Creation{KeyID: keyA, User: "alice", CreatorARN: "arn:aws:iam::123456789012:user/admin", SourceIP: "192.0.2.7", UserAgent: "aws-cli/2.15", CreatedAt: t0, EventID: "ev-1"}
	mustOK(t, "RecordCreation", e.ledger.RecordCreation(ctx, c))
	// EventBridge redelivers the same event: success, nothing changes.
	*e.now = t0.Add(time.Hour)
	mustOK(t, "RecordCreation again", e.ledger.RecordCreation(ctx, c))
	got, ok, err := e.ledger.Creation(ctx, keyA)
	mustOK(t, "Creation", err)
	c.RecordedAt = t0
	if !ok || got != c {
		t.Errorf("Creation = %+v, %t; want %+v", got, ok, c)
	}
	other := c
	other.EventID, other.User = "ev-2", "mallory"
	err = e.ledger.RecordCreation(ctx, other)
	if !errors.Is(err, ErrConflict) || step.Name(err) != step.Failed || !strings.Contains(err.Error(), "ev-1") {
		t.Errorf("RecordCreation from another event: %v; want ErrConflict naming ev-1", err)
	}
	if got, _, _ := e.ledger.Creation(ctx, keyA); got.User != "alice" {
		t.Errorf("a conflicting event replaced the record: %+v", got)
	}

	// A creation time taken from eventTime keeps saying so.
	fallback := Creation{KeyID: keyB, User: "bob", CreatorARN: "arn:aws:iam::123456789012:user/admin", CreatedAt: t0, EventID: "ev-3",
		CreatedAtSource: `eventTime (createDate unreadable: "05.09.2024, 18:04:50")`}
	mustOK(t, "RecordCreation", e.ledger.RecordCreation(ctx, fallback))
	got, ok, err = e.ledger.Creation(ctx, keyB)
	mustOK(t, "Creation", err)
	fallback.RecordedAt = *e.now
	if !ok || got != fallback {
		t.Errorf("Creation = %+v, %t; want %+v", got, ok, fallback)
	}
	h, err := e.ledger.History(ctx, keyB)
	mustOK(t, "History", err)
	if h.Creation == nil || h.Creation.CreatedAtSource != fallback.CreatedAtSource {
		t.Errorf("history's creation = %+v", h.Creation)
	}
}

// TestThrottlingIsAbsorbed: with 30% of every DynamoDB call throttled, the
// SDK's retryer absorbs it and every operation behaves as without faults.
func TestThrottlingIsAbsorbed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{Seed: 11}, Options{})
	mustOK(t, "SetFault", e.srv.SetFault("dynamodb:*", localaws.Fault{ThrottleRate: 0.3}))

	for i := range 2 {
		rec, err := e.ledger.RecordNotice(ctx, keyA, "warn-70", notice("r"))
		mustOK(t, "RecordNotice", err)
		if rec != (i == 0) {
			t.Errorf("RecordNotice #%d: recorded = %t", i, rec)
		}
		rec, err = e.ledger.RecordAction(ctx, keyA, ActionDeactivate, Action{User: "alice", At: t0})
		mustOK(t, "RecordAction", err)
		if rec != (i == 0) {
			t.Errorf("RecordAction #%d: recorded = %t", i, rec)
		}
		started, err := e.ledger.StartRun(ctx, "2026-03-01", t0)
		mustOK(t, "StartRun", err)
		if started != (i == 0) {
			t.Errorf("StartRun #%d: started = %t", i, started)
		}
		mustOK(t, "RecordCreation", e.ledger.RecordCreation(ctx, Creation{KeyID: keyA, User: "alice", CreatedAt: t0, EventID: "ev"}))
	}
	_, err := e.ledger.ConfirmNotice(ctx, keyA, "warn-70", t0, "m")
	mustOK(t, "ConfirmNotice", err)
	mustOK(t, "PutChunk", e.ledger.PutChunk(ctx, "2026-03-01", 0, []byte("x")))
	_, err = e.ledger.GetChunk(ctx, "2026-03-01", 0)
	mustOK(t, "GetChunk", err)
	_, err = e.ledger.FinishRun(ctx, "2026-03-01", t0, 1)
	mustOK(t, "FinishRun", err)
	hs, err := e.ledger.Histories(ctx, []string{keyA, keyB})
	mustOK(t, "Histories", err)
	if !hs[keyA].Noticed("warn-70") || !hs[keyA].Acted(ActionDeactivate) || hs[keyA].Creation == nil {
		t.Errorf("history = %+v", hs[keyA])
	}

	throttled := 0
	for _, c := range e.srv.Calls() {
		if c.Service == "dynamodb" && c.ErrorCode == "ProvisionedThroughputExceededException" && c.Injected {
			throttled++
		}
	}
	if throttled == 0 {
		t.Error("no call was throttled; the test proves nothing")
	}
}

// TestThrottlingExhausted: when the SDK's retries run out, the error is
// named Throttled for the state machine's Retry.
func TestThrottlingExhausted(t *testing.T) {
	e := newEnv(t, localaws.Options{}, Options{})
	mustOK(t, "SetFault", e.srv.SetFault("dynamodb:PutItem", localaws.Fault{ThrottleRate: 1}))
	_, err := e.ledger.RecordNotice(context.Background(), keyA, "warn-70", notice("r"))
	if step.Name(err) != step.Throttled || !strings.Contains(err.Error(), "record notice warn-70 for key "+keyA) {
		t.Errorf("err = %v (%s); want Throttled with context", err, step.Name(err))
	}
}

// TestConditionalCheckFailedNeverSurfaces repeats every idempotent write
// and checks that DynamoDB refused the repeats while the ledger reported
// them as "already recorded", never as errors.
func TestConditionalCheckFailedNeverSurfaces(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{})
	for range 3 {
		_, err := e.ledger.RecordNotice(ctx, keyA, "warn-70", notice("r"))
		mustOK(t, "RecordNotice", err)
		_, err = e.ledger.RecordAction(ctx, keyA, ActionDelete, Action{At: t0})
		mustOK(t, "RecordAction", err)
		_, err = e.ledger.StartRun(ctx, "r", t0)
		mustOK(t, "StartRun", err)
		_, err = e.ledger.FinishRun(ctx, "r", t0, 0)
		mustOK(t, "FinishRun", err)
		_, err = e.ledger.ConfirmNotice(ctx, keyA, "warn-70", t0, "m")
		mustOK(t, "ConfirmNotice", err)
		mustOK(t, "RecordCreation", e.ledger.RecordCreation(ctx, Creation{KeyID: keyA, CreatedAt: t0, EventID: "ev"}))
	}
	refused := 0
	for _, c := range e.srv.Calls() {
		if c.ErrorCode == "ConditionalCheckFailedException" {
			refused++
		}
	}
	if refused != 12 {
		t.Errorf("%d conditional writes refused; want 2 repeats × 6 operations", refused)
	}
}

// TestExpiredRecordsAreAbsent: past its expiresAt, a record counts as gone
// even before DynamoDB's TTL sweep deletes it, for reads and writes alike.
func TestExpiredRecordsAreAbsent(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{Retention: 48 * time.Hour})
	_, err := e.ledger.RecordNotice(ctx, keyA, "warn-70", notice("r1"))
	mustOK(t, "RecordNotice", err)
	*e.now = t0.Add(72 * time.Hour)
	h, err := e.ledger.History(ctx, keyA)
	mustOK(t, "History", err)
	if h.Noticed("warn-70") {
		t.Error("an expired notice is still in the history")
	}
	rec, err := e.ledger.RecordNotice(ctx, keyA, "warn-70", notice("r2"))
	mustOK(t, "RecordNotice after expiry", err)
	if !rec {
		t.Error("RecordNotice over an expired record: recorded = false")
	}
	h, err = e.ledger.History(ctx, keyA)
	mustOK(t, "History", err)
	if n := h.Notices["warn-70"]; n.RunID != "r2" {
		t.Errorf("notice = %+v; want the new record", n)
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{})
	l := e.ledger
	ses := notice("r")
	for name, call := range map[string]func() error{
		"short key id": func() error { _, err := l.RecordNotice(ctx, "AKIA1", "warn-70", ses); return err },
		"key id with #": func() error {
			_, err := l.RecordNotice(ctx, "AKIAAAAAAAAAAAAA#notice", "warn-70", ses)
			return err
		},
		"empty stage":  func() error { _, err := l.RecordNotice(ctx, keyA, "", ses); return err },
		"stage with #": func() error { _, err := l.RecordNotice(ctx, keyA, "a#b", ses); return err },
		"unknown channel": func() error {
			n := ses
			n.Channel = "sms"
			_, err := l.RecordNotice(ctx, keyA, "warn-70", n)
			return err
		},
		"ses without contact": func() error { n := ses; n.Contact = ""; _, err := l.RecordNotice(ctx, keyA, "warn-70", n); return err },
		"no SentAt": func() error {
			n := ses
			n.SentAt = time.Time{}
			_, err := l.RecordNotice(ctx, keyA, "warn-70", n)
			return err
		},
		"action without At": func() error { _, err := l.RecordAction(ctx, keyA, ActionDelete, Action{}); return err },
		"creation no event": func() error { return l.RecordCreation(ctx, Creation{KeyID: keyA, CreatedAt: t0}) },
		"empty run id":      func() error { _, err := l.StartRun(ctx, "", t0); return err },
		"run id with #":     func() error { _, err := l.StartRun(ctx, "a#b", t0); return err },
		"negative chunks":   func() error { _, err := l.FinishRun(ctx, "r", t0, -1); return err },
		"history bad key":   func() error { _, err := l.History(ctx, "x"); return err },
		"confirm bad stage": func() error { _, err := l.ConfirmNotice(ctx, keyA, "", t0, "m"); return err },
	} {
		err := call()
		if !errors.Is(err, ErrInvalidInput) || step.Name(err) != step.InvalidEvent {
			t.Errorf("%s: %v (%s); want ErrInvalidInput named %s", name, err, step.Name(err), step.InvalidEvent)
		}
	}
	if n := len(e.srv.Calls()); n != 1 { // CreateTable only
		t.Errorf("invalid input reached DynamoDB: %d calls", n)
	}

	for name, build := range map[string]func() (*Ledger, error){
		"no client":          func() (*Ledger, error) { return New(nil, testTable, Options{}) },
		"bad table":          func() (*Ledger, error) { return New(e.client, "x", Options{}) },
		"short retention":    func() (*Ledger, error) { return New(e.client, testTable, Options{Retention: time.Hour}) },
		"negative retention": func() (*Ledger, error) { return New(e.client, testTable, Options{Retention: -time.Hour}) },
		"bad concurrency":    func() (*Ledger, error) { return New(e.client, testTable, Options{Concurrency: -1}) },
	} {
		if _, err := build(); step.Name(err) != step.InvalidSetting {
			t.Errorf("%s: %v; want %s", name, err, step.InvalidSetting)
		}
	}
}
