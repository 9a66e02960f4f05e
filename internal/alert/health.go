package alert

import (
	"fmt"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/inventory"
)

// maxNoticeEntities bounds the affected entities a notice alert lists.
const maxNoticeEntities = 20

// healthNotice is the alert for an AWS Health event about IAM credentials
// that names no key to contain: what AWS reported, and what to check.
func healthNotice(req Request, region string) Message {
	inc := req.Incident
	env := event.Envelope{Source: inc.Source, DetailType: inc.DetailType, ID: inc.EventID, Account: inc.Account, Region: inc.Region, Detail: inc.Detail}
	env.Time, _ = time.Parse(time.RFC3339, inc.Time)
	n, err := env.HealthNotice()
	var b strings.Builder
	code := orUnknown(clean(n.EventTypeCode, 100))
	fmt.Fprintf(&b, "AWS Health reported %s for account %s. The report names no access key to\n", code, orUnknown(clean(n.Account, 12)))
	b.WriteString("contain, so keywarden changed nothing: a person should check what follows.\n\n")
	b.WriteString("What AWS reported\n")
	if err != nil {
		fmt.Fprintf(&b, "  The event's detail could not be read (%s): see the execution input.\n", clean(err.Error(), 300))
	}
	writeNotice(&b, n)
	b.WriteString("\nWhat to check\n")
	b.WriteString(noticeAdvice(n.EventTypeCode))
	writeExecution(&b, req, region)
	return Message{
		Subject: Subject(fmt.Sprintf("Security Alert: AWS Health %s On Account %s", code, orUnknown(clean(n.Account, 12)))),
		Body:    b.String(),
	}
}

func writeNotice(b *strings.Builder, n event.HealthNotice) {
	kind := clean(n.EventTypeCode, 100)
	if status := strings.TrimSpace(clean(n.Category, 40) + ", " + clean(n.StatusCode, 40)); status != "," {
		kind += " (" + strings.Trim(status, ", ") + ")"
	}
	fmt.Fprintf(b, "Event type:   %s\n", orUnknown(kind))
	fmt.Fprintf(b, "Account:      %s\n", orUnknown(clean(n.Account, 12)))
	if n.ReceivedIn != "" {
		fmt.Fprintf(b, "              (named by AWS Health's organizational view; received in %s)\n", clean(n.ReceivedIn, 12))
	}
	if n.EventArn != "" {
		fmt.Fprintf(b, "Event:        %s\n", clean(n.EventArn, 300))
	}
	if n.EventRegion != "" || n.Region != "" {
		fmt.Fprintf(b, "Region:       %s (delivered in %s)\n", orUnknown(clean(n.EventRegion, 40)), orUnknown(clean(n.Region, 40)))
	}
	if n.StartTime != "" {
		fmt.Fprintf(b, "Started:      %s\n", clean(n.StartTime, 60))
	}
	if !n.ReportedAt.IsZero() {
		fmt.Fprintf(b, "Reported at:  %s\n", stamp(n.ReportedAt))
	}
	label := "Affected:     "
	for i, en := range n.Entities {
		if i == maxNoticeEntities {
			fmt.Fprintf(b, "%sand %d more (see the execution input)\n", label, len(n.Entities)-i)
			break
		}
		line := clean(en.EntityValue, 200)
		if en.Status != "" {
			line += " (" + clean(en.Status, 40) + ")"
		}
		b.WriteString(label + line + "\n")
		label = "              "
	}
	if n.Description != "" {
		fmt.Fprintf(b, "AWS says:     %s\n", clean(n.Description, 600))
	}
	writeMetadata(b, n.Metadata)
}

// noticeAdvice says what to check for each notice code
// (event.HealthNoticeCodes), as the alert's lines.
func noticeAdvice(code string) string {
	switch code {
	case event.HealthIAMQuarantine:
		return `  - AWS attached an AWSCompromisedKeyQuarantine managed policy (V2 or later) to the identity above
    because its credentials were exposed. Do not detach it: follow the AWS Support case for this event.
  - Find which access key was exposed. AWS usually also reports it as AWS_RISK_CREDENTIALS_EXPOSED,
    which keywarden answers in its own execution (exposed-<user>-<key id>). If there is none, list
    the user's keys (aws iam list-access-keys --user-name <user>) and contain the exposed one by hand.
  - Review CloudTrail for the user's calls since the exposure: undo users, keys, policies or
    instances it created.
`
	case event.HealthConsoleCompromise:
		return `  - AWS suspects that console sign-in credentials of the account are compromised. Review
    ConsoleLogin events in CloudTrail for sign-ins from unknown addresses.
  - Reset the password of the user (or of the root user) that signed in, make sure MFA is on, and
    end its sessions.
  - Look for users, access keys, roles or policies created since, and answer the AWS Support case.
`
	}
	return "  - Read the event in the AWS Health dashboard, and the AWS Support case opened for it if any.\n"
}

