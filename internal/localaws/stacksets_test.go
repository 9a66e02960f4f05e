package localaws

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// A StackSet created as DELEGATED_ADMIN is read back by the delegated
// administrator only as DELEGATED_ADMIN, and belongs to the management
// account; an account that is not a delegated administrator is refused.
func TestStackSetCallAs(t *testing.T) {
	o := newTestOrg(t, OrganizationOptions{})
	hub := addAccount(t, o, MemberAccount{ID: hubAccount})
	other := addAccount(t, o, MemberAccount{ID: memberAccount})
	mustOK(t, "register", o.RegisterDelegatedAdministrator(hubAccount))
	mustOK(t, "add", hub.AddStackSet(StackSet{Name: "keywarden-member", CallAs: CallAsDelegatedAdmin, AutoDeployment: true,
		OrganizationalUnitIDs: []string{o.RootID()}, Instances: []StackInstance{{Account: memberAccount, OrganizationalUnitID: o.RootID()}}}))
	c := cloudformation.NewFromConfig(hub.SDKConfig())
	ctx := t.Context()

	out, err := c.DescribeStackSet(ctx, &cloudformation.DescribeStackSetInput{StackSetName: aws.String("keywarden-member"), CallAs: cfntypes.CallAsDelegatedAdmin})
	mustOK(t, "describe", err)
	set := out.StackSet
	if set.Status != cfntypes.StackSetStatusActive || set.PermissionModel != cfntypes.PermissionModelsServiceManaged ||
		!aws.ToBool(set.AutoDeployment.Enabled) || aws.ToBool(set.AutoDeployment.RetainStacksOnAccountRemoval) ||
		fmt.Sprint(set.OrganizationalUnitIds) != fmt.Sprint([]string{o.RootID()}) {
		t.Errorf("stack set %+v", set)
	}
	if want := "arn:aws:cloudformation:us-east-1:" + mgmtAccount + ":stackset/keywarden-member:"; len(aws.ToString(set.StackSetARN)) <= len(want) || aws.ToString(set.StackSetARN)[:len(want)] != want {
		t.Errorf("ARN %s, want the management account's", aws.ToString(set.StackSetARN))
	}
	// By id too.
	_, err = c.DescribeStackSet(ctx, &cloudformation.DescribeStackSetInput{StackSetName: set.StackSetId, CallAs: cfntypes.CallAsDelegatedAdmin})
	mustOK(t, "describe by id", err)

	_, err = c.DescribeStackSet(ctx, &cloudformation.DescribeStackSetInput{StackSetName: aws.String("keywarden-member")})
	var nf *cfntypes.StackSetNotFoundException
	if !errorsAs(err, &nf) {
		t.Errorf("as SELF: %v, want StackSetNotFoundException", err)
	}
	wantCode(t, err, "StackSetNotFoundException", 404)

	_, err = cloudformation.NewFromConfig(other.SDKConfig()).ListStackInstances(ctx, &cloudformation.ListStackInstancesInput{
		StackSetName: aws.String("keywarden-member"), CallAs: cfntypes.CallAsDelegatedAdmin})
	wantCode(t, err, "ValidationError", 400)

	o.DeregisterDelegatedAdministrator(hubAccount)
	_, err = c.DescribeStackSet(ctx, &cloudformation.DescribeStackSetInput{StackSetName: aws.String("keywarden-member"), CallAs: cfntypes.CallAsDelegatedAdmin})
	wantCode(t, err, "ValidationError", 400)
}

