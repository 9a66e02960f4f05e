package main

// The member template of organization mode: what the StackSet deploys to
// each member account (organization.go). It holds no asset and no Lambda,
// so it travels as the StackSet's TemplateBody.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/settings"
)

const (
	// memberStackName is the member stack's construct id and template name.
	memberStackName = "KeywardenMember"
	// hubAccountParameter is the member template's parameter naming the
	// hub account; the StackSet sets it to the hub stack's account.
	hubAccountParameter = "HubAccountId"
	// memberDenyPolicyName is the member's deny policy (under hubRolePath):
	// a fixed name, so that the hub can build its ARN in each account
	// (member.DenyPolicyARN).
	memberDenyPolicyName = member.DenyPolicyName
	// memberTemplateBodyLimit is CloudFormation's limit on a TemplateBody.
	memberTemplateBodyLimit = 51200
)

// Member roles have fixed names: the hub builds each one's ARN from the
// account it acts in (arn:<partition>:iam::<member>:role/<name>), with no
// lookup and no list of ARNs to keep in step with the organization. The
// duty roles' names are internal/member's, which assumes them.
const (
	memberReadRole    = member.ReadRole
	memberRespondRole = member.RespondRole
	memberRotateRole  = member.RotateRole
	memberForwardRole = "keywarden-member-forward"
	// memberRotationKeyAlias names the member's secrets key for the hub.
	memberRotationKeyAlias = member.RotationKeyAlias
)

