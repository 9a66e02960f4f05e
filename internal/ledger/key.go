package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keywarden/keywarden/internal/step"
)

// Notice is a notice about a key, to its owner or the security topic.
type Notice struct {
	User    string    // the key's user
	SentAt  time.Time // when the notice was decided and handed to the channel
	Channel string    // ChannelSES or ChannelSNS
	Contact string    // the owner's address for ChannelSES; "" for the topic
	DryRun  bool      // recorded by a dry run: nothing was sent
	RunID   string    // the run that decided it

	// Set by the ledger, read back by History.
	RecordedAt  time.Time // when RecordNotice wrote it
	DeliveredAt time.Time // when ConfirmNotice marked it sent; zero until then
	MessageID   string    // the channel's message id, from ConfirmNotice
}

// Action is an action taken on a key.
type Action struct {
	User   string    // the key's user
	At     time.Time // when the action was decided
	DryRun bool      // recorded by a dry run: nothing was done
	RunID  string    // the run (or execution) that decided it
	Reason string    // why, e.g. "96 days old, limit 90"
	// For ActionRotated: the key that replaced this one and the Secrets
	// Manager secret (ARN) holding it. Never the secret itself.
	NewKeyID  string
	SecretARN string

	RecordedAt time.Time // set by the ledger
}

// Creation is who created a key, from its CloudTrail CreateAccessKey event.
type Creation struct {
	KeyID      string
	User       string // the key's user
	CreatorARN string // who called CreateAccessKey
	SourceIP   string
	UserAgent  string
	CreatedAt  time.Time
	// CreatedAtSource says where CreatedAt came from when not the event's
	// createDate, e.g. "eventTime (createDate unreadable: "…")"; empty
	// when it is the createDate.
	CreatedAtSource string
	EventID         string // the CloudTrail event id

	RecordedAt time.Time // set by the ledger
}

// KeyHistory is what the ledger knows of one key.
type KeyHistory struct {
	KeyID    string
	Notices  map[string]Notice // by stage
	Actions  map[string]Action // by action
	Creation *Creation         // nil if the key's creation was not recorded
}

// Noticed tells whether the notice of stage was recorded.
func (h KeyHistory) Noticed(stage string) bool {
	_, ok := h.Notices[stage]
	return ok
}

// Acted tells whether action was recorded.
func (h KeyHistory) Acted(action string) bool {
	_, ok := h.Actions[action]
	return ok
}

// Items as stored. Optional times are pointers so that they are absent,
// not zero, until set.

type noticeItem struct {
	PK          string     `dynamodbav:"pk"`
	SK          string     `dynamodbav:"sk"`
	KeyID       string     `dynamodbav:"keyId"`
	Stage       string     `dynamodbav:"stage"`
	User        string     `dynamodbav:"user"`
	SentAt      time.Time  `dynamodbav:"sentAt"`
	Channel     string     `dynamodbav:"channel"`
	Contact     string     `dynamodbav:"contact,omitempty"`
	DryRun      bool       `dynamodbav:"dryRun"`
	RunID       string     `dynamodbav:"runId,omitempty"`
	RecordedAt  time.Time  `dynamodbav:"recordedAt"`
	DeliveredAt *time.Time `dynamodbav:"deliveredAt,omitempty"`
	MessageID   string     `dynamodbav:"messageId,omitempty"`
	ExpiresAt   int64      `dynamodbav:"expiresAt"`
}

type actionItem struct {
	PK         string    `dynamodbav:"pk"`
	SK         string    `dynamodbav:"sk"`
	KeyID      string    `dynamodbav:"keyId"`
	Action     string    `dynamodbav:"action"`
	User       string    `dynamodbav:"user"`
	At         time.Time `dynamodbav:"at"`
	DryRun     bool      `dynamodbav:"dryRun"`
	RunID      string    `dynamodbav:"runId,omitempty"`
	Reason     string    `dynamodbav:"reason,omitempty"`
	NewKeyID   string    `dynamodbav:"newKeyId,omitempty"`
	SecretARN  string    `dynamodbav:"secretArn,omitempty"`
	RecordedAt time.Time `dynamodbav:"recordedAt"`
	ExpiresAt  int64     `dynamodbav:"expiresAt"`
}

