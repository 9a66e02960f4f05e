package keyage

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/keywarden/keywarden/internal/alert"
	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/step"
)

// KeyAPI is what acting on keys calls on IAM.
type KeyAPI interface {
	exposure.ContainAPI
	exposure.RemoveAPI
}

// SendEmailAPI is SES v2's SendEmail.
type SendEmailAPI interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

var _ SendEmailAPI = (*sesv2.Client)(nil)

// Notifier delivers owner notices: by SES e-mail to the contact when a
// sender is configured and the contact is an address, else to the SNS topic
// with the owner as a message attribute (subscribers filter on it). Dry-run
// notices always go to the topic: the security team sees what owners would
// get before enforcement starts.
type Notifier struct {
	SES    SendEmailAPI // nil when no sender is configured
	Sender string
	SNS    alert.PublishAPI
	Topic  string
}

var emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// Channel says how a notice will go: "ses" or "sns".
func (n Notifier) Channel(d policy.Decision, dryRun bool) string {
	if !dryRun && n.SES != nil && n.Sender != "" && emailPattern.MatchString(d.Contact) {
		return "ses"
	}
	return "sns"
}

// Send delivers one notice and returns the channel's message id.
func (n Notifier) Send(ctx context.Context, d policy.Decision, msg Notice, dryRun bool) (string, error) {
	if n.Channel(d, dryRun) == "ses" {
		out, err := n.SES.SendEmail(ctx, &sesv2.SendEmailInput{
			FromEmailAddress: aws.String(n.Sender),
			Destination:      &sestypes.Destination{ToAddresses: []string{d.Contact}},
			Content: &sestypes.EmailContent{Simple: &sestypes.Message{
				Subject: &sestypes.Content{Data: aws.String(msg.Subject)},
				Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String(msg.Body)}},
			}},
		})
		if err != nil {
			return "", step.Classify(fmt.Errorf("e-mail the %s notice for key %s to %s: %w", d.Notice, d.KeyID, d.Contact, err))
		}
		return aws.ToString(out.MessageId), nil
	}
	attr := func(v string) snstypes.MessageAttributeValue {
		return snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	attrs := map[string]snstypes.MessageAttributeValue{
		"kind": attr("key-age-notice"), "owner": attr(d.User), "accessKeyId": attr(d.KeyID), "stage": attr(string(d.Notice)),
	}
	if d.Contact != "" {
		attrs["contact"] = attr(d.Contact)
	}
	out, err := n.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(n.Topic), Subject: aws.String(msg.Subject), Message: aws.String(msg.Body), MessageAttributes: attrs})
	if err != nil {
		return "", step.Classify(fmt.Errorf("publish the %s notice for key %s: %w", d.Notice, d.KeyID, err))
	}
	return aws.ToString(out.MessageId), nil
}

// ActInput is one Map iteration's input.
type ActInput struct {
	RunID  string `json:"runId"`
	Chunk  int    `json:"chunk"`
	DryRun bool   `json:"dryRun"`
	// Organization mode: the account whose chunk it is, its name for the
	// notices, and the execution naming the member session.
	Account     string `json:"account,omitempty"`
	AccountName string `json:"accountName,omitempty"`
	Execution   string `json:"execution,omitempty"`
}

// Target is the account the chunk acts in and the execution naming its
// member session (member.Step).
func (in ActInput) Target() (account, execution string) {
	return in.Account, ExecutionName(in.Execution)
}

// account is how the notices name the account: the chunk's in
// organization mode, else the function's own.
func (h ActHandler) account(in ActInput) string {
	switch {
	case in.Account == "":
		return h.Account
	case in.AccountName != "":
		return in.Account + " (" + in.AccountName + ")"
	}
	return in.Account
}

// Failure is a key the run could not handle; the digest names each.
type Failure struct {
	KeyID string `json:"keyId"`
	User  string `json:"user"`
	What  string `json:"what"`  // notice, deactivate, delete, ledger
	Error string `json:"error"` // step error name
	Cause string `json:"cause"`
}

