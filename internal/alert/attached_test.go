package alert

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
	"github.com/keywarden/keywarden/internal/tamper"
)

const denyArn = "arn:aws:iam::123456789012:policy/keywarden-DenyTemporarySessionsPolicy"

// With revokeWith attachedPolicy the alert says that every temporary
// session of the user is denied until a person detaches the policy, and
// how; a user at IAM's quota of managed policies gets the commands to
// finish by hand.
func TestAttachedPolicyAlertsGolden(t *testing.T) {
	attached := full()
	attached.Revocation = &exposure.Revocation{Status: exposure.StatusRevoked, UserName: x.UserName,
		Method:     exposure.Method{With: settings.RevokeAttachedPolicy, PolicyArn: denyArn},
		PolicyName: "keywarden-DenyTemporarySessionsPolicy", IssuedBefore: at}
	limit := full()
	limit.Revocation, limit.Activity, limit.Removal = nil, nil, nil
	limit.Error = &StepError{Error: exposure.ErrRevokePolicyLimitExceeded, Cause: `{"errorMessage":"attach ` + denyArn +
		` to ci-deployer: the user has as many managed policies attached as IAM allows (10 by default): api error LimitExceeded: Cannot exceed quota for PoliciesPerUser: 10","errorType":"RevokePolicyLimitExceeded"}`}
	for _, tc := range []struct {
		golden string
		req    Request
		says   []string
	}{
		{"exposed-key-attached-policy.txt", Request{Kind: KindExposedKey, Execution: execArn, StartedAt: at, Incident: attached},
			[]string{"EVERY temporary session of the user", "until a person detaches it",
				"aws iam detach-user-policy --user-name ci-deployer --policy-arn " + denyArn}},
		{"manual-action-revoke-policy-limit.txt", Request{Kind: KindManualAction, Execution: execArn, StartedAt: at, Incident: limit},
			[]string{"NOT revoked", "10 by default", "aws iam attach-user-policy --user-name ci-deployer --policy-arn " + denyArn}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			msg, err := Compose(tc.req, "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tc.golden), []byte("Subject: "+msg.Subject+"\n\n"+msg.Body))
			for _, want := range tc.says {
				if !strings.Contains(msg.Body, want) {
					t.Errorf("the alert does not say %q:\n%s", want, msg.Body)
				}
			}
		})
	}
}

func TestAttachedPolicyTamperAlertsGolden(t *testing.T) {
	rev := &ledger.Revocation{User: "ci-deployer", KeyID: "AKIAKEYWARDENDRILL01", IssuedBefore: contained, At: contained,
		Execution: "exposed-ci-deployer-AKIAKEYWARDENDRILL01", With: settings.RevokeAttachedPolicy, PolicyArn: denyArn}
	closed := *rev
	closed.At = contained.AddDate(0, 0, -40)
	reattached := tamperIncident(t, "cloudtrail-detach-user-policy.json", tamper.Facts{Revocation: rev}, tamperCfg,
		&tamper.Response{Undo: tamper.UndoRestorePolicy, Status: tamper.StatusRestored, At: contained.Add(50 * time.Minute), Flagged: true})
	lifted := tamperIncident(t, "cloudtrail-detach-user-policy.json", tamper.Facts{Revocation: &closed}, tamperCfg, &tamper.Response{Flagged: true})
	failed := tamperIncident(t, "cloudtrail-detach-user-policy.json", tamper.Facts{Revocation: rev}, tamperCfg, nil)
	failed.Error = &StepError{Error: step.AccessDenied, Cause: `{"errorMessage":"put policy back: AccessDenied","errorType":"AccessDenied"}`}
	for _, tc := range []struct {
		golden string
		kind   string
		inc    Incident
		says   []string
	}{
		{"tamper-revoke-policy-detached.txt", KindTamper, reattached,
			[]string{"Subject: Security Alert: Session Revocation Of User ci-deployer Detached", "Call:         DetachUserPolicy " + denyArn,
				"Attached the policy " + denyArn + " to ci-deployer again"}},
		{"tamper-revoke-policy-detached-closed.txt", KindTamper, lifted,
			[]string{"how a person lifts the deny", "closed on"}},
		{"manual-action-tamper-reattach.txt", KindManualAction, failed,
			[]string{"aws iam attach-user-policy --user-name ci-deployer --policy-arn " + denyArn}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			msg, err := Compose(Request{Kind: tc.kind, Execution: tamperExec, StartedAt: contained.Add(50 * time.Minute), Incident: tc.inc}, "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			got := "Subject: " + msg.Subject + "\n\n" + msg.Body
			golden.Check(t, filepath.Join("testdata", tc.golden), []byte(got))
			for _, want := range tc.says {
				if !strings.Contains(got, want) {
					t.Errorf("the alert does not say %q:\n%s", want, got)
				}
			}
		})
	}
}
