package act

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/keyage"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/member/membertest"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/step"
)

const exec = "arn:aws:states:us-east-1:999988887777:execution:Keywarden:daily-2026-12-01"

type topic struct{ bodies []string }

func (tp *topic) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	tp.bodies = append(tp.bodies, aws.ToString(in.Message))
	return &sns.PublishOutput{MessageId: aws.String("m")}, nil
}

// Organization mode: a chunk acts in its account through the respond
// role, one session per invocation, and the notice names the account.
func TestOrganization(t *testing.T) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ctx := context.Background()
	const key = "AKIAKEYWARDENALICE01"
	srv := membertest.NewMember(t, localaws.Fixture{Users: []localaws.FixtureUser{{Name: "alice"}}, Keys: []localaws.FixtureKey{{User: "alice", ID: key, Created: "-95d"}}})
	if err := srv.CreateDynamoDBTable(localaws.DynamoDBTable{Name: "ledger", PartitionKey: "pk", SortKey: "sk"}); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(dynamodb.NewFromConfig(srv.SDKConfig()), "ledger", ledger.Options{ByAccount: true, Now: srv.Now})
	if err != nil {
		t.Fatal(err)
	}
	d := policy.Decision{KeyID: key, User: "alice", AgeDays: 95, Stage: policy.StageDeactivate, Notice: policy.StageDeactivate, Action: policy.ActionDeactivate}
	data, _ := json.Marshal([]policy.Decision{d})
	const run = "daily-2026-12-01-111111111111"
	if err := l.PutChunk(ctx, run, 0, data); err != nil {
		t.Fatal(err)
	}
	tp := &topic{}
	accounts := &membertest.Accounts{InScope: map[string]string{"111111111111": "prod"}, Member: srv}
	h := keyage.ActHandler{Notifier: keyage.Notifier{SNS: tp, Topic: "arn:aws:sns:us-east-1:999988887777:t"}, Account: "999988887777", Now: srv.Now, ReadBackAttempts: 1, ReadBackDelay: time.Millisecond}
	handle := Organization(accounts, l, h, nil)

	res, err := handle(ctx, keyage.ActInput{RunID: run, Chunk: 0, Account: "111111111111", AccountName: "prod", Execution: exec})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deactivated) != 1 || len(res.Failures) != 0 {
		t.Errorf("chunk result %+v", res)
	}
	keys, _ := iam.NewFromConfig(srv.SDKConfig()).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if len(keys.AccessKeyMetadata) != 1 || keys.AccessKeyMetadata[0].Status != "Inactive" {
		t.Errorf("the key in the member: %+v", keys.AccessKeyMetadata)
	}
	if c := accounts.Configs(); len(c) != 1 || c[0] != "111111111111 respond daily-2026-12-01" {
		t.Errorf("member sessions %v, want one respond session named after the execution (its name, not its ARN)", c)
	}
	if len(tp.bodies) != 1 || !strings.Contains(tp.bodies[0], "Account:   111111111111 (prod)") {
		t.Errorf("notices %q", tp.bodies)
	}
	if _, err := handle(ctx, keyage.ActInput{RunID: run, Chunk: 0, Account: "555555555555", Execution: exec}); step.Name(err) != step.AccountOutOfScope {
		t.Errorf("an account out of scope: %v", err)
	}
}

// orgLedger is a ledger in an emulated hub account, with the chunk of
// decisions d put under run.
func orgLedger(t *testing.T, run string, d ...policy.Decision) (*localaws.Server, *ledger.Ledger) {
	t.Helper()
	hub, err := localaws.New(localaws.Options{AccountID: "999988887777"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Close() })
	if err := hub.CreateDynamoDBTable(localaws.DynamoDBTable{Name: "ledger", PartitionKey: "pk", SortKey: "sk"}); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(dynamodb.NewFromConfig(hub.SDKConfig()), "ledger", ledger.Options{ByAccount: true, Now: hub.Now})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(d)
	if err := l.PutChunk(context.Background(), run, 0, data); err != nil {
		t.Fatal(err)
	}
	return hub, l
}

