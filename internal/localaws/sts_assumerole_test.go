package localaws

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// hubOrg is an organization shaped like organization mode: a hub account
// whose keywarden roles (path /keywarden/) act in a member account through
// roles that trust them by aws:PrincipalArn and aws:PrincipalOrgID and
// require a source identity; plus an account outside the organization.
type hubOrg struct {
	org                *Organization
	hub, member, other *Server
	outside            *Server
	hubRoleARN         string
}

// hubUserKey signs as the hub's deploying user, which may assume the hub
// role (not a role session, so no chaining limit).
const hubUserKey = "AKIAHUBUSERHUBUSER01"

func memberTrust(orgID string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Principal":{"AWS":"arn:aws:iam::` + hubAccount + `:root"},
		"Action":["sts:AssumeRole","sts:SetSourceIdentity"],
		"Condition":{
			"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::` + hubAccount + `:role/keywarden/*"},
			"StringEquals":{"aws:PrincipalOrgID":"` + orgID + `"},
			"Null":{"sts:SourceIdentity":"false"}}}]}`
}

func newHubOrg(t testing.TB) *hubOrg {
	t.Helper()
	o := newTestOrg(t, OrganizationOptions{})
	h := &hubOrg{org: o}
	h.hub = addAccount(t, o, MemberAccount{ID: hubAccount, Name: "security"})
	h.member = addAccount(t, o, MemberAccount{ID: memberAccount, Name: "payments"})
	h.other = addAccount(t, o, MemberAccount{ID: member2Account, Name: "data"})
	outside, err := o.AddOutsideAccount(outsideAccount)
	if err != nil {
		t.Fatal(err)
	}
	h.outside = outside
	seed(t, h.hub, Fixture{Users: []FixtureUser{{Name: "deployer"}}, Keys: []FixtureKey{{User: "deployer", ID: hubUserKey}}})
	hubTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + hubAccount + `"},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}]}`
	h.hubRoleARN = mustRole(t, h.hub, Role{Name: "hub-respond", Path: "/keywarden/", TrustPolicy: hubTrust, MaxSessionDuration: 4 * time.Hour})
	mustRole(t, h.hub, Role{Name: "not-keywarden", Path: "/other/", TrustPolicy: hubTrust})
	mustRole(t, h.member, Role{Name: "respond", TrustPolicy: memberTrust(o.ID()), MaxSessionDuration: 4 * time.Hour})
	return h
}

func mustRole(t testing.TB, s *Server, r Role) string {
	t.Helper()
	arn, err := s.CreateRole(r)
	if err != nil {
		t.Fatalf("CreateRole %s: %v", r.Name, err)
	}
	return arn
}

// assume calls AssumeRole with cfg's credentials.
func assume(cfg aws.Config, roleARN, session, sourceIdentity string, seconds int32, externalID string) (*sts.AssumeRoleOutput, error) {
	in := &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String(session)}
	if sourceIdentity != "" {
		in.SourceIdentity = aws.String(sourceIdentity)
	}
	if seconds != 0 {
		in.DurationSeconds = aws.Int32(seconds)
	}
	if externalID != "" {
		in.ExternalId = aws.String(externalID)
	}
	return sts.NewFromConfig(cfg).AssumeRole(context.Background(), in)
}

// hubSession is a session of the hub's keywarden role, with sourceIdentity.
func (h *hubOrg) hubSession(t *testing.T, sourceIdentity string) aws.Config {
	t.Helper()
	out, err := assume(configAs(h.hub, hubUserKey), h.hubRoleARN, "exec-1", sourceIdentity, 0, "")
	mustOK(t, "assume the hub role", err)
	return sessionConfig(h.hub.SDKConfig(), out.Credentials)
}

