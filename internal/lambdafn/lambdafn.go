// Package lambdafn builds each keywarden Lambda's handler from an AWS config
// and the environment: the wiring shared by lambdas/<name>/main.go and the
// offline drill, so both run the same handlers. It is the edge where step
// errors become the errorType Step Functions matches in Retry and Catch, and
// the one internal package that imports aws-lambda-go.
package lambdafn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/activity"
	"github.com/keywarden/keywarden/internal/alert"
	"github.com/keywarden/keywarden/internal/creation"
	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/intake"
	"github.com/keywarden/keywarden/internal/keyage"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/rotation"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

// Function names: lambdas/<name> and the infra's function ids.
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
)

// Names lists every function.
var Names = []string{Intake, Finding, Contain, Revoke, Activity, Remove, Alert, Scan, Act, Digest, Record}

// New builds the named function's handler. A settings error is returned, not
// fatal: Main then serves a handler that fails every invocation with
// InvalidSetting, so the state machine alerts instead of the runtime
// crash-looping unseen.
func New(name string, cfg aws.Config, env settings.Lookup) (lambda.Handler, error) {
	return NewWithClock(name, cfg, env, time.Now)
}

// NewWithClock is New with the handlers' clock given: offline drills run
// on the emulated account's clock, so "seven days later" is one call.
func NewWithClock(name string, cfg aws.Config, env settings.Lookup, now func() time.Time) (lambda.Handler, error) {
	switch name {
	case Intake:
		arn, err := env.Required(settings.EnvStateMachineArn)
		if err != nil {
			return nil, err
		}
		return wrap(intake.Handler{SFN: sfn.NewFromConfig(cfg), IAM: iam.NewFromConfig(cfg), StateMachineArn: arn}.Handle), nil
	case Finding:
		return wrap(exposure.FindingHandler{IAM: iam.NewFromConfig(cfg)}.Handle), nil
	case Contain:
		return wrap(exposure.NewContainHandler(iam.NewFromConfig(cfg)).Handle), nil
	case Revoke:
		return wrap(exposure.RevokeHandler{IAM: iam.NewFromConfig(cfg), Now: now}.Handle), nil
	case Activity:
		clients := func(region string) activity.LookupAPI {
			return cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) { o.Region = region })
		}
		h, err := activity.NewHandler(env, cfg.Region, clients)
		if err != nil {
			return nil, err
		}
		return wrap(h.Handle), nil
	case Remove:
		action, ok := env(settings.EnvExposedKeyAction)
		if !ok || action == "" {
			action = settings.ActionDelete
		}
		if action != settings.ActionDelete && action != settings.ActionDeactivate {
			return nil, fmt.Errorf("%w: %s is %q; use %q or %q", settings.ErrInvalid, settings.EnvExposedKeyAction, action, settings.ActionDelete, settings.ActionDeactivate)
		}
		return wrap(exposure.RemoveHandler{IAM: iam.NewFromConfig(cfg), Action: action, Now: now}.Handle), nil
	case Alert:
		topic, region, err := alertTopic(cfg, env)
		if err != nil {
			return nil, err
		}
		h := alert.Handler{SNS: sns.NewFromConfig(cfg), TopicArn: topic, ConsoleRegion: region}
		if _, set := env(settings.EnvLedgerTable); set {
			// Quote who created the exposed key when the ledger knows.
			store, err := ledgerStore(cfg, env, now)
			if err != nil {
				return nil, err
			}
			h.Creators = store.Creator
			h.Replacements = store.Replacement
		}
		return wrap(h.Handle), nil
	case Scan:
		store, err := ledgerStore(cfg, env, now)
		if err != nil {
			return nil, err
		}
		raw, err := env.Required(settings.EnvKeyAgePolicy)
		if err != nil {
			return nil, err
		}
		cfgPolicy, err := settings.ParseKeyAge(raw)
		if err == nil {
			err = cfgPolicy.Validate()
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", settings.ErrInvalid, settings.EnvKeyAgePolicy, err)
		}
		// Without the setting, the run is a dry run: enforcement is opt-in.
		dryRun, err := env.Bool(settings.EnvDryRun, true)
		if err != nil {
			return nil, err
		}
		store.DryRun = dryRun
		return wrap(keyage.ScanHandler{IAM: iam.NewFromConfig(cfg), Store: store, Policy: cfgPolicy, DryRun: dryRun, Now: now}.Handle), nil
	case Act:
		store, err := ledgerStore(cfg, env, now)
		if err != nil {
			return nil, err
		}
		topic, err := env.Required(settings.EnvAlertTopicArn)
		if err != nil {
			return nil, err
		}
		n := keyage.Notifier{SNS: sns.NewFromConfig(cfg), Topic: topic}
		if sender, _ := env(settings.EnvNoticeSender); sender != "" {
			n.SES, n.Sender = sesv2.NewFromConfig(cfg), sender
		}
		account, _ := env(settings.EnvAccount)
		iamClient := iam.NewFromConfig(cfg)
		h := keyage.ActHandler{IAM: iamClient, Store: store, Notifier: n, Account: account, Now: now, ReadBackAttempts: 5, ReadBackDelay: time.Second}
		if kmsKey, _ := env(settings.EnvRotationKMSKey); kmsKey != "" {
			r := rotation.Rotator{IAM: iamClient, Secrets: secretsmanager.NewFromConfig(cfg), KMSKeyID: kmsKey, Account: account, Now: now}
			r.Partition, _ = env(settings.EnvPartition)
			r.WriterRoleARN, _ = env(settings.EnvRotationWriter)
			r.SecurityRoleARN, _ = env(settings.EnvSecurityRoleArn)
			if err := r.Validate(); err != nil {
				return nil, fmt.Errorf("%w: %s is set but %v", settings.ErrInvalid, settings.EnvRotationKMSKey, err)
			}
			h.Rotator = r
		}
		return wrap(func(ctx context.Context, in keyage.ActInput) (keyage.ChunkResult, error) {
			// The chunk's dry-run flag decides which history the
			// conditional records go to.
			run := h
			run.Store = keyage.LedgerStore{L: store.L, DryRun: in.DryRun}
			return run.Handle(ctx, in)
		}), nil
	case Digest:
		topic, region, err := alertTopic(cfg, env)
		if err != nil {
			return nil, err
		}
		return wrap(keyage.DigestHandler{SNS: sns.NewFromConfig(cfg), Topic: topic, ConsoleRegion: region}.Handle), nil
	case Record:
		store, err := ledgerStore(cfg, env, now)
		if err != nil {
			return nil, err
		}
		topic, _, err := alertTopic(cfg, env)
		if err != nil {
			return nil, err
		}
		tag, _ := env(settings.EnvNoKeysTag)
		return wrap(creation.Handler{IAM: iam.NewFromConfig(cfg), Ledger: store.L, SNS: sns.NewFromConfig(cfg), Topic: topic, NoKeysTag: tag}.Handle), nil
	}
	return nil, fmt.Errorf("%w: no function named %q", settings.ErrInvalid, name)
}

