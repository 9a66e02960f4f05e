package alert

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/activity"
	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/step"
)

const execArn = "arn:aws:states:us-east-1:123456789012:execution:Keywarden:exposed-ci-deployer-AKIAKEYWARDENDRILL01"

var (
	reported = time.Date(2026, 11, 20, 9, 12, 45, 0, time.UTC)
	at       = time.Date(2026, 11, 20, 9, 13, 2, 0, time.UTC)
	x        = event.Exposure{
		Signal: "trusted-advisor", Source: event.SourceTrustedAdvisor, Account: "123456789012", Region: "us-east-1",
		ReportedAt: reported, AccessKeyID: "AKIAKEYWARDENDRILL01", UserName: "ci-deployer", OwnerVerified: true,
		Location: "https://github.com/example-org/deploy-scripts/blob/main/config.env", CaseID: "02648f3b", FraudType: "Exposed", UsagePerDay: "0",
	}
	summary = &activity.Summary{
		AccessKeyID: x.AccessKeyID, UserName: x.UserName, LookedUpBy: []string{"AccessKeyId", "Username"},
		WindowStart: at.Add(-24 * time.Hour), WindowEnd: at, Regions: []string{"us-east-1", "eu-west-1"},
		Requests: 4, TotalEvents: 7, FirstSeen: at.Add(-3 * time.Hour), LastSeen: at.Add(-time.Hour),
		EventNames:    []activity.Count{{Name: "ListBuckets", Count: 3}, {Name: "CreateUser", Count: 2}, {Name: "GetCallerIdentity", Count: 2}},
		ResourceNames: []activity.Count{{Name: "backdoor", Count: 2}},
		ResourceTypes: []activity.Count{{Name: "AWS::IAM::User", Count: 2}},
		SourceIPs:     []activity.Count{{Name: "203.0.113.7", Count: 7}},
		AWSRegions:    []activity.Count{{Name: "us-east-1", Count: 7}},
		ErrorCodes:    []activity.Count{{Name: "AccessDenied", Count: 1}},
		HighRiskNames: []activity.Count{{Name: "CreateUser", Count: 2}},
		HighRisk: []activity.Call{
			{Time: at.Add(-time.Hour), EventName: "CreateUser", Region: "us-east-1", SourceIP: "203.0.113.7", Resources: []activity.Resource{{Type: "AWS::IAM::User", Name: "backdoor"}}},
			{Time: at.Add(-2 * time.Hour), EventName: "CreateUser", Region: "us-east-1", SourceIP: "203.0.113.7", ErrorCode: "AccessDenied"},
		},
		HighRiskTotal: 2,
	}
)

func full() Incident {
	return Incident{
		Source: x.Source, DetailType: event.DetailTypeTrustedAdvisor, EventID: "7bf73129", Account: x.Account,
		Finding:     &x,
		Containment: &exposure.Containment{Status: exposure.StatusDeactivated, AccessKeyID: x.AccessKeyID, UserName: x.UserName, KeyStatus: "Inactive", At: at},
		Revocation:  &exposure.Revocation{Status: exposure.StatusRevoked, UserName: x.UserName, PolicyName: exposure.RevokePolicyName, IssuedBefore: at},
		Activity:    summary,
		Removal:     &exposure.Removal{Status: exposure.StatusDeleted, Action: "delete", AccessKeyID: x.AccessKeyID, At: at.Add(5 * time.Second)},
	}
}

func withCreator() Incident {
	inc := full()
	inc.Creator = &Creator{ARN: "arn:aws:iam::123456789012:user/admin-alice", SourceIP: "192.0.2.10", CreatedAt: at.AddDate(0, 0, -200)}
	return inc
}

