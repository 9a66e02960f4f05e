package localaws

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// Accounts of the organizations these tests build.
const (
	mgmtAccount    = "999999999999"
	hubAccount     = "111111111111"
	memberAccount  = "222222222222"
	member2Account = "333333333333"
	outsideAccount = "444444444444"
)

// newTestOrg starts an organization at testNow and closes it with the test.
func newTestOrg(t testing.TB, opts OrganizationOptions) *Organization {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	if opts.ManagementAccountID == "" {
		opts.ManagementAccountID = mgmtAccount
	}
	o, err := NewOrganization(opts)
	if err != nil {
		t.Fatalf("NewOrganization: %v", err)
	}
	t.Cleanup(func() {
		if err := o.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return o
}

func addAccount(t testing.TB, o *Organization, a MemberAccount) *Server {
	t.Helper()
	s, err := o.AddAccount(a)
	if err != nil {
		t.Fatalf("AddAccount %s: %v", a.ID, err)
	}
	return s
}

// sessionConfig is base signed with AssumeRole's credentials.
func sessionConfig(base aws.Config, c *ststypes.Credentials) aws.Config {
	cfg := base.Copy()
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey), SessionToken: aws.ToString(c.SessionToken)}, nil
	})
	return cfg
}

func userNames(t *testing.T, cfg aws.Config) []string {
	t.Helper()
	out, err := iam.NewFromConfig(cfg).ListUsers(context.Background(), &iam.ListUsersInput{})
	mustOK(t, "ListUsers", err)
	var names []string
	for _, u := range out.Users {
		names = append(names, aws.ToString(u.UserName))
	}
	return names
}

