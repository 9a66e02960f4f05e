package credreport

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/step"
)

// UserAPI is what Resolve calls.
type UserAPI interface {
	ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, optFns ...func(*iam.Options)) (*iam.ListUserTagsOutput, error)
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
}

var _ UserAPI = (*iam.Client)(nil)

// DefaultConcurrency is how many users Resolve looks up at once unless told
// otherwise: enough to hide IAM's latency, few enough to stay clear of its
// request rate limits.
const DefaultConcurrency = 4

// UserDetail is what IAM says now about a user the report flagged.
type UserDetail struct {
	// Gone is true when IAM no longer knows the user (deleted after the
	// report was generated); Tags and Keys are then empty.
	Gone bool              `json:"gone,omitempty"`
	Tags map[string]string `json:"tags"`
	// Keys are the user's access keys, oldest first (ties by id).
	Keys []AccessKey `json:"keys"`
}

// AccessKey is a key as ListAccessKeys lists it.
type AccessKey struct {
	ID      string    `json:"id"`
	Status  string    `json:"status"` // Active or Inactive
	Created time.Time `json:"created"`
}

// ResolveOption tunes Resolve.
type ResolveOption func(*resolveConfig)

type resolveConfig struct{ concurrency int }

// WithConcurrency sets how many users Resolve looks up at once (default
// DefaultConcurrency; values below 1 mean 1).
func WithConcurrency(n int) ResolveOption {
	return func(c *resolveConfig) { c.concurrency = max(n, 1) }
}

