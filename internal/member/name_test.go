package member_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keywarden/keywarden/internal/member"
)

var stsName = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

func TestSessionName(t *testing.T) {
	long := "exposed-222222222222-" + strings.Repeat("u", 64) + "-AKIAALICEALICEALICE1" // 105 characters
	for _, tc := range []struct {
		execution, want string
	}{
		{"exposed-222222222222-alice-AKIAALICEALICEALICE1", "exposed-222222222222-alice-AKIAALICEALICEALICE1"},
		{"a+b=c,d.e@f-g_h", "a+b=c,d.e@f-g_h"},
		{"ab", "ab"},
		{strings.Repeat("x", 64), strings.Repeat("x", 64)},
		{strings.Repeat("x", 65), strings.Repeat("x", 51) + "-"},
		{long, "exposed-222222222222-" + strings.Repeat("u", 30) + "-"},
		{"a", "a-"},
		{"daily 2026:12:10", "daily-2026-12-10-"},
		{"aws:daily", "aws-daily-"},
		{"rotation-Ünï", "rotation--n--"},
	} {
		got, err := member.SessionName(tc.execution)
		if err != nil {
			t.Fatalf("SessionName(%q): %v", tc.execution, err)
		}
		if !stsName.MatchString(got) {
			t.Errorf("SessionName(%q) = %q: STS would refuse it", tc.execution, got)
		}
		if got == tc.want {
			continue // unchanged
		}
		// Altered: the sanitized prefix, "-", 12 hex characters.
		prefix, hash := got[:len(got)-12], got[len(got)-12:]
		if prefix != tc.want || !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(hash) {
			t.Errorf("SessionName(%q) = %q, want %q and a 12-hex hash", tc.execution, got, tc.want)
		}
		if again, _ := member.SessionName(tc.execution); again != got {
			t.Errorf("SessionName(%q) = %q, then %q", tc.execution, got, again)
		}
	}
	if _, err := member.SessionName(""); !errors.Is(err, member.ErrNoExecution) {
		t.Errorf("SessionName(\"\"): %v", err)
	}
}

// Names that the replacement or the cut would merge stay apart.
func TestSessionNamesStayDistinct(t *testing.T) {
	base := "exposed-222222222222-" + strings.Repeat("u", 60)
	executions := []string{"a b", "a:b", "a/b", "a-b", base + "-AKIA1", base + "-AKIA2", base, strings.Repeat("é", 40), strings.Repeat("è", 40)}
	seen := map[string]string{}
	for _, e := range executions {
		name, err := member.SessionName(e)
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("%q and %q both give %q", e, other, name)
		}
		seen[name] = e
	}
}

func TestRoleARN(t *testing.T) {
	for _, tc := range []struct{ region, want string }{
		{"us-east-1", "arn:aws:iam::222222222222:role/keywarden-member-respond"},
		{"eu-west-3", "arn:aws:iam::222222222222:role/keywarden-member-respond"},
		{"cn-north-1", "arn:aws-cn:iam::222222222222:role/keywarden-member-respond"},
		{"us-gov-west-1", "arn:aws-us-gov:iam::222222222222:role/keywarden-member-respond"},
		{"us-iso-east-1", "arn:aws-iso:iam::222222222222:role/keywarden-member-respond"},
		{"us-isob-east-1", "arn:aws-iso-b:iam::222222222222:role/keywarden-member-respond"},
	} {
		if got := member.RoleARN(tc.region, "222222222222", member.Respond); got != tc.want {
			t.Errorf("RoleARN(%s) = %s, want %s", tc.region, got, tc.want)
		}
	}
}

func TestRotationKeyARN(t *testing.T) {
	for _, tc := range []struct{ region, want string }{
		{"us-east-1", "arn:aws:kms:us-east-1:222222222222:alias/keywarden-rotation"},
		{"cn-north-1", "arn:aws-cn:kms:cn-north-1:222222222222:alias/keywarden-rotation"},
		{"us-gov-west-1", "arn:aws-us-gov:kms:us-gov-west-1:222222222222:alias/keywarden-rotation"},
	} {
		if got := member.RotationKeyARN(tc.region, "222222222222"); got != tc.want {
			t.Errorf("RotationKeyARN(%s) = %s, want %s", tc.region, got, tc.want)
		}
	}
}

// capture is an HTTP client that records the request and answers nothing.
type capture struct {
	host string
	form url.Values
}

var errCaptured = errors.New("captured")

func (c *capture) Do(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	c.host = r.URL.Host
	c.form, _ = url.ParseQuery(string(body))
	return nil, errCaptured
}

// With no endpoint setting, STS is the base region's own endpoint, and the
// request asks for what the member trust and role chaining allow.
func TestConfigUsesRegionalSTS(t *testing.T) {
	const exec = "exposed-222222222222-alice-AKIAALICEALICEALICE1"
	for _, tc := range []struct{ region, host, arn string }{
		{"us-east-1", "sts.us-east-1.amazonaws.com", "arn:aws:iam::222222222222:role/keywarden-member-read"},
		{"eu-west-1", "sts.eu-west-1.amazonaws.com", "arn:aws:iam::222222222222:role/keywarden-member-read"},
		{"cn-north-1", "sts.cn-north-1.amazonaws.com.cn", "arn:aws-cn:iam::222222222222:role/keywarden-member-read"},
	} {
		c := &capture{}
		base := aws.Config{
			Region:     tc.region,
			HTTPClient: c,
			Retryer:    func() aws.Retryer { return aws.NopRetryer{} },
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "ASIAHUB", SecretAccessKey: "x"}, nil
			}),
		}
		_, err := member.Config(context.Background(), base, "222222222222", member.Read, exec)
		if !errors.Is(err, errCaptured) {
			t.Fatalf("%s: %v", tc.region, err)
		}
		if c.host != tc.host {
			t.Errorf("%s: STS at %s, want %s", tc.region, c.host, tc.host)
		}
		want := url.Values{
			"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {tc.arn},
			"RoleSessionName": {exec}, "SourceIdentity": {exec}, "DurationSeconds": {"900"},
		}
		if c.form.Encode() != want.Encode() {
			t.Errorf("%s: AssumeRole %v, want %v", tc.region, c.form, want)
		}
	}
}
