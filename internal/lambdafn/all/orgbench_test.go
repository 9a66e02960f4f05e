//go:build unix

package all

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/heappeak"
	"github.com/keywarden/keywarden/internal/keyage"
	"github.com/keywarden/keywarden/internal/lambdafn"
)

// BenchmarkOrganizationDailyRun is issue 12's benchmark of the
// organization's daily run (BENCHMARKS.md, "Organization daily run"):
//
//   - account-step: one account's ScanAccount step, in an organization of
//     that one member: the heap's high-water mark and allocations.
//   - map/parallelism=N: the whole run on every member — ListAccounts, one
//     child per account (ScanAccount, ActOnAccount's chunks 4 at a time,
//     RecordAccount), PublishOrganizationDigest — with N children at once.
//     The Distributed Map is driven in Go, not by the interpreter (too
//     slow for 1,000 children); BenchmarkOrganizationDefinition runs the
//     real definition on fewer accounts and checks the same calls. Each of
//     the N workers is one Lambda container of scan, act and digest, built
//     as a cold start builds it (its own inventory cache), reused for the
//     next account as a warm container is.
//   - loop/accounts=M: the same child, one account after another, in one
//     container: one Lambda looping over accounts, as the peers do.
//
// Handlers are the real ones (New, as the drill builds them), over HTTP to
// localaws with the real SDK clients; member roles are assumed through STS
// AssumeRole against the member template's trust. It is a dry run, the
// default.
func BenchmarkOrganizationDailyRun(b *testing.B) {
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.DiscardHandler))

	b.Run(fmt.Sprintf("account-step/users=%d", *orgUsers), func(b *testing.B) {
		bo, _ := newBenchOrg(b, 1, *orgUsers)
		benchAccountStep(b, bo)
	})

	bo, seeding := newBenchOrg(b, *orgAccounts, *orgUsers)
	runtime.GC()
	fmt.Printf("organization: %d members × %d users (%d flagged per member) seeded in %s; heap after GC %.0f MB; "+
		"latency %s per IAM call, %s per STS call\n", *orgAccounts, *orgUsers, bo.flagged, seeding.Round(time.Millisecond),
		float64(heappeak.Heap())/(1<<20), benchIAMLatency, benchSTSLatency)
	for _, p := range []int{10, 50, 200} {
		b.Run(fmt.Sprintf("map/parallelism=%d", p), func(b *testing.B) { benchRun(b, bo, p, 0) })
	}
	n := min(*orgLoopAccounts, *orgAccounts)
	b.Run(fmt.Sprintf("loop/accounts=%d", n), func(b *testing.B) { benchRun(b, bo, 1, n) })
}

// benchRun runs the daily run b.N times with parallelism children at once,
// over the first limit accounts (0: all), and reports its calls.
func benchRun(b *testing.B, bo *benchOrg, parallelism, limit int) {
	ctx := context.Background()
	var st runStats
	for range b.N {
		b.StopTimer()
		d := bo.deploy(b)
		marks := bo.marks()
		cpu := processCPU()
		b.StartTimer()
		st = bo.dailyRun(ctx, b, d, parallelism, limit)
		b.StopTimer()
		st.cpu = processCPU() - cpu
		st.calls = bo.callsSince(marks)
		b.StartTimer()
	}
	st.report(b, bo)
}

type runStats struct {
	accounts int
	list     time.Duration // ListAccounts
	fanOut   time.Duration // the Map, all children
	cpu      time.Duration
	calls    callCounts
	billed   *billed // nil for the account step
}

