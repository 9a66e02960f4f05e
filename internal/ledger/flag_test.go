package ledger

import (
	"context"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/localaws"
)

func TestFlagsSince(t *testing.T) {
	e := newEnv(t, localaws.Options{}, Options{})
	ctx := context.Background()
	day1 := time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)
	day2 := day1.Add(2 * time.Minute) // past midnight: another partition
	for _, f := range []Flag{
		{Kind: "created-against-policy", KeyID: keyA, User: "gina", At: day1, Detail: "tag says no keys"},
		{Kind: "created-against-policy", KeyID: keyB, User: "ivan", At: day2, Detail: "tag says no keys"},
		{Kind: "created-against-policy", KeyID: keyA, User: "gina", At: day1, Detail: "redelivered"},
		{Kind: "other", KeyID: keyB, User: "ivan", At: day2},
	} {
		mustOK(t, "RecordFlag", e.ledger.RecordFlag(ctx, f))
	}
	got, err := e.ledger.FlagsSince(ctx, "created-against-policy", day1.Add(-time.Hour), day2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].KeyID != keyA || got[1].KeyID != keyB || got[0].Detail != "tag says no keys" {
		t.Errorf("flags %+v", got)
	}
	later, err := e.ledger.FlagsSince(ctx, "created-against-policy", day2, day2.Add(time.Hour))
	if err != nil || len(later) != 1 || later[0].User != "ivan" {
		t.Errorf("since day 2: %+v, %v", later, err)
	}
	if err := e.ledger.RecordFlag(ctx, Flag{Kind: "bad kind!", KeyID: keyA, At: day1}); err == nil {
		t.Error("a malformed kind must be refused")
	}
}
