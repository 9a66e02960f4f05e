package ledger

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keywarden/keywarden/internal/step"
)

// Revocation is the exposed-key branch's revocation of a user's sessions:
// the cut-off of the deny policy it wrote, and the key whose exposure
// caused it. The ledger keeps one per user, the latest: a later incident
// writes a later cut-off, which only denies more. The tamper watch reads
// it to put a deleted or changed policy back as it was, while the
// incident is open.
type Revocation struct {
	// Account is the user's account; the ledger requires it, and keys by
	// it, in organization mode (Options.ByAccount).
	Account string
	User    string
	KeyID   string // the exposed key
	// IssuedBefore is the policy's aws:TokenIssueTime cut-off: sessions
	// issued before it are denied.
	IssuedBefore time.Time
	At           time.Time // when the policy was written
	Execution    string    // the execution that wrote it
	// With is how the sessions were revoked: settings.RevokeInlinePolicy
	// (also when empty, as recorded before the choice existed) or
	// settings.RevokeAttachedPolicy, with PolicyArn the policy attached.
	With      string
	PolicyArn string

	RecordedAt time.Time // set by the ledger
}

const (
	userPrefix   = "user#"
	revocationSK = "revocation"
)

// userPK is a user's partition. IAM user names are unique without regard
// to case, and a CloudTrail request may spell one in any case; in
// organization mode only within their account.
func (l *Ledger) userPK(what, account, user string) (string, error) {
	if !userNamePattern.MatchString(user) {
		return "", invalid(what, "user name %q: want 1-64 letters, digits or +=,.@_-", user)
	}
	if !l.byAccount {
		return userPrefix + strings.ToLower(user), nil
	}
	if !accountPattern.MatchString(account) {
		return "", invalid(what, "account %q: want 12 digits (the ledger is keyed by account in organization mode)", account)
	}
	return userPrefix + account + "#" + strings.ToLower(user), nil
}

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// IAM user names: 1 to 64 of letters, digits and +=,.@_-.
var userNamePattern = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

type revocationItem struct {
	PK           string    `dynamodbav:"pk"`
	SK           string    `dynamodbav:"sk"`
	Account      string    `dynamodbav:"account,omitempty"`
	User         string    `dynamodbav:"user"`
	KeyID        string    `dynamodbav:"keyId"`
	IssuedBefore time.Time `dynamodbav:"issuedBefore"`
	// Cutoff is IssuedBefore in epoch seconds, for the condition that
	// keeps the latest revocation.
	Cutoff     int64     `dynamodbav:"cutoff"`
	At         time.Time `dynamodbav:"at"`
	Execution  string    `dynamodbav:"execution,omitempty"`
	With       string    `dynamodbav:"with,omitempty"`
	PolicyArn  string    `dynamodbav:"policyArn,omitempty"`
	RecordedAt time.Time `dynamodbav:"recordedAt"`
	ExpiresAt  int64     `dynamodbav:"expiresAt"`
}

func (it revocationItem) revocation() Revocation {
	return Revocation{Account: it.Account, User: it.User, KeyID: it.KeyID, IssuedBefore: it.IssuedBefore, At: it.At, Execution: it.Execution,
		With: it.With, PolicyArn: it.PolicyArn, RecordedAt: it.RecordedAt}
}

// RecordRevocation records a revocation of r.User's sessions unless the
// ledger holds a later one (a later cut-off): recorded is false then, and
// when the same revocation is recorded again (a retry) it is true. It is
// never an error that a later revocation exists.
func (l *Ledger) RecordRevocation(ctx context.Context, r Revocation) (recorded bool, err error) {
	what := fmt.Sprintf("record revocation of %s's sessions", r.User)
	pk, err := l.userPK(what, r.Account, r.User)
	if err != nil {
		return false, err
	}
	if err := checkKeyID(what, r.KeyID); err != nil {
		return false, err
	}
	if r.IssuedBefore.IsZero() || r.At.IsZero() {
		return false, invalid(what, "IssuedBefore and At are required")
	}
	now := l.now().UTC()
	item := revocationItem{
		PK: pk, SK: revocationSK, Account: r.Account, User: r.User, KeyID: r.KeyID, IssuedBefore: r.IssuedBefore.UTC(),
		Cutoff: r.IssuedBefore.Unix(), At: r.At.UTC(), Execution: r.Execution, With: r.With, PolicyArn: r.PolicyArn, RecordedAt: now, ExpiresAt: l.expiresAt(now),
	}
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return false, step.Classify(fmt.Errorf("ledger: %s: encode: %w", what, err))
	}
	_, err = l.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(l.table),
		Item:                      av,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #exp < :now OR #cut <= :cut"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#exp": attrExpiresAt, "#cut": "cutoff"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": epoch(now), ":cut": epoch(r.IssuedBefore)},
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return false, nil
	case err != nil:
		return false, step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
	}
	return true, nil
}

// Revocation reads the latest revocation of the sessions of user of
// account (ignored unless the ledger is keyed by account); ok is false
// when the ledger has none (or it expired).
func (l *Ledger) Revocation(ctx context.Context, account, user string) (r Revocation, ok bool, err error) {
	what := fmt.Sprintf("read revocation of %s's sessions", user)
	pk, err := l.userPK(what, account, user)
	if err != nil {
		return Revocation{}, false, err
	}
	it, ok, err := getItem[revocationItem](ctx, l, what, pk, revocationSK)
	if err != nil || !ok {
		return Revocation{}, false, err
	}
	return it.revocation(), true, nil
}
