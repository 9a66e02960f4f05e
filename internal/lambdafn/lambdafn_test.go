package lambdafn

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

func env(vars map[string]string) settings.Lookup {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// A function that cannot start answers every invocation with InvalidSetting,
// which the state machine catches and alerts on.
func TestFailingHandler(t *testing.T) {
	h := failing(errors.New("KEYWARDEN_ALERT_TOPIC_ARN is not set"))
	_, err := h.Invoke(context.Background(), []byte(`{}`))
	if ErrorType(err) != step.InvalidSetting || !strings.Contains(err.Error(), "KEYWARDEN_ALERT_TOPIC_ARN") {
		t.Errorf("err %v (%s)", err, ErrorType(err))
	}
}

func TestWrapNamesErrors(t *testing.T) {
	h := Wrap(func(_ context.Context, in struct{ N int }) (struct{ M int }, error) {
		if in.N < 0 {
			return struct{ M int }{}, step.Errorf(step.InvalidEvent, "negative %d", in.N)
		}
		return struct{ M int }{in.N * 2}, nil
	})
	out, err := h.Invoke(context.Background(), []byte(`{"N":2}`))
	if err != nil || string(out) != `{"M":4}` {
		t.Errorf("ok path: %s %v", out, err)
	}
	_, err = h.Invoke(context.Background(), []byte(`{"N":-1}`))
	var ive messages.InvokeResponse_Error
	if !errors.As(err, &ive) || ive.Type != step.InvalidEvent || ive.Message != "negative -1" {
		t.Errorf("error path: %#v", err)
	}
	if _, err := h.Invoke(context.Background(), []byte(`{"N":"x"}`)); err == nil {
		t.Error("a payload of the wrong shape must fail")
	}
}

// The alert topic is required; console links name the function's region
// unless KEYWARDEN_CONSOLE_REGION says otherwise.
func TestAlertTopic(t *testing.T) {
	cfg := aws.Config{Region: "eu-west-1"}
	if _, _, err := AlertTopic(cfg, env(nil)); err == nil || !strings.Contains(err.Error(), settings.EnvAlertTopicArn+" is not set") {
		t.Errorf("no topic: err %v", err)
	}
	topic, region, err := AlertTopic(cfg, env(map[string]string{settings.EnvAlertTopicArn: "arn:t"}))
	if err != nil || topic != "arn:t" || region != "eu-west-1" {
		t.Errorf("defaults: %q %q %v", topic, region, err)
	}
	_, region, _ = AlertTopic(cfg, env(map[string]string{settings.EnvAlertTopicArn: "arn:t", settings.EnvConsoleRegion: "us-east-1"}))
	if region != "us-east-1" {
		t.Errorf("console region %q, want us-east-1", region)
	}
}
