// Package creation records who created each access key, when and from
// where, from CloudTrail's CreateAccessKey events, in the ledger, where it
// outlives the key (the ledger's retention is well past the deletion stage).
// Later notices and exposure alerts quote it. A key created for a user whose
// tags forbid long-term keys is flagged at once (an alert) and in the next
// daily digest.
package creation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/keywarden/keywarden/internal/alert"
	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/keyage"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/step"
)

// TagsAPI is what the recorder calls on IAM.
type TagsAPI interface {
	ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, optFns ...func(*iam.Options)) (*iam.ListUserTagsOutput, error)
}

// Recorder is the ledger as the recorder uses it.
type Recorder interface {
	RecordCreation(ctx context.Context, c ledger.Creation) error
	RecordFlag(ctx context.Context, f ledger.Flag) error
}

var (
	_ TagsAPI  = (*iam.Client)(nil)
	_ Recorder = (*ledger.Ledger)(nil)
)

// Handler records key creations.
type Handler struct {
	IAM    TagsAPI
	Ledger Recorder
	SNS    alert.PublishAPI
	Topic  string
	// NoKeysTag names the user tag whose value "true" forbids long-term
	// access keys; empty turns the check off.
	NoKeysTag string
	// Now is the clock flags are stamped with; time.Now when nil.
	Now func() time.Time
	// Organization, when set, is organization mode: a creation in an
	// account out of scope is refused (AccountOutOfScope), and the user's
	// tags are read in the key's account through the read member role;
	// IAM is then unused.
	Organization member.Accounts
}

func (h Handler) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC()
	}
	return time.Now().UTC()
}

// Result is the step's output.
type Result struct {
	Status        string `json:"status"` // recorded, not-created
	KeyID         string `json:"keyId,omitempty"`
	User          string `json:"user,omitempty"`
	CreatorARN    string `json:"creatorArn,omitempty"`
	AgainstPolicy bool   `json:"againstPolicy"`
	ErrorCode     string `json:"errorCode,omitempty"`
}

// Input is the step's input: the execution's event, and the execution's
// name (the member session's name in organization mode).
type Input struct {
	Event     json.RawMessage `json:"event"`
	Execution string          `json:"execution"`
}

// Handle records the creation in the event (the execution's input).
func (h Handler) Handle(ctx context.Context, in Input) (Result, error) {
	env, err := event.ParseEnvelope(in.Event)
	if err != nil {
		return Result{}, &step.Error{Name: step.InvalidEvent, Err: err}
	}
	if !env.IsKeyCreation() {
		return Result{}, step.Errorf(step.UnsupportedEvent, "not a CloudTrail API call event: source %q detail-type %q", env.Source, env.DetailType)
	}
	kc, err := env.KeyCreation()
	switch {
	case errors.Is(err, event.ErrUnsupported):
		return Result{}, &step.Error{Name: step.UnsupportedEvent, Err: err}
	case err != nil:
		return Result{}, &step.Error{Name: step.InvalidEvent, Err: err}
	case kc.Failed:
		// The call failed: no key exists to record.
		slog.InfoContext(ctx, "CreateAccessKey failed; nothing to record", "user", kc.User, "errorCode", kc.ErrorCode)
		return Result{Status: "not-created", User: kc.User, CreatorARN: kc.CreatorARN, ErrorCode: kc.ErrorCode}, nil
	}
	if h.Organization != nil {
		// The forwarded event keeps its member's account: only an account
		// in scope is recorded.
		if err := member.RequireInScope(ctx, h.Organization, kc.Account); err != nil {
			return Result{}, err
		}
	}
	res := Result{Status: "recorded", KeyID: kc.KeyID, User: kc.User, CreatorARN: kc.CreatorARN}
	err = h.Ledger.RecordCreation(ctx, ledger.Creation{
		KeyID: kc.KeyID, User: kc.User, CreatorARN: kc.CreatorARN, SourceIP: kc.SourceIP,
		UserAgent: kc.UserAgent, CreatedAt: kc.CreatedAt, CreatedAtSource: kc.CreatedAtSource, EventID: kc.EventID,
	})
	if err != nil {
		return res, err
	}
	slog.InfoContext(ctx, "key creation recorded", "accessKeyId", kc.KeyID, "user", kc.User, "creator", kc.CreatorARN, "sourceIp", kc.SourceIP,
		"createdAt", kc.CreatedAt, "createdAtSource", kc.CreatedAtSource)
	if h.NoKeysTag == "" || kc.Root {
		// Root has no IAM user tags (a user named "root" is someone else).
		return res, nil
	}
	tags := h.IAM
	if h.Organization != nil {
		cfg, err := h.Organization.Config(ctx, kc.Account, member.Read, in.Execution)
		if err != nil {
			return res, err
		}
		tags = iam.NewFromConfig(cfg)
	}
	forbidden, err := h.forbidsKeys(ctx, tags, kc.User)
	if err != nil || !forbidden {
		return res, err
	}
	res.AgainstPolicy = true
	detail := fmt.Sprintf("created %s by %s from %s although tag %s is true", kc.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), kc.CreatorARN, kc.SourceIP, h.NoKeysTag)
	// Flagged at the time it is recorded, so the next digest lists it
	// whatever the creation time in the event says.
	if err := h.Ledger.RecordFlag(ctx, ledger.Flag{Kind: keyage.FlagCreatedAgainstPolicy, KeyID: kc.KeyID, User: kc.User, At: h.now(), Detail: detail}); err != nil {
		return res, err
	}
	return res, h.alert(ctx, kc)
}

