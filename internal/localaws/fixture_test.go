package localaws

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

func TestLoadFixture(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	seed(t, s, loadFixture(t, "testdata/demo-account.json"))

	alice, ok := s.AccessKey("AKIAEXPOSEDEXPOSED01")
	if !ok || alice.User != "alice" || !alice.Created.Equal(testNow.Add(-95*24*time.Hour)) ||
		!alice.LastUsed.Equal(testNow.Add(-2*time.Hour)) || alice.LastUsedRegion != "eu-west-1" || alice.LastUsedService != "s3" {
		t.Errorf("alice's key = %+v", alice)
	}
	ci := s.AccessKeys("ci-deployer")
	if len(ci) != 2 || ci[0].ID != "AKIAOLDCIKEYOLDCI001" || !keyIDShape.MatchString(ci[1].ID) || ci[1].Status != statusInactive {
		t.Errorf("ci-deployer keys = %+v", ci)
	}
	if ci[0].LastUsedRegion != "us-east-1" {
		t.Errorf("lastUsedRegion default = %q, want the fixture region", ci[0].LastUsedRegion)
	}
	if tags := s.UserTags("bob"); tags["keywarden:exempt"] != "true" {
		t.Errorf("bob's tags = %v", tags)
	}
	if docs := s.UserPolicies("ci-deployer"); !strings.Contains(docs["deploy"], "cloudformation:*") {
		t.Errorf("ci-deployer policies = %v", docs)
	}

	c := iam.NewFromConfig(s.SDKConfig())
	user, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("ci-deployer")})
	mustOK(t, "GetUser", err)
	if aws.ToString(user.User.Arn) != "arn:aws:iam::123456789012:user/automation/ci-deployer" ||
		!user.User.CreateDate.Equal(time.Date(2024, 6, 1, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("ci-deployer = %+v", user.User)
	}
	_, err = sns.NewFromConfig(s.SDKConfig()).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:keywarden-alerts"), Message: aws.String("m")})
	mustOK(t, "Publish to seeded topic", err)

	events := lookupAll(t, s, nil)
	if got := eventNames(events); got != "CreateUser,GetCallerIdentity" {
		t.Errorf("seeded events = %s", got)
	}
	if aws.ToString(events[1].Username) != "ci-deployer" || aws.ToString(events[0].Username) != "alice" {
		t.Errorf("event users = %s, %s", aws.ToString(events[1].Username), aws.ToString(events[0].Username))
	}
	f := loadFixture(t, "testdata/demo-account.json")
	if got := strings.Join(f.ActivityRegions(), ","); got != "us-east-1,eu-west-1" {
		t.Errorf("ActivityRegions = %s", got)
	}
}

func loadFixture(t *testing.T, path string) Fixture {
	t.Helper()
	f, err := LoadFixture(path)
	if err != nil {
		t.Fatalf("LoadFixture: %v", err)
	}
	return f
}

func TestSeedRejectsBadFixturesAtomically(t *testing.T) {
	tests := []struct {
		name string
		f    Fixture
		want string
	}{
		{"duplicate user", Fixture{Users: []FixtureUser{{Name: "a"}, {Name: "a"}}}, "already exists"},
		{"bad user name", Fixture{Users: []FixtureUser{{Name: "a b"}}}, "name must be"},
		{"key of unknown user", Fixture{Keys: []FixtureKey{{User: "ghost"}}}, `user "ghost"`},
		{"third key", Fixture{Users: []FixtureUser{{Name: "a"}}, Keys: []FixtureKey{{User: "a"}, {User: "a"}, {User: "a"}}}, "more than 2"},
		{"bad status", Fixture{Users: []FixtureUser{{Name: "a"}}, Keys: []FixtureKey{{User: "a", Status: "Expired"}}}, "want Active or Inactive"},
		{"bad date", Fixture{Users: []FixtureUser{{Name: "a", Created: "last tuesday"}}}, "neither RFC 3339 nor relative"},
		{"bad key id", Fixture{Users: []FixtureUser{{Name: "a"}}, Keys: []FixtureKey{{User: "a", ID: "akia-lower"}}}, "id must be"},
		{"empty policy", Fixture{Users: []FixtureUser{{Name: "a"}}, Policies: []FixturePolicy{{User: "a", Name: "p", Document: []byte(`{"Statement": []}`)}}}, "Syntax errors"},
		{"policy without actions", Fixture{Users: []FixtureUser{{Name: "a"}}, Policies: []FixturePolicy{{User: "a", Name: "p", Document: []byte(`{"Statement": [{"Effect": "Allow"}]}`)}}}, "must contain actions"},
		{"event without time", Fixture{CloudTrail: []FixtureEvent{{EventName: "X"}}}, "time is required"},
		{"bad account", Fixture{AccountID: "12"}, "12 digits"},
		{"bad topic", Fixture{Topics: []string{"no spaces"}}, "topics[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Options{})
			err := s.Seed(tt.f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Seed error = %v, want one containing %q", err, tt.want)
			}
			if s.AccessKeys("a") != nil || s.AccountID() != DefaultAccountID {
				t.Errorf("a refused fixture changed state")
			}
		})
	}
}

func TestLoadFixtureRejectsUnknownFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.json")
	if err := os.WriteFile(path, []byte(`{"users": [{"name": "a", "tagz": {}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFixture(path); err == nil || !strings.Contains(err.Error(), "tagz") {
		t.Errorf("LoadFixture = %v, want an unknown-field error", err)
	}
	if _, err := LoadFixture(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("LoadFixture of a missing file succeeded")
	}
}

func TestFixtureTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"", testNow},
		{"-95d", testNow.Add(-95 * 24 * time.Hour)},
		{"-2h30m", testNow.Add(-150 * time.Minute)},
		{"+1d", testNow.Add(24 * time.Hour)},
		{"-10s", testNow.Add(-10 * time.Second)},
		{"2024-02-29T23:59:59Z", time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)},
		{"2024-03-01T01:00:00+02:00", time.Date(2024, 2, 29, 23, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := fixtureTime(tt.in, testNow)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("fixtureTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"95d", "-95", "-1y", "yesterday", "-d"} {
		if _, err := fixtureTime(bad, testNow); err == nil {
			t.Errorf("fixtureTime(%q) succeeded", bad)
		}
	}
}

// TestConcurrentUse runs writes, reads and inspection in parallel; run it
// with -race to check the locking.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{Faults: map[string]Fault{"iam:ListAccessKeys": {ThrottleRate: 0.2}}})
	seed(t, s, loadFixture(t, "testdata/demo-account.json"))
	c := iam.NewFromConfig(s.SDKConfig())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status := iamtypes.StatusTypeInactive
			if i%2 == 0 {
				status = iamtypes.StatusTypeActive
			}
			for range 5 {
				_, _ = c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String("AKIAEXPOSEDEXPOSED01"), Status: status})
				_, _ = c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
				_ = s.AccessKeys("alice")
				_ = s.Calls()
			}
		}()
	}
	wg.Wait()
	if n := len(callsTo(s, "iam", "UpdateAccessKey")); n != 40 {
		t.Errorf("%d UpdateAccessKey calls logged, want 40", n)
	}
}
