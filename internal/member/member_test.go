package member_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/step"
)

const (
	hubAccount = "111111111111"
	accountA   = "222222222222" // every member role
	accountB   = "333333333333" // no respond role
	// deployerKey signs as the hub's deploying user, who may assume the
	// hub's roles (as Lambda assumes a function's role).
	deployerKey = "AKIAHUBDEPLOYERKEY01"
	execution   = "exposed-222222222222-alice-AKIAALICEALICEALICE1"
)

var now = time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC)

// hubOrg is a hub and two members as organization mode deploys them: the
// member roles with the member template's trust, a user in each account.
type hubOrg struct {
	org          *localaws.Organization
	hub, a, b    *localaws.Server
	lambda       aws.Config // a session of a hub role under /keywarden/
	outsidePath  aws.Config // a session of a hub role under /other/
	memberTrusts string     // where the members' trust came from
}

func newHubOrg(t *testing.T) *hubOrg {
	t.Helper()
	org, err := localaws.NewOrganization(localaws.OrganizationOptions{ManagementAccountID: "999999999999", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = org.Close() })
	h := &hubOrg{org: org}
	add := func(id, name, user string) *localaws.Server {
		s, err := org.AddAccount(localaws.MemberAccount{ID: id, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		f := localaws.Fixture{Users: []localaws.FixtureUser{{Name: user}}, Keys: []localaws.FixtureKey{{User: user}}}
		if id == hubAccount {
			f.Keys[0].ID = deployerKey
		}
		if err := s.Seed(f); err != nil {
			t.Fatal(err)
		}
		return s
	}
	h.hub, h.a, h.b = add(hubAccount, "security", "deployer"), add(accountA, "payments", "alice"), add(accountB, "data", "bob")

	hubTrust := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + hubAccount + `"},"Action":"sts:AssumeRole"}]}`
	h.lambda = h.roleSession(t, mustRole(t, h.hub, localaws.Role{Name: "keywarden-act", Path: "/keywarden/", TrustPolicy: hubTrust}))
	h.outsidePath = h.roleSession(t, mustRole(t, h.hub, localaws.Role{Name: "ops", Path: "/other/", TrustPolicy: hubTrust}))

	trusts, source := memberTrusts(t, org.ID())
	h.memberTrusts = source
	for _, name := range []string{member.ReadRole, member.RespondRole, member.RotateRole} {
		mustRole(t, h.a, localaws.Role{Name: name, TrustPolicy: trusts[name]})
		if name != member.RespondRole {
			mustRole(t, h.b, localaws.Role{Name: name, TrustPolicy: trusts[name]})
		}
	}
	return h
}

// roleSession is a session of a hub role, as a Lambda function's: its
// AssumeRole into a member is chained.
func (h *hubOrg) roleSession(t *testing.T, roleARN string) aws.Config {
	t.Helper()
	cfg := h.hub.SDKConfig()
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: deployerKey, SecretAccessKey: "any"}, nil
	})
	out, err := sts.NewFromConfig(cfg).AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("function")})
	if err != nil {
		t.Fatalf("assume %s: %v", roleARN, err)
	}
	return withSession(h.hub.SDKConfig(), out.Credentials)
}

func withSession(base aws.Config, c *ststypes.Credentials) aws.Config {
	cfg := base.Copy()
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey), SessionToken: aws.ToString(c.SessionToken)}, nil
	})
	return cfg
}

func mustRole(t *testing.T, s *localaws.Server, r localaws.Role) string {
	t.Helper()
	arn, err := s.CreateRole(r)
	if err != nil {
		t.Fatalf("CreateRole %s: %v", r.Name, err)
	}
	return arn
}

// assumeRoleCalls counts the sts:AssumeRole calls of the hub's function
// sessions (AssumeRole is answered, and logged, by the caller's account),
// leaving out the deployer's, which set the sessions up.
func (h *hubOrg) assumeRoleCalls() int {
	n := 0
	for _, c := range h.hub.Calls() {
		if c.Service == "sts" && c.Operation == "AssumeRole" && c.AccessKeyID != deployerKey {
			n++
		}
	}
	return n
}

