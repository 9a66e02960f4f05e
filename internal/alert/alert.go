// Package alert composes keywarden's alerts and publishes them to the
// security team's SNS topic. Texts are plain, built only from what the steps
// recorded: ids, names, times, counts. No secret ever reaches this package.
package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/keywarden/keywarden/internal/activity"
	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/step"
	"github.com/keywarden/keywarden/internal/tamper"
)

// Kinds of alert, chosen by the state machine.
const (
	KindExposedKey       = "exposed-key"
	KindRootKey          = "root-key"
	KindManualAction     = "manual-action"
	KindUnsupportedEvent = "unsupported-event"
	// KindHealthNotice: an AWS Health event about IAM credentials that
	// names no key to contain (event.HealthNoticeCodes).
	KindHealthNotice = "health-notice"
	// KindForeignAccountKey: a key of an account this deployment does not
	// act in (Health's organizational view); no IAM call was made.
	KindForeignAccountKey = "foreign-account-key"
	// KindTamper: the tamper watch found a keywarden response undone or
	// bent (internal/tamper).
	KindTamper = "tamper"
)

// Kinds lists every alert kind, for the state machine's tests.
var Kinds = []string{KindExposedKey, KindRootKey, KindManualAction, KindUnsupportedEvent, KindHealthNotice, KindForeignAccountKey, KindTamper}

// Request is the alert step's input: the whole execution state as Incident.
type Request struct {
	Kind      string    `json:"kind"`
	Execution string    `json:"execution"`
	StartedAt time.Time `json:"startedAt"`
	Incident  Incident  `json:"incident"`
}

// Incident is the execution state: the event's envelope fields and each
// step's result, present as far as the branch got.
type Incident struct {
	Source      string                `json:"source"`
	DetailType  string                `json:"detail-type"`
	EventID     string                `json:"id"`
	Account     string                `json:"account"`
	Region      string                `json:"region"`
	Time        string                `json:"time"`
	Detail      json.RawMessage       `json:"detail,omitempty"`
	Finding     *event.Exposure       `json:"finding,omitempty"`
	Containment *exposure.Containment `json:"containment,omitempty"`
	Revocation  *exposure.Revocation  `json:"revocation,omitempty"`
	Activity    *activity.Summary     `json:"activity,omitempty"`
	// ActivityError is set when the CloudTrail lookup failed after its
	// retries; the branch goes on without it.
	ActivityError *StepError        `json:"activityError,omitempty"`
	Removal       *exposure.Removal `json:"removal,omitempty"`
	Error         *StepError        `json:"error,omitempty"`
	// Creator is filled by the alert step from the ledger, not the state.
	Creator *Creator `json:"-"`
	// Replacement, also from the ledger, is the key a rotation issued to
	// replace the exposed one, if any.
	Replacement *Replacement `json:"-"`

	// Tamper and TamperResponse are the tamper branch's check and
	// response; Creation is set once a key's creation was recorded.
	Tamper         *tamper.Assessment `json:"tamper,omitempty"`
	TamperResponse *tamper.Response   `json:"tamperResponse,omitempty"`
	Creation       json.RawMessage    `json:"creation,omitempty"`
}

// Replacement is a rotation's record of the key that replaced another.
type Replacement struct {
	NewKeyID  string
	SecretARN string
	At        time.Time
}

// ReplacementLookup finds the key that replaced keyID in a rotation; ok is
// false when there is none.
type ReplacementLookup func(ctx context.Context, keyID string) (r Replacement, ok bool, err error)

