package ledger

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/step"
)

func TestRunParts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{}, Options{})
	const run = "daily-2026-03-01"
	// More parts than one page of a small Query would hold, and a chunk
	// in the same partition that RunParts must not return.
	want := map[string]string{"accounts": `{"accounts":[]}`}
	for i := range 30 {
		name := fmt.Sprintf("account#%012d", i)
		want[name] = fmt.Sprintf(`{"n":%d}`, i)
	}
	for name, data := range want {
		mustOK(t, "PutRunPart "+name, e.ledger.PutRunPart(ctx, run, name, []byte(data)))
	}
	mustOK(t, "PutChunk", e.ledger.PutChunk(ctx, run, 0, []byte("chunk")))
	mustOK(t, "PutRunPart other run", e.ledger.PutRunPart(ctx, run+"-x", "account#000000000001", []byte("other")))

	got, err := e.ledger.RunParts(ctx, run, "account#")
	mustOK(t, "RunParts", err)
	if len(got) != 30 {
		t.Fatalf("RunParts(account#): %d parts, want 30", len(got))
	}
	for name, data := range got {
		if want[name] != string(data) {
			t.Errorf("part %s = %q, want %q", name, data, want[name])
		}
	}
	all, err := e.ledger.RunParts(ctx, run, "")
	mustOK(t, "RunParts all", err)
	if len(all) != 31 || string(all["accounts"]) != want["accounts"] {
		t.Errorf("RunParts(\"\"): %d parts, accounts %q", len(all), all["accounts"])
	}
	// A retried step rewrites its part.
	mustOK(t, "PutRunPart again", e.ledger.PutRunPart(ctx, run, "accounts", []byte("v2")))
	if got, _ := e.ledger.RunParts(ctx, run, "accounts"); string(got["accounts"]) != "v2" {
		t.Errorf("rewritten part = %q", got["accounts"])
	}
	// Expired parts are absent.
	*e.now = e.now.Add(DefaultRetention + time.Hour)
	if got, _ := e.ledger.RunParts(ctx, run, ""); len(got) != 0 {
		t.Errorf("expired parts still read: %d", len(got))
	}

	for _, tc := range []struct{ run, name string }{{"", "accounts"}, {run, ""}, {run, "a b"}, {"run id!", "x"}} {
		if err := e.ledger.PutRunPart(ctx, tc.run, tc.name, nil); !errors.Is(err, ErrInvalidInput) || step.Name(err) != step.InvalidEvent {
			t.Errorf("PutRunPart(%q, %q) = %v", tc.run, tc.name, err)
		}
	}
	if err := e.ledger.PutRunPart(ctx, run, "big", make([]byte, MaxRunPartSize+1)); !errors.Is(err, ErrChunkTooLarge) {
		t.Errorf("oversize part: %v", err)
	}
}
