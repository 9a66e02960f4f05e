package doctor

import (
	"fmt"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/settings"
)

// The organization around a hub deployment: the management account at the
// root; the hub (a delegated administrator for StackSets) in Security;
// prod, staging and legacy (excluded) in Workloads; sandbox (opted out by
// tag) in Workloads/Sandbox.
const (
	testHub      = "222222222222"
	testProd     = "333333333333"
	testStaging  = "444444444444"
	testSandbox  = "555555555555"
	testLegacy   = "666666666666"
	testStackSet = "keywarden-member"
	testOrgBus   = "keywarden-organization"
)

type orgFixture struct {
	org                          *localaws.Organization
	security, workloads, sandbox string // OU ids
	stackSet                     localaws.StackSet
}

// newOrgDeployment deploys a healthy hub: newDeployment's stack in the
// hub account, with the organization outputs, the StackSet ACTIVE with
// automatic deployment and a CURRENT instance in every account under the
// root but the management account and legacy, the bus accepting the
// organization's events, and a logging organization trail.
func newOrgDeployment(t *testing.T, rules []rule, outputs []localaws.StackOutput) *deployment {
	t.Helper()
	org, err := localaws.NewOrganization(localaws.OrganizationOptions{Now: func() time.Time { return testNow }})
	must(t, err)
	t.Cleanup(func() { _ = org.Close() })
	f := &orgFixture{org: org}
	f.security, err = org.AddOU(org.RootID(), "Security")
	must(t, err)
	f.workloads, err = org.AddOU(org.RootID(), "Workloads")
	must(t, err)
	f.sandbox, err = org.AddOU(f.workloads, "Sandbox")
	must(t, err)
	hubSrv, err := org.AddAccount(localaws.MemberAccount{ID: testHub, Name: "security", Parent: f.security})
	must(t, err)
	for _, a := range []localaws.MemberAccount{
		{ID: testProd, Name: "prod", Parent: f.workloads},
		{ID: testStaging, Name: "staging", Parent: f.workloads},
		{ID: testSandbox, Name: "sandbox", Parent: f.sandbox, Tags: map[string]string{settings.DefaultOptOutTag: "true"}},
		{ID: testLegacy, Name: "legacy", Parent: f.workloads},
	} {
		_, err := org.AddAccount(a)
		must(t, err)
	}
	must(t, org.RegisterDelegatedAdministrator(testHub))

	d := deployOn(t, hubSrv, rules, outputs)
	d.org = f
	for k, v := range map[string]string{
		outMode: settings.ModeOrganization, outOrganizationID: org.ID(), outOrganizationalUnits: org.RootID(),
		outExcludedAccounts: testLegacy, outOptOutTag: settings.DefaultOptOutTag, outStackSetName: testStackSet,
		outStackSetCallAs: localaws.CallAsDelegatedAdmin, outOrganizationBus: testOrgBus,
	} {
		d.setOutput(k, v)
	}
	f.stackSet = localaws.StackSet{
		Name: testStackSet, CallAs: localaws.CallAsDelegatedAdmin, AutoDeployment: true, ManagedExecution: true,
		OrganizationalUnitIDs: []string{org.RootID()}, Regions: []string{"us-east-1"}, Capabilities: []string{"CAPABILITY_NAMED_IAM"},
	}
	for account, ou := range map[string]string{testHub: f.security, testProd: f.workloads, testStaging: f.workloads, testSandbox: f.sandbox} {
		f.stackSet.Instances = append(f.stackSet.Instances, localaws.StackInstance{Account: account, OrganizationalUnitID: ou})
	}
	d.deployStackSet()
	d.setBusPolicy(busPolicy(org.ID()))
	must(t, hubSrv.AddTrail(localaws.Trail{Name: "organization-trail", Organization: true, MultiRegion: true, Logging: true}))
	return d
}