func TestConfigActsInTheMemberForEachDuty(t *testing.T) {
	ctx := context.Background()
	h := newHubOrg(t)
	t.Logf("member trust from %s", h.memberTrusts)
	name, err := member.SessionName(execution)
	if err != nil || name != execution {
		t.Fatalf("SessionName(%q) = %q, %v; want it unchanged", execution, name, err)
	}
	for _, duty := range []member.Duty{member.Read, member.Respond, member.Rotate} {
		t.Run(duty.String(), func(t *testing.T) {
			cfg, err := member.Config(ctx, h.lambda, accountA, duty, execution)
			if err != nil {
				t.Fatalf("Config: %v", err)
			}
			id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatal(err)
			}
			if want := "arn:aws:sts::" + accountA + ":assumed-role/" + duty.RoleName() + "/" + name; aws.ToString(id.Arn) != want {
				t.Errorf("caller %s, want %s", aws.ToString(id.Arn), want)
			}
			// IAM calls land in the member: its user, not the hub's.
			keys, err := iam.NewFromConfig(cfg).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
			if err != nil {
				t.Fatalf("ListAccessKeys alice: %v", err)
			}
			if len(keys.AccessKeyMetadata) != 1 || aws.ToString(keys.AccessKeyMetadata[0].AccessKeyId) != h.a.AccessKeys("alice")[0].ID {
				t.Errorf("alice's keys %+v, want the member's", keys.AccessKeyMetadata)
			}
			if _, err := iam.NewFromConfig(cfg).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("deployer")}); !step.IsNoSuchEntity(err) {
				t.Errorf("the hub's user seen from the member: %v", err)
			}
			if got := sourceIdentity(t, h.a, cfg, name); got != name {
				t.Errorf("source identity %q, want %q", got, name)
			}
			if err := member.Verify(ctx, cfg, accountA); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

// sourceIdentity reads the session's source identity in localaws: it
// carries down a chain, so a probe role that trusts only that identity
// can be assumed from the session, and STS answers it.
func sourceIdentity(t *testing.T, s *localaws.Server, cfg aws.Config, want string) string {
	t.Helper()
	probe := "probe-" + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "")
	arn := mustRole(t, s, localaws.Role{Name: probe, TrustPolicy: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + s.AccountID() +
		`"},"Action":["sts:AssumeRole","sts:SetSourceIdentity"],"Condition":{"StringEquals":{"sts:SourceIdentity":"` + want + `"}}}]}`})
	out, err := sts.NewFromConfig(cfg).AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("probe")})
	if err != nil {
		t.Fatalf("probe for source identity %q: %v", want, err)
	}
	return aws.ToString(out.SourceIdentity)
}

func TestConfigAssumesOncePerStep(t *testing.T) {
	ctx := context.Background()
	h := newHubOrg(t)
	cfg, err := member.Config(ctx, h.lambda, accountA, member.Read, execution)
	if err != nil {
		t.Fatal(err)
	}
	client := iam.NewFromConfig(cfg)
	for range 3 {
		if _, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")}); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.assumeRoleCalls(); n != 1 {
		t.Errorf("Config and three IAM calls: %d AssumeRole calls, want 1", n)
	}

}

func TestConfigSessionWithinRoleChaining(t *testing.T) {
	h := newHubOrg(t)
	cfg, err := member.Config(context.Background(), h.lambda, accountA, member.Read, execution)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !creds.CanExpire || creds.Expires.Sub(now) != member.SessionDuration || member.SessionDuration > time.Hour {
		t.Errorf("session expires %v (can expire %v), want %v after %v, at most an hour", creds.Expires, creds.CanExpire, member.SessionDuration, now)
	}
	// Past the session, calls fail; nothing assumes the role again.
	h.org.Advance(member.SessionDuration)
	_, err = iam.NewFromConfig(cfg).ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if err == nil || !strings.Contains(err.Error(), "ExpiredToken") {
		t.Errorf("a call after the session: %v, want ExpiredToken", err)
	}
	if n := h.assumeRoleCalls(); n != 1 {
		t.Errorf("%d AssumeRole calls, want 1", n)
	}
}

