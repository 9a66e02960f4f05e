package localaws

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// bigOrg is an organization of 45 member accounts besides the management
// account: 5 under the root, 20 in workloads/prod, 20 in workloads/dev.
type bigOrg struct {
	org                  *Organization
	workloads, prod, dev string
}

func newBigOrg(t *testing.T) bigOrg {
	t.Helper()
	o := newTestOrg(t, OrganizationOptions{ManagementName: "mgmt", ManagementEmail: "aws-root@example.com"})
	b := bigOrg{org: o}
	var err error
	if b.workloads, err = o.AddOU(o.RootID(), "workloads"); err != nil {
		t.Fatal(err)
	}
	if b.prod, err = o.AddOU(b.workloads, "prod"); err != nil {
		t.Fatal(err)
	}
	if b.dev, err = o.AddOU(b.workloads, "dev"); err != nil {
		t.Fatal(err)
	}
	for i := range 45 {
		parent := o.RootID()
		switch {
		case i >= 25:
			parent = b.dev
		case i >= 5:
			parent = b.prod
		}
		a := MemberAccount{ID: fmt.Sprintf("1000000000%02d", i), Name: fmt.Sprintf("acct-%02d", i), Parent: parent}
		if i == 7 {
			a.Tags = map[string]string{"keywarden:opt-out": "true", "owner": "team-7"}
			a.Status = "SUSPENDED"
		}
		addAccount(t, o, a)
	}
	return b
}

func listAllAccounts(ctx context.Context, c *organizations.Client, pageSize int32) ([]orgtypes.Account, []int, error) {
	var all []orgtypes.Account
	var sizes []int
	p := organizations.NewListAccountsPaginator(c, &organizations.ListAccountsInput{MaxResults: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, page.Accounts...)
		sizes = append(sizes, len(page.Accounts))
	}
	return all, sizes, nil
}

