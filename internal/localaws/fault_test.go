package localaws

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestThrottlingIsRetriedBySDK injects 50% throttling into UpdateAccessKey:
// the SDK's standard retryer recognizes IAM's Throttling answer and retries,
// so every call succeeds, and Calls shows the throttled attempts. The seed
// fixes which attempts are throttled.
func TestThrottlingIsRetriedBySDK(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{Seed: 1, Faults: map[string]Fault{"iam:UpdateAccessKey": {ThrottleRate: 0.5}}})
	seed(t, s, Fixture{Users: []FixtureUser{{Name: "alice"}}, Keys: []FixtureKey{{User: "alice", ID: "AKIAEXPOSEDEXPOSED01"}}})
	c := iam.NewFromConfig(s.SDKConfig())

	const calls = 8
	for i := range calls {
		status := iamtypes.StatusTypeInactive
		if i%2 == 1 {
			status = iamtypes.StatusTypeActive
		}
		_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String("AKIAEXPOSEDEXPOSED01"), Status: status})
		mustOK(t, fmt.Sprintf("UpdateAccessKey #%d", i), err)
	}
	throttled, ok := 0, 0
	for _, c := range callsTo(s, "iam", "UpdateAccessKey") {
		switch {
		case c.ErrorCode == "Throttling" && c.Status == 400 && c.Injected:
			throttled++
		case c.ErrorCode == "":
			ok++
		default:
			t.Errorf("unexpected call %+v", c)
		}
	}
	if ok != calls || throttled == 0 {
		t.Errorf("%d successful and %d throttled attempts; want %d successful and some throttled", ok, throttled, calls)
	}
}

// TestThrottlingWithDefaultRetryer uses a client with no retryer settings at
// all, exactly as production code builds it.
func TestThrottlingWithDefaultRetryer(t *testing.T) {
	ctx := context.Background()
	// With seed 3 the first attempt is throttled and the second is not.
	s := newTestServer(t, Options{Seed: 3, Faults: map[string]Fault{"cloudtrail:LookupEvents": {ThrottleRate: 0.5}}})
	cfg := s.SDKConfig()
	cfg.Retryer = nil // the SDK's own default: standard mode, 3 attempts
	c := cloudtrail.NewFromConfig(cfg)
	_, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	mustOK(t, "LookupEvents", err)
	calls := callsTo(s, "cloudtrail", "LookupEvents")
	if len(calls) < 2 || calls[0].ErrorCode != "ThrottlingException" || calls[len(calls)-1].ErrorCode != "" {
		t.Errorf("calls = %+v; want throttled attempts, then success", calls)
	}
}

func TestFaultsAreReproducible(t *testing.T) {
	run := func() string {
		s := newTestServer(t, Options{Seed: 42, Faults: map[string]Fault{"sts:*": {ThrottleRate: 0.3, ServerErrorRate: 0.3}}})
		cfg := s.SDKConfig()
		cfg.RetryMaxAttempts = 1
		c := iam.NewFromConfig(cfg) // IAM is not faulted: its calls must not disturb the sequence
		for range 5 {
			_, _ = c.ListUsers(context.Background(), &iam.ListUsersInput{})
		}
		out := ""
		for range 12 {
			_, err := stsGetCallerIdentity(s)
			code, _ := errorCode(err)
			out += code + ";"
		}
		return out
	}
	a, b := run(), run()
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
}

