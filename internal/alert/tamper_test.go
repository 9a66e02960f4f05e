package alert

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/step"
	"github.com/keywarden/keywarden/internal/tamper"
)

const tamperExec = "arn:aws:states:us-east-1:123456789012:execution:Keywarden:tamper-ci-deployer-AKIAKEYWARDENDRILL01-8c4e2f10-6a3b-4c5d-9e7f-0a1b2c3d4e51"

var (
	// contained is when the exposed-key branch contained the key and
	// revoked the user's sessions, before the samples' tampering.
	contained = time.Date(2026, 11, 20, 9, 12, 51, 0, time.UTC)
	tamperCfg = tamper.Config{
		OwnRoles:    []string{"arn:aws:iam::123456789012:role/keywarden-RevokeFunctionRole"},
		WatchedTags: []string{"UserType", "keywarden:exempt", "keywarden:rotate", "keywarden:no-access-keys"},
		Undo:        true, OpenDays: 30,
	}
	containment = &ledger.Action{User: "ci-deployer", At: contained, RunID: "exposed-ci-deployer-AKIAKEYWARDENDRILL01", Reason: "reported exposed by trusted-advisor"}
	revocation  = &ledger.Revocation{User: "ci-deployer", KeyID: "AKIAKEYWARDENDRILL01", IssuedBefore: contained, At: contained, Execution: "exposed-ci-deployer-AKIAKEYWARDENDRILL01"}
)

// tamperIncident is the tamper branch's state for a sample: the event, the
// check's assessment and, when given, the response.
func tamperIncident(t *testing.T, sample string, facts tamper.Facts, cfg tamper.Config, r *tamper.Response) Incident {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "samples", sample))
	if err != nil {
		t.Fatal(err)
	}
	var inc Incident
	if err := json.Unmarshal(raw, &inc); err != nil {
		t.Fatal(err)
	}
	call, err := event.ParseIAMCall(raw)
	if err != nil {
		t.Fatal(err)
	}
	a := tamper.Decide(call, facts, cfg)
	inc.Tamper, inc.TamperResponse = &a, r
	return inc
}

func TestTamperAlertsGolden(t *testing.T) {
	done := func(status string) *tamper.Response {
		return &tamper.Response{Status: status, At: contained.Add(50 * time.Minute), Flagged: true}
	}
	noUndo := tamperCfg
	noUndo.Undo = false
	keyAge := &ledger.Action{User: "ci-deployer", At: contained, RunID: "daily-2026-11-20", Reason: "95 days old, limit 90"}
	closed := *revocation
	closed.At = contained.AddDate(0, 0, -40)
	newKey := tamperIncident(t, "cloudtrail-create-access-key.json", tamper.Facts{Revocation: &ledger.Revocation{User: "bob", KeyID: "AKIAKEYWARDENBOBOLD1",
		IssuedBefore: contained.AddDate(-2, 0, 0), At: time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC), Execution: "exposed-bob-AKIAKEYWARDENBOBOLD1"}}, tamperCfg, &tamper.Response{Flagged: true})
	unrecorded := tamperIncident(t, "cloudtrail-untag-user.json", tamper.Facts{}, tamperCfg, &tamper.Response{LedgerError: "ledger: record flag: Throttled"})
	for _, tc := range []struct {
		golden string
		inc    Incident
	}{
		{"tamper-reactivated-exposed-key.txt", tamperIncident(t, "cloudtrail-update-access-key.json", tamper.Facts{Contained: containment}, tamperCfg, done(tamper.StatusDeactivated))},
		{"tamper-reactivated-undo-off.txt", tamperIncident(t, "cloudtrail-update-access-key.json", tamper.Facts{Contained: containment}, noUndo, &tamper.Response{Flagged: true})},
		{"tamper-reactivated-key-age.txt", tamperIncident(t, "cloudtrail-update-access-key.json", tamper.Facts{Deactivated: keyAge}, tamperCfg, &tamper.Response{Flagged: true})},
		{"tamper-revoke-policy-deleted.txt", tamperIncident(t, "cloudtrail-delete-user-policy.json", tamper.Facts{Revocation: revocation}, tamperCfg, done(tamper.StatusRestored))},
		{"tamper-revoke-policy-changed-closed.txt", tamperIncident(t, "cloudtrail-put-user-policy.json", tamper.Facts{Revocation: &closed}, tamperCfg, &tamper.Response{Flagged: true})},
		{"tamper-policy-tag.txt", tamperIncident(t, "cloudtrail-tag-user.json", tamper.Facts{}, tamperCfg, &tamper.Response{Flagged: true})},
		{"tamper-policy-tag-not-recorded.txt", unrecorded},
		{"tamper-new-key-after-exposure.txt", newKey},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			if !tc.inc.Tamper.Tamper {
				t.Fatalf("the case is no tampering: %s", tc.inc.Tamper.Reason)
			}
			msg, err := Compose(Request{Kind: KindTamper, Execution: tamperExec, StartedAt: contained.Add(50 * time.Minute), Incident: tc.inc}, "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			got := "Subject: " + msg.Subject + "\n\n" + msg.Body
			golden.Check(t, filepath.Join("testdata", tc.golden), []byte(got))
			if len(msg.Subject) >= 100 || strings.ContainsAny(msg.Subject, "\r\n") {
				t.Errorf("subject not valid for SNS: %q", msg.Subject)
			}
			// Every tamper alert names who did it, from where and when.
			c := tc.inc.Tamper.Call
			for _, want := range []string{"Who:          " + c.Caller.ARN, "From:         " + c.SourceIP, "When:         " + stamp(c.EventTime)} {
				if !strings.Contains(msg.Body, want) {
					t.Errorf("the alert does not say %q", want)
				}
			}
		})
	}
}

