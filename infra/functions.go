package main

import (
	"fmt"
	"maps"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdklambdagoalpha/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
)

// functionSpec is what differs between the Lambdas besides permissions.
type functionSpec struct {
	name        string
	description string
	timeoutSecs float64
	memoryMB    float64
}

// functionSpecs lists every Lambda: each is built from lambdas/<name>, its
// name one of lambdafn.Names, the one list of functions (a test checks
// both). The task timeouts in the state machine definition are at least
// these (a test checks it), so a Lambda timeout surfaces as the function's
// own error. scan and act may run Lambda's
// maximum of 900 s, which their tasks' TimeoutSeconds only equal: there the
// two race, and a run that long ends either in States.Timeout (retried) or
// in the function's Sandbox.Timedout (caught and alerted).
var functionSpecs = []functionSpec{
	{lambdafn.Intake, "keywarden intake: starts one execution per exposed key (Trusted Advisor, AWS Health), one per created key (CloudTrail) and one per day for the key-age run", 30, 256},
	{lambdafn.Finding, "keywarden finding: reads the exposure from the event and resolves the key's owner", 30, 256},
	{lambdafn.Contain, "keywarden contain: deactivates the exposed key and reads it back", 60, 256},
	{lambdafn.Revoke, "keywarden revoke: denies the user's sessions issued before now (aws:TokenIssueTime)", 30, 256},
	{lambdafn.Activity, "keywarden activity: summarises what the key did from CloudTrail event history", 300, 256},
	{lambdafn.Remove, "keywarden remove: deletes the exposed key or keeps it inactive (exposedKeyAction)", 30, 256},
	{lambdafn.Alert, "keywarden alert: composes and publishes the incident alert", 30, 256},
	// The credential report of a large account (tens of thousands of
	// users) is parsed in memory: more memory, and with it more CPU.
	{lambdafn.Scan, "keywarden scan: reads key ages from the IAM credential report and decides per key from the key-age policy", 900, 512},
	{lambdafn.Act, "keywarden act: notifies owners of aging keys once per stage, deactivates or deletes keys where due, rotates opted-in users' keys", 900, 256},
	{lambdafn.Digest, "keywarden digest: publishes the summary of the daily key-age run", 60, 256},
	{lambdafn.Record, "keywarden record: records who created each access key, when and from where, from CloudTrail CreateAccessKey", 60, 256},
	{lambdafn.Tamper, "keywarden tamper: watches CloudTrail for a keywarden response undone (a contained key re-activated, the revoke policy deleted, a policy tag changed) and undoes it", 30, 256},
}

func specNamed(name string) functionSpec {
	for _, s := range functionSpecs {
		if s.name == name {
			return s
		}
	}
	panic(fmt.Sprintf("infra: no function spec named %q", name)) // a typo in this package, not input
}

// constructID is the function's construct id, e.g. "ActivityFunction"; the
// state machine definition names its ARN placeholder after it
// (${ActivityFunctionArn}).
func (f functionSpec) constructID() string {
	return strings.ToUpper(f.name[:1]) + f.name[1:] + "Function"
}

func (f functionSpec) placeholder() string { return f.constructID() + "Arn" }

// goBuildFlags make small, reproducible binaries: the asset hash is the
// hash of the output, so an unchanged function does not redeploy.
var goBuildFlags = []string{"-tags lambda.norpc", `-ldflags "-s -w"`, "-trimpath", "-buildvcs=false"}

type functionOptions struct {
	env        map[string]*string
	statements []awsiam.PolicyStatement
	// deadLetterQueue keeps asynchronous invocations that failed every
	// retry (the intake, invoked by EventBridge).
	deadLetterQueue awssqs.IQueue
}

// function is a Lambda with the role and log group made for it alone.
type function struct {
	spec functionSpec
	fn   awscdklambdagoalpha.GoFunction
	role awsiam.Role
	logs awslogs.LogGroup
	// granted is whether the role allows anything besides log writes.
	granted bool
}

// newFunction builds lambdas/<spec.name> with the local Go toolchain (no
// Docker) for arm64 provided.al2023. Its role has no managed policy: it may
// write to its own log group and do what opts.statements allow.
func newFunction(scope constructs.Construct, root string, s settings.Settings, spec functionSpec, opts functionOptions) *function {
	id := spec.constructID()
	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention: retention(s.LogRetentionDays),
	})
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Role of the " + spec.description),
		Path:        hubRolePathOf(s, spec.name),
	})
	role.AddToPrincipalPolicy(allow("WriteOwnLogs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, logs.LogGroupArn()))
	for _, st := range opts.statements {
		role.AddToPrincipalPolicy(st)
	}
	env := opts.env
	// Organization mode: the function acts through the member roles of
	// its duties, and is told the mode, the scope and the hub's account.
	// One the settings leave no call to make in an account still judges
	// its events' accounts (and keys the ledger by account), so it is told
	// the mode and reads the inventory all the same.
	if actsThroughMembers(s, spec.name) {
		for _, st := range memberStatements(awscdk.Stack_Of(scope), s, memberDutiesOf(s, spec.name)) {
			role.AddToPrincipalPolicy(st)
		}
		env = map[string]*string{}
		maps.Copy(env, opts.env)
		maps.Copy(env, memberEnvironment(s))
	}
	props := &awscdklambdagoalpha.GoFunctionProps{
		Entry:        jsii.String(filepath.Join(root, "lambdas", spec.name)),
		ModuleDir:    jsii.String(filepath.Join(root, "go.mod")),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		MemorySize:   jsii.Number(spec.memoryMB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(spec.timeoutSecs)),
		Description:  jsii.String(spec.description),
		Role:         role,
		LogGroup:     logs,
		Bundling: &awscdklambdagoalpha.BundlingOptions{
			GoBuildFlags: jsii.Strings(goBuildFlags...),
			CgoEnabled:   jsii.Bool(false),
		},
	}
	if len(env) > 0 {
		props.Environment = &env
	}
	if opts.deadLetterQueue != nil {
		props.DeadLetterQueue = opts.deadLetterQueue
		props.RetryAttempts = jsii.Number(2)
	}
	fn := awscdklambdagoalpha.NewGoFunction(scope, jsii.String(id), props)
	return &function{spec: spec, fn: fn, role: role, logs: logs, granted: len(opts.statements) > 0}
}

// activityEnvironment hands the CloudTrail lookup its bounds; with no
// regions configured it searches the stack's own region.
func activityEnvironment(s settings.Settings) map[string]*string {
	regions := awscdk.Aws_REGION()
	if len(s.ActivityRegions) > 0 {
		regions = jsii.String(strings.Join(s.ActivityRegions, ","))
	}
	return map[string]*string{
		settings.EnvActivityWindow:    jsii.String(fmt.Sprint(s.ActivityWindowHours)),
		settings.EnvActivityRegions:   regions,
		settings.EnvActivityMaxEvents: jsii.String(fmt.Sprint(s.ActivityMaxEvents)),
	}
}

// retentionDays maps the retention values settings accepts to the CDK's.
var retentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

func retention(days int) awslogs.RetentionDays {
	r, ok := retentionDays[days]
	if !ok {
		// settings.Validate accepts only CloudWatch Logs' values, all
		// listed above.
		panic(fmt.Sprintf("infra: no CDK retention for %d days", days))
	}
	return r
}
