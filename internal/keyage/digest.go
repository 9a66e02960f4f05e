package keyage

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/keywarden/keywarden/internal/alert"
	"github.com/keywarden/keywarden/internal/step"
)

// DigestInput is the digest step's input: the scan's result and every
// chunk's.
type DigestInput struct {
	Scan      ScanResult    `json:"scan"`
	Results   []ChunkResult `json:"results"`
	Execution string        `json:"execution"`
}

// DigestResult is the digest step's output.
type DigestResult struct {
	MessageID string `json:"messageId"`
	Subject   string `json:"subject"`
	Failures  int    `json:"failures"`
}

// ComposeDigest renders the security team's summary of a run. Every key the
// run could not handle is named, so a flagged key is either acted on or
// listed here.
func ComposeDigest(in DigestInput, consoleRegion string) alert.Message {
	s := in.Scan
	var notices, already int
	var deactivated, deleted, wouldDeactivate, wouldDelete, rotated, wouldRotate []UserKey
	var failures []Failure
	for _, r := range in.Results {
		notices += r.Notices
		already += r.AlreadyNotified
		deactivated = append(deactivated, r.Deactivated...)
		deleted = append(deleted, r.Deleted...)
		wouldDeactivate = append(wouldDeactivate, r.WouldDeactivate...)
		wouldDelete = append(wouldDelete, r.WouldDelete...)
		rotated = append(rotated, r.Rotated...)
		wouldRotate = append(wouldRotate, r.WouldRotate...)
		failures = append(failures, r.Failures...)
	}
	var b strings.Builder
	day := s.Now.UTC().Format("2006-01-02")
	mode := "enforcing"
	if s.DryRun {
		mode = "DRY RUN: notices went to this topic only, no key was changed"
	}
	fmt.Fprintf(&b, "keywarden daily key-age run for %s (%s).\n\n", day, mode)
	fmt.Fprintf(&b, "Scanned:      %d users, %d access keys (credential report of %s)\n", s.Users, s.Keys, s.ReportGenerated.UTC().Format("2006-01-02 15:04 UTC"))
	b.WriteString("By stage:    ")
	for _, c := range s.Counts {
		fmt.Fprintf(&b, " %s %d,", c.Stage, c.Count)
	}
	fmt.Fprintf(&b, " exempt %d\n", s.Exempt)
	fmt.Fprintf(&b, "Notices:      %d sent, %d already sent on an earlier run\n", notices, already)
	list := func(title string, items []UserKey) { writeList(&b, title, userKeyLines(items)) }
	if len(failures) > 0 {
		fmt.Fprintf(&b, "\nNOT HANDLED — act on these by hand (%d)\n", len(failures))
		for _, f := range failures {
			fmt.Fprintf(&b, "  %s  %s  %s failed: %s: %s\n", f.User, f.KeyID, f.What, f.Error, f.Cause)
		}
	}
	list("Rotated: new key in Secrets Manager, old key retires on the date shown", rotated)
	list("Deactivated", deactivated)
	list("Deleted", deleted)
	list("Would be deactivated (dry run)", wouldDeactivate)
	list("Would be deleted (dry run)", wouldDelete)
	list("Would be rotated (dry run)", wouldRotate)
	list("Users with a notice due but no contact tag (notices went to this topic)", withTotal(s.NoContact, s.NoContactTotal))
	list("Exemptions ending within 14 days", s.ExpiringExemptions)
	list("Exemption tags that do not apply", s.ExemptionProblems)
	list("Tag values that could not be read, judged as if absent", s.TagProblems)
	list("Keys that could not be judged", s.Problems)
	list("Keys created in the last day for users not allowed long-term keys", s.CreatedAgainstPolicy)
	list("Policy tags changed in the last day (tamper watch): who changed what", s.PolicyTagChanges)
	list("Tampering with keywarden's responses in the last day (tamper watch): who, and what keywarden did", s.Tampered)
	if len(s.GoneUsers) > 0 {
		fmt.Fprintf(&b, "\nUsers deleted since the report: %s\n", strings.Join(s.GoneUsers, ", "))
	}
	if s.RootHasKeys {
		b.WriteString("\nThe ROOT USER has an active access key. Delete it: root should hold no access keys.\n")
	}
	fmt.Fprintf(&b, "\nExecution\n  %s\n", in.Execution)
	if link := alert.ConsoleLink(in.Execution, consoleRegion); link != "" {
		fmt.Fprintf(&b, "  %s\n", link)
	}
	subject := fmt.Sprintf("keywarden key ages %s: %d notices, %d deactivated, %d deleted", day, notices, len(deactivated), len(deleted))
	if len(rotated) > 0 {
		subject += fmt.Sprintf(", %d rotated", len(rotated))
	}
	if len(failures) > 0 {
		subject = fmt.Sprintf("keywarden key ages %s: %d KEYS NOT HANDLED, %d deactivated", day, len(failures), len(deactivated))
	}
	if s.DryRun {
		subject = fmt.Sprintf("[DRY RUN] keywarden key ages %s: %d notices, %d would be deactivated", day, notices, len(wouldDeactivate))
	}
	return alert.Message{Subject: alert.Subject(subject), Body: b.String()}
}