func TestOrganizationsListsNestedOrganization(t *testing.T) {
	ctx := context.Background()
	b := newBigOrg(t)
	o := b.org
	c := organizations.NewFromConfig(o.Management().SDKConfig())

	accounts, sizes, err := listAllAccounts(ctx, c, 20)
	mustOK(t, "ListAccounts", err)
	if fmt.Sprint(sizes) != "[20 20 6]" {
		t.Errorf("page sizes %v, want [20 20 6]", sizes)
	}
	seen := map[string]orgtypes.Account{}
	for _, a := range accounts {
		seen[aws.ToString(a.Id)] = a
	}
	if len(seen) != 46 {
		t.Fatalf("%d distinct accounts, want 46", len(seen))
	}
	m := seen[mgmtAccount]
	if aws.ToString(m.Name) != "mgmt" || aws.ToString(m.Email) != "aws-root@example.com" || m.Status != orgtypes.AccountStatusActive ||
		aws.ToString(m.Arn) != "arn:aws:organizations::"+mgmtAccount+":account/"+o.ID()+"/"+mgmtAccount || !m.JoinedTimestamp.Equal(testNow) {
		t.Errorf("management account = %+v", m)
	}
	if s := seen["100000000007"].Status; s != orgtypes.AccountStatusSuspended {
		t.Errorf("account 7 status %s, want SUSPENDED", s)
	}

	// The tree: root → workloads → prod, dev.
	ous := func(parent string) []string {
		out, err := c.ListOrganizationalUnitsForParent(ctx, &organizations.ListOrganizationalUnitsForParentInput{ParentId: aws.String(parent)})
		mustOK(t, "ListOrganizationalUnitsForParent "+parent, err)
		var names []string
		for _, u := range out.OrganizationalUnits {
			names = append(names, aws.ToString(u.Name)+"="+aws.ToString(u.Id))
		}
		return names
	}
	if got := ous(o.RootID()); fmt.Sprint(got) != "[workloads="+b.workloads+"]" {
		t.Errorf("OUs under the root: %v", got)
	}
	if got := ous(b.workloads); fmt.Sprint(got) != "[prod="+b.prod+" dev="+b.dev+"]" {
		t.Errorf("OUs under workloads: %v", got)
	}
	if got := ous(b.prod); len(got) != 0 {
		t.Errorf("OUs under prod: %v", got)
	}
	roots, err := c.ListRoots(ctx, &organizations.ListRootsInput{})
	mustOK(t, "ListRoots", err)
	if len(roots.Roots) != 1 || aws.ToString(roots.Roots[0].Id) != o.RootID() || !strings.HasPrefix(o.RootID(), "r-") {
		t.Errorf("roots = %+v", roots.Roots)
	}

	// Accounts of one OU, in pages of 7: 7, 7, 6.
	var inProd []string
	var prodSizes []int
	p := organizations.NewListAccountsForParentPaginator(c, &organizations.ListAccountsForParentInput{ParentId: aws.String(b.prod), MaxResults: aws.Int32(7)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		mustOK(t, "ListAccountsForParent", err)
		prodSizes = append(prodSizes, len(page.Accounts))
		for _, a := range page.Accounts {
			inProd = append(inProd, aws.ToString(a.Id))
		}
	}
	sort.Strings(inProd)
	if fmt.Sprint(prodSizes) != "[7 7 6]" || inProd[0] != "100000000005" || inProd[19] != "100000000024" {
		t.Errorf("prod pages %v, accounts %v", prodSizes, inProd)
	}
	under, err := c.ListAccountsForParent(ctx, &organizations.ListAccountsForParentInput{ParentId: aws.String(o.RootID())})
	mustOK(t, "ListAccountsForParent root", err)
	if len(under.Accounts) != 6 { // the management account and 5 members
		t.Errorf("%d accounts directly under the root, want 6", len(under.Accounts))
	}

	parents := func(child string) string {
		out, err := c.ListParents(ctx, &organizations.ListParentsInput{ChildId: aws.String(child)})
		mustOK(t, "ListParents "+child, err)
		var s []string
		for _, p := range out.Parents {
			s = append(s, string(p.Type)+" "+aws.ToString(p.Id))
		}
		return strings.Join(s, ",")
	}
	for child, want := range map[string]string{
		"100000000030": "ORGANIZATIONAL_UNIT " + b.dev,
		"100000000001": "ROOT " + o.RootID(),
		b.prod:         "ORGANIZATIONAL_UNIT " + b.workloads,
		b.workloads:    "ROOT " + o.RootID(),
	} {
		if got := parents(child); got != want {
			t.Errorf("parents of %s = %s, want %s", child, got, want)
		}
	}

	tags, err := c.ListTagsForResource(ctx, &organizations.ListTagsForResourceInput{ResourceId: aws.String("100000000007")})
	mustOK(t, "ListTagsForResource", err)
	var pairs []string
	for _, tg := range tags.Tags {
		pairs = append(pairs, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
	}
	if strings.Join(pairs, ",") != "keywarden:opt-out=true,owner=team-7" {
		t.Errorf("tags of account 7 = %v", pairs)
	}
	tags, err = c.ListTagsForResource(ctx, &organizations.ListTagsForResourceInput{ResourceId: aws.String("100000000008")})
	mustOK(t, "ListTagsForResource untagged", err)
	if len(tags.Tags) != 0 {
		t.Errorf("tags of account 8 = %+v", tags.Tags)
	}

	org, err := c.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	mustOK(t, "DescribeOrganization", err)
	if g := org.Organization; aws.ToString(g.Id) != o.ID() || aws.ToString(g.MasterAccountId) != mgmtAccount ||
		aws.ToString(g.Arn) != "arn:aws:organizations::"+mgmtAccount+":organization/"+o.ID() || g.FeatureSet != orgtypes.OrganizationFeatureSetAll {
		t.Errorf("organization = %+v", g)
	}
	acct, err := c.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String("100000000044")})
	mustOK(t, "DescribeAccount", err)
	if aws.ToString(acct.Account.Name) != "acct-44" || aws.ToString(acct.Account.Email) != "100000000044@example.com" {
		t.Errorf("account 44 = %+v", acct.Account)
	}
}

