package main

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/statemachine"
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
		lambdafn.Intake:  "iam:GetAccessKeyLastUsed names the key's owner for AWS Health reports, which carry only the key id; any IAM user's key may be the one reported.",
		lambdafn.Finding: "iam:GetAccessKeyLastUsed resolves the owner of the reported key, which may belong to any IAM user of the account.",
		lambdafn.Contain: "iam:UpdateAccessKey and iam:ListAccessKeys act on the exposed key's owner, known only at run time; any IAM user's key may be exposed.",
		lambdafn.Revoke:  "iam:PutUserPolicy attaches the session-revoking deny to the exposed key's owner, known only at run time; any IAM user may own it.",
		lambdafn.Remove:  "iam:DeleteAccessKey removes the exposed key of its owner, known only at run time; any IAM user's key may be exposed.",
		lambdafn.Scan: "iam:ListUserTags and iam:ListAccessKeys read the users the credential report flags (user type, contact and exemption tags; " +
			"key ids), known only at run time; any IAM user may hold an aging key.",
		lambdafn.Act: "iam:UpdateAccessKey and iam:ListAccessKeys deactivate an aging key and read it back (and iam:DeleteAccessKey, with " +
			"keyAge.deleteAfterDays or rotationDays above 0, deletes a long-inactive or replaced one; iam:CreateAccessKey, with rotationDays " +
			"above 0, is further limited by its aws:ResourceTag condition to users carrying the rotation tag \"true\"); the key's owner is " +
			"known only at run time and may be any IAM user.",
		lambdafn.Record: "iam:ListUserTags reads the tags of the user an access key was just created for, to tell whether noAccessKeysTag " +
			"forbids long-term keys; that user is named only by the CloudTrail event at run time and may be any IAM user.",
		lambdafn.Tamper: "iam:UpdateAccessKey and iam:ListAccessKeys set a re-activated exposed key Inactive again and read it back, and " +
			"iam:PutUserPolicy puts keywarden's session-revoking policy back on a user whose incident is open; the user is named only by the " +
			"CloudTrail event at run time and may be any IAM user. IAM has no condition key for a key's new status or an inline policy's " +
			"name, so the statement cannot be narrowed further; the function decides both from the ledger (internal/tamper).",
	}
	if s.RevokeWith == settings.RevokeAttachedPolicy {
		userScoped[lambdafn.Revoke] = "iam:AttachUserPolicy attaches the session-revoking deny to the exposed key's owner, known only at run time; " +
			"any IAM user may own it. Its iam:PolicyARN condition (ArnEquals) allows the stack's deny policy alone, so the role can " +
			"attach nothing that grants."
		userScoped[lambdafn.Tamper] = "iam:UpdateAccessKey and iam:ListAccessKeys set a re-activated exposed key Inactive again and read it back, and " +
			"iam:AttachUserPolicy, limited by iam:PolicyARN (ArnEquals) to the stack's deny policy alone, attaches that policy again to a user " +
			"whose incident is open; the user is named only by the CloudTrail event at run time and may be any IAM user. IAM has no condition " +
			"key for a key's new status, so that statement cannot be narrowed further; the function decides from the ledger (internal/tamper)."
	}
	for name, reason := range userScoped {
		// The remove function has no IAM action with exposedKeyAction
		// "deactivate", nor the record function with noAccessKeysTag
		// empty; a suppression there would cover nothing.
		if name == lambdafn.Record && s.NoAccessKeysTag == "" {
			continue
		}
		if name == lambdafn.Tamper && !s.TamperUndo {
			continue // reports only: no IAM action
		}
		if actsThroughMembers(s, name) {
			continue // no grant on the hub's users (suppressMemberActing)
		}
		if f, ok := fns[name]; ok && f.granted {
			suppress(f.role, "AwsSolutions-IAM5", reason, nagUsersWildcard)
		}
	}
	if s.KeyAge.RotationDays > 0 && !actsThroughMembers(s, lambdafn.Act) {
		suppress(fns[lambdafn.Act].role, "AwsSolutions-IAM5",
			"Rotation writes one secret per rotated user, keywarden/access-key/<user>, named at run time; Secrets Manager appends a "+
				"random suffix to every secret's ARN. The wildcard is limited to that prefix, and each secret's resource policy "+
				"lets only its user and the security role read it.",
			"Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:keywarden/access-key/*")
	}
	suppress(fns[lambdafn.Intake].role, "AwsSolutions-IAM5",
		"states:DescribeExecution reads the one execution that already holds a report's name, to check it is a response to "+
			"that key; execution names are made at run time. Limited to this state machine's executions.",
		"Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<StateMachine2E01A3A5.Name>:*")
	if !actsThroughMembers(s, lambdafn.Activity) {
		suppress(fns[lambdafn.Activity].role, "AwsSolutions-IAM5",
			"cloudtrail:LookupEvents supports no resource-level permissions; the resource must be *.", nagAnyResource)
	}
	if !actsThroughMembers(s, lambdafn.Scan) {
		suppress(fns[lambdafn.Scan].role, "AwsSolutions-IAM5",
			"iam:GenerateCredentialReport and iam:GetCredentialReport support no resource-level permissions "+
				"(the report covers the whole account); the resource must be *.", nagAnyResource)
	}
	suppress(machine.Role(), "AwsSolutions-IAM5",
		"Added by the CDK for tracing and logging, which support no resource-level permissions: "+
			"X-Ray (PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) and "+
			"CloudWatch Logs log delivery (CreateLogDelivery and related calls). Task invocation is scoped to the function ARNs.",
		nagAnyResource)

	suppressMemberActing(s, fns)

	suppressNISTFindings(fns, machine)
}