func TestAssumeRoleIntoMemberAccount(t *testing.T) {
	ctx := context.Background()
	h := newHubOrg(t)
	out, err := assume(h.hubSession(t, ""), "arn:aws:iam::"+memberAccount+":role/respond", "exposed-222-alice", "exposed-222-alice", 0, "")
	mustOK(t, "AssumeRole", err)
	wantARN := "arn:aws:sts::" + memberAccount + ":assumed-role/respond/exposed-222-alice"
	c := out.Credentials
	switch {
	case aws.ToString(out.AssumedRoleUser.Arn) != wantARN:
		t.Errorf("assumed role user %s, want %s", aws.ToString(out.AssumedRoleUser.Arn), wantARN)
	case !strings.HasPrefix(aws.ToString(out.AssumedRoleUser.AssumedRoleId), "AROA") || !strings.HasSuffix(aws.ToString(out.AssumedRoleUser.AssumedRoleId), ":exposed-222-alice"):
		t.Errorf("assumed role id %s", aws.ToString(out.AssumedRoleUser.AssumedRoleId))
	case !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIA") || aws.ToString(c.SecretAccessKey) == "" || aws.ToString(c.SessionToken) == "":
		t.Errorf("credentials %s / secret set %v / token set %v", aws.ToString(c.AccessKeyId), c.SecretAccessKey != nil, c.SessionToken != nil)
	case !c.Expiration.Equal(testNow.Add(time.Hour)):
		t.Errorf("expiration %v, want %v (chained: one hour)", c.Expiration, testNow.Add(time.Hour))
	case aws.ToString(out.SourceIdentity) != "exposed-222-alice":
		t.Errorf("source identity %q", aws.ToString(out.SourceIdentity))
	}

	// The credentials act in the member account.
	cfg := sessionConfig(h.member.SDKConfig(), c)
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	mustOK(t, "GetCallerIdentity", err)
	if aws.ToString(id.Arn) != wantARN || aws.ToString(id.Account) != memberAccount {
		t.Errorf("caller %s in %s, want %s in %s", aws.ToString(id.Arn), aws.ToString(id.Account), wantARN, memberAccount)
	}
	_, err = iam.NewFromConfig(cfg).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("made-by-session")})
	mustOK(t, "CreateUser with the session", err)
	if got := userNames(t, h.member.SDKConfig()); strings.Join(got, ",") != "made-by-session" {
		t.Errorf("member users = %v", got)
	}
	if got := userNames(t, h.hub.SDKConfig()); strings.Join(got, ",") != "deployer" {
		t.Errorf("hub users = %v; the session must act in the member account only", got)
	}
	// CloudTrail names the session as an assumed role.
	events, err := cloudtrail.NewFromConfig(h.member.SDKConfig()).LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	mustOK(t, "LookupEvents", err)
	if len(events.Events) != 1 || aws.ToString(events.Events[0].Username) != "exposed-222-alice" ||
		!strings.Contains(aws.ToString(events.Events[0].CloudTrailEvent), `"type":"AssumedRole"`) {
		t.Errorf("member CloudTrail events = %+v", events.Events)
	}
	// A role session is no user: IAM wants the UserName it acts on.
	_, err = iam.NewFromConfig(cfg).ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	wantCode(t, err, "ValidationError", 400)

	// The token must match the key, and the session ends when it expires.
	forged := *c
	forged.SessionToken = aws.String("forged")
	_, err = sts.NewFromConfig(sessionConfig(h.member.SDKConfig(), &forged)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId", 403)
	h.org.Advance(time.Hour)
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "ExpiredToken", 403)
}