func busPolicy(org string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"cdk-PutEventsFromTheOrganizationOnly","Effect":"Allow",`+
		`"Principal":{"AWS":"*"},"Action":"events:PutEvents","Resource":"arn:aws:events:us-east-1:%s:event-bus/%s",`+
		`"Condition":{"StringEquals":{"aws:PrincipalOrgID":"%s"}}}]}`, testHub, testOrgBus, org)
}

func (d *deployment) deployStackSet() { must(d.t, d.srv.AddStackSet(d.org.stackSet)) }

func (d *deployment) setBusPolicy(policy string) {
	_, err := d.srv.AddEventBus(localaws.EventBus{Name: testOrgBus, Policy: policy})
	must(d.t, err)
}

// setInstance replaces (or, with a zero Status, removes) account's
// instance.
func (d *deployment) setInstance(account string, in localaws.StackInstance) {
	var out []localaws.StackInstance
	for _, i := range d.org.stackSet.Instances {
		if i.Account != account {
			out = append(out, i)
		}
	}
	if in.Status != "" {
		in.Account = account
		out = append(out, in)
	}
	d.org.stackSet.Instances = out
	d.deployStackSet()
}

// orgCases runs cases on a hub deployment.
func orgCases(t *testing.T, cases []checkCase) {
	t.Helper()
	for i := range cases {
		cases[i].org = true
	}
	runCases(t, cases)
}

func TestCheckStackSet(t *testing.T) {
	orgCases(t, []checkCase{
		{name: "active with automatic deployment passes", check: "stackset", want: Pass,
			detail: []string{"keywarden-member is ACTIVE, SERVICE_MANAGED, with automatic deployment (called as DELEGATED_ADMIN)"}},
		{name: "automatic deployment off fails", check: "stackset", setup: func(d *deployment) {
			d.org.stackSet.AutoDeployment = false
			d.deployStackSet()
		}, want: Fail, detail: []string{"automatic deployment is off"},
			fix: "aws cloudformation update-stack-set --stack-set-name keywarden-member --call-as DELEGATED_ADMIN --use-previous-template --capabilities CAPABILITY_NAMED_IAM --auto-deployment Enabled=true"},
		{name: "deleted fails", check: "stackset", setup: func(d *deployment) {
			d.org.stackSet.Status = "DELETED"
			d.deployStackSet()
		}, want: Fail, detail: []string{"status is DELETED"}, fix: "cdk deploy"},
		{name: "missing fails", check: "stackset", setup: func(d *deployment) { d.setOutput(outStackSetName, "keywarden-gone") },
			want: Fail, detail: []string{"no StackSet keywarden-gone (called as DELEGATED_ADMIN)"}, fix: "cdk deploy"},
		{name: "called as SELF it is not there", check: "stackset", setup: func(d *deployment) { d.setOutput(outStackSetCallAs, "SELF") },
			want: Fail, detail: []string{"no StackSet keywarden-member (called as SELF)"}},
		{name: "not a delegated administrator fails", check: "stackset", setup: func(d *deployment) {
			d.org.org.DeregisterDelegatedAdministrator(testHub)
		}, want: Fail, detail: []string{"Account used is not a delegated administrator", "hub account 222222222222", "organizations:ListDelegatedAdministrators"},
			fix: "aws organizations register-delegated-administrator --service-principal member.org.stacksets.cloudformation.amazonaws.com --account-id 222222222222"},
		{name: "refused fails naming the action", check: "stackset", setup: func(d *deployment) {
			must(t, d.srv.SetFault("cloudformation:DescribeStackSet", localaws.Fault{ErrorCode: "AccessDenied"}))
		}, want: Fail, detail: []string{"AccessDenied"}, fix: "cloudformation:DescribeStackSet"},
	})
	// Without a StackSet the instance checks say why they did not run.
	for _, id := range []string{"stack-instances", "member-accounts"} {
		orgCases(t, []checkCase{{name: id + " without a StackSet", check: id, setup: func(d *deployment) { d.setOutput(outStackSetName, "keywarden-gone") },
			want: Fail, detail: []string{"not checked: the StackSet could not be read"}, fix: "fix the StackSet"}})
	}
}

func TestCheckStackInstances(t *testing.T) {
	orgCases(t, []checkCase{
		{name: "all current passes", check: "stack-instances", want: Pass, detail: []string{"all 4 CURRENT"}},
		{name: "outdated fails with its reason", check: "stack-instances", setup: func(d *deployment) {
			d.setInstance(testProd, localaws.StackInstance{OrganizationalUnitID: d.org.workloads, Status: localaws.StackInstanceOutdated,
				StatusReason: "ResourceLogicalId:ReadRole, ResourceType:AWS::IAM::Role, ResourceStatusReason:keywarden-member-read already exists."})
		}, want: Fail, detail: []string{"1 of 4 not CURRENT", "333333333333 us-east-1 OUTDATED (FAILED): ResourceLogicalId:ReadRole", "keywarden-member-read already exists"},
			fix: "333333333333: aws cloudformation update-stack-instances --stack-set-name keywarden-member --call-as DELEGATED_ADMIN --regions us-east-1 --deployment-targets OrganizationalUnitIds=ou-"},
		{name: "inoperable fails", check: "stack-instances", setup: func(d *deployment) {
			d.setInstance(testStaging, localaws.StackInstance{OrganizationalUnitID: d.org.workloads, Status: localaws.StackInstanceInoperable})
		}, want: Fail, detail: []string{"444444444444 us-east-1 INOPERABLE (INOPERABLE): no reason given"}, fix: "--retain-stacks, delete its stack in the account, then aws cloudformation create-stack-instances"},
		{name: "none fails", check: "stack-instances", setup: func(d *deployment) {
			d.org.stackSet.Instances = nil
			d.deployStackSet()
		}, want: Fail, detail: []string{"no stack instance"}, fix: "list-stack-set-operations"},
		{name: "a bad instance on the last page fails", check: "stack-instances", setup: func(d *deployment) {
			for i := range 150 {
				d.org.stackSet.Instances = append(d.org.stackSet.Instances, localaws.StackInstance{Account: fmt.Sprintf("7%011d", i), OrganizationalUnitID: d.org.workloads})
			}
			d.setInstance("999999999999", localaws.StackInstance{Status: localaws.StackInstanceOutdated, StatusReason: "Account 999999999999 should have 'AWSCloudFormationStackSetExecutionRole' role"})
		}, want: Fail, detail: []string{"1 of 155 not CURRENT", "999999999999 us-east-1 OUTDATED"}},
		{name: "refused fails naming the action", check: "stack-instances", setup: func(d *deployment) {
			must(t, d.srv.SetFault("cloudformation:ListStackInstances", localaws.Fault{ErrorCode: "AccessDenied"}))
		}, want: Fail, detail: []string{"AccessDenied"}, fix: "cloudformation:ListStackInstances"},
	})
}

func TestCheckMemberAccounts(t *testing.T) {
	orgCases(t, []checkCase{
		{name: "every in-scope account covered passes", check: "member-accounts", want: Pass,
			detail: []string{"all 3 in-scope accounts of o-", "1 opted-out account has one too"}},
		{name: "an account without an instance fails", check: "member-accounts", setup: func(d *deployment) {
			d.setInstance(testStaging, localaws.StackInstance{})
		}, want: Fail, detail: []string{"1 of 3 in-scope accounts has no CURRENT member stack", `"member role not deployed"`, "444444444444 (staging): no stack instance"},
			fix: "aws cloudformation create-stack-instances --stack-set-name keywarden-member --call-as DELEGATED_ADMIN --regions us-east-1 --deployment-targets OrganizationalUnitIds=r-"},
		{name: "an outdated instance fails", check: "member-accounts", setup: func(d *deployment) {
			d.setInstance(testProd, localaws.StackInstance{OrganizationalUnitID: d.org.workloads, Status: localaws.StackInstanceOutdated})
		}, want: Fail, detail: []string{"333333333333 (prod): its instance is OUTDATED"}, fix: "see Member stack instances"},
		{name: "an excluded account's instance warns", check: "member-accounts", setup: func(d *deployment) {
			d.setInstance(testLegacy, localaws.StackInstance{OrganizationalUnitID: d.org.workloads, Status: localaws.StackInstanceCurrent})
		}, want: Warn, detail: []string{"1 out-of-scope account has a member stack", "666666666666 (legacy): listed in excludedAccounts"},
			fix: "aws cloudformation delete-stack-instances --stack-set-name keywarden-member --call-as DELEGATED_ADMIN --regions us-east-1 --deployment-targets OrganizationalUnitIds=ou-"},
		{name: "no excluded accounts (none) brings legacy in scope", check: "member-accounts", setup: func(d *deployment) {
			d.setOutput(outExcludedAccounts, noExcludedAccounts)
		}, want: Fail, detail: []string{"1 of 4 in-scope accounts has no CURRENT member stack", "666666666666 (legacy): no stack instance"}},
		{name: "Organizations refused fails naming the actions", check: "member-accounts", setup: func(d *deployment) {
			must(t, d.srv.SetFault("organizations:ListAccounts", localaws.Fault{ErrorCode: "AccessDeniedException"}))
		}, want: Fail, detail: []string{"AccessDeniedException"}, fix: "organizations:DescribeOrganization, ListAccounts"},
		{name: "another organization fails", check: "member-accounts", setup: func(d *deployment) { d.setOutput(outOrganizationID, "o-another0001") },
			want: Fail, detail: []string{"organizationId is o-another0001"}, fix: "correct organizationId"},
	})
}

func TestCheckOrganizationBus(t *testing.T) {
	orgCases(t, []checkCase{
		{name: "the organization only passes", check: "organization-bus", want: Pass, detail: []string{"keywarden-organization accepts events:PutEvents from the organization o-"}},
		{name: "missing fails", check: "organization-bus", setup: func(d *deployment) { d.setOutput(outOrganizationBus, "keywarden-gone") },
			want: Fail, detail: []string{"no event bus keywarden-gone"}, fix: "cdk deploy"},
		{name: "no policy fails", check: "organization-bus", setup: func(d *deployment) { d.setBusPolicy("") },
			want: Fail, detail: []string{"has no policy", "refused"}, fix: "aws:PrincipalOrgID is o-"},
		{name: "another organization fails", check: "organization-bus", setup: func(d *deployment) { d.setBusPolicy(busPolicy("o-another0001")) },
			want: Fail, detail: []string{"names the organization o-another0001, not o-"}, fix: "cdk deploy"},
		{name: "open to anyone fails", check: "organization-bus", setup: func(d *deployment) {
			d.setBusPolicy(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":["events:PutEvents"],"Resource":"*"}}`)
		}, want: Fail, detail: []string{"any AWS account"}, fix: "cdk deploy"},
		{name: "refused fails naming the action", check: "organization-bus", setup: func(d *deployment) {
			must(t, d.srv.SetFault("events:DescribeEventBus", localaws.Fault{ErrorCode: "AccessDeniedException"}))
		}, want: Fail, detail: []string{"AccessDeniedException"}, fix: "events:DescribeEventBus"},
	})
}

