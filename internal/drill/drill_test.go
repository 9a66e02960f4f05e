package drill

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/localaws"
)

const root = "../.."

// The drill reads the rule patterns from the synthesized template: it tests
// the rules that deploy. `make test` synthesizes first.
func options(t *testing.T) Options {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, "cdk.out", "Keywarden.template.json")); err != nil {
		t.Fatalf("the drill needs the synthesized template: run `make synth` (or `make test`, which does): %v", err)
	}
	return Options{Root: root, Seed: 1}
}

func report(t *testing.T, oc Outcome) {
	t.Helper()
	if oc.Passed {
		return
	}
	var b strings.Builder
	WriteText(&b, []Outcome{oc})
	t.Errorf("scenario %s did not end as expected:\n%s", oc.Scenario, b.String())
}

func TestScenarios(t *testing.T) {
	outcomes, err := Run(context.Background(), options(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(outcomes) != len(Scenarios()) {
		t.Fatalf("ran %d scenarios, want %d", len(outcomes), len(Scenarios()))
	}
	for _, oc := range outcomes {
		if len(oc.Checks) == 0 {
			t.Errorf("%s checked nothing", oc.Scenario)
		}
		report(t, oc)
	}
}

// With IAM and CloudTrail throttling a fifth of calls and failing some with
// 5xx, every seed still ends with the key contained and the alert out.
func TestExposedKeyUnderFaults(t *testing.T) {
	o := options(t)
	o.Only = []string{"exposed-key"}
	o.Faults = map[string]localaws.Fault{
		"iam:*":        {ThrottleRate: 0.2, ServerErrorRate: 0.05},
		"cloudtrail:*": {ThrottleRate: 0.2, ServerErrorRate: 0.05},
		"sns:*":        {ThrottleRate: 0.2},
	}
	injected := 0
	for seed := uint64(1); seed <= 5; seed++ {
		o.Seed = seed
		outcomes, err := Run(context.Background(), o)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		report(t, outcomes[0])
		for _, x := range outcomes[0].Executions {
			for _, s := range x.States {
				injected += len(s.Errors)
			}
		}
	}
	t.Logf("%d step attempts failed on injected faults and were retried", injected)
}

// Each put-events payload in events/ matches a deployed rule and starts an
// execution — except the one made to match none.
func TestEveryPayloadStartsAnExecution(t *testing.T) {
	o := options(t)
	files, _ := filepath.Glob(filepath.Join(root, "events", "*.json"))
	ctx := context.Background()
	checked := 0
	for _, path := range files {
		file := "events/" + filepath.Base(path)
		if strings.HasSuffix(file, "demo-account.json") {
			continue
		}
		t.Run(file, func(t *testing.T) {
			st, err := newStack(ctx, o, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			res, err := st.put(ctx, root, file)
			if err != nil {
				t.Fatal(err)
			}
			started := 0
			for _, m := range res.Matches {
				if m.Execution != "" && !m.Duplicate {
					started++
				}
			}
			if strings.Contains(file, "unsupported") {
				if started != 0 || len(res.Matches) != 0 {
					t.Errorf("matched %+v; this payload is the one no rule should match", res.Matches)
				}
				return
			}
			if started != 1 || res.FailedEntries != 0 {
				t.Errorf("started %d executions (matches %+v, entry errors %v), want 1", started, res.Matches, res.EntryErrors)
			}
		})
		checked++
	}
	if checked < 4 {
		t.Errorf("checked only %d payloads", checked)
	}
}

// --aws follows executions through ListExecutions, DescribeExecution and
// GetExecutionHistory; here the account is the local one.
func TestRunAWSFollowsExecutions(t *testing.T) {
	o := options(t)
	ctx := context.Background()
	st, err := newStack(ctx, o, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	outcomes, err := RunAWS(ctx, st.cfg, AWSOptions{Root: root, StateMachineArn: st.machine,
		Files: []string{"events/exposed-key.json", "events/exposed-key-malformed.json"}, Poll: 50_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if len(outcomes) != 2 {
		t.Fatalf("%d outcomes", len(outcomes))
	}
	report(t, outcomes[0])
	x := outcomes[0].Executions
	if len(x) != 1 || x[0].Name != exposedName || len(x[0].States) != 9 {
		t.Errorf("exposed-key: %d executions, first %s", len(x), names(x))
	}
	// The malformed payload's execution fails, so --aws reports a failure.
	bad := outcomes[1]
	if bad.Passed || len(bad.Executions) != 1 || bad.Executions[0].Error != "InvalidEvent" {
		t.Errorf("malformed payload: passed=%v executions %s", bad.Passed, names(bad.Executions))
	}
	if _, err := RunAWS(ctx, st.cfg, AWSOptions{Root: root}); err == nil {
		t.Error("RunAWS without a state machine ARN must fail")
	}
}

func TestRulesFromTemplate(t *testing.T) {
	rules, err := RulesFromTemplate(filepath.Join(root, "cdk.out", "Keywarden.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rules {
		ids = append(ids, r.LogicalID)
	}
	got := strings.Join(ids, ",")
	for _, want := range []string{"DrillRule", "HealthRule", "TrustedAdvisorRule", "ScheduleRule", "DrillScheduleRule", "KeyCreationRule", "DrillKeyCreationRule"} {
		if !strings.Contains(got, want) {
			t.Errorf("rules %s lack %s", got, want)
		}
	}
	if strings.Contains(got, "FailedExecution") {
		t.Errorf("rules %s include one that does not target the intake", got)
	}
	if _, err := RulesFromTemplate("no/such/template.json"); err == nil || !strings.Contains(err.Error(), "make synth") {
		t.Errorf("missing template: %v", err)
	}
}

func names(views []ExecutionView) string {
	var out []string
	for _, v := range views {
		out = append(out, v.Name+" "+v.Status+" "+v.Error)
	}
	return strings.Join(out, "; ")
}

// The handlers run in this process; their logs would bury test output.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

// The bad-input corpus: each event, handed to the intake as a rule would
// hand it, starts an execution that fails with a named error after an
// alert that says what was wrong. Nothing panics, nothing is dropped.
func TestBadInputCorpus(t *testing.T) {
	o := options(t)
	ctx := context.Background()
	st, err := newStack(ctx, o, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	files, _ := filepath.Glob(filepath.Join(root, "events", "bad", "*.json"))
	if len(files) < 20 {
		t.Fatalf("the corpus has %d cases, want at least 20", len(files))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			before, alertsBefore := len(st.sfn.Executions()), len(st.aws.Published())
			if _, err := st.intake.Invoke(ctx, raw); err != nil {
				t.Fatalf("intake refused the event instead of starting an execution: %v", err)
			}
			if err := st.sfn.Wait(); err != nil {
				t.Fatal(err)
			}
			execs := st.sfn.Executions()
			if len(execs) != before+1 {
				t.Fatalf("%d executions started, want 1", len(execs)-before)
			}
			x := execs[len(execs)-1]
			if x.Status != "FAILED" || (x.Error != "InvalidEvent" && x.Error != "UnsupportedEvent") {
				t.Errorf("execution %s ended %s %q (%s); want FAILED with InvalidEvent or UnsupportedEvent", x.Name, x.Status, x.Error, x.Cause)
			}
			alerts := st.aws.Published()[alertsBefore:]
			if len(alerts) != 1 {
				t.Fatalf("%d alerts, want 1", len(alerts))
			}
			a := alerts[0]
			says := strings.Contains(a.Message, x.Error) || strings.Contains(a.Subject, "Unsupported Event") || strings.Contains(a.Message, "no branch")
			if !says {
				t.Errorf("the alert does not say what was wrong (%s):\n%s\n%s", x.Error, a.Subject, a.Message)
			}
			if strings.Contains(a.Subject, "\n") || strings.Contains(a.Message, "\x1b") || strings.Contains(a.Message, "\nSubject: all clear") {
				t.Errorf("a hostile string reached the alert:\n%s", a.Message)
			}
		})
	}
	for _, c := range st.aws.Calls() {
		if c.Service == "iam" && iamWrites[c.Operation] {
			t.Errorf("bad input led to an IAM write: %+v", c)
		}
	}
}

// TestNoSecretLeaks runs every scenario and searches everything each one
// produced — the handlers' logs, alerts, e-mails, events, every execution's
// full history with each state's input and output, the ledger, the API call
// log and the drill's own report — for every secret access key the account
// ever held: the fixture's keys and the keys rotation created. A secret may
// be in one place only, the user's Secrets Manager secret.
func TestNoSecretLeaks(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	defer slog.SetDefault(prev)

	o := options(t)
	audited := map[string]int{} // scenario → secrets searched for
	o.Audit = func(scenario string, secrets []string, produced map[string][]byte) {
		produced["handler logs"] = bytes.Clone(logs.Bytes())
		logs.Reset()
		if len(produced["handler logs"]) == 0 || len(produced["execution history "+firstExecution(produced)]) == 0 {
			t.Errorf("%s: nothing to search (logs %d bytes)", scenario, len(produced["handler logs"]))
		}
		for _, leak := range leaks(secrets, produced) {
			t.Errorf("%s: a secret access key is in the %s", scenario, leak)
		}
		audited[scenario] = len(secrets)
	}
	outcomes, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(audited) != len(Scenarios()) || len(outcomes) != len(Scenarios()) {
		t.Fatalf("audited %d scenarios, want %d", len(audited), len(Scenarios()))
	}
	// The rotation scenario created a key (and its secret) beyond the
	// fixture's, so its secret was among those searched for.
	if audited["rotation"] <= audited["exposed-key"] {
		t.Errorf("rotation searched for %d secrets, the fixture alone has %d: the rotated key's secret was not searched for",
			audited["rotation"], audited["exposed-key"])
	}
}

// firstExecution is the name of one execution whose history was produced.
func firstExecution(produced map[string][]byte) string {
	for k := range produced {
		if name, ok := strings.CutPrefix(k, "execution history "); ok {
			return name
		}
	}
	return ""
}

// leaks names the kinds of output that hold any of the secrets.
func leaks(secrets []string, produced map[string][]byte) []string {
	var out []string
	for kind, b := range produced {
		for _, s := range secrets {
			if s != "" && bytes.Contains(b, []byte(s)) {
				out = append(out, kind)
				break
			}
		}
	}
	return out
}

// The search finds a secret wherever it is, JSON-escaped or not.
func TestLeaksFindsASecret(t *testing.T) {
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	produced := map[string][]byte{"clean": []byte(`{"accessKeyId":"AKIAEXAMPLE"}`), "dirty": []byte(`{"note":"` + secret + `"}`)}
	if got := leaks([]string{secret}, produced); len(got) != 1 || got[0] != "dirty" {
		t.Errorf("leaks = %v, want [dirty]", got)
	}
}
