package ledger

import (
	"context"
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keywarden/keywarden/internal/step"
)

// A run's parts are what its steps leave for a later step to read, beside
// its chunks: in organization mode, the accounts the daily run fans out
// over and each account's summary, which would not fit in the state
// machine's 256 KB payload once there are many accounts.
//
//	run#<runID>  part#<name>  one part (PutRunPart)
const partPrefix = "part#"

// MaxRunPartSize bounds a part as MaxChunkSize bounds a chunk.
const MaxRunPartSize = MaxChunkSize

var partNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.:#-]{1,128}$`)

type partItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	RunID     string `dynamodbav:"runId"`
	Part      string `dynamodbav:"part"`
	Data      []byte `dynamodbav:"data"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
}

// PutRunPart stores the part name of run runID. Writing it again replaces
// it: a retried step rewrites what it computed.
func (l *Ledger) PutRunPart(ctx context.Context, runID, name string, data []byte) error {
	what := fmt.Sprintf("put part %s of run %s", name, runID)
	if err := checkRunID(what, runID); err != nil {
		return err
	}
	if !partNamePattern.MatchString(name) {
		return invalid(what, "part name %q: want 1-128 letters, digits, _ . : # or -", name)
	}
	if len(data) > MaxRunPartSize {
		return step.Classify(fmt.Errorf("ledger: %s: %w: %d bytes, at most %d", what, ErrChunkTooLarge, len(data), MaxRunPartSize))
	}
	if data == nil {
		data = []byte{}
	}
	now := l.now().UTC()
	av, err := attributevalue.MarshalMap(partItem{PK: runPK(runID), SK: partPrefix + name, RunID: runID, Part: name, Data: data, ExpiresAt: l.expiresAt(now)})
	if err != nil {
		return step.Classify(fmt.Errorf("ledger: %s: encode: %w", what, err))
	}
	if _, err := l.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.table), Item: av}); err != nil {
		return step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
	}
	return nil
}

// RunParts reads the parts of run runID whose names start with prefix,
// by name: one strongly consistent, paged Query.
func (l *Ledger) RunParts(ctx context.Context, runID, prefix string) (map[string][]byte, error) {
	what := fmt.Sprintf("read parts %s* of run %s", prefix, runID)
	if err := checkRunID(what, runID); err != nil {
		return nil, err
	}
	if prefix != "" && !partNamePattern.MatchString(prefix) {
		return nil, invalid(what, "part prefix %q: want letters, digits, _ . : # or -", prefix)
	}
	pages := dynamodb.NewQueryPaginator(l.api, &dynamodb.QueryInput{
		TableName:                aws.String(l.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":     &types.AttributeValueMemberS{Value: runPK(runID)},
			":prefix": &types.AttributeValueMemberS{Value: partPrefix + prefix},
		},
		ConsistentRead: aws.Bool(true),
	})
	out := map[string][]byte{}
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
		}
		for _, av := range page.Items {
			if l.expired(av) {
				continue
			}
			var it partItem
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				return nil, step.Classify(fmt.Errorf("ledger: %s: decode: %w", what, err))
			}
			if it.Data == nil {
				it.Data = []byte{}
			}
			out[it.Part] = it.Data
		}
	}
	return out, nil
}