func TestConfigNamesARoleThatCannotBeAssumed(t *testing.T) {
	h := newHubOrg(t)
	for _, tc := range []struct {
		name    string
		caller  aws.Config
		account string
		duty    member.Duty
	}{
		{"role absent in the member", h.lambda, accountB, member.Respond},
		{"caller not under /keywarden/", h.outsidePath, accountA, member.Read},
		{"account the organization does not hold", h.lambda, "444444444444", member.Read},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := member.Config(context.Background(), tc.caller, tc.account, tc.duty, execution)
			if !errors.Is(err, member.ErrMemberRoleNotDeployed) || step.Name(err) != member.NotDeployed {
				t.Fatalf("err %v (name %q), want %s", err, step.Name(err), member.NotDeployed)
			}
			for _, want := range []string{
				"member role " + tc.duty.RoleName() + " not deployed in account " + tc.account,
				"keywarden-member StackSet",
				"aws cloudformation list-stack-instances --stack-set-name keywarden-member --stack-instance-account " + tc.account,
				"AccessDenied",
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q\ndoes not say %q", err, want)
				}
			}
		})
	}
	// The other member's roles still work: one account's gap is its own.
	if _, err := member.Config(context.Background(), h.lambda, accountB, member.Read, execution); err != nil {
		t.Errorf("read in %s: %v", accountB, err)
	}
}

func TestConfigClassifiesTransientSTSErrors(t *testing.T) {
	for _, tc := range []struct {
		fault localaws.Fault
		want  string
	}{
		{localaws.Fault{ThrottleRate: 1}, step.Throttled},
		{localaws.Fault{ServerErrorRate: 1}, step.Transient},
		{localaws.Fault{ErrorCode: "RegionDisabledException"}, step.Failed},
	} {
		t.Run(tc.want, func(t *testing.T) {
			h := newHubOrg(t)
			if err := h.hub.SetFault("sts:AssumeRole", tc.fault); err != nil {
				t.Fatal(err)
			}
			_, err := member.Config(context.Background(), h.lambda, accountA, member.Read, execution)
			if step.Name(err) != tc.want || errors.Is(err, member.ErrMemberRoleNotDeployed) {
				t.Errorf("err %v named %q, want %s", err, step.Name(err), tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), "arn:aws:iam::"+accountA+":role/"+member.ReadRole) {
				t.Errorf("%q does not name the role", err)
			}
		})
	}
}

func TestConfigRefusesBadInput(t *testing.T) {
	h := newHubOrg(t)
	noRegion := h.lambda.Copy()
	noRegion.Region = ""
	for _, tc := range []struct {
		name      string
		base      aws.Config
		account   string
		duty      member.Duty
		execution string
		want      error
		stepName  string
	}{
		{"empty account", h.lambda, "", member.Read, execution, member.ErrInvalidAccount, step.InvalidEvent},
		{"11 digits", h.lambda, "22222222222", member.Read, execution, member.ErrInvalidAccount, step.InvalidEvent},
		{"13 digits", h.lambda, "2222222222222", member.Read, execution, member.ErrInvalidAccount, step.InvalidEvent},
		{"letter", h.lambda, "22222222222a", member.Read, execution, member.ErrInvalidAccount, step.InvalidEvent},
		{"space", h.lambda, " 222222222222", member.Read, execution, member.ErrInvalidAccount, step.InvalidEvent},
		{"newline", h.lambda, "222222222222\n", member.Read, execution, member.ErrInvalidAccount, step.InvalidEvent},
		{"an ARN", h.lambda, "arn:aws:iam::222222222222:root", member.Read, execution, member.ErrInvalidAccount, step.InvalidEvent},
		{"no duty", h.lambda, accountA, member.Duty(0), execution, member.ErrInvalidDuty, step.Failed},
		{"unknown duty", h.lambda, accountA, member.Duty(9), execution, member.ErrInvalidDuty, step.Failed},
		{"no execution", h.lambda, accountA, member.Read, "", member.ErrNoExecution, step.InvalidEvent},
		{"no region", noRegion, accountA, member.Read, execution, member.ErrNoRegion, step.InvalidSetting},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := member.Config(context.Background(), tc.base, tc.account, tc.duty, tc.execution)
			if !errors.Is(err, tc.want) || step.Name(err) != tc.stepName {
				t.Errorf("err %v named %q, want %v named %s", err, step.Name(err), tc.want, tc.stepName)
			}
		})
	}
	if n := h.assumeRoleCalls(); n != 0 {
		t.Errorf("%d AssumeRole calls for bad input, want none", n)
	}
}

