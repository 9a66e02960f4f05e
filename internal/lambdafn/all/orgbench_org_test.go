//go:build unix

package all

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/settings"
)

// The emulated organization of the organization benchmarks (BENCHMARKS.md,
// "Organization daily run"). Sizes are flags so a quick check can shrink
// them: go test -run '^$' -bench OrganizationDailyRun ./internal/lambdafn/all/
// -args -org.accounts 20 -org.users 100.
var (
	orgAccounts     = flag.Int("org.accounts", 1000, "member accounts of the emulated organization")
	orgUsers        = flag.Int("org.users", 1000, "IAM users in each member account")
	orgLoopAccounts = flag.Int("org.loop-accounts", 100, "accounts the one-Lambda loop scans (its time is extrapolated to org.accounts)")
)

const (
	benchHub        = "999988887777"
	benchIAMLatency = 2 * time.Millisecond // per IAM call, every account
	benchSTSLatency = 5 * time.Millisecond // per STS call, every account
	// benchFlagEvery: one user in ten has an active key past the first
	// warning (70 days), the share the key-age scan benchmark uses.
	benchFlagEvery = 10
)

// benchOrg is an organization of members seeded alike, and the hub that
// runs keywarden's functions as their own /keywarden/ roles.
type benchOrg struct {
	o       *localaws.Organization
	hub     *localaws.Server
	ou      string
	members []string
	topic   string
	// ledger serves the hub's ledger table (see ledgerShards).
	ledger *ledgerShards
	// flagged is how many users of each member have a key past 70 days.
	flagged int
	runs    int
}

// newBenchOrg builds accounts members of users each, every member with the
// read and respond roles of the member template and its trust, and sets
// the latencies on every account.
func newBenchOrg(b *testing.B, accounts, users int) (*benchOrg, time.Duration) {
	b.Helper()
	start := time.Now()
	o, err := localaws.NewOrganization(localaws.OrganizationOptions{Seed: 12})
	must(b, err)
	b.Cleanup(func() { _ = o.Close() })
	bo := &benchOrg{o: o, ledger: newLedgerShards(b, awshttp.NewBuildableClient())}
	bo.hub, err = o.AddAccount(localaws.MemberAccount{ID: benchHub, Name: "security"})
	must(b, err)
	must(b, o.RegisterDelegatedAdministrator(benchHub))
	bo.ou, err = o.AddOU(o.RootID(), "workloads")
	must(b, err)
	// Each function runs as its own execution role, as Lambda runs it
	// (ServiceCredentials), so member trusts see the hub role's ARN.
	hubTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	for _, fn := range []string{lambdafn.Scan, lambdafn.Act, lambdafn.Digest} {
		_, err := bo.hub.CreateRole(localaws.Role{Name: "keywarden-" + fn, Path: "/keywarden/", TrustPolicy: hubTrust})
		must(b, err)
	}
	topic, err := sns.NewFromConfig(bo.hub.SDKConfig()).CreateTopic(context.Background(), &sns.CreateTopicInput{Name: aws.String("keywarden-alerts")})
	must(b, err)
	bo.topic = aws.ToString(topic.TopicArn)

	// The member template's trust (docs/organization.md, "What each member
	// receives"): the hub's /keywarden/ roles, in the organization, with a
	// source identity.
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + benchHub + `:root"},` +
		`"Action":["sts:AssumeRole","sts:SetSourceIdentity"],"Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::` + benchHub + `:role/keywarden/*"},` +
		`"StringEquals":{"aws:PrincipalOrgID":"` + o.ID() + `"},"Null":{"sts:SourceIdentity":"false"}}}]}`
	fixture, flagged := benchFixture(users)
	bo.flagged = flagged
	for i := range accounts {
		id := fmt.Sprintf("5%011d", i)
		s, err := o.AddAccount(localaws.MemberAccount{ID: id, Name: fmt.Sprintf("workload-%04d", i), Parent: bo.ou})
		must(b, err)
		must(b, s.Seed(fixture))
		for _, role := range []string{member.ReadRole, member.RespondRole} {
			_, err := s.CreateRole(localaws.Role{Name: role, TrustPolicy: trust})
			must(b, err)
		}
		bo.members = append(bo.members, id)
	}
	must(b, o.SetFault("iam:*", localaws.Fault{Latency: benchIAMLatency}))
	must(b, o.SetFault("sts:*", localaws.Fault{Latency: benchSTSLatency}))
	return bo, time.Since(start)
}

