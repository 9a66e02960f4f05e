package inventory

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/step"
)

var start = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func TestCacheWithinAndAfterTTL(t *testing.T) {
	ctx := context.Background()
	to := newTestOrg(t)
	clk := &fakeClock{now: start}
	inv := mustNew(t, to, to.settings(to.sandbox), Options{Now: clk.Now, TTL: 15 * time.Minute})

	first, err := inv.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, mark := callCounts(to.hub, 0)
	clk.Advance(15*time.Minute - time.Second)
	again, err := inv.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := inv.InScope(ctx, sandboxID(1)); err != nil || !d.InScope {
		t.Errorf("InScope from the cache: %v, %v", d, err)
	}
	if got, _ := callCounts(to.hub, mark); len(got) != 0 || again != first {
		t.Errorf("within the TTL: calls %v, same read %v; want none and the cached read", got, again == first)
	}

	clk.Advance(time.Second)
	fresh, err := inv.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := callCounts(to.hub, mark); got["DescribeOrganization"] != 1 || fresh == first || !fresh.ReadAt.Equal(start.Add(15*time.Minute)) {
		t.Errorf("at the TTL: calls %v, read at %v; want a new read", got, fresh.ReadAt)
	}
}

func TestCacheServesStaleWithinBound(t *testing.T) {
	ctx := context.Background()
	to := newTestOrg(t)
	clk := &fakeClock{now: start}
	var sl sleeps
	inv := mustNew(t, to, to.settings(to.sandbox), Options{Now: clk.Now, Sleep: sl.sleep, MaxAttempts: 2,
		TTL: 15 * time.Minute, MaxStale: time.Hour})
	good, err := inv.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := to.hub.SetFault("organizations:*", localaws.Fault{ThrottleRate: 1}); err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Hour) // stale, but not beyond the bound
	s, err := inv.Accounts(ctx)
	if err != nil || s != good {
		t.Fatalf("a failed refresh within MaxStale: %v, same read %v; want the last good read", err, s == good)
	}
	if d, err := inv.InScope(ctx, sandboxID(2)); err != nil || !d.InScope {
		t.Errorf("InScope on the stale read: %v, %v", d, err)
	}
	_, mark := callCounts(to.hub, 0)

	clk.Advance(time.Second) // beyond the bound
	_, err = inv.Accounts(ctx)
	if !errors.Is(err, ErrTooStale) || !errors.Is(err, ErrUnavailable) || step.Name(err) != step.Throttled {
		t.Fatalf("beyond MaxStale: %v (%s), want ErrTooStale wrapping ErrUnavailable", err, step.Name(err))
	}
	if _, err := inv.InScope(ctx, sandboxID(2)); !errors.Is(err, ErrTooStale) {
		t.Errorf("InScope beyond MaxStale: %v", err)
	}
	if got, _ := callCounts(to.hub, mark); got["DescribeOrganization/TooManyRequestsException"] == 0 {
		t.Errorf("calls %v: each call past the TTL tries a refresh", got)
	}

	// Organizations recovers: the next call reads again.
	if err := to.hub.SetFault("organizations:*", localaws.Fault{}); err != nil {
		t.Fatal(err)
	}
	s, err = inv.Accounts(ctx)
	if err != nil || s == good || !s.ReadAt.Equal(clk.Now()) {
		t.Errorf("after recovery: %v, %+v", err, s)
	}
}

func TestNoStaleReadBeforeTheFirst(t *testing.T) {
	to := newTestOrg(t)
	if err := to.hub.SetFault("organizations:*", localaws.Fault{ThrottleRate: 1}); err != nil {
		t.Fatal(err)
	}
	var sl sleeps
	inv := mustNew(t, to, to.settings(to.sandbox), Options{Sleep: sl.sleep, MaxAttempts: 2})
	if _, err := inv.Accounts(context.Background()); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrTooStale) {
		t.Errorf("first read throttled: %v, want ErrUnavailable", err)
	}
}

func TestConcurrentCallersShareOneRead(t *testing.T) {
	to := newTestOrg(t)
	if err := to.hub.SetFault("organizations:*", localaws.Fault{Latency: 5 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	inv := mustNew(t, to, to.settings(to.workloads), Options{})
	var wg sync.WaitGroup
	reads := make([]*Snapshot, 20)
	for i := range reads {
		wg.Go(func() {
			s, err := inv.Accounts(context.Background())
			if err != nil {
				t.Error(err)
			}
			reads[i] = s
		})
	}
	wg.Wait()
	if got, _ := callCounts(to.hub, 0); got["DescribeOrganization"] != 1 {
		t.Errorf("calls %v: 20 concurrent callers, want one read", got)
	}
	for _, s := range reads {
		if s != reads[0] {
			t.Fatal("callers got different reads")
		}
	}
}

func TestWaitForRefreshEndsWithContext(t *testing.T) {
	to := newTestOrg(t)
	inv := mustNew(t, to, to.settings(to.sandbox), Options{})
	inv.refreshing <- struct{}{} // a refresh that never ends
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := inv.Accounts(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting on a stuck refresh: %v, want DeadlineExceeded", err)
	}
}
