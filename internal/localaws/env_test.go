package localaws

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestEnvReachesServer proves the other standard route: a process whose
// environment is Env() reaches the server through config.LoadDefaultConfig
// and AWS_ENDPOINT_URL, as keywarden's Lambdas build their clients.
func TestEnvReachesServer(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	seed(t, s, Fixture{Users: []FixtureUser{{Name: "alice"}}})
	// Keep the developer's own AWS files and profile out of the test.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_PROFILE", "")
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	mustOK(t, "LoadDefaultConfig", err)

	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	mustOK(t, "GetCallerIdentity", err)
	if aws.ToString(id.Account) != DefaultAccountID {
		t.Errorf("account = %s", aws.ToString(id.Account))
	}
	_, err = iam.NewFromConfig(cfg).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	mustOK(t, "GetUser", err)
	if calls := s.Calls(); len(calls) != 2 || calls[0].AccessKeyID != TestAccessKeyID {
		t.Errorf("calls = %+v", calls)
	}
}
