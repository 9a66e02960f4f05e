package credreport

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/step"

	"github.com/keywarden/keywarden/internal/clock"
)

// answer is one scripted answer of the fake: a state for
// GenerateCredentialReport, content for GetCredentialReport, or an error.
type answer struct {
	state   types.ReportStateType
	content []byte
	err     error
}

// fakeReports answers from scripts, one answer per call; the last answer of
// a script repeats. It records the calls in order.
type fakeReports struct {
	gen, get []answer
	calls    []string
	format   types.ReportFormatType
	noTime   bool
}

func (f *fakeReports) next(script *[]answer) answer {
	a := (*script)[0]
	if len(*script) > 1 {
		*script = (*script)[1:]
	}
	return a
}

func (f *fakeReports) GenerateCredentialReport(ctx context.Context, _ *iam.GenerateCredentialReportInput, _ ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error) {
	f.calls = append(f.calls, "Generate")
	a := f.next(&f.gen)
	if a.err != nil {
		return nil, a.err
	}
	return &iam.GenerateCredentialReportOutput{State: a.state}, nil
}

func (f *fakeReports) GetCredentialReport(ctx context.Context, _ *iam.GetCredentialReportInput, _ ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error) {
	f.calls = append(f.calls, "Get")
	a := f.next(&f.get)
	if a.err != nil {
		return nil, a.err
	}
	out := &iam.GetCredentialReportOutput{Content: a.content, ReportFormat: types.ReportFormatTypeTextCsv, GeneratedTime: aws.Time(generated)}
	if f.format != "" {
		out.ReportFormat = f.format
	}
	if f.noTime {
		out.GeneratedTime = nil
	}
	return out, nil
}

// fakeClock is a clock that only Sleep moves; it records each sleep.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

var (
	started    = answer{state: types.ReportStateTypeStarted}
	inProgress = answer{state: types.ReportStateTypeInprogress}
	complete   = answer{state: types.ReportStateTypeComplete}
	limit      = answer{err: &types.LimitExceededException{Message: aws.String("Too many credential report requests")}}
	notReady   = answer{err: &types.CredentialReportNotReadyException{Message: aws.String("Credential report is still being generated.")}}
	notPresent = answer{err: &types.CredentialReportNotPresentException{Message: aws.String("Credential report not present.")}}
	expired    = answer{err: &types.CredentialReportExpiredException{Message: aws.String("Credential report expired.")}}
)

func apiError(code string) answer {
	return answer{err: &smithy.GenericAPIError{Code: code, Message: code + " (test)"}}
}

func TestFetch(t *testing.T) {
	content := report(t, nil, row("alice", map[string]string{
		"access_key_1_active": "true", "access_key_1_last_rotated": "2025-11-20T14:03:22+00:00"}))
	ok := answer{content: content}
	want, err := Parse(content, generated)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		gen, get   []answer
		wantCalls  string
		wantSleeps []time.Duration
	}{
		{
			name: "report already fresh", gen: []answer{complete}, get: []answer{ok},
			wantCalls: "Generate Get",
		},
		{
			name: "STARTED, INPROGRESS, COMPLETE", gen: []answer{started, inProgress, inProgress, complete}, get: []answer{ok},
			wantCalls:  "Generate Generate Generate Generate Get",
			wantSleeps: []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second},
		},
		{
			name: "ReportInProgress right after COMPLETE", gen: []answer{complete}, get: []answer{notReady, notReady, ok},
			wantCalls:  "Generate Get Generate Get Generate Get",
			wantSleeps: []time.Duration{2 * time.Second, 4 * time.Second},
		},
		{
			name: "ReportNotPresent right after generation", gen: []answer{started, complete}, get: []answer{notPresent, ok},
			wantCalls:  "Generate Generate Get Generate Get",
			wantSleeps: []time.Duration{2 * time.Second, 4 * time.Second},
		},
		{
			name: "ReportExpired starts over", gen: []answer{complete, started, complete}, get: []answer{expired, ok},
			wantCalls:  "Generate Get Generate Generate Get",
			wantSleeps: []time.Duration{2 * time.Second, 4 * time.Second},
		},
		{
			name: "LimitExceeded, then success", gen: []answer{limit, limit, started, complete}, get: []answer{ok},
			wantCalls:  "Generate Generate Generate Generate Get",
			wantSleeps: []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second},
		},
		{
			name: "backoff is capped", gen: []answer{started, inProgress, inProgress, inProgress, inProgress, inProgress, complete}, get: []answer{ok},
			wantCalls:  "Generate Generate Generate Generate Generate Generate Generate Get",
			wantSleeps: []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeReports{gen: tc.gen, get: tc.get}
			fake := &fakeClock{now: generated}
			got, err := Fetch(context.Background(), api, FetchOptions{Sleep: fake.Sleep, Now: fake.Now})
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Fetch = %+v, want %+v", got, want)
			}
			if calls := strings.Join(api.calls, " "); calls != tc.wantCalls {
				t.Errorf("calls = %s, want %s", calls, tc.wantCalls)
			}
			if !reflect.DeepEqual(fake.sleeps, tc.wantSleeps) {
				t.Errorf("sleeps = %v, want %v", fake.sleeps, tc.wantSleeps)
			}
		})
	}
}