func TestCheckOrganizationTrail(t *testing.T) {
	trail := func(tr localaws.Trail) func(d *deployment) {
		return func(d *deployment) { must(t, d.srv.AddTrail(tr)) }
	}
	orgCases(t, []checkCase{
		{name: "a logging organization trail passes", check: "organization-trail", want: Pass,
			detail: []string{"organization-trail logs every member's write management events (multi-region, home us-east-1)"}},
		{name: "stopped warns", check: "organization-trail", setup: trail(localaws.Trail{Name: "organization-trail", Organization: true, MultiRegion: true}),
			want: Warn, detail: []string{"organization-trail is not logging", "members' IAM calls"}, fix: "--is-organization-trail"},
		{name: "none warns", check: "organization-trail", setup: trail(localaws.Trail{Name: "organization-trail", MultiRegion: true, Logging: true}),
			want: Warn, detail: []string{"no organization trail:"}, fix: "aws cloudtrail create-trail --region us-east-1 --name keywarden-organization-trail"},
	})
}

// A per-account stack runs none of the organization checks; an unknown
// mode fails.
func TestOrganizationChecksOnlyForAHub(t *testing.T) {
	rep := newDeployment(t, fixedRules, nil).run()
	for _, r := range rep.Results {
		switch r.ID {
		case "stackset", "stack-instances", "member-accounts", "organization-bus", "organization-trail", "mode":
			t.Errorf("a per-account stack ran %s", r.ID)
		}
	}
	runCases(t, []checkCase{{name: "unknown mode fails", check: "mode", setup: func(d *deployment) { d.setOutput(outMode, "galaxy") },
		want: Fail, detail: []string{`unknown Mode "galaxy"`}, fix: "cdk deploy"}})
	orgCases(t, []checkCase{
		{name: "a hub's outputs are required", check: "outputs", setup: func(d *deployment) { d.setOutput(outStackSetCallAs, "") },
			want: Fail, detail: []string{"missing: StackSetCallAs"}},
		{name: "a hub without an organization output does not check it", check: "member-accounts", setup: func(d *deployment) { d.setOutput(outOptOutTag, "") },
			want: Fail, detail: []string{"not checked: the stack has no OptOutTag output"}, fix: "cdk deploy"},
		{name: "a hub has all 16 outputs", check: "outputs", want: Pass, detail: []string{"all 16 outputs"}},
	})
}
