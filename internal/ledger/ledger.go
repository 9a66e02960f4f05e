// Package ledger is keywarden's audit and idempotency store: one DynamoDB
// table that remembers, per access key, which notices were sent and which
// actions were taken, who created the key, and, per daily run, that the run
// started and the chunks of decisions it works through.
//
// # Layout
//
// One table with partition key pk (S), sort key sk (S) and the TTL attribute
// expiresAt (N, epoch seconds):
//
//	pk                  sk               what
//	key#<keyID>         notice#<stage>   a notice to the key's owner (Notice)
//	key#<keyID>         action#<action>  an action on the key (Action)
//	key#<keyID>         created          who created the key (Creation)
//	user#<user>         revocation       the user's latest session revocation (Revocation);
//	                                     user#<account>#<user> in organization mode
//	flags#<kind>#<day>  <time>#<key>…    a line for the next digest (Flag)
//	run#<runID>         run              a daily run (Run)
//	run#<runID>         chunk#<n>        a chunk of the run's decisions
//	run#<runID>         part#<name>      a part of a run left for a later step (organization
//	                                     mode: the accounts, each account's summary)
//
// A key's whole history is one partition, read with one Query; a run and
// its chunks are another. Every item expires Retention (default 400 days)
// after it was written: well past the 90-day deletion of any key the
// policy lets live, so a key's history outlives the key. Items past their
// expiresAt count as absent even before DynamoDB's TTL sweep removes them
// (AWS deletes expired items only eventually), so reads and conditional
// writes agree.
//
// # Idempotency
//
// Every write is conditional on the item not existing yet (or having
// expired) and reports, rather than fails, when it already does: a retried
// Lambda, a redelivered event or a schedule that fires twice all find their
// earlier record. ConditionalCheckFailed is never surfaced as an error.
// A notice or action recorded by a dry run is replaced by the first real
// one, so trying keywarden in dry-run mode never suppresses a real notice;
// a dry run never replaces anything.
//
// # Record, then send
//
// A notice is recorded BEFORE it is sent, and only the caller whose
// RecordNotice returned true sends it. A crash between the record and the
// send therefore loses at most that one notice, but no retry, redelivery or
// second schedule firing can ever send it twice (the design promises "once
// per key and stage"; a warning repeated daily trains owners to ignore
// them). The loss is detectable rather than silent: ConfirmNotice marks a
// notice delivered once the send succeeded, and a notice without
// DeliveredAt in History is one that was recorded but perhaps never sent,
// which the digest can list. This is guardian/security-hq's order: write to
// the ledger, then alert, then act.
//
// Actions are recorded the same way, before they are performed, but their
// result means something different: RecordAction returning false says the
// action was already recorded (so do not announce it again), NOT that it
// was done. Deactivating or deleting a key is idempotent in IAM, and
// skipping it after a crash between record and act would leave a key
// active that policy says must not be, so callers always perform the
// action.
//
// The ledger holds ids, names, addresses and times only; never a secret.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keywarden/keywarden/internal/step"
)

// API is the part of the DynamoDB client the ledger uses.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Defaults for Options.
const (
	DefaultRetention   = 400 * 24 * time.Hour
	DefaultConcurrency = 8
)

// MaxChunkSize is the largest chunk PutChunk stores: it leaves room in
// DynamoDB's 400 KB item for the chunk's key and bookkeeping.
const MaxChunkSize = 350 * 1024

// Notice channels.
const (
	ChannelSES = "ses" // e-mail to the owner's contact address
	ChannelSNS = "sns" // the security topic
)

// Actions on a key.
const (
	ActionDeactivate = "deactivate"
	ActionDelete     = "delete"
	// ActionRotate is recorded before a rotation is attempted, and
	// ActionRotated once the new key is stored: it names the new key and
	// its secret, and starts the old key's retirement.
	ActionRotate  = "rotate"
	ActionRotated = "rotated"
	// ActionContain is the exposed-key branch's deactivation of a key
	// reported exposed: the tamper watch sets such a key Inactive again
	// if anyone re-activates it.
	ActionContain = "contain"
)

// Errors callers can test with errors.Is. Every error the ledger returns is
// also a *step.Error named for the state machine: InvalidEvent for bad
// input, Throttled or Transient for retryable AWS failures, StepFailed for
// the rest (ErrNotFound, ErrConflict, ErrChunkTooLarge included).
var (
	// ErrInvalidInput: an id, stage, action or channel is malformed.
	ErrInvalidInput = errors.New("invalid ledger input")
	// ErrNotFound: the notice, run or chunk asked about was never recorded.
	ErrNotFound = errors.New("not in the ledger")
	// ErrConflict: the ledger already holds a different record for the
	// same thing, e.g. a key's creation from another CloudTrail event.
	ErrConflict = errors.New("conflicts with the ledger")
	// ErrChunkTooLarge: a chunk exceeds MaxChunkSize.
	ErrChunkTooLarge = errors.New("chunk too large")
)

// Options configure a Ledger. The zero value is usable.
type Options struct {
	// Retention is how long every item lives (its expiresAt); default
	// DefaultRetention.
	Retention time.Duration
	// Now is the clock for expiresAt and recordedAt; default time.Now.
	Now func() time.Time
	// Concurrency bounds the queries Histories runs at once; default
	// DefaultConcurrency.
	Concurrency int
	// ByAccount keys what the ledger keeps per user by account and user
	// (organization mode: user names repeat across accounts). Access key
	// ids are unique across AWS, so a key's partition needs no account.
	ByAccount bool
}

// Ledger reads and writes the ledger table. It is safe for concurrent use.
type Ledger struct {
	api         API
	table       string
	retention   time.Duration
	now         func() time.Time
	concurrency int
	byAccount   bool
}

