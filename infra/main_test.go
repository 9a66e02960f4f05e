package main

// The stack is synthesized once, in TestMain, with cdk.json's context (the
// feature flags `cdk synth` uses); every test reads that one template.
// Variants (other settings) get one more App, built on first use: a
// construct tree cannot change after synthesis. jsii failures are panics;
// run with -count=1 (Go's test cache cannot see the files node reads).

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// runMainEnv makes the test binary run main() instead of the tests, so a
// test can watch the app fail the way `cdk synth` runs it.
const runMainEnv = "KEYWARDEN_INFRA_RUN_MAIN"

var (
	repoRoot     string
	cdkContext   map[string]any
	defaultStack awscdk.Stack
	defaultTmpl  *cfnTemplate
)

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	defer jsii.Close()
	var err error
	if repoRoot, err = findRepoRoot("."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if cdkContext, err = readCDKContext(repoRoot); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var tmpl assertions.Template
	defaultStack, tmpl, err = synth(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if defaultTmpl, err = parseTemplate(tmpl); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// synth builds an App from cdk.json's context with overrides and
// synthesizes its stack. A failed validation (say, an unsuppressed cdk-nag
// error) is a jsii panic, returned here as an error.
func synth(overrides map[string]any) (stack awscdk.Stack, tmpl assertions.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synthesis failed (findings printed above): %v", r)
		}
	}()
	ctx := maps.Clone(cdkContext)
	// The CDK CLI sets this; the tests find resources by their path.
	ctx["aws:cdk:enable-path-metadata"] = true
	maps.Copy(ctx, overrides)
	if _, stack, err = newApp(repoRoot, ctx); err != nil {
		return nil, nil, err
	}
	return stack, assertions.Template_FromStack(stack, nil), nil
}

// The variant: every setting away from its default.
var (
	variantOnce  sync.Once
	variantStack awscdk.Stack
	variantTmpl  *cfnTemplate
	variantErr   error
)

var variantSettings = map[string]any{
	"exposedKeyAction":    "deactivate",
	"drillSources":        false,
	"activityWindowHours": 72,
	"activityRegions":     []any{"us-east-1", "eu-west-1"},
	"activityMaxEvents":   1000,
	"alertEmails":         []any{"security@example.com", "oncall@example.com"},
	"logRetentionDays":    90,
	// Unset keyAge fields keep their defaults.
	// Rotation off.
	"keyAge":       map[string]any{"warnDays": []any{60, 75}, "limitDays": 85, "deleteAfterDays": 30, "rotationDays": 0},
	"dryRun":       false,
	"schedule":     "rate(1 day)",
	"noticeSender": "keywarden@example.com",
	// The record's noAccessKeysTag check off.
	"noAccessKeysTag": "",
	// The tamper watch reports only, and closes incidents after 14 days.
	"tamperUndo":       false,
	"incidentOpenDays": 14,
	// Sessions revoked by attaching the stack's deny policy.
	"revokeWith": "attachedPolicy",
}

func variant(t *testing.T) (awscdk.Stack, *cfnTemplate) {
	t.Helper()
	variantOnce.Do(func() {
		var tmpl assertions.Template
		if variantStack, tmpl, variantErr = synth(variantSettings); variantErr == nil {
			variantTmpl, variantErr = parseTemplate(tmpl)
		}
	})
	if variantErr != nil {
		t.Fatal(variantErr)
	}
	return variantStack, variantTmpl
}

// The attached variant: the defaults but revokeWith attachedPolicy, so
// that the tamper watch, undoing (tamperUndo on), attaches the policy
// again.
var (
	attachedOnce  sync.Once
	attachedStack awscdk.Stack
	attachedTmpl  *cfnTemplate
	attachedErr   error
)

func attachedVariant(t *testing.T) (awscdk.Stack, *cfnTemplate) {
	t.Helper()
	attachedOnce.Do(func() {
		var tmpl assertions.Template
		if attachedStack, tmpl, attachedErr = synth(map[string]any{"revokeWith": "attachedPolicy"}); attachedErr == nil {
			attachedTmpl, attachedErr = parseTemplate(tmpl)
		}
	})
	if attachedErr != nil {
		t.Fatal(attachedErr)
	}
	return attachedStack, attachedTmpl
}

// Bad settings stop synthesis with settings' own message, before anything
// is built.
func TestBadSettings(t *testing.T) {
	for _, c := range []struct {
		key   string
		value any
		want  string
	}{
		{"exposedKeyAction", "shred", `exposedKeyAction is "shred"; use "delete" or "deactivate"`},
		{"keyAge", map[string]any{"warnDays": []any{95}}, "warnDays has 95, which is not below limitDays 90"},
		{"keyAge", map[string]any{"warnDay": []any{60}}, `unknown field "warnDay"`},
		{"schedule", "daily at 8", `schedule is "daily at 8"; use an EventBridge schedule expression`},
		{"noticeSender", "keywarden", `noticeSender is "keywarden"`},
		{"noAccessKeysTag", "aws:x", `noAccessKeysTag is "aws:x"; use a tag key of at most 128 characters not starting with aws:`},
	} {
		ctx := maps.Clone(cdkContext)
		ctx[c.key] = c.value
		_, _, err := newApp(repoRoot, ctx)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("newApp with %s=%s: %v, want an error containing %q", c.key, toJSON(c.value), err, c.want)
		}
	}
}

// The app run as `cdk synth` runs it (context in CDK_CONTEXT_JSON) exits 1
// and prints every problem.
func TestMainFailsOnBadSettings(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		runMainEnv+"=1",
		"CDK_OUTDIR="+t.TempDir(),
		`CDK_CONTEXT_JSON={"exposedKeyAction":"shred","logRetentionDays":8}`,
	)
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; output:\n%s", err, out)
	}
	for _, want := range []string{`exposedKeyAction is "shred"`, "logRetentionDays is 8"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "panic") {
		t.Errorf("the app panicked:\n%s", out)
	}
}
