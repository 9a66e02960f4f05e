package activity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// Times shared by the tests: the lookup runs at now; CloudTrail sees whole
// seconds, so the window ends at now truncated.
var (
	now       = time.Date(2026, 3, 14, 15, 0, 0, 250_000_000, time.UTC)
	windowEnd = time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)
)

const (
	keyID = "AKIAIOSFODNN7EXAMPLE"
	user  = "deploy-bot"
)

// stub is one expected LookupEvents call and its answer, in the manner of
// awsdocs gov2 testtools: the call's input must match exactly, in order.
type stub struct {
	attr  types.LookupAttributeKey
	value string
	token string // the NextToken expected; "" on a lookup's first page
	out   *cloudtrail.LookupEventsOutput
	err   error
	// before runs when the call is made, before it answers.
	before func()
}

// page answers a call with events and, unless next is "", a NextToken.
func page(attr types.LookupAttributeKey, value, token, next string, events ...types.Event) stub {
	out := &cloudtrail.LookupEventsOutput{Events: events}
	if next != "" {
		out.NextToken = aws.String(next)
	}
	return stub{attr: attr, value: value, token: token, out: out}
}

func byKey(token, next string, events ...types.Event) stub {
	return page(types.LookupAttributeKeyAccessKeyId, keyID, token, next, events...)
}

func byUser(token, next string, events ...types.Event) stub {
	return page(types.LookupAttributeKeyUsername, user, token, next, events...)
}

func failing(attr types.LookupAttributeKey, value, token string, err error) stub {
	return stub{attr: attr, value: value, token: token, err: err}
}

// fakeTrail is one region's CloudTrail. It fails the test on an unexpected
// call or input, and at the end of the test if a stub went unused.
type fakeTrail struct {
	t          *testing.T
	region     string
	start, end time.Time
	clock      *fakeClock // advanced by latency per call, when set
	latency    time.Duration
	mu         sync.Mutex
	stubs      []stub
	next       int
}

func newFakeTrail(t *testing.T, region string, window time.Duration, stubs ...stub) *fakeTrail {
	t.Helper()
	f := &fakeTrail{t: t, region: region, start: windowEnd.Add(-window), end: windowEnd, stubs: stubs}
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.next < len(f.stubs) {
			t.Errorf("%s: %d of %d expected LookupEvents calls were not made; next: %s",
				region, len(f.stubs)-f.next, len(f.stubs), f.describe(f.stubs[f.next]))
		}
	})
	return f
}

func (f *fakeTrail) describe(s stub) string {
	return fmt.Sprintf("%s=%s start=%s end=%s max=50 token=%q", s.attr, s.value,
		f.start.Format(time.RFC3339), f.end.Format(time.RFC3339), s.token)
}

func describeInput(in *cloudtrail.LookupEventsInput) string {
	if in == nil {
		return "<nil input>"
	}
	attr := "<no attribute>"
	if len(in.LookupAttributes) == 1 {
		a := in.LookupAttributes[0]
		attr = fmt.Sprintf("%s=%s", a.AttributeKey, aws.ToString(a.AttributeValue))
	} else if len(in.LookupAttributes) > 1 {
		attr = fmt.Sprintf("<%d attributes>", len(in.LookupAttributes))
	}
	s := fmt.Sprintf("%s start=%s end=%s max=%d token=%q", attr,
		aws.ToTime(in.StartTime).Format(time.RFC3339), aws.ToTime(in.EndTime).Format(time.RFC3339),
		aws.ToInt32(in.MaxResults), aws.ToString(in.NextToken))
	if in.EventCategory != "" {
		s += " category=" + string(in.EventCategory)
	}
	return s
}

func (f *fakeTrail) LookupEvents(ctx context.Context, in *cloudtrail.LookupEventsInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.clock != nil {
		f.clock.advance(f.latency)
	}
	if f.next >= len(f.stubs) {
		f.t.Errorf("%s: unexpected LookupEvents call %s", f.region, describeInput(in))
		return nil, errors.New("unexpected call")
	}
	s := f.stubs[f.next]
	f.next++
	if got, want := describeInput(in), f.describe(s); got != want {
		f.t.Errorf("%s: call %d:\n got  %s\n want %s", f.region, f.next, got, want)
	}
	// Exact times, not just the same second.
	if in != nil && (!aws.ToTime(in.StartTime).Equal(f.start) || !aws.ToTime(in.EndTime).Equal(f.end)) {
		f.t.Errorf("%s: call %d: window %v..%v, want %v..%v", f.region, f.next,
			aws.ToTime(in.StartTime), aws.ToTime(in.EndTime), f.start, f.end)
	}
	if s.before != nil {
		s.before()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.out, s.err
}

// calls is how many calls were made.
func (f *fakeTrail) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.next
}

// fakeClock is a clock that moves only when told: by Sleep, and by a
// fakeTrail's latency. It records the sleeps asked for.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	frozen bool // Sleep does not advance the clock
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	if !c.frozen {
		c.t = c.t.Add(d)
	}
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// record is an event's CloudTrailEvent JSON with the fields the summary
// reads, plus parameters that must never reach it.
func record(ip, region, errorCode string) string {
	m := map[string]any{
		"eventVersion":      "1.09",
		"sourceIPAddress":   ip,
		"awsRegion":         region,
		"requestParameters": map[string]string{"password": "SECRET-MUST-NOT-LEAK"},
	}
	if errorCode != "" {
		m["errorCode"] = errorCode
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// ev is an event called name at minutes before windowEnd, from ip in region.
func ev(id, name string, minutesAgo int, ip, region string, resources ...types.Resource) types.Event {
	return types.Event{
		EventId:         aws.String(id),
		EventName:       aws.String(name),
		EventTime:       aws.Time(windowEnd.Add(-time.Duration(minutesAgo) * time.Minute)),
		Username:        aws.String(user),
		AccessKeyId:     aws.String(keyID),
		CloudTrailEvent: aws.String(record(ip, region, "")),
		Resources:       resources,
	}
}

// withError sets the event's errorCode.
func withError(e types.Event, code string) types.Event {
	var m map[string]any
	if err := json.Unmarshal([]byte(*e.CloudTrailEvent), &m); err != nil {
		panic(err)
	}
	m["errorCode"] = code
	b, _ := json.Marshal(m)
	e.CloudTrailEvent = aws.String(string(b))
	return e
}

func res(typ, name string) types.Resource {
	return types.Resource{ResourceType: aws.String(typ), ResourceName: aws.String(name)}
}

// events makes n events named name, with ids prefix-1…prefix-n, newest
// first, one a minute.
func events(prefix, name string, n int) []types.Event {
	out := make([]types.Event, n)
	for i := range out {
		out[i] = ev(fmt.Sprintf("%s-%d", prefix, i+1), name, i+1, "203.0.113.7", "us-east-1")
	}
	return out
}
