package main

// The synthesized template as plain Go values, and what more than one test
// file checks against it: IAM statements and the expected actions and
// resources of the functions' roles.

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
)

type cfnResource struct {
	Type                string         `json:"Type"`
	Properties          map[string]any `json:"Properties"`
	Metadata            map[string]any `json:"Metadata"`
	DeletionPolicy      string         `json:"DeletionPolicy"`
	UpdateReplacePolicy string         `json:"UpdateReplacePolicy"`
}

type cfnTemplate struct {
	Resources map[string]cfnResource `json:"Resources"`
	Outputs   map[string]struct {
		Value any `json:"Value"`
	} `json:"Outputs"`
}

func parseTemplate(tmpl assertions.Template) (*cfnTemplate, error) {
	raw, err := json.Marshal(tmpl.ToJSON())
	if err != nil {
		return nil, err
	}
	var t cfnTemplate
	return &t, json.Unmarshal(raw, &t)
}

// id returns the logical id of the resource at construct path
// Keywarden/<path>.
func (t *cfnTemplate) id(tb testing.TB, path string) string {
	tb.Helper()
	for id, r := range t.Resources {
		if r.Metadata["aws:cdk:path"] == stackName+"/"+path {
			return id
		}
	}
	tb.Fatalf("no resource at %s/%s", stackName, path)
	return ""
}

func (t *cfnTemplate) at(tb testing.TB, path string) cfnResource {
	tb.Helper()
	return t.Resources[t.id(tb, path)]
}