type creationItem struct {
	PK         string    `dynamodbav:"pk"`
	SK         string    `dynamodbav:"sk"`
	KeyID      string    `dynamodbav:"keyId"`
	User       string    `dynamodbav:"user"`
	CreatorARN string    `dynamodbav:"creatorArn,omitempty"`
	SourceIP   string    `dynamodbav:"sourceIp,omitempty"`
	UserAgent  string    `dynamodbav:"userAgent,omitempty"`
	CreatedAt  time.Time `dynamodbav:"createdAt"`
	// CreatedAtSource is absent from records written before it existed.
	CreatedAtSource string    `dynamodbav:"createdAtSource,omitempty"`
	EventID         string    `dynamodbav:"eventId"`
	RecordedAt      time.Time `dynamodbav:"recordedAt"`
	ExpiresAt       int64     `dynamodbav:"expiresAt"`
}

func (it noticeItem) notice() Notice {
	n := Notice{
		User: it.User, SentAt: it.SentAt, Channel: it.Channel, Contact: it.Contact, DryRun: it.DryRun,
		RunID: it.RunID, RecordedAt: it.RecordedAt, MessageID: it.MessageID,
	}
	if it.DeliveredAt != nil {
		n.DeliveredAt = *it.DeliveredAt
	}
	return n
}

func (it actionItem) action() Action {
	return Action{User: it.User, At: it.At, DryRun: it.DryRun, RunID: it.RunID, Reason: it.Reason,
		NewKeyID: it.NewKeyID, SecretARN: it.SecretARN, RecordedAt: it.RecordedAt}
}

func (it creationItem) creation() Creation {
	return Creation{
		KeyID: it.KeyID, User: it.User, CreatorARN: it.CreatorARN, SourceIP: it.SourceIP, UserAgent: it.UserAgent,
		CreatedAt: it.CreatedAt, CreatedAtSource: it.CreatedAtSource, EventID: it.EventID, RecordedAt: it.RecordedAt,
	}
}

// RecordNotice records the notice of stage for keyID, unless it is already
// recorded: recorded is true for exactly one caller per key and stage, and
// only that caller sends the notice (see "Record, then send" in the package
// documentation). A notice already recorded is not an error. A real notice
// replaces one a dry run recorded.
func (l *Ledger) RecordNotice(ctx context.Context, keyID, stage string, n Notice) (recorded bool, err error) {
	what := fmt.Sprintf("record notice %s for key %s", stage, keyID)
	if err := checkKeyID(what, keyID); err != nil {
		return false, err
	}
	if !stagePattern.MatchString(stage) {
		return false, invalid(what, "stage %q: want 1-64 letters, digits, _ . or -", stage)
	}
	switch n.Channel {
	case ChannelSES:
		if n.Contact == "" {
			return false, invalid(what, "channel ses needs the contact address")
		}
	case ChannelSNS:
	default:
		return false, invalid(what, "channel %q: want %s or %s", n.Channel, ChannelSES, ChannelSNS)
	}
	if n.SentAt.IsZero() {
		return false, invalid(what, "no SentAt time")
	}
	now := l.now().UTC()
	item := noticeItem{
		PK: keyPK(keyID), SK: noticeSK(stage), KeyID: keyID, Stage: stage, User: n.User,
		SentAt: n.SentAt.UTC(), Channel: n.Channel, Contact: n.Contact, DryRun: n.DryRun, RunID: n.RunID,
		RecordedAt: now, ExpiresAt: l.expiresAt(now),
	}
	recorded, _, err = l.putOnce(ctx, item, now, !n.DryRun)
	if err != nil {
		return false, step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
	}
	return recorded, nil
}