// dailyRun is one execution of the organization's daily run.
func (bo *benchOrg) dailyRun(ctx context.Context, b *testing.B, d deployment, parallelism, limit int) runStats {
	exec := fmt.Sprintf("arn:aws:states:us-east-1:%s:execution:keywarden:daily-bench-%d", benchHub, bo.runs)
	ev := bo.scheduled()
	start := time.Now()
	list := d.function(b, lambdafn.Scan, bo.hub.Now)
	raw, err := list(ctx, map[string]any{"step": keyage.StepAccounts, "event": ev, "execution": exec})
	must(b, err)
	var accounts keyage.AccountsResult
	must(b, json.Unmarshal(raw, &accounts))
	if len(accounts.Accounts) != len(bo.members) {
		b.Fatalf("ListAccounts: %d accounts, want %d", len(accounts.Accounts), len(bo.members))
	}
	items := accounts.Accounts
	if limit > 0 {
		items = items[:limit]
	}
	st := runStats{accounts: len(items), list: time.Since(start), billed: &billed{}}

	fanOut := time.Now()
	jobs := make(chan keyage.AccountRef)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range parallelism {
		// Built here, not in the goroutine: a build failure is b.Fatal.
		c := container{scan: timed(&st.billed.scan, d.function(b, lambdafn.Scan, bo.hub.Now)),
			act: timed(&st.billed.act, d.function(b, lambdafn.Act, bo.hub.Now)), digest: timed(&st.billed.digest, d.function(b, lambdafn.Digest, bo.hub.Now))}
		wg.Go(func() {
			for a := range jobs {
				if err := c.child(ctx, ev, exec, a); err != nil {
					failed.Add(1)
					b.Errorf("account %s: %v", a.Account, err)
				}
			}
		})
	}
	for _, a := range items {
		jobs <- a
	}
	close(jobs)
	wg.Wait()
	st.fanOut = time.Since(fanOut)

	if limit == 0 {
		digest := d.function(b, lambdafn.Digest, bo.hub.Now)
		raw, err = digest(ctx, map[string]any{"step": keyage.StepOrganization, "execution": exec, "toleratedFailurePercentage": 10, "fanOutError": nil})
		must(b, err)
		var res keyage.OrganizationDigestResult
		must(b, json.Unmarshal(raw, &res))
		if res.Scanned != len(items) || res.Failed != 0 {
			b.Fatalf("digest: %d scanned, %d failed, want %d and 0", res.Scanned, res.Failed, len(items))
		}
	}
	if failed.Load() > 0 {
		b.Fatalf("%d accounts failed", failed.Load())
	}
	return st
}

// container is one worker's Lambda containers of the child's functions.
type container struct {
	scan, act, digest func(context.Context, any) (json.RawMessage, error)
}

// billed sums invocation durations by function, in nanoseconds: what
// Lambda bills.
type billed struct{ scan, act, digest atomic.Int64 }

// timed adds each invocation's duration to sum.
func timed(sum *atomic.Int64, fn func(context.Context, any) (json.RawMessage, error)) func(context.Context, any) (json.RawMessage, error) {
	return func(ctx context.Context, in any) (json.RawMessage, error) {
		start := time.Now()
		defer func() { sum.Add(int64(time.Since(start))) }()
		return fn(ctx, in)
	}
}

// child is one child execution of ScanAccounts, as the definition has it:
// ScanAccount, ActOnAccount (an inline Map over the chunks, 4 at a time)
// and RecordAccount, with the definition's parameters. A failure fails the
// benchmark: none is expected here.
func (c container) child(ctx context.Context, ev json.RawMessage, exec string, a keyage.AccountRef) error {
	raw, err := c.scan(ctx, map[string]any{"event": ev, "execution": exec, "account": a.Account, "name": a.Name})
	if err != nil {
		return err
	}
	var scan struct {
		RunID  string `json:"runId"`
		DryRun bool   `json:"dryRun"`
		Chunks []int  `json:"chunks"`
	}
	if err := json.Unmarshal(raw, &scan); err != nil {
		return err
	}
	results := make([]json.RawMessage, len(scan.Chunks))
	errs := make([]error, len(scan.Chunks))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, chunk := range scan.Chunks {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i], errs[i] = c.act(ctx, map[string]any{"runId": scan.RunID, "chunk": chunk, "dryRun": scan.DryRun,
				"account": a.Account, "accountName": a.Name, "execution": exec})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	_, err = c.digest(ctx, map[string]any{"step": keyage.StepAccount, "execution": exec, "account": a.Account, "name": a.Name,
		"scan": raw, "results": results})
	return err
}

// callCounts are the calls of a run from localaws's call logs: per member
// account by "service:Operation", and the hub's.
type callCounts struct {
	member   map[string]int // summed over members
	sessions int            // distinct member-role sessions that made a call, summed over members
	hub      map[string]int
	members  int            // members that answered any call
	assumed  map[string]int // AssumeRole calls by role ARN
}

type callMarks struct {
	accounts map[string]int
	ledger   []int
}

func (bo *benchOrg) marks() callMarks {
	m := callMarks{accounts: map[string]int{benchHub: len(bo.hub.Calls())}, ledger: bo.ledger.marks()}
	for _, id := range bo.members {
		m.accounts[id] = len(bo.o.Account(id).Calls())
	}
	return m
}

