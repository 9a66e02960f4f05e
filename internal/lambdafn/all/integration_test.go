package all

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/settings"
)

// Every handler, built as in production, against localaws through the real
// SDK clients, with 30% of IAM and CloudTrail calls throttled: the SDK's
// retries absorb it and each step still does its work. (In AWS the state
// machine's Retry adds attempts after the SDK's; here the SDK gets more.)
func TestHandlersAgainstLocalAWS(t *testing.T) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	srv, _, err := localaws.NewSeeded("../../../events/demo-account.json", localaws.Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := srv.SDKConfig()
	cfg.RetryMaxAttempts = 8
	ctx := context.Background()
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("alerts")})
	if err != nil {
		t.Fatal(err)
	}
	env := env(map[string]string{
		settings.EnvAlertTopicArn:   aws.ToString(topic.TopicArn),
		settings.EnvStateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:K",
		settings.EnvActivityRegions: "us-east-1,eu-west-1",
		settings.EnvAccount:         srv.AccountID(),
	})
	for _, key := range []string{"iam:*", "cloudtrail:*"} {
		if err := srv.SetFault(key, localaws.Fault{ThrottleRate: 0.3}); err != nil {
			t.Fatal(err)
		}
	}
	invoke := func(name string, payload any) map[string]any {
		t.Helper()
		h, err := New(name, cfg, env, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		in, _ := json.Marshal(payload)
		if raw, ok := payload.(json.RawMessage); ok {
			in = raw
		}
		out, err := h.Invoke(ctx, in)
		if err != nil {
			t.Fatalf("%s: %s: %v", name, lambdafn.ErrorType(err), err)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("%s output %s: %v", name, out, err)
		}
		return m
	}
	raw, err := os.ReadFile("../../../events/samples/trusted-advisor-exposed-key.json")
	if err != nil {
		t.Fatal(err)
	}
	finding := invoke(lambdafn.Finding, map[string]any{"event": json.RawMessage(raw), "execution": "exposed-ci-deployer-AKIAKEYWARDENDRILL01"})
	if finding["userName"] != "ci-deployer" || finding["ownerVerified"] != true {
		t.Fatalf("finding %v", finding)
	}
	in := map[string]any{"finding": finding}
	if c := invoke(lambdafn.Contain, in); c["status"] != "deactivated" {
		t.Errorf("contain %v", c)
	}
	if k, _ := srv.AccessKey("AKIAKEYWARDENDRILL01"); k.Status != "Inactive" {
		t.Errorf("key is %s after containment", k.Status)
	}
	if r := invoke(lambdafn.Revoke, in); r["status"] != "revoked" {
		t.Errorf("revoke %v", r)
	}
	if _, ok := srv.UserPolicies("ci-deployer")["keywarden-revoke-older-sessions"]; !ok {
		t.Error("no revocation policy")
	}
	act := invoke(lambdafn.Activity, in)
	if act["totalEvents"].(float64) < 8 || act["highRiskTotal"].(float64) < 5 {
		t.Errorf("activity %v", act)
	}
	in["containment"] = map[string]any{"status": "deactivated"}
	if r := invoke(lambdafn.Remove, in); r["status"] != "deleted" {
		t.Errorf("remove %v", r)
	}
	if k, _ := srv.AccessKey("AKIAKEYWARDENDRILL01"); !k.Deleted {
		t.Error("key not deleted")
	}
	// Removing again is success: the key is already gone.
	if r := invoke(lambdafn.Remove, in); r["status"] != "already-gone" {
		t.Errorf("second remove %v", r)
	}
	if err := srv.SetFault("sns:*", localaws.Fault{ErrorCode: "ThrottlingException"}); err != nil {
		t.Fatal(err)
	}
	h, _ := New(lambdafn.Alert, cfg, env, time.Now)
	req, _ := json.Marshal(map[string]any{"kind": "exposed-key", "execution": "arn:aws:states:us-east-1:123456789012:execution:K:x", "incident": map[string]any{"finding": finding}})
	if _, err := h.Invoke(ctx, req); lambdafn.ErrorType(err) != "Throttled" {
		t.Errorf("alert while SNS always throttles: %v (%s), want Throttled for the state machine to retry", err, lambdafn.ErrorType(err))
	}
	_ = srv.SetFault("sns:*", localaws.Fault{})
	alert := invoke(lambdafn.Alert, json.RawMessage(req))
	if !strings.Contains(alert["subject"].(string), "ci-deployer") || len(srv.Published()) != 1 {
		t.Errorf("alert %v, published %d", alert, len(srv.Published()))
	}
	throttled := 0
	for _, c := range srv.Calls() {
		if c.Injected && (c.ErrorCode == "Throttling" || c.ErrorCode == "ThrottlingException") {
			throttled++
		}
	}
	if throttled == 0 {
		t.Error("no call was throttled: the fault did not apply")
	}
	t.Logf("%d calls throttled and retried", throttled)
}
