package all

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
)

// Builds covers lambdafn.Names exactly: the drill runs every function.
func TestBuildsCoverEveryFunction(t *testing.T) {
	got := slices.Sorted(maps.Keys(Builds))
	want := slices.Sorted(slices.Values(lambdafn.Names))
	if !slices.Equal(got, want) {
		t.Errorf("Builds has %v, lambdafn.Names %v", got, want)
	}
}

func env(vars map[string]string) settings.Lookup {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

var complete = map[string]string{
	settings.EnvStateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:K",
	settings.EnvAlertTopicArn:   "arn:aws:sns:us-east-1:123456789012:alerts",
	settings.EnvLedgerTable:     "keywarden-ledger",
	settings.EnvKeyAgePolicy:    `{"warnDays":[30],"limitDays":37,"rotationDays":25}`,
	settings.EnvDryRun:          "false",
	settings.EnvAccount:         "123456789012",
	settings.EnvOwnRoleArns:     "arn:aws:iam::123456789012:role/keywarden-RevokeFunctionRole,arn:aws:iam::123456789012:role/keywarden-TamperFunctionRole",
}

func TestEveryFunctionBuilds(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1"}
	for _, name := range lambdafn.Names {
		if _, err := New(name, cfg, env(complete), time.Now); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// In organization mode every function builds too; act rotates with the
// members' key alias and refuses any other key (a hub key would encrypt
// nothing in a member).
func TestEveryFunctionBuildsInOrganizationMode(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1"}
	vars := map[string]string{
		settings.EnvMode:         settings.ModeOrganization,
		settings.EnvOrganization: `{"organizationId":"o-exampleorg1","organizationalUnits":["r-exam"],"optOutTag":"keywarden:opt-out"}`,
	}
	for k, v := range complete {
		vars[k] = v
	}
	for _, name := range lambdafn.Names {
		if _, err := New(name, cfg, env(vars), time.Now); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	vars[settings.EnvRotationKMSKey] = "alias/keywarden-rotation"
	if _, err := New(lambdafn.Act, cfg, env(vars), time.Now); err != nil {
		t.Errorf("act with rotation in organization mode: %v", err)
	}
	vars[settings.EnvRotationKMSKey] = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	if _, err := New(lambdafn.Act, cfg, env(vars), time.Now); err == nil || !strings.Contains(err.Error(), "alias/keywarden-rotation") {
		t.Errorf("act with a hub key in organization mode: %v", err)
	}
}

func TestBadSettingsAreNamed(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1"}
	for _, tc := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{lambdafn.Intake, nil, settings.EnvStateMachineArn + " is not set"},
		{lambdafn.Intake, map[string]string{settings.EnvStateMachineArn: "arn:sm"}, settings.EnvAccount + " is not set"},
		{lambdafn.Finding, nil, settings.EnvAccount + " is not set"},
		{lambdafn.Tamper, map[string]string{settings.EnvLedgerTable: "t1x"}, settings.EnvOwnRoleArns + " is not set"},
		{lambdafn.Tamper, map[string]string{settings.EnvOwnRoleArns: "arn:aws:iam::123456789012:role/r", settings.EnvIncidentOpenDays: "0"}, settings.EnvIncidentOpenDays + " is 0"},
		{lambdafn.Alert, nil, settings.EnvAlertTopicArn + " is not set"},
		{lambdafn.Remove, map[string]string{settings.EnvExposedKeyAction: "shred"}, `is "shred"`},
		{lambdafn.Activity, map[string]string{settings.EnvActivityWindow: "forever"}, settings.EnvActivityWindow},
		{lambdafn.Scan, map[string]string{settings.EnvLedgerTable: "t1x"}, settings.EnvKeyAgePolicy + " is not set"},
		{lambdafn.Scan, map[string]string{settings.EnvLedgerTable: "t1x", settings.EnvKeyAgePolicy: `{"limitDays":"soon"}`}, settings.EnvKeyAgePolicy},
		{lambdafn.Scan, map[string]string{settings.EnvLedgerTable: "t1x", settings.EnvKeyAgePolicy: `{"warnDays":[95]}`}, "warnDays"},
		{lambdafn.Scan, map[string]string{settings.EnvLedgerTable: "t1x", settings.EnvKeyAgePolicy: `{}`, settings.EnvDryRun: "perhaps"}, settings.EnvDryRun},
		{lambdafn.Act, nil, settings.EnvLedgerTable + " is not set"},
		{lambdafn.Digest, nil, settings.EnvAlertTopicArn + " is not set"},
		{"nosuch", nil, `no function named "nosuch"`},
	} {
		_, err := New(tc.name, cfg, env(tc.vars), time.Now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to say %q", tc.name, err, tc.want)
		}
	}
}