// suppressMemberActing holds, in organization mode, the reviewed IAM5
// findings of each function that acts through member roles
// (memberStatements): one suppression per role, naming exactly the
// wildcards it is granted.
func suppressMemberActing(s settings.Settings, fns map[string]*function) {
	for name, f := range fns {
		if !actsThroughMembers(s, name) {
			continue
		}
		duties := memberDutiesOf(s, name)
		roles := make([]string, len(duties))
		applies := []string{nagAnyResource,
			"Resource::arn:<AWS::Partition>:organizations::*:ou/" + s.OrganizationID + "/ou-*",
			"Resource::arn:<AWS::Partition>:organizations::*:account/" + s.OrganizationID + "/*"}
		for i, d := range duties {
			roles[i] = d.RoleName()
			applies = append(applies, "Resource::arn:<AWS::Partition>:iam::*:role/"+d.RoleName())
		}
		acts := "The " + name + " function makes no call in a member account with these settings, but judges each event's account"
		if len(roles) > 0 {
			acts = "The " + name + " function acts in an event's account only by assuming " + strings.Join(roles, " and ") +
				" there, a fixed name in every member account; the account is known only at run time, and aws:ResourceOrgID " +
				"limits the roles to accounts of organization " + s.OrganizationID
		}
		suppress(f.role, "AwsSolutions-IAM5",
			acts+". To judge an account, the function reads the "+
				"organization's inventory: organizations:DescribeOrganization, ListAccounts and ListRoots support no resource-level "+
				"permissions; ListAccountsForParent and ListOrganizationalUnitsForParent are limited to the organization's OUs "+
				"(nested OUs are found at run time) and ListTagsForResource to its accounts (the opt-out tag). The management "+
				"account in those ARNs is not known to the hub; the organization id is unique to the organization.",
			applies...)
	}
}

// nistRule is a rule id of cdk-nag's NIST 800-53 rev 5 pack.
func nistRule(name string) string { return "NIST.800.53.R5-" + name }

