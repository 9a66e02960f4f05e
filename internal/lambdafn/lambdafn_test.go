package lambdafn

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

func env(vars map[string]string) settings.Lookup {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

var complete = map[string]string{
	settings.EnvStateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:K",
	settings.EnvAlertTopicArn:   "arn:aws:sns:us-east-1:123456789012:alerts",
	settings.EnvLedgerTable:     "keywarden-ledger",
	settings.EnvKeyAgePolicy:    `{"warnDays":[30],"limitDays":37,"rotationDays":25}`,
	settings.EnvDryRun:          "false",
}

func TestEveryFunctionBuilds(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1"}
	for _, name := range Names {
		if _, err := New(name, cfg, env(complete)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestBadSettingsAreNamed(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1"}
	for _, tc := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{Intake, nil, settings.EnvStateMachineArn + " is not set"},
		{Alert, nil, settings.EnvAlertTopicArn + " is not set"},
		{Remove, map[string]string{settings.EnvExposedKeyAction: "shred"}, `is "shred"`},
		{Activity, map[string]string{settings.EnvActivityWindow: "forever"}, settings.EnvActivityWindow},
		{Scan, map[string]string{settings.EnvLedgerTable: "t1x"}, settings.EnvKeyAgePolicy + " is not set"},
		{Scan, map[string]string{settings.EnvLedgerTable: "t1x", settings.EnvKeyAgePolicy: `{"limitDays":"soon"}`}, settings.EnvKeyAgePolicy},
		{Scan, map[string]string{settings.EnvLedgerTable: "t1x", settings.EnvKeyAgePolicy: `{"warnDays":[95]}`}, "warnDays"},
		{Scan, map[string]string{settings.EnvLedgerTable: "t1x", settings.EnvKeyAgePolicy: `{}`, settings.EnvDryRun: "perhaps"}, settings.EnvDryRun},
		{Act, nil, settings.EnvLedgerTable + " is not set"},
		{Digest, nil, settings.EnvAlertTopicArn + " is not set"},
		{"nosuch", nil, `no function named "nosuch"`},
	} {
		_, err := New(tc.name, cfg, env(tc.vars))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to say %q", tc.name, err, tc.want)
		}
	}
}

// A function that cannot start answers every invocation with InvalidSetting,
// which the state machine catches and alerts on.
func TestFailingHandler(t *testing.T) {
	h := failing(errors.New("KEYWARDEN_ALERT_TOPIC_ARN is not set"))
	_, err := h.Invoke(context.Background(), []byte(`{}`))
	if ErrorType(err) != step.InvalidSetting || !strings.Contains(err.Error(), "KEYWARDEN_ALERT_TOPIC_ARN") {
		t.Errorf("err %v (%s)", err, ErrorType(err))
	}
}

func TestWrapNamesErrors(t *testing.T) {
	h := wrap(func(_ context.Context, in struct{ N int }) (struct{ M int }, error) {
		if in.N < 0 {
			return struct{ M int }{}, step.Errorf(step.InvalidEvent, "negative %d", in.N)
		}
		return struct{ M int }{in.N * 2}, nil
	})
	out, err := h.Invoke(context.Background(), []byte(`{"N":2}`))
	if err != nil || string(out) != `{"M":4}` {
		t.Errorf("ok path: %s %v", out, err)
	}
	_, err = h.Invoke(context.Background(), []byte(`{"N":-1}`))
	var ive messages.InvokeResponse_Error
	if !errors.As(err, &ive) || ive.Type != step.InvalidEvent || ive.Message != "negative -1" {
		t.Errorf("error path: %#v", err)
	}
	if _, err := h.Invoke(context.Background(), []byte(`{"N":"x"}`)); err == nil {
		t.Error("a payload of the wrong shape must fail")
	}
}