func TestInjectedErrors(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	seed(t, s, Fixture{Users: []FixtureUser{{Name: "alice"}}, Keys: []FixtureKey{{User: "alice", ID: "AKIAEXPOSEDEXPOSED01"}}, Topics: []string{"alerts"}})
	c := iam.NewFromConfig(s.SDKConfig())
	update := func() error {
		_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String("AKIAEXPOSEDEXPOSED01"), Status: iamtypes.StatusTypeInactive})
		return err
	}

	mustOK(t, "SetFault", s.SetFault("iam:UpdateAccessKey", Fault{ErrorCode: "AccessDenied"}))
	wantCode(t, update(), "AccessDenied", 403)
	if st, _ := s.AccessKey("AKIAEXPOSEDEXPOSED01"); st.Status != statusActive {
		t.Errorf("a failed call changed state: %+v", st)
	}

	// A 5xx is retried by the SDK: three attempts, then the error.
	mustOK(t, "SetFault", s.SetFault("iam:*", Fault{ServerErrorRate: 1}))
	mustOK(t, "SetFault", s.SetFault("iam:UpdateAccessKey", Fault{}))
	before := len(callsTo(s, "iam", "UpdateAccessKey"))
	var failure *iamtypes.ServiceFailureException
	if err := update(); !errors.As(err, &failure) {
		t.Errorf("UpdateAccessKey under 5xx: %v, want ServiceFailure", err)
	}
	if n := len(callsTo(s, "iam", "UpdateAccessKey")) - before; n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}

	s.ClearFaults()
	mustOK(t, "UpdateAccessKey without faults", update())

	mustOK(t, "SetFault", s.SetFault("iam:GetUser", Fault{Latency: 50 * time.Millisecond}))
	start := time.Now()
	_, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	mustOK(t, "GetUser", err)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("GetUser took %s, want at least the injected 50ms", d)
	}

	// SNS models throttling as "Throttled", 429. Since aws-sdk-go-v2
	// v1.48.0 (retry behavior 2.1) the standard retryer retries a 429 that
	// does not deserialize to a modeled error as throttling: three
	// attempts, then the error.
	mustOK(t, "SetFault", s.SetFault("sns:Publish", Fault{ThrottleRate: 1}))
	pub := sns.NewFromConfig(s.SDKConfig())
	_, err = pub.Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:alerts"), Message: aws.String("m")})
	// The SDK's Publish deserializer does not map "Throttled" to
	// ThrottledException; callers see a generic API error.
	wantCode(t, err, "Throttled", 429)
	if n := len(callsTo(s, "sns", "Publish")); n != 3 {
		t.Errorf("Throttled was attempted %d times; want 3 (retried as throttling since SDK v1.48.0)", n)
	}

	// Lambda's 429 TooManyRequestsException is retried.
	mustOK(t, "RegisterFunction", s.RegisterFunction("f", func(context.Context, []byte) ([]byte, error) { return []byte(`1`), nil }))
	mustOK(t, "SetFault", s.SetFault("lambda:Invoke", Fault{ThrottleRate: 1}))
	_, err = lambda.NewFromConfig(s.SDKConfig()).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f")})
	wantCode(t, err, "TooManyRequestsException", 429)
	if n := len(callsTo(s, "lambda", "Invoke")); n != 3 {
		t.Errorf("TooManyRequestsException was attempted %d times, want 3", n)
	}
}

func TestSetFaultValidates(t *testing.T) {
	s := newTestServer(t, Options{})
	for key, f := range map[string]Fault{
		"iam":                   {ThrottleRate: 0.1},
		"s3:*":                  {ThrottleRate: 0.1},
		"iam:DeleteUser":        {ThrottleRate: 0.1},
		"iam:*":                 {ThrottleRate: 0.7, ServerErrorRate: 0.7},
		"sns:Publish":           {Latency: -time.Second},
		"lambda:Invoke":         {ErrorCode: "X", ErrorStatus: 200},
		"cloudtrail:LookupEven": {ThrottleRate: 0.1},
	} {
		if err := s.SetFault(key, f); err == nil {
			t.Errorf("SetFault(%q, %+v) succeeded", key, f)
		}
	}
	if _, err := New(Options{Faults: map[string]Fault{"nope:*": {ThrottleRate: 1}}}); err == nil {
		t.Error("New with a bad fault key succeeded")
	}
}

// stsGetCallerIdentity makes one attempt, so every injected fault shows.
func stsGetCallerIdentity(s *Server) (*sts.GetCallerIdentityOutput, error) {
	cfg := s.SDKConfig()
	cfg.RetryMaxAttempts = 1
	return sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
}
