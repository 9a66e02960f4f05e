package credreport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/clock"
	"github.com/keywarden/keywarden/internal/step"
)

// ReportAPI is what Fetch calls.
type ReportAPI interface {
	GenerateCredentialReport(ctx context.Context, in *iam.GenerateCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error)
	GetCredentialReport(ctx context.Context, in *iam.GetCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error)
}

var _ ReportAPI = (*iam.Client)(nil)

// ErrReportNotReady is wrapped by Fetch's error when the report was still
// being generated, or IAM kept refusing to start one, until MaxWait ran
// out. The error is named step.Transient so the state machine retries the
// step later.
var ErrReportNotReady = errors.New("credential report not ready")

// Defaults of FetchOptions.
const (
	DefaultMaxWait    = 5 * time.Minute
	DefaultFirstDelay = 2 * time.Second
	DefaultMaxDelay   = 30 * time.Second
)

// FetchOptions tune Fetch's polling. The zero value is the production
// setting.
type FetchOptions struct {
	// MaxWait bounds the total time spent waiting for the report (default
	// DefaultMaxWait). Keep it well inside the Lambda's timeout.
	MaxWait time.Duration
	// FirstDelay is the first wait between polls (default
	// DefaultFirstDelay); each later wait doubles, up to MaxDelay (default
	// DefaultMaxDelay).
	FirstDelay time.Duration
	MaxDelay   time.Duration
	// Sleep waits d or until ctx ends; default a timer. Tests inject one
	// that returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock MaxWait is measured on; default time.Now. Fetch
	// also counts the time it asked Sleep for, so an injected Sleep that
	// does not move Now still ends the wait.
	Now func() time.Time
}

func (o FetchOptions) withDefaults() FetchOptions {
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.FirstDelay <= 0 {
		o.FirstDelay = DefaultFirstDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	o.MaxDelay = max(o.MaxDelay, o.FirstDelay)
	if o.Sleep == nil {
		o.Sleep = clock.Sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Fetch has IAM generate a credential report and returns it parsed.
//
// It calls GenerateCredentialReport until the state is COMPLETE (AWS
// answers STARTED, then INPROGRESS while it works), then
// GetCredentialReport. Between polls it waits FirstDelay, doubling up to
// MaxDelay. It also waits and starts over when GenerateCredentialReport
// answers LimitExceeded (too many report requests), and when
// GetCredentialReport answers ReportInProgress, ReportNotPresent (IAM is
// eventually consistent right after generation) or ReportExpired. Once
// MaxWait is spent it fails with a step.Transient error wrapping
// ErrReportNotReady. Other errors are classified with step.Classify; a
// report that does not parse is a step.Failed error wrapping
// ErrMalformedReport.
func Fetch(ctx context.Context, api ReportAPI, opts FetchOptions) (Report, error) {
	opts = opts.withDefaults()
	start := opts.Now()
	delay := opts.FirstDelay
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		why, err := "", error(nil)
		gen, genErr := api.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		switch {
		case isCode(genErr, "LimitExceeded", "ReportGenerationLimitExceeded"):
			why, err = "GenerateCredentialReport answered LimitExceeded", genErr
		case genErr != nil:
			return Report{}, step.Classify(fmt.Errorf("generate credential report: %w", genErr))
		case gen.State == types.ReportStateTypeStarted || gen.State == types.ReportStateTypeInprogress:
			why = "report state " + string(gen.State)
		case gen.State != types.ReportStateTypeComplete:
			return Report{}, step.Errorf(step.Failed, "generate credential report: unknown state %q", gen.State)
		default:
			out, getErr := api.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
			switch {
			case isCode(getErr, "ReportInProgress", "ReportNotPresent", "ReportExpired", "LimitExceeded"):
				why, err = "GetCredentialReport answered "+errorCode(getErr), getErr
			case getErr != nil:
				return Report{}, step.Classify(fmt.Errorf("get credential report: %w", getErr))
			default:
				rep, err := decode(out)
				if err != nil {
					return Report{}, step.Classify(err)
				}
				slog.InfoContext(ctx, "credential report read", "generated", rep.Generated,
					"users", rep.Users, "keys", len(rep.Keys), "rootHasKeys", rep.RootHasKeys, "attempts", attempt)
				return rep, nil
			}
		}

		elapsed := max(opts.Now().Sub(start), waited)
		if elapsed >= opts.MaxWait {
			if err != nil {
				return Report{}, step.Errorf(step.Transient, "%w after %s and %d attempts: %s: %w", ErrReportNotReady, elapsed.Round(time.Second), attempt, why, err)
			}
			return Report{}, step.Errorf(step.Transient, "%w after %s and %d attempts: %s", ErrReportNotReady, elapsed.Round(time.Second), attempt, why)
		}
		d := min(delay, opts.MaxWait-elapsed)
		slog.DebugContext(ctx, "waiting for the credential report", "reason", why, "wait", d, "attempt", attempt)
		if err := opts.Sleep(ctx, d); err != nil {
			return Report{}, step.Classify(fmt.Errorf("wait for the credential report (%s): %w", why, err))
		}
		waited += d
		delay = min(2*delay, opts.MaxDelay)
	}
}

// decode checks GetCredentialReport's answer and parses its CSV. The SDK
// has already decoded Content from base64.
func decode(out *iam.GetCredentialReportOutput) (Report, error) {
	if out.ReportFormat != "" && out.ReportFormat != types.ReportFormatTypeTextCsv {
		return Report{}, fmt.Errorf("%w: format %q, want text/csv", ErrMalformedReport, out.ReportFormat)
	}
	if out.GeneratedTime == nil {
		return Report{}, fmt.Errorf("%w: GetCredentialReport gave no GeneratedTime", ErrMalformedReport)
	}
	rep, err := Parse(out.Content, *out.GeneratedTime)
	if err != nil {
		return Report{}, fmt.Errorf("read credential report generated %s: %w", out.GeneratedTime.UTC().Format(time.RFC3339), err)
	}
	return rep, nil
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func isCode(err error, codes ...string) bool {
	if err == nil {
		return false
	}
	code := errorCode(err)
	for _, c := range codes {
		if code == c {
			return true
		}
	}
	return false
}
