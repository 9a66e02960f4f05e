package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/localaws"
)

// doctorEnv points the SDK's default chain at a localaws server, as an
// operator's AWS_ENDPOINT_URL would, with no file of the developer's.
func doctorEnv(t *testing.T) *localaws.Server {
	t.Helper()
	srv, err := localaws.New(localaws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_PROFILE", "")
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return srv
}

// seedHealthy deploys a small, healthy keywarden into srv.
func seedHealthy(t *testing.T, srv *localaws.Server) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	topic, err := sns.NewFromConfig(srv.SDKConfig()).CreateTopic(context.Background(), &sns.CreateTopicInput{Name: aws.String("alerts")})
	must(err)
	_, err = srv.AddSubscription(aws.ToString(topic.TopicArn), localaws.Subscription{Protocol: "email", Endpoint: "sec@example.com"})
	must(err)
	queue, err := srv.AddQueue("dlq")
	must(err)
	machine, err := srv.AddStateMachine("machine")
	must(err)
	now := srv.Now()
	_, err = srv.AddExecution(localaws.StateMachineExecution{StateMachineArn: machine, Name: "daily-" + now.Format("2006-01-02"),
		Status: localaws.ExecutionSucceeded, Start: now.Add(-time.Hour), Stop: now.Add(-59 * time.Minute)})
	must(err)
	for _, a := range []string{"Keywarden-DailyRunMissing", "Keywarden-DeadLetterQueue", "Keywarden-FailedExecutions"} {
		must(srv.SetAlarm(localaws.Alarm{Name: a, State: localaws.AlarmOK}))
	}
	must(srv.AddTrail(localaws.Trail{Name: "org-trail", MultiRegion: true, Logging: true}))
	must(srv.DefineRule(localaws.RuleDefinition{Name: "Keywarden-ScheduleRule", ScheduleExpression: "cron(0 8 * * ? *)"}))
	_, err = srv.AddStack(localaws.Stack{Name: "Keywarden", Created: now.Add(-72 * time.Hour),
		Outputs: []localaws.StackOutput{
			{Key: "StateMachineArn", Value: machine}, {Key: "AlertTopicArn", Value: aws.ToString(topic.TopicArn)},
			{Key: "DeadLetterQueueUrl", Value: queue}, {Key: "DailyRunMissingAlarmName", Value: "Keywarden-DailyRunMissing"},
			{Key: "DeadLetterQueueAlarmName", Value: "Keywarden-DeadLetterQueue"}, {Key: "FailedExecutionsAlarmName", Value: "Keywarden-FailedExecutions"},
			{Key: "KeyAgeMode", Value: "dry-run"}, {Key: "NoticeSender", Value: "none"},
		},
		Resources: []localaws.StackResource{{LogicalID: "ScheduleRule", PhysicalID: "Keywarden-ScheduleRule", Type: "AWS::Events::Rule"}}})
	must(err)
}

func TestDoctorCommand(t *testing.T) {
	srv := doctorEnv(t)
	seedHealthy(t, srv)
	ctx := context.Background()

	// Healthy but a dry run: a warning, exit 0.
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"doctor"}, &out, &errOut); code != 0 {
		t.Fatalf("doctor on a healthy stack: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "13 checks: 12 pass, 1 warn, 0 fail") || !strings.Contains(out.String(), "WARN  Settings as deployed: dry run") {
		t.Errorf("healthy output:\n%s", out.String())
	}

	// JSON, and a failing check: the region flag overrides AWS_REGION.
	out.Reset()
	if code := run(ctx, []string{"doctor", "--json", "--region", "eu-west-1"}, &out, &errOut); code != 1 {
		t.Errorf("doctor --region eu-west-1: exit %d, want 1", code)
	}
	var rep struct {
		Region  string
		Results []struct{ ID, Status string }
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, out.String())
	}
	if rep.Region != "eu-west-1" || len(rep.Results) == 0 || rep.Results[0].ID != "region" || rep.Results[0].Status != "fail" {
		t.Errorf("--json report: %+v", rep)
	}

	// A stack that is not there fails, and says what it could not check.
	out.Reset()
	if code := run(ctx, []string{"doctor", "--stack", "Missing"}, &out, &errOut); code != 1 {
		t.Errorf("doctor --stack Missing: exit %d, want 1", code)
	}
	if !strings.Contains(out.String(), "FAIL  Stack: no stack Missing in us-east-1") || !strings.Contains(out.String(), "not checked:") {
		t.Errorf("missing stack output:\n%s", out.String())
	}

	// Bad flags.
	for _, args := range [][]string{{"doctor", "--nope"}, {"doctor", "extra"}} {
		if code := run(ctx, args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
