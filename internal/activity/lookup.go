package activity

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// PageSize is LookupEvents' largest page.
const PageSize = 50

// RequestInterval spaces LookupEvents requests to one region: CloudTrail
// allows 2 per second per account and region, and throttles beyond that.
const RequestInterval = time.Second / 2

// limiter spaces requests per region. Each request reserves the next free
// slot, so concurrent callers queue up instead of bursting. It lives as long
// as the Handler, so a warm Lambda that starts a second lookup right after a
// first one still keeps the pace. Other Lambda instances (two incidents at
// once) are not coordinated with: the SDK retries the rare throttling that
// causes, and the state machine retries the named Throttled error.
type limiter struct {
	mu    sync.Mutex
	next  map[string]time.Time
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

func newLimiter(now func() time.Time, sleep func(context.Context, time.Duration) error) *limiter {
	return &limiter{next: map[string]time.Time{}, now: now, sleep: sleep}
}

// wait blocks until a request to region may be made, or ctx is done.
func (l *limiter) wait(ctx context.Context, region string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	now := l.now()
	at := l.next[region]
	if at.Before(now) {
		at = now
	}
	l.next[region] = at.Add(RequestInterval)
	l.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return l.sleep(ctx, d)
	}
	return nil
}

// query is one search: what to look up, over which window, how far.
type query struct {
	keyID, user string
	start, end  time.Time
	maxEvents   int
}

// attributes are the lookups to make: by key, and by user unless there is
// no IAM user to look up (root, or unknown).
func (q query) attributes() []types.LookupAttribute {
	attrs := []types.LookupAttribute{{
		AttributeKey: types.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(q.keyID),
	}}
	if q.user != "" {
		attrs = append(attrs, types.LookupAttribute{
			AttributeKey: types.LookupAttributeKeyUsername, AttributeValue: aws.String(q.user),
		})
	}
	return attrs
}

// regionResult is what searching one region did.
type regionResult struct {
	region    string
	events    int // read, before de-duplication across lookups
	requests  int
	truncated bool
	err       error
}

// searchRegion runs every lookup of q in one region, feeding t.
func searchRegion(ctx context.Context, api LookupAPI, lim *limiter, region string, q query, t *tally) regionResult {
	res := regionResult{region: region}
	if api == nil {
		res.err = fmt.Errorf("look up CloudTrail events for key %s in %s: no CloudTrail client for the region", q.keyID, region)
		return res
	}
	for _, attr := range q.attributes() {
		n, requests, truncated, err := lookup(ctx, api, lim, region, attr, q, t)
		res.events += n
		res.requests += requests
		res.truncated = res.truncated || truncated
		if err != nil {
			what := "key " + q.keyID
			if attr.AttributeKey == types.LookupAttributeKeyUsername {
				what = "user " + q.user
			}
			res.err = fmt.Errorf("look up CloudTrail events for %s in %s: %w", what, region, err)
			return res
		}
	}
	return res
}

// lookup pages through one lookup until CloudTrail has no more events or
// q.maxEvents were read. CloudTrail may answer with short or even empty pages
// that still carry a NextToken, so the pages are capped too, at twice what
// full pages would need: a misbehaving pagination ends as Truncated rather
// than at the Lambda's timeout.
func lookup(ctx context.Context, api LookupAPI, lim *limiter, region string, attr types.LookupAttribute, q query, t *tally) (read, requests int, truncated bool, err error) {
	maxPages := 2 * ((q.maxEvents + PageSize - 1) / PageSize)
	var token *string
	for {
		if err := lim.wait(ctx, region); err != nil {
			return read, requests, truncated, err
		}
		out, err := api.LookupEvents(ctx, &cloudtrail.LookupEventsInput{
			LookupAttributes: []types.LookupAttribute{attr},
			StartTime:        aws.Time(q.start),
			EndTime:          aws.Time(q.end),
			MaxResults:       aws.Int32(PageSize),
			NextToken:        token,
		})
		requests++
		if err != nil {
			return read, requests, truncated, err
		}
		events := out.Events
		if room := q.maxEvents - read; len(events) > room {
			events, truncated = events[:room], true
		}
		read += len(events)
		t.add(region, events)
		token = out.NextToken
		if token == nil || *token == "" {
			return read, requests, truncated, nil
		}
		if read >= q.maxEvents || requests >= maxPages {
			return read, requests, true, nil
		}
	}
}