func (t *cfnTemplate) ofType(typ string) map[string]cfnResource {
	out := map[string]cfnResource{}
	for id, r := range t.Resources {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

func ref(id string) any { return map[string]any{"Ref": id} }

func getAtt(id, attr string) any { return map[string]any{"Fn::GetAtt": []any{id, attr}} }

// usersArn is arn:${Partition}:iam::${Account}:user/* as the CDK renders it.
var usersArn = map[string]any{"Fn::Join": []any{"", []any{
	"arn:", ref("AWS::Partition"), ":iam::", ref("AWS::AccountId"), ":user/*",
}}}

// sesIdentityArn is arn:${Partition}:ses:${Region}:${Account}:identity/<identity>.
func sesIdentityArn(identity string) any {
	return map[string]any{"Fn::Join": []any{"", []any{
		"arn:", ref("AWS::Partition"), ":ses:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":identity/" + identity,
	}}}
}

// list normalizes an IAM field that is one value or a list.
func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// statements returns every policy statement granted to the role: its inline
// policies and every AWS::IAM::Policy attached to it.
func (t *cfnTemplate) statements(roleID string) []map[string]any {
	var docs []any
	for _, p := range list(t.Resources[roleID].Properties["Policies"]) {
		docs = append(docs, p.(map[string]any)["PolicyDocument"])
	}
	for _, p := range t.ofType("AWS::IAM::Policy") {
		for _, r := range list(p.Properties["Roles"]) {
			if reflect.DeepEqual(r, ref(roleID)) {
				docs = append(docs, p.Properties["PolicyDocument"])
			}
		}
	}
	var out []map[string]any
	for _, d := range docs {
		for _, s := range list(d.(map[string]any)["Statement"]) {
			out = append(out, s.(map[string]any))
		}
	}
	return out
}

func actionsOf(stmts []map[string]any) []string {
	var out []string
	for _, s := range stmts {
		for _, a := range list(s["Action"]) {
			out = append(out, a.(string))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// sortedJSON is the values as JSON, sorted: a set of resources to compare.
func sortedJSON(l []any) []string {
	var out []string
	for _, v := range l {
		out = append(out, toJSON(v))
	}
	slices.Sort(out)
	return out
}

func functionEnv(t *testing.T, tmpl *cfnTemplate, name string) map[string]any {
	t.Helper()
	p := tmpl.at(t, specNamed(name).constructID()+"/Resource").Properties
	env, _ := p["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	return vars
}

var logActions = []string{"logs:CreateLogStream", "logs:PutLogEvents"}

var (
	scanLedger = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}
	actLedger  = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}
	publishing = []string{"kms:Decrypt", "kms:GenerateDataKey", "sns:Publish"}
	// Conditional puts only: an existing record returns with the failed
	// condition, not through a GetItem.
	recordLedger = []string{"dynamodb:PutItem"}
)

// rotationActions are what the act role gains with rotation on (besides
// kms:GenerateDataKey and kms:Decrypt on the secrets' key, see
// TestRotationPermissions).
var rotationActions = []string{"iam:CreateAccessKey", "iam:DeleteAccessKey", "secretsmanager:CreateSecret", "secretsmanager:DescribeSecret",
	"secretsmanager:PutResourcePolicy", "secretsmanager:PutSecretValue"}

// rotationSids are the act role's statements with conditions, which
// TestRotationPermissions checks whole.
var rotationSids = []string{"CreateKeysForRotationUsers", "EncryptRotatedKeySecrets",
	// and the revoke and tamper roles' attach of the deny policy, which
	// TestAttachedPolicyRoles checks whole.
	"AttachDenyTemporarySessions", "AttachDenyTemporarySessionsAgain"}

// resourcesOf is the one set of resources each action may name.
func resourcesOf(t *testing.T, tmpl *cfnTemplate, sender string) map[string][]any {
	machine := ref(tmpl.id(t, "StateMachine/Resource"))
	topic := ref(tmpl.id(t, "AlertTopic/Resource"))
	key := getAtt(tmpl.id(t, "AlertKey/Resource"), "Arn")
	dlq := getAtt(tmpl.id(t, "DeadLetterQueue/Resource"), "Arn")
	table := getAtt(tmpl.id(t, "LedgerTable/Resource"), "Arn")
	out := map[string][]any{
		"iam:GetAccessKeyLastUsed": {usersArn}, "iam:ListAccessKeys": {usersArn}, "iam:UpdateAccessKey": {usersArn},
		"iam:PutUserPolicy": {usersArn}, "iam:DeleteAccessKey": {usersArn}, "iam:ListUserTags": {usersArn},
		// No resource-level permissions for these.
		"cloudtrail:LookupEvents": {"*"}, "iam:GenerateCredentialReport": {"*"}, "iam:GetCredentialReport": {"*"},
		"states:StartExecution": {machine}, "states:ListExecutions": {machine},
		"states:DescribeExecution": {map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":states:", ref("AWS::Region"), ":",
			ref("AWS::AccountId"), ":execution:", getAtt(tmpl.id(t, "StateMachine/Resource"), "Name"), ":*"}}}},
		"sqs:SendMessage": {dlq},
		"sns:Publish":     {topic},
		"kms:Decrypt":     {key}, "kms:GenerateDataKey": {key},
	}
	for _, a := range rotationActions[2:] {
		out[a] = []any{secretsArnPattern}
	}
	for _, a := range actLedger {
		out[a] = []any{table}
	}
	if sender != "" {
		out["ses:SendEmail"] = []any{sesIdentityArn(sender[strings.LastIndex(sender, "@")+1:]), sesIdentityArn(sender)}
	}
	return out
}

// checkRole: the function's role has no managed policy, trusts Lambda only
// and allows exactly these actions (and its own log writes), each on
// exactly its resources.
func checkRole(t *testing.T, tmpl *cfnTemplate, spec functionSpec, actions []string, resourceOf map[string][]any) {
	t.Helper()
	roleID := tmpl.id(t, spec.constructID()+"Role/Resource")
	role := tmpl.Resources[roleID].Properties
	if role["ManagedPolicyArns"] != nil {
		t.Errorf("role has managed policies %s", toJSON(role["ManagedPolicyArns"]))
	}
	if want := []any{map[string]any{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "lambda.amazonaws.com"}}}; !reflect.DeepEqual(role["AssumeRolePolicyDocument"].(map[string]any)["Statement"], want) {
		t.Errorf("role trust %s, want lambda.amazonaws.com only", toJSON(role["AssumeRolePolicyDocument"]))
	}
	stmts := tmpl.statements(roleID)
	want := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(logActions), actions...))))
	if got := actionsOf(stmts); !slices.Equal(got, want) {
		t.Errorf("actions %v, want exactly %v", got, want)
	}
	ownLogs := getAtt(tmpl.id(t, spec.constructID()+"Logs/Resource"), "Arn")
	for _, s := range stmts {
		if sid, _ := s["Sid"].(string); slices.Contains(rotationSids, sid) {
			continue
		}
		if s["Effect"] != "Allow" || s["NotAction"] != nil || s["NotResource"] != nil || s["Condition"] != nil {
			t.Errorf("unexpected statement shape %s", toJSON(s))
		}
		for _, a := range list(s["Action"]) {
			want, ok := resourceOf[a.(string)]
			if slices.Contains(logActions, a.(string)) {
				want, ok = []any{ownLogs}, true
			}
			if !ok {
				t.Errorf("%s: no expected resources", a)
			}
			if got := list(s["Resource"]); !slices.Equal(sortedJSON(got), sortedJSON(want)) {
				t.Errorf("%s on %s, want only %s", a, toJSON(got), toJSON(want))
			}
		}
	}
}

var secretsArnPattern = map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":secretsmanager:", ref("AWS::Region"), ":",
	ref("AWS::AccountId"), ":secret:keywarden/access-key/*"}}}
