package localaws

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

const lambdaTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func TestOrganizationIDsFromOptions(t *testing.T) {
	o := newTestOrg(t, OrganizationOptions{ID: "o-exampleorg1", RootID: "r-exam"})
	if o.ID() != "o-exampleorg1" || o.RootID() != "r-exam" {
		t.Fatalf("ids %s %s", o.ID(), o.RootID())
	}
	if _, err := NewOrganization(OrganizationOptions{ID: "org-1"}); err == nil {
		t.Fatal("NewOrganization accepted id org-1")
	}
}

// A function's execution role: its session reaches a member role whose
// trust names the role's path, and every call it makes there records the
// session and its source identity.
func TestServiceCredentialsAssumeMemberRole(t *testing.T) {
	o := newTestOrg(t, OrganizationOptions{})
	hub := addAccount(t, o, MemberAccount{ID: hubAccount})
	member := addAccount(t, o, MemberAccount{ID: memberAccount})
	seed(t, member, Fixture{Users: []FixtureUser{{Name: "dev"}}, Keys: []FixtureKey{{User: "dev", ID: "AKIAMEMBERDEVKEY0001"}}})
	if _, err := hub.CreateRole(Role{Name: "respond", Path: "/keywarden/", TrustPolicy: lambdaTrust}); err != nil {
		t.Fatal(err)
	}
	if _, err := hub.CreateRole(Role{Name: "other", TrustPolicy: lambdaTrust}); err != nil {
		t.Fatal(err)
	}
	if _, err := member.CreateRole(Role{Name: "keywarden-member-respond", TrustPolicy: memberTrust(o.ID())}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	assume := func(role string) (aws.Config, error) {
		creds, err := hub.ServiceCredentials(role, "lambda.amazonaws.com", "keywarden-contain")
		if err != nil {
			t.Fatal(err)
		}
		cfg := hub.SDKConfig()
		cfg.Credentials = creds
		out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::" + memberAccount + ":role/keywarden-member-respond"), RoleSessionName: aws.String("exposed-1"),
			SourceIdentity: aws.String("exposed-1"), DurationSeconds: aws.Int32(900),
		})
		if err != nil {
			return aws.Config{}, err
		}
		return sessionConfig(cfg, out.Credentials), nil
	}
	if _, err := assume("other"); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("a role outside /keywarden/ assumed the member role: %v", err)
	}
	cfg, err := assume("respond")
	mustOK(t, "AssumeRole from the keywarden role", err)
	_, err = iam.NewFromConfig(cfg).DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("dev"), AccessKeyId: aws.String("AKIAMEMBERDEVKEY0001")})
	mustOK(t, "DeleteAccessKey as the member session", err)
	calls := callsTo(member, "iam", "DeleteAccessKey")
	if len(calls) != 1 || calls[0].SourceIdentity != "exposed-1" ||
		calls[0].Caller != "arn:aws:sts::"+memberAccount+":assumed-role/keywarden-member-respond/exposed-1" {
		t.Fatalf("member calls %+v", calls)
	}
	records := member.CloudTrailRecords()
	var rec struct {
		EventName    string
		UserIdentity struct {
			Type           string
			SessionContext struct {
				SourceIdentity string
				SessionIssuer  struct{ Arn, UserName string }
			}
		}
	}
	if err := json.Unmarshal([]byte(records[len(records)-1]), &rec); err != nil || rec.EventName != "DeleteAccessKey" ||
		rec.UserIdentity.Type != "AssumedRole" || rec.UserIdentity.SessionContext.SourceIdentity != "exposed-1" ||
		rec.UserIdentity.SessionContext.SessionIssuer.Arn != "arn:aws:iam::"+memberAccount+":role/keywarden-member-respond" {
		t.Fatalf("the member's CloudTrail record %s (%v)", records[len(records)-1], err)
	}
	var asked []string
	for _, c := range callsTo(hub, "sts", "AssumeRole") {
		asked = append(asked, c.RoleArn)
	}
	if len(asked) != 2 || !strings.HasSuffix(asked[1], ":role/keywarden-member-respond") {
		t.Fatalf("hub AssumeRole calls name %v", asked)
	}
}

