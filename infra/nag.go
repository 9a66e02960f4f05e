package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/keywarden/keywarden/internal/settings"
)

// The wildcards cdk-nag's IAM5 reports, as it renders them.
const (
	nagUsersWildcard = "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:user/*"
	nagAnyResource   = "Resource::*"
)

// suppress records one reviewed cdk-nag finding on one construct (and its
// children: the L2's CloudFormation resources and default policy). appliesTo
// names the exact findings, for rules that report them (IAM5).
func suppress(c constructs.IConstruct, rule, reason string, appliesTo ...string) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]any, len(appliesTo))
		for i, a := range appliesTo {
			list[i] = a
		}
		s.AppliesTo = &list
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}

// suppressFindings holds every reviewed cdk-nag finding, each with why it
// stands. Nothing is suppressed stack-wide.
func suppressFindings(s settings.Settings, fns map[string]*function, machine awsstepfunctions.StateMachine) {
	userScoped := map[string]string{
		fnIntake:  "iam:GetAccessKeyLastUsed names the key's owner for AWS Health reports, which carry only the key id; any IAM user's key may be the one reported.",
		fnFinding: "iam:GetAccessKeyLastUsed resolves the owner of the reported key, which may belong to any IAM user of the account.",
		fnContain: "iam:UpdateAccessKey and iam:ListAccessKeys act on the exposed key's owner, known only at run time; any IAM user's key may be exposed.",
		fnRevoke:  "iam:PutUserPolicy attaches the session-revoking deny to the exposed key's owner, known only at run time; any IAM user may own it.",
		fnRemove:  "iam:DeleteAccessKey removes the exposed key of its owner, known only at run time; any IAM user's key may be exposed.",
		fnScan: "iam:ListUserTags and iam:ListAccessKeys read the users the credential report flags (user type, contact and exemption tags; " +
			"key ids), known only at run time; any IAM user may hold an aging key.",
		fnAct: "iam:UpdateAccessKey and iam:ListAccessKeys deactivate an aging key and read it back (and iam:DeleteAccessKey, with " +
			"keyAge.deleteAfterDays above 0, deletes a long-inactive one); the key's owner is known only at run time and may be any IAM user.",
		fnRecord: "iam:ListUserTags reads the tags of the user an access key was just created for, to tell whether noAccessKeysTag " +
			"forbids long-term keys; that user is named only by the CloudTrail event at run time and may be any IAM user.",
	}
	for name, reason := range userScoped {
		// The remove function has no IAM action with exposedKeyAction
		// "deactivate", nor the record function with noAccessKeysTag
		// empty; a suppression there would cover nothing.
		if name == fnRecord && s.NoAccessKeysTag == "" {
			continue
		}
		if f, ok := fns[name]; ok && f.granted {
			suppress(f.role, "AwsSolutions-IAM5", reason, nagUsersWildcard)
		}
	}
	suppress(fns[fnActivity].role, "AwsSolutions-IAM5",
		"cloudtrail:LookupEvents supports no resource-level permissions; the resource must be *.", nagAnyResource)
	suppress(fns[fnScan].role, "AwsSolutions-IAM5",
		"iam:GenerateCredentialReport and iam:GetCredentialReport support no resource-level permissions "+
			"(the report covers the whole account); the resource must be *.", nagAnyResource)
	suppress(machine.Role(), "AwsSolutions-IAM5",
		"Added by the CDK for tracing and logging, which support no resource-level permissions: "+
			"X-Ray (PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) and "+
			"CloudWatch Logs log delivery (CreateLogDelivery and related calls). Task invocation is scoped to the function ARNs.",
		nagAnyResource)
}
