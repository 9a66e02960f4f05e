package alert

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/step"
	"github.com/keywarden/keywarden/internal/tamper"
)

// tamperAlert is the tamper watch's alert: who undid or bent which
// response, when and from where, and what keywarden did about it.
func tamperAlert(req Request, region string) Message {
	inc := req.Incident
	a, r := inc.Tamper, inc.TamperResponse
	if a == nil {
		a = &tamper.Assessment{}
	}
	c := a.Call
	user := orUnknown(clean(c.User, 64))
	var b strings.Builder
	var subj string
	switch a.Kind {
	case tamper.KindReactivatedKey:
		if a.Deactivation != nil && a.Deactivation.By == tamper.ByKeyAge {
			b.WriteString("Someone set Active again an access key that keywarden's daily key-age run had deactivated.\n\n")
			subj = fmt.Sprintf("keywarden: Deactivated Key %s Of User %s Set Active Again", c.AccessKeyID, user)
		} else {
			b.WriteString("Someone set Active again an access key that keywarden had contained because it was EXPOSED.\n\n")
			subj = fmt.Sprintf("Security Alert: Exposed Key %s Of User %s Re-activated", c.AccessKeyID, user)
		}
	case tamper.KindRevokePolicy:
		fmt.Fprintf(&b, "Someone %s the policy that revokes %s's sessions after a key exposure.\n\n", policyVerb(c.EventName), user)
		subj = fmt.Sprintf("Security Alert: Session Revocation Of User %s %s", user, strings.ToUpper(policyVerb(c.EventName)[:1])+policyVerb(c.EventName)[1:])
	case tamper.KindPolicyTag:
		b.WriteString("Someone changed user tags that keywarden's key-age policy reads.\n\n")
		subj = "keywarden: Key-Age Policy Tags Of User " + user + " Changed"
	case tamper.KindNewKeyAfterExposure:
		b.WriteString("An access key was created for a user whose key keywarden contained as exposed, while that\nincident is open.\n\n")
		subj = fmt.Sprintf("Security Alert: New Key For User %s After Its Key Was Exposed", user)
	default:
		b.WriteString("keywarden's tamper watch reported an IAM call.\n\n")
		subj = "keywarden: Tamper Watch: " + clean(c.EventName, 40) + " On User " + user
	}
	writeCall(&b, c)
	fmt.Fprintf(&b, "Finding:      %s\n", clean(a.Reason, 600))
	writeUndone(&b, a)

	b.WriteString("\nWhat keywarden did\n")
	writeTamperSteps(&b, a, r)

	b.WriteString("\nWhat to do now\n")
	who := orUnknown(clean(c.Caller.ARN, 300))
	switch {
	case a.Kind == tamper.KindReactivatedKey && a.Deactivation != nil && a.Deactivation.By == tamper.ByKeyAge:
		fmt.Fprintf(&b, "  - Ask the owner of %s why. A key that must stay active past the limit needs an exemption\n", who)
		b.WriteString("    (the key-age policy's exemption tag, with an end date); otherwise the next enforcing run deactivates it again.\n")
	case a.Kind == tamper.KindReactivatedKey, a.Kind == tamper.KindRevokePolicy:
		fmt.Fprintf(&b, "  - Ask the owner of %s why. If no one expected it, treat that identity as compromised too:\n", who)
		b.WriteString("    its credentials can undo keywarden's response.\n")
	case a.Kind == tamper.KindPolicyTag:
		b.WriteString("  - Check that the change was approved; an exemption or a user type decides whether keys are deactivated.\n")
	case a.Kind == tamper.KindNewKeyAfterExposure:
		fmt.Fprintf(&b, "  - Confirm with %s that the new key is the planned replacement, and that the system that\n", who)
		b.WriteString("    leaked the old one no longer holds keys in plain text.\n")
	}
	if a.Undo == "" && a.Kind == tamper.KindReactivatedKey && (a.Deactivation == nil || a.Deactivation.By == tamper.ByExposedKey) {
		fmt.Fprintf(&b, "  - The exposed key is ACTIVE. Deactivate it:\n      aws iam update-access-key --user-name %s --access-key-id %s --status Inactive\n",
			clean(c.User, 64), clean(c.AccessKeyID, 128))
	}
	writeExecution(&b, req, region)
	return Message{Subject: Subject(subj), Body: b.String()}
}