func TestServiceCredentials(t *testing.T) {
	s := newTestServer(t, Options{Now: func() time.Time { return testNow }})
	if _, err := s.CreateRole(Role{Name: "fn", Path: "/keywarden/", TrustPolicy: lambdaTrust}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ServiceCredentials("fn", "states.amazonaws.com", "x1"); err == nil {
		t.Fatal("a service the trust does not name got credentials")
	}
	if _, err := s.ServiceCredentials("nope", "lambda.amazonaws.com", "x1"); err == nil {
		t.Fatal("credentials for a role that does not exist")
	}
	creds, err := s.ServiceCredentials("fn", "lambda.amazonaws.com", "keywarden-scan")
	mustOK(t, "ServiceCredentials", err)
	cfg := s.SDKConfig()
	cfg.Credentials = creds
	ctx := context.Background()
	who := func() string {
		out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		mustOK(t, "GetCallerIdentity", err)
		return aws.ToString(out.Arn)
	}
	want := "arn:aws:sts::" + DefaultAccountID + ":assumed-role/fn/keywarden-scan"
	if got := who(); got != want {
		t.Fatalf("caller %s, want %s", got, want)
	}
	// Seven days later the same client still works: a new session.
	s.Advance(7 * 24 * time.Hour)
	if got := who(); got != want {
		t.Fatalf("after a week, caller %s", got)
	}
	// AssumeRole by an account principal never matches a service trust.
	_, err = sts.NewFromConfig(s.SDKConfig()).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + DefaultAccountID + ":role/keywarden/fn"), RoleSessionName: aws.String("me")})
	wantCode(t, err, "AccessDenied", 403)
}

// A rule on a member's default bus forwards to the hub's bus, which
// accepts the organization's accounts only; the event keeps its account.
func TestForwardRuleToAnotherAccountsBus(t *testing.T) {
	o := newTestOrg(t, OrganizationOptions{})
	hub := addAccount(t, o, MemberAccount{ID: hubAccount})
	member := addAccount(t, o, MemberAccount{ID: memberAccount})
	outside, err := o.AddOutsideAccount(outsideAccount)
	mustOK(t, "AddOutsideAccount", err)
	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"org","Effect":"Allow","Principal":{"AWS":"*"},"Action":"events:PutEvents",` +
		`"Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"` + o.ID() + `"}}}]}`
	arn, err := hub.AddEventBus(EventBus{Name: "keywarden-organization", Policy: policy})
	mustOK(t, "AddEventBus", err)
	var got [][]byte
	pattern := `{"source":["aws.trustedadvisor"]}`
	mustOK(t, "AddBusRule", hub.AddBusRule("keywarden-organization", "Intake", pattern, func(_ context.Context, ev []byte) error {
		got = append(got, ev)
		return nil
	}))
	// The same rule name on the default bus is another rule.
	mustOK(t, "AddRule", hub.AddRule("Intake", `{"source":["nothing"]}`, func(context.Context, []byte) error { return nil }))
	for _, s := range []*Server{member, outside} {
		mustOK(t, "AddForwardRule", s.AddForwardRule("default", "Forward", pattern, arn))
	}
	ctx := context.Background()
	event := func(account string) []byte {
		b, _ := json.Marshal(map[string]any{"version": "0", "id": "ev-" + account, "source": "aws.trustedadvisor", "detail-type": "x", "account": account, "detail": map[string]any{}})
		return b
	}
	mustOK(t, "DeliverEvent", member.DeliverEvent(ctx, "default", event(memberAccount)))
	mustOK(t, "DeliverEvent", outside.DeliverEvent(ctx, "default", event(outsideAccount)))
	if len(got) != 1 || !strings.Contains(string(got[0]), `"account":"`+memberAccount+`"`) {
		t.Fatalf("hub bus received %q", got)
	}
	d := outside.Deliveries()
	if len(d) != 1 || !strings.Contains(d[0].Err, "AccessDeniedException") {
		t.Fatalf("outside deliveries %+v", d)
	}
	// A bus with no policy admits its own account only.
	private, err := hub.AddEventBus(EventBus{Name: "private"})
	mustOK(t, "AddEventBus", err)
	mustOK(t, "AddForwardRule", member.AddForwardRule("default", "ToPrivate", `{"source":["aws.health"]}`, private))
	health := []byte(`{"id":"h1","source":"aws.health","account":"` + memberAccount + `","detail":{}}`)
	mustOK(t, "DeliverEvent", member.DeliverEvent(ctx, "default", health))
	if d := member.Deliveries(); len(d) != 2 || d[1].Rule != "ToPrivate" || !strings.Contains(d[1].Err, "not authorized") {
		t.Fatalf("member deliveries %+v", d)
	}
	if err := member.DeliverEvent(ctx, "nope", event(memberAccount)); err == nil {
		t.Fatal("delivered to a bus that does not exist")
	}
}