// ListStackInstances pages by MaxResults, filters by account and region,
// and shows each instance's status, reason and OU.
func TestListStackInstances(t *testing.T) {
	s := newTestServer(t, Options{Now: time.Now})
	var instances []StackInstance
	for i := range 7 {
		instances = append(instances, StackInstance{Account: fmt.Sprintf("%012d", 7-i), OrganizationalUnitID: "ou-ab12-cd34ef56"})
	}
	instances = append(instances, StackInstance{Account: "000000000003", Region: "eu-west-1", Status: StackInstanceOutdated, StatusReason: "Cancelled since failure tolerance has exceeded"})
	mustOK(t, "add", s.AddStackSet(StackSet{Name: "set", Instances: instances}))
	c := cloudformation.NewFromConfig(s.SDKConfig())
	ctx := t.Context()

	var got []string
	p := cloudformation.NewListStackInstancesPaginator(c, &cloudformation.ListStackInstancesInput{StackSetName: aws.String("set"), MaxResults: aws.Int32(3)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		mustOK(t, "page", err)
		pages++
		for _, in := range out.Summaries {
			got = append(got, fmt.Sprintf("%s/%s/%s/%s/%s", aws.ToString(in.Account), aws.ToString(in.Region), in.Status,
				in.StackInstanceStatus.DetailedStatus, aws.ToString(in.StatusReason)))
		}
	}
	if pages != 3 || len(got) != 8 || got[0] != "000000000001/us-east-1/CURRENT/SUCCEEDED/" ||
		got[2] != "000000000003/eu-west-1/OUTDATED/FAILED/Cancelled since failure tolerance has exceeded" {
		t.Errorf("%d pages: %v", pages, got)
	}
	out, err := c.ListStackInstances(ctx, &cloudformation.ListStackInstancesInput{StackSetName: aws.String("set"),
		StackInstanceAccount: aws.String("000000000003"), StackInstanceRegion: aws.String("us-east-1")})
	mustOK(t, "filter", err)
	if len(out.Summaries) != 1 || aws.ToString(out.Summaries[0].OrganizationalUnitId) != "ou-ab12-cd34ef56" {
		t.Errorf("filtered %+v", out.Summaries)
	}
	_, err = c.ListStackInstances(ctx, &cloudformation.ListStackInstancesInput{StackSetName: aws.String("set"), MaxResults: aws.Int32(101)})
	wantCode(t, err, "ValidationError", 400)
	_, err = c.ListStackInstances(ctx, &cloudformation.ListStackInstancesInput{StackSetName: aws.String("set"), NextToken: aws.String("bogus")})
	wantCode(t, err, "ValidationError", 400)

	mustOK(t, "fault", s.SetFault("cloudformation:ListStackInstances", Fault{ErrorCode: "AccessDenied"}))
	_, err = c.ListStackInstances(ctx, &cloudformation.ListStackInstancesInput{StackSetName: aws.String("set")})
	wantCode(t, err, "AccessDenied", 403)

	for _, bad := range []StackSet{{Name: "1set"}, {Name: "set", CallAs: "ME"}, {Name: "set", Instances: []StackInstance{{Account: "1"}}},
		{Name: "set", Instances: []StackInstance{{Account: "000000000001", Status: "FINE"}}}} {
		if err := s.AddStackSet(bad); err == nil {
			t.Errorf("AddStackSet(%+v) succeeded", bad)
		}
	}
}

// A custom bus shows its policy; its rules are described on it, and a
// rule of the same name on the default bus is another rule.
func TestCustomEventBus(t *testing.T) {
	s := newTestServer(t, Options{Now: time.Now})
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"events:PutEvents","Resource":"*"}]}`
	arn, err := s.AddEventBus(EventBus{Name: "hub", Policy: policy})
	mustOK(t, "bus", err)
	mustOK(t, "rule", s.DefineRule(RuleDefinition{Name: "r", EventBusName: "hub", ScheduleExpression: "rate(1 day)"}))
	mustOK(t, "disable", s.SetRuleEnabled("hub|r", false))
	c := eventbridge.NewFromConfig(s.SDKConfig())
	ctx := t.Context()

	bus, err := c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String(arn)})
	mustOK(t, "describe bus", err)
	if aws.ToString(bus.Name) != "hub" || aws.ToString(bus.Policy) != policy || aws.ToString(bus.Arn) != arn {
		t.Errorf("bus %+v", bus)
	}
	rule, err := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("r"), EventBusName: aws.String("hub")})
	mustOK(t, "describe rule", err)
	if rule.State != ebtypes.RuleStateDisabled || aws.ToString(rule.EventBusName) != "hub" || aws.ToString(rule.Arn) != "arn:aws:events:us-east-1:"+s.AccountID()+":rule/hub/r" {
		t.Errorf("rule %+v", rule)
	}
	_, err = c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("r")})
	wantCode(t, err, "ResourceNotFoundException", 400)
	_, err = c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("gone")})
	var nf *ebtypes.ResourceNotFoundException
	if !errorsAs(err, &nf) {
		t.Errorf("missing bus: %v", err)
	}
	if err := s.DefineRule(RuleDefinition{Name: "x", EventBusName: "gone", ScheduleExpression: "rate(1 day)"}); err == nil {
		t.Error("a rule on a missing bus was defined")
	}
}