// newMemberTemplate synthesizes the member stack in an App of its own
// (outdir <hub outdir>/member), with both cdk-nag packs, and returns the
// stack and its template as compact JSON: the StackSet's TemplateBody.
func newMemberTemplate(hubOutdir string, context map[string]any, s settings.Settings) (awscdk.Stack, string, error) {
	props := &awscdk.AppProps{Outdir: jsii.String(filepath.Join(hubOutdir, "member"))}
	if context != nil {
		props.Context = &context
	}
	app := awscdk.NewApp(props)
	stack := NewMemberStack(app, memberStackName, s)
	for _, pack := range nagPacks() {
		awscdk.Aspects_Of(app).Add(pack, nil)
	}
	if err := synthesize(app); err != nil {
		return nil, "", fmt.Errorf("member template: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(*app.Outdir(), memberStackName+".template.json"))
	if err != nil {
		return nil, "", fmt.Errorf("member template: %w", err)
	}
	var body bytes.Buffer
	if err := json.Compact(&body, raw); err != nil {
		return nil, "", fmt.Errorf("member template: %w", err)
	}
	if body.Len() > memberTemplateBodyLimit {
		return nil, "", fmt.Errorf("member template: %d bytes, above CloudFormation's TemplateBody limit of %d", body.Len(), memberTemplateBodyLimit)
	}
	return stack, body.String(), nil
}

// NewMemberStack builds what each member account receives: rules on its
// default bus forwarding the signals keywarden answers to the hub bus,
// the fixed deny policy the respond role attaches, and one role per duty
// the hub's functions will assume (read, respond and, with rotation on,
// rotate, with the secrets' KMS key). No role is administrator-equivalent.
func NewMemberStack(scope constructs.Construct, id string, s settings.Settings) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, &awscdk.StackProps{
		Description: jsii.String("keywarden member account (organization mode): forwards exposed-key and IAM signals to the hub " +
			"and holds the roles the hub will assume, by duty"),
		// Deployed by a StackSet to accounts never bootstrapped for the CDK.
		Synthesizer:        awscdk.NewBootstraplessSynthesizer(&awscdk.BootstraplessSynthesizerProps{}),
		AnalyticsReporting: jsii.Bool(false),
		Tags:               &map[string]*string{"project": jsii.String("keywarden")},
	})
	hub := awscdk.NewCfnParameter(stack, jsii.String(hubAccountParameter), &awscdk.CfnParameterProps{
		Type:           jsii.String("String"),
		AllowedPattern: jsii.String(`^\d{12}$`),
		Description:    jsii.String("The keywarden hub's account id (set by the hub's StackSet)"),
	})
	busArn := awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:events:${AWS::Region}:${"+hubAccountParameter+"}:event-bus/"+organizationBusName), nil)

	// A bus target in another account of the organization needs a role:
	// it may put events on the hub bus and nothing else (the statement
	// is the CDK's, added by the bus target).
	forward := awsiam.NewRole(stack, jsii.String("ForwardRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(memberForwardRole),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
		Description: jsii.String("keywarden: EventBridge forwards this account's exposed-key and IAM signals to the hub bus"),
	})
	hubBus := awsevents.EventBus_FromEventBusArn(stack, jsii.String("HubBus"), busArn)

	deny := awsiam.NewManagedPolicy(stack, jsii.String(revokePolicyID), &awsiam.ManagedPolicyProps{
		ManagedPolicyName: jsii.String(memberDenyPolicyName),
		Path:              jsii.String(hubRolePath),
		Description:       jsii.String(revokePolicyDescription),
		Document:          denyTemporarySessions(),
	})
	for _, t := range signalTriggers(s, detachedPolicy(deny)) {
		awsevents.NewRule(stack, jsii.String("Forward"+t.id), &awsevents.RuleProps{
			Description:  jsii.String(t.description + "; forwarded to the keywarden hub"),
			EventPattern: t.pattern,
			Targets:      &[]awsevents.IRuleTarget{awseventstargets.NewEventBus(hubBus, &awseventstargets.EventBusProps{Role: forward})},
		})
	}

	trust := memberTrust(s, hub.ValueAsString())
	users := iamUsersArn(stack)
	roles := map[string]awsiam.Role{}
	// read: the daily scan (credential report, flagged users' tags and
	// keys), the finding and the intake (a key's owner) and the activity
	// summary (CloudTrail event history).
	roles[memberReadRole] = memberRole(stack, "ReadRole", memberReadRole,
		"keywarden hub, reading: the credential report, users' tags and keys, a key's last use, CloudTrail event history", trust,
		allow("ReadCredentialReport", []string{"iam:GenerateCredentialReport", "iam:GetCredentialReport"}, jsii.String("*")),
		allow("LookupCloudTrailEvents", []string{"cloudtrail:LookupEvents"}, jsii.String("*")),
		allow("ReadUsersAndKeys", []string{"iam:ListUserTags", "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed"}, users))
	// respond: containment, removal, the daily run's deactivation and
	// deletion, revocation by the deny policy alone, and the tamper
	// watch's undoing of the same.
	roles[memberRespondRole] = memberRole(stack, "RespondRole", memberRespondRole,
		"keywarden hub, responding: deactivates, deletes and reads back access keys; attaches keywarden's deny policy and no other", trust,
		allow("DeactivateDeleteAndReadKeys", []string{"iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys"}, users),
		attachOnly("AttachDenyTemporarySessions", users, deny))
	if s.KeyAge.RotationDays > 0 {
		// rotate: a new key for a user carrying the rotation tag, its
		// secret in this account under this account's key, and the
		// deletion of the key it replaces (internal/rotation).
		rot := newRotationResources(stack)
		rot.key.AddAlias(jsii.String(memberRotationKeyAlias))
		roles[memberRotateRole] = memberRole(stack, "RotateRole", memberRotateRole,
			"keywarden hub, rotating: creates a key for a user opted into rotation and writes it to that user's secret", trust,
			append([]awsiam.PolicyStatement{allow("ReplaceKeys", []string{"iam:ListAccessKeys", "iam:DeleteAccessKey"}, users)},
				rot.actStatements(stack, s)...)...)
	}
	suppressMemberFindings(s, forward, roles)
	return stack
}