// ChunkResult is what one chunk's iteration did. Lists hold at most
// ChunkSize entries, so the Map's output stays small.
type ChunkResult struct {
	Chunk           int       `json:"chunk"`
	Decisions       int       `json:"decisions"`
	Notices         int       `json:"notices"`
	AlreadyNotified int       `json:"alreadyNotified"`
	Deactivated     []UserKey `json:"deactivated"`
	Deleted         []UserKey `json:"deleted"`
	WouldDeactivate []UserKey `json:"wouldDeactivate"`
	WouldDelete     []UserKey `json:"wouldDelete"`
	Rotated         []UserKey `json:"rotated"`
	WouldRotate     []UserKey `json:"wouldRotate"`
	Failures        []Failure `json:"failures"`
}

// ActHandler acts on one chunk of decisions. A key that fails is recorded in
// Failures and the chunk goes on; the step itself fails only when the chunk
// cannot be read, so one bad key never stops the others.
type ActHandler struct {
	IAM      KeyAPI
	Store    Store
	Notifier Notifier
	// Rotator rotates the keys of users opted into rotation; nil when the
	// deployment has rotation off (a rotate decision then fails, named).
	Rotator Rotator
	Account string
	Now     func() time.Time
	// ReadBackAttempts and ReadBackDelay as for containment.
	ReadBackAttempts int
	ReadBackDelay    time.Duration
}

// Handle acts on the chunk.
func (h ActHandler) Handle(ctx context.Context, in ActInput) (ChunkResult, error) {
	res := ChunkResult{Chunk: in.Chunk, Deactivated: []UserKey{}, Deleted: []UserKey{}, WouldDeactivate: []UserKey{}, WouldDelete: []UserKey{},
		Rotated: []UserKey{}, WouldRotate: []UserKey{}, Failures: []Failure{}}
	data, err := h.Store.GetChunk(ctx, in.RunID, in.Chunk)
	if err != nil {
		return res, step.Classify(fmt.Errorf("read chunk %d of run %s: %w", in.Chunk, in.RunID, err))
	}
	var decisions []policy.Decision
	if err := json.Unmarshal(data, &decisions); err != nil {
		return res, step.Errorf(step.Failed, "chunk %d of run %s is not a list of decisions: %v", in.Chunk, in.RunID, err)
	}
	res.Decisions = len(decisions)
	for _, d := range decisions {
		h.one(ctx, in, d, &res)
	}
	slog.InfoContext(ctx, "chunk acted on", "run", in.RunID, "account", in.Account, "chunk", in.Chunk, "decisions", res.Decisions,
		"notices", res.Notices, "deactivated", len(res.Deactivated), "deleted", len(res.Deleted), "rotated", len(res.Rotated),
		"failures", len(res.Failures), "dryRun", in.DryRun)
	return res, nil
}

func (h ActHandler) fail(res *ChunkResult, d policy.Decision, what string, err error) {
	res.Failures = append(res.Failures, Failure{KeyID: d.KeyID, User: d.User, What: what, Error: step.Name(err), Cause: err.Error()})
	slog.Error("key not handled", "accessKeyId", d.KeyID, "user", d.User, "what", what, "error", err.Error())
}

// one handles a decision. A notice that only warns goes out before the
// action; one that says the key was deactivated, deleted or rotated
// (including a final notice sent with the deactivation) only after the
// action worked.
func (h ActHandler) one(ctx context.Context, in ActInput, d policy.Decision, res *ChunkResult) {
	tellsDone := d.Action == policy.ActionDeactivate || d.Action == policy.ActionDelete || d.Action == policy.ActionRotate
	if d.Notice != "" && !tellsDone {
		h.notify(ctx, in, d, res)
	}
	if d.Action == policy.ActionRotate {
		if !h.rotate(ctx, in, &d, res) {
			return
		}
	} else if !h.act(ctx, in, d, res) {
		return
	}
	if d.Notice != "" && tellsDone {
		h.notify(ctx, in, d, res)
	}
}