// benchFixture is one member's users: each has one key, every other user a
// second; one user in benchFlagEvery has an active first key 71 to 150 days
// old (warned at 70 or 80 days, or past the 90-day limit), every other key
// is at most 60 days old, so two days of the emulator's clock moving on
// (5 h before each run, for a fresh credential report) flag no one else.
// Two keys in three have a last use. Every user has the tags the policy
// reads (a contact and a user type).
func benchFixture(users int) (localaws.Fixture, int) {
	var f localaws.Fixture
	flagged := 0
	for i := range users {
		name := fmt.Sprintf("user-%05d", i)
		f.Users = append(f.Users, localaws.FixtureUser{Name: name, Created: "-400d",
			Tags: map[string]string{"Contact": name + "@example.com", "UserType": "human"}})
		age := 1 + (i*7)%60
		if i%benchFlagEvery == 0 {
			age = 71 + (i/benchFlagEvery)%80
			flagged++
		}
		k := localaws.FixtureKey{User: name, Created: fmt.Sprintf("-%dd", age)}
		if i%3 != 0 {
			k.LastUsed = "-1d"
		}
		f.Keys = append(f.Keys, k)
		if i%2 == 1 {
			f.Keys = append(f.Keys, localaws.FixtureKey{User: name, Created: fmt.Sprintf("-%dd", 1+i%30), LastUsed: "-2h"})
		}
	}
	return f, flagged
}

// deployment is one deployment's functions: their configs (sessions of
// their own hub roles, as Lambda's execution role gives them) and their
// environment, with a ledger table of its own so every run starts with no
// history (no notice already sent).
type deployment struct {
	cfgs map[string]aws.Config
	env  settings.Lookup
}

// deploy moves the clock 5 hours on, so every account generates a fresh
// credential report (AWS and localaws reuse one for 4 hours), and makes a
// new deployment. Its functions' configs sign as their execution roles
// and send the ledger's requests to its shards.
func (bo *benchOrg) deploy(b *testing.B) deployment {
	b.Helper()
	bo.o.Advance(5 * time.Hour)
	bo.runs++
	table := fmt.Sprintf("keywarden-ledger-%d", bo.runs)
	bo.ledger.createTable(b, table)
	d := deployment{cfgs: map[string]aws.Config{}}
	for _, fn := range []string{lambdafn.Scan, lambdafn.Act, lambdafn.Digest} {
		creds, err := bo.hub.ServiceCredentials("keywarden-"+fn, "lambda.amazonaws.com", "keywarden-"+fn)
		must(b, err)
		cfg := bo.hub.SDKConfig()
		cfg.HTTPClient = bo.ledger
		cfg.Credentials = creds
		d.cfgs[fn] = cfg
	}
	cfg := policy.DefaultConfig()
	cfg.RotationDays = 0 // organization mode refuses rotation
	pol, err := json.Marshal(cfg)
	must(b, err)
	scope, err := json.Marshal(settings.Scope{OrganizationID: bo.o.ID(), OrganizationalUnits: []string{bo.ou}, OptOutTag: settings.DefaultOptOutTag})
	must(b, err)
	d.env = env(map[string]string{
		settings.EnvMode:          settings.ModeOrganization,
		settings.EnvOrganization:  string(scope),
		settings.EnvAccount:       benchHub,
		settings.EnvAlertTopicArn: bo.topic,
		settings.EnvLedgerTable:   table,
		settings.EnvKeyAgePolicy:  string(pol),
		// Unset, the run is a dry run: the default, and what is measured.
	})
	return d
}

// function builds one Lambda container of fn: what a cold start does.
func (d deployment) function(b *testing.B, fn string, now func() time.Time) func(context.Context, any) (json.RawMessage, error) {
	h, err := New(fn, d.cfgs[fn], d.env, now)
	must(b, err)
	return func(ctx context.Context, in any) (json.RawMessage, error) {
		payload, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		out, err := h.Invoke(ctx, payload)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", fn, lambdafn.ErrorType(err), err)
		}
		return out, nil
	}
}

// scheduled is the daily schedule's event at the emulator's time.
func (bo *benchOrg) scheduled() json.RawMessage {
	ev, _ := json.Marshal(map[string]any{"version": "0", "id": fmt.Sprintf("bench-%d", bo.runs), "source": "aws.events",
		"detail-type": "Scheduled Event", "account": benchHub, "time": bo.hub.Now().UTC().Format(time.RFC3339),
		"region": "us-east-1", "resources": []string{}, "detail": map[string]any{}})
	return ev
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