// writeCall names who made the call, what it was, when and from where.
func writeCall(b *strings.Builder, c event.IAMCall) {
	who := orUnknown(clean(c.Caller.ARN, 300))
	if c.Caller.Type != "" {
		who += " (" + clean(c.Caller.Type, 40) + ")"
	}
	fmt.Fprintf(b, "Who:          %s\n", who)
	if c.Caller.RoleARN != "" {
		fmt.Fprintf(b, "              session of role %s\n", clean(c.Caller.RoleARN, 300))
	}
	if c.Caller.InvokedBy != "" {
		fmt.Fprintf(b, "              through %s\n", clean(c.Caller.InvokedBy, 100))
	}
	fmt.Fprintf(b, "From:         %s\n", orUnknown(clean(c.SourceIP, 100)))
	if !c.EventTime.IsZero() {
		fmt.Fprintf(b, "When:         %s\n", stamp(c.EventTime))
	}
	fmt.Fprintf(b, "Call:         %s\n", callText(c))
	if c.UserAgent != "" {
		fmt.Fprintf(b, "User agent:   %s\n", clean(c.UserAgent, 300))
	}
	fmt.Fprintf(b, "User:         %s\n", orUnknown(clean(c.User, 64)))
	if c.AccessKeyID != "" {
		fmt.Fprintf(b, "Key:          %s\n", clean(c.AccessKeyID, 128))
	}
	fmt.Fprintf(b, "Account:      %s\n", orUnknown(clean(c.Account, 12)))
	if c.EventID != "" {
		fmt.Fprintf(b, "Event id:     %s (CloudTrail)\n", clean(c.EventID, 128))
	}
	if c.Source == event.SourceIAMDrill {
		fmt.Fprintf(b, "              DRILL: source %s\n", event.SourceIAMDrill)
	}
}

func callText(c event.IAMCall) string {
	switch c.EventName {
	case event.EventNameUpdateAccessKey:
		return fmt.Sprintf("UpdateAccessKey %s --status %s", clean(c.AccessKeyID, 128), clean(c.Status, 20))
	case event.EventNamePutUserPolicy, event.EventNameDeleteUserPolicy:
		return fmt.Sprintf("%s %s", c.EventName, clean(c.PolicyName, 128))
	case event.EventNameDetachUserPolicy:
		return fmt.Sprintf("%s %s", c.EventName, clean(c.PolicyArn, 300))
	case event.EventNameTagUser:
		var tags []string
		for _, t := range c.Tags {
			tags = append(tags, fmt.Sprintf("%s=%q", clean(t.Key, 128), clean(t.Value, 256)))
		}
		return "TagUser " + strings.Join(tags, ", ")
	case event.EventNameUntagUser:
		var keys []string
		for _, k := range c.TagKeys {
			keys = append(keys, clean(k, 128))
		}
		return "UntagUser " + strings.Join(keys, ", ")
	case event.EventNameCreateAccessKey:
		return "CreateAccessKey, new key " + orUnknown(clean(c.AccessKeyID, 128))
	}
	return orUnknown(clean(c.EventName, 64))
}

func policyVerb(eventName string) string {
	switch eventName {
	case event.EventNamePutUserPolicy:
		return "changed"
	case event.EventNameDetachUserPolicy:
		return "detached"
	}
	return "deleted"
}

// writeUndone says what keywarden had done that the call undid or bends.
func writeUndone(b *strings.Builder, a *tamper.Assessment) {
	if d := a.Deactivation; d != nil {
		by := "contained as exposed"
		if d.By == tamper.ByKeyAge {
			by = "deactivated by the daily key-age run"
		}
		fmt.Fprintf(b, "keywarden:    %s on %s", by, stamp(d.At))
		if d.Execution != "" {
			fmt.Fprintf(b, " (execution %s)", clean(d.Execution, 80))
		}
		b.WriteString("\n")
	}
	if r := a.Revoked; r != nil {
		fmt.Fprintf(b, "Incident:     sessions revoked on %s after the exposure of key %s", stamp(r.At), clean(r.KeyID, 128))
		if r.Execution != "" {
			fmt.Fprintf(b, " (execution %s)", clean(r.Execution, 80))
		}
		state := "open until"
		if !r.Open {
			state = "closed on"
		}
		fmt.Fprintf(b, "\n              %s %s\n", state, stamp(r.OpenUntil))
	}
	for _, t := range a.TagChanges {
		fmt.Fprintf(b, "Tag:          %s\n", clean(t.String(), 400))
	}
}