// ConfirmNotice marks the notice of stage for keyID as delivered, with the
// channel's message id, once the send succeeded. The first confirmation
// wins; a repeated one changes nothing. It returns the notice as stored,
// and ErrNotFound if the notice was never recorded.
func (l *Ledger) ConfirmNotice(ctx context.Context, keyID, stage string, at time.Time, messageID string) (Notice, error) {
	what := fmt.Sprintf("confirm notice %s for key %s", stage, keyID)
	if err := checkKeyID(what, keyID); err != nil {
		return Notice{}, err
	}
	if !stagePattern.MatchString(stage) {
		return Notice{}, invalid(what, "stage %q: want 1-64 letters, digits, _ . or -", stage)
	}
	deliveredAt, err := attributevalue.Marshal(at.UTC())
	if err != nil {
		return Notice{}, step.Classify(fmt.Errorf("ledger: %s: encode time: %w", what, err))
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                           aws.String(l.table),
		Key:                                 itemKey(keyPK(keyID), noticeSK(stage)),
		UpdateExpression:                    aws.String("SET #at = :at, #msg = :msg"),
		ConditionExpression:                 aws.String("attribute_exists(#pk) AND attribute_not_exists(#at)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK, "#at": "deliveredAt", "#msg": "messageId"},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":at": deliveredAt, ":msg": &types.AttributeValueMemberS{Value: messageID}},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if messageID == "" {
		in.UpdateExpression = aws.String("SET #at = :at")
		delete(in.ExpressionAttributeNames, "#msg")
		delete(in.ExpressionAttributeValues, ":msg")
	}
	var stored map[string]types.AttributeValue
	out, err := l.api.UpdateItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		if ccf.Item == nil {
			return Notice{}, step.Classify(fmt.Errorf("ledger: %s: %w", what, ErrNotFound))
		}
		stored = ccf.Item
	case err != nil:
		return Notice{}, step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
	default:
		stored = out.Attributes
	}
	var it noticeItem
	if err := attributevalue.UnmarshalMap(stored, &it); err != nil {
		return Notice{}, step.Classify(fmt.Errorf("ledger: %s: decode: %w", what, err))
	}
	return it.notice(), nil
}

// RecordAction records action (ActionDeactivate, ActionDelete, ActionRotate,
// ActionRotated or ActionContain) on keyID, unless it is already recorded (a real action
// replaces a dry run's). recorded false means "already recorded, do not
// announce it again" — not "already done": callers deactivate and delete
// regardless, since both are idempotent in IAM (see the package
// documentation). A rotation is not idempotent; its caller checks the
// user's keys before it creates one.
func (l *Ledger) RecordAction(ctx context.Context, keyID, action string, a Action) (recorded bool, err error) {
	what := fmt.Sprintf("record action %s on key %s", action, keyID)
	if err := checkKeyID(what, keyID); err != nil {
		return false, err
	}
	switch action {
	case ActionDeactivate, ActionDelete, ActionRotate, ActionContain:
	case ActionRotated:
		if a.NewKeyID == "" || a.SecretARN == "" {
			return false, invalid(what, "a rotation needs the new key's id and its secret's ARN")
		}
	default:
		return false, invalid(what, "action %q: want %s, %s, %s, %s or %s", action, ActionDeactivate, ActionDelete, ActionRotate, ActionRotated, ActionContain)
	}
	if a.At.IsZero() {
		return false, invalid(what, "no At time")
	}
	now := l.now().UTC()
	item := actionItem{
		PK: keyPK(keyID), SK: actionSK(action), KeyID: keyID, Action: action, User: a.User,
		At: a.At.UTC(), DryRun: a.DryRun, RunID: a.RunID, Reason: a.Reason, NewKeyID: a.NewKeyID, SecretARN: a.SecretARN,
		RecordedAt: now, ExpiresAt: l.expiresAt(now),
	}
	recorded, _, err = l.putOnce(ctx, item, now, !a.DryRun)
	if err != nil {
		return false, step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
	}
	return recorded, nil
}

// RecordCreation records who created a key. It is idempotent on the
// CloudTrail event id: the same event recorded again (a redelivery) is
// success; a different event for a key already recorded is ErrConflict,
// since IAM never reuses a key id and such an event is forged or a drill's
// mistake, which a human should see. The first record stays.
func (l *Ledger) RecordCreation(ctx context.Context, c Creation) error {
	what := fmt.Sprintf("record creation of key %s", c.KeyID)
	if err := checkKeyID(what, c.KeyID); err != nil {
		return err
	}
	if c.EventID == "" {
		return invalid(what, "no CloudTrail event id")
	}
	if c.CreatedAt.IsZero() {
		return invalid(what, "no CreatedAt time")
	}
	now := l.now().UTC()
	item := creationItem{
		PK: keyPK(c.KeyID), SK: creationSK, KeyID: c.KeyID, User: c.User, CreatorARN: c.CreatorARN,
		SourceIP: c.SourceIP, UserAgent: c.UserAgent, CreatedAt: c.CreatedAt.UTC(), CreatedAtSource: c.CreatedAtSource,
		EventID: c.EventID, RecordedAt: now, ExpiresAt: l.expiresAt(now),
	}
	written, existing, err := l.putOnce(ctx, item, now, false)
	if err != nil {
		return step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
	}
	if written {
		return nil
	}
	var old creationItem
	if err := attributevalue.UnmarshalMap(existing, &old); err != nil {
		return step.Classify(fmt.Errorf("ledger: %s: decode the existing record: %w", what, err))
	}
	if old.EventID != c.EventID {
		return step.Classify(fmt.Errorf("ledger: %s from event %s: %w: already recorded from event %s", what, c.EventID, ErrConflict, old.EventID))
	}
	return nil
}

