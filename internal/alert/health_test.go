package alert

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/golden"
)

// incidentOf is what the state machine hands the alert step for a notice:
// the execution input, the event itself.
func incidentOf(t *testing.T, sample string) Incident {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "samples", sample))
	if err != nil {
		t.Fatal(err)
	}
	var inc Incident
	if err := json.Unmarshal(raw, &inc); err != nil {
		t.Fatal(err)
	}
	return inc
}

const noticeExec = "arn:aws:states:us-east-1:123456789012:execution:Keywarden:notice-IAM_QUARANTINE-123456789012-0a1b2c3d"

func TestHealthAlertsGolden(t *testing.T) {
	quarantine := incidentOf(t, "health-iam-quarantine.json")
	console := incidentOf(t, "health-iam-quarantine.json")
	console.Detail = []byte(strings.ReplaceAll(string(console.Detail), event.HealthIAMQuarantine, event.HealthConsoleCompromise))
	unreadable := incidentOf(t, "health-iam-quarantine.json")
	unreadable.Detail = []byte(`"text"`)

	member := event.Exposure{
		Signal: "health", Source: event.SourceHealth, Account: "111122223333", ReceivedIn: "123456789012", Region: "us-east-1",
		ReportedAt: reported, AccessKeyID: "AKIAMEMBERACCOUNT001", HealthEventType: event.HealthCredentialsExposed,
		CaseID:      "arn:aws:health:global::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED_8b2f6d1e03",
		Description: "Your AWS Access Key AKIAMEMBERACCOUNT001 was found publicly available.", ForeignAccount: true, ActsIn: "123456789012",
	}
	memberRoot := member
	memberRoot.Root, memberRoot.UserName = true, event.RootUserName

	twoKeys := full()
	hx := *twoKeys.Finding
	hx.Signal, hx.Source, hx.HealthEventType, hx.KeysInEvent = "health", event.SourceHealth, event.HealthCredentialsExposed, 2
	hx.CaseID, hx.FraudType, hx.UsagePerDay = "arn:aws:health:global::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED_e7f9a1b3c5", "", ""
	hx.ReportedUserName = "deployer"
	hx.HealthMetadata = map[string]string{"userName": "deployer", "exposureLocation": hx.Location, "hostile": "a\nSubject: all clear"}
	twoKeys.Finding = &hx

	for _, tc := range []struct {
		golden string
		req    Request
	}{
		{"health-notice-quarantine.txt", Request{Kind: KindHealthNotice, Execution: noticeExec, StartedAt: at, Incident: quarantine}},
		{"health-notice-console-compromise.txt", Request{Kind: KindHealthNotice, Execution: noticeExec, StartedAt: at, Incident: console}},
		{"health-notice-unreadable.txt", Request{Kind: KindHealthNotice, Execution: noticeExec, StartedAt: at, Incident: unreadable}},
		{"foreign-account-key.txt", Request{Kind: KindForeignAccountKey, Execution: execArn, StartedAt: at, Incident: Incident{Finding: &member, Account: "123456789012"}}},
		{"foreign-account-root-key.txt", Request{Kind: KindForeignAccountKey, Execution: execArn, StartedAt: at, Incident: Incident{Finding: &memberRoot, Account: "123456789012"}}},
		{"exposed-key-health-metadata.txt", Request{Kind: KindExposedKey, Execution: execArn, StartedAt: at, Incident: twoKeys}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			msg, err := Compose(tc.req, "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tc.golden), []byte("Subject: "+msg.Subject+"\n\n"+msg.Body))
			if len(msg.Subject) >= 100 || strings.ContainsAny(msg.Subject, "\r\n") {
				t.Errorf("subject not valid for SNS: %q", msg.Subject)
			}
			if strings.Contains(msg.Body, "\nSubject: all clear") {
				t.Error("a line break from the event reached the alert")
			}
		})
	}
}

// The foreign-account alert names the member account and tells no one to
// run a command that would act on the caller's own user.
func TestForeignAccountAlertNamesTheAccount(t *testing.T) {
	x := event.Exposure{Signal: "health", Account: "111122223333", ReceivedIn: "123456789012", AccessKeyID: "AKIAMEMBERACCOUNT001", ForeignAccount: true, ActsIn: "123456789012"}
	msg, err := Compose(Request{Kind: KindForeignAccountKey, Execution: execArn, Incident: Incident{Finding: &x}}, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Exposed Key Of Account 111122223333", "keywarden acts in account 123456789012 only", "no IAM call"} {
		if !strings.Contains(msg.Subject+"\n"+msg.Body, want) {
			t.Errorf("alert does not say %q:\n%s", want, msg.Body)
		}
	}
	if strings.Contains(msg.Body, "update-access-key --access-key-id") {
		t.Errorf("a command without --user-name acts on the caller's own user:\n%s", msg.Body)
	}
}
