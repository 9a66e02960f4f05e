package keyage

import (
	"fmt"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/alert"
	"github.com/keywarden/keywarden/internal/policy"
)

// Creator is what the key-creation ledger knows of who made a key; zero
// when it knows nothing.
type Creator = alert.Creator

// Notice is one message to a key's owner.
type Notice struct {
	Subject string
	Body    string
}

// ComposeNotice renders the owner's notice for a decision. It names the key
// by id only (never a secret), says how old it is, what happens and when,
// and how to rotate it. In a dry run it says what would happen.
func ComposeNotice(d policy.Decision, account string, dryRun bool, creator Creator) Notice {
	var b strings.Builder
	would := func(done, wouldBe string) string {
		if dryRun {
			return wouldBe
		}
		return done
	}
	user, key := d.User, d.KeyID
	var subject string
	switch d.Notice {
	case policy.StageRotate:
		subject = fmt.Sprintf("AWS access key %s of %s %s", key, user, would("has been rotated", "would be rotated"))
	case policy.StageDeactivate:
		subject = fmt.Sprintf("AWS access key %s of %s %s", key, user, would("has been deactivated", "would be deactivated"))
	case policy.StageDelete:
		subject = fmt.Sprintf("AWS access key %s of %s %s", key, user, would("has been deleted", "would be deleted"))
	case policy.StageFinal:
		switch {
		case d.NotifyOnly:
			subject = fmt.Sprintf("AWS access key %s of %s is %d days old, past the limit: rotate it now", key, user, d.AgeDays)
		case d.Action == policy.ActionDeactivate:
			subject = fmt.Sprintf("AWS access key %s of %s %s today", key, user, would("is being deactivated", "would be deactivated"))
		default:
			subject = fmt.Sprintf("AWS access key %s of %s will be deactivated on %s", key, user, day(d.Deadline))
		}
	default:
		subject = fmt.Sprintf("AWS access key %s of %s is %d days old: rotate it", key, user, d.AgeDays)
	}
	if dryRun {
		subject = "[DRY RUN] " + subject
	}

	if dryRun {
		b.WriteString("DRY RUN: keywarden is checking key ages but changing nothing yet. This notice says what\nwould happen once enforcement is on.\n\n")
	}
	fmt.Fprintf(&b, "Key:       %s\nUser:      %s\n", key, user)
	if account != "" {
		fmt.Fprintf(&b, "Account:   %s\n", account)
	}
	fmt.Fprintf(&b, "Age:       %d days\n", d.AgeDays)
	if !creator.CreatedAt.IsZero() || creator.ARN != "" {
		fmt.Fprintf(&b, "Created:   %s by %s from %s\n", stamp(creator.CreatedAt), orUnknown(creator.ARN), orUnknown(creator.SourceIP))
	}
	b.WriteString("\n")
	switch {
	case d.Notice == policy.StageRotate && dryRun:
		fmt.Fprintf(&b, "The user is tagged for automatic rotation. keywarden would create a new key, store it in the\n"+
			"user's keywarden/access-key/ secret in Secrets Manager, and deactivate this key on %s.\n", day(d.Deadline))
	case d.Notice == policy.StageRotate:
		fmt.Fprintf(&b, "The user is tagged for automatic rotation, so keywarden created a new key for it:\n\n"+
			"New key:   %s\nSecret:    %s\n\n"+
			"The secret holds the new key id and secret access key; only this IAM user and the security\n"+
			"role can read it (the secret access key is in no e-mail, alert or log). Switch what uses\n"+
			"this key to the new one, for example with\n"+
			"  aws secretsmanager get-secret-value --secret-id %s --query SecretString --output text\n\n"+
			"This key, %s, keeps working until %s;\n"+
			"then keywarden deactivates it, and deletes it some days later.\n", d.ReplacedBy, d.SecretARN, d.SecretARN, key, day(d.Deadline))
	case d.ReplacedBy != "" && d.Notice == policy.StageDeactivate:
		fmt.Fprintf(&b, "This key was replaced by %s, kept in the Secrets Manager secret\n%s,\n"+
			"and %s. Anything still using it %s: switch it to the new key.\n", d.ReplacedBy, orUnknown(d.SecretARN),
			would("has now been deactivated", "would be deactivated today"), would("now fails", "would fail"))
	case d.Notice == policy.StageDeactivate || (d.Notice == policy.StageFinal && d.Action == policy.ActionDeactivate):
		fmt.Fprintf(&b, "The key is past the policy limit and %s. Anything still using it %s.\n",
			would("has been deactivated", "would be deactivated today"), would("now fails", "would fail"))
		b.WriteString("Create a new key (below) and update what used the old one. The old key can be\nreactivated by an administrator if something critical broke.\n")
	case d.Notice == policy.StageDelete:
		fmt.Fprintf(&b, "The key had been inactive past the policy's limit and %s.\n", would("has been deleted", "would be deleted"))
	case d.NotifyOnly:
		b.WriteString("This user is notify-only (a machine user): keywarden will not deactivate the key, but it is\npast or near the policy limit. Rotate it and update the system that uses it.\n")
		if !d.Deadline.IsZero() {
			fmt.Fprintf(&b, "Policy deadline: %s.\n", day(d.Deadline))
		}
	default:
		fmt.Fprintf(&b, "Rotate it before %s. On that day keywarden %s deactivate it, and anything still\nusing it will fail.\n", day(d.Deadline), would("will", "would"))
	}
	if d.Unused {
		b.WriteString("The key is unused (never used, or not used for a long time): if nothing needs it, delete it.\n")
	}
	if d.ExemptionProblem != "" {
		fmt.Fprintf(&b, "The user's exemption tag does not apply: %s.\n", d.ExemptionProblem)
	}
	if d.Notice != policy.StageDelete && !d.Rotation {
		fmt.Fprintf(&b, "\nHow to rotate\n")
		fmt.Fprintf(&b, "  aws iam create-access-key --user-name %s\n", user)
		b.WriteString("  # put the new key where the old one was used, check it works, then:\n")
		fmt.Fprintf(&b, "  aws iam update-access-key --user-name %s --access-key-id %s --status Inactive\n", user, key)
		fmt.Fprintf(&b, "  aws iam delete-access-key --user-name %s --access-key-id %s\n", user, key)
		b.WriteString("Better still, replace the key with a role (IAM Roles Anywhere, OIDC, SSO) and delete it.\n")
	}
	if len(d.Reasons) > 0 {
		fmt.Fprintf(&b, "\nWhy: %s.\n", strings.Join(d.Reasons, "; "))
	}
	return Notice{Subject: alert.Subject(subject), Body: b.String()}
}

func day(t time.Time) string {
	if t.IsZero() {
		return "(no date)"
	}
	return t.UTC().Format("Monday 2 January 2006")
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "(unknown time)"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
