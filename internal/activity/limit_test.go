package activity

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/clock"
)

const ms = time.Millisecond

func TestRequestsToARegionAreSpaced(t *testing.T) {
	tests := []struct {
		name    string
		latency time.Duration // how long each call takes
		want    []time.Duration
	}{
		{"instant answers wait the whole interval", 0, []time.Duration{500 * ms, 500 * ms, 500 * ms}},
		{"slow answers wait the rest", 200 * ms, []time.Duration{300 * ms, 300 * ms, 300 * ms}},
		{"answers as slow as the interval do not wait", 500 * ms, nil},
		{"slower answers do not wait", 1500 * ms, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: now}
			f := newFakeTrail(t, "us-east-1", window,
				byKey("", "t2"), byKey("t2", ""), byUser("", "u2"), byUser("u2", ""))
			f.clock, f.latency = clock, tt.latency
			if _, err := testHandler(t, 500, clock, nil, f).Handle(context.Background(), Input{Finding: finding(user, false)}); err != nil {
				t.Fatal(err)
			}
			if got := clock.slept(); !slices.Equal(got, tt.want) {
				t.Errorf("slept %v, want %v", got, tt.want)
			}
		})
	}
}

// A warm Lambda keeps the pace across invocations.
func TestRateLimitSpansInvocations(t *testing.T) {
	clock := &fakeClock{t: now}
	f := newFakeTrail(t, "us-east-1", window, byKey("", ""), byKey("", ""))
	h := testHandler(t, 500, clock, nil, f)
	for range 2 {
		// Both lookups see the same window: the clock only moves by sleeps,
		// and 500ms does not reach the next second.
		if _, err := h.Handle(context.Background(), Input{Finding: finding("", false)}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := clock.slept(), []time.Duration{500 * ms}; !slices.Equal(got, want) {
		t.Errorf("slept %v, want %v", got, want)
	}
}

// Each region has its own quota: two regions searched at once do not wait
// for each other.
func TestRateLimitIsPerRegion(t *testing.T) {
	clock := &fakeClock{t: now, frozen: true}
	us := newFakeTrail(t, "us-east-1", window, byKey("", "t2"), byKey("t2", ""))
	eu := newFakeTrail(t, "eu-west-1", window, byKey("", "t2"), byKey("t2", ""))
	if _, err := testHandler(t, 500, clock, nil, us, eu).Handle(context.Background(), Input{Finding: finding("", false)}); err != nil {
		t.Fatal(err)
	}
	// A shared limiter would have asked for 500ms, 1s and 1.5s.
	if got, want := clock.slept(), []time.Duration{500 * ms, 500 * ms}; !slices.Equal(got, want) {
		t.Errorf("slept %v, want %v", got, want)
	}
}

func TestLimiterHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := newLimiter(func() time.Time { return now }, clock.Sleep)
	if err := l.wait(ctx, "us-east-1"); err == nil {
		t.Error("wait on a cancelled context succeeded")
	}
}