// Action reads one recorded action on keyID with a single GetItem; ok is
// false when it was not recorded.
func (l *Ledger) Action(ctx context.Context, keyID, action string) (a Action, ok bool, err error) {
	what := fmt.Sprintf("read action %s on key %s", action, keyID)
	if err := checkKeyID(what, keyID); err != nil {
		return Action{}, false, err
	}
	it, ok, err := getItem[actionItem](ctx, l, what, keyPK(keyID), actionSK(action))
	if err != nil || !ok {
		return Action{}, false, err
	}
	return it.action(), true, nil
}

// Creation returns the recorded creation of keyID; ok is false if there is
// none.
func (l *Ledger) Creation(ctx context.Context, keyID string) (c Creation, ok bool, err error) {
	what := fmt.Sprintf("read creation of key %s", keyID)
	if err := checkKeyID(what, keyID); err != nil {
		return Creation{}, false, err
	}
	it, ok, err := getItem[creationItem](ctx, l, what, keyPK(keyID), creationSK)
	if err != nil || !ok {
		return Creation{}, false, err
	}
	return it.creation(), true, nil
}

// History returns what the ledger knows of keyID: one strongly consistent
// Query of the key's partition.
func (l *Ledger) History(ctx context.Context, keyID string) (KeyHistory, error) {
	what := fmt.Sprintf("read history of key %s", keyID)
	if err := checkKeyID(what, keyID); err != nil {
		return KeyHistory{}, err
	}
	h := KeyHistory{KeyID: keyID, Notices: map[string]Notice{}, Actions: map[string]Action{}}
	pages := dynamodb.NewQueryPaginator(l.api, &dynamodb.QueryInput{
		TableName:                 aws.String(l.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: keyPK(keyID)}},
		ConsistentRead:            aws.Bool(true),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return KeyHistory{}, step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
		}
		for _, av := range page.Items {
			if l.expired(av) {
				continue
			}
			if err := h.add(av); err != nil {
				return KeyHistory{}, step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
			}
		}
	}
	return h, nil
}

// add files one item of a key's partition into h by its sort key.
func (h *KeyHistory) add(av map[string]types.AttributeValue) error {
	var meta struct {
		SK string `dynamodbav:"sk"`
	}
	if err := attributevalue.UnmarshalMap(av, &meta); err != nil {
		return fmt.Errorf("decode item: %w", err)
	}
	switch {
	case strings.HasPrefix(meta.SK, noticePrefix):
		var it noticeItem
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return fmt.Errorf("decode %s: %w", meta.SK, err)
		}
		h.Notices[strings.TrimPrefix(meta.SK, noticePrefix)] = it.notice()
	case strings.HasPrefix(meta.SK, actionPrefix):
		var it actionItem
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return fmt.Errorf("decode %s: %w", meta.SK, err)
		}
		h.Actions[strings.TrimPrefix(meta.SK, actionPrefix)] = it.action()
	case meta.SK == creationSK:
		var it creationItem
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return fmt.Errorf("decode %s: %w", meta.SK, err)
		}
		c := it.creation()
		h.Creation = &c
	}
	// Other sort keys belong to later versions of the ledger; skip them.
	return nil
}

// Histories returns the histories of keyIDs, running at most Concurrency
// queries at once. It fails as a whole if any query fails (after the SDK's
// own retries), naming the key.
func (l *Ledger) Histories(ctx context.Context, keyIDs []string) (map[string]KeyHistory, error) {
	for _, id := range keyIDs {
		if err := checkKeyID("read histories", id); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		out      = make(map[string]KeyHistory, len(keyIDs))
		firstErr error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, l.concurrency)
	)
	for _, id := range keyIDs {
		mu.Lock()
		_, seen := out[id]
		if !seen {
			out[id] = KeyHistory{} // claims id, so duplicates are read once
		}
		stop := firstErr != nil
		mu.Unlock()
		if seen {
			continue
		}
		if stop {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			h, err := l.History(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			out[id] = h
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, step.Classify(fmt.Errorf("ledger: read histories of %d keys: %w", len(keyIDs), err))
	}
	return out, nil
}