func TestComposeGolden(t *testing.T) {
	root := x
	root.Root, root.UserName, root.AccessKeyID = true, "root", "AKIAROOTKEYDRILL0001"
	partial := full()
	partial.Revocation, partial.Activity, partial.Removal = nil, nil, nil
	partial.Error = &StepError{Error: step.AccessDenied, Cause: `{"errorMessage":"revoke sessions of ci-deployer: AccessDenied: not allowed","errorType":"AccessDenied"}`}
	notContained := Incident{Source: x.Source, Account: x.Account, Finding: &x,
		Error: &StepError{Error: step.Throttled, Cause: `{"errorMessage":"deactivate key AKIAKEYWARDENDRILL01 of ci-deployer: Throttling","errorType":"Throttled"}`}}
	invalid := Incident{Source: event.SourceTrustedAdvisorMock, DetailType: event.DetailTypeTrustedAdvisor, EventID: "abc", Account: "123456789012",
		Error: &StepError{Error: step.InvalidEvent, Cause: `{"errorMessage":"invalid event: no access key id","errorType":"InvalidEvent"}`}}
	gone := full()
	gone.Containment.Status, gone.Revocation.Status, gone.Removal.Status = exposure.StatusAlreadyGone, exposure.StatusUserGone, exposure.StatusAlreadyGone
	noActivity := full()
	noActivity.Activity = nil
	noActivity.ActivityError = &StepError{Error: step.Throttled, Cause: `{"errorMessage":"look up CloudTrail events for key AKIAKEYWARDENDRILL01 in us-east-1: ThrottlingException","errorType":"Throttled"}`}
	kept := full()
	kept.Removal.Status, kept.Removal.Action = exposure.StatusKeptInactive, "deactivate"
	for _, tc := range []struct {
		golden string
		req    Request
	}{
		{"exposed-key.txt", Request{Kind: KindExposedKey, Execution: execArn, StartedAt: at, Incident: full()}},
		{"exposed-key-with-creator.txt", Request{Kind: KindExposedKey, Execution: execArn, StartedAt: at, Incident: withCreator()}},
		{"exposed-key-already-gone.txt", Request{Kind: KindExposedKey, Execution: execArn, StartedAt: at, Incident: gone}},
		{"exposed-key-activity-failed.txt", Request{Kind: KindExposedKey, Execution: execArn, StartedAt: at, Incident: noActivity}},
		{"exposed-key-kept-inactive.txt", Request{Kind: KindExposedKey, Execution: execArn, StartedAt: at, Incident: kept}},
		{"root-key.txt", Request{Kind: KindRootKey, Execution: execArn, StartedAt: at, Incident: Incident{Finding: &root, Account: x.Account}}},
		{"manual-action-after-containment.txt", Request{Kind: KindManualAction, Execution: execArn, StartedAt: at, Incident: partial}},
		{"manual-action-not-contained.txt", Request{Kind: KindManualAction, Execution: execArn, StartedAt: at, Incident: notContained}},
		{"manual-action-invalid-event.txt", Request{Kind: KindManualAction, Execution: execArn, StartedAt: at, Incident: invalid}},
		{"manual-action-daily-run.txt", Request{Kind: KindManualAction, Execution: execArn, StartedAt: at, Incident: Incident{Source: "aws.events", DetailType: "Scheduled Event", EventID: "d1", Account: "123456789012",
			Error: &StepError{Error: step.Transient, Cause: `{"errorMessage":"credential report: not ready after 5m0s","errorType":"Transient"}`}}}},
		{"unsupported-event.txt", Request{Kind: KindUnsupportedEvent, Execution: execArn, StartedAt: at, Incident: Incident{Source: "aws.ec2", DetailType: "EC2 Instance State-change Notification", EventID: "e1"}}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			msg, err := Compose(tc.req, "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			got := "Subject: " + msg.Subject + "\n\n" + msg.Body
			golden.Check(t, filepath.Join("testdata", tc.golden), []byte(got))
			if len(msg.Subject) >= 100 || strings.ContainsAny(msg.Subject, "\r\n") {
				t.Errorf("subject not valid for SNS: %q", msg.Subject)
			}
		})
	}
}

