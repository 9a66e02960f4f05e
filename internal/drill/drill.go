// Package drill runs keywarden's drill scenarios: mock events sent through
// the EventBridge rule patterns of the synthesized template, the executions
// they start followed as the Step Functions console shows them, and each
// scenario's expected outcome checked.
//
// Offline (Run), everything runs on this machine: internal/localaws plays
// the AWS account, hosting the real Lambda handlers behind its Invoke API,
// and internal/sfnlocal runs the statemachine/ definition in
// aws-local-stepfunctions. Against a real account (RunAWS), the same payloads
// go to EventBridge and the same timeline is read from the execution history.
//
// The files, one job each:
//   - drill.go: running the offline scenarios (Run);
//   - stack.go: setting up a scenario's emulated account and keywarden in it;
//   - driver.go: what a scenario does to that stack (put, deliver, tag, …);
//   - scenarios.go and expect.go: the scenario table and its expectations;
//     scenarios_health.go: the AWS Health scenarios; scenarios_tamper.go:
//     the tamper watch's, with the tampering they do by hand;
//   - reliability.go: the fault matrix and its invariants;
//   - outcome.go and render.go: what a drill reports, and the text timeline;
//   - graph.go, path.go and report.go (with report.html.tmpl, .css, .js):
//     the HTML report, the definition drawn as the console's graph with
//     each scenario's path on it;
//   - aws.go: drilling a deployed stack (RunAWS);
//   - follow.go and template.go: reading executions and the template, for both;
//   - audit.go: everything a scenario produced, for the secret-leak test.
package drill

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/keywarden/keywarden/internal/localaws"
)

// Options configure an offline drill.
type Options struct {
	// Root is the keywarden checkout: events/, .tools/ and cdk.out/ are
	// found under it.
	Root string
	// Template is the synthesized template whose rule patterns are used;
	// default cdk.out/Keywarden.template.json under Root.
	Template string
	// Variants holds the templates synthesized with other settings, one
	// directory per variant a scenario names (Scenario.Variant); default
	// build/variants.
	Variants string
	// Fixture seeds the demo account; default events/demo-account.json.
	Fixture string
	// Only runs the named scenarios; all when empty.
	Only []string
	// Faults are injected into every scenario, keyed as localaws.SetFault.
	Faults map[string]localaws.Fault
	// Seed makes fault injection repeatable.
	Seed uint64
	// Audit, when set, is called at the end of each scenario with the
	// secret access keys the account ever held and everything the scenario
	// produced, by kind: for the test that no secret leaks. Nothing else
	// should set it.
	Audit func(scenario string, secrets []string, produced map[string][]byte)
}

func (o Options) path(p, def string) string {
	if p == "" {
		p = def
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(o.Root, p)
}

// ErrFailed is returned by the command when a scenario's expectations fail.
var ErrFailed = errors.New("drill: a scenario did not end as expected")

// Run runs the offline drill scenarios.
func Run(ctx context.Context, o Options) ([]Outcome, error) {
	var out []Outcome
	for _, sc := range Scenarios() {
		if len(o.Only) > 0 && !contains(o.Only, sc.Name) {
			continue
		}
		faults := o.Faults
		if len(sc.Faults) > 0 && len(faults) == 0 {
			faults = sc.Faults
		}
		oc, err := runScenario(ctx, o, sc, faults)
		if err != nil {
			return out, fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		out = append(out, oc)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenario named %s; known: %s", strings.Join(o.Only, ", "), strings.Join(ScenarioNames(), ", "))
	}
	return out, nil
}

// variantTemplate is the template synthesized for a variant of the
// settings (make synth writes it), as Template takes it: under Root
// unless absolute.
func (o Options) variantTemplate(variant string) string {
	dir := o.Variants
	if dir == "" {
		dir = "build/variants"
	}
	return filepath.Join(dir, variant, "Keywarden.template.json")
}

// runScenario runs one scenario on a fresh stack and checks what followed.
func runScenario(ctx context.Context, o Options, sc Scenario, faults map[string]localaws.Fault) (Outcome, error) {
	if sc.Variant != "" {
		o.Template = o.variantTemplate(sc.Variant)
	}
	st, err := newStack(ctx, o, faults, sc.Env)
	if err != nil {
		return Outcome{}, err
	}
	defer st.Close()
	oc := Outcome{Scenario: sc.Name, Title: sc.Title}
	d := &Driver{st: st, root: o.Root, outcome: &oc}
	d.Mark("start")
	if err := sc.Run(ctx, d); err != nil {
		oc.Error = err.Error()
	}
	if err := st.observe(ctx, &oc); err != nil {
		return oc, err
	}
	for _, id := range sc.Keys {
		oc.Keys = append(oc.Keys, st.keyView(id))
	}
	sc.Expect(&Expectations{outcome: &oc, st: st, marks: d.marks})
	if o.Audit != nil {
		produced, err := st.produced(ctx, oc)
		if err != nil {
			return oc, err
		}
		if produced["html report"], err = reportText(o.Root, oc); err != nil {
			return oc, err
		}
		o.Audit(sc.Name, st.issuedSecrets(), produced)
	}
	oc.Passed = oc.Error == ""
	for _, c := range oc.Checks {
		oc.Passed = oc.Passed && c.Passed
	}
	return oc, nil
}

// observe records in oc what the scenario led to: the executions, state by
// state, the alerts published and the e-mails sent.
func (st *stack) observe(ctx context.Context, oc *Outcome) error {
	views, err := Follow(ctx, sfn.NewFromConfig(st.cfg), st.machine, time.Time{}, nil)
	if err != nil {
		return err
	}
	oc.Executions = views
	for _, m := range st.aws.Published() {
		oc.Alerts = append(oc.Alerts, Alert{Subject: m.Subject, Body: m.Message})
	}
	for _, e := range st.aws.Emails() {
		oc.Emails = append(oc.Emails, Email{To: strings.Join(e.To, ", "), Subject: e.Subject, Body: e.Text})
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
