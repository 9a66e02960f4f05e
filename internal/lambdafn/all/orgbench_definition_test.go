//go:build unix

package all

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/sfnlocal"
	"github.com/keywarden/keywarden/statemachine"
)

var orgDefinitionAccounts = flag.Int("org.definition-accounts", 20, "member accounts of the run through the state machine interpreter")

// BenchmarkOrganizationDefinition runs the organization's definition as
// deployed (statemachine.DefinitionFor, the Distributed Map and all) in
// the offline interpreter, on fewer accounts than
// BenchmarkOrganizationDailyRun, with the same handlers, accounts and
// latencies, at MaxConcurrency 10: it shows the calls per account the
// Go-driven fan-out counts, and counts the state transitions the cost line
// prices (every state entered, parent and children).
func BenchmarkOrganizationDefinition(b *testing.B) {
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.DiscardHandler))
	tools, err := sfnlocal.FindTools(filepath.Join("..", "..", ".."))
	if err != nil {
		b.Skipf("needs the pinned npm tools: %v", err)
	}
	bo, _ := newBenchOrg(b, *orgDefinitionAccounts, *orgUsers)
	ctx := context.Background()
	var st runStats
	var parentStates, childStates, children int
	for range b.N {
		b.StopTimer()
		d := bo.deploy(b)
		values := map[string]string{"MaxConcurrency": "10", "ToleratedFailurePercentage": "10"}
		def := statemachine.DefinitionFor(statemachine.ModeOrganization)
		for _, p := range statemachine.PlaceholdersOf(def) {
			if _, ok := values[p]; !ok {
				fn := "keywarden-" + strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(p, "Arn"), "Function"))
				values[p] = fmt.Sprintf("arn:aws:lambda:us-east-1:%s:function:%s", benchHub, fn)
			}
		}
		for _, fn := range []string{lambdafn.Scan, lambdafn.Act, lambdafn.Digest} {
			h, err := New(fn, d.cfgs[fn], d.env, bo.hub.Now)
			must(b, err)
			must(b, bo.hub.RegisterFunction("keywarden-"+fn, h.Invoke))
		}
		rendered, err := statemachine.RenderOf(def, values)
		must(b, err)
		r := sfnlocal.Runner{Node: tools.Node, Module: tools.Module, Definition: rendered, Region: "us-east-1",
			LambdaEndpoint: bo.o.URL(), AccessKeyID: localaws.RootAccessKeyID(benchHub), SecretAccessKey: localaws.TestSecretAccessKey}
		name := fmt.Sprintf("daily-definition-%d", bo.runs)
		arn := fmt.Sprintf("arn:aws:states:us-east-1:%s:execution:keywarden:%s", benchHub, name)
		marks := bo.marks()
		b.StartTimer()
		exe, err := r.Run(ctx, arn, name, bo.scheduled(), time.Now())
		b.StopTimer()
		must(b, err)
		if exe.Status != "SUCCEEDED" || len(exe.Children) != len(bo.members) {
			b.Fatalf("execution %s %s %s with %d children, want SUCCEEDED with %d", exe.Status, exe.Error, exe.Cause, len(exe.Children), len(bo.members))
		}
		st = runStats{accounts: len(bo.members), calls: bo.callsSince(marks)}
		parentStates, childStates, children = statesEntered(exe), 0, len(exe.Children)
		for _, c := range exe.Children {
			if c.Status != "SUCCEEDED" {
				b.Fatalf("child %s: %s %s %s", c.Name, c.Status, c.Error, c.Cause)
			}
			childStates += statesEntered(c)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(parentStates), "parent-transitions")
	b.ReportMetric(float64(childStates)/float64(children), "transitions/child")
	st.report(b, bo)
}

// statesEntered counts the states an execution entered (not its
// children's): what Step Functions bills a standard workflow for.
func statesEntered(e sfnlocal.Execution) int {
	n := 0
	for _, ev := range e.Events {
		if ev.Type == "StateEntered" && (ev.Execution == "" || ev.Execution == e.Arn) {
			n++
		}
	}
	return n
}
