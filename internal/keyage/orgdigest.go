package keyage

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/keywarden/keywarden/internal/alert"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/step"
)

// AccountsFailed is the error of an organization run in which more
// accounts failed than toleratedFailurePercentage allows: the state
// machine alerts it and fails the execution.
const AccountsFailed = step.AccountsFailed

// OrganizationDigestInput is the organization digest step's input.
type OrganizationDigestInput struct {
	Step      string `json:"step"`
	Execution string `json:"execution"`
	// ToleratedFailurePercentage is the settings' share of accounts that
	// may fail before the run fails.
	ToleratedFailurePercentage float64 `json:"toleratedFailurePercentage"`
	// FanOutError is set when the Distributed Map itself failed (more
	// children failed than it tolerates, or it could not start): the
	// digest still goes out, naming the accounts with no result.
	FanOutError *StepFailure `json:"fanOutError,omitempty"`
}

// OrganizationDigestResult is the step's output. TooManyFailed routes the
// execution to the manual-action alert and a failed end, with Error.
type OrganizationDigestResult struct {
	MessageID     string       `json:"messageId"`
	Subject       string       `json:"subject"`
	Accounts      int          `json:"accounts"`
	Scanned       int          `json:"scanned"`
	Failed        int          `json:"failed"`
	TooManyFailed bool         `json:"tooManyFailed"`
	Error         *StepFailure `json:"error,omitempty"`
}

// FlagReader reads the organization-wide flags the digest shows once.
type FlagReader interface {
	CreatedAgainstPolicy(ctx context.Context, since, now time.Time) ([]UserKey, error)
	Tampering(ctx context.Context, since, now time.Time) (tags, undone []UserKey, err error)
}

// OrganizationRun is what the ledger holds of one organization run, read
// back for the digest.
type OrganizationRun struct {
	RunID     string
	Execution string
	accountsPart
	// Summaries by account, in the order of Accounts; an account with no
	// summary (its child failed before recording) is a failed one.
	Summaries []AccountSummary
	// Flags of the last day, organization-wide.
	CreatedAgainstPolicy, PolicyTagChanges, Tampered []UserKey
	FanOutError                                      *StepFailure
}

// Failed lists the accounts whose run failed.
func (r OrganizationRun) Failed() []AccountSummary {
	var out []AccountSummary
	for _, s := range r.Summaries {
		if s.Failed {
			out = append(out, s)
		}
	}
	return out
}

// TooManyFailed reports whether more accounts failed than pct percent, the
// Map's own rule.
func (r OrganizationRun) TooManyFailed(pct float64) bool {
	n := len(r.Summaries)
	return n > 0 && float64(len(r.Failed()))*100/float64(n) > pct
}

// ReadOrganizationRun reads the run's accounts and summaries from the
// ledger, and the last day's flags.
func ReadOrganizationRun(ctx context.Context, parts RunPartStore, flags FlagReader, execution string) (OrganizationRun, error) {
	r := OrganizationRun{RunID: ExecutionName(execution), Execution: execution}
	if r.RunID == "" {
		return r, step.Errorf(step.InvalidEvent, "the organization digest needs the execution's id")
	}
	all, err := parts.RunParts(ctx, r.RunID, "")
	if err != nil {
		return r, err
	}
	data, ok := all[partAccounts]
	if !ok {
		return r, step.Errorf(step.Failed, "run %s recorded no accounts: ListAccounts did not run or its record is gone", r.RunID)
	}
	if err := json.Unmarshal(data, &r.accountsPart); err != nil {
		return r, step.Errorf(step.Failed, "the accounts of run %s do not decode: %v", r.RunID, err)
	}
	for _, a := range r.Accounts {
		s := AccountSummary{Account: a.Account, Name: a.Name, Failed: true, Error: step.Failed,
			Cause: "no result recorded: the account's child execution failed before it could record one; see the Map Run's failed children"}
		if data, ok := all[partAccountPrefix+a.Account]; ok {
			var got AccountSummary
			if err := json.Unmarshal(data, &got); err != nil {
				s.Cause = fmt.Sprintf("its summary does not decode: %v", err)
			} else {
				s = got
			}
		}
		r.Summaries = append(r.Summaries, s)
	}
	since := r.At.Add(-24 * time.Hour)
	created, err := flags.CreatedAgainstPolicy(ctx, since, r.At)
	if err != nil {
		return r, step.Classify(err)
	}
	tags, undone, err := flags.Tampering(ctx, since, r.At)
	if err != nil {
		return r, step.Classify(err)
	}
	r.CreatedAgainstPolicy, r.PolicyTagChanges, r.Tampered = capList(created), capList(tags), capList(undone)
	return r, nil
}