// New returns a Ledger on table through api.
func New(api API, table string, opts Options) (*Ledger, error) {
	if api == nil {
		return nil, step.Errorf(step.InvalidSetting, "ledger: no DynamoDB client")
	}
	if !tableNamePattern.MatchString(table) {
		return nil, step.Errorf(step.InvalidSetting, "ledger: table name %q: want 3-255 letters, digits, _ . or -", table)
	}
	l := &Ledger{api: api, table: table, retention: opts.Retention, now: opts.Now, concurrency: opts.Concurrency, byAccount: opts.ByAccount}
	if l.retention == 0 {
		l.retention = DefaultRetention
	}
	if l.retention < 24*time.Hour {
		return nil, step.Errorf(step.InvalidSetting, "ledger: retention %s: want at least a day (default %s)", opts.Retention, DefaultRetention)
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.concurrency == 0 {
		l.concurrency = DefaultConcurrency
	}
	if l.concurrency < 0 {
		return nil, step.Errorf(step.InvalidSetting, "ledger: concurrency %d: want at least 1", opts.Concurrency)
	}
	return l, nil
}

// Table is the ledger's table name.
func (l *Ledger) Table() string { return l.table }

// Attribute names. Expressions always refer to them through #placeholders,
// since DynamoDB reserves many plain words.
const (
	attrPK        = "pk"
	attrSK        = "sk"
	attrExpiresAt = "expiresAt"
	attrDryRun    = "dryRun"
)

// The key layout; see the package documentation.
const (
	keyPrefix    = "key#"
	noticePrefix = "notice#"
	actionPrefix = "action#"
	creationSK   = "created"
	runPrefix    = "run#"
	runSK        = "run"
	chunkPrefix  = "chunk#"
)

func keyPK(keyID string) string     { return keyPrefix + keyID }
func noticeSK(stage string) string  { return noticePrefix + stage }
func actionSK(action string) string { return actionPrefix + action }
func runPK(runID string) string     { return runPrefix + runID }

// chunkSK pads n so that a run's chunks sort in order.
func chunkSK(n int) string { return fmt.Sprintf("%s%06d", chunkPrefix, n) }

// maxChunks bounds chunk numbers to what chunkSK pads.
const maxChunks = 1_000_000

var (
	tableNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	// IAM's AccessKeyId: 16-128 word characters.
	keyIDPattern = regexp.MustCompile(`^\w{16,128}$`)
	// Stages and run ids become parts of sort and partition keys.
	stagePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	runIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
)

func invalid(what, format string, args ...any) error {
	return step.Errorf(step.InvalidEvent, "ledger: %s: %w: %s", what, ErrInvalidInput, fmt.Sprintf(format, args...))
}

func checkKeyID(what, keyID string) error {
	if !keyIDPattern.MatchString(keyID) {
		return invalid(what, "access key id %q: want 16-128 letters and digits", keyID)
	}
	return nil
}

func checkRunID(what, runID string) error {
	if !runIDPattern.MatchString(runID) {
		return invalid(what, "run id %q: want 1-128 letters, digits, _ . : or -", runID)
	}
	return nil
}

// expiresAt is the TTL of an item written now.
func (l *Ledger) expiresAt(now time.Time) int64 { return now.Add(l.retention).Unix() }

// itemKey is the primary key of an item.
func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: pk},
		attrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

// putOnce writes item unless a live (unexpired) item with its key exists,
// or, with replaceDryRun, one that a dry run recorded: what a dry run
// only pretended to do must not stop the real thing later. It returns the
// existing item instead when there is one.
func (l *Ledger) putOnce(ctx context.Context, item any, now time.Time, replaceDryRun bool) (written bool, existing map[string]types.AttributeValue, err error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return false, nil, fmt.Errorf("encode item: %w", err)
	}
	in := &dynamodb.PutItemInput{
		TableName:                           aws.String(l.table),
		Item:                                av,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #exp < :now"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK, "#exp": attrExpiresAt},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": epoch(now)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if replaceDryRun {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk) OR #exp < :now OR #dry = :true")
		in.ExpressionAttributeNames["#dry"] = attrDryRun
		in.ExpressionAttributeValues[":true"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	_, err = l.api.PutItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return false, ccf.Item, nil
	case err != nil:
		return false, nil, err
	}
	return true, nil, nil
}

// get reads one live item; nil if there is none.
func (l *Ledger) get(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := l.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(l.table),
		Key:            itemKey(pk, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if out.Item == nil || l.expired(out.Item) {
		return nil, nil
	}
	return out.Item, nil
}

// getItem reads one live item and decodes it; ok is false when there is
// none. Errors say what was being done.
func getItem[T any](ctx context.Context, l *Ledger, what, pk, sk string) (it T, ok bool, err error) {
	av, err := l.get(ctx, pk, sk)
	if err != nil {
		return it, false, step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
	}
	if av == nil {
		return it, false, nil
	}
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return it, false, step.Classify(fmt.Errorf("ledger: %s: decode: %w", what, err))
	}
	return it, true, nil
}

// expired tells whether an item is past its expiresAt, and so absent for
// the ledger even if DynamoDB has not deleted it yet.
func (l *Ledger) expired(item map[string]types.AttributeValue) bool {
	var meta struct {
		ExpiresAt int64 `dynamodbav:"expiresAt"`
	}
	if err := attributevalue.UnmarshalMap(item, &meta); err != nil || meta.ExpiresAt == 0 {
		return false
	}
	return meta.ExpiresAt < l.now().Unix()
}

func epoch(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: fmt.Sprint(t.Unix())}
}
