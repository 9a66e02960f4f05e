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
	srv, err := localaws.New(localaws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	const key = "AKIAKEYWARDENALICE01"
	if err := srv.Seed(localaws.Fixture{Users: []localaws.FixtureUser{{Name: "alice"}}, Keys: []localaws.FixtureKey{{User: "alice", ID: key, Created: "-95d"}}}); err != nil {
		t.Fatal(err)
	}
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
	handle := Organization(accounts, l, h)

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