func TestOrganizationAccountsAreIsolated(t *testing.T) {
	ctx := context.Background()
	o := newTestOrg(t, OrganizationOptions{})
	a := addAccount(t, o, MemberAccount{ID: memberAccount})
	b := addAccount(t, o, MemberAccount{ID: member2Account})
	seed(t, b, Fixture{Users: []FixtureUser{{Name: "bob"}}, Keys: []FixtureKey{{User: "bob", ID: "AKIABOBBOBBOBBOB0001"}}})

	// Each account's root credentials act in that account.
	for _, s := range []*Server{o.Management(), a, b} {
		id, err := sts.NewFromConfig(s.SDKConfig()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		mustOK(t, "GetCallerIdentity", err)
		if aws.ToString(id.Account) != s.AccountID() || aws.ToString(id.Arn) != "arn:aws:iam::"+s.AccountID()+":root" {
			t.Errorf("root of %s is %s in %s", s.AccountID(), aws.ToString(id.Arn), aws.ToString(id.Account))
		}
	}

	// A user and key created in one account exist there only.
	c := iam.NewFromConfig(a.SDKConfig())
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")})
	mustOK(t, "CreateUser", err)
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	mustOK(t, "CreateAccessKey", err)
	keyID := aws.ToString(key.AccessKey.AccessKeyId)
	if got := userNames(t, a.SDKConfig()); strings.Join(got, ",") != "alice" {
		t.Errorf("users of %s = %v, want alice", memberAccount, got)
	}
	for _, s := range []*Server{o.Management(), b} {
		if _, ok := s.AccessKey(keyID); ok {
			t.Errorf("key %s of %s is also in %s", keyID, memberAccount, s.AccountID())
		}
		_, err := iam.NewFromConfig(s.SDKConfig()).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
		wantCode(t, err, "NoSuchEntity", 404)
	}
	if got := userNames(t, b.SDKConfig()); strings.Join(got, ",") != "bob" {
		t.Errorf("users of %s = %v, want bob (seeded)", member2Account, got)
	}

	// Keys route to their account: alice's new key and bob's seeded one.
	for _, tc := range []struct {
		s          *Server
		keyID, arn string
	}{
		{a, keyID, "arn:aws:iam::" + memberAccount + ":user/alice"},
		{b, "AKIABOBBOBBOBBOB0001", "arn:aws:iam::" + member2Account + ":user/bob"},
	} {
		id, err := sts.NewFromConfig(configAs(tc.s, tc.keyID)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		mustOK(t, "GetCallerIdentity as "+tc.keyID, err)
		if aws.ToString(id.Arn) != tc.arn {
			t.Errorf("key %s is %s, want %s", tc.keyID, aws.ToString(id.Arn), tc.arn)
		}
	}
	// Calls are logged by the account that served them.
	if n := len(callsTo(a, "iam", "CreateUser")); n != 1 {
		t.Errorf("%s logged %d CreateUser calls, want 1", memberAccount, n)
	}
	if n := len(callsTo(b, "iam", "CreateUser")); n != 0 {
		t.Errorf("%s logged %d CreateUser calls, want 0", member2Account, n)
	}

	// A fixture for another account id, or a key id another account holds,
	// is refused.
	if err := b.Seed(Fixture{AccountID: memberAccount}); err == nil {
		t.Error("seeding account 333… with a fixture of 222… succeeded")
	}
	if err := a.Seed(Fixture{Users: []FixtureUser{{Name: "eve"}}, Keys: []FixtureKey{{User: "eve", ID: "AKIABOBBOBBOBBOB0001"}}}); err == nil {
		t.Error("seeding a key id another account holds succeeded")
	}
}

func TestOrganizationRefusesUnknownKeys(t *testing.T) {
	ctx := context.Background()
	o := newTestOrg(t, OrganizationOptions{})
	mgmt := o.Management()

	_, err := sts.NewFromConfig(configAs(mgmt, "AKIANOBODYNOBODY0001")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId", 403)
	_, err = organizations.NewFromConfig(configAs(mgmt, "AKIANOBODYNOBODY0001")).ListAccounts(ctx, &organizations.ListAccountsInput{})
	wantCode(t, err, "UnrecognizedClientException", 400)
	// TestAccessKeyID acts as root on a Server of its own, not here.
	_, err = iam.NewFromConfig(configAs(mgmt, TestAccessKeyID)).ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "InvalidClientTokenId", 403)

	// A deleted key is refused by its account, as before.
	seed(t, mgmt, Fixture{Users: []FixtureUser{{Name: "carol"}}, Keys: []FixtureKey{{User: "carol", ID: "AKIACAROLCAROLCAROL1"}}})
	_, err = iam.NewFromConfig(mgmt.SDKConfig()).DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("carol"), AccessKeyId: aws.String("AKIACAROLCAROLCAROL1")})
	mustOK(t, "DeleteAccessKey", err)
	_, err = sts.NewFromConfig(configAs(mgmt, "AKIACAROLCAROLCAROL1")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId", 403)
}

func TestOrganizationFaultsPerAccount(t *testing.T) {
	ctx := context.Background()
	o := newTestOrg(t, OrganizationOptions{})
	a := addAccount(t, o, MemberAccount{ID: memberAccount})
	if err := a.SetFault("iam:ListUsers", Fault{ErrorCode: "AccessDenied"}); err != nil {
		t.Fatal(err)
	}
	_, err := iam.NewFromConfig(a.SDKConfig()).ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "AccessDenied", 403)
	_, err = iam.NewFromConfig(o.Management().SDKConfig()).ListUsers(ctx, &iam.ListUsersInput{})
	mustOK(t, "ListUsers in the management account", err)

	if err := o.SetFault("organizations:ListAccounts", Fault{ThrottleRate: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = organizations.NewFromConfig(o.Management().SDKConfig()).ListAccounts(ctx, &organizations.ListAccountsInput{})
	wantCode(t, err, "TooManyRequestsException", 429)
	if calls := callsTo(o.Management(), "organizations", "ListAccounts"); len(calls) < 2 || !calls[0].Injected {
		t.Errorf("throttled ListAccounts calls = %+v; want retried injected throttles", calls)
	}
	if err := o.SetFault("organizations:ListAccounts", Fault{}); err != nil {
		t.Fatal(err)
	}
	_, err = organizations.NewFromConfig(o.Management().SDKConfig()).ListAccounts(ctx, &organizations.ListAccountsInput{})
	mustOK(t, "ListAccounts after the fault is cleared", err)
}

func TestOrganizationLatencyPerService(t *testing.T) {
	ctx := context.Background()
	o := newTestOrg(t, OrganizationOptions{})
	if err := o.SetFault("sts:*", Fault{Latency: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	cfg := o.Management().SDKConfig()
	start := time.Now()
	_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	mustOK(t, "GetCallerIdentity", err)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("STS call took %s with 50ms latency injected", d)
	}
	start = time.Now()
	_, err = iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{})
	mustOK(t, "ListUsers", err)
	if d := time.Since(start); d >= 50*time.Millisecond {
		t.Errorf("IAM call took %s though only STS is slowed", d)
	}
}

func TestOrganizationSetupErrors(t *testing.T) {
	o := newTestOrg(t, OrganizationOptions{})
	for name, err := range map[string]error{
		"duplicate account": func() error { _, err := o.AddAccount(MemberAccount{ID: mgmtAccount}); return err }(),
		"bad account id":    func() error { _, err := o.AddAccount(MemberAccount{ID: "12"}); return err }(),
		"bad status":        func() error { _, err := o.AddAccount(MemberAccount{ID: memberAccount, Status: "CLOSED"}); return err }(),
		"missing parent": func() error {
			_, err := o.AddAccount(MemberAccount{ID: member2Account, Parent: "ou-abcd-12345678"})
			return err
		}(),
		"OU under nothing":  func() error { _, err := o.AddOU("ou-abcd-12345678", "x"); return err }(),
		"delegate mgmt":     o.RegisterDelegatedAdministrator(mgmtAccount),
		"delegate stranger": o.RegisterDelegatedAdministrator(outsideAccount),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if ids := o.AccountIDs(); fmt.Sprint(ids) != "["+mgmtAccount+"]" {
		t.Errorf("accounts after failed additions = %v", ids)
	}
}

// Calls that take an account's lock and the Organization's in turn
// (AssumeRole into the caller's own account and another, CreateAccessKey,
// Organizations reads) run concurrently without deadlock or race.
func TestOrganizationConcurrentCalls(t *testing.T) {
	ctx := context.Background()
	h := newHubOrg(t)
	self := mustRole(t, h.member, Role{Name: "self", TrustPolicy: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + memberAccount + `"},"Action":"sts:AssumeRole"}]}`})
	seed(t, h.member, Fixture{Users: []FixtureUser{{Name: "busy-2"}, {Name: "busy-6"}, {Name: "busy-10"}, {Name: "busy-14"}}})
	hub := h.hubSession(t, "")
	errs := make(chan error, 64)
	for i := range 16 {
		go func() {
			var err error
			switch i % 4 {
			case 0:
				_, err = assume(hub, "arn:aws:iam::"+memberAccount+":role/respond", "conc", "exec-1", 0, "")
			case 1:
				_, err = assume(h.member.SDKConfig(), self, "conc", "", 0, "")
			case 2:
				var out *iam.CreateAccessKeyOutput
				out, err = iam.NewFromConfig(h.member.SDKConfig()).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(fmt.Sprint("busy-", i))})
				if err == nil {
					_, err = iam.NewFromConfig(h.member.SDKConfig()).DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(fmt.Sprint("busy-", i)), AccessKeyId: out.AccessKey.AccessKeyId})
				}
			case 3:
				_, err = organizations.NewFromConfig(h.org.Management().SDKConfig()).ListAccounts(ctx, &organizations.ListAccountsInput{})
			}
			errs <- err
		}()
	}
	for range 16 {
		select {
		case err := <-errs:
			mustOK(t, "concurrent call", err)
		case <-time.After(20 * time.Second):
			t.Fatal("concurrent calls did not finish: deadlock?")
		}
	}
}

