package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keywarden/keywarden/internal/step"
)

// Run is the bookkeeping of one daily key-age run.
type Run struct {
	ID         string
	StartedAt  time.Time
	FinishedAt time.Time // zero while the run is going
	Chunks     int       // the number of chunks, set by FinishRun
}

type runItem struct {
	PK         string     `dynamodbav:"pk"`
	SK         string     `dynamodbav:"sk"`
	RunID      string     `dynamodbav:"runId"`
	StartedAt  time.Time  `dynamodbav:"startedAt"`
	FinishedAt *time.Time `dynamodbav:"finishedAt,omitempty"`
	Chunks     int        `dynamodbav:"chunks"`
	ExpiresAt  int64      `dynamodbav:"expiresAt"`
}

type chunkItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	RunID     string `dynamodbav:"runId"`
	N         int    `dynamodbav:"n"`
	Data      []byte `dynamodbav:"data"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
}

func (it runItem) run() Run {
	r := Run{ID: it.RunID, StartedAt: it.StartedAt, Chunks: it.Chunks}
	if it.FinishedAt != nil {
		r.FinishedAt = *it.FinishedAt
	}
	return r
}

// StartRun records that run runID started at at. started is false if the
// run was already started: the daily schedule firing twice for the same
// day (runID derived from the day) starts one run, and the second
// execution ends at once. It is a gate for the run's once-a-day work (the
// digest); per-key notices and actions are protected by their own records
// whatever happens to a run.
func (l *Ledger) StartRun(ctx context.Context, runID string, at time.Time) (started bool, err error) {
	what := "start run " + runID
	if err := checkRunID(what, runID); err != nil {
		return false, err
	}
	if at.IsZero() {
		return false, invalid(what, "no start time")
	}
	now := l.now().UTC()
	item := runItem{PK: runPK(runID), SK: runSK, RunID: runID, StartedAt: at.UTC(), ExpiresAt: l.expiresAt(now)}
	started, _, err = l.putOnce(ctx, item, now, false)
	if err != nil {
		return false, step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
	}
	return started, nil
}

// FinishRun records that run runID finished at at with chunks chunks.
// finished is false if it was already finished (the first finish stays);
// a run never started is ErrNotFound.
func (l *Ledger) FinishRun(ctx context.Context, runID string, at time.Time, chunks int) (finished bool, err error) {
	what := "finish run " + runID
	if err := checkRunID(what, runID); err != nil {
		return false, err
	}
	if at.IsZero() {
		return false, invalid(what, "no finish time")
	}
	if chunks < 0 || chunks > maxChunks {
		return false, invalid(what, "chunk count %d: want 0-%d", chunks, maxChunks)
	}
	finishedAt, err := attributevalue.Marshal(at.UTC())
	if err != nil {
		return false, step.Classify(fmt.Errorf("ledger: %s: encode time: %w", what, err))
	}
	_, err = l.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(l.table),
		Key:                                 itemKey(runPK(runID), runSK),
		UpdateExpression:                    aws.String("SET #fin = :fin, #chunks = :chunks"),
		ConditionExpression:                 aws.String("attribute_exists(#pk) AND attribute_not_exists(#fin)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK, "#fin": "finishedAt", "#chunks": "chunks"},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":fin": finishedAt, ":chunks": &types.AttributeValueMemberN{Value: fmt.Sprint(chunks)}},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		if ccf.Item == nil {
			return false, step.Classify(fmt.Errorf("ledger: %s: %w: the run was never started", what, ErrNotFound))
		}
		return false, nil
	case err != nil:
		return false, step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
	}
	return true, nil
}

// Run returns the bookkeeping of run runID; ok is false if it never
// started.
func (l *Ledger) Run(ctx context.Context, runID string) (r Run, ok bool, err error) {
	what := "read run " + runID
	if err := checkRunID(what, runID); err != nil {
		return Run{}, false, err
	}
	it, ok, err := getItem[runItem](ctx, l, what, runPK(runID), runSK)
	if err != nil || !ok {
		return Run{}, false, err
	}
	return it.run(), true, nil
}

// PutChunk stores chunk n (0 or more) of run runID's decisions, so the
// state machine passes only small chunk references through its 256 KB
// payload limit. data is at most MaxChunkSize bytes. Writing the same
// chunk again replaces it: a retried step rewrites what it computed.
func (l *Ledger) PutChunk(ctx context.Context, runID string, n int, data []byte) error {
	what := fmt.Sprintf("put chunk %d of run %s", n, runID)
	if err := checkRunID(what, runID); err != nil {
		return err
	}
	if n < 0 || n >= maxChunks {
		return invalid(what, "chunk number %d: want 0-%d", n, maxChunks-1)
	}
	if len(data) > MaxChunkSize {
		return step.Classify(fmt.Errorf("ledger: %s: %w: %d bytes, at most %d", what, ErrChunkTooLarge, len(data), MaxChunkSize))
	}
	if data == nil {
		data = []byte{}
	}
	now := l.now().UTC()
	av, err := attributevalue.MarshalMap(chunkItem{PK: runPK(runID), SK: chunkSK(n), RunID: runID, N: n, Data: data, ExpiresAt: l.expiresAt(now)})
	if err != nil {
		return step.Classify(fmt.Errorf("ledger: %s: encode: %w", what, err))
	}
	if _, err := l.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.table), Item: av}); err != nil {
		return step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
	}
	return nil
}

// GetChunk reads chunk n of run runID; ErrNotFound if it was never put.
func (l *Ledger) GetChunk(ctx context.Context, runID string, n int) ([]byte, error) {
	what := fmt.Sprintf("get chunk %d of run %s", n, runID)
	if err := checkRunID(what, runID); err != nil {
		return nil, err
	}
	if n < 0 || n >= maxChunks {
		return nil, invalid(what, "chunk number %d: want 0-%d", n, maxChunks-1)
	}
	av, err := l.get(ctx, runPK(runID), chunkSK(n))
	if err != nil {
		return nil, step.Classify(fmt.Errorf("ledger: %s: %w", what, err))
	}
	if av == nil {
		return nil, step.Classify(fmt.Errorf("ledger: %s: %w", what, ErrNotFound))
	}
	var it chunkItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return nil, step.Classify(fmt.Errorf("ledger: %s: decode: %w", what, err))
	}
	if it.Data == nil {
		it.Data = []byte{}
	}
	return it.Data, nil
}
