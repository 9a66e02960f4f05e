package inventory

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/step"
)

// sdkAttempts is how many times the SDK's standard retryer (localaws's
// SDKConfig keeps its default of 3 attempts) sends a throttled call before
// the inventory sees the error.
const sdkAttempts = 3

func TestThrottledThenSucceeds(t *testing.T) {
	to := newTestOrg(t)
	if err := to.hub.SetFault("organizations:ListAccounts", localaws.Fault{ThrottleRate: 1}); err != nil {
		t.Fatal(err)
	}
	// Organizations recovers while the inventory waits out its first back-off.
	sl := sleeps{then: func(int) { _ = to.hub.SetFault("organizations:ListAccounts", localaws.Fault{}) }}
	inv := mustNew(t, to, to.settings(to.workloads), Options{Sleep: sl.sleep, FirstDelay: 100 * time.Millisecond})
	s, err := inv.Accounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Accounts) != 36 {
		t.Errorf("%d accounts after recovering", len(s.Accounts))
	}
	waits := sl.all()
	if len(waits) != 1 || waits[0] < 50*time.Millisecond || waits[0] > 100*time.Millisecond {
		t.Errorf("waits %v, want one within 50-100ms", waits)
	}
	got, _ := callCounts(to.hub, 0)
	if got["ListAccounts/TooManyRequestsException"] != sdkAttempts || got["ListAccounts"] != 3 {
		t.Errorf("calls %v: want %d throttled ListAccounts (one attempt of the inventory), then 3 pages", got, sdkAttempts)
	}
	if s.Calls != 51 { // TestCallsPerRead's 50, and the throttled attempt
		t.Errorf("Snapshot.Calls = %d, want 51", s.Calls)
	}
}

func TestPersistentThrottling(t *testing.T) {
	to := newTestOrg(t)
	if err := to.hub.SetFault("organizations:ListTagsForResource", localaws.Fault{ThrottleRate: 1}); err != nil {
		t.Fatal(err)
	}
	var sl sleeps
	inv := mustNew(t, to, to.settings(to.sandbox), Options{Sleep: sl.sleep, MaxAttempts: 4, TagReaders: 1,
		FirstDelay: 100 * time.Millisecond, MaxDelay: 250 * time.Millisecond})
	_, err := inv.Accounts(context.Background())
	if !errors.Is(err, ErrUnavailable) || step.Name(err) != step.Throttled {
		t.Fatalf("got %v (%s), want ErrUnavailable named Throttled", err, step.Name(err))
	}
	for _, want := range []string{"organizations:ListTagsForResource", "4 times", sandboxID(1)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Doubling from 100ms, capped at 250ms, each in its upper half.
	waits := sl.all()
	bounds := [][2]time.Duration{{50, 100}, {100, 200}, {125, 250}}
	if len(waits) != len(bounds) {
		t.Fatalf("waits %v, want %d", waits, len(bounds))
	}
	for i, b := range bounds {
		if waits[i] < b[0]*time.Millisecond || waits[i] > b[1]*time.Millisecond {
			t.Errorf("wait %d = %v, want %d-%dms", i+1, waits[i], b[0], b[1])
		}
	}
	got, _ := callCounts(to.hub, 0)
	if got["ListTagsForResource/TooManyRequestsException"] != 4*sdkAttempts {
		t.Errorf("calls %v, want %d throttled tag reads (4 attempts of %d)", got, 4*sdkAttempts, sdkAttempts)
	}
}

func TestServerErrorsRetried(t *testing.T) {
	to := newTestOrg(t)
	if err := to.hub.SetFault("organizations:DescribeOrganization", localaws.Fault{ServerErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	var sl sleeps
	inv := mustNew(t, to, to.settings(to.sandbox), Options{Sleep: sl.sleep, MaxAttempts: 2})
	_, err := inv.Accounts(context.Background())
	if !errors.Is(err, ErrUnavailable) || step.Name(err) != step.Transient || len(sl.all()) != 1 {
		t.Errorf("got %v (%s) after waits %v, want ErrUnavailable named Transient after one wait", err, step.Name(err), sl.all())
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	to := newTestOrg(t)
	if err := to.hub.SetFault("organizations:DescribeOrganization", localaws.Fault{ThrottleRate: 1}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sl := sleeps{then: func(int) { cancel() }}
	inv := mustNew(t, to, to.settings(to.sandbox), Options{Sleep: func(ctx context.Context, d time.Duration) error {
		_ = sl.sleep(ctx, d)
		return ctx.Err()
	}})
	if _, err := inv.Accounts(ctx); !errors.Is(err, context.Canceled) || len(sl.all()) != 1 {
		t.Errorf("got %v after %d waits, want Canceled after one", err, len(sl.all()))
	}
}

func TestJitter(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 3, time.Second} {
		for range 200 {
			if j := jitter(d); j < d/2 || j > d {
				t.Fatalf("jitter(%v) = %v, want within [%v, %v]", d, j, d/2, d)
			}
		}
	}
}
