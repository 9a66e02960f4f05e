package main

// Organization mode (settings.ModeOrganization) in the hub: the bus member
// accounts forward their signals to, its rules, and the StackSet that
// deploys the member template (member.go). Templates only, synthesized
// behind organizationPreview: the hub's steps do not yet act in member
// accounts (issue 12).

import (
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
)

const (
	// organizationBusName is fixed: each member's forwarding rules build
	// the hub bus's ARN from the hub account and this name.
	organizationBusName = "keywarden-organization"
	// hubRolePath holds the hub roles that will act in members: member
	// trust names them by this path (aws:PrincipalArn role/keywarden/*),
	// never by an ARN that may not exist yet.
	hubRolePath = "/keywarden/"
	// memberStackSetName is the StackSet deploying the member template.
	memberStackSetName = "keywarden-member"
	// memberRegion: IAM's CloudTrail events, Trusted Advisor's and
	// Health's reach EventBridge in us-east-1.
	memberRegion = "us-east-1"
	// The StackSet's operations: at most 10% of the accounts at once, and
	// stop once more than 10% failed. Percentages scale with the
	// organization; with equal values the concurrency never exceeds the
	// tolerance by more than one account, as StackSets require.
	stackSetConcurrentPercentage = 10
	stackSetFailurePercentage    = 10
)

// memberActors are the hub functions that will act in member accounts:
// in organization mode their roles are under hubRolePath. The alert and
// digest functions only publish, and stay outside it.
var memberActors = []string{lambdafn.Intake, lambdafn.Finding, lambdafn.Contain, lambdafn.Revoke, lambdafn.Activity,
	lambdafn.Remove, lambdafn.Scan, lambdafn.Act, lambdafn.Record, lambdafn.Tamper}

// hubRolePathOf is the IAM path of a function's role: hubRolePath for a
// member actor in organization mode, none (the default "/") otherwise, so
// a per-account stack is unchanged.
func hubRolePathOf(s settings.Settings, name string) *string {
	if s.Mode != settings.ModeOrganization || !slices.Contains(memberActors, name) {
		return nil
	}
	return jsii.String(hubRolePath)
}

// memberDenyPolicyMatch is the detach rule's policy on the hub bus: the
// deny policy of any member (member.go names it), whatever its account.
var memberDenyPolicyMatch = []any{map[string]any{"wildcard": "arn:*:iam::*:policy" + hubRolePath + memberDenyPolicyName}}

// newOrganizationBus is the hub's bus for the members' forwarded signals:
// only principals of the organization may put events on it. Its rules
// are the default bus's signal rules (signalTriggers), with the same
// target, retries and dead-letter queue.
func newOrganizationBus(stack awscdk.Stack, s settings.Settings, intake awslambda.IFunction, dlq awssqs.IQueue) awsevents.EventBus {
	bus := awsevents.NewEventBus(stack, jsii.String("OrganizationBus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(organizationBusName),
		Description:  jsii.String("keywarden: signals forwarded by the organization's member accounts"),
	})
	bus.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("PutEventsFromTheOrganizationOnly"),
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("events:PutEvents"),
		Resources:  &[]*string{bus.EventBusArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": s.OrganizationID}},
	}))
	for _, t := range signalTriggers(s, memberDenyPolicyMatch) {
		awsevents.NewRule(stack, jsii.String("Organization"+t.id), &awsevents.RuleProps{
			EventBus:     bus,
			Description:  jsii.String(t.description + ", forwarded by a member account"),
			EventPattern: t.pattern,
			Targets:      &[]awsevents.IRuleTarget{intakeTarget(intake, dlq)},
		})
	}
	return bus
}

