//go:build browser

// The drill report in a real browser: headless Chromium (Debian's chromium
// package; `make test-browser` installs it when missing) opens the report
// of a full drill run and the test checks what it draws against the drill's
// own outcome. Behind the build tag so that `go test ./...` on a machine
// without Chromium neither runs nor skips it: when asked for, it runs or
// fails.
package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/keywarden/keywarden/statemachine"
)

// The viewport the report must stay readable in: the whole definition on
// one screen.
const viewW, viewH = 1400, 900

// The scenario whose view is saved as build/drill-report.png: a path, a
// caught error and a failed state in one graph.
const screenshotScenario = "containment-denied"

// drawn is what the page drew for one scenario, read from the DOM.
type drawn struct {
	ID      string      `json:"id"`
	States  []string    `json:"states"`  // every state node
	Entered []string    `json:"entered"` // nodes marked entered (incl. failed, caught)
	Failed  []string    `json:"failed"`
	Caught  []string    `json:"caught"`
	Taken   [][2]string `json:"taken"` // taken edges, from and to node IDs
	// The graph as rendered: its size on screen and its layout's width.
	Width, Height, LayoutWidth float64
	Passed                     string `json:"passed"` // the index entry's data-passed
	NodesInside                bool   `json:"nodesInside"`
}

