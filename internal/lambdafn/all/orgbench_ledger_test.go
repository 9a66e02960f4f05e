//go:build unix

package all

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keywarden/keywarden/internal/localaws"
)

// ledgerShards is the hub's ledger table for the organization benchmark,
// served by many localaws accounts, each holding the partitions whose key
// hashes to it. localaws delegates DynamoDB to minidyn, whose Query reads
// every item of the table: one Query per flagged key (the ledger's
// histories) over a table that grows by ~300 items per account makes the
// emulator's cost quadratic in accounts (40 accounts took 175 s, most of
// it in minidyn's Query). Every ledger operation (GetItem, PutItem,
// UpdateItem, Query on "#pk = :pk") names one partition, and DynamoDB
// itself partitions by key, so sharding by the partition key answers
// exactly as one table would.
type ledgerShards struct {
	next   aws.HTTPClient
	shards []*localaws.Server
	urls   []*url.URL
}

// ledgerShardCount keeps a shard's part of the benchmark's ledger to a few
// hundred items.
const ledgerShardCount = 1024

func newLedgerShards(b *testing.B, next aws.HTTPClient) *ledgerShards {
	b.Helper()
	l := &ledgerShards{next: next}
	for range ledgerShardCount {
		s, err := localaws.New(localaws.Options{AccountID: benchHub})
		must(b, err)
		b.Cleanup(func() { _ = s.Close() })
		u, err := url.Parse(s.URL())
		must(b, err)
		l.shards, l.urls = append(l.shards, s), append(l.urls, u)
	}
	return l
}

// createTable creates the ledger table in every shard.
func (l *ledgerShards) createTable(b *testing.B, name string) {
	b.Helper()
	for _, s := range l.shards {
		must(b, s.CreateDynamoDBTable(localaws.DynamoDBTable{Name: name, PartitionKey: "pk", SortKey: "sk"}))
	}
}

// Do sends a DynamoDB request to the shard of its partition key, anything
// else on.
func (l *ledgerShards) Do(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_") {
		return l.next.Do(r)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	_ = r.Body.Close()
	pk, err := partitionKey(body)
	if err != nil {
		return nil, err
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(pk))
	u := l.urls[h.Sum32()%uint32(len(l.urls))]
	r2 := r.Clone(r.Context())
	r2.URL.Scheme, r2.URL.Host, r2.Host = u.Scheme, u.Host, u.Host
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	return l.next.Do(r2)
}

// partitionKey reads the "pk" of a ledger request: its Key, its Item, or
// the :pk of its key condition.
func partitionKey(body []byte) (string, error) {
	type attr struct{ S string }
	var in struct {
		Key                       map[string]attr
		Item                      map[string]attr
		ExpressionAttributeValues map[string]attr
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return "", fmt.Errorf("ledger shards: %w", err)
	}
	for _, v := range []string{in.Key["pk"].S, in.Item["pk"].S, in.ExpressionAttributeValues[":pk"].S} {
		if v != "" {
			return v, nil
		}
	}
	return "", fmt.Errorf("ledger shards: no partition key in %s", body)
}

// marks is how many calls each shard has answered so far.
func (l *ledgerShards) marks() []int {
	m := make([]int, len(l.shards))
	for i, s := range l.shards {
		m[i] = len(s.Calls())
	}
	return m
}

// callsSince adds the shards' calls since m to into, by operation.
func (l *ledgerShards) callsSince(m []int, into map[string]int) {
	for i, s := range l.shards {
		for _, c := range s.Calls()[m[i]:] {
			into[c.Service+":"+c.Operation]++
		}
	}
}
