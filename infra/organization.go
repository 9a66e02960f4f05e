package main

// Organization mode (settings.ModeOrganization) in the hub: the bus member
// accounts forward their signals to, its rules, the StackSet that deploys
// the member template (member.go), the hub functions' member duties and
// the outputs doctor reads.

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/member"
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

// memberDuties are, in organization mode, the member roles (by duty,
// internal/member) each hub function that responds to an event assumes in
// the event's account: the only way it acts in any account, the hub's own
// included (the hub, when in the OUs, has its own member stack). scan and
// act do the same for each account of the daily run across the
// organization (scan reads; act notifies and deactivates or deletes, and
// with rotation on rotates through the member's rotate role). alert and
// digest only publish (digest also reads and writes the run's ledger
// parts).
var memberDuties = map[string][]member.Duty{
	lambdafn.Scan:     {member.Read},
	lambdafn.Act:      {member.Respond, member.Rotate},
	lambdafn.Intake:   {member.Read},
	lambdafn.Finding:  {member.Read},
	lambdafn.Contain:  {member.Respond},
	lambdafn.Revoke:   {member.Respond},
	lambdafn.Activity: {member.Read},
	lambdafn.Remove:   {member.Respond},
	lambdafn.Record:   {member.Read},
	lambdafn.Tamper:   {member.Read, member.Respond},
}

// actsThroughMembers reports whether the function, in these settings,
// acts in accounts through member roles only, never with its own role.
func actsThroughMembers(s settings.Settings, name string) bool {
	return s.Mode == settings.ModeOrganization && memberDuties[name] != nil
}

// inOwnAccount is the statements by which a function calls IAM or
// CloudTrail in the deployment's own account, or none where it acts
// through member roles: in organization mode a hub role that could also
// change the hub's own users would bypass the inventory's scope check and
// the member's CloudTrail record (source identity) of every call.
func inOwnAccount(s settings.Settings, name string, statements ...awsiam.PolicyStatement) []awsiam.PolicyStatement {
	if actsThroughMembers(s, name) {
		return nil
	}
	return statements
}

// memberDutiesOf is the duties the function assumes in these settings:
// memberDuties in organization mode, except where the settings leave the
// function no call to make in an account, as its role holds no IAM action
// in account mode either: remove with exposedKeyAction "deactivate",
// record with noAccessKeysTag empty, tamper with tamperUndo off; and act
// assumes no rotate role with keyAge.rotationDays 0, where the member
// template has none.
func memberDutiesOf(s settings.Settings, name string) []member.Duty {
	switch {
	case !actsThroughMembers(s, name),
		name == lambdafn.Remove && s.ExposedKeyAction != settings.ActionDelete,
		name == lambdafn.Record && s.NoAccessKeysTag == "",
		name == lambdafn.Tamper && !s.TamperUndo:
		return nil
	case name == lambdafn.Act && s.KeyAge.RotationDays <= 0:
		return slices.DeleteFunc(slices.Clone(memberDuties[name]), func(d member.Duty) bool { return d == member.Rotate })
	}
	return memberDuties[name]
}

// memberEnvironment is what member.NewActing reads: the mode, the scope
// (settings.Scope as JSON, checked again by the function) and the hub's
// account, which the inventory and the sessions need.
func memberEnvironment(s settings.Settings) map[string]*string {
	scope, err := json.Marshal(s.Organization.Scope())
	if err != nil {
		// A struct of strings and slices of strings always encodes.
		panic("infra: encode the organization scope: " + err.Error())
	}
	return map[string]*string{
		settings.EnvMode:         jsii.String(settings.ModeOrganization),
		settings.EnvOrganization: jsii.String(string(scope)),
		settings.EnvAccount:      awscdk.Aws_ACCOUNT_ID(),
	}
}

// memberRoleArn is the member role of duty in every account
// (arn:<partition>:iam::*:role/<name>): the hub reaches a member by its
// account id, known only at run time.
func memberRoleArn(stack awscdk.Stack, duty member.Duty) *string {
	return stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("iam"),
		Region:       jsii.String(""),
		Account:      jsii.String("*"),
		Resource:     jsii.String("role"),
		ResourceName: jsii.String(duty.RoleName()),
		ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})
}

// organizationArn is an Organizations resource of the settings'
// organization: its ARN names the management account, which the hub (a
// delegated administrator) does not know, and the organization, which is
// unique to it.
func organizationArn(stack awscdk.Stack, s settings.Settings, resource, name string) *string {
	return stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("organizations"),
		Region:       jsii.String(""),
		Account:      jsii.String("*"),
		Resource:     jsii.String(resource),
		ResourceName: jsii.String(s.OrganizationID + "/" + name),
		ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})
}

// Organizations actions the inventory (internal/inventory) calls, by what
// IAM can scope them to (Service Authorization Reference, AWS
// Organizations).
var (
	// No resource-level permissions.
	organizationReadActions = []string{"organizations:DescribeOrganization", "organizations:ListAccounts", "organizations:ListRoots"}
	// The parent's OU (organizationalunit). The inventory lists only
	// OUs' children: a root in organizationalUnits puts every account
	// in scope through ListAccounts.
	organizationUnitActions = []string{"organizations:ListAccountsForParent", "organizations:ListOrganizationalUnitsForParent"}
	// The account whose opt-out tag is read (account).
	organizationTagActions = []string{"organizations:ListTagsForResource"}
	// Assuming a member role with the session's source identity.
	assumeMemberActions = []string{"sts:AssumeRole", "sts:SetSourceIdentity"}
)

// memberStatements let a function act through the member roles of its
// duties: assume them, with a source identity, in accounts of the
// organization only (aws:ResourceOrgID: a role of the same name in an
// account outside it cannot be assumed), and read the organization's
// inventory, which the function checks an account against before any
// AssumeRole. Organizations answers those reads only to the management
// account and a delegated administrator.
func memberStatements(stack awscdk.Stack, s settings.Settings, duties []member.Duty) []awsiam.PolicyStatement {
	roles := make([]*string, len(duties))
	for i, d := range duties {
		roles[i] = memberRoleArn(stack, d)
	}
	statements := []awsiam.PolicyStatement{
		allow("ReadOrganization", organizationReadActions, jsii.String("*")),
		allow("ListOrganizationalUnits", organizationUnitActions, organizationArn(stack, s, "ou", "ou-*")),
		allow("ReadAccountTags", organizationTagActions, organizationArn(stack, s, "account", "*")),
	}
	if len(duties) == 0 {
		return statements
	}
	return append([]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AssumeMemberRoles"),
		Effect:     awsiam.Effect_ALLOW,
		Actions:    jsii.Strings(assumeMemberActions...),
		Resources:  &roles,
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": s.OrganizationID}},
	})}, statements...)
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