// Resolve looks up the tags and access keys of each of users, at most
// DefaultConcurrency (or WithConcurrency) users at a time, with
// ListUserTags and ListAccessKeys, all pages. Pass only the users that
// need it — those with a key past the first threshold — since this is
// where the scan's cost grows with the account.
//
// A user IAM no longer knows (NoSuchEntity) is in the result with Gone
// set, not an error. The first other failure stops the lookups and is
// returned, wrapped with the user's name and classified with
// step.Classify. An empty user name is a step.InvalidEvent error: IAM
// would answer for the caller instead.
func Resolve(ctx context.Context, api UserAPI, users []string, opts ...ResolveOption) (map[string]UserDetail, error) {
	cfg := resolveConfig{concurrency: DefaultConcurrency}
	for _, o := range opts {
		o(&cfg)
	}
	var unique []string
	seen := make(map[string]bool, len(users))
	for _, u := range users {
		if u == "" {
			return nil, step.Errorf(step.InvalidEvent, "resolve users: empty user name")
		}
		if !seen[u] {
			seen[u] = true
			unique = append(unique, u)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		out      = make(map[string]UserDetail, len(unique))
		firstErr error
		wg       sync.WaitGroup
	)
	jobs := make(chan string)
	for range min(cfg.concurrency, len(unique)) {
		wg.Go(func() {
			for name := range jobs {
				d, err := resolveUser(ctx, api, name)
				mu.Lock()
				switch {
				case err != nil && firstErr == nil:
					firstErr = err
					cancel()
				case err == nil:
					out[name] = d
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, name := range unique {
		select {
		case jobs <- name:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if len(out) != len(unique) {
		// Stopped by the caller's context before any lookup failed.
		return nil, step.Classify(fmt.Errorf("resolve users: %w", context.Cause(ctx)))
	}
	return out, nil
}

// resolveUser lists one user's tags and keys.
func resolveUser(ctx context.Context, api UserAPI, name string) (UserDetail, error) {
	d := UserDetail{Tags: map[string]string{}, Keys: []AccessKey{}}
	tags := iam.NewListUserTagsPaginator(api, &iam.ListUserTagsInput{UserName: aws.String(name)})
	for tags.HasMorePages() {
		page, err := tags.NextPage(ctx)
		if step.IsNoSuchEntity(err) {
			return UserDetail{Gone: true}, nil
		}
		if err != nil {
			return UserDetail{}, step.Classify(fmt.Errorf("list tags of user %s: %w", name, err))
		}
		for _, t := range page.Tags {
			d.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	keys := iam.NewListAccessKeysPaginator(api, &iam.ListAccessKeysInput{UserName: aws.String(name)})
	for keys.HasMorePages() {
		page, err := keys.NextPage(ctx)
		if step.IsNoSuchEntity(err) {
			return UserDetail{Gone: true}, nil
		}
		if err != nil {
			return UserDetail{}, step.Classify(fmt.Errorf("list access keys of user %s: %w", name, err))
		}
		for _, k := range page.AccessKeyMetadata {
			d.Keys = append(d.Keys, AccessKey{ID: aws.ToString(k.AccessKeyId), Status: string(k.Status), Created: aws.ToTime(k.CreateDate).UTC()})
		}
	}
	slices.SortFunc(d.Keys, func(a, b AccessKey) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return d, nil
}

// Matched is a key of the credential report paired with the key IAM lists.
type Matched struct {
	Key
	// AccessKeyID is empty when IAM lists no key created at LastRotated:
	// the key was deleted after the report was generated.
	AccessKeyID string `json:"accessKeyId,omitempty"`
	// Status is the key's status in IAM now (it may differ from the
	// report's Active); empty when not found.
	Status string `json:"status,omitempty"`
	// Ambiguous is true when more than one key of the user was created in
	// the same second, so the pairing followed the tie-break rule of
	// MatchKeys rather than the dates alone.
	Ambiguous bool `json:"ambiguous,omitempty"`
}

// MatchKeys pairs one user's report keys with the keys IAM lists for that
// user (UserDetail.Keys), since the report carries no key ids. The result
// is in the order of reported.
//
// The rule: a report slot is the listed key whose CreateDate, truncated to
// the second, equals the slot's last_rotated date (IAM keys are not changed
// in place, so last_rotated is the creation time, which the report gives to
// the second). Listed keys created after the report match no slot and are
// left out; a slot whose key was deleted since gets no id.
//
// When several keys fall in the same second (two keys created together by
// a script), dates cannot tell them apart. Then, deterministically: first
// each slot, in slot order, takes the key with the smallest id whose
// status agrees with the slot's active flag; then each slot still without
// a key, in slot order, takes the remaining key with the smallest id. Every
// pairing in that second is marked Ambiguous. Such keys have the same age,
// so age decisions do not depend on the pairing; only the last-use data
// might belong to the other key.
func MatchKeys(reported []Key, listed []AccessKey) []Matched {
	bySecond := map[int64][]AccessKey{}
	for _, k := range listed {
		s := k.Created.Unix()
		bySecond[s] = append(bySecond[s], k)
	}
	for _, ks := range bySecond {
		slices.SortFunc(ks, func(a, b AccessKey) int { return cmp.Compare(a.ID, b.ID) })
	}
	slotsInSecond := map[int64]int{}
	for _, r := range reported {
		slotsInSecond[r.LastRotated.Unix()]++
	}
	order := make([]int, len(reported))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(reported[a].Slot, reported[b].Slot) })

	taken := map[string]bool{}
	pick := func(cands []AccessKey, want func(AccessKey) bool) (AccessKey, bool) {
		for _, c := range cands {
			if !taken[c.ID] && want(c) {
				taken[c.ID] = true
				return c, true
			}
		}
		return AccessKey{}, false
	}
	out := make([]Matched, len(reported))
	found := make([]bool, len(reported))
	// First pass: keys whose status agrees with the slot's active flag;
	// second pass: whatever key of the same second is left.
	for pass := range 2 {
		for _, i := range order {
			if found[i] {
				continue
			}
			r := reported[i]
			s := r.LastRotated.Unix()
			cands := bySecond[s]
			out[i] = Matched{Key: r, Ambiguous: len(cands) > 1 || (len(cands) > 0 && slotsInSecond[s] > 1)}
			wantStatus := string(types.StatusTypeInactive)
			if r.Active {
				wantStatus = string(types.StatusTypeActive)
			}
			k, ok := pick(cands, func(c AccessKey) bool { return pass == 1 || c.Status == wantStatus })
			if ok {
				out[i].AccessKeyID, out[i].Status = k.ID, k.Status
				found[i] = true
			}
		}
	}
	return out
}