// StepError is what a Catch puts at ResultPath $.error.
type StepError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Creator is what the key-creation record knows of who made a key.
type Creator struct {
	ARN       string    `json:"arn,omitempty"`
	SourceIP  string    `json:"sourceIp,omitempty"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
}

// CreatorLookup finds a key's creator in the ledger; ok is false when the
// ledger has no record.
type CreatorLookup func(ctx context.Context, keyID string) (c Creator, ok bool, err error)

// Message is one alert.
type Message struct {
	Subject string
	Body    string
}

// Result is the alert step's output.
type Result struct {
	MessageID string `json:"messageId"`
	Subject   string `json:"subject"`
	// Cause is set for unsupported events; the Fail state quotes it.
	Cause string `json:"cause,omitempty"`
}

// PublishAPI is what the alert step calls.
type PublishAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var _ PublishAPI = (*sns.Client)(nil)

// Handler composes and publishes alerts.
type Handler struct {
	SNS      PublishAPI
	TopicArn string
	// ConsoleRegion is used for the console link when the execution ARN
	// does not say its region.
	ConsoleRegion string
	// Creators, when set, quotes who created the key (the ledger's record).
	Creators CreatorLookup
	// Replacements, when set, warns when rotation replaced the exposed key:
	// its user may read the secret holding the new key, and so may whoever
	// holds the exposed key.
	Replacements ReplacementLookup
}

// Handle composes the alert for the request and publishes it.
func (h Handler) Handle(ctx context.Context, req Request) (Result, error) {
	if f := req.Incident.Finding; h.Creators != nil && f != nil && f.AccessKeyID != "" && !f.Root && !f.ForeignAccount {
		// Best effort: an alert without the creator beats no alert.
		c, ok, err := h.Creators(ctx, f.AccessKeyID)
		if err != nil {
			slog.WarnContext(ctx, "creator not read", "accessKeyId", f.AccessKeyID, "error", err.Error())
		} else if ok {
			req.Incident.Creator = &c
		}
	}
	if f := req.Incident.Finding; h.Replacements != nil && f != nil && f.AccessKeyID != "" && !f.Root && !f.ForeignAccount {
		r, ok, err := h.Replacements(ctx, f.AccessKeyID)
		if err != nil {
			slog.WarnContext(ctx, "replacement not read", "accessKeyId", f.AccessKeyID, "error", err.Error())
		} else if ok {
			req.Incident.Replacement = &r
		}
	}
	msg, err := Compose(req, h.ConsoleRegion)
	if err != nil {
		return Result{}, err
	}
	attrs := map[string]snstypes.MessageAttributeValue{
		"kind": {DataType: aws.String("String"), StringValue: aws.String(req.Kind)},
	}
	if f := req.Incident.Finding; f != nil && f.AccessKeyID != "" {
		attrs["accessKeyId"] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(f.AccessKeyID)}
	}
	out, err := h.SNS.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(h.TopicArn), Subject: aws.String(msg.Subject),
		Message: aws.String(msg.Body), MessageAttributes: attrs,
	})
	if err != nil {
		return Result{}, step.Classify(fmt.Errorf("publish %s alert to %s: %w", req.Kind, h.TopicArn, err))
	}
	res := Result{MessageID: aws.ToString(out.MessageId), Subject: msg.Subject}
	if req.Kind == KindUnsupportedEvent {
		res.Cause = unsupportedCause(req.Incident)
	}
	slog.InfoContext(ctx, "alert published", "kind", req.Kind, "messageId", res.MessageID, "execution", req.Execution)
	return res, nil
}

// Compose renders the alert for a request.
func Compose(req Request, consoleRegion string) (Message, error) {
	switch req.Kind {
	case KindExposedKey:
		return exposedKey(req, consoleRegion), nil
	case KindRootKey:
		return rootKey(req, consoleRegion), nil
	case KindManualAction:
		return manualAction(req, consoleRegion), nil
	case KindUnsupportedEvent:
		return unsupportedEvent(req, consoleRegion), nil
	case KindHealthNotice:
		return healthNotice(req, consoleRegion), nil
	case KindForeignAccountKey:
		return foreignAccountKey(req, consoleRegion), nil
	case KindTamper:
		return tamperAlert(req, consoleRegion), nil
	}
	return Message{}, step.Errorf(step.InvalidEvent, "alert kind %q is not one of %s", clean(req.Kind, 40), strings.Join(Kinds, ", "))
}

func exposedKey(req Request, region string) Message {
	x := finding(req.Incident)
	var b strings.Builder
	fmt.Fprintf(&b, "keywarden responded to an exposed AWS access key.\n\n")
	writeFinding(&b, x)
	writeCreator(&b, req.Incident.Creator)
	writeReplacement(&b, x, req.Incident.Replacement)
	b.WriteString("\nWhat keywarden did\n")
	writeSteps(&b, req.Incident)
	if a := req.Incident.Activity; a != nil {
		b.WriteString("\n")
		writeActivity(&b, a)
	}
	b.WriteString("\nWhat to do now\n")
	b.WriteString("  - Find where the key was used legitimately and give that system a new key (never reuse the exposed one).\n")
	b.WriteString("  - Review the high-risk calls above: undo users, keys, policies or instances the attacker created.\n")
	if x.Location != "" {
		b.WriteString("  - Remove the key from where it was exposed, including the history of the repository or page.\n")
	}
	if r := req.Incident.Revocation; r != nil && r.Status == exposure.StatusRevoked && r.Attached() {
		fmt.Fprintf(&b, "  - %s's temporary sessions stay denied, new legitimate ones too, until a person detaches the policy. Once the\n", clean(r.UserName, 64))
		b.WriteString("    incident is over (the tamper watch attaches it again while the incident is open), lift the deny:\n")
		fmt.Fprintf(&b, "      aws iam detach-user-policy --user-name %s --policy-arn %s\n", clean(r.UserName, 64), clean(r.PolicyArn, 300))
	}
	writeExecution(&b, req, region)
	return Message{
		Subject: Subject(fmt.Sprintf("Security Alert: Exposed IAM Key For User %s On Account %s", x.UserName, x.Account)),
		Body:    b.String(),
	}
}

func rootKey(req Request, region string) Message {
	x := finding(req.Incident)
	var b strings.Builder
	b.WriteString("An access key of the ROOT USER was reported as exposed. keywarden cannot act on root keys\n")
	b.WriteString("through IAM, so it made no change. A person with the root credentials must act now.\n\n")
	writeFinding(&b, x)
	b.WriteString("\nEscalate and contain by hand\n")
	b.WriteString("  1. Sign in to the AWS console as the root user of account " + clean(x.Account, 12) + ".\n")
	b.WriteString("  2. Open Security credentials, find access key " + clean(x.AccessKeyID, 128) + ", deactivate it, then delete it.\n")
	b.WriteString("  3. Change the root password and make sure MFA is enabled for the root user.\n")
	b.WriteString("  4. Review CloudTrail for calls made with the key (lookup attribute AccessKeyId) and undo what the attacker created.\n")
	b.WriteString("  5. Answer the AWS Support case")
	if x.CaseID != "" {
		b.WriteString(" " + clean(x.CaseID, 200))
	}
	b.WriteString(" once done. Root users should hold no access keys at all.\n")
	writeExecution(&b, req, region)
	return Message{
		Subject: Subject(fmt.Sprintf("Security Alert: Exposed Root Access Key On Account %s - Manual Action Needed", x.Account)),
		Body:    b.String(),
	}
}

func manualAction(req Request, region string) Message {
	inc := req.Incident
	var b strings.Builder
	b.WriteString("keywarden could not finish a response and needs a person to act.\n\n")
	name, cause := "Unknown", "no error was recorded"
	if inc.Error != nil {
		name, cause = clean(inc.Error.Error, 100), causeText(inc.Error.Cause)
	}
	fmt.Fprintf(&b, "Error:        %s\nCause:        %s\n", name, cause)
	var subj string
	if x := inc.Finding; x != nil {
		b.WriteString("\n")
		writeFinding(&b, *x)
		b.WriteString("\nDone before the failure\n")
		writeSteps(&b, inc)
		subj = fmt.Sprintf("Security Alert: Manual Action Needed For Key %s Of User %s", x.AccessKeyID, x.UserName)
		if x.AccountName != "" {
			// Organization mode: the account matters more than the user
			// within SNS's 100 characters.
			subj = fmt.Sprintf("Security Alert: Manual Action Needed For Key %s In Account %s", x.AccessKeyID, x.Account)
		}
		b.WriteString("\nWhat to do now\n")
		if inc.Error != nil && inc.Error.Error == step.MemberRoleNotDeployed {
			fmt.Fprintf(&b, "  - keywarden could not act in account %s: its member role is not there (see the cause). Until the\n", accountText(*x))
			b.WriteString("    keywarden-member StackSet has a CURRENT stack instance in that account, act there by hand, with\n")
			b.WriteString("    credentials of that account.\n")
		}
		if inc.Containment == nil || inc.Containment.Status == "" {
			if x.AccountName != "" {
				fmt.Fprintf(&b, "  - The key may still be ACTIVE. Deactivate it now, with credentials of account %s:\n", clean(x.Account, 12))
			} else {
				b.WriteString("  - The key may still be ACTIVE. Deactivate it now:\n")
			}
			fmt.Fprintf(&b, "      aws iam update-access-key --user-name %s --access-key-id %s --status Inactive\n", clean(x.UserName, 64), clean(x.AccessKeyID, 128))
		}
		if inc.Error != nil && inc.Error.Error == exposure.ErrRevokePolicyLimitExceeded {
			arn := policyArnIn(inc.Error.Cause)
			fmt.Fprintf(&b, "  - The sessions of %s are NOT revoked: the user already has as many managed policies attached\n", clean(x.UserName, 64))
			b.WriteString("    as IAM allows (10 by default). Detach one it can do without (or raise the quota), then attach keywarden's deny:\n")
			fmt.Fprintf(&b, "      aws iam list-attached-user-policies --user-name %s\n", clean(x.UserName, 64))
			fmt.Fprintf(&b, "      aws iam attach-user-policy --user-name %s --policy-arn %s\n", clean(x.UserName, 64), arn)
		}
		b.WriteString("  - Fix the cause above, then finish the remaining steps by hand or start a new execution with this one's input.\n")
	} else if inc.DetailType == event.DetailTypeSchedule {
		b.WriteString("\nThe daily key-age run stopped before it finished. Keys already handled are in the ledger and\n")
		b.WriteString("are not handled twice; the rest were not checked today.\n")
		b.WriteString("\nWhat to do now\n  - Fix the cause above, then start a new execution with this one's input (under a new name):\n")
		b.WriteString("    notices and actions already recorded are skipped.\n")
		subj = "keywarden: Daily Key-Age Run Failed (" + name + ")"
	} else if s, ok := tamperManual(&b, req, name); ok {
		subj = s
	} else {
		fmt.Fprintf(&b, "\nEvent:        source %s, detail-type %s, id %s\n", quoted(inc.Source), quoted(inc.DetailType), quoted(inc.EventID))
		fmt.Fprintf(&b, "Account:      %s\n", orUnknown(clean(inc.Account, 12)))
		if name == step.MemberRoleNotDeployed {
			b.WriteString("keywarden could not act in the account the event names: its member role is not there (see the\n")
			b.WriteString("cause). No key was touched.\n")
			b.WriteString("\nWhat to do now\n  - Give the account a CURRENT stack instance of the keywarden-member StackSet, as the cause says.\n")
			b.WriteString("  - Until then, read the execution's input and act on the key by hand, with credentials of that account.\n")
		} else if name == step.AccountOutOfScope {
			// Replaying would fail the same way: say what changes the answer.
			b.WriteString("The account is out of keywarden's scope (see the cause): no role was assumed there, nothing was\n")
			b.WriteString("recorded and no key was touched.\n")
			b.WriteString("\nWhat to do now\n  - If keywarden should cover the account, bring it into scope (remove its opt-out tag, take it out\n")
			b.WriteString("    of excludedAccounts, or move it under organizationalUnits), then start a new execution with this one's input.\n")
			b.WriteString("  - If it is meant to be left out, its events still reach the hub through its keywarden-member stack (an\n")
			b.WriteString("    opted-out account keeps it): list it in excludedAccounts and remove that stack instance.\n")
		} else if inc.DetailType == event.DetailTypeCloudTrail {
			b.WriteString("The key-creation record was not written; no key was touched.\n")
			b.WriteString("\nWhat to do now\n  - Fix the cause above; the execution's input holds the CloudTrail event to record by hand or replay.\n")
		} else {
			b.WriteString("The event could not be read as an exposed-key finding, so no key was touched.\n")
			b.WriteString("\nWhat to do now\n  - Read the execution's input; if it reports a real exposure, contain the key by hand.\n")
		}
		// The execution's name tells incidents apart (the account is in the
		// body): invalid-<event id>, created-<user>-<key>, …
		subj = fmt.Sprintf("Security Alert: Manual Action Needed: %s (%s)", executionName(req.Execution), name)
	}
	writeExecution(&b, req, region)
	return Message{Subject: Subject(subj), Body: b.String()}
}

// policyArnPattern finds a managed policy's ARN in an error's cause.
var policyArnPattern = regexp.MustCompile(`arn:aws[a-z-]*:iam::[0-9]{12}:policy/[\w+=,.@/-]{1,640}`)

// policyArnIn is the first policy ARN the cause names, or a placeholder.
func policyArnIn(cause string) string {
	if arn := policyArnPattern.FindString(cause); arn != "" {
		return arn
	}
	return "<the policy ARN in the cause above>"
}

func unsupportedEvent(req Request, region string) Message {
	inc := req.Incident
	var b strings.Builder
	b.WriteString("keywarden received an event it has no branch for, and did nothing.\n\n")
	fmt.Fprintf(&b, "Source:       %s\nDetail type:  %s\nEvent id:     %s\n", quoted(inc.Source), quoted(inc.DetailType), quoted(inc.EventID))
	b.WriteString("\nIf this event should be handled, check the EventBridge rules that target keywarden's intake;\n")
	b.WriteString("if it was sent by hand, compare it with the payloads in events/.\n")
	writeExecution(&b, req, region)
	return Message{Subject: Subject("keywarden: Unsupported Event From " + inc.Source), Body: b.String()}
}

func unsupportedCause(inc Incident) string {
	return fmt.Sprintf("no branch for source %s detail-type %s", quoted(inc.Source), quoted(inc.DetailType))
}

func finding(inc Incident) event.Exposure {
	if inc.Finding != nil {
		return *inc.Finding
	}
	return event.Exposure{Account: inc.Account}
}

// accountText is the finding's account, with its name in organization
// mode.
func accountText(x event.Exposure) string {
	account := orUnknown(clean(x.Account, 12))
	if x.AccountName != "" {
		account += " (" + clean(x.AccountName, 50) + ")"
	}
	return account
}

func writeFinding(b *strings.Builder, x event.Exposure) {
	user := clean(x.UserName, 64)
	if x.Root {
		user = "root"
	}
	fmt.Fprintf(b, "Key:          %s\n", clean(x.AccessKeyID, 128))
	fmt.Fprintf(b, "User:         %s\n", orUnknown(user))
	if x.ReportedUserName != "" {
		fmt.Fprintf(b, "              (the report named %s; IAM says the key is %s's)\n", clean(x.ReportedUserName, 64), user)
	}
	fmt.Fprintf(b, "Account:      %s\n", accountText(x))
	if x.ReceivedIn != "" {
		fmt.Fprintf(b, "              (the key's account, named by AWS Health's organizational view; received in %s)\n", clean(x.ReceivedIn, 12))
	}
	fmt.Fprintf(b, "Reported by:  %s\n", signalText(x))
	if x.KeysInEvent > 1 {
		fmt.Fprintf(b, "Same report:  AWS Health listed %d keys in this event; each has its own execution\n", x.KeysInEvent)
	}
	if !x.ReportedAt.IsZero() {
		fmt.Fprintf(b, "Reported at:  %s\n", stamp(x.ReportedAt))
	}
	if x.Location != "" {
		fmt.Fprintf(b, "Exposed at:   %s\n", clean(x.Location, 500))
	}
	if x.FraudType != "" {
		fmt.Fprintf(b, "Fraud type:   %s\n", clean(x.FraudType, 100))
	}
	if x.UsagePerDay != "" {
		fmt.Fprintf(b, "Usage:        %s USD per day\n", clean(x.UsagePerDay, 40))
	}
	if x.Description != "" {
		fmt.Fprintf(b, "AWS says:     %s\n", clean(x.Description, 600))
	}
	writeMetadata(b, x.HealthMetadata)
}

// writeMetadata quotes a Health event's eventMetadata, one entry a line.
func writeMetadata(b *strings.Builder, m map[string]string) {
	label := "AWS metadata: "
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(b, "%s%s: %s\n", label, clean(k, 100), clean(m[k], 300))
		label = "              "
	}
}

func writeCreator(b *strings.Builder, c *Creator) {
	if c == nil {
		return
	}
	fmt.Fprintf(b, "Created:      %s by %s from %s\n", stamp(c.CreatedAt), orUnknown(clean(c.ARN, 300)), orUnknown(clean(c.SourceIP, 60)))
}

// writeReplacement warns that the exposed key opens its user's rotation
// secret, which holds the key that replaced it.
func writeReplacement(b *strings.Builder, x event.Exposure, r *Replacement) {
	if r == nil {
		return
	}
	user, key := clean(x.UserName, 64), clean(r.NewKeyID, 128)
	fmt.Fprintf(b, "\nALSO AT RISK: rotation replaced this key on %s with key %s, kept in the secret\n%s.\n", stamp(r.At), key, clean(r.SecretARN, 300))
	b.WriteString("The user may read its own secret, so whoever holds the exposed key may have read the new one.\n")
	b.WriteString("keywarden did not touch it: contain it too, then rotate the user by hand:\n")
	fmt.Fprintf(b, "  aws iam update-access-key --user-name %s --access-key-id %s --status Inactive\n", user, key)
}

func signalText(x event.Exposure) string {
	switch x.Signal {
	case "trusted-advisor":
		s := "Trusted Advisor, check \"Exposed Access Keys\""
		if x.Source == event.SourceTrustedAdvisorMock {
			s += " (DRILL: source " + event.SourceTrustedAdvisorMock + ")"
		}
		if x.CaseID != "" {
			s += ", case " + clean(x.CaseID, 100)
		}
		return s
	case "health":
		return "AWS Health, " + clean(x.HealthEventType, 100)
	}
	return orUnknown(clean(x.Source, 100))
}

func writeSteps(b *strings.Builder, inc Incident) {
	n := 0
	line := func(format string, args ...any) {
		n++
		fmt.Fprintf(b, "  %d. "+format+"\n", append([]any{n}, args...)...)
	}
	if c := inc.Containment; c != nil {
		switch c.Status {
		case exposure.StatusDeactivated:
			line("Contained: key set Inactive at %s and read back as Inactive.", stamp(c.At))
		case exposure.StatusAlreadyGone:
			line("Contained: the key was already gone (IAM has no such key for %s); nothing to deactivate.", clean(c.UserName, 64))
		default:
			line("Containment: %s.", clean(c.Status, 40))
		}
		if c.LedgerError != "" {
			line("The containment was NOT recorded in the ledger (%s): the tamper watch will not set the key Inactive again if it is re-activated.", clean(c.LedgerError, 300))
		}
	}
	if r := inc.Revocation; r != nil {
		switch r.Status {
		case exposure.StatusRevoked:
			if r.Attached() {
				line("Sessions revoked: managed policy %s attached to %s at %s denies every action to EVERY temporary session of the user,\n"+
					"     issued before or after the incident, until a person detaches it.", clean(r.PolicyArn, 300), clean(r.UserName, 64), stamp(r.IssuedBefore))
			} else {
				line("Sessions revoked: inline policy %s on %s denies every action to sessions issued before %s.", r.PolicyName, clean(r.UserName, 64), stamp(r.IssuedBefore))
			}
		case exposure.StatusUserGone:
			line("Sessions: user %s no longer exists; no sessions to revoke.", clean(r.UserName, 64))
		default:
			line("Sessions: %s.", clean(r.Status, 40))
		}
		if r.LedgerError != "" {
			line("The revocation was NOT recorded in the ledger (%s): the tamper watch will not put the policy back if it is deleted.", clean(r.LedgerError, 300))
		}
	}
	if a := inc.Activity; a != nil {
		line("Activity looked up in CloudTrail: %s.", activityHeadline(a))
	}
	if e := inc.ActivityError; e != nil {
		key := ""
		if inc.Finding != nil {
			key = inc.Finding.AccessKeyID
		}
		line("Activity lookup FAILED (%s: %s). Search CloudTrail event history by hand for AccessKeyId %s.", clean(e.Error, 60), causeText(e.Cause), clean(key, 128))
	}
	if r := inc.Removal; r != nil {
		switch r.Status {
		case exposure.StatusDeleted:
			line("Key deleted at %s (exposedKeyAction=delete).", stamp(r.At))
		case exposure.StatusKeptInactive:
			line("Key kept inactive for investigation (exposedKeyAction=deactivate); delete it when done.")
		case exposure.StatusAlreadyGone:
			line("Key already gone; nothing to delete.")
		default:
			line("Removal: %s.", clean(r.Status, 40))
		}
	}
	if n == 0 {
		b.WriteString("  Nothing: the failure came before any change.\n")
	}
}

func writeExecution(b *strings.Builder, req Request, region string) {
	b.WriteString("\nExecution\n")
	fmt.Fprintf(b, "  %s\n", orUnknown(clean(req.Execution, 300)))
	if link := ConsoleLink(req.Execution, region); link != "" {
		fmt.Fprintf(b, "  %s\n", link)
	}
	if !req.StartedAt.IsZero() {
		fmt.Fprintf(b, "  started %s\n", stamp(req.StartedAt))
	}
}

// executionName is the last part of an execution ARN: what the execution
// was about (invalid-<event id>, created-<user>-<key>, …).
func executionName(arn string) string {
	if i := strings.LastIndex(arn, ":"); i >= 0 {
		arn = arn[i+1:]
	}
	return clean(arn, 80)
}

// ConsoleLink returns the Step Functions console page of an execution, or ""
// when the ARN is not an execution ARN. The region comes from the ARN, else
// from fallbackRegion.
func ConsoleLink(executionArn, fallbackRegion string) string {
	parts := strings.SplitN(executionArn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || parts[2] != "states" || !strings.HasPrefix(parts[5], "execution:") {
		return ""
	}
	region := parts[3]
	if region == "" {
		region = fallbackRegion
	}
	host := "console.aws.amazon.com"
	switch parts[1] {
	case "aws-us-gov":
		host = "console.amazonaws-us-gov.com"
	case "aws-cn":
		host = "console.amazonaws.cn"
	}
	return fmt.Sprintf("https://%s.%s/states/home?region=%s#/v2/executions/details/%s", region, host, region, executionArn)
}

// Subject makes an SNS subject: printable ASCII, no line breaks, under 100
// characters, as SNS requires.
func Subject(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteRune('?')
		}
	}
	out := strings.TrimSpace(b.String())
	if len(out) > 99 {
		out = out[:96] + "..."
	}
	return out
}

// clean makes text from an event safe to quote on one line: control
// characters (line breaks that could forge alert lines, terminal escapes)
// become spaces, and it is cut at max runes.
func clean(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

func quoted(s string) string {
	if s == "" {
		return "(missing)"
	}
	return fmt.Sprintf("%q", clean(s, 200))
}

func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(unknown)"
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// causeText renders a Catch's Cause. For a Lambda error it is the JSON of
// {errorMessage, errorType, …}: quote the message only.
func causeText(cause string) string {
	var lambdaErr struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal([]byte(cause), &lambdaErr) == nil && lambdaErr.ErrorMessage != "" {
		return clean(lambdaErr.ErrorMessage, 1000)
	}
	return orUnknown(clean(cause, 1000))
}