// suppressNISTFindings holds the reviewed findings of the NIST 800-53 rev 5
// pack (SECURITY-NIST.md has them as a table). Each is suppressed on the
// construct that fired it, never stack-wide: a new resource of the same kind
// fails synthesis until it is reviewed too.
func suppressNISTFindings(fns map[string]*function, machine awsstepfunctions.StateMachine) {
	stack := awscdk.Stack_Of(machine)
	// Functions the state machine invokes: their ARNs fill the
	// definition's Task Resource placeholders.
	invoked := map[string]bool{}
	for _, p := range statemachine.Placeholders() {
		invoked[p] = true
	}
	for name, f := range fns {
		// The AWS::Lambda::Function alone, not the function's other
		// children (the intake's EventInvokeConfig).
		lambda := f.fn.Node().DefaultChild()
		suppress(lambda, nistRule("LambdaInsideVPC"),
			"The "+name+" function calls AWS service APIs only, at their public endpoints, and takes no "+
				"inbound connections: it is invoked through the Lambda API by this stack's state machine or EventBridge rules alone. "+
				"keywarden creates no VPC; one would need a NAT gateway or an interface endpoint per service, billed hourly and one more "+
				"thing that can fail between an exposed key and its deactivation, and would add no control over what the function may call: "+
				"its role already allows exactly its handler's calls.")
		suppress(lambda, nistRule("LambdaConcurrency"),
			"The callers bound the "+name+" function's concurrency: one execution per exposed key, per created key and per day "+
				"(the act Map runs at most 4 chunks at once), the intake once per EventBridge event. Reserved concurrency on keywarden's "+
				"functions would be taken from every other workload of the account and fails the deployment where the account's quota "+
				"cannot keep 100 unreserved (new accounts may start at 10); a cap would throttle containment in a burst of exposures. "+
				"Throttles are retried (Lambda.TooManyRequestsException in every Task's Retry; Lambda retries asynchronous invocations) "+
				"and Lambda's ConcurrentExecutions metric is the baseline.")
		if invoked[f.spec.placeholder()] {
			suppress(lambda, nistRule("LambdaDLQ"),
				"The state machine invokes the "+name+" function synchronously (its Task Resource is the function ARN: Invoke with "+
					"RequestResponse); a Lambda dead-letter queue only receives failed asynchronous invocations and would never hold anything. "+
					"A failure returns to the execution: its Retry, then its Catch, which alerts the topic; an execution that still fails is "+
					"reported by FailedExecutionRule and FailedExecutionsAlarm. The intake, invoked asynchronously by EventBridge, has the "+
					"dead-letter queue.")
		}
		suppress(f.logs, nistRule("CloudWatchLogGroupEncrypted"),
			"CloudWatch Logs encrypts every log group at rest; a customer managed key would only add a kms:Decrypt gate. The "+name+
				" function logs identifiers (access key ids, user names, creator ARNs, source IPs, execution names), never a secret: the "+
				"same data as the ledger, which for that reason uses an AWS managed key and leaves access to IAM. A dedicated key would add "+
				"a monthly key fee, reusing the alert key would tie these logs to its policy, and responders reading the logs in an incident would need kms:Decrypt too.")
		suppress(f.role.Node().FindChild(jsii.String("DefaultPolicy")), nistRule("IAMNoInlinePolicy"),
			"The "+name+" role's policy is the CDK's AWS::IAM::Policy for this one role: exactly its handler's calls, created and "+
				"deleted with the role by CloudFormation, versioned in git. A managed policy could be attached to other principals, "+
				"which is what keywarden avoids for grants such as iam:UpdateAccessKey or iam:DeleteAccessKey on every IAM user.")
	}
	suppress(machine.Role().Node().FindChild(jsii.String("DefaultPolicy")), nistRule("IAMNoInlinePolicy"),
		"The state machine role's policy is the CDK's AWS::IAM::Policy for this one role: lambda:InvokeFunction on exactly the task "+
			"functions' ARNs, plus the X-Ray and log-delivery calls the CDK adds for tracing and logging. It is created and deleted "+
			"with the role; a managed policy would add reuse that no other principal should have.")
	suppress(stack.Node().FindChild(jsii.String("StateMachineLogs")), nistRule("CloudWatchLogGroupEncrypted"),
		"CloudWatch Logs encrypts every log group at rest; a customer managed key would only add a kms:Decrypt gate. The state machine "+
			"logs with IncludeExecutionData false: event types, state names and the execution ARN, not the event, the finding or any "+
			"task's output. A dedicated key would add a monthly key fee, reusing the alert key would tie the log to its policy, and responders would need kms:Decrypt to read it.")
	suppress(stack.Node().FindChild(jsii.String("LedgerTable")), nistRule("DynamoDBInBackupPlan"),
		"The ledger has point-in-time recovery (restore to any second of the last 35 days), deletion protection and is retained "+
			"when the stack is deleted; its items expire after 400 days by TTL. An AWS Backup plan would add a vault, a plan, a "+
			"selection and a service role, and storage billed per GB-month, to copy key ids, user names and timestamps. An account "+
			"that backs up with AWS Backup organization policies can select the table by its tag project=keywarden.")
}
