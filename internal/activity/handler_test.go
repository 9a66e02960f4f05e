package activity

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/step"
)

const window = 24 * time.Hour

// apiError is an AWS error as the SDK returns it: an operation error around
// the service's error code.
func apiError(code string) error {
	return &smithy.OperationError{
		ServiceID: "CloudTrail", OperationName: "LookupEvents",
		Err: &smithy.GenericAPIError{Code: code, Message: code + " for the test", Fault: smithy.FaultClient},
	}
}

func finding(userName string, root bool) event.Exposure {
	return event.Exposure{
		Signal: "trusted-advisor", Account: "111122223333", Region: "us-east-1",
		ReportedAt: now.Add(-20 * time.Minute), AccessKeyID: keyID, UserName: userName, Root: root,
	}
}

// testHandler wires fakes into a Handler whose clock never waits for real.
func testHandler(t *testing.T, maxEvents int, clock *fakeClock, log io.Writer, fakes ...*fakeTrail) *Handler {
	t.Helper()
	byRegion := map[string]*fakeTrail{}
	var regions []string
	for _, f := range fakes {
		byRegion[f.region] = f
		regions = append(regions, f.region)
	}
	if log == nil {
		log = io.Discard
	}
	return &Handler{
		Clients: func(r string) LookupAPI {
			f, ok := byRegion[r]
			if !ok {
				t.Errorf("no CloudTrail client for %s", r)
				return nil
			}
			return f
		},
		Regions: regions, Window: window, MaxEvents: maxEvents,
		Now: clock.Now, Sleep: clock.Sleep,
		Logger: slog.New(slog.NewJSONHandler(log, nil)),
	}
}

