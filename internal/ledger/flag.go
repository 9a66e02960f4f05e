package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keywarden/keywarden/internal/step"
)

// Flag is a finding about a key or a user worth a line in the next digest,
// such as a key created for a user not allowed long-term keys, or a change
// to a policy tag.
type Flag struct {
	Kind  string // e.g. "created-against-policy"
	KeyID string // empty for a flag about a user
	User  string //
	// Ref tells apart flags of one key or user at the same time, e.g. the
	// CloudTrail event id; a flag recorded again with the same kind, key
	// or user, time and Ref is the same flag.
	Ref    string
	At     time.Time // when it happened
	Detail string    // one line for the digest
}

// Flag kinds recorded by the tamper watch (internal/tamper): a change to
// one of the user tags the key-age policy reads, and any other undoing of
// a keywarden response. The daily digest lists both.
const (
	FlagPolicyTagChanged = "policy-tag-changed"
	FlagTampered         = "tampered"
)

const flagPrefix = "flags#"

// flagItem is stored under pk flags#<kind>#<day>, sk <time>#<key id>, so
// a day's flags of one kind are one Query.
type flagItem struct {
	PK        string    `dynamodbav:"pk"`
	SK        string    `dynamodbav:"sk"`
	Kind      string    `dynamodbav:"kind"`
	KeyID     string    `dynamodbav:"keyId"`
	User      string    `dynamodbav:"user"`
	At        time.Time `dynamodbav:"at"`
	Ref       string    `dynamodbav:"ref,omitempty"`
	Detail    string    `dynamodbav:"detail"`
	ExpiresAt int64     `dynamodbav:"expiresAt"`
}

func flagPK(kind string, day time.Time) string {
	return flagPrefix + kind + "#" + day.UTC().Format("2006-01-02")
}

// RecordFlag records a flag once (the same kind, key or user, time and Ref
// again is a no-op, so a redelivered event does not list twice). A flag
// names a key, or, with no key, a user.
func (l *Ledger) RecordFlag(ctx context.Context, f Flag) error {
	what := fmt.Sprintf("record flag %s for key %s", f.Kind, f.KeyID)
	subject := f.KeyID
	if f.KeyID == "" {
		what = fmt.Sprintf("record flag %s for user %s", f.Kind, f.User)
		if !userNamePattern.MatchString(f.User) {
			return invalid(what, "a flag names a key or a user; user name %q: want 1-64 letters, digits or +=,.@_-", f.User)
		}
		subject = "user:" + strings.ToLower(f.User)
	} else if err := checkKeyID(what, f.KeyID); err != nil {
		return err
	}
	if !stagePattern.MatchString(f.Kind) || f.At.IsZero() {
		return invalid(what, "kind %q and a time are required", f.Kind)
	}
	if len(f.Ref) > 256 {
		return invalid(what, "ref of %d bytes: want at most 256", len(f.Ref))
	}
	sk := f.At.UTC().Format(time.RFC3339Nano) + "#" + subject
	if f.Ref != "" {
		sk += "#" + f.Ref
	}
	now := l.now().UTC()
	item := flagItem{PK: flagPK(f.Kind, f.At), SK: sk, Kind: f.Kind,
		KeyID: f.KeyID, User: f.User, At: f.At.UTC(), Ref: f.Ref, Detail: f.Detail, ExpiresAt: l.expiresAt(now)}
	if _, _, err := l.putOnce(ctx, item, now, false); err != nil {
		return step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
	}
	return nil
}

// FlagsSince returns the flags of kind recorded at or after since (up to
// now), oldest first: one Query per UTC day.
func (l *Ledger) FlagsSince(ctx context.Context, kind string, since, now time.Time) ([]Flag, error) {
	var out []Flag
	for day := since.UTC().Truncate(24 * time.Hour); !day.After(now.UTC()); day = day.Add(24 * time.Hour) {
		p := dynamodb.NewQueryPaginator(l.api, &dynamodb.QueryInput{
			TableName:                 aws.String(l.table),
			KeyConditionExpression:    aws.String("#pk = :pk"),
			ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: flagPK(kind, day)}},
			ConsistentRead:            aws.Bool(true),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return out, step.Classify(fmt.Errorf("ledger: read %s flags of %s: %w", kind, day.Format("2006-01-02"), err))
			}
			for _, av := range page.Items {
				if l.expired(av) {
					continue
				}
				var it flagItem
				if err := attributevalue.UnmarshalMap(av, &it); err != nil {
					return out, step.Classify(fmt.Errorf("ledger: decode a %s flag: %w", kind, err))
				}
				if !it.At.Before(since) {
					out = append(out, Flag{Kind: it.Kind, KeyID: it.KeyID, User: it.User, Ref: it.Ref, At: it.At, Detail: it.Detail})
				}
			}
		}
	}
	return out, nil
}