func capList(l []UserKey) []UserKey {
	if len(l) > MaxListed {
		return l[:MaxListed]
	}
	return l
}

func accountLabel(account, name string) string {
	if name == "" {
		return account
	}
	return account + " (" + name + ")"
}

// ComposeOrganizationDigest renders the security team's one summary of
// the organization's run: accounts scanned and failed (with why), totals
// over the accounts, the worst accounts, keys not handled, and the
// organization-wide flags once.
func ComposeOrganizationDigest(r OrganizationRun, pct float64, consoleRegion string) alert.Message {
	var b strings.Builder
	day := r.At.UTC().Format("2006-01-02")
	mode := "enforcing"
	if r.DryRun {
		mode = "DRY RUN: notices went to this topic only, no key was changed"
	}
	failed := r.Failed()
	scanned := len(r.Summaries) - len(failed)
	var t AccountSummary
	stages := map[policy.Stage]int{}
	var roots, noContact []string
	var keyFailures []string
	for _, s := range r.Summaries {
		if s.Failed {
			continue
		}
		t.Users += s.Users
		t.Keys += s.Keys
		t.Exempt += s.Exempt
		t.PastLimit += s.PastLimit
		t.Notices += s.Notices
		t.AlreadyNotified += s.AlreadyNotified
		t.Deactivated += s.Deactivated
		t.Deleted += s.Deleted
		t.WouldDeactivate += s.WouldDeactivate
		t.WouldDelete += s.WouldDelete
		t.Rotated += s.Rotated
		t.WouldRotate += s.WouldRotate
		t.NoContact += s.NoContact
		t.KeyFailureTotal += s.KeyFailureTotal
		for _, c := range s.Counts {
			stages[c.Stage] += c.Count
		}
		if s.RootHasKeys {
			roots = append(roots, accountLabel(s.Account, s.Name))
		}
		if s.NoContact > 0 {
			noContact = append(noContact, fmt.Sprintf("%s: %d", accountLabel(s.Account, s.Name), s.NoContact))
		}
		for _, f := range s.KeyFailures {
			keyFailures = append(keyFailures, fmt.Sprintf("  %s  %s  %s  %s failed: %s: %s", s.Account, f.User, f.KeyID, f.What, f.Error, f.Cause))
		}
		if more := s.KeyFailureTotal - len(s.KeyFailures); more > 0 {
			keyFailures = append(keyFailures, fmt.Sprintf("  %s  … %d more (see the account's child execution)", s.Account, more))
		}
	}

	fmt.Fprintf(&b, "keywarden organization key-age run for %s (%s).\n\n", day, mode)
	fmt.Fprintf(&b, "Accounts:     %d in scope: %d scanned, %d FAILED; %d out of scope\n", len(r.Summaries), scanned, len(failed), r.OutOfScopeTotal)
	fmt.Fprintf(&b, "Scanned:      %d users, %d access keys in %d accounts\n", t.Users, t.Keys, scanned)
	order := make([]policy.Stage, 0, len(stages))
	for s := range stages {
		order = append(order, s)
	}
	slices.SortFunc(order, func(a, b policy.Stage) int { return cmp.Or(cmp.Compare(a.Rank(), b.Rank()), cmp.Compare(a, b)) })
	b.WriteString("By stage:    ")
	for _, s := range order {
		fmt.Fprintf(&b, " %s %d,", s, stages[s])
	}
	fmt.Fprintf(&b, " exempt %d\n", t.Exempt)
	fmt.Fprintf(&b, "Past limit:   %d keys\n", t.PastLimit)
	fmt.Fprintf(&b, "Notices:      %d sent, %d already sent on an earlier run\n", t.Notices, t.AlreadyNotified)
	if r.DryRun {
		fmt.Fprintf(&b, "Keys:         %d would be deactivated, %d would be deleted (dry run)\n", t.WouldDeactivate, t.WouldDelete)
	} else {
		fmt.Fprintf(&b, "Keys:         %d deactivated, %d deleted\n", t.Deactivated, t.Deleted)
	}
	// Rotations, where there are any: each new key is in its own
	// account's Secrets Manager, named in its owner's notice.
	if r.DryRun && t.WouldRotate > 0 {
		fmt.Fprintf(&b, "Rotations:    %d would be rotated (dry run)\n", t.WouldRotate)
	} else if !r.DryRun && t.Rotated > 0 {
		fmt.Fprintf(&b, "Rotations:    %d rotated, each new key in its account's keywarden/access-key/<user> secret\n", t.Rotated)
	}
	if len(failed) > 0 {
		verdict := "within"
		if r.TooManyFailed(pct) {
			verdict = "MORE than"
		}
		fmt.Fprintf(&b, "\nACCOUNTS NOT SCANNED — %d of %d, %s the %g%% tolerated; their keys were not checked today (%d)\n", len(failed), len(r.Summaries), verdict, pct, len(failed))
		for i, s := range failed {
			if i == MaxListed {
				fmt.Fprintf(&b, "  … %d more\n", len(failed)-MaxListed)
				break
			}
			fmt.Fprintf(&b, "  %s  %s: %s\n", accountLabel(s.Account, s.Name), s.Error, s.Cause)
		}
	}
	if r.FanOutError != nil {
		fmt.Fprintf(&b, "\nThe fan-out over the accounts stopped: %s: %s\n", r.FanOutError.Error, clip(r.FanOutError.Message(), 600))
	}
	worst := make([]AccountSummary, 0, len(r.Summaries))
	for _, s := range r.Summaries {
		if !s.Failed && s.PastLimit > 0 {
			worst = append(worst, s)
		}
	}
	slices.SortStableFunc(worst, func(a, b AccountSummary) int {
		return cmp.Or(cmp.Compare(b.PastLimit, a.PastLimit), cmp.Compare(a.Account, b.Account))
	})
	if len(worst) > 0 {
		fmt.Fprintf(&b, "\nWorst accounts: most keys past the limit (%d of %d accounts have any)\n", min(len(worst), MaxWorstAccounts), len(worst))
		for _, s := range worst[:min(len(worst), MaxWorstAccounts)] {
			acted := fmt.Sprintf("%d deactivated, %d deleted", s.Deactivated, s.Deleted)
			if r.DryRun {
				acted = fmt.Sprintf("%d would be deactivated, %d would be deleted", s.WouldDeactivate, s.WouldDelete)
			}
			fmt.Fprintf(&b, "  %s  %d past the limit of %d keys; %d notices; %s\n", accountLabel(s.Account, s.Name), s.PastLimit, s.Keys, s.Notices, acted)
		}
	}
	if len(keyFailures) > 0 {
		fmt.Fprintf(&b, "\nKEYS NOT HANDLED — act on these by hand (%d)\n", t.KeyFailureTotal)
		for i, l := range keyFailures {
			if i == MaxListed {
				fmt.Fprintf(&b, "  … more in the accounts' child executions\n")
				break
			}
			b.WriteString(l + "\n")
		}
	}
	list := func(title string, items []string) { writeList(&b, title, items) }
	list("Accounts whose ROOT USER has an active access key: delete it, root should hold no access keys", roots)
	list("Users with a notice due but no contact tag, by account (notices went to this topic)", noContact)
	list("Keys created in the last day for users not allowed long-term keys", userKeyLines(r.CreatedAgainstPolicy))
	list("Policy tags changed in the last day (tamper watch): who changed what", userKeyLines(r.PolicyTagChanges))
	list("Tampering with keywarden's responses in the last day (tamper watch): who, and what keywarden did", userKeyLines(r.Tampered))
	out := make([]string, 0, len(r.OutOfScope))
	for _, x := range r.OutOfScope {
		out = append(out, accountLabel(x.Account, x.Name)+": "+x.Reason)
	}
	for len(out) < r.OutOfScopeTotal {
		out = append(out, "…")
	}
	list("Accounts of the organization out of scope", out)
	fmt.Fprintf(&b, "\nExecution\n  %s\n", r.Execution)
	if link := alert.ConsoleLink(r.Execution, consoleRegion); link != "" {
		fmt.Fprintf(&b, "  %s\n", link)
	}
	subject := fmt.Sprintf("keywarden organization key ages %s: %d accounts, %d notices, %d deactivated", day, scanned, t.Notices, t.Deactivated)
	if r.DryRun {
		subject = fmt.Sprintf("[DRY RUN] keywarden organization key ages %s: %d accounts, %d notices, %d would be deactivated", day, scanned, t.Notices, t.WouldDeactivate)
	}
	if !r.DryRun && t.Rotated > 0 {
		subject += fmt.Sprintf(", %d rotated", t.Rotated)
	}
	if len(failed) > 0 {
		subject = fmt.Sprintf("keywarden organization key ages %s: %d ACCOUNTS NOT SCANNED of %d", day, len(failed), len(r.Summaries))
		if r.DryRun {
			subject = "[DRY RUN] " + subject
		}
	}
	return alert.Message{Subject: alert.Subject(subject), Body: b.String()}
}

