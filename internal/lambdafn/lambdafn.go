// Package lambdafn is the edge shared by every keywarden Lambda: the list of
// functions, the Build signature each function's package implements, and the
// mapping of step errors to the errorType Step Functions matches in Retry
// and Catch. It imports no AWS service client, so importing it adds nothing
// to a function's binary: each function's own package
// (internal/lambdafn/<name>) builds only the clients that function calls, and
// lambdas/<name>/main.go starts it. It is the one internal package tree that
// imports aws-lambda-go.
package lambdafn

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

// Function names: lambdas/<name>, internal/lambdafn/<name> and the infra's
// function ids.
const (
	Intake   = "intake"
	Finding  = "finding"
	Contain  = "contain"
	Revoke   = "revoke"
	Activity = "activity"
	Remove   = "remove"
	Alert    = "alert"
	Scan     = "scan"
	Act      = "act"
	Digest   = "digest"
	Record   = "record"
	Tamper   = "tamper"
)

// Names lists every function: the one list the drill, the infra and the
// tests take (a test checks that lambdas/ holds exactly these directories).
var Names = []string{Intake, Finding, Contain, Revoke, Activity, Remove, Alert, Scan, Act, Digest, Record, Tamper}

// Build makes a function's handler from an AWS config, the environment and a
// clock (time.Now in Lambda; the emulated account's clock in drills, so
// "seven days later" is one call). A settings error is returned, not fatal:
// Main then serves a handler that fails every invocation with
// InvalidSetting, so the state machine alerts instead of the runtime
// crash-looping unseen.
type Build func(cfg aws.Config, env settings.Lookup, now func() time.Time) (lambda.Handler, error)

// Main runs a function in the Lambda runtime: JSON logs to stdout, the SDK's
// standard configuration (AWS_REGION, AWS_ENDPOINT_URL, …).
func Main(name string, build Build) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("function", name))
	cfg, err := config.LoadDefaultConfig(context.Background())
	var h lambda.Handler
	if err == nil {
		h, err = build(cfg, settings.Env, time.Now)
	}
	if err != nil {
		slog.Error("function cannot start; every invocation will fail with InvalidSetting", "error", err)
		h = failing(err)
	}
	lambda.Start(h)
}

// Wrap turns a typed handler into a lambda.Handler whose errors carry their
// step name as errorType.
func Wrap[In, Out any](fn func(context.Context, In) (Out, error)) lambda.Handler {
	return lambda.NewHandler(func(ctx context.Context, in In) (Out, error) {
		out, err := fn(ctx, in)
		if err != nil {
			slog.ErrorContext(ctx, "step failed", "errorType", step.Name(err), "error", err.Error())
			return out, messages.InvokeResponse_Error{Type: step.Name(err), Message: err.Error()}
		}
		return out, nil
	})
}

func failing(cause error) lambda.Handler {
	return lambda.NewHandler(func(ctx context.Context, _ json.RawMessage) (struct{}, error) {
		return struct{}{}, messages.InvokeResponse_Error{Type: step.InvalidSetting, Message: cause.Error()}
	})
}

// ErrorType returns the errorType a handler error carries, for hosts of the
// handlers other than the Lambda runtime (the offline drill's Invoke API).
func ErrorType(err error) string {
	var ive messages.InvokeResponse_Error
	if errors.As(err, &ive) {
		return ive.Type
	}
	return step.Name(err)
}

// AlertTopic reads the alert topic and the region for console links (the
// function's own when unset).
func AlertTopic(cfg aws.Config, env settings.Lookup) (topic, consoleRegion string, err error) {
	if topic, err = env.Required(settings.EnvAlertTopicArn); err != nil {
		return "", "", err
	}
	consoleRegion, _ = env(settings.EnvConsoleRegion)
	if consoleRegion == "" {
		consoleRegion = cfg.Region
	}
	return topic, consoleRegion, nil
}
