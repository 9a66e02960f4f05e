package drill

import (
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

// The handlers run in this process; their logs would bury test output.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	os.Exit(m.Run())
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