// newMemberStackSet deploys the member template to every account of the
// settings' OUs, now and as accounts join (service-managed, auto-deployed;
// an account leaving the OUs loses its member stack). Excluded accounts
// get none. StackSets never deploy to the management account.
func newMemberStackSet(stack awscdk.Stack, s settings.Settings, templateBody string) awscdk.CfnStackSet {
	targets := &awscdk.CfnStackSet_DeploymentTargetsProperty{OrganizationalUnitIds: jsii.Strings(s.OrganizationalUnits...)}
	if len(s.ExcludedAccounts) > 0 {
		targets.AccountFilterType = jsii.String("DIFFERENCE")
		targets.Accounts = jsii.Strings(s.ExcludedAccounts...)
	}
	return awscdk.NewCfnStackSet(stack, jsii.String("MemberStackSet"), &awscdk.CfnStackSetProps{
		StackSetName:    jsii.String(memberStackSetName),
		Description:     jsii.String("keywarden member accounts: forwarding rules to the hub bus, the deny policy and the hub's roles by duty"),
		PermissionModel: jsii.String("SERVICE_MANAGED"),
		CallAs:          jsii.String(s.StackSetCallAs),
		AutoDeployment: &awscdk.CfnStackSet_AutoDeploymentProperty{
			Enabled:                      jsii.Bool(true),
			RetainStacksOnAccountRemoval: jsii.Bool(false),
		},
		// A Json property in the CloudFormation schema: the CDK passes it as is.
		ManagedExecution: map[string]any{"Active": true},
		// The member roles have fixed names.
		Capabilities: jsii.Strings("CAPABILITY_NAMED_IAM"),
		OperationPreferences: &awscdk.CfnStackSet_OperationPreferencesProperty{
			FailureTolerancePercentage: jsii.Number(stackSetFailurePercentage),
			MaxConcurrentPercentage:    jsii.Number(stackSetConcurrentPercentage),
			RegionConcurrencyType:      jsii.String("PARALLEL"),
		},
		Parameters: &[]*awscdk.CfnStackSet_ParameterProperty{{
			ParameterKey: jsii.String(hubAccountParameter), ParameterValue: awscdk.Aws_ACCOUNT_ID(),
		}},
		StackInstancesGroup: &[]*awscdk.CfnStackSet_StackInstancesProperty{{
			DeploymentTargets: targets,
			Regions:           jsii.Strings(memberRegion),
		}},
		TemplateBody: jsii.String(templateBody),
	})
}

// Organization outputs: what `keywarden doctor` reads to run its
// organization checks (internal/doctor/organization.go). A per-account
// stack has none of them, so its template and doctor's checks there stay
// as they were. Values are literals of the settings: none is secret.
const (
	outMode                = "Mode"
	outOrganizationID      = "OrganizationId"
	outOrganizationalUnits = "OrganizationalUnits"
	outExcludedAccounts    = "ExcludedAccounts"
	outOptOutTag           = "OptOutTag"
	outStackSetName        = "StackSetName"
	outStackSetCallAs      = "StackSetCallAs"
	outOrganizationBus     = "OrganizationBusName"
	// outputListSeparator joins a list setting in one output value.
	outputListSeparator = ","
	// noExcludedAccounts: CloudFormation refuses an empty output value.
	noExcludedAccounts = "none"
)

// newOrganizationOutputs tells doctor the stack is a hub, which StackSet
// deploys its members and how to call it, its bus, and the scope the
// inventory computes the in-scope accounts from.
func newOrganizationOutputs(stack awscdk.Stack, s settings.Settings) {
	excluded := noExcludedAccounts
	if len(s.ExcludedAccounts) > 0 {
		excluded = strings.Join(s.ExcludedAccounts, outputListSeparator)
	}
	for _, o := range []struct{ id, description, value string }{
		{outMode, "keywarden's deployment mode: organization (a hub acting for the organization's member accounts)", settings.ModeOrganization},
		{outOrganizationID, "The organization whose principals may put events on the hub bus and whose accounts are in scope", s.OrganizationID},
		{outOrganizationalUnits, "The OUs (or root) whose accounts are in scope and receive the member StackSet, comma-separated", strings.Join(s.OrganizationalUnits, outputListSeparator)},
		{outExcludedAccounts, "Accounts left out (no member stack, no action), comma-separated, or none", excluded},
		{outOptOutTag, "The account tag whose value true leaves an account out of scope", s.OptOutTag},
		{outStackSetName, "The service-managed StackSet deploying the member template to the in-scope accounts", memberStackSetName},
		{outStackSetCallAs, "How the hub calls the member StackSet: SELF (management account) or DELEGATED_ADMIN", s.StackSetCallAs},
		{outOrganizationBus, "The hub bus the members forward their signals to", organizationBusName},
	} {
		awscdk.NewCfnOutput(stack, jsii.String(o.id), &awscdk.CfnOutputProps{Description: jsii.String(o.description), Value: jsii.String(o.value)})
	}
}

// previewOnly makes a deployment of the preview fail before anything is
// created: its rule's assertion never holds, and says why.
func previewOnly(stack awscdk.Stack) {
	awscdk.NewCfnRule(stack, jsii.String("OrganizationPreviewOnly"), &awscdk.CfnRuleProps{
		Assertions: &[]*awscdk.CfnRuleAssertion{{
			Assert:            awscdk.Fn_ConditionEquals(jsii.String("preview"), jsii.String("deployable")),
			AssertDescription: jsii.String(settings.NotFinished),
		}},
	})
}