func TestHandle(t *testing.T) {
	type region struct {
		name  string
		stubs []stub
	}
	us := func(stubs ...stub) region { return region{"us-east-1", stubs} }
	eu := func(stubs ...stub) region { return region{"eu-west-1", stubs} }
	keyAttr, userAttr := types.LookupAttributeKeyAccessKeyId, types.LookupAttributeKeyUsername
	malformed := ev("m1", "ListBuckets", 3, "", "")
	malformed.CloudTrailEvent = aws.String(`{"eventVersion": "1.09", "sourceIPAddress": "203.0`)
	missing := ev("m2", "ListBuckets", 4, "", "")
	missing.CloudTrailEvent = nil
	wrongType := ev("m3", "ListBuckets", 5, "", "")
	wrongType.CloudTrailEvent = aws.String(`{"sourceIPAddress": 42, "awsRegion": "eu-west-1"}`)

	tests := []struct {
		name      string
		finding   event.Exposure
		maxEvents int
		regions   []region

		wantErr       string // step.Name of the error; "" for success
		wantErrText   []string
		wantTotal     int
		wantRequests  int
		wantTruncated bool
		wantBy        []string
		wantUser      string
		wantFailed    []string // region:error
		wantMalformed int
		wantNames     []Count // checked when set
		wantIPs       []Count
		wantRegions   []Count
	}{
		{
			name: "pages follow NextToken", finding: finding(user, false), maxEvents: 500,
			regions: []region{us(
				byKey("", "t2", events("a", "ListBuckets", 50)...),
				byKey("t2", "t3", events("b", "ListBuckets", 50)...),
				byKey("t3", "", events("c", "GetCallerIdentity", 7)...),
				byUser("", ""),
			)},
			wantTotal: 107, wantRequests: 4, wantBy: []string{"AccessKeyId", "Username"}, wantUser: user,
			wantNames: []Count{{"ListBuckets", 100}, {"GetCallerIdentity", 7}},
		},
		{
			name: "bound stops paging mid-page and sets Truncated", finding: finding(user, false), maxEvents: 60,
			regions: []region{us(
				byKey("", "t2", events("a", "ListBuckets", 50)...),
				byKey("t2", "t3", events("b", "GetCallerIdentity", 50)...),
				byUser("", "u2", events("c", "DescribeInstances", 50)...),
				byUser("u2", "", events("d", "DescribeInstances", 5)...),
			)},
			wantTotal: 115, wantRequests: 4, wantTruncated: true, wantBy: []string{"AccessKeyId", "Username"}, wantUser: user,
			wantNames: []Count{{"DescribeInstances", 55}, {"ListBuckets", 50}, {"GetCallerIdentity", 10}},
		},
		{
			name: "bound reached with a NextToken left is truncated", finding: finding("", false), maxEvents: 50,
			regions: []region{us(
				byKey("", "t2", events("a", "ListBuckets", 50)...),
			)},
			wantTotal: 50, wantRequests: 1, wantTruncated: true, wantBy: []string{"AccessKeyId"},
		},
		{
			name: "bound reached on the last page is not truncated", finding: finding("", false), maxEvents: 50,
			regions: []region{us(
				byKey("", "", events("a", "ListBuckets", 50)...),
			)},
			wantTotal: 50, wantRequests: 1, wantBy: []string{"AccessKeyId"},
		},
		{
			name: "empty pages with NextToken end at the page cap", finding: finding("", false), maxEvents: 50,
			regions: []region{us(
				byKey("", "t2"),
				byKey("t2", "t3"),
			)},
			wantTotal: 0, wantRequests: 2, wantTruncated: true, wantBy: []string{"AccessKeyId"},
		},
		{
			name: "events found by key and by user count once", finding: finding(user, false), maxEvents: 500,
			regions: []region{us(
				byKey("", "", ev("e1", "CreateUser", 1, "203.0.113.7", "us-east-1"), ev("e2", "ListBuckets", 2, "203.0.113.7", "us-east-1")),
				byUser("", "", ev("e2", "ListBuckets", 2, "203.0.113.7", "us-east-1"), ev("e3", "ListBuckets", 3, "192.0.2.10", "us-east-1")),
			)},
			wantTotal: 3, wantRequests: 2, wantBy: []string{"AccessKeyId", "Username"}, wantUser: user,
			wantNames: []Count{{"ListBuckets", 2}, {"CreateUser", 1}},
			wantIPs:   []Count{{"203.0.113.7", 2}, {"192.0.2.10", 1}},
		},
		{
			name: "regions are each searched by key and user", finding: finding(user, false), maxEvents: 500,
			regions: []region{
				us(
					byKey("", "", ev("e1", "CreateUser", 1, "203.0.113.7", "us-east-1")),
					byUser("", "", ev("e2", "ListUsers", 2, "203.0.113.7", "us-east-1")),
				),
				eu(
					byKey("", "", ev("e3", "RunInstances", 1, "203.0.113.7", "eu-west-1"), ev("e4", "RunInstances", 2, "203.0.113.7", "eu-west-1")),
					byUser("", ""),
				),
			},
			wantTotal: 4, wantRequests: 4, wantBy: []string{"AccessKeyId", "Username"}, wantUser: user,
			wantRegions: []Count{{"eu-west-1", 2}, {"us-east-1", 2}},
		},
		{
			name: "root key: key lookup only", finding: finding("root", true), maxEvents: 500,
			regions:   []region{us(byKey("", "", ev("e1", "ListBuckets", 1, "203.0.113.7", "us-east-1")))},
			wantTotal: 1, wantRequests: 1, wantBy: []string{"AccessKeyId"},
		},
		{
			name: "root named without the flag: key lookup only", finding: finding("<root>", false), maxEvents: 500,
			regions:   []region{us(byKey("", ""))},
			wantTotal: 0, wantRequests: 1, wantBy: []string{"AccessKeyId"},
		},
		{
			name: "unknown user: key lookup only", finding: finding("", false), maxEvents: 500,
			regions:   []region{us(byKey("", ""))},
			wantTotal: 0, wantRequests: 1, wantBy: []string{"AccessKeyId"},
		},
		{
			name: "malformed CloudTrailEvent is counted, not fatal", finding: finding("", false), maxEvents: 500,
			regions:   []region{eu(byKey("", "", ev("e1", "ListBuckets", 1, "203.0.113.7", "eu-west-1"), malformed, missing, wrongType))},
			wantTotal: 4, wantRequests: 1, wantBy: []string{"AccessKeyId"}, wantMalformed: 3,
			wantNames:   []Count{{"ListBuckets", 4}},
			wantIPs:     []Count{{"203.0.113.7", 1}},
			wantRegions: []Count{{"eu-west-1", 4}},
		},
		{
			name: "throttling in the only region is the Throttled error", finding: finding(user, false), maxEvents: 500,
			regions:     []region{us(failing(keyAttr, keyID, "", apiError("ThrottlingException")))},
			wantErr:     step.Throttled,
			wantErrText: []string{"look up CloudTrail events for key " + keyID + " in us-east-1", "ThrottlingException"},
		},
		{
			name: "one region denied gives a partial summary", finding: finding(user, false), maxEvents: 500,
			regions: []region{
				us(
					byKey("", "", ev("e1", "CreateUser", 1, "203.0.113.7", "us-east-1")),
					byUser("", ""),
				),
				eu(
					byKey("", "", ev("e2", "RunInstances", 1, "203.0.113.7", "eu-west-1")),
					failing(userAttr, user, "", apiError("AccessDeniedException")),
				),
			},
			wantTotal: 2, wantRequests: 4, wantBy: []string{"AccessKeyId", "Username"}, wantUser: user,
			wantFailed: []string{"eu-west-1:AccessDenied"},
		},
		{
			name: "one region throttled fails the step so it is retried whole", finding: finding(user, false), maxEvents: 500,
			regions: []region{
				us(
					byKey("", "", ev("e1", "CreateUser", 1, "203.0.113.7", "us-east-1")),
					byUser("", ""),
				),
				eu(
					byKey("", "", ev("e2", "RunInstances", 1, "203.0.113.7", "eu-west-1")),
					failing(userAttr, user, "", apiError("ThrottlingException")),
				),
			},
			wantErr:     step.Throttled,
			wantErrText: []string{"in eu-west-1", "ThrottlingException"},
		},
		{
			name: "every region failing is an error", finding: finding(user, false), maxEvents: 500,
			regions: []region{
				us(failing(keyAttr, keyID, "", apiError("AccessDeniedException"))),
				eu(
					byKey("", "t2"),
					failing(keyAttr, keyID, "t2", apiError("ThrottlingException")),
				),
			},
			wantErr: step.AccessDenied,
			wantErrText: []string{
				"look up CloudTrail events for key " + keyID + " in us-east-1",
				"look up CloudTrail events for key " + keyID + " in eu-west-1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: now}
			var fakes []*fakeTrail
			for _, r := range tt.regions {
				fakes = append(fakes, newFakeTrail(t, r.name, window, r.stubs...))
			}
			h := testHandler(t, tt.maxEvents, clock, nil, fakes...)
			s, err := h.Handle(context.Background(), Input{Finding: tt.finding})
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Handle succeeded with %+v, want error %s", s, tt.wantErr)
				}
				if got := step.Name(err); got != tt.wantErr {
					t.Errorf("step.Name(err) = %s, want %s (err: %v)", got, tt.wantErr, err)
				}
				for _, want := range tt.wantErrText {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if s.TotalEvents != tt.wantTotal || s.Requests != tt.wantRequests || s.Truncated != tt.wantTruncated ||
				s.MalformedEvents != tt.wantMalformed {
				t.Errorf("total, requests, truncated, malformed = %d, %d, %v, %d; want %d, %d, %v, %d",
					s.TotalEvents, s.Requests, s.Truncated, s.MalformedEvents,
					tt.wantTotal, tt.wantRequests, tt.wantTruncated, tt.wantMalformed)
			}
			if !slices.Equal(s.LookedUpBy, tt.wantBy) || s.UserName != tt.wantUser {
				t.Errorf("looked up by %v for user %q, want %v for %q", s.LookedUpBy, s.UserName, tt.wantBy, tt.wantUser)
			}
			var failed []string
			for _, f := range s.FailedRegions {
				failed = append(failed, f.Region+":"+f.Error)
			}
			if !slices.Equal(failed, tt.wantFailed) {
				t.Errorf("failed regions %v, want %v", failed, tt.wantFailed)
			}
			var regions []string
			for _, r := range tt.regions {
				regions = append(regions, r.name)
			}
			if !slices.Equal(s.Regions, regions) {
				t.Errorf("regions %v, want %v", s.Regions, regions)
			}
			if !s.WindowEnd.Equal(windowEnd) || !s.WindowStart.Equal(windowEnd.Add(-window)) {
				t.Errorf("window %v..%v, want %v..%v", s.WindowStart, s.WindowEnd, windowEnd.Add(-window), windowEnd)
			}
			for _, c := range []struct {
				what      string
				got, want []Count
			}{{"event names", s.EventNames, tt.wantNames}, {"source IPs", s.SourceIPs, tt.wantIPs}, {"regions", s.AWSRegions, tt.wantRegions}} {
				if c.want != nil && !slices.Equal(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestHandleRejects(t *testing.T) {
	ok := func() *Handler {
		return &Handler{Clients: func(string) LookupAPI { return nil }, Regions: []string{"us-east-1"}, Window: window, MaxEvents: 500}
	}
	tests := []struct {
		name    string
		handler func() *Handler
		finding event.Exposure
		want    string
	}{
		{"finding without key", ok, event.Exposure{UserName: user}, step.InvalidEvent},
		{"no clients", func() *Handler { h := ok(); h.Clients = nil; return h }, finding(user, false), step.InvalidSetting},
		{"no regions", func() *Handler { h := ok(); h.Regions = nil; return h }, finding(user, false), step.InvalidSetting},
		{"no window", func() *Handler { h := ok(); h.Window = 0; return h }, finding(user, false), step.InvalidSetting},
		{"window beyond 90 days", func() *Handler { h := ok(); h.Window = MaxWindow + time.Hour; return h }, finding(user, false), step.InvalidSetting},
		{"no bound", func() *Handler { h := ok(); h.MaxEvents = 0; return h }, finding(user, false), step.InvalidSetting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.handler().Handle(context.Background(), Input{Finding: tt.finding})
			if got := step.Name(err); got != tt.want {
				t.Errorf("step.Name(%v) = %q, want %q", err, got, tt.want)
			}
		})
	}
}

func TestHandleStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := byKey("", "t2", events("a", "ListBuckets", 50)...)
	first.before = cancel // the Lambda's deadline passes during the first call
	f := newFakeTrail(t, "us-east-1", window, first)
	clock := &fakeClock{t: now}
	_, err := testHandler(t, 500, clock, nil, f).Handle(ctx, Input{Finding: finding(user, false)})
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("Handle = %v, want the cancellation", err)
	}
	if f.calls() != 1 {
		t.Errorf("%d calls after cancellation, want 1", f.calls())
	}
}

func TestHandleLogsOneLinePerRegion(t *testing.T) {
	var buf bytes.Buffer
	clock := &fakeClock{t: now}
	h := testHandler(t, 500, clock, &buf,
		newFakeTrail(t, "us-east-1", window,
			byKey("", "", ev("e1", "CreateUser", 1, "203.0.113.7", "us-east-1")),
			byUser("", "")),
		newFakeTrail(t, "eu-west-1", window, failing(types.LookupAttributeKeyAccessKeyId, keyID, "", apiError("ThrottlingException"))),
	)
	// The throttled region fails the step; both regions are still logged.
	if _, err := h.Handle(context.Background(), Input{Finding: finding(user, false)}); step.Name(err) != step.Throttled {
		t.Fatalf("Handle = %v, want Throttled", err)
	}
	if strings.Contains(buf.String(), "MUST-NOT-LEAK") || strings.Contains(buf.String(), "sourceIPAddress") {
		t.Errorf("log holds event payloads:\n%s", buf.String())
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2:\n%s", len(lines), buf.String())
	}
	got := map[string]map[string]any{}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		got[m["region"].(string)] = m
	}
	us, eu := got["us-east-1"], got["eu-west-1"]
	if us == nil || eu == nil {
		t.Fatalf("log lines do not name both regions:\n%s", buf.String())
	}
	for k, want := range map[string]any{"accessKeyId": keyID, "userName": user, "events": 1.0, "pages": 2.0, "level": "INFO"} {
		if us[k] != want {
			t.Errorf("us-east-1 line: %s = %v, want %v", k, us[k], want)
		}
	}
	for k, want := range map[string]any{"error": step.Throttled, "pages": 1.0, "level": "WARN"} {
		if eu[k] != want {
			t.Errorf("eu-west-1 line: %s = %v, want %v", k, eu[k], want)
		}
	}
}
