package drill

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// hostile is text the drill carries from outside: an alert body, a step's
// input, an e-mail subject. None of it may become markup or script.
const hostile = `</script><script>alert(1)</script><img src=x onerror=alert(2)>&amp;"'`

func hostileOutcome() Outcome {
	return Outcome{
		Scenario: "evil-<b>", Title: hostile, Passed: false,
		Puts: []PutResult{{File: "events/" + hostile, Matches: []matchRecord{{Rule: "R", Execution: hostile}}}},
		Executions: []ExecutionView{{
			Name: "x-" + hostile, Status: "FAILED", Error: "E" + hostile, Cause: hostile,
			States: []StateView{
				{Name: "RouteEvent", Type: "Choice", Input: json.RawMessage(`{"detail":"` + strings.ReplaceAll(hostile, `"`, `\"`) + `"}`)},
				{Name: "AlertUnsupportedEvent", Type: "Task", Errors: []string{hostile}, Output: json.RawMessage(`not json ` + hostile)},
				{Name: "UnsupportedEvent", Type: "Fail"},
			},
		}},
		Alerts: []Alert{{Subject: hostile, Body: "line 1\n" + hostile}},
		Emails: []Email{{To: "a@example.com", Subject: hostile, Body: hostile}},
		Keys:   []KeyView{{AccessKeyID: "AKIA" + hostile, UserName: hostile, Status: "Active"}},
		Checks: []Check{{What: hostile, Passed: false, Detail: hostile}},
	}
}

func renderTestReport(t *testing.T, outcomes ...Outcome) string {
	t.Helper()
	r, err := LoadReport(root, "keywarden drill", outcomes, time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteReport(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestReportEscapes(t *testing.T) {
	page := renderTestReport(t, hostileOutcome())
	for _, bad := range []string{"<script>alert(1)", "<img", "<b>"} {
		if strings.Contains(page, bad) {
			t.Errorf("the report carries %q unescaped", bad)
		}
	}
	// Exactly the report's own three scripts: data, layout, drawing.
	if n := strings.Count(strings.ToLower(page), "<script"); n != 3 {
		t.Errorf("%d <script> elements, want 3", n)
	}
	for _, want := range []string{"&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;", "evil-&lt;b&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("the report does not show %q as text", want)
		}
	}
	// The data block is JSON with < escaped, so it cannot end its element.
	data := regexp.MustCompile(`(?s)<script type="application/json" id="report-data">(.*?)</script>`).FindStringSubmatch(page)
	if data == nil {
		t.Fatal("no report data")
	}
	var v struct {
		Graph     Graph
		Scenarios []scenarioPath
	}
	if err := json.Unmarshal([]byte(data[1]), &v); err != nil {
		t.Fatalf("the report data is not JSON: %v", err)
	}
	if len(v.Scenarios) != 1 || !strings.HasPrefix(v.Scenarios[0].ID, "scenario-1-evil-b") || len(v.Graph.Nodes) < 30 {
		t.Errorf("report data: %d scenarios (%+v), %d nodes", len(v.Scenarios), v.Scenarios, len(v.Graph.Nodes))
	}
	if p := v.Scenarios[0].Path; p.Entered["RouteEvent"] != 1 || len(p.Failed) != 1 || p.Failed[0] != "UnsupportedEvent" {
		t.Errorf("path %+v", p)
	}
}

// Opening the report needs no network: no external script, style, font or
// image, nothing loaded from a URL.
func TestReportSelfContained(t *testing.T) {
	page := renderTestReport(t, hostileOutcome())
	external := regexp.MustCompile(`(?i)(src|href|xlink:href)\s*=\s*["']?\s*(https?:|//)|url\(\s*["']?\s*(https?:|//)|@import|<link\b|<iframe\b`)
	if m := external.FindAllString(page, -1); len(m) > 0 {
		t.Errorf("the report loads from elsewhere: %q", m)
	}
	if !strings.Contains(page, "var dagre=") || !strings.Contains(page, "Copyright (c) 2012-2014 Chris Pettitt") {
		t.Error("dagre is not inlined with its licence")
	}
	if strings.Contains(page, "sourceMappingURL") {
		t.Error("the report points to a source map it does not carry")
	}
}

func TestInlineScriptRefusesBreakout(t *testing.T) {
	for _, s := range []string{"a</script>b", "a</SCRIPT >", "<!-- x", "x<script>"} {
		if _, err := inlineScript(s, ""); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	js, err := inlineScript("var x=1;\n//# sourceMappingURL=x.js.map\n", "/*\n@license MIT */")
	if err != nil || strings.Contains(string(js), "sourceMappingURL") || !strings.HasPrefix(string(js), "/*\n@license MIT */\n") {
		t.Errorf("%q %v", js, err)
	}
}
