package alert

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/step"
)

const (
	orgExecArn    = "arn:aws:states:us-east-1:999988887777:execution:Keywarden:exposed-111111111111-ci-deployer-AKIAKEYWARDENDRILL01"
	orgCreatedArn = "arn:aws:states:us-east-1:999988887777:execution:Keywarden:created-etl-runner-AKIADATAPRODKEY00002"
)

// The alerts of organization mode name the member account and its name,
// say why an account is out of scope with what brings it in, and tell a
// missing member role apart from a malformed event.
func TestOrganizationAlertsGolden(t *testing.T) {
	inMember := full()
	mx := *inMember.Finding
	mx.Account, mx.AccountName = "111111111111", "payments-prod"
	inMember.Finding, inMember.Account = &mx, "111111111111"
	inMember.Revocation = &exposure.Revocation{Status: exposure.StatusRevoked, UserName: mx.UserName, IssuedBefore: at,
		Method:     exposure.Method{With: "attachedPolicy", PolicyArn: "arn:aws:iam::111111111111:policy/keywarden/keywarden-deny-temporary-sessions"},
		PolicyName: "keywarden-deny-temporary-sessions"}

	outside := event.Exposure{
		Signal: "health", Source: event.SourceHealth, Account: "999999999999", ReceivedIn: "999988887777", Region: "us-east-1",
		ReportedAt: reported, AccessKeyID: "AKIAOUTSIDEORG000001", HealthEventType: event.HealthCredentialsExposed,
		ForeignAccount: true, ActsIn: "999988887777", OutOfScope: string(inventory.ReasonNotInOrganization),
	}
	optedOut := mx
	optedOut.ForeignAccount, optedOut.ActsIn, optedOut.OutOfScope = true, "999988887777", string(inventory.ReasonOptedOut)

	notDeployedCause := `{"errorMessage":"member role keywarden-member-respond not deployed in account 111111111111 (or its trust does not allow this hub): deploy the keywarden-member StackSet to the account's OU","errorType":"MemberRoleNotDeployed"}`
	atContain := Incident{Source: x.Source, Account: "111111111111", Finding: &mx,
		Error: &StepError{Error: step.MemberRoleNotDeployed, Cause: notDeployedCause}}
	atFinding := Incident{Source: event.SourceTrustedAdvisor, DetailType: event.DetailTypeTrustedAdvisor, EventID: "e1", Account: "333333333333",
		Error: &StepError{Error: step.MemberRoleNotDeployed, Cause: strings.ReplaceAll(notDeployedCause, "111111111111", "333333333333")}}

	optedOutCreation := Incident{Source: event.SourceIAM, DetailType: event.DetailTypeCloudTrail, EventID: "e2", Account: "222222222222",
		Error: &StepError{Error: step.AccountOutOfScope, Cause: `{"errorMessage":"AccountOutOfScope: account 222222222222 (data-prod) is out of scope: opted out by its optOutTag tag: keywarden made no call in it","errorType":"AccountOutOfScope"}`}}

	optedOutReactivation := optedOutCreation
	optedOutReactivation.Detail = []byte(`{"eventName":"UpdateAccessKey","eventSource":"iam.amazonaws.com"}`)

	for _, tc := range []struct {
		golden string
		req    Request
		says   []string
	}{
		{"org-exposed-key.txt", Request{Kind: KindExposedKey, Execution: orgExecArn, StartedAt: at, Incident: inMember},
			[]string{"111111111111 (payments-prod)", "detach-user-policy --user-name ci-deployer --policy-arn arn:aws:iam::111111111111:"}},
		{"org-outside-organization.txt", Request{Kind: KindForeignAccountKey, Execution: orgExecArn, StartedAt: at, Incident: Incident{Finding: &outside}},
			[]string{"Out Of keywarden's Scope", "not an account of the organization", "assumed no role"}},
		{"org-opted-out.txt", Request{Kind: KindForeignAccountKey, Execution: orgExecArn, StartedAt: at, Incident: Incident{Finding: &optedOut}},
			[]string{"opted out", "bring it into scope"}},
		{"org-member-role-missing-at-contain.txt", Request{Kind: KindManualAction, Execution: orgExecArn, StartedAt: at, Incident: atContain},
			[]string{"In Account 111111111111", "member role is not there", "with credentials of account 111111111111"}},
		{"org-member-role-missing-at-finding.txt", Request{Kind: KindManualAction, Execution: orgExecArn, StartedAt: at, Incident: atFinding},
			[]string{"not deployed in account 333333333333", "keywarden-member StackSet", "No key was touched"}},
		// Replaying the event would fail again: the alert says what
		// brings the account in, or how its events stop coming.
		{"org-out-of-scope-creation.txt", Request{Kind: KindManualAction, Execution: orgCreatedArn, StartedAt: at, Incident: optedOutCreation},
			[]string{"222222222222", "opted out", "out of keywarden's scope", "remove its opt-out tag", "list it in excludedAccounts"}},
		// The tamper watch's check of a call there: not judged, so
		// nothing to undo by hand either.
		{"org-out-of-scope-tamper.txt", Request{Kind: KindManualAction, Execution: orgCreatedArn, StartedAt: at, Incident: optedOutReactivation},
			[]string{"out of keywarden's scope", "nothing was\nrecorded"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			msg, err := Compose(tc.req, "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			text := "Subject: " + msg.Subject + "\n\n" + msg.Body
			golden.Check(t, filepath.Join("testdata", tc.golden), []byte(text))
			for _, want := range tc.says {
				if !strings.Contains(text, want) {
					t.Errorf("alert does not say %q:\n%s", want, text)
				}
			}
			if len(msg.Subject) >= 100 {
				t.Errorf("subject too long for SNS: %q", msg.Subject)
			}
		})
	}
}