// OrganizationDigestHandler publishes the organization's digest.
type OrganizationDigestHandler struct {
	Digest DigestHandler // SNS, topic, console region, metric
	Parts  RunPartStore
	Flags  FlagReader
}

// Handle reads the run back from the ledger, publishes one digest, and
// says whether the run failed more accounts than tolerated.
func (h OrganizationDigestHandler) Handle(ctx context.Context, in OrganizationDigestInput) (OrganizationDigestResult, error) {
	r, err := ReadOrganizationRun(ctx, h.Parts, h.Flags, in.Execution)
	if err != nil {
		return OrganizationDigestResult{}, err
	}
	r.FanOutError = in.FanOutError
	msg := ComposeOrganizationDigest(r, in.ToleratedFailurePercentage, h.Digest.ConsoleRegion)
	out, err := h.Digest.SNS.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(h.Digest.Topic), Subject: aws.String(msg.Subject), Message: aws.String(msg.Body),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("key-age-digest")}},
	})
	if err != nil {
		return OrganizationDigestResult{}, step.Classify(fmt.Errorf("publish the organization key-age digest: %w", err))
	}
	failed := r.Failed()
	res := OrganizationDigestResult{MessageID: aws.ToString(out.MessageId), Subject: msg.Subject, Accounts: len(r.Summaries),
		Scanned: len(r.Summaries) - len(failed), Failed: len(failed), TooManyFailed: r.TooManyFailed(in.ToleratedFailurePercentage)}
	if res.TooManyFailed {
		names := make([]string, 0, min(len(failed), 10))
		for _, s := range failed[:min(len(failed), 10)] {
			names = append(names, s.Account+" "+s.Error)
		}
		res.Error = &StepFailure{Error: AccountsFailed, Cause: fmt.Sprintf("%d of %d accounts were not scanned, more than the %g%% tolerated (the digest names each and why): %s",
			len(failed), len(r.Summaries), in.ToleratedFailurePercentage, strings.Join(names, ", "))}
	}
	slog.InfoContext(ctx, "organization digest published", "run", r.RunID, "accounts", res.Accounts, "failed", res.Failed, "tooManyFailed", res.TooManyFailed)
	h.Digest.emitRunSucceeded(ctx)
	return res, nil
}