func TestAssumeRoleRefusesTrustMismatches(t *testing.T) {
	h := newHubOrg(t)
	orgID := h.org.ID()
	allow := func(principal, extra string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}` + extra + `]}`
	}
	hubRoot := "arn:aws:iam::" + hubAccount + ":root"
	roles := []Role{
		{Name: "trusts-other-account", TrustPolicy: allow("arn:aws:iam::"+member2Account+":root", "")},
		{Name: "trusts-other-path", TrustPolicy: strings.ReplaceAll(memberTrust(orgID), "role/keywarden/*", "role/keywarden-ops/*")},
		{Name: "trusts-other-org", TrustPolicy: strings.ReplaceAll(memberTrust(orgID), orgID, "o-zzzzzzzzzz")},
		{Name: "assume-only", TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + hubRoot + `"},"Action":"sts:AssumeRole"}]}`},
		{Name: "denies-hub-role", TrustPolicy: allow(hubRoot, `,{"Effect":"Deny","Principal":{"AWS":"`+hubRoot+`"},"Action":"sts:AssumeRole","Condition":{"ArnEquals":{"aws:PrincipalArn":"`+h.hubRoleARN+`"}}}`)},
		{Name: "trusts-hub-role", TrustPolicy: allow(h.hubRoleARN, "")},
		{Name: "wants-external-id", TrustPolicy: ""},
		{Name: "trusts-account-of-org", TrustPolicy: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["` + outsideAccount + `","` + hubAccount + `"]},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"` + orgID + `","aws:PrincipalAccount":["` + hubAccount + `","` + outsideAccount + `"]}}}]}`},
	}
	roles[6].TrustPolicy = `{"Statement":{"Effect":"Allow","Principal":{"AWS":"` + hubRoot + `"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"ticket-42"}}}}`
	for _, r := range roles {
		mustRole(t, h.member, r)
	}
	outsideTrust := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + outsideAccount + `"},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}]}`
	outsideRole := mustRole(t, h.outside, Role{Name: "outside-keywarden", Path: "/keywarden/", TrustPolicy: outsideTrust})
	outsideOut, err := assume(h.outside.SDKConfig(), outsideRole, "s1", "", 0, "")
	mustOK(t, "assume the outside account's role", err)
	outsideSession := sessionConfig(h.outside.SDKConfig(), outsideOut.Credentials)
	otherPathOut, err := assume(configAs(h.hub, hubUserKey), "arn:aws:iam::"+hubAccount+":role/other/not-keywarden", "s1", "", 0, "")
	mustOK(t, "assume the hub's non-keywarden role", err)
	otherPath := sessionConfig(h.hub.SDKConfig(), otherPathOut.Credentials)

	callers := map[string]struct {
		cfg aws.Config
		arn string
	}{
		"hub":        {h.hubSession(t, ""), "arn:aws:sts::" + hubAccount + ":assumed-role/hub-respond/exec-1"},
		"other-path": {otherPath, "arn:aws:sts::" + hubAccount + ":assumed-role/not-keywarden/s1"},
		"outside":    {outsideSession, "arn:aws:sts::" + outsideAccount + ":assumed-role/outside-keywarden/s1"},
	}
	role := func(name string) string { return "arn:aws:iam::" + memberAccount + ":role/" + name }
	for _, tc := range []struct {
		name       string
		caller     string // hub, other-path (a hub role outside /keywarden/) or outside
		roleARN    string
		sourceID   string
		externalID string
		want       string // "ok" or the AccessDenied action
	}{
		{"matching trust", "hub", role("respond"), "exec-1", "", "ok"},
		{"role absent", "hub", role("nobody"), "exec-1", "", "sts:AssumeRole"},
		{"role ARN with the wrong path", "hub", "arn:aws:iam::" + memberAccount + ":role/keywarden/respond", "exec-1", "", "sts:AssumeRole"},
		{"account not emulated", "hub", "arn:aws:iam::555555555555:role/respond", "exec-1", "", "sts:AssumeRole"},
		{"wrong principal account", "hub", role("trusts-other-account"), "exec-1", "", "sts:AssumeRole"},
		{"wrong PrincipalArn pattern", "hub", role("trusts-other-path"), "exec-1", "", "sts:AssumeRole"},
		{"caller role outside the pattern", "other-path", role("respond"), "exec-1", "", "sts:AssumeRole"},
		{"wrong org id", "hub", role("trusts-other-org"), "exec-1", "", "sts:AssumeRole"},
		{"caller outside the organization", "outside", role("respond"), "exec-1", "", "sts:AssumeRole"},
		{"outside account by PrincipalAccount but no org", "outside", role("trusts-account-of-org"), "", "", "sts:AssumeRole"},
		{"org account by PrincipalAccount", "hub", role("trusts-account-of-org"), "", "", "ok"},
		{"missing source identity", "hub", role("respond"), "", "", "sts:AssumeRole"},
		{"source identity without sts:SetSourceIdentity", "hub", role("assume-only"), "exec-1", "", "sts:SetSourceIdentity"},
		{"no source identity, sts:AssumeRole only", "hub", role("assume-only"), "", "", "ok"},
		{"explicit deny", "hub", role("denies-hub-role"), "exec-1", "", "sts:AssumeRole"},
		{"role ARN principal", "hub", role("trusts-hub-role"), "exec-1", "", "ok"},
		{"role ARN principal, other role", "other-path", role("trusts-hub-role"), "", "", "sts:AssumeRole"},
		{"external id given", "hub", role("wants-external-id"), "", "ticket-42", "ok"},
		{"external id wrong", "hub", role("wants-external-id"), "", "ticket-43", "sts:AssumeRole"},
		{"external id missing", "hub", role("wants-external-id"), "", "", "sts:AssumeRole"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			caller := callers[tc.caller]
			_, err := assume(caller.cfg, tc.roleARN, "exec-1", tc.sourceID, 0, tc.externalID)
			if tc.want == "ok" {
				mustOK(t, "AssumeRole", err)
				return
			}
			wantCode(t, err, "AccessDenied", 403)
			want := "User: " + caller.arn + " is not authorized to perform: " + tc.want + " on resource: " + tc.roleARN
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		})
	}
}

