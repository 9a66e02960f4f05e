// Command infra is keywarden's AWS CDK app: one stack holding the state
// machine (exposed-key response, daily key-age run, key-creation record),
// its Go Lambdas, the EventBridge rules and schedule that start it, the
// alert topic and the ledger. cdk.json runs it from the repository root ("go run ./infra");
// settings come from cdk.json context or -c key=value and are validated
// before anything is built.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/keywarden/keywarden/internal/settings"
)

// stackName is the CloudFormation stack's name and construct id.
const stackName = "Keywarden"

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "keywarden: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	defer jsii.Close()
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := findRepoRoot(wd)
	if err != nil {
		return err
	}
	var context map[string]any
	// The CDK CLI sets CDK_OUTDIR and passes cdk.json context (with -c
	// values) itself; run bare, the app reads cdk.json so its template is
	// the same.
	if os.Getenv("CDK_OUTDIR") == "" {
		if context, err = readCDKContext(root); err != nil {
			return err
		}
	}
	app, _, err := newApp(root, context)
	if err != nil {
		return err
	}
	return synthesize(app)
}

// synthesize writes the cloud assembly. Validation failures (an
// unsuppressed cdk-nag error, a CloudFormation rule) arrive from jsii as a
// panic; the findings themselves are already printed above it.
func synthesize(app awscdk.App) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synthesis failed: %v", r)
		}
	}()
	app.Synth(nil)
	return nil
}

// newApp builds the app and its one stack from the given context (nil: only
// what the CDK CLI passes in the environment), with cdk-nag's AwsSolutions
// and NIST 800-53 rev 5 checks applied. Invalid settings are returned as an
// error before any construct is built.
func newApp(root string, context map[string]any) (awscdk.App, awscdk.Stack, error) {
	app, stack, _, err := newApps(root, context)
	return app, stack, err
}

// newApps is newApp that also returns, in organization mode, the member
// stack synthesized (in an App of its own) into the hub's StackSet; nil in
// account mode.
func newApps(root string, context map[string]any) (awscdk.App, awscdk.Stack, awscdk.Stack, error) {
	props := &awscdk.AppProps{}
	if context != nil {
		props.Context = &context
	}
	app := awscdk.NewApp(props)
	s, err := settings.FromContext(func(key string) any {
		return app.Node().TryGetContext(jsii.String(key))
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("settings (cdk.json \"context\" or -c key=value):\n%w", err)
	}
	if err := checkPlaceholders(); err != nil {
		return nil, nil, nil, err
	}
	var member awscdk.Stack
	var memberBody string
	if s.Mode == settings.ModeOrganization {
		if member, memberBody, err = newMemberTemplate(*app.Outdir(), context, s); err != nil {
			return nil, nil, nil, err
		}
	}
	stack := NewKeywardenStack(app, stackName, &KeywardenStackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String("keywarden: automated incident response for exposed IAM access keys, key-age enforcement and a record of key creation " +
				"(EventBridge rules and a daily schedule, a Step Functions state machine, Go Lambdas, an SNS alert topic, a DynamoDB ledger)"),
			Tags: &map[string]*string{"project": jsii.String("keywarden")},
			// A security tool's configuration is not reported to AWS's
			// CDK usage metrics.
			AnalyticsReporting: jsii.Bool(false),
		},
		Settings:           s,
		RepoRoot:           root,
		MemberTemplateBody: memberBody,
	})
	// Two cdk-nag packs: AWS Solutions, and NIST 800-53 rev 5 (reviewed
	// in SECURITY-NIST.md). Either's unsuppressed error fails `cdk synth`.
	for _, pack := range nagPacks() {
		awscdk.Aspects_Of(app).Add(pack, nil)
	}
	return app, stack, member, nil
}

// nagPacks are the cdk-nag rule packs run at synthesis, verbose (each
// finding explains its rule): AwsSolutions ("AwsSolutions-IAM5") and
// NIST 800-53 rev 5 ("NIST.800.53.R5-LambdaInsideVPC"). Each writes its
// compliance report, <pack>--Keywarden-NagReport.csv, to cdk.out.
func nagPacks() []awscdk.IAspect {
	props := &cdknag.NagPackProps{Verbose: jsii.Bool(true)}
	return []awscdk.IAspect{cdknag.NewAwsSolutionsChecks(props), cdknag.NewNIST80053R5Checks(props)}
}