// foreignAccountKey is the alert for a key of an account this deployment
// does not act in: no IAM call was made, a person contains it there.
func foreignAccountKey(req Request, region string) Message {
	x := finding(req.Incident)
	account, here := orUnknown(clean(x.Account, 12)), orUnknown(clean(x.ActsIn, 12))
	key := clean(x.AccessKeyID, 128)
	var b strings.Builder
	subject := fmt.Sprintf("Security Alert: Exposed Key Of Account %s - Not Handled By %s", account, here)
	if x.OutOfScope != "" {
		// Organization mode: the hub acts in the accounts in scope only.
		fmt.Fprintf(&b, "An access key of account %s was reported as exposed. keywarden's hub (account %s) may not act\n", accountText(x), here)
		fmt.Fprintf(&b, "in that account: %s.\n", clean(x.OutOfScope, 200))
		fmt.Fprintf(&b, "It assumed no role there and made no change: a person must contain the key in account %s.\n\n", account)
		subject = fmt.Sprintf("Security Alert: Exposed Key Of Account %s - Out Of keywarden's Scope", account)
	} else {
		fmt.Fprintf(&b, "An access key of account %s was reported as exposed. keywarden acts in account %s only,\n", account, here)
		fmt.Fprintf(&b, "so it made no IAM call and no change for this key: a person must contain it in account %s.\n\n", account)
	}
	writeFinding(&b, x)
	fmt.Fprintf(&b, "\nContain it in account %s, with credentials of that account\n", account)
	switch {
	case x.Root:
		fmt.Fprintf(&b, "  1. It is a ROOT USER key: sign in as the root user of account %s, open Security credentials,\n", account)
		fmt.Fprintf(&b, "     deactivate access key %s, then delete it.\n", key)
	case x.UserName != "":
		fmt.Fprintf(&b, "  1. The report names user %s; confirm it owns the key:\n", clean(x.UserName, 64))
		fmt.Fprintf(&b, "       aws iam get-access-key-last-used --access-key-id %s\n", key)
		fmt.Fprintf(&b, "     then deactivate it:\n       aws iam update-access-key --user-name <the user it names> --access-key-id %s --status Inactive\n", key)
	default:
		fmt.Fprintf(&b, "  1. Find the key's user (the answer's UserName):\n       aws iam get-access-key-last-used --access-key-id %s\n", key)
		fmt.Fprintf(&b, "     then deactivate it:\n       aws iam update-access-key --user-name <that user> --access-key-id %s --status Inactive\n", key)
	}
	if x.Root {
		fmt.Fprintf(&b, "  2. Review CloudTrail there for AccessKeyId %s and undo what it did; the root user should hold no access keys.\n", key)
	} else {
		fmt.Fprintf(&b, "  2. Deny the user's sessions issued before now, review CloudTrail there for AccessKeyId %s, then delete the key.\n", key)
	}
	fmt.Fprintf(&b, "  3. %s\n", coverAdvice(x, account))
	writeExecution(&b, req, region)
	return Message{Subject: Subject(subject), Body: b.String()}
}

// coverAdvice says how the account's next report gets answered.
func coverAdvice(x event.Exposure, account string) string {
	switch inventory.Reason(x.OutOfScope) {
	case "":
		return fmt.Sprintf("Deploy keywarden in account %s, so that its next report is answered there.", account)
	case inventory.ReasonManagement:
		return fmt.Sprintf("Deploy a per-account keywarden stack in the management account %s: member stacks never deploy there.", account)
	case inventory.ReasonNotInOrganization:
		return fmt.Sprintf("Account %s is not in the organization: deploy keywarden there, or have it join the organization.", account)
	case inventory.ReasonSuspended:
		return fmt.Sprintf("Account %s is not ACTIVE: check why a key of a closing account is still in use.", account)
	}
	return fmt.Sprintf("If account %s should be covered, bring it into scope (organizationalUnits, excludedAccounts, the opt-out tag).", account)
}
