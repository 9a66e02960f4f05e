package credreport

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/step"
)

// fakeUsers answers ListUserTags and ListAccessKeys from its users, pageSize
// items per page (IAM's Marker/IsTruncated paging), and records the calls.
type fakeUsers struct {
	users    map[string]fakeUser
	pageSize int
	fail     map[string]error // user → error of every call about them
	delay    time.Duration

	mu       sync.Mutex
	calls    []string
	inFlight atomic.Int32
	peak     atomic.Int32
}

type fakeUser struct {
	tags map[string]string
	keys []types.AccessKeyMetadata
}

func (f *fakeUsers) begin(op string, user *string) (fakeUser, error) {
	n := f.inFlight.Add(1)
	for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
	}
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	f.inFlight.Add(-1)
	name := aws.ToString(user)
	f.mu.Lock()
	f.calls = append(f.calls, op+" "+name)
	f.mu.Unlock()
	if err := f.fail[name]; err != nil {
		return fakeUser{}, err
	}
	u, ok := f.users[name]
	if !ok {
		return fakeUser{}, &types.NoSuchEntityException{Message: aws.String("The user with name " + name + " cannot be found.")}
	}
	return u, nil
}

// page returns the items of the page that marker starts.
func page[T any](items []T, marker *string, size int) ([]T, bool, *string) {
	start, _ := strconv.Atoi(aws.ToString(marker))
	end := min(start+size, len(items))
	if end < len(items) {
		return items[start:end], true, aws.String(strconv.Itoa(end))
	}
	return items[start:end], false, nil
}

func (f *fakeUsers) ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, _ ...func(*iam.Options)) (*iam.ListUserTagsOutput, error) {
	u, err := f.begin("ListUserTags", in.UserName)
	if err != nil {
		return nil, err
	}
	var tags []types.Tag
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range u.tags {
			if !yield(k) {
				return
			}
		}
	}) {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(u.tags[k])})
	}
	items, more, next := page(tags, in.Marker, f.pageSize)
	return &iam.ListUserTagsOutput{Tags: items, IsTruncated: more, Marker: next}, nil
}

func (f *fakeUsers) ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	u, err := f.begin("ListAccessKeys", in.UserName)
	if err != nil {
		return nil, err
	}
	items, more, next := page(u.keys, in.Marker, f.pageSize)
	return &iam.ListAccessKeysOutput{AccessKeyMetadata: items, IsTruncated: more, Marker: next}, nil
}

func meta(id string, status types.StatusType, created string) types.AccessKeyMetadata {
	return types.AccessKeyMetadata{AccessKeyId: aws.String(id), Status: status, CreateDate: aws.Time(date(created))}
}