func TestAssumeRoleChainingAndSourceIdentity(t *testing.T) {
	h := newHubOrg(t)
	respond := "arn:aws:iam::" + memberAccount + ":role/respond"
	user := configAs(h.hub, hubUserKey)

	// Not chained: up to the role's maximum (4h).
	out, err := assume(user, h.hubRoleARN, "long", "", 4*3600, "")
	mustOK(t, "four hours from a user", err)
	if !out.Credentials.Expiration.Equal(testNow.Add(4 * time.Hour)) {
		t.Errorf("expiration %v, want four hours", out.Credentials.Expiration)
	}
	_, err = assume(user, h.hubRoleARN, "longer", "", 4*3600+1, "")
	wantCode(t, err, "ValidationError", 400)
	if err != nil && !strings.Contains(err.Error(), "MaxSessionDuration") {
		t.Errorf("error %v does not name MaxSessionDuration", err)
	}

	// Chained: at most one hour, whatever the role allows.
	hub := h.hubSession(t, "exec-1")
	_, err = assume(hub, respond, "chained", "", 3601, "")
	wantCode(t, err, "ValidationError", 400)
	if err != nil && !strings.Contains(err.Error(), "role chaining") {
		t.Errorf("error %v does not name role chaining", err)
	}
	_, err = assume(hub, respond, "chained", "", 3600, "")
	mustOK(t, "one hour chained", err)

	// A source identity set on the hub session carries over unchanged.
	out, err = assume(hub, respond, "carried", "", 0, "")
	mustOK(t, "chain without naming the source identity", err)
	if got := aws.ToString(out.SourceIdentity); got != "exec-1" {
		t.Errorf("carried source identity %q, want exec-1", got)
	}
	_, err = assume(hub, respond, "same", "exec-1", 0, "")
	mustOK(t, "chain naming the same source identity", err)
	_, err = assume(hub, respond, "changed", "exec-2", 0, "")
	wantCode(t, err, "AccessDenied", 403)
	// ...and down a further hop.
	member := sessionConfig(h.member.SDKConfig(), out.Credentials)
	mustRole(t, h.other, Role{Name: "from-member", TrustPolicy: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + memberAccount + `"},"Action":["sts:AssumeRole","sts:SetSourceIdentity"],"Condition":{"StringLike":{"sts:SourceIdentity":"exec-*"}}}]}`})
	out, err = assume(member, "arn:aws:iam::"+member2Account+":role/from-member", "hop2", "", 0, "")
	mustOK(t, "second hop", err)
	if got := aws.ToString(out.SourceIdentity); got != "exec-1" {
		t.Errorf("second hop source identity %q, want exec-1", got)
	}
	_, err = assume(hub, h.hubRoleARN, "back-to-hub", "", 0, "")
	mustOK(t, "chain within the hub", err)
}

