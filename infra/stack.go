package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
)

// KeywardenStackProps configure the stack.
type KeywardenStackProps struct {
	awscdk.StackProps
	// Settings are the validated deployment settings (cdk.json context).
	Settings settings.Settings
	// RepoRoot is the directory holding go.mod and lambdas/<name>, from
	// which every function is built.
	RepoRoot string
	// MemberTemplateBody is the member template (organization mode).
	MemberTemplateBody string
}

// NewKeywardenStack builds the whole deployment: the alert topic and its
// key, the ledger table (key-age run, key creators), one Lambda per task,
// the state machine that runs them, the EventBridge rules (exposed keys,
// key creation) and daily schedule that start it (through the intake
// function), the dead-letter queue that keeps any event whose delivery
// failed, and the CloudWatch alarms that notify the alert topic when the
// daily run stops succeeding, the queue holds events or executions fail.
//
// The stack is environment-agnostic: it looks nothing up, so it synthesizes
// offline without credentials. Deploy it in us-east-1, where IAM's and
// Trusted Advisor's events reach EventBridge.
func NewKeywardenStack(scope constructs.Construct, id string, props *KeywardenStackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	s := props.Settings

	alerting := newAlerting(stack, s)
	dlq := newDeadLetterQueue(stack)
	ledger := newLedgerTable(stack)
	users := iamUsersArn(stack)

	// Task functions, called by the state machine. Each role allows its
	// own log writes and exactly the calls its handler makes.
	fns := map[string]*function{}
	add := func(name string, env map[string]*string, statements ...awsiam.PolicyStatement) *function {
		fns[name] = newFunction(stack, props.RepoRoot, s, specNamed(name), functionOptions{env: env, statements: statements})
		return fns[name]
	}
	// The finding step and the intake compare the key's account (Health's
	// organizational view names a member account) with the deployment's:
	// a key of another account is alerted, never looked up here.
	// In organization mode the steps that answer an event act in its
	// account through member roles only: inOwnAccount drops their grants
	// on the hub's own IAM and CloudTrail (organization.go).
	thisAccount := awscdk.Aws_ACCOUNT_ID()
	add(lambdafn.Finding, map[string]*string{settings.EnvAccount: thisAccount},
		inOwnAccount(s, lambdafn.Finding, allow("ReadKeyLastUsed", []string{"iam:GetAccessKeyLastUsed"}, users))...)
	// The containment and the revocation are recorded in the ledger, from
	// which the tamper watch undoes their undoing.
	recordResponse := map[string]*string{settings.EnvLedgerTable: ledger.TableName()}
	add(lambdafn.Contain, recordResponse, append(
		inOwnAccount(s, lambdafn.Contain, allow("DeactivateAndReadKeys", []string{"iam:UpdateAccessKey", "iam:ListAccessKeys"}, users)),
		allow("RecordContainment", responseLedgerActions, ledger.TableArn()))...)
	// revokeWith attachedPolicy: the deny policy the revoke step attaches.
	revokePolicy := newRevokePolicy(stack, s)
	addRevokeFunction(s, users, revokePolicy, ledger, add)
	add(lambdafn.Activity, activityEnvironment(s),
		inOwnAccount(s, lambdafn.Activity, allow("LookupCloudTrailEvents", []string{"cloudtrail:LookupEvents"}, jsii.String("*")))...)
	var removeStatements []awsiam.PolicyStatement
	if s.ExposedKeyAction == settings.ActionDelete {
		// With "deactivate" the function keeps the key inactive and
		// needs no IAM action at all.
		removeStatements = append(removeStatements, allow("DeleteKey", []string{"iam:DeleteAccessKey"}, users))
	}
	add(lambdafn.Remove, map[string]*string{settings.EnvExposedKeyAction: jsii.String(s.ExposedKeyAction)},
		inOwnAccount(s, lambdafn.Remove, removeStatements...)...)
	// The alert quotes who created the exposed key from the ledger.
	add(lambdafn.Alert, map[string]*string{
		settings.EnvAlertTopicArn: alerting.topic.TopicArn(),
		settings.EnvConsoleRegion: awscdk.Aws_REGION(),
		settings.EnvLedgerTable:   ledger.TableName(),
	}, append(alerting.publishStatements(),
		allow("ReadKeyCreator", alertLedgerActions, ledger.TableArn()))...)
	addKeyAgeFunctions(stack, s, alerting, ledger, add)
	addRecordFunction(stack, s, alerting, ledger, add)
	addTamperFunction(stack, s, ledger, revokePolicy, fns, add)

	machine := newStateMachine(stack, s, fns)
	alerting.alertOnFailedExecutions(stack, machine, dlq)
	alerting.allowCloudWatchAlarms(stack)
	alarms := newAlarms(stack, alerting, dlq, machine)

	// The intake starts executions; the state machine does not reference
	// it, so its ARN can reach the intake without a cycle.
	fns[lambdafn.Intake] = newFunction(stack, props.RepoRoot, s, specNamed(lambdafn.Intake), functionOptions{
		env: map[string]*string{settings.EnvStateMachineArn: machine.StateMachineArn(), settings.EnvAccount: thisAccount,
			// keywarden's own writes start no tamper execution.
			settings.EnvOwnRoleArns: ownRoleArns(fns)},
		statements: append([]awsiam.PolicyStatement{
			// ListExecutions finds an earlier response to a key IAM no
			// longer knows (internal/intake).
			allow("StartExecution", []string{"states:StartExecution", "states:ListExecutions"}, machine.StateMachineArn()),
			// DescribeExecution checks that an execution holding a
			// report's name is a response to that key (internal/intake).
			allow("ReadOwnExecutions", []string{"states:DescribeExecution"}, executionsArn(stack, machine)),
		}, inOwnAccount(s, lambdafn.Intake, allow("ReadKeyLastUsed", []string{"iam:GetAccessKeyLastUsed"}, users))...),
		deadLetterQueue: dlq,
	})
	newTriggers(stack, s, revokePolicy, fns[lambdafn.Intake].fn, dlq)
	if s.Mode == settings.ModeOrganization {
		newOrganizationBus(stack, s, fns[lambdafn.Intake].fn, dlq)
		newMemberStackSet(stack, s, props.MemberTemplateBody)
		newOrganizationOutputs(stack, s)
	}

	suppressFindings(s, fns, machine)
	awscdk.Annotations_Of(stack).AcknowledgeWarning(
		jsii.String("@aws-cdk/aws-lambda-go-alpha:goBuildFlagsSecurityWarning"),
		jsii.String("goBuildFlags are constants in infra/functions.go, not input."))
	newOutputs(stack, s, machine, alerting, dlq, ledger, alarms)
	return stack
}