func TestReportInBrowser(t *testing.T) {
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("this test needs Chromium at %s (`make test-browser` installs Debian's chromium): %v", chromium, err)
	}
	outcomes := drillOutcomes(t)
	out, err := filepath.Abs(filepath.Join(root, "build"))
	if err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(out, "drill-report.html")
	r, err := LoadReport(root, "keywarden drill", outcomes, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteReportFile(page, r); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := browser(t, chromium)
	defer cancel()
	var problems scriptProblems
	if err := chromedp.Listen(ctx, problems.add); err != nil {
		t.Fatal(err)
	}
	// The graphs are drawn in well under a second; a script error leaves
	// them undrawn, and the wait should not outlast the error by long.
	wctx, cancelWait := context.WithTimeout(ctx, 30*time.Second)
	defer cancelWait()
	if err := chromedp.Do(wctx,
		chromedp.EmulateViewport(viewW, viewH),
		chromedp.Navigate("file://"+page),
		chromedp.WaitVisible(chromedp.CSS(`body[data-graphs]`)),
	); err != nil {
		t.Fatalf("open %s: %v (script problems: %v)", page, err, problems.list())
	}
	views, err := chromedp.Run(ctx, chromedp.Evaluate[[]drawn](readDrawn))
	if err != nil {
		t.Fatalf("read the graphs: %v", err)
	}
	states, inner := definitionStates(t)
	if len(views) != len(outcomes) {
		t.Fatalf("the page drew %d scenario graphs, want %d", len(views), len(outcomes))
	}
	for i, oc := range outcomes {
		v := views[i]
		t.Run(oc.Scenario, func(t *testing.T) {
			checkDrawn(t, oc, v, states, inner)
		})
	}

	shot := filepath.Join(out, "drill-report.png")
	want := screenshotScenario
	if s := os.Getenv("REPORT_SCREENSHOT"); s != "" {
		want = s // another scenario's view, e.g. while working on the page
	}
	id := ""
	for i, oc := range outcomes {
		if oc.Scenario == want {
			id = views[i].ID
		}
	}
	if id == "" {
		id = views[0].ID
	}
	if err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).scrollIntoView({block: "start"})`, id)),
		chromedp.Sleep(200*time.Millisecond),
	); err != nil {
		t.Fatalf("scroll to %s: %v", id, err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	// Scripts may fail late (a click handler, a deferred draw): look again.
	if p := problems.list(); len(p) > 0 {
		t.Errorf("the report's scripts reported problems:\n%s", strings.Join(p, "\n"))
	}
	t.Logf("report %s, screenshot %s", page, shot)
}

// scriptProblems collects uncaught exceptions and console errors and
// warnings. Listen calls add on the tab's reading goroutine.
type scriptProblems struct {
	mu   sync.Mutex
	seen []string
}

func (p *scriptProblems) add(ev any) {
	var line string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		line = fmt.Sprintf("uncaught exception at %d:%d: %s", d.LineNumber+1, d.ColumnNumber+1, d.Text)
		if d.Exception != nil {
			line += " " + d.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		switch ev.Type {
		case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeWarning, runtime.ConsoleAPICalledTypeAssert:
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			line = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError {
			line = fmt.Sprintf("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	}
	if line == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, line)
}

func (p *scriptProblems) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

// drillOutcomes runs every drill scenario, or reads the outcomes of an
// earlier `keywarden drill --json` run from $DRILL_OUTCOMES (quicker while
// working on the report).
func drillOutcomes(t *testing.T) []Outcome {
	t.Helper()
	if path := os.Getenv("DRILL_OUTCOMES"); path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var outcomes []Outcome
		if err := json.Unmarshal(raw, &outcomes); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		t.Logf("outcomes from %s", path)
		return outcomes
	}
	outcomes, err := Run(context.Background(), options(t))
	if err != nil {
		t.Fatal(err)
	}
	return outcomes
}

// browser starts headless Chromium with the flags this machine needs: no
// sandbox (the tests run as root), and no background networking (the
// network is closed; Chromium's own connections would only fail).
func browser(t *testing.T, chromium string) (context.Context, context.CancelFunc) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(viewW, viewH),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	// The first action starts the browser, and a deadline on its context
	// would end the browser: start it, then bound the test's actions.
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start %s: %v", chromium, err)
	}
	tctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	return tctx, func() { cancelTimeout(); cancelCtx(); cancelAlloc() }
}

// readDrawn reads each scenario's graph from the DOM.
const readDrawn = `[...document.querySelectorAll('section.scenario')].map((s) => {
  const svg = s.querySelector('svg.graph');
  const names = (sel) => [...svg.querySelectorAll(sel)].map((n) => n.dataset.state);
  const box = svg.getBoundingClientRect();
  const vb = svg.viewBox.baseVal;
  const inside = [...svg.querySelectorAll('.node')].every((n) => {
    const b = n.getBBox(), m = n.transform.baseVal.consolidate().matrix;
    return b.width > 0 && m.e + b.x >= 0 && m.f + b.y >= 0 && m.e + b.x + b.width <= vb.width + 0.5 && m.f + b.y + b.height <= vb.height + 0.5;
  });
  const link = document.querySelector('nav.index a[href="#' + s.id + '"]');
  return {
    id: s.id,
    states: names('.node[data-state]'),
    entered: names('.node.entered[data-state]'),
    failed: names('.node.failed[data-state]'),
    caught: names('.node.caught[data-state]'),
    taken: [...svg.querySelectorAll('.edge.taken')].map((e) => [e.dataset.from, e.dataset.to]),
    Width: box.width, Height: box.height, LayoutWidth: vb.width,
    passed: link ? link.dataset.passed : 'no index entry',
    nodesInside: inside,
  };
})`

// checkDrawn compares one scenario's graph with what its executions did,
// as the outcome (the execution histories) says, not as the page says.
func checkDrawn(t *testing.T, oc Outcome, v drawn, states []string, inner map[string]string) {
	if got := sorted(v.States); !slices.Equal(got, states) {
		t.Errorf("graph states:\n got %v\nwant %v (every state of the definition)", got, states)
	}
	entered, failed, caught := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, x := range oc.Executions {
		for i, s := range x.States {
			entered[s.Name] = true
			last := i == len(x.States)-1
			if last && x.Status != "SUCCEEDED" {
				failed[s.Name] = true
			}
			if !last && len(s.Errors) > s.Retries {
				caught[s.Name] = true
			}
		}
	}
	for name := range failed {
		delete(caught, name)
	}
	for _, c := range []struct {
		what string
		got  []string
		want map[string]bool
	}{{"entered", v.Entered, entered}, {"failed", v.Failed, failed}, {"caught", v.Caught, caught}} {
		if got, want := sorted(c.got), sorted(keys(c.want)); !slices.Equal(got, want) {
			t.Errorf("states marked %s:\n got %v\nwant %v", c.what, got, want)
		}
	}
	// What the histories of a few scenarios are known to say, so that a
	// fault shared by the page and the reading above still shows.
	known := map[string][2][]string{ // scenario: caught, failed
		"exposed-key":            {{}, {}},
		"containment-denied":     {{"ContainKey"}, {"ManualActionNeeded"}},
		"cloudtrail-unavailable": {{"LookUpActivity"}, {}},
		"malformed-report":       {{"ReadFinding"}, {"ManualActionNeeded"}},
		"unsupported-event":      {{}, {"UnsupportedEvent"}},
	}
	if k, ok := known[oc.Scenario]; ok {
		if !slices.Equal(sorted(v.Caught), k[0]) || !slices.Equal(sorted(v.Failed), k[1]) {
			t.Errorf("caught %v and failed %v, want caught %v and failed %v", v.Caught, v.Failed, k[0], k[1])
		}
	}
	// Each transition an execution made is a taken edge: from Start to the
	// first state, then from state to state at the top level (a Map's
	// transitions leave from its box's exit).
	taken := map[[2]string]bool{}
	for _, e := range v.Taken {
		taken[e] = true
	}
	for _, x := range oc.Executions {
		var top []string
		for _, s := range x.States {
			if inner[s.Name] == "" {
				top = append(top, s.Name)
			}
		}
		if len(top) == 0 {
			continue
		}
		want := [][2]string{{"start", "state:" + top[0]}}
		for i := 1; i < len(top); i++ {
			from := "state:" + top[i-1]
			if slices.Contains(slices.Collect(maps.Values(inner)), top[i-1]) {
				from = "exit:" + top[i-1]
			}
			want = append(want, [2]string{from, "state:" + top[i]})
		}
		for _, e := range want {
			if !taken[e] {
				t.Errorf("execution %s went %s → %s; that edge is not marked taken (taken: %v)", x.Name, e[0], e[1], v.Taken)
			}
		}
	}
	if want := fmt.Sprint(oc.Passed); v.Passed != want {
		t.Errorf("index entry data-passed=%s, want %s", v.Passed, want)
	}
	if !v.NodesInside {
		t.Error("some state is drawn with no size or outside the graph's bounds: the layout did not happen")
	}
	// The whole definition on one screen, at a readable size: the graph
	// fits the viewport and is drawn at no less than 80 % of its laid-out
	// size (12 px names stay at least 9.6 px).
	if v.Width > viewW || v.Height > viewH {
		t.Errorf("the graph takes %.0f×%.0f px, more than the %d×%d screen", v.Width, v.Height, viewW, viewH)
	}
	if scale := v.Width / v.LayoutWidth; scale < 0.8 {
		t.Errorf("the graph is drawn at %.0f %% of its size (%.0f of %.0f px wide): too small to read", 100*scale, v.Width, v.LayoutWidth)
	}
}

// definitionStates lists every state of the definition, and the Map or
// Parallel holding each inner one, read with a plain walk of the JSON (not
// ParseGraph, which the page uses).
func definitionStates(t *testing.T) ([]string, map[string]string) {
	t.Helper()
	raw := []byte(statemachine.Drawn())
	var def map[string]any
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	var names []string
	inner := map[string]string{}
	var walk func(states map[string]any, parent string)
	walk = func(states map[string]any, parent string) {
		for name, s := range states {
			names = append(names, name)
			if parent != "" {
				inner[name] = parent
			}
			st := s.(map[string]any)
			for _, k := range []string{"ItemProcessor", "Iterator"} {
				if in, ok := st[k].(map[string]any); ok {
					walk(in["States"].(map[string]any), name)
				}
			}
			if bs, ok := st["Branches"].([]any); ok {
				for _, b := range bs {
					walk(b.(map[string]any)["States"].(map[string]any), name)
				}
			}
		}
	}
	walk(def["States"].(map[string]any), "")
	if len(names) < 30 || len(inner) == 0 {
		t.Fatalf("read %d states, %d of them inner, from the definition; expected the whole machine", len(names), len(inner))
	}
	return sorted(names), inner
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	if out == nil {
		out = []string{}
	}
	sort.Strings(out)
	return out
}