// A failed tamper branch: the check (no assessment yet) or the response.
func TestTamperManualActionGolden(t *testing.T) {
	checkFailed := tamperIncident(t, "cloudtrail-delete-user-policy.json", tamper.Facts{}, tamperCfg, nil)
	checkFailed.Tamper = nil
	checkFailed.Error = &StepError{Error: step.Throttled, Cause: `{"errorMessage":"ledger: read revocation of ci-deployer's sessions: ProvisionedThroughputExceededException","errorType":"Throttled"}`}
	undoFailed := tamperIncident(t, "cloudtrail-delete-user-policy.json", tamper.Facts{Revocation: revocation}, tamperCfg, nil)
	undoFailed.Error = &StepError{Error: step.AccessDenied, Cause: `{"errorMessage":"put policy keywarden-revoke-older-sessions back on ci-deployer: AccessDenied","errorType":"AccessDenied"}`}
	keyFailed := tamperIncident(t, "cloudtrail-update-access-key.json", tamper.Facts{Contained: containment}, tamperCfg, nil)
	keyFailed.Error = &StepError{Error: "ContainmentUnverified", Cause: `{"errorMessage":"key AKIAKEYWARDENDRILL01 of ci-deployer still reads Active after being set Inactive (5 reads)","errorType":"ContainmentUnverified"}`}
	// A creation recorded, then the tamper check failed.
	newKey := tamperIncident(t, "cloudtrail-create-access-key.json", tamper.Facts{}, tamperCfg, nil)
	newKey.Tamper, newKey.Creation = nil, json.RawMessage(`{"recorded":true}`)
	newKey.Error = &StepError{Error: step.Transient, Cause: `{"errorMessage":"ledger: 500","errorType":"Transient"}`}
	for _, tc := range []struct {
		golden string
		inc    Incident
		says   string
	}{
		{"manual-action-tamper-check.txt", checkFailed, "could not judge this IAM call"},
		{"manual-action-tamper-restore.txt", undoFailed, "aws iam put-user-policy --user-name ci-deployer --policy-name keywarden-revoke-older-sessions"},
		{"manual-action-tamper-key.txt", keyFailed, "aws iam update-access-key --user-name ci-deployer --access-key-id AKIAKEYWARDENDRILL01 --status Inactive"},
		{"manual-action-tamper-new-key.txt", newKey, "could not judge this IAM call"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			msg, err := Compose(Request{Kind: KindManualAction, Execution: tamperExec, StartedAt: contained, Incident: tc.inc}, "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tc.golden), []byte("Subject: "+msg.Subject+"\n\n"+msg.Body))
			if !strings.Contains(msg.Body, tc.says) || strings.Contains(msg.Body, "key-creation record was not written") {
				t.Errorf("the alert does not say %q, or says the wrong branch:\n%s", tc.says, msg.Body)
			}
		})
	}
}

// The state as the state machine hands it over reaches the alert whole.
func TestTamperStateDecodes(t *testing.T) {
	state := `{"version":"0","id":"e","detail-type":"AWS API Call via CloudTrail","source":"awsmock.iam","account":"123456789012",
		"detail":{"eventName":"UpdateAccessKey"},
		"tamper":{"tamper":true,"kind":"reactivated-key","reason":"r","call":{"eventName":"UpdateAccessKey","caller":{"arn":"arn:aws:iam::123456789012:user/x"}},"undo":"deactivate-key"},
		"tamperResponse":{"undo":"deactivate-key","status":"deactivated","at":"2026-11-20T10:02:18Z","flagged":true}}`
	var req Request
	if err := json.Unmarshal([]byte(`{"kind":"tamper","execution":"e","incident":`+state+`}`), &req); err != nil {
		t.Fatal(err)
	}
	if req.Incident.Tamper == nil || req.Incident.Tamper.Undo != tamper.UndoDeactivateKey || req.Incident.TamperResponse == nil || !req.Incident.TamperResponse.Flagged {
		t.Errorf("decoded %+v", req.Incident)
	}
}

// The exposed-key alert says when the ledger did not take the containment
// or the revocation: the tamper watch cannot protect them then.
func TestExposedKeyAlertSaysWhatTheLedgerMissed(t *testing.T) {
	inc := full()
	inc.Containment.LedgerError = "ledger: record action contain on key AKIAKEYWARDENDRILL01: Throttled"
	inc.Revocation.LedgerError = "ledger: record revocation: Throttled"
	msg, err := Compose(Request{Kind: KindExposedKey, Execution: execArn, StartedAt: at, Incident: inc}, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"containment was NOT recorded in the ledger", "revocation was NOT recorded in the ledger"} {
		if !strings.Contains(msg.Body, want) {
			t.Errorf("the alert does not say %q:\n%s", want, msg.Body)
		}
	}
}