func (h ActHandler) notify(ctx context.Context, in ActInput, d policy.Decision, res *ChunkResult) {
	stage := string(d.Notice)
	if in.DryRun {
		stage = dryRunStage(d.Notice)
	}
	rec := NoticeRecord{User: d.User, SentAt: h.Now().UTC(), Channel: h.Notifier.Channel(d, in.DryRun), DryRun: in.DryRun, RunID: in.RunID}
	if rec.Channel == "ses" {
		rec.Contact = d.Contact
	}
	// Record first: a crash between the record and the send loses at most
	// this one notice, and never sends it twice.
	fresh, err := h.Store.RecordNotice(ctx, d.KeyID, stage, rec)
	if err != nil {
		h.fail(res, d, "ledger", err)
		return
	}
	if !fresh {
		res.AlreadyNotified++
		return
	}
	creator, _, err := h.Store.Creator(ctx, d.KeyID)
	if err != nil {
		slog.WarnContext(ctx, "creator unknown", "accessKeyId", d.KeyID, "error", err.Error())
	}
	id, err := h.Notifier.Send(ctx, d, ComposeNotice(d, h.account(in), in.DryRun, creator), in.DryRun)
	if err != nil {
		h.fail(res, d, "notice", err)
		return
	}
	res.Notices++
	if err := h.Store.ConfirmNotice(ctx, d.KeyID, stage, h.Now().UTC(), id); err != nil {
		slog.WarnContext(ctx, "notice sent but not confirmed in the ledger", "accessKeyId", d.KeyID, "stage", stage, "error", err.Error())
	}
}

// act performs the decision's action; false when it failed.
func (h ActHandler) act(ctx context.Context, in ActInput, d policy.Decision, res *ChunkResult) bool {
	if d.Action != policy.ActionDeactivate && d.Action != policy.ActionDelete {
		return true
	}
	uk := UserKey{User: d.User, KeyID: d.KeyID}
	if in.DryRun {
		if d.Action == policy.ActionDeactivate {
			res.WouldDeactivate = append(res.WouldDeactivate, uk)
		} else {
			res.WouldDelete = append(res.WouldDelete, uk)
		}
		return true
	}
	if d.Action == policy.ActionDeactivate && d.ReplacedBy != "" {
		// A replaced key retires only while its replacement works: if
		// someone deleted or deactivated the new key, the old one is what
		// the consumer still has.
		if err := h.replacementWorks(ctx, d); err != nil {
			h.fail(res, d, string(d.Action), err)
			return false
		}
	}
	// Record, then act. A retry finds the record and acts again, which is
	// harmless: both actions are idempotent.
	if _, err := h.Store.RecordAction(ctx, d.KeyID, string(d.Action), ActionRecord{User: d.User, At: h.Now().UTC(), RunID: in.RunID, Reason: strings.Join(d.Reasons, "; ")}); err != nil {
		h.fail(res, d, "ledger", err)
		return false
	}
	var status string
	var err error
	if d.Action == policy.ActionDeactivate {
		status, _, err = exposure.Deactivate(ctx, h.IAM, d.User, d.KeyID, max(h.ReadBackAttempts, 1), h.ReadBackDelay)
	} else {
		status, err = exposure.DeleteKey(ctx, h.IAM, d.User, d.KeyID)
	}
	if err != nil {
		h.fail(res, d, string(d.Action), err)
		return false
	}
	uk.Detail = status
	if d.Action == policy.ActionDeactivate {
		res.Deactivated = append(res.Deactivated, uk)
	} else {
		res.Deleted = append(res.Deleted, uk)
	}
	return true
}