// TagAccount sets an account's tags as TagResource would: what
// ListTagsForResource then answers.
func TestOrganizationTagAccount(t *testing.T) {
	o := newTestOrg(t, OrganizationOptions{})
	hub := addAccount(t, o, MemberAccount{ID: hubAccount, Tags: map[string]string{"team": "security"}})
	if err := o.RegisterDelegatedAdministrator(hubAccount); err != nil {
		t.Fatal(err)
	}
	if err := o.TagAccount(hubAccount, map[string]string{"keywarden:opt-out": "true", "team": "secops"}); err != nil {
		t.Fatal(err)
	}
	out, err := organizations.NewFromConfig(hub.SDKConfig()).ListTagsForResource(context.Background(), &organizations.ListTagsForResourceInput{ResourceId: aws.String(hubAccount)})
	mustOK(t, "ListTagsForResource", err)
	var got []string
	for _, tg := range out.Tags {
		got = append(got, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
	}
	if strings.Join(got, ",") != "keywarden:opt-out=true,team=secops" {
		t.Errorf("tags %v", got)
	}
	if err := o.TagAccount(outsideAccount, map[string]string{"a": "b"}); err == nil {
		t.Error("tagging an account outside the organization worked")
	}
	if err := o.TagAccount(hubAccount, map[string]string{"": "y"}); err == nil {
		t.Error("an empty tag key was accepted")
	}
}