func TestAssumeRoleValidation(t *testing.T) {
	h := newHubOrg(t)
	user := configAs(h.hub, hubUserKey)
	for _, tc := range []struct {
		name, session, sourceID string
		seconds                 int32
		field                   string
	}{
		{"session name too short", "a", "", 0, "roleSessionName"},
		{"session name too long", strings.Repeat("a", 65), "", 0, "roleSessionName"},
		{"session name with a space", "exec 1", "", 0, "roleSessionName"},
		{"session name with a slash", "exec/1", "", 0, "roleSessionName"},
		{"duration below 900", "ok-name", "", 899, "durationSeconds"},
		{"duration above 12 hours", "ok-name", "", 43201, "durationSeconds"},
		{"source identity too short", "ok-name", "x", 0, "sourceIdentity"},
		{"source identity with a colon", "ok-name", "exec:1", 0, "sourceIdentity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := assume(user, h.hubRoleARN, tc.session, tc.sourceID, tc.seconds, "")
			wantCode(t, err, "ValidationError", 400)
			if !strings.Contains(err.Error(), "'"+tc.field+"'") {
				t.Errorf("error %v does not name %s", err, tc.field)
			}
		})
	}
	for _, ok := range []string{"ab", strings.Repeat("a", 64), "a+b=c,d.e@f-g_h"} {
		_, err := assume(user, h.hubRoleARN, ok, "", 900, "")
		mustOK(t, "session name "+ok, err)
	}
	_, err := sts.NewFromConfig(user).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(h.hubRoleARN), RoleSessionName: aws.String("tagged"), Tags: []ststypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}},
	})
	wantCode(t, err, "ValidationError", 400) // session tags are not emulated: refused, not ignored
}

func TestAssumeRoleFaultsAndGetRole(t *testing.T) {
	ctx := context.Background()
	h := newHubOrg(t)
	if err := h.hub.SetFault("sts:AssumeRole", Fault{ErrorCode: "AccessDenied"}); err != nil {
		t.Fatal(err)
	}
	_, err := assume(configAs(h.hub, hubUserKey), h.hubRoleARN, "s1", "", 0, "")
	wantCode(t, err, "AccessDenied", 403)
	if calls := callsTo(h.hub, "sts", "AssumeRole"); len(calls) != 1 || !calls[0].Injected {
		t.Errorf("hub AssumeRole calls = %+v", calls)
	}
	// The fault is the hub's: the outside account's own calls are unaffected.
	outsideRole := mustRole(t, h.outside, Role{Name: "self", TrustPolicy: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + outsideAccount + `"},"Action":"sts:AssumeRole"}]}`})
	_, err = assume(h.outside.SDKConfig(), outsideRole, "s1", "", 0, "")
	mustOK(t, "AssumeRole in another account", err)

	got, err := iam.NewFromConfig(h.hub.SDKConfig()).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("hub-respond")})
	mustOK(t, "GetRole", err)
	r := got.Role
	if aws.ToString(r.Arn) != h.hubRoleARN || aws.ToString(r.Path) != "/keywarden/" || aws.ToInt32(r.MaxSessionDuration) != 4*3600 ||
		!strings.Contains(aws.ToString(r.AssumeRolePolicyDocument), "sts%3AAssumeRole") || !strings.HasPrefix(aws.ToString(r.RoleId), "AROA") {
		t.Errorf("GetRole = %+v", r)
	}
	_, err = iam.NewFromConfig(h.member.SDKConfig()).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("hub-respond")})
	wantCode(t, err, "NoSuchEntity", 404)
}