// iamUsersArn is every IAM user of the account: the exposed or aging key's
// owner is only known at run time.
func iamUsersArn(stack awscdk.Stack) *string {
	return stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("iam"),
		Region:       jsii.String(""),
		Resource:     jsii.String("user"),
		ResourceName: jsii.String("*"),
		ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})
}

// executionsArn is every execution of the state machine; their names are
// only known at run time.
func executionsArn(stack awscdk.Stack, machine awsstepfunctions.StateMachine) *string {
	return stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("states"),
		Resource:     jsii.String("execution"),
		ResourceName: jsii.String(*machine.StateMachineName() + ":*"),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}

// allow is an Allow statement of exactly these actions on these resources.
func allow(sid string, actions []string, resources ...*string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String(sid),
		Effect:    awsiam.Effect_ALLOW,
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	})
}

func newOutputs(stack awscdk.Stack, s settings.Settings, machine awsstepfunctions.StateMachine, alerting *alerting, dlq awssqs.Queue, ledger awsdynamodb.Table, alarms *alarms) {
	output := func(id, description string, value *string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{
			Description: jsii.String(description),
			Value:       value,
		})
	}
	output("StateMachineArn", "keywarden's state machine: one execution per exposed-key incident, per created key and per daily key-age run", machine.StateMachineArn())
	output("AlertTopicArn", "SNS topic of keywarden's alerts; subscribe the security team", alerting.topic.TopicArn())
	output("LedgerTableName", "DynamoDB ledger of the key-age run: notices sent, actions taken, key creators (retained on stack deletion)", ledger.TableName())
	output("DeadLetterQueueUrl", "Events whose delivery to keywarden failed; anything here is an unhandled report", dlq.QueueUrl())
	output("DailyRunMissingAlarmName", "CloudWatch alarm: no daily key-age run has succeeded for 26 hours (notifies the alert topic, and again when a run succeeds)", alarms.dailyRunMissing.AlarmName())
	output("DeadLetterQueueAlarmName", "CloudWatch alarm: events are waiting in the dead-letter queue (notifies the alert topic)", alarms.deadLetterQueue.AlarmName())
	output("FailedExecutionsAlarmName", "CloudWatch alarm: an execution failed or timed out (notifies the alert topic, beside the FailedExecutionRule alert)", alarms.failedExecutions.AlarmName())
	output("ConsoleUrl", "The state machine's executions in the Step Functions console", awscdk.Fn_Sub(
		jsii.String("https://${AWS::Region}.console.aws.amazon.com/states/home?region=${AWS::Region}#/statemachines/view/${Arn}"),
		&map[string]*string{"Arn": machine.StateMachineArn()}))
	// The settings `keywarden doctor` reports and checks against. Neither
	// is secret: a mode and an e-mail address.
	mode := "enforcing"
	if s.DryRun {
		mode = "dry-run"
	}
	output("KeyAgeMode", "The daily key-age run as deployed: dry-run (decides and notifies, deactivates nothing) or enforcing", jsii.String(mode))
	sender := s.NoticeSender
	if sender == "" {
		// CloudFormation refuses an empty output value.
		sender = "none"
	}
	output("NoticeSender", "The SES identity owner notices are e-mailed from, or none (notices go to the alert topic)", jsii.String(sender))
}