func TestResolve(t *testing.T) {
	api := &fakeUsers{pageSize: 1, users: map[string]fakeUser{
		"alice": {
			tags: map[string]string{"owner": "alice@example.com", "kind": "human", "exempt-until": "2026-06-01"},
			keys: []types.AccessKeyMetadata{
				meta("AKIAALICENEWER000002", types.StatusTypeActive, "2026-01-05T10:00:00Z"),
				meta("AKIAALICEOLDER000001", types.StatusTypeInactive, "2025-11-20T14:03:22Z"),
			},
		},
		"svc":      {keys: []types.AccessKeyMetadata{meta("AKIASVC0000000000001", types.StatusTypeActive, "2025-01-01T00:00:00Z")}},
		"bystand":  {tags: map[string]string{"owner": "x"}},
		"no-keys":  {tags: map[string]string{"owner": "nk@example.com"}},
		"untagged": {},
	}}
	got, err := Resolve(context.Background(), api, []string{"alice", "svc", "ghost", "alice", "no-keys"})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	want := map[string]UserDetail{
		"alice": {
			Tags: map[string]string{"owner": "alice@example.com", "kind": "human", "exempt-until": "2026-06-01"},
			Keys: []AccessKey{
				{ID: "AKIAALICEOLDER000001", Status: "Inactive", Created: date("2025-11-20T14:03:22Z")},
				{ID: "AKIAALICENEWER000002", Status: "Active", Created: date("2026-01-05T10:00:00Z")},
			},
		},
		"svc":     {Tags: map[string]string{}, Keys: []AccessKey{{ID: "AKIASVC0000000000001", Status: "Active", Created: date("2025-01-01T00:00:00Z")}}},
		"ghost":   {Gone: true},
		"no-keys": {Tags: map[string]string{"owner": "nk@example.com"}, Keys: []AccessKey{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve =\n%+v\nwant\n%+v", got, want)
	}
	// Only the users asked for, each once, every page.
	calls := slices.Clone(api.calls)
	slices.Sort(calls)
	wantCalls := []string{
		"ListAccessKeys alice", "ListAccessKeys alice", "ListAccessKeys no-keys", "ListAccessKeys svc",
		"ListUserTags alice", "ListUserTags alice", "ListUserTags alice", "ListUserTags ghost",
		"ListUserTags no-keys", "ListUserTags svc",
	}
	if !reflect.DeepEqual(calls, wantCalls) {
		t.Errorf("calls = %q\nwant %q", calls, wantCalls)
	}
}

func TestResolveNothing(t *testing.T) {
	api := &fakeUsers{pageSize: 100}
	got, err := Resolve(context.Background(), api, nil)
	if err != nil || len(got) != 0 || len(api.calls) != 0 {
		t.Errorf("Resolve(nil) = %v, %v after calls %v", got, err, api.calls)
	}
}

func TestResolveConcurrency(t *testing.T) {
	users := map[string]fakeUser{}
	var names []string
	for i := range 24 {
		name := fmt.Sprintf("user%02d", i)
		users[name] = fakeUser{}
		names = append(names, name)
	}
	for _, tc := range []struct {
		opts []ResolveOption
		want int32
	}{
		{nil, DefaultConcurrency},
		{[]ResolveOption{WithConcurrency(2)}, 2},
		{[]ResolveOption{WithConcurrency(0)}, 1},
	} {
		api := &fakeUsers{pageSize: 100, users: users, delay: 2 * time.Millisecond}
		got, err := Resolve(context.Background(), api, names, tc.opts...)
		if err != nil || len(got) != len(names) {
			t.Fatalf("Resolve: %d users, %v", len(got), err)
		}
		if peak := api.peak.Load(); peak > tc.want {
			t.Errorf("%d calls in flight at once, want at most %d", peak, tc.want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	users := map[string]fakeUser{}
	var names []string
	for i := range 40 {
		name := fmt.Sprintf("user%02d", i)
		users[name] = fakeUser{}
		names = append(names, name)
	}
	for _, tc := range []struct {
		name     string
		err      error
		wantName string
	}{
		{"service failure", &types.ServiceFailureException{Message: aws.String("x")}, step.Transient},
		{"access denied", &smithy.GenericAPIError{Code: "AccessDenied"}, step.AccessDenied},
		{"throttling", &smithy.GenericAPIError{Code: "Throttling"}, step.Throttled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeUsers{pageSize: 100, users: users, fail: map[string]error{"user05": tc.err}}
			got, err := Resolve(context.Background(), api, names, WithConcurrency(3))
			if err == nil {
				t.Fatalf("Resolve = %v, want an error", got)
			}
			if step.Name(err) != tc.wantName || !strings.Contains(err.Error(), "list tags of user user05") || !errors.Is(err, tc.err) {
				t.Errorf("error %q named %s; want %s, naming user05 and wrapping the AWS error", err, step.Name(err), tc.wantName)
			}
			// The failure stops the lookups: not every user was asked for.
			if n := len(api.calls); n >= 2*len(names) {
				t.Errorf("%d calls after a failure, want fewer than %d", n, 2*len(names))
			}
		})
	}
	t.Run("empty user name", func(t *testing.T) {
		api := &fakeUsers{pageSize: 100, users: users}
		_, err := Resolve(context.Background(), api, []string{"user01", ""})
		if step.Name(err) != step.InvalidEvent || len(api.calls) != 0 {
			t.Errorf("err = %v (%s) after %d calls; want InvalidEvent before any call", err, step.Name(err), len(api.calls))
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		api := &fakeUsers{pageSize: 100, users: users}
		_, err := Resolve(ctx, api, names)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

func TestMatchKeys(t *testing.T) {
	key := func(slot int, active bool, rotated string) Key {
		return Key{User: "u", ARN: "arn:aws:iam::123456789012:user/u", Slot: slot, Active: active, LastRotated: date(rotated)}
	}
	listed := func(id, status, created string) AccessKey {
		c, err := time.Parse(time.RFC3339Nano, created)
		if err != nil {
			t.Fatal(err)
		}
		return AccessKey{ID: id, Status: status, Created: c.UTC()}
	}
	type want struct {
		id, status string
		ambiguous  bool
	}
	for _, tc := range []struct {
		name     string
		reported []Key
		listed   []AccessKey
		want     []want
	}{
		{
			name:     "two keys, distinct dates",
			reported: []Key{key(1, true, "2025-11-20T14:03:22Z"), key(2, false, "2026-01-05T10:00:00Z")},
			listed:   []AccessKey{listed("AKIANEW", "Inactive", "2026-01-05T10:00:00Z"), listed("AKIAOLD", "Active", "2025-11-20T14:03:22Z")},
			want:     []want{{"AKIAOLD", "Active", false}, {"AKIANEW", "Inactive", false}},
		},
		{
			name:     "CreateDate with fractions matches the report's second",
			reported: []Key{key(1, true, "2025-11-20T14:03:22Z")},
			listed:   []AccessKey{listed("AKIAFRAC", "Active", "2025-11-20T14:03:22.789Z")},
			want:     []want{{"AKIAFRAC", "Active", false}},
		},
		{
			name:     "deleted since the report",
			reported: []Key{key(1, true, "2025-11-20T14:03:22Z"), key(2, true, "2026-01-05T10:00:00Z")},
			listed:   []AccessKey{listed("AKIANEW", "Active", "2026-01-05T10:00:00Z")},
			want:     []want{{"", "", false}, {"AKIANEW", "Active", false}},
		},
		{
			name:     "deleted and replaced since the report: the new key is no slot",
			reported: []Key{key(1, true, "2025-11-20T14:03:22Z")},
			listed:   []AccessKey{listed("AKIAREPLACED", "Active", "2026-03-01T07:00:00Z")},
			want:     []want{{"", "", false}},
		},
		{
			name:     "deactivated since the report: matched, IAM's status wins",
			reported: []Key{key(1, true, "2025-11-20T14:03:22Z")},
			listed:   []AccessKey{listed("AKIAOLD", "Inactive", "2025-11-20T14:03:22Z")},
			want:     []want{{"AKIAOLD", "Inactive", false}},
		},
		{
			name:     "same second, statuses tell them apart",
			reported: []Key{key(1, false, "2025-11-20T14:03:22Z"), key(2, true, "2025-11-20T14:03:22Z")},
			listed:   []AccessKey{listed("AKIAAAAA", "Active", "2025-11-20T14:03:22.100Z"), listed("AKIABBBB", "Inactive", "2025-11-20T14:03:22.900Z")},
			want:     []want{{"AKIABBBB", "Inactive", true}, {"AKIAAAAA", "Active", true}},
		},
		{
			name:     "same second, same status: key id order",
			reported: []Key{key(2, true, "2025-11-20T14:03:22Z"), key(1, true, "2025-11-20T14:03:22Z")},
			listed:   []AccessKey{listed("AKIAZZZZ", "Active", "2025-11-20T14:03:22Z"), listed("AKIAAAAA", "Active", "2025-11-20T14:03:22Z")},
			want:     []want{{"AKIAZZZZ", "Active", true}, {"AKIAAAAA", "Active", true}},
		},
		{
			name:     "same second, one of the two deleted since",
			reported: []Key{key(1, true, "2025-11-20T14:03:22Z"), key(2, false, "2025-11-20T14:03:22Z")},
			listed:   []AccessKey{listed("AKIAKEPT", "Inactive", "2025-11-20T14:03:22Z")},
			want:     []want{{"", "", true}, {"AKIAKEPT", "Inactive", true}},
		},
		{
			name:     "no keys listed",
			reported: []Key{key(1, true, "2025-11-20T14:03:22Z")},
			want:     []want{{"", "", false}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := MatchKeys(tc.reported, tc.listed)
			if len(got) != len(tc.reported) {
				t.Fatalf("%d matches for %d keys", len(got), len(tc.reported))
			}
			for i, m := range got {
				if m.Key != tc.reported[i] {
					t.Errorf("match %d is for %+v, want %+v", i, m.Key, tc.reported[i])
				}
				if g := (want{m.AccessKeyID, m.Status, m.Ambiguous}); g != tc.want[i] {
					t.Errorf("slot %d: %+v, want %+v", m.Slot, g, tc.want[i])
				}
			}
			// Deterministic: the listing's order does not matter.
			rev := slices.Clone(tc.listed)
			slices.Reverse(rev)
			if again := MatchKeys(tc.reported, rev); !reflect.DeepEqual(again, got) {
				t.Errorf("reversed listing gives %+v, want %+v", again, got)
			}
		})
	}
}