// Organization mode with rotation on: a key due for rotation is replaced
// in its own account through one rotate session; the new key is kept in
// the member's secret under the member's key, writable by the member's
// rotate role; nothing reaches the hub's Secrets Manager.
func TestOrganizationRotates(t *testing.T) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ctx := context.Background()
	const (
		account  = "111111111111"
		key      = "AKIAKEYWARDENSVCR001"
		user     = "svc-reports"
		security = "arn:aws:iam::999988887777:role/security"
		run      = "daily-2026-12-01-111111111111"
	)
	srv, err := localaws.New(localaws.Options{AccountID: account})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := srv.Seed(localaws.Fixture{Users: []localaws.FixtureUser{{Name: user, Tags: map[string]string{"keywarden:rotate": "true"}}},
		Keys: []localaws.FixtureKey{{User: user, ID: key, Created: "-61d"}}}); err != nil {
		t.Fatal(err)
	}
	d := policy.Decision{KeyID: key, User: user, AgeDays: 61, Stage: policy.StageRotate, Notice: policy.StageRotate, Action: policy.ActionRotate,
		Rotation: true, Deadline: srv.Now().AddDate(0, 0, 7)}
	hub, l := orgLedger(t, run, d)
	tp := &topic{}
	accounts := &membertest.Accounts{InScope: map[string]string{account: "prod"}, Member: srv}
	h := keyage.ActHandler{Notifier: keyage.Notifier{SNS: tp, Topic: "arn:aws:sns:us-east-1:999988887777:t"}, Account: "999988887777", Now: srv.Now,
		ReadBackAttempts: 1, ReadBackDelay: time.Millisecond}
	handle := Organization(accounts, l, h, &MemberRotation{Region: "us-east-1", SecurityRoleARN: security, Now: srv.Now})

	// A dry run rotates nothing and makes no rotate session.
	res, err := handle(ctx, keyage.ActInput{RunID: run, Chunk: 0, Account: account, AccountName: "prod", Execution: exec, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.WouldRotate) != 1 || len(res.Rotated) != 0 {
		t.Errorf("dry run %+v", res)
	}
	if c := accounts.Configs(); len(c) != 1 || c[0] != account+" respond daily-2026-12-01" {
		t.Errorf("dry-run sessions %v, want the respond session only", c)
	}

	res, err = handle(ctx, keyage.ActInput{RunID: run, Chunk: 0, Account: account, AccountName: "prod", Execution: exec})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rotated) != 1 || len(res.Failures) != 0 {
		t.Fatalf("chunk result %+v", res)
	}
	if c := accounts.Configs(); len(c) != 3 || c[1] != account+" respond daily-2026-12-01" || c[2] != account+" rotate daily-2026-12-01" {
		t.Errorf("member sessions %v, want one respond and one rotate session for the run", c)
	}
	sec, ok := srv.Secret("keywarden/access-key/" + user)
	if !ok {
		t.Fatal("no secret keywarden/access-key/" + user + " in the member")
	}
	if want := "arn:aws:kms:us-east-1:" + account + ":alias/keywarden-rotation"; sec.KmsKeyID != want {
		t.Errorf("secret encrypted with %q, want the member's key %s", sec.KmsKeyID, want)
	}
	for _, want := range []string{`"arn:aws:iam::` + account + `:user/` + user + `"`, `"arn:aws:iam::` + account + `:role/keywarden-member-rotate"`, security} {
		if !strings.Contains(sec.ResourcePolicy, want) {
			t.Errorf("secret policy %s does not name %s", sec.ResourcePolicy, want)
		}
	}
	keys, _ := iam.NewFromConfig(srv.SDKConfig()).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if len(keys.AccessKeyMetadata) != 2 {
		t.Errorf("keys in the member %+v, want the old and the new, both active", keys.AccessKeyMetadata)
	}
	if _, ok := hub.Secret("keywarden/access-key/" + user); ok {
		t.Error("the hub holds a secret of a member's key")
	}
	if len(tp.bodies) != 2 || !strings.Contains(tp.bodies[1], sec.ARN) {
		t.Errorf("notices %q, want the dry run's and one naming the member's secret %s", tp.bodies, sec.ARN)
	}

	// A retried chunk finds the rotation in the ledger: no second key, no
	// second rotate session.
	if _, err := handle(ctx, keyage.ActInput{RunID: run, Chunk: 0, Account: account, Execution: exec}); err != nil {
		t.Fatal(err)
	}
	if c := accounts.Configs(); len(c) != 4 {
		t.Errorf("sessions after the retry %v, want a respond session and no rotate session", c)
	}
}

// A rotate role the member refuses fails each rotation of the chunk,
// named, after one attempt to assume it.
func TestOrganizationRotateRoleRefused(t *testing.T) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	const account, run = "111111111111", "daily-2026-12-01-111111111111"
	srv := membertest.NewMember(t, localaws.Fixture{Users: []localaws.FixtureUser{{Name: "a"}, {Name: "b"}},
		Keys: []localaws.FixtureKey{{User: "a", ID: "AKIAKEYWARDENA000001", Created: "-61d"}, {User: "b", ID: "AKIAKEYWARDENB000001", Created: "-61d"}}})
	var ds []policy.Decision
	for _, u := range []struct{ user, key string }{{"a", "AKIAKEYWARDENA000001"}, {"b", "AKIAKEYWARDENB000001"}} {
		ds = append(ds, policy.Decision{KeyID: u.key, User: u.user, AgeDays: 61, Stage: policy.StageRotate, Action: policy.ActionRotate, Rotation: true})
	}
	_, l := orgLedger(t, run, ds...)
	accounts := &roleRefused{Accounts: membertest.Accounts{InScope: map[string]string{account: "prod"}, Member: srv}}
	h := keyage.ActHandler{Notifier: keyage.Notifier{SNS: &topic{}, Topic: "t"}, Account: "999988887777", Now: srv.Now, ReadBackAttempts: 1}
	res, err := Organization(accounts, l, h, &MemberRotation{Region: "us-east-1"})(context.Background(),
		keyage.ActInput{RunID: run, Chunk: 0, Account: account, Execution: exec})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) != 2 || res.Failures[0].Error != step.MemberRoleNotDeployed || !strings.Contains(res.Failures[1].Cause, "AKIAKEYWARDENB000001") {
		t.Errorf("failures %+v, want both rotations failed as %s", res.Failures, step.MemberRoleNotDeployed)
	}
	if accounts.rotate != 1 {
		t.Errorf("%d rotate sessions tried, want 1", accounts.rotate)
	}
}

// roleRefused is membertest.Accounts whose member refuses the rotate role.
type roleRefused struct {
	membertest.Accounts
	rotate int
}

func (r *roleRefused) Config(ctx context.Context, account string, duty member.Duty, execution string) (aws.Config, error) {
	if duty == member.Rotate {
		r.rotate++
		return aws.Config{}, step.Errorf(step.MemberRoleNotDeployed, "member role %s not deployed in account %s", member.RotateRole, account)
	}
	return r.Accounts.Config(ctx, account, duty, execution)
}
