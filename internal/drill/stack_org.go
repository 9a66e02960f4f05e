package drill

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/settings"
)

// The drill organization, for scenarios on the organization variant: the
// hub in a security account that is the organization's delegated
// administrator, a management account, and members in an OU "workloads".
// The member template is deployed to the members with Stack; sandbox has
// none, as an account the StackSet has not reached yet.
const (
	orgHub        = drillAccount // the demo account is the hub
	orgManagement = "100000000001"
	orgUnit       = "workloads"
	// orgMembersFixture seeds the members: a JSON list of localaws
	// fixtures, one per member, by accountId.
	orgMembersFixture = "events/organization-members.json"
)

type orgMember struct {
	ID, Name string
	Stack    bool // the member template is deployed there
}

var orgMembers = []orgMember{
	{ID: "111111111111", Name: "payments-prod", Stack: true},
	{ID: "222222222222", Name: "data-prod", Stack: true},
	{ID: "333333333333", Name: "sandbox"},
}

// lambdaService is the service principal function roles trust.
const lambdaService = "lambda.amazonaws.com"

// newAccounts seeds the accounts a stack deploys into: the demo account,
// or for a hub template of organization mode the drill organization.
func newAccounts(o Options, template string) (*stack, localaws.Fixture, error) {
	hub, orgMode, err := readHubOrganization(template)
	if err != nil {
		return nil, localaws.Fixture{}, err
	}
	if orgMode {
		org, srv, fixture, err := newDrillOrganization(o, template, hub)
		if err != nil {
			return nil, fixture, err
		}
		return &stack{aws: srv, org: org, hub: hub}, fixture, nil
	}
	srv, fixture, err := localaws.NewSeeded(o.path(o.Fixture, "events/demo-account.json"), localaws.Options{Seed: o.Seed})
	if err != nil {
		return nil, fixture, fmt.Errorf("the demo account: %w", err)
	}
	return &stack{aws: srv}, fixture, nil
}

// newDrillOrganization builds the drill organization with the ids the hub
// template's settings name (its bus policy's organization, the
// StackSet's OUs, whose first is the root), seeds the hub with the demo
// account and the members with theirs, and deploys the member template to
// the members that have a stack.
func newDrillOrganization(o Options, template string, hub hubOrganization) (*localaws.Organization, *localaws.Server, localaws.Fixture, error) {
	fixture, err := localaws.LoadFixture(o.path(o.Fixture, "events/demo-account.json"))
	if err != nil {
		return nil, nil, fixture, fmt.Errorf("the demo account: %w", err)
	}
	var root string
	for _, ou := range hub.OrganizationalUnits {
		if strings.HasPrefix(ou, "r-") {
			root = ou
		}
	}
	if root == "" {
		return nil, nil, fixture, fmt.Errorf("%s: the StackSet deploys to %v; the drill organization needs the root (r-…) among them", template, hub.OrganizationalUnits)
	}
	org, err := localaws.NewOrganization(localaws.OrganizationOptions{
		ID: hub.OrganizationID, RootID: root, ManagementAccountID: orgManagement, ManagementName: "management", Seed: o.Seed,
	})
	if err != nil {
		return nil, nil, fixture, err
	}
	fail := func(err error) (*localaws.Organization, *localaws.Server, localaws.Fixture, error) {
		_ = org.Close()
		return nil, nil, fixture, err
	}
	srv, err := org.AddAccount(localaws.MemberAccount{ID: orgHub, Name: "security"})
	if err != nil {
		return fail(err)
	}
	if err := srv.Seed(fixture); err != nil {
		return fail(fmt.Errorf("the demo account: %w", err))
	}
	if err := org.RegisterDelegatedAdministrator(orgHub); err != nil {
		return fail(err)
	}
	members, err := readMemberFixtures(o.path("", orgMembersFixture))
	if err != nil {
		return fail(err)
	}
	ou, err := org.AddOU(root, orgUnit)
	if err != nil {
		return fail(err)
	}
	for _, m := range orgMembers {
		s, err := org.AddAccount(localaws.MemberAccount{ID: m.ID, Name: m.Name, Parent: ou})
		if err != nil {
			return fail(err)
		}
		if f, ok := members[m.ID]; ok {
			if err := s.Seed(f); err != nil {
				return fail(fmt.Errorf("member %s: %w", m.ID, err))
			}
		}
		if m.Stack {
			if _, err := deployMember(memberTemplate(template), s, orgHub); err != nil {
				return fail(fmt.Errorf("deploy the member template to %s: %w", m.ID, err))
			}
		}
	}
	return org, srv, fixture, nil
}

// readMemberFixtures reads the members' fixtures by account id.
func readMemberFixtures(path string) (map[string]localaws.Fixture, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the member accounts: %w", err)
	}
	var list []localaws.Fixture
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%s: want a JSON list of localaws fixtures: %w", path, err)
	}
	out := map[string]localaws.Fixture{}
	for _, f := range list {
		out[f.AccountID] = f
	}
	return out, nil
}

