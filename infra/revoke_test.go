package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
)

// detachPattern is the tamper watch's rule for the deny policy detached:
// DetachUserPolicy of exactly the stack's policy.
func detachPattern(t *testing.T, tmpl *cfnTemplate, source string) string {
	t.Helper()
	policy, _ := json.Marshal(ref(tmpl.id(t, revokePolicyID+"/Resource")))
	return fmt.Sprintf(`{"source":[%q],"detail-type":["AWS API Call via CloudTrail"],
		"detail":{"eventSource":["iam.amazonaws.com"],"eventName":["DetachUserPolicy"],"errorCode":[{"exists":false}],
		"requestParameters":{"policyArn":[%s]}}}`, source, policy)
}

// attachOnlyStatement is the one statement that may attach: the stack's
// deny policy, to any user, and nothing else.
func attachOnlyStatement(t *testing.T, tmpl *cfnTemplate, sid string) map[string]any {
	t.Helper()
	return map[string]any{
		"Sid": sid, "Effect": "Allow", "Action": "iam:AttachUserPolicy", "Resource": usersArn,
		"Condition": map[string]any{"ArnEquals": map[string]any{"iam:PolicyARN": ref(tmpl.id(t, revokePolicyID+"/Resource"))}},
	}
}

// With revokeWith inlinePolicy (the default) there is no deny policy and
// the roles are as before: the revoke role writes inline policies.
func TestInlinePolicyHasNoDenyPolicy(t *testing.T) {
	if got := defaultTmpl.ofType("AWS::IAM::ManagedPolicy"); len(got) != 0 {
		t.Errorf("default stack has managed policies %v", slices.Collect(maps.Keys(got)))
	}
	for _, name := range []string{lambdafn.Revoke, lambdafn.Tamper} {
		if acts := actionsOf(defaultTmpl.statements(defaultTmpl.id(t, specNamed(name).constructID()+"Role/Resource"))); slices.Contains(acts, "iam:AttachUserPolicy") ||
			!slices.Contains(acts, "iam:PutUserPolicy") {
			t.Errorf("%s role actions %v: want iam:PutUserPolicy, no iam:AttachUserPolicy", name, acts)
		}
	}
}

// With revokeWith attachedPolicy: one fixed deny policy; the revoke role
// may attach that policy alone and write no inline policy; the tamper role
// attaches it again under the same condition; both functions learn how.
func TestAttachedPolicyRoles(t *testing.T) {
	_, tmpl := attachedVariant(t)
	policies := tmpl.ofType("AWS::IAM::ManagedPolicy")
	if len(policies) != 1 {
		t.Fatalf("managed policies %v, want the deny policy alone", slices.Collect(maps.Keys(policies)))
	}
	p := tmpl.at(t, revokePolicyID+"/Resource").Properties
	var want any
	if err := json.Unmarshal([]byte(exposure.AttachedRevokePolicy()), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p["PolicyDocument"], want) {
		t.Errorf("deny policy %s, want %s", toJSON(p["PolicyDocument"]), toJSON(want))
	}
	for _, k := range []string{"Users", "Groups", "Roles", "ManagedPolicyName"} {
		if p[k] != nil {
			t.Errorf("the deny policy sets %s = %s: attached by keywarden only, named by CloudFormation", k, toJSON(p[k]))
		}
	}

	resourceOf := resourcesOf(t, tmpl, "")
	for _, tc := range []struct {
		name    string
		actions []string
		sid     string
	}{
		{lambdafn.Revoke, []string{"dynamodb:PutItem", "iam:AttachUserPolicy"}, "AttachDenyTemporarySessions"},
		{lambdafn.Tamper, []string{"dynamodb:GetItem", "dynamodb:PutItem", "iam:AttachUserPolicy", "iam:ListAccessKeys", "iam:UpdateAccessKey"},
			"AttachDenyTemporarySessionsAgain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := specNamed(tc.name)
			checkRole(t, tmpl, spec, tc.actions, resourceOf)
			var attach []map[string]any
			for _, s := range tmpl.statements(tmpl.id(t, spec.constructID()+"Role/Resource")) {
				if slices.Contains(list(s["Action"]), any("iam:AttachUserPolicy")) {
					attach = append(attach, s)
				}
			}
			if want := attachOnlyStatement(t, tmpl, tc.sid); len(attach) != 1 || !reflect.DeepEqual(attach[0], want) {
				t.Errorf("attach statements %s, want exactly %s", toJSON(attach), toJSON(want))
			}
		})
	}

	revokeEnv := map[string]any{
		settings.EnvLedgerTable:     ref(tmpl.id(t, "LedgerTable/Resource")),
		settings.EnvRevokeWith:      "attachedPolicy",
		settings.EnvRevokePolicyArn: ref(tmpl.id(t, revokePolicyID+"/Resource")),
	}
	if got := functionEnv(t, tmpl, lambdafn.Revoke); !reflect.DeepEqual(got, revokeEnv) {
		t.Errorf("revoke environment %s, want %s", toJSON(got), toJSON(revokeEnv))
	}
	// The tamper watch reads how from the ledger's record: its
	// environment does not change.
	if got, want := functionEnv(t, tmpl, lambdafn.Tamper), tamperEnv(t, tmpl, defaultWatchedTags, "true", "30"); !reflect.DeepEqual(got, want) {
		t.Errorf("tamper environment %s, want %s", toJSON(got), toJSON(want))
	}
}

// The tamper watch's rules follow the choice: DetachUserPolicy of the
// stack's policy (aws.iam and the drill source) instead of the inline
// policy's Put and DeleteUserPolicy.
func TestAttachedPolicyTamperRules(t *testing.T) {
	_, tmpl := attachedVariant(t)
	intake := getAtt(tmpl.id(t, "IntakeFunction/Resource"), "Arn")
	for name, source := range map[string]string{"TamperDetachRule": "aws.iam", "DrillTamperDetachRule": "awsmock.iam"} {
		var want any
		if err := json.Unmarshal([]byte(detachPattern(t, tmpl, source)), &want); err != nil {
			t.Fatal(err)
		}
		rule := tmpl.at(t, name+"/Resource").Properties
		if !reflect.DeepEqual(rule["EventPattern"], want) {
			t.Errorf("%s EventPattern\n got %s\nwant %s", name, toJSON(rule["EventPattern"]), toJSON(want))
		}
		if targets := list(rule["Targets"]); len(targets) != 1 || !reflect.DeepEqual(targets[0].(map[string]any)["Arn"], intake) {
			t.Errorf("%s targets %s, want the intake", name, toJSON(targets))
		}
	}
	for id := range tmpl.ofType("AWS::Events::Rule") {
		if strings.Contains(id, "TamperPolicyRule") {
			t.Errorf("%s: the inline policy's rule, with revokeWith attachedPolicy", id)
		}
	}
}