func TestHandleQuotesTheCreator(t *testing.T) {
	f := &fakeSNS{}
	looked := ""
	h := Handler{SNS: f, TopicArn: "t", Creators: func(_ context.Context, keyID string) (Creator, bool, error) {
		looked = keyID
		return Creator{ARN: "arn:aws:iam::123456789012:user/admin-alice", SourceIP: "192.0.2.10", CreatedAt: at}, true, nil
	}}
	if _, err := h.Handle(context.Background(), Request{Kind: KindExposedKey, Execution: execArn, Incident: full()}); err != nil {
		t.Fatal(err)
	}
	if looked != x.AccessKeyID || !strings.Contains(aws.ToString(f.in.Message), "by arn:aws:iam::123456789012:user/admin-alice from 192.0.2.10") {
		t.Errorf("creator not quoted (looked up %q):\n%s", looked, aws.ToString(f.in.Message))
	}
	h.Creators = func(context.Context, string) (Creator, bool, error) {
		return Creator{}, false, errors.New("ledger down")
	}
	if _, err := h.Handle(context.Background(), Request{Kind: KindExposedKey, Execution: execArn, Incident: full()}); err != nil {
		t.Errorf("a ledger failure must not stop the alert: %v", err)
	}
}

// When rotation replaced the exposed key, the alert names the new key and
// its secret as at risk: the exposed key's holder may read the secret.
func TestHandleWarnsOfTheReplacement(t *testing.T) {
	f := &fakeSNS{}
	secret := "arn:aws:secretsmanager:us-east-1:123456789012:secret:keywarden/access-key/ci-deployer-AbCdEf"
	h := Handler{SNS: f, TopicArn: "t", Replacements: func(_ context.Context, keyID string) (Replacement, bool, error) {
		return Replacement{NewKeyID: "AKIANEWKEY0000000001", SecretARN: secret, At: at.AddDate(0, 0, -3)}, keyID == x.AccessKeyID, nil
	}}
	if _, err := h.Handle(context.Background(), Request{Kind: KindExposedKey, Execution: execArn, Incident: full()}); err != nil {
		t.Fatal(err)
	}
	body := aws.ToString(f.in.Message)
	for _, want := range []string{"ALSO AT RISK", "AKIANEWKEY0000000001", secret, "--access-key-id AKIANEWKEY0000000001 --status Inactive"} {
		if !strings.Contains(body, want) {
			t.Errorf("alert lacks %q:\n%s", want, body)
		}
	}
	h.Replacements = func(context.Context, string) (Replacement, bool, error) { return Replacement{}, false, nil }
	if _, err := h.Handle(context.Background(), Request{Kind: KindExposedKey, Execution: execArn, Incident: full()}); err != nil || strings.Contains(aws.ToString(f.in.Message), "ALSO AT RISK") {
		t.Errorf("no replacement, yet: %v\n%s", err, aws.ToString(f.in.Message))
	}
	h.Replacements = func(context.Context, string) (Replacement, bool, error) {
		return Replacement{}, false, errors.New("ledger down")
	}
	if _, err := h.Handle(context.Background(), Request{Kind: KindExposedKey, Execution: execArn, Incident: full()}); err != nil {
		t.Errorf("a ledger failure must not stop the alert: %v", err)
	}
}

