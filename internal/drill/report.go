package drill

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/keywarden/keywarden/statemachine"
)

// The HTML report: one self-contained file (no network needed to open it)
// showing each scenario as the Step Functions console shows an execution —
// the definition's graph with the path taken, the timeline, each step's
// input and output — with the alerts, e-mails and expectations.
//
// The graph is laid out in the browser by dagre (npm @dagrejs/dagre, pinned
// in .tools/package.json), whose minified script is inlined at generation
// time; report.js draws the laid-out graph as SVG. Everything the drill
// produced goes through html/template: alert bodies and step inputs are
// untrusted text.

//go:embed report.html.tmpl
var reportHTML string

//go:embed report.css
var reportCSS string

//go:embed report.js
var reportJS string

// layoutScriptPath is dagre's browser build (a global `dagre`) under a
// checkout, installed by `make deps`.
const layoutScriptPath = ".tools/node_modules/@dagrejs/dagre/dist/dagre.min.js"

// Report is what WriteReport renders.
type Report struct {
	Title     string
	Generated time.Time
	// Definition is the ASL JSON the graph is drawn from: both modes'
	// states (statemachine.Drawn), since scenarios run either.
	Definition []byte
	// LayoutScript is dagre's browser build, and its licence.
	LayoutScript, LayoutLicense string
	Outcomes                    []Outcome
}

// LoadReport reads the layout script from the checkout at root; the graph
// is drawn from both modes' definition (statemachine.Drawn).
func LoadReport(root, title string, outcomes []Outcome, now time.Time) (Report, error) {
	def := []byte(statemachine.Drawn())
	script, err := os.ReadFile(filepath.Join(root, layoutScriptPath))
	if err != nil {
		return Report{}, fmt.Errorf("the report's graph layout (npm @dagrejs/dagre) is missing: run `make deps` to install the pinned npm tools (%w)", err)
	}
	license, _ := os.ReadFile(filepath.Join(root, layoutScriptPath+".LEGAL.txt"))
	return Report{Title: title, Generated: now, Definition: def, LayoutScript: string(script), LayoutLicense: string(license), Outcomes: outcomes}, nil
}

// WriteReportFile writes the report to path, creating its directory.
func WriteReportFile(path string, r Report) error {
	var b bytes.Buffer
	if err := WriteReport(&b, r); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// WriteReport renders the report as one HTML page.
func WriteReport(w io.Writer, r Report) error {
	g, err := ParseGraph(r.Definition)
	if err != nil {
		return err
	}
	script, err := inlineScript(r.LayoutScript, r.LayoutLicense)
	if err != nil {
		return err
	}
	data := reportData{Title: r.Title, Generated: r.Generated.UTC().Format(time.RFC1123), Script: script,
		OwnScript: template.JS(reportJS), CSS: template.CSS(reportCSS)}
	data.Graph.Graph = g
	for i, oc := range r.Outcomes {
		sc := reportScenario{Outcome: oc, ID: fmt.Sprintf("scenario-%d-%s", i+1, slug(oc.Scenario))}
		for _, x := range oc.Executions {
			sc.Executions = append(sc.Executions, viewExecution(x))
		}
		data.Scenarios = append(data.Scenarios, sc)
		data.Graph.Scenarios = append(data.Graph.Scenarios, scenarioPath{ID: sc.ID, Path: PathOf(g, oc.Executions)})
		if oc.Passed {
			data.Passed++
		}
	}
	t, err := template.New("report").Funcs(template.FuncMap{"duration": round, "join": strings.Join}).Parse(reportHTML)
	if err != nil {
		return err
	}
	return t.Execute(w, data)
}

type reportData struct {
	Title, Generated string
	Passed           int
	Scenarios        []reportScenario
	// Graph is the JSON report.js reads: the graph and each scenario's path.
	Graph struct {
		Graph     Graph          `json:"graph"`
		Scenarios []scenarioPath `json:"scenarios"`
	}
	Script, OwnScript template.JS
	CSS               template.CSS
}

type scenarioPath struct {
	ID   string `json:"id"`
	Path Path   `json:"path"`
}

type reportScenario struct {
	Outcome
	ID         string
	Executions []reportExecution
}

type reportExecution struct {
	ExecutionView
	Output string
	States []reportState
}

type reportState struct {
	StateView
	Summary       string
	Input, Output string // indented JSON
}

func viewExecution(x ExecutionView) reportExecution {
	v := reportExecution{ExecutionView: x, Output: indent(x.Output)}
	for _, s := range x.States {
		v.States = append(v.States, reportState{StateView: s, Summary: Summary(s.Name, s.Output), Input: indent(s.Input), Output: indent(s.Output)})
	}
	return v
}

// indent pretty-prints JSON as the console's input and output tabs do;
// anything else is shown as it is.
func indent(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

// inlineScript checks that a third-party script can sit inside a <script>
// element: it must not end the element or open a comment the parser would
// treat specially. Its licence goes with it, as the licence asks.
func inlineScript(script, license string) (template.JS, error) {
	script = sourceMapComment.ReplaceAllString(script, "")
	if bad := scriptBreakout.FindString(script + license); bad != "" {
		return "", fmt.Errorf("the layout script contains %q and cannot be inlined", bad)
	}
	if license = strings.TrimSpace(license); license != "" {
		license = strings.TrimSuffix(strings.TrimPrefix(license, "/*"), "*/")
		license = "/*" + strings.ReplaceAll(license, "*/", "* /") + "*/\n"
	}
	return template.JS(license + script), nil
}

var (
	scriptBreakout   = regexp.MustCompile(`(?i)</script|<!--|<script`)
	sourceMapComment = regexp.MustCompile(`(?m)^//# sourceMappingURL=.*$`)
	notSlug          = regexp.MustCompile(`[^a-z0-9]+`)
)

func slug(s string) string {
	return strings.Trim(notSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
}