// A Server of its own answers AssumeRole for its own roles.
func TestAssumeRoleOnAServerOfItsOwn(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	arn := mustRole(t, s, Role{Name: "ops", TrustPolicy: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + DefaultAccountID + `"},"Action":"sts:AssumeRole"}]}`})
	out, err := assume(s.SDKConfig(), arn, "local", "", 0, "")
	mustOK(t, "AssumeRole", err)
	id, err := sts.NewFromConfig(sessionConfig(s.SDKConfig(), out.Credentials)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	mustOK(t, "GetCallerIdentity", err)
	if aws.ToString(id.Arn) != "arn:aws:sts::"+DefaultAccountID+":assumed-role/ops/local" {
		t.Errorf("caller %s", aws.ToString(id.Arn))
	}
	_, err = assume(s.SDKConfig(), "arn:aws:iam::"+hubAccount+":role/ops", "local", "", 0, "")
	wantCode(t, err, "AccessDenied", 403)
}

// Like IAM, CreateRole refuses a trust policy naming a role or user that
// does not exist in an account the emulator holds: the "Invalid principal"
// that breaks a roll-out in the wrong order.
func TestCreateRoleRefusesMissingPrincipals(t *testing.T) {
	h := newHubOrg(t)
	future := "arn:aws:iam::" + hubAccount + ":role/keywarden/hub-rotate"
	trust := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + future + `"},"Action":"sts:AssumeRole"}]}`
	if _, err := h.member.CreateRole(Role{Name: "rotate", TrustPolicy: trust}); err == nil || !strings.Contains(err.Error(), "Invalid principal") {
		t.Fatalf("CreateRole trusting a missing role: %v", err)
	}
	userTrust := strings.ReplaceAll(trust, future, "arn:aws:iam::"+hubAccount+":user/nobody")
	if _, err := h.member.CreateRole(Role{Name: "rotate", TrustPolicy: userTrust}); err == nil {
		t.Fatal("CreateRole trusting a missing user succeeded")
	}
	wrongPath := strings.ReplaceAll(trust, future, "arn:aws:iam::"+hubAccount+":role/hub-respond")
	if _, err := h.member.CreateRole(Role{Name: "rotate", TrustPolicy: wrongPath}); err == nil {
		t.Fatal("CreateRole trusting a role under the wrong path succeeded")
	}
	mustRole(t, h.hub, Role{Name: "hub-rotate", Path: "/keywarden/", TrustPolicy: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + hubAccount + `"},"Action":"sts:AssumeRole"}]}`})
	mustRole(t, h.member, Role{Name: "rotate", TrustPolicy: trust})
	mustRole(t, h.member, Role{Name: "by-user", TrustPolicy: strings.ReplaceAll(trust, future, "arn:aws:iam::"+hubAccount+":user/deployer")})
	// An account the emulator does not hold cannot be checked: accepted.
	mustRole(t, h.member, Role{Name: "elsewhere", TrustPolicy: strings.ReplaceAll(trust, future, "arn:aws:iam::555555555555:role/x")})
}

// The member roles' trust as infra/member.go has the CDK write it: one
// statement per action (sts:AssumeRole from AssumedBy, sts:SetSourceIdentity
// added to the assume-role policy), each with the same conditions.
func TestAssumeRoleWithTheMemberTemplatesTrustShape(t *testing.T) {
	h := newHubOrg(t)
	cond := `"Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::` + hubAccount + `:role/keywarden/*"},"StringEquals":{"aws:PrincipalOrgID":"` + h.org.ID() + `"},"Null":{"sts:SourceIdentity":"false"}}`
	principal := `"Principal":{"AWS":"arn:aws:iam::` + hubAccount + `:root"}`
	trust := `{"Statement":[{"Action":"sts:AssumeRole",` + cond + `,"Effect":"Allow",` + principal + `},{"Action":"sts:SetSourceIdentity",` + cond + `,"Effect":"Allow",` + principal + `}],"Version":"2012-10-17"}`
	arn := mustRole(t, h.member, Role{Name: "keywarden-member-read", TrustPolicy: trust})
	hub := h.hubSession(t, "")
	_, err := assume(hub, arn, "exposed-222-alice", "exposed-222-alice", 0, "")
	mustOK(t, "AssumeRole with a source identity", err)
	_, err = assume(hub, arn, "exposed-222-alice", "", 0, "")
	wantCode(t, err, "AccessDenied", 403)
}