func (bo *benchOrg) callsSince(m callMarks) callCounts {
	c := callCounts{member: map[string]int{}, hub: map[string]int{}, assumed: map[string]int{}}
	for _, call := range bo.hub.Calls()[m.accounts[benchHub]:] {
		op := call.Service + ":" + call.Operation
		if call.Operation == "AssumeRole" {
			c.hub[op]++
			// Which member role: AssumeRole(keywarden-member-read), …
			op += "(" + call.RoleArn[strings.LastIndex(call.RoleArn, "/")+1:] + ")"
			c.assumed[call.RoleArn]++
		}
		c.hub[op]++
	}
	bo.ledger.callsSince(m.ledger, c.hub)
	for _, id := range bo.members {
		calls := bo.o.Account(id).Calls()[m.accounts[id]:]
		keys := map[string]bool{}
		for _, call := range calls {
			c.member[call.Service+":"+call.Operation]++
			keys[call.AccessKeyID] = true
		}
		if len(calls) > 0 {
			c.members++
		}
		c.sessions += len(keys)
	}
	return c
}

func (st runStats) report(b *testing.B, bo *benchOrg) {
	n := float64(st.accounts)
	c := st.calls
	iam := 0
	for op, k := range c.member {
		if strings.HasPrefix(op, "iam:") {
			iam += k
		}
	}
	b.ReportMetric(n, "accounts")
	b.ReportMetric(float64(bo.flagged), "flagged-users/account")
	b.ReportMetric(st.list.Seconds(), "list-s")
	b.ReportMetric(st.fanOut.Seconds(), "fanout-s")
	b.ReportMetric(st.cpu.Seconds(), "cpu-s")
	if st.billed != nil {
		b.ReportMetric(time.Duration(st.billed.scan.Load()).Seconds()/n, "scan-s/account")
		b.ReportMetric(time.Duration(st.billed.act.Load()).Seconds()/n, "act-s/account")
		b.ReportMetric(time.Duration(st.billed.digest.Load()).Seconds()/n, "record-s/account")
	}
	b.ReportMetric(float64(c.hub["sts:AssumeRole"])/n, "assumerole/account")
	b.ReportMetric(float64(iam)/n, "member-iam-calls/account")
	b.ReportMetric(float64(c.hub["organizations:ListTagsForResource"]+c.hub["organizations:ListAccounts"]+c.hub["organizations:ListAccountsForParent"]+
		c.hub["organizations:ListChildren"]+c.hub["organizations:ListOrganizationalUnitsForParent"]+c.hub["organizations:DescribeOrganization"]+
		c.hub["organizations:ListParents"])/n, "org-calls/account")
	ops := make([]string, 0, len(c.member))
	for op := range c.member {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	var line strings.Builder
	fmt.Fprintf(&line, "%s: %d accounts (%d answered calls), per account:", b.Name(), st.accounts, c.members)
	for _, op := range ops {
		fmt.Fprintf(&line, " %s=%.2f", op, float64(c.member[op])/n)
	}
	perRole := map[int]int{} // AssumeRole calls of one member role → how many roles
	for _, k := range c.assumed {
		perRole[k]++
	}
	fmt.Fprintf(&line, " member-sessions-used=%.2f; member roles assumed: %d, by calls each %v; hub, per account:", float64(c.sessions)/n, len(c.assumed), perRole)
	ops = ops[:0]
	for op := range c.hub {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		fmt.Fprintf(&line, " %s=%.2f", op, float64(c.hub[op])/n)
	}
	fmt.Println(line.String())
}

// benchAccountStep measures one ScanAccount invocation in a warm scan
// container (the inventory already read): the heap's high-water mark,
// sampled every millisecond, and with -benchmem everything the process
// allocated, the emulator's side of each call included.
func benchAccountStep(b *testing.B, bo *benchOrg) {
	ctx := context.Background()
	var peak heappeak.Peak
	var growth uint64
	var cpu time.Duration
	var calls callCounts
	for range b.N {
		b.StopTimer()
		d := bo.deploy(b)
		exec := fmt.Sprintf("arn:aws:states:us-east-1:%s:execution:keywarden:daily-bench-%d", benchHub, bo.runs)
		ev := bo.scheduled()
		scan := d.function(b, lambdafn.Scan, bo.hub.Now)
		_, err := scan(ctx, map[string]any{"step": keyage.StepAccounts, "event": ev, "execution": exec})
		must(b, err)
		marks := bo.marks()
		runtime.GC()
		base := heappeak.Heap()
		before := processCPU()
		peak.Start()
		b.StartTimer()
		_, err = scan(ctx, map[string]any{"event": ev, "execution": exec, "account": bo.members[0], "name": "workload-0000"})
		b.StopTimer()
		peak.Stop()
		must(b, err)
		cpu += processCPU() - before
		growth = max(growth, peak.Max()-min(base, peak.Max()))
		calls = bo.callsSince(marks)
		b.StartTimer()
	}
	b.ReportMetric(float64(peak.Max())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(growth)/(1<<20), "heap-growth-MB")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	st := runStats{accounts: 1, calls: calls}
	st.report(b, bo)
}

// processCPU is the CPU time (user and system) of the process: handlers
// and emulator together.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