// provisionHub creates what the hub template adds in organization mode:
// the hub bus with its organization policy, and each function's execution
// role as the template declares it (path and trust), whose credentials the
// function then runs with, as in Lambda.
func (st *stack) provisionHub() error {
	// The bus policy's statement names the bus's ARN: resolve it with the
	// bus's own.
	busARN := fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s", st.aws.Region(), st.aws.AccountID(), st.hub.Bus)
	values := intrinsics{"AWS::AccountId": st.aws.AccountID(), "AWS::Partition": "aws", "AWS::Region": st.aws.Region()}
	for _, id := range st.hub.busIDs {
		values[id], values[id+".Arn"], values[id+".Name"] = st.hub.Bus, busARN, st.hub.Bus
	}
	statement, err := values.resolveJSON(st.hub.BusPolicy)
	if err != nil {
		return fmt.Errorf("the hub bus's policy: %w", err)
	}
	policy := `{"Version":"2012-10-17","Statement":[` + statement + `]}`
	if _, err := st.aws.AddEventBus(localaws.EventBus{Name: st.hub.Bus, Policy: policy}); err != nil {
		return err
	}
	st.roleArns = map[string]string{}
	st.credentials = map[string]aws.CredentialsProvider{}
	for _, fn := range st.hub.sortedRoleFunctions() {
		r := st.hub.Roles[fn]
		name := functionRoleName(fn)
		arn, err := st.aws.CreateRole(localaws.Role{Name: name, Path: r.Path, TrustPolicy: string(r.Trust)})
		if err != nil {
			return fmt.Errorf("the %s function's role: %w", fn, err)
		}
		creds, err := st.aws.ServiceCredentials(name, lambdaService, "keywarden-"+fn)
		if err != nil {
			return fmt.Errorf("the %s function's role: %w", fn, err)
		}
		st.roleArns[fn], st.credentials[fn] = arn, creds
	}
	return nil
}

// functionRoleName is the drill's name for a function's role
// (CloudFormation generates the deployed one's): keywarden-ContainFunctionRole.
func functionRoleName(fn string) string {
	return "keywarden-" + strings.ToUpper(fn[:1]) + fn[1:] + "FunctionRole"
}

// functionConfig is the config a function's handler runs with: in
// organization mode, its own role's credentials; else the account's.
func (st *stack) functionConfig(fn string) aws.Config {
	creds, ok := st.credentials[fn]
	if !ok {
		return st.cfg
	}
	cfg := st.cfg.Copy()
	cfg.Credentials = creds
	return cfg
}

// orgReferences are the references whose drill values differ in
// organization mode: keywarden's own roles carry the template's path.
func (st *stack) orgReferences(local map[string]string) {
	var own []string
	for _, fn := range []string{lambdafn.Contain, lambdafn.Revoke, lambdafn.Remove, lambdafn.Act, lambdafn.Tamper} {
		if arn, ok := st.roleArns[fn]; ok {
			own = append(own, arn)
		}
	}
	local[settings.EnvOwnRoleArns] = strings.Join(own, ",")
	if arn, ok := st.roleArns[lambdafn.Act]; ok {
		local[settings.EnvRotationWriter] = arn
	}
}

// accountOf is the Server of the account holding key id: the stack's
// account, or in organization mode whichever account holds it.
func (st *stack) accountOf(id string) *localaws.Server {
	if _, ok := st.aws.AccessKey(id); ok || st.org == nil {
		return st.aws
	}
	for _, a := range st.org.AccountIDs() {
		if s := st.org.Account(a); s != nil {
			if _, ok := s.AccessKey(id); ok {
				return s
			}
		}
	}
	return st.aws
}

// account is the Server of an account of the drill organization (the
// stack's own in account mode), nil when there is none.
func (st *stack) account(id string) *localaws.Server {
	if st.org == nil {
		if id == st.aws.AccountID() {
			return st.aws
		}
		return nil
	}
	return st.org.Account(id)
}

// allCalls are the calls every account answered, by account.
func (st *stack) allCalls() map[string][]localaws.Call {
	if st.org == nil {
		return map[string][]localaws.Call{st.aws.AccountID(): st.aws.Calls()}
	}
	out := map[string][]localaws.Call{}
	for _, a := range st.org.AccountIDs() {
		out[a] = st.org.Account(a).Calls()
	}
	return out
}

// issuedSecrets are the secret access keys every account of the stack
// ever issued, for the secret-leak audit.
func (st *stack) issuedSecrets() []string {
	if st.org == nil {
		return st.aws.IssuedSecrets()
	}
	var out []string
	for _, id := range st.org.AccountIDs() {
		out = append(out, st.org.Account(id).IssuedSecrets()...)
	}
	return out
}