func writeTamperSteps(b *strings.Builder, a *tamper.Assessment, r *tamper.Response) {
	n := 0
	line := func(format string, args ...any) {
		n++
		fmt.Fprintf(b, "  %d. "+format+"\n", append([]any{n}, args...)...)
	}
	c := a.Call
	switch {
	case r == nil:
		line("Nothing: the response did not run.")
	case r.Status == tamper.StatusDeactivated:
		line("Set the key Inactive again at %s and read it back as Inactive.", stamp(r.At))
	case r.Status == tamper.StatusAlreadyGone:
		line("The key is gone (IAM has no such key for %s): nothing to set Inactive.", clean(c.User, 64))
	case r.Status == tamper.StatusRestored && a.Revoked != nil && a.Revoked.Attached():
		line("Attached the policy %s to %s again at %s: every temporary session of the user is denied again.",
			clean(a.Revoked.PolicyArn, 300), clean(c.User, 64), stamp(r.At))
	case r.Status == tamper.StatusRestored:
		cut := ""
		if a.Revoked != nil {
			cut = " with its cut-off of " + stamp(a.Revoked.IssuedBefore)
		}
		line("Put the policy %s back on %s at %s%s.", exposure.RevokePolicyName, clean(c.User, 64), stamp(r.At), cut)
	case r.Status == tamper.StatusUserGone:
		line("User %s no longer exists: no policy to put back.", clean(c.User, 64))
	case a.NoUndo != "":
		line("Undid nothing: %s.", clean(a.NoUndo, 300))
	}
	if r == nil {
		return
	}
	if r.Flagged {
		line("Recorded in the ledger; the next daily digest lists it.")
	} else if r.LedgerError != "" {
		line("NOT recorded in the ledger (%s): the next digest will not list it.", clean(r.LedgerError, 300))
	}
}

// tamperManual writes the manual-action alert's part for a failed tamper
// branch: the check (inc.Tamper unset) or the response. ok is false when
// the execution is not the tamper branch's.
func tamperManual(b *strings.Builder, req Request, errName string) (subject string, ok bool) {
	inc := req.Incident
	eventName := detailEventName(inc.Detail)
	isTamper := inc.Tamper != nil || event.IsTamperEventName(eventName) ||
		(eventName == event.EventNameCreateAccessKey && len(inc.Creation) > 0)
	if !isTamper || inc.DetailType != event.DetailTypeCloudTrail || errName == step.AccountOutOfScope {
		// An account out of scope was not judged at all: manualAction says
		// so, as for a key creation there.
		return "", false
	}
	if a := inc.Tamper; a != nil {
		b.WriteString("\n")
		writeCall(b, a.Call)
		fmt.Fprintf(b, "Finding:      %s\n", clean(a.Reason, 600))
		writeUndone(b, a)
		b.WriteString("\nWhat to do now\n")
		c := a.Call
		switch a.Undo {
		case tamper.UndoDeactivateKey:
			b.WriteString("  - The exposed key may be ACTIVE again. Deactivate it now:\n")
			fmt.Fprintf(b, "      aws iam update-access-key --user-name %s --access-key-id %s --status Inactive\n", clean(c.User, 64), clean(c.AccessKeyID, 128))
		case tamper.UndoRestorePolicy:
			if a.Revoked != nil && a.Revoked.Attached() {
				b.WriteString("  - The user's temporary sessions may work again. Attach the deny policy again now:\n")
				fmt.Fprintf(b, "      aws iam attach-user-policy --user-name %s --policy-arn %s\n", clean(c.User, 64), clean(a.Revoked.PolicyArn, 300))
			} else if a.Revoked != nil {
				b.WriteString("  - The user's older sessions may work again. Put the revoke policy back now:\n")
				fmt.Fprintf(b, "      aws iam put-user-policy --user-name %s --policy-name %s --policy-document '%s'\n",
					clean(c.User, 64), exposure.RevokePolicyName, exposure.RevokePolicy(a.Revoked.IssuedBefore))
			}
		default:
			b.WriteString("  - Fix the cause above; the tampering is described here.\n")
		}
		return fmt.Sprintf("Security Alert: Manual Action Needed: %s (%s)", executionName(req.Execution), errName), true
	}
	fmt.Fprintf(b, "\nEvent:        source %s, detail-type %s, id %s, CloudTrail %s\n", quoted(inc.Source), quoted(inc.DetailType), quoted(inc.EventID), quoted(eventName))
	fmt.Fprintf(b, "Account:      %s\n", orUnknown(clean(inc.Account, 12)))
	b.WriteString("The tamper watch could not judge this IAM call, so nothing was undone.\n")
	b.WriteString("\nWhat to do now\n  - Read the CloudTrail event in the execution's input: if it re-activated a contained key or\n")
	b.WriteString("    removed or detached keywarden's revoke policy, undo it by hand.\n")
	return fmt.Sprintf("Security Alert: Manual Action Needed: %s (%s)", executionName(req.Execution), errName), true
}

// detailEventName is a CloudTrail detail's eventName, or "".
func detailEventName(detail json.RawMessage) string {
	var d struct {
		EventName string `json:"eventName"`
	}
	if json.Unmarshal(detail, &d) != nil {
		return ""
	}
	return d.EventName
}
