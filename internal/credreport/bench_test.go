//go:build unix

package credreport

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/heappeak"
	"github.com/keywarden/keywarden/internal/localaws"
)

// The key-age scan of an account, two ways, against localaws with a fixed
// latency added to every IAM call (see BENCHMARKS.md):
//
//   - credential-report: keywarden's way. Fetch (GenerateCredentialReport,
//     GetCredentialReport), then Resolve (ListUserTags, ListAccessKeys) for
//     the users with a key past the 70-day threshold only, then MatchKeys.
//   - per-user-listing: the older setups' way. ListUsers, then per user
//     ListAccessKeys and per key GetAccessKeyLastUsed.
//
// Both run DefaultConcurrency requests at a time and must find the same
// keys past the threshold; the benchmark fails otherwise.
const (
	benchLatency     = 2 * time.Millisecond // per IAM call
	benchThreshold   = 70 * 24 * time.Hour
	benchConcurrency = DefaultConcurrency
	// benchFirstDelay replaces Fetch's 2 s first poll delay: localaws has
	// the report ready at once (it still answers STARTED first, as AWS
	// does), and AWS's own generation time cannot be emulated honestly.
	benchFirstDelay = 10 * time.Millisecond
)

// benchSizes are the account sizes; perUser says whether the per-user
// listing runs at that size too (see BENCHMARKS.md for why or why not).
var benchSizes = []struct {
	users   int
	perUser bool
}{
	{10_000, true},
	{50_000, true},
}