// rotate replaces the decision's key by a new one kept in Secrets Manager
// and records it, so that later runs retire the old key; d gains the new
// key and its secret for the owner's notice. false when it did not happen.
func (h ActHandler) rotate(ctx context.Context, in ActInput, d *policy.Decision, res *ChunkResult) bool {
	uk := UserKey{User: d.User, KeyID: d.KeyID}
	if in.DryRun {
		res.WouldRotate = append(res.WouldRotate, uk)
		return true
	}
	if h.Rotator == nil {
		h.fail(res, *d, "rotate", step.Errorf(step.InvalidSetting, "key %s of %s is due for rotation, but this deployment has rotation off "+
			"(keyAge.rotationDays is 0 in the act function's settings); set it and redeploy", d.KeyID, d.User))
		return false
	}
	// A retried chunk (the Lambda timed out after rotating) must not rotate
	// again: the user would have two active keys, and the retry would fail
	// on them. The ledger knows whether the rotation was done.
	hs, err := h.Store.Histories(ctx, []string{d.KeyID})
	if err != nil {
		h.fail(res, *d, "ledger", err)
		return false
	}
	if done := hs[d.KeyID]; !done.RotatedAt.IsZero() {
		d.ReplacedBy, d.SecretARN = done.ReplacedBy, done.SecretARN
		uk.Detail = fmt.Sprintf("replaced by %s, kept in secret %s (recorded by an earlier attempt)", done.ReplacedBy, done.SecretARN)
		res.Rotated = append(res.Rotated, uk)
		return true
	}
	at := h.Now().UTC()
	if _, err := h.Store.RecordAction(ctx, d.KeyID, ledger.ActionRotate, ActionRecord{User: d.User, At: at, RunID: in.RunID, Reason: strings.Join(d.Reasons, "; ")}); err != nil {
		h.fail(res, *d, "ledger", err)
		return false
	}
	r, err := h.Rotator.Rotate(ctx, d.User, d.KeyID)
	if r.RetiredKeyID != "" {
		// The rotation deleted the user's inactive second key to make room.
		res.Deleted = append(res.Deleted, UserKey{User: d.User, KeyID: r.RetiredKeyID, Detail: "inactive; deleted to make room for the rotation of " + d.KeyID})
		if _, lerr := h.Store.RecordAction(ctx, r.RetiredKeyID, ledger.ActionDelete, ActionRecord{User: d.User, At: at, RunID: in.RunID,
			Reason: "inactive second key, deleted to make room for the rotation of " + d.KeyID}); lerr != nil {
			slog.WarnContext(ctx, "deletion of an inactive key not recorded in the ledger", "accessKeyId", r.RetiredKeyID, "error", lerr.Error())
		}
	}
	if err != nil {
		h.fail(res, *d, "rotate", err)
		return false
	}
	d.ReplacedBy, d.SecretARN = r.NewKeyID, r.SecretARN
	uk.Detail = fmt.Sprintf("replaced by %s, kept in secret %s; deactivation on %s", r.NewKeyID, r.SecretARN, d.Deadline.UTC().Format(time.DateOnly))
	res.Rotated = append(res.Rotated, uk)
	slog.InfoContext(ctx, "key rotated", "accessKeyId", d.KeyID, "user", d.User, "newAccessKeyId", r.NewKeyID, "secretArn", r.SecretARN)
	if _, err := h.Store.RecordAction(ctx, d.KeyID, ledger.ActionRotated, ActionRecord{User: d.User, At: at, RunID: in.RunID,
		NewKeyID: r.NewKeyID, SecretARN: r.SecretARN}); err != nil {
		// The owner still hears where the new key is; the security team
		// sees that the old key needs retiring by hand.
		h.fail(res, *d, "ledger", fmt.Errorf("key %s was rotated to %s (secret %s), but the ledger did not record it, "+
			"so keywarden will not retire the old key; retire it by hand once its consumers use the new one: %w", d.KeyID, r.NewKeyID, r.SecretARN, err))
	}
	return true
}

// replacementWorks checks that the key that replaced d's is still there and
// active.
func (h ActHandler) replacementWorks(ctx context.Context, d policy.Decision) error {
	out, err := h.IAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(d.User)})
	if err != nil {
		return step.Classify(fmt.Errorf("list the keys of %s to check that %s's replacement %s works: %w", d.User, d.KeyID, d.ReplacedBy, err))
	}
	for _, k := range out.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) == d.ReplacedBy {
			if k.Status == iamtypes.StatusTypeActive {
				return nil
			}
			break
		}
	}
	return step.Errorf(step.Failed, "key %s of %s was replaced by %s, which is gone or inactive: %s is kept active, since it may be the only key "+
		"its consumer has; rotate by hand or reactivate %s (secret %s)", d.KeyID, d.User, d.ReplacedBy, d.KeyID, d.ReplacedBy, d.SecretARN)
}