func TestHostileStringsStayOnTheirLine(t *testing.T) {
	evil := x
	evil.Location = "https://example.com/\nSubject: all clear\r\n\x1b[2J"
	evil.UserName = strings.Repeat("a", 64)
	inc := full()
	inc.Finding = &evil
	msg, err := Compose(Request{Kind: KindExposedKey, Execution: execArn, Incident: inc}, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(msg.Body, "\nSubject: all clear") || strings.Contains(msg.Body, "\x1b") {
		t.Errorf("an event string broke out of its line:\n%s", msg.Body)
	}
	if len(msg.Subject) >= 100 {
		t.Errorf("subject %d chars", len(msg.Subject))
	}
}

func TestUnknownKind(t *testing.T) {
	if _, err := Compose(Request{Kind: "party"}, ""); step.Name(err) != step.InvalidEvent {
		t.Errorf("err %v", err)
	}
}

func TestConsoleLink(t *testing.T) {
	for arn, want := range map[string]string{
		execArn: "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/" + execArn,
		"arn:aws-us-gov:states:us-gov-west-1:1:execution:K:n": "https://us-gov-west-1.console.amazonaws-us-gov.com/states/home?region=us-gov-west-1#/v2/executions/details/arn:aws-us-gov:states:us-gov-west-1:1:execution:K:n",
		"arn:aws:states:us-east-1:1:stateMachine:K":           "",
		"local-execution": "",
	} {
		if got := ConsoleLink(arn, "eu-west-1"); got != want {
			t.Errorf("ConsoleLink(%q) = %q, want %q", arn, got, want)
		}
	}
}

type fakeSNS struct {
	in  *sns.PublishInput
	err error
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.in = in
	if f.err != nil {
		return nil, f.err
	}
	return &sns.PublishOutput{MessageId: aws.String("m-1")}, nil
}

func TestHandlePublishes(t *testing.T) {
	f := &fakeSNS{}
	h := Handler{SNS: f, TopicArn: "arn:aws:sns:us-east-1:123456789012:alerts"}
	res, err := h.Handle(context.Background(), Request{Kind: KindExposedKey, Execution: execArn, Incident: full()})
	if err != nil {
		t.Fatal(err)
	}
	if res.MessageID != "m-1" || aws.ToString(f.in.TopicArn) != h.TopicArn || aws.ToString(f.in.Subject) != res.Subject {
		t.Errorf("result %+v, input %+v", res, f.in)
	}
	if got := aws.ToString(f.in.MessageAttributes["accessKeyId"].StringValue); got != x.AccessKeyID {
		t.Errorf("accessKeyId attribute %q", got)
	}
	if res.Cause != "" {
		t.Errorf("cause set for an exposed-key alert: %q", res.Cause)
	}

	res, err = h.Handle(context.Background(), Request{Kind: KindUnsupportedEvent, Incident: Incident{Source: "aws.ec2", DetailType: "EC2 Instance State-change Notification"}})
	if err != nil || res.Cause != `no branch for source "aws.ec2" detail-type "EC2 Instance State-change Notification"` {
		t.Errorf("unsupported: %+v, %v", res, err)
	}

	_, err = Handler{SNS: &fakeSNS{err: &smithy.GenericAPIError{Code: "Throttling"}}, TopicArn: "t"}.Handle(context.Background(), Request{Kind: KindExposedKey, Incident: full()})
	if step.Name(err) != step.Throttled {
		t.Errorf("publish failure: %v", err)
	}
}

// The state machine passes the whole state as the incident: the raw event's
// fields beside the step results. Unknown fields (detail, resources) are
// ignored, present results are read.
func TestIncidentFromState(t *testing.T) {
	state := `{"version":"0","id":"e-1","source":"aws.trustedadvisor","detail-type":"Trusted Advisor Check Item Refresh Notification","account":"123456789012","detail":{"check-name":"Exposed Access Keys"},
	"finding":{"accessKeyId":"AKIAKEYWARDENDRILL01","userName":"ci-deployer","account":"123456789012","signal":"trusted-advisor"},
	"containment":{"status":"deactivated","at":"2026-11-20T09:13:02Z"},
	"error":{"Error":"Throttled","Cause":"x"}}`
	var inc Incident
	if err := json.Unmarshal([]byte(state), &inc); err != nil {
		t.Fatal(err)
	}
	if inc.EventID != "e-1" || inc.Finding.UserName != "ci-deployer" || inc.Containment.Status != "deactivated" || inc.Error.Error != "Throttled" || inc.Revocation != nil {
		t.Errorf("%+v", inc)
	}
}