// forbidsKeys reads the user's tags; a user already deleted forbids nothing
// any more.
func (h Handler) forbidsKeys(ctx context.Context, tags TagsAPI, user string) (bool, error) {
	p := iam.NewListUserTagsPaginator(tags, &iam.ListUserTagsInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if step.IsNoSuchEntity(err) {
			return false, nil
		}
		if err != nil {
			return false, step.Classify(fmt.Errorf("read the tags of %s: %w", user, err))
		}
		for _, t := range page.Tags {
			if aws.ToString(t.Key) != h.NoKeysTag {
				continue
			}
			on, ok := policy.TagFlag(aws.ToString(t.Value))
			if !ok {
				slog.WarnContext(ctx, "tag value neither true nor false; keys not forbidden", "user", user, "tag", h.NoKeysTag, "value", aws.ToString(t.Value))
			}
			return on, nil
		}
	}
	return false, nil
}

func (h Handler) alert(ctx context.Context, kc event.KeyCreation) error {
	subject := alert.Subject(fmt.Sprintf("Security Alert: Access Key Created Against Policy For User %s On Account %s", kc.User, kc.Account))
	body := fmt.Sprintf(`An access key was created for a user whose tag %s forbids long-term access keys.

Key:          %s
User:         %s
Account:      %s
Created:      %s
Created by:   %s (%s)
From:         %s
User agent:   %s
Event id:     %s

What to do now
  - Ask the creator why; if the key is not needed, deactivate and delete it:
      aws iam update-access-key --user-name %s --access-key-id %s --status Inactive
      aws iam delete-access-key --user-name %s --access-key-id %s
  - If the user should hold keys after all, remove or change the tag.
`, h.NoKeysTag, kc.KeyID, kc.User, kc.Account, created(kc),
		kc.CreatorARN, kc.CreatorType, kc.SourceIP, kc.UserAgent, kc.EventID, kc.User, kc.KeyID, kc.User, kc.KeyID)
	_, err := h.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(h.Topic), Subject: aws.String(subject), Message: aws.String(body),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("key-created-against-policy")}}})
	if err != nil {
		return step.Classify(fmt.Errorf("alert that key %s was created against policy: %w", kc.KeyID, err))
	}
	return nil
}

// created is the creation time as the alert shows it, saying where it came
// from when not from the event's createDate.
func created(kc event.KeyCreation) string {
	at := kc.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	if kc.CreatedAtSource != "" {
		at += " (" + kc.CreatedAtSource + ")"
	}
	return at
}
