package drill

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/statemachine"
)

// orgStack is the stack of the organization variant.
func orgStack(t *testing.T) *stack {
	t.Helper()
	o := options(t)
	o.Template = o.variantTemplate(orgVariant)
	st, err := newStack(context.Background(), o, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func TestIntrinsics(t *testing.T) {
	in := intrinsics{"AWS::Partition": "aws", "Hub": "123456789012", "Policy": "arn:p", "Role.Arn": "arn:r"}
	for _, tc := range []struct{ doc, want string }{
		{`{"Fn::Sub":"arn:${AWS::Partition}:iam::${Hub}:role/keywarden/*"}`, `"arn:aws:iam::123456789012:role/keywarden/*"`},
		{`{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::",{"Ref":"Hub"},":root"]]}`, `"arn:aws:iam::123456789012:root"`},
		{`{"a":[{"Ref":"Policy"},{"Fn::GetAtt":["Role","Arn"]}],"b":1}`, `{"a":["arn:p","arn:r"],"b":1}`},
	} {
		got, err := in.resolveJSON(json.RawMessage(tc.doc))
		if err != nil || got != tc.want {
			t.Errorf("%s: got %s, %v; want %s", tc.doc, got, err, tc.want)
		}
	}
	for _, doc := range []string{`{"Ref":"Nope"}`, `{"Fn::Sub":"${Nope}"}`, `{"Fn::ImportValue":"x"}`, `{"Fn::Sub":["${x}",{"x":"1"}]}`} {
		if _, err := in.resolveJSON(json.RawMessage(doc)); err == nil {
			t.Errorf("%s resolved", doc)
		}
	}
}

func TestHubOrganizationFromTemplate(t *testing.T) {
	hub, ok, err := readHubOrganization(filepath.Join(root, "build", "variants", orgVariant, "Keywarden.template.json"))
	if err != nil || !ok {
		t.Fatalf("organization template: ok %v, %v", ok, err)
	}
	if hub.Bus != "keywarden-organization" || !strings.HasPrefix(hub.OrganizationID, "o-") || len(hub.OrganizationalUnits) == 0 {
		t.Errorf("hub %+v", hub)
	}
	if r := hub.Roles[lambdafn.Contain]; r.Path != "/keywarden/" {
		t.Errorf("the contain function's role %+v, want path /keywarden/", r)
	}
	// The drill runs the organization definition the template deploys,
	// with the settings' concurrency and tolerance.
	if hub.Definition != statemachine.DefinitionFor(statemachine.ModeOrganization) ||
		hub.Settings["MaxConcurrency"] == "" || hub.Settings["ToleratedFailurePercentage"] == "" {
		t.Errorf("the hub's definition is not the organization's, or lacks its settings %v", hub.Settings)
	}
	if _, ok, err := readHubOrganization(filepath.Join(root, "cdk.out", "Keywarden.template.json")); ok || err != nil {
		t.Errorf("account mode's template read as a hub: %v %v", ok, err)
	}
}

// The organization stack as deployed: the members with a stack hold the
// template's roles and deny policy; a function's own role (under
// /keywarden/) may assume a member role with a source identity, a role
// outside that path may not, nor may anyone assume one in a member without
// the stack; a report on a member's bus reaches the intake through the hub
// bus, keeping the member's account.
func TestOrganizationStack(t *testing.T) {
	st := orgStack(t)
	ctx := context.Background()
	for _, m := range orgMembers {
		srv := st.account(m.ID)
		_, denyErr := iam.NewFromConfig(srv.SDKConfig()).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(member.RespondRole)})
		if (denyErr == nil) != m.Stack {
			t.Errorf("member %s (stack %v): GetRole %s: %v", m.ID, m.Stack, member.RespondRole, denyErr)
		}
	}
	assume := func(fn, account string) error {
		_, err := sts.NewFromConfig(st.functionConfig(fn)).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn:         aws.String(member.RoleARN("us-east-1", account, member.Respond)),
			RoleSessionName: aws.String("exposed-test"), SourceIdentity: aws.String("exposed-test"), DurationSeconds: aws.Int32(900),
		})
		return err
	}
	if err := assume(lambdafn.Contain, paymentsAccount); err != nil {
		t.Errorf("the contain function could not assume the respond role of %s: %v", paymentsAccount, err)
	}
	if err := assume(lambdafn.Alert, paymentsAccount); err == nil {
		t.Error("the alert function, whose role is not under /keywarden/, assumed a member role")
	}
	if err := assume(lambdafn.Contain, sandboxAccount); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("assumed a role in a member without the stack: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "events/samples/trusted-advisor-exposed-key-member.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.deliver(ctx, raw); err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, d := range st.aws.Deliveries() {
		rules = append(rules, d.Rule)
		var env struct{ Account string }
		if err := json.Unmarshal(d.Event, &env); err != nil || env.Account != paymentsAccount {
			t.Errorf("the hub received an event of account %q (%v), want the member's", env.Account, err)
		}
	}
	if len(rules) != 1 || !strings.HasPrefix(rules[0], "OrganizationTrustedAdvisorRule") || len(st.matched) != 1 {
		t.Errorf("hub deliveries %v, intake %+v; want one, by the hub bus's Trusted Advisor rule", rules, st.matched)
	}
}