// memberTrust is who may assume a member role: a role of the hub account
// under hubRolePath (by pattern: nothing names an ARN that may not exist
// yet, so no deploy order can fail), of the organization, and only with a
// source identity, which the member's CloudTrail records on every call the
// session makes.
func memberTrust(s settings.Settings, hubAccount *string) awsiam.IPrincipal {
	return awsiam.NewAccountPrincipal(hubAccount).WithConditions(&map[string]any{
		"ArnLike": map[string]any{"aws:PrincipalArn": awscdk.Fn_Sub(
			jsii.String("arn:${AWS::Partition}:iam::${"+hubAccountParameter+"}:role"+hubRolePath+"*"), nil)},
		"StringEquals": map[string]any{"aws:PrincipalOrgID": s.OrganizationID},
		"Null":         map[string]any{"sts:SourceIdentity": "false"},
	})
}

// memberRole is one duty's role: assumed (and given a source identity) by
// the trust above, allowed exactly the statements.
func memberRole(stack awscdk.Stack, id, name, description string, trust awsiam.IPrincipal, statements ...awsiam.PolicyStatement) awsiam.Role {
	role := awsiam.NewRole(stack, jsii.String(id), &awsiam.RoleProps{
		RoleName:    jsii.String(name),
		AssumedBy:   trust,
		Description: jsii.String(description),
	})
	role.AssumeRolePolicy().AddStatements(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:     awsiam.Effect_ALLOW,
		Actions:    jsii.Strings("sts:SetSourceIdentity"),
		Principals: &[]awsiam.IPrincipal{trust},
	}))
	for _, st := range statements {
		role.AddToPrincipalPolicy(st)
	}
	return role
}

// suppressMemberFindings holds the member stack's reviewed cdk-nag
// findings, each with why it stands, on the role it concerns.
func suppressMemberFindings(s settings.Settings, forward awsiam.Role, roles map[string]awsiam.Role) {
	inline := func(role awsiam.Role, what string) {
		suppress(role.Node().FindChild(jsii.String("DefaultPolicy")), nistRule("IAMNoInlinePolicy"),
			"The "+*role.Node().Id()+" policy is the CDK's AWS::IAM::Policy for this one role: exactly "+what+", created and deleted "+
				"with the role by the member stack, versioned in git and pinned by tests. A managed policy could be attached to other "+
				"principals of the member account, which is what keywarden avoids for grants on every IAM user.")
	}
	inline(forward, "events:PutEvents on the hub's organization bus")
	inline(roles[memberReadRole], "the reads of the credential report, users' tags and keys, and CloudTrail event history")
	inline(roles[memberRespondRole], "the deactivation, deletion and read-back of access keys and the attachment of the member's deny policy alone")
	suppress(roles[memberReadRole], "AwsSolutions-IAM5",
		"iam:GenerateCredentialReport, iam:GetCredentialReport and cloudtrail:LookupEvents support no resource-level permissions; the "+
			"resource must be *. iam:ListUserTags, iam:ListAccessKeys and iam:GetAccessKeyLastUsed read the user a report or the "+
			"credential report names at run time; any IAM user of the account may hold the key.",
		nagAnyResource, nagUsersWildcard)
	suppress(roles[memberRespondRole], "AwsSolutions-IAM5",
		"iam:UpdateAccessKey, iam:DeleteAccessKey and iam:ListAccessKeys act on the key's owner, known only at run time; any IAM user's "+
			"key may be exposed or aging. iam:AttachUserPolicy is limited by iam:PolicyARN (ArnEquals) to the member's deny policy alone.",
		nagUsersWildcard)
	if rotate, ok := roles[memberRotateRole]; ok {
		inline(rotate, "the creation of keys for users carrying the rotation tag, their secrets' writes and the deletion of replaced keys")
		suppress(rotate, "AwsSolutions-IAM5",
			"iam:CreateAccessKey (limited by aws:ResourceTag/"+s.KeyAge.RotationTag+" to users opted into rotation), iam:ListAccessKeys and "+
				"iam:DeleteAccessKey act on the rotated user, known only at run time. Secrets are keywarden/access-key/<user>, named at "+
				"run time, with a random suffix Secrets Manager appends; the wildcard is limited to that prefix.",
			nagUsersWildcard,
			"Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:keywarden/access-key/*")
	}
}