func TestConfigWithLongAndOddExecutionNames(t *testing.T) {
	ctx := context.Background()
	h := newHubOrg(t)
	long := "exposed-222222222222-" + strings.Repeat("a.very.long+user=name,", 4) + "-AKIAALICEALICEALICE1"
	seen := map[string]string{}
	for _, exec := range []string{long, long[:len(long)-1] + "2", "daily 2026-12-10T09:00:00Z", "daily/2026:12:10", "rotation-Ünïcode-€", "x"} {
		cfg, err := member.Config(ctx, h.lambda, accountA, member.Read, exec)
		if err != nil {
			t.Fatalf("Config(%q): %v", exec, err)
		}
		name, _ := member.SessionName(exec)
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(aws.ToString(id.Arn), "/"+name) || sourceIdentity(t, h.a, cfg, name) != name {
			t.Errorf("%q: caller %s, want session and source identity %s", exec, aws.ToString(id.Arn), name)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("%q and %q share the session name %s", exec, other, name)
		}
		seen[name] = exec
	}
}

func TestVerifyRefusesAnotherAccount(t *testing.T) {
	h := newHubOrg(t)
	cfg, err := member.Config(context.Background(), h.lambda, accountA, member.Read, execution)
	if err != nil {
		t.Fatal(err)
	}
	err = member.Verify(context.Background(), cfg, accountB)
	if !errors.Is(err, member.ErrWrongAccount) || !strings.Contains(err.Error(), accountA) {
		t.Errorf("Verify against %s: %v", accountB, err)
	}
}

// memberTrusts is each member role's trust policy as the member template
// writes it, with the hub account and the emulated organization's id: from
// the synthesized template when `make synth` has written it, else the same
// shape written out here (the CDK's: one statement per action).
func memberTrusts(t *testing.T, orgID string) (map[string]string, string) {
	t.Helper()
	const path = "../../build/variants/organization/member/KeywardenMember.template.json"
	raw, err := os.ReadFile(path)
	if err != nil {
		cond := `"Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::` + hubAccount + `:role/keywarden/*"},"StringEquals":{"aws:PrincipalOrgID":"` + orgID +
			`"},"Null":{"sts:SourceIdentity":"false"}}`
		principal := `"Principal":{"AWS":"arn:aws:iam::` + hubAccount + `:root"}`
		trust := `{"Statement":[{"Action":"sts:AssumeRole",` + cond + `,"Effect":"Allow",` + principal + `},{"Action":"sts:SetSourceIdentity",` + cond +
			`,"Effect":"Allow",` + principal + `}],"Version":"2012-10-17"}`
		return map[string]string{member.ReadRole: trust, member.RespondRole: trust, member.RotateRole: trust}, "the shape copied in member_test.go (no synthesized template: " + err.Error() + ")"
	}
	var tmpl struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				RoleName                 string
				AssumeRolePolicyDocument any
			}
		}
	}
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	trusts := map[string]string{}
	for _, r := range tmpl.Resources {
		if r.Type != "AWS::IAM::Role" || !strings.HasPrefix(r.Properties.RoleName, "keywarden-member-") || r.Properties.RoleName == "keywarden-member-forward" {
			continue
		}
		doc, err := json.Marshal(resolve(r.Properties.AssumeRolePolicyDocument, orgID))
		if err != nil {
			t.Fatal(err)
		}
		trusts[r.Properties.RoleName] = string(doc)
	}
	// The organization variant synthesizes with rotation on (Makefile), so
	// the member template has all three duty roles.
	for _, name := range []string{member.ReadRole, member.RespondRole, member.RotateRole} {
		if !strings.Contains(trusts[name], `"aws:PrincipalOrgID":"`+orgID+`"`) {
			t.Fatalf("%s: no role %s with an organization condition (roles: %v)", path, name, trusts)
		}
	}
	return trusts, path
}

// resolve evaluates the template's few intrinsics in a trust policy (Ref
// and Fn::Sub of AWS::Partition and HubAccountId, Fn::Join) and puts the
// emulated organization's id in place of the settings' one.
func resolve(v any, orgID string) any {
	sub := strings.NewReplacer("${AWS::Partition}", "aws", "${HubAccountId}", hubAccount)
	refs := map[string]string{"AWS::Partition": "aws", "HubAccountId": hubAccount}
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok {
			return refs[ref]
		}
		if s, ok := v["Fn::Sub"].(string); ok {
			return sub.Replace(s)
		}
		if join, ok := v["Fn::Join"].([]any); ok {
			var parts []string
			for _, p := range join[1].([]any) {
				parts = append(parts, resolve(p, orgID).(string))
			}
			return strings.Join(parts, join[0].(string))
		}
		out := map[string]any{}
		for k, e := range v {
			if k == "aws:PrincipalOrgID" {
				out[k] = orgID
				continue
			}
			out[k] = resolve(e, orgID)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = resolve(e, orgID)
		}
		return out
	}
	return v
}
