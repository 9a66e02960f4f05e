package main

import (
	"encoding/json"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
)

// revokePolicyID is the construct id of the stack's deny policy
// (revokeWith attachedPolicy).
const revokePolicyID = "DenyTemporarySessionsPolicy"

// newRevokePolicy creates, with revokeWith attachedPolicy, the customer
// managed policy the revoke step attaches to an exposed key's user: a
// fixed deny of every request signed with temporary credentials
// (exposure.AttachedRevokePolicy). It returns nil with inlinePolicy, where
// the stack has no such policy. Its name is CloudFormation's, so that a
// second stack in the account (IAM is global) cannot collide with it.
func newRevokePolicy(stack awscdk.Stack, s settings.Settings) awsiam.ManagedPolicy {
	if s.RevokeWith != settings.RevokeAttachedPolicy {
		return nil
	}
	return awsiam.NewManagedPolicy(stack, jsii.String(revokePolicyID), &awsiam.ManagedPolicyProps{
		Description: jsii.String(revokePolicyDescription),
		Document:    denyTemporarySessions(),
	})
}

const revokePolicyDescription = "keywarden: attached by the revoke step to an exposed key's user, denies every request signed with " +
	"temporary credentials (aws:TokenIssueTime present) until a person detaches it"

// denyTemporarySessions is exposure.AttachedRevokePolicy as a CDK document:
// the one deny keywarden attaches, in a per-account stack and in members.
func denyTemporarySessions() awsiam.PolicyDocument {
	var doc map[string]any
	if err := json.Unmarshal([]byte(exposure.AttachedRevokePolicy()), &doc); err != nil {
		panic("infra: the attached revoke policy is not JSON: " + err.Error()) // a constant document, not input
	}
	return awsiam.PolicyDocument_FromJson(doc)
}

// attachOnly allows iam:AttachUserPolicy on every user, of the stack's
// deny policy only (iam:PolicyARN): the role cannot attach any other
// policy, so it cannot grant anyone anything.
func attachOnly(sid string, users *string, policy awsiam.ManagedPolicy) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(sid),
		Effect:     awsiam.Effect_ALLOW,
		Actions:    jsii.Strings("iam:AttachUserPolicy"),
		Resources:  &[]*string{users},
		Conditions: &map[string]any{"ArnEquals": map[string]any{"iam:PolicyARN": policy.ManagedPolicyArn()}},
	})
}

// addRevokeFunction adds the revoke function: with inlinePolicy its role
// may write inline policies (iam:PutUserPolicy), with attachedPolicy only
// attach the stack's deny policy. Both record the revocation.
func addRevokeFunction(s settings.Settings, users *string, policy awsiam.ManagedPolicy, table awsdynamodb.Table,
	add func(name string, env map[string]*string, statements ...awsiam.PolicyStatement) *function) {
	env := map[string]*string{
		settings.EnvLedgerTable: table.TableName(),
		settings.EnvRevokeWith:  jsii.String(s.RevokeWith),
	}
	deny := allow("DenyOlderSessions", []string{"iam:PutUserPolicy"}, users)
	if policy != nil {
		env[settings.EnvRevokePolicyArn] = policy.ManagedPolicyArn()
		deny = attachOnly("AttachDenyTemporarySessions", users, policy)
	}
	add(lambdafn.Revoke, env, append(inOwnAccount(s, lambdafn.Revoke, deny),
		allow("RecordRevocation", responseLedgerActions, table.TableArn()))...)
}