// alertTopic reads the alert topic and the region for console links (the
// function's own when unset).
func alertTopic(cfg aws.Config, env settings.Lookup) (topic, consoleRegion string, err error) {
	if topic, err = env.Required(settings.EnvAlertTopicArn); err != nil {
		return "", "", err
	}
	consoleRegion, _ = env(settings.EnvConsoleRegion)
	if consoleRegion == "" {
		consoleRegion = cfg.Region
	}
	return topic, consoleRegion, nil
}

// ledgerStore opens the ledger table named in the environment; the
// dry-run setting comes with it.
func ledgerStore(cfg aws.Config, env settings.Lookup, now func() time.Time) (keyage.LedgerStore, error) {
	table, err := env.Required(settings.EnvLedgerTable)
	if err != nil {
		return keyage.LedgerStore{}, err
	}
	// Conditional writes are cheap to retry; give throttling more room
	// than the SDK default of three attempts.
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.RetryMaxAttempts = 8 })
	l, err := ledger.New(ddb, table, ledger.Options{Now: now})
	if err != nil {
		return keyage.LedgerStore{}, err
	}
	return keyage.LedgerStore{L: l}, nil
}

// Main runs the named function in the Lambda runtime: JSON logs to stdout,
// the SDK's standard configuration (AWS_REGION, AWS_ENDPOINT_URL, …).
func Main(name string) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("function", name))
	cfg, err := config.LoadDefaultConfig(context.Background())
	var h lambda.Handler
	if err == nil {
		h, err = New(name, cfg, settings.Env)
	}
	if err != nil {
		slog.Error("function cannot start; every invocation will fail with InvalidSetting", "error", err)
		h = failing(err)
	}
	lambda.Start(h)
}

// wrap turns a typed handler into a lambda.Handler whose errors carry their
// step name as errorType.
func wrap[In, Out any](fn func(context.Context, In) (Out, error)) lambda.Handler {
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