// withTotal pads a capped list's length to its total for the heading.
// writeList writes a titled list of at most MaxListed lines, and how many
// more there are.
func writeList(b *strings.Builder, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s (%d)\n", title, len(lines))
	for i, l := range lines {
		if i == MaxListed {
			fmt.Fprintf(b, "  … %d more\n", len(lines)-MaxListed)
			break
		}
		b.WriteString("  " + l + "\n")
	}
}

// userKeyLines are the digest's lines of keys: user, key id and detail.
func userKeyLines(items []UserKey) []string {
	out := make([]string, 0, len(items))
	for _, u := range items {
		line := u.User
		if u.KeyID != "" {
			line += "  " + u.KeyID
		}
		if u.Detail != "" {
			line += "  " + u.Detail
		}
		out = append(out, line)
	}
	return out
}

func withTotal(items []UserKey, total int) []UserKey {
	for len(items) < total {
		items = append(items, UserKey{User: "…"})
	}
	return items
}

// DigestHandler publishes the digest to the security topic.
type DigestHandler struct {
	SNS           alert.PublishAPI
	Topic         string
	ConsoleRegion string
	// Logger receives, per published digest, a JSON log line in CloudWatch's
	// Embedded Metric Format: the metric keywarden/KeyAgeRunSucceeded that
	// the dead-man's-switch alarm watches. A log line needs no CloudWatch
	// permission and no API call. Default slog.Default().
	Logger *slog.Logger
	Now    func() time.Time
}

// The metric the daily-run alarm watches (infra's DailyRunMissingAlarm).
const (
	MetricNamespace    = "keywarden"
	RunSucceededMetric = "KeyAgeRunSucceeded"
)

// emitRunSucceeded logs the EMF record for a finished run: the slog JSON
// line carries "_aws" and the metric's value at its top level, which is all
// EMF asks; the other fields stay log properties.
func (h DigestHandler) emitRunSucceeded(ctx context.Context) {
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	log.InfoContext(ctx, "key-age run succeeded",
		slog.Any("_aws", map[string]any{
			"Timestamp": now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  MetricNamespace,
				"Dimensions": [][]string{{}},
				"Metrics":    []any{map[string]string{"Name": RunSucceededMetric, "Unit": "Count"}},
			}},
		}),
		slog.Int(RunSucceededMetric, 1))
}

// Handle composes and publishes the digest.
func (h DigestHandler) Handle(ctx context.Context, in DigestInput) (DigestResult, error) {
	msg := ComposeDigest(in, h.ConsoleRegion)
	failures := 0
	for _, r := range in.Results {
		failures += len(r.Failures)
	}
	out, err := h.SNS.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(h.Topic), Subject: aws.String(msg.Subject), Message: aws.String(msg.Body),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("key-age-digest")}},
	})
	if err != nil {
		return DigestResult{}, step.Classify(fmt.Errorf("publish the key-age digest: %w", err))
	}
	slog.InfoContext(ctx, "digest published", "run", in.Scan.RunID, "failures", failures)
	h.emitRunSucceeded(ctx)
	return DigestResult{MessageID: aws.ToString(out.MessageId), Subject: msg.Subject, Failures: failures}, nil
}