func TestFetchNotReadyInTime(t *testing.T) {
	for _, tc := range []struct {
		name      string
		gen, get  []answer
		opts      FetchOptions
		wantWait  time.Duration
		wantInErr []string
		wantCode  string // an AWS error code the error must still carry
	}{
		{
			name: "always INPROGRESS", gen: []answer{started, inProgress},
			wantWait: DefaultMaxWait, wantInErr: []string{"credential report not ready after 5m0s", "report state INPROGRESS"},
		},
		{
			name: "always LimitExceeded", gen: []answer{limit},
			wantWait: DefaultMaxWait, wantInErr: []string{"LimitExceeded", "Too many credential report requests"}, wantCode: "LimitExceeded",
		},
		{
			name: "always ReportInProgress", gen: []answer{complete}, get: []answer{notReady},
			opts:     FetchOptions{MaxWait: 10 * time.Second, FirstDelay: time.Second, MaxDelay: 4 * time.Second},
			wantWait: 10 * time.Second, wantInErr: []string{"not ready after 10s", "GetCredentialReport answered ReportInProgress"}, wantCode: "ReportInProgress",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeReports{gen: tc.gen, get: tc.get}
			fake := &fakeClock{now: generated}
			opts := tc.opts
			opts.Sleep, opts.Now = fake.Sleep, fake.Now
			_, err := Fetch(context.Background(), api, opts)
			if err == nil {
				t.Fatal("Fetch succeeded, want a timeout")
			}
			if step.Name(err) != step.Transient || !errors.Is(err, ErrReportNotReady) {
				t.Errorf("error %q: name %s, want %s wrapping ErrReportNotReady", err, step.Name(err), step.Transient)
			}
			for _, s := range tc.wantInErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if tc.wantCode != "" && errorCode(err) != tc.wantCode {
				t.Errorf("error %q carries code %q, want %q", err, errorCode(err), tc.wantCode)
			}
			var total time.Duration
			for _, d := range fake.sleeps {
				total += d
				if d > max(opts.MaxDelay, DefaultMaxDelay) {
					t.Errorf("slept %s, more than the cap", d)
				}
			}
			if total != tc.wantWait {
				t.Errorf("waited %s in all (%v), want %s", total, fake.sleeps, tc.wantWait)
			}
		})
	}
}

// TestFetchSleepWithoutClock: an injected Sleep that does not move the
// clock still ends the wait, because Fetch counts what it asked to sleep.
func TestFetchSleepWithoutClock(t *testing.T) {
	var slept time.Duration
	api := &fakeReports{gen: []answer{inProgress}}
	_, err := Fetch(context.Background(), api, FetchOptions{
		MaxWait: time.Minute,
		Sleep:   func(_ context.Context, d time.Duration) error { slept += d; return nil },
	})
	if !errors.Is(err, ErrReportNotReady) || slept != time.Minute {
		t.Errorf("err %v after sleeping %s; want ErrReportNotReady after 1m", err, slept)
	}
}

func TestFetchFailures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		api      *fakeReports
		wantName string
		wantIs   error
		wantIn   string
	}{
		{"generate access denied", &fakeReports{gen: []answer{apiError("AccessDenied")}}, step.AccessDenied, nil, "generate credential report: "},
		{"generate throttled", &fakeReports{gen: []answer{apiError("Throttling")}}, step.Throttled, nil, "generate credential report"},
		{"get service failure", &fakeReports{gen: []answer{complete}, get: []answer{apiError("ServiceFailure")}}, step.Transient, nil, "get credential report: "},
		{"get access denied", &fakeReports{gen: []answer{complete}, get: []answer{apiError("AccessDenied")}}, step.AccessDenied, nil, "get credential report"},
		{"unknown state", &fakeReports{gen: []answer{{state: "PAUSED"}}}, step.Failed, nil, `unknown state "PAUSED"`},
		{"malformed content", &fakeReports{gen: []answer{complete}, get: []answer{{content: []byte("user,arn\nalice,x")}}}, step.Failed, ErrMalformedReport, "missing columns access_key_1_active"},
		{"not CSV", &fakeReports{gen: []answer{complete}, get: []answer{{content: []byte("{}")}}, format: "application/json"}, step.Failed, ErrMalformedReport, `format "application/json"`},
		{"no generated time", &fakeReports{gen: []answer{complete}, get: []answer{{content: report(t, nil)}}, noTime: true}, step.Failed, ErrMalformedReport, "GeneratedTime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeClock{now: generated}
			_, err := Fetch(context.Background(), tc.api, FetchOptions{Sleep: fake.Sleep, Now: fake.Now})
			if err == nil {
				t.Fatal("Fetch succeeded, want an error")
			}
			if got := step.Name(err); got != tc.wantName {
				t.Errorf("error %q named %s, want %s", err, got, tc.wantName)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %q does not wrap %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("error %q does not mention %q", err, tc.wantIn)
			}
			if len(fake.sleeps) != 0 {
				t.Errorf("slept %v before failing", fake.sleeps)
			}
		})
	}
}

func TestFetchCanceledWhileWaiting(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	api := &fakeReports{gen: []answer{started}}
	_, err := Fetch(ctx, api, FetchOptions{Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return clock.Sleep(ctx, d)
	}})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "wait for the credential report") {
		t.Errorf("err = %v, want context.Canceled while waiting", err)
	}
	if len(api.calls) != 1 {
		t.Errorf("calls = %v, want one", api.calls)
	}
}