func TestOrganizationsErrors(t *testing.T) {
	ctx := context.Background()
	b := newBigOrg(t)
	c := organizations.NewFromConfig(b.org.Management().SDKConfig())
	_, err := c.ListAccountsForParent(ctx, &organizations.ListAccountsForParentInput{ParentId: aws.String("ou-zzzz-zzzzzzzz")})
	wantCode(t, err, "ParentNotFoundException", 404)
	_, err = c.ListOrganizationalUnitsForParent(ctx, &organizations.ListOrganizationalUnitsForParentInput{ParentId: aws.String("r-zzzz")})
	wantCode(t, err, "ParentNotFoundException", 404)
	_, err = c.ListAccountsForParent(ctx, &organizations.ListAccountsForParentInput{ParentId: aws.String("not-a-parent")})
	wantCode(t, err, "InvalidInputException", 400)
	_, err = c.ListParents(ctx, &organizations.ListParentsInput{ChildId: aws.String("555555555555")})
	wantCode(t, err, "ChildNotFoundException", 404)
	_, err = c.ListTagsForResource(ctx, &organizations.ListTagsForResourceInput{ResourceId: aws.String("555555555555")})
	wantCode(t, err, "TargetNotFoundException", 404)
	_, err = c.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String("555555555555")})
	wantCode(t, err, "AccountNotFoundException", 404)
	for _, n := range []int32{0, 21} {
		_, err = c.ListAccounts(ctx, &organizations.ListAccountsInput{MaxResults: aws.Int32(n)})
		wantCode(t, err, "InvalidInputException", 400)
		var inv *orgtypes.InvalidInputException
		if !errorsAs(err, &inv) || inv.Reason == "" {
			t.Errorf("MaxResults %d: %v has no Reason", n, err)
		}
	}
	_, err = c.ListAccounts(ctx, &organizations.ListAccountsInput{NextToken: aws.String("garbage!")})
	wantCode(t, err, "InvalidInputException", 400)
}

func TestOrganizationsAccessByAccount(t *testing.T) {
	ctx := context.Background()
	o := newTestOrg(t, OrganizationOptions{})
	member := addAccount(t, o, MemberAccount{ID: memberAccount})
	delegate := addAccount(t, o, MemberAccount{ID: hubAccount})
	outside, err := o.AddOutsideAccount(outsideAccount)
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, "RegisterDelegatedAdministrator", o.RegisterDelegatedAdministrator(hubAccount))
	list := func(s *Server) error {
		_, err := organizations.NewFromConfig(s.SDKConfig()).ListAccounts(ctx, &organizations.ListAccountsInput{})
		return err
	}
	describe := func(s *Server) error {
		_, err := organizations.NewFromConfig(s.SDKConfig()).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
		return err
	}
	mustOK(t, "ListAccounts from the management account", list(o.Management()))
	mustOK(t, "ListAccounts from a delegated administrator", list(delegate))
	wantCode(t, list(member), "AccessDeniedException", 403)
	mustOK(t, "DescribeOrganization from a member", describe(member))
	wantCode(t, list(outside), "AWSOrganizationsNotInUseException", 404)
	wantCode(t, describe(outside), "AWSOrganizationsNotInUseException", 404)
	s := newTestServer(t, Options{})
	wantCode(t, list(s), "AWSOrganizationsNotInUseException", 404)

	// A member's role session counts as the member account.
	roleARN := mustRole(t, member, Role{Name: "reader", TrustPolicy: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + hubAccount + `"},"Action":"sts:AssumeRole"}]}`})
	out, err := assume(delegate.SDKConfig(), roleARN, "reader", "", 0, "")
	mustOK(t, "assume the member's role", err)
	_, err = organizations.NewFromConfig(sessionConfig(member.SDKConfig(), out.Credentials)).ListAccounts(ctx, &organizations.ListAccountsInput{})
	wantCode(t, err, "AccessDeniedException", 403)

	// Throttling is Organizations' TooManyRequestsException, retried.
	if err := o.Management().SetFault("organizations:*", Fault{ThrottleRate: 1, Latency: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, list(o.Management()), "TooManyRequestsException", 429)
	mustOK(t, "the delegate is not throttled", list(delegate))
}
