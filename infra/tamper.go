package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/tamper"
)

// iamWriters are the functions whose roles write to IAM. Their calls are
// keywarden's own, which the tamper watch recognises by role and never
// answers: the revoke step's policy, the tamper function putting it back,
// the containment's and the daily run's deactivations, rotation's keys.
var iamWriters = []string{lambdafn.Contain, lambdafn.Revoke, lambdafn.Remove, lambdafn.Act, lambdafn.Tamper}

// ownRoleArns is the list of the IAM writers' role ARNs, as the intake and
// the tamper function read it (settings.EnvOwnRoleArns).
func ownRoleArns(fns map[string]*function) *string {
	arns := make([]*string, 0, len(iamWriters))
	for _, name := range iamWriters {
		arns = append(arns, fns[name].role.RoleArn())
	}
	return awscdk.Fn_Join(jsii.String(","), &arns)
}

// Ledger actions of the tamper watch and of the responses it protects.
var (
	// The check reads the key's containment and deactivation and the
	// user's revocation (GetItem each); the response writes the digest's
	// line (a conditional PutItem).
	tamperLedgerActions = []string{"dynamodb:GetItem", "dynamodb:PutItem"}
	// The containment and the revocation are recorded with one PutItem.
	responseLedgerActions = []string{"dynamodb:PutItem"}
	// What the tamper function undoes: set a key Inactive and read it back
	// and, with revokeWith inlinePolicy, put the revoke policy back. IAM
	// offers no condition key for a key's new status or an inline
	// policy's name, so the statement cannot be narrower than the users.
	// With attachedPolicy the policy is attached again instead, under the
	// revoke role's iam:PolicyARN condition (attachOnly).
	tamperUndoKeyActions = []string{"iam:UpdateAccessKey", "iam:ListAccessKeys"}
)

// addTamperFunction adds the tamper watch's function. With tamperUndo off
// it reports only, and its role holds no IAM action.
func addTamperFunction(stack awscdk.Stack, s settings.Settings, table awsdynamodb.Table, revokePolicy awsiam.ManagedPolicy, fns map[string]*function,
	add func(name string, env map[string]*string, statements ...awsiam.PolicyStatement) *function) *function {
	env := map[string]*string{
		settings.EnvLedgerTable:      table.TableName(),
		settings.EnvWatchedTags:      jsii.String(strings.Join(tamper.WatchedTags(s.KeyAge, s.NoAccessKeysTag), ",")),
		settings.EnvTamperUndo:       jsii.String(strconv.FormatBool(s.TamperUndo)),
		settings.EnvIncidentOpenDays: jsii.String(fmt.Sprint(s.IncidentOpenDays)),
	}
	var undo []awsiam.PolicyStatement
	if s.TamperUndo && revokePolicy != nil {
		undo = append(undo, allow("UndoTampering", tamperUndoKeyActions, iamUsersArn(stack)),
			attachOnly("AttachDenyTemporarySessionsAgain", iamUsersArn(stack), revokePolicy))
	} else if s.TamperUndo {
		undo = append(undo, allow("UndoTampering", append(slices.Clone(tamperUndoKeyActions), "iam:PutUserPolicy"), iamUsersArn(stack)))
	}
	// In organization mode it undoes through the member roles instead.
	f := add(lambdafn.Tamper, env, append([]awsiam.PolicyStatement{allow("ReadLedgerRecordDigestLine", tamperLedgerActions, table.TableArn())},
		inOwnAccount(s, lambdafn.Tamper, undo...)...)...)
	// Its own role is among the writers: added once the role exists.
	f.fn.AddEnvironment(jsii.String(settings.EnvOwnRoleArns), ownRoleArns(fns), nil)
	return f
}

// tamperTriggers are the tamper watch's rules for one source (aws.iam, or
// the drill's awsmock.iam with the id prefix "Drill"). Each narrows its
// call to what can undo a response, so that nothing else starts a tamper
// execution: a key set Active, keywarden's revoke policy written or
// deleted, a watched tag set or removed. A call IAM refused (errorCode)
// changed nothing and starts none. CreateAccessKey is the creation rule's,
// and checked after its record. Like key creation, these are CloudTrail
// management events that reach EventBridge in us-east-1 only, through a
// trail.
func tamperTriggers(s settings.Settings, detached []any, source, prefix string) []trigger {
	call := func(names []string, params map[string]any) *awsevents.EventPattern {
		return &awsevents.EventPattern{
			Source:     jsii.Strings(source),
			DetailType: jsii.Strings(event.DetailTypeCloudTrail),
			Detail: &map[string]any{
				"eventSource":       []string{event.EventSourceIAM},
				"eventName":         names,
				"errorCode":         []any{map[string]any{"exists": false}},
				"requestParameters": params,
			},
		}
	}
	drill := ""
	if prefix != "" {
		drill = " (drill source " + source + ")"
	}
	tags := tamper.WatchedTags(s.KeyAge, s.NoAccessKeysTag)
	// IAM's policy names are matched without regard to case here and in
	// internal/tamper, as people may write them.
	policy := trigger{prefix + "TamperPolicyRule", "keywarden tamper watch: the session-revoking policy written or deleted (PutUserPolicy, DeleteUserPolicy)" + drill,
		call([]string{event.EventNamePutUserPolicy, event.EventNameDeleteUserPolicy},
			map[string]any{"policyName": []any{map[string]any{"equals-ignore-case": exposure.RevokePolicyName}}}), nil}
	if detached != nil {
		// revokeWith attachedPolicy: the stack's deny policy detached,
		// that policy exactly (on the hub's organization bus, any
		// member's deny policy: organization.go).
		policy = trigger{prefix + "TamperDetachRule", "keywarden tamper watch: the session-revoking deny policy detached from a user (DetachUserPolicy)" + drill,
			call([]string{event.EventNameDetachUserPolicy}, map[string]any{"policyArn": detached}), nil}
	}
	return []trigger{
		{prefix + "TamperKeyRule", "keywarden tamper watch: an access key set Active (UpdateAccessKey)" + drill,
			call([]string{event.EventNameUpdateAccessKey}, map[string]any{"status": []string{event.KeyStatusActive}}), nil},
		policy,
		{prefix + "TamperTagRule", "keywarden tamper watch: a user tag the key-age policy reads set (TagUser)" + drill,
			call([]string{event.EventNameTagUser}, map[string]any{"tags": map[string]any{"key": tags}}), nil},
		{prefix + "TamperUntagRule", "keywarden tamper watch: a user tag the key-age policy reads removed (UntagUser)" + drill,
			call([]string{event.EventNameUntagUser}, map[string]any{"tagKeys": tags}), nil},
	}
}