func BenchmarkScan(b *testing.B) {
	for _, size := range benchSizes {
		srv, want, seedTime := benchAccount(b, size.users)
		// Printed, not logged: benchmark logs show only on failure or -v.
		fmt.Printf("users=%d: seeded %d users, %d keys (%d active keys past %s) into localaws in %s; %s latency on every IAM call\n",
			size.users, size.users, want.keys, len(want.flagged), benchThreshold, seedTime.Round(time.Millisecond), benchLatency)
		cfg := srv.SDKConfig()
		api := iam.NewFromConfig(cfg)

		b.Run(fmt.Sprintf("users=%d/credential-report", size.users), func(b *testing.B) {
			var fetch time.Duration
			measure(b, srv, func(ctx context.Context) ([]string, int, error) {
				return scanWithReport(ctx, api, want.asOf, &fetch)
			}, want)
			b.ReportMetric(fetch.Seconds()/float64(b.N), "fetch-s/op")
		})
		b.Run(fmt.Sprintf("users=%d/per-user-listing", size.users), func(b *testing.B) {
			if !size.perUser {
				fmt.Printf("users=%d: per-user listing skipped: it would take too long for make bench\n", size.users)
				b.Skip()
			}
			measure(b, srv, func(ctx context.Context) ([]string, int, error) {
				return scanPerUser(ctx, api, want.asOf)
			}, want)
		})
		if err := srv.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// expected is what a scan must find in the seeded account.
type expected struct {
	asOf    time.Time // the clock when seeded: ages are measured from it
	keys    int
	flagged []string // ids of active keys past benchThreshold, sorted
}

// benchAccount starts localaws with latency on every IAM call and seeds n
// users, every other one with two keys. Key ages are spread so that one
// user in ten has a key past benchThreshold (between 71 and 150 days old);
// every other key is younger than 70 days. Some keys are inactive, some
// never used; every user has an owner tag.
func benchAccount(b *testing.B, n int) (*localaws.Server, expected, time.Duration) {
	b.Helper()
	srv, err := localaws.New(localaws.Options{Seed: 1, Faults: map[string]localaws.Fault{"iam:*": {Latency: benchLatency}}})
	if err != nil {
		b.Fatal(err)
	}
	now := srv.Now().Truncate(time.Second)
	day := 24 * time.Hour
	f := localaws.Fixture{Users: make([]localaws.FixtureUser, 0, n), Keys: make([]localaws.FixtureKey, 0, n+n/2)}
	var want expected
	for i := range n {
		name := fmt.Sprintf("user%06d", i)
		f.Users = append(f.Users, localaws.FixtureUser{
			Name: name, Created: now.Add(-400 * day).Format(time.RFC3339),
			Tags: map[string]string{"owner": name + "@example.com"},
		})
		age := time.Duration(i%69)*day + time.Duration(i%23)*time.Hour // under 70 days
		if i%10 == 0 {
			age = time.Duration(71+i%80) * day
		}
		first := localaws.FixtureKey{User: name, ID: fmt.Sprintf("AKIABENCH%06dK1", i), Created: now.Add(-age).Format(time.RFC3339)}
		if i%3 != 0 {
			first.LastUsed = now.Add(-time.Duration(i%48) * time.Hour).Format(time.RFC3339)
		}
		f.Keys = append(f.Keys, first)
		if age > benchThreshold {
			want.flagged = append(want.flagged, first.ID)
		}
		if i%2 == 0 {
			second := localaws.FixtureKey{User: name, ID: fmt.Sprintf("AKIABENCH%06dK2", i), Created: now.Add(-age / 3).Format(time.RFC3339)}
			if i%6 == 0 {
				second.Status = "Inactive"
			}
			f.Keys = append(f.Keys, second)
		}
	}
	want.keys, want.asOf = len(f.Keys), now
	slices.Sort(want.flagged)
	start := time.Now()
	if err := srv.Seed(f); err != nil {
		b.Fatal(err)
	}
	return srv, want, time.Since(start)
}

// measure runs scan b.N times and reports IAM calls, flagged users and the
// heap's high-water mark. The emulator runs in the same process, so the
// heap figures include its state and its side of every call.
func measure(b *testing.B, srv *localaws.Server, scan func(context.Context) ([]string, int, error), want expected) {
	ctx := context.Background()
	var calls, flaggedUsers int
	var cpu time.Duration
	var peak heappeak.Peak
	runtime.GC()
	base := heappeak.Heap()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		// A fresh report each time: AWS (and localaws) reuse one for 4 h.
		srv.Advance(5 * time.Hour)
		before := iamCallCount(srv)
		cpuBefore := processCPU()
		peak.Start()
		b.StartTimer()

		flagged, users, err := scan(ctx)

		b.StopTimer()
		peak.Stop()
		cpu += processCPU() - cpuBefore
		if err != nil {
			b.Fatal(err)
		}
		slices.Sort(flagged)
		if !slices.Equal(flagged, want.flagged) {
			b.Fatalf("found %d keys past the threshold, want %d", len(flagged), len(want.flagged))
		}
		calls += iamCallCount(srv) - before
		flaggedUsers = users
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(calls)/float64(b.N), "iam-calls/op")
	b.ReportMetric(float64(flaggedUsers), "flagged-users")
	b.ReportMetric(float64(peak.Max())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(peak.Max()-min(base, peak.Max()))/(1<<20), "heap-growth-MB")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

// processCPU is the CPU time (user and system) this process has used: the
// scan and the emulator together. Unlike wall time it barely moves when
// other processes compete for the machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func iamCallCount(srv *localaws.Server) int {
	n := 0
	for _, c := range srv.Calls() {
		if c.Service == "iam" {
			n++
		}
	}
	return n
}

// scanWithReport is keywarden's scan: the report, then the flagged users.
// It returns the ids of the active keys past the threshold, and adds the
// time Fetch took to fetchTime.
func scanWithReport(ctx context.Context, api *iam.Client, now time.Time, fetchTime *time.Duration) ([]string, int, error) {
	start := time.Now()
	rep, err := Fetch(ctx, api, FetchOptions{FirstDelay: benchFirstDelay})
	*fetchTime += time.Since(start)
	if err != nil {
		return nil, 0, err
	}
	cutoff := now.Add(-benchThreshold)
	var users []string
	for _, k := range rep.Keys {
		if k.Active && k.LastRotated.Before(cutoff) && (len(users) == 0 || users[len(users)-1] != k.User) {
			users = append(users, k.User)
		}
	}
	details, err := Resolve(ctx, api, users, WithConcurrency(benchConcurrency))
	if err != nil {
		return nil, 0, err
	}
	byUser := rep.ByUser()
	var ids []string
	for _, u := range users {
		for _, m := range MatchKeys(byUser[u], details[u].Keys) {
			if m.AccessKeyID != "" && m.Active && m.LastRotated.Before(cutoff) {
				ids = append(ids, m.AccessKeyID)
			}
		}
	}
	return ids, len(users), nil
}

// scanPerUser is the older setups' scan: every user, every key, every
// key's last use, benchConcurrency users at a time.
func scanPerUser(ctx context.Context, api *iam.Client, now time.Time) ([]string, int, error) {
	var users []string
	pages := iam.NewListUsersPaginator(api, &iam.ListUsersInput{MaxItems: aws.Int32(1000)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("list users: %w", err)
		}
		for _, u := range page.Users {
			users = append(users, aws.ToString(u.UserName))
		}
	}
	cutoff := now.Add(-benchThreshold)
	var (
		mu       sync.Mutex
		ids      []string
		flagged  = map[string]bool{}
		firstErr error
		wg       sync.WaitGroup
	)
	jobs := make(chan string)
	for range benchConcurrency {
		wg.Go(func() {
			for name := range jobs {
				err := func() error {
					keys := iam.NewListAccessKeysPaginator(api, &iam.ListAccessKeysInput{UserName: aws.String(name)})
					for keys.HasMorePages() {
						page, err := keys.NextPage(ctx)
						if err != nil {
							return fmt.Errorf("list keys of %s: %w", name, err)
						}
						for _, k := range page.AccessKeyMetadata {
							// The last use is what these setups report next to the age.
							if _, err := api.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId}); err != nil {
								return fmt.Errorf("last use of %s: %w", aws.ToString(k.AccessKeyId), err)
							}
							if k.Status == "Active" && aws.ToTime(k.CreateDate).Before(cutoff) {
								mu.Lock()
								ids = append(ids, aws.ToString(k.AccessKeyId))
								flagged[name] = true
								mu.Unlock()
							}
						}
					}
					return nil
				}()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, u := range users {
		jobs <- u
	}
	close(jobs)
	wg.Wait()
	return ids, len(flagged), firstErr
}
