package drill

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// payloadVariants are the payloads only a variant's rules match: the
// detach of revokeWith attachedPolicy's deny policy.
var payloadVariants = map[string]string{"events/tamper-revoke-policy-detached.json": attachedVariant}

// Each put-events payload in events/ matches a deployed rule and starts an
// execution — except the one made to match none.
func TestEveryPayloadStartsAnExecution(t *testing.T) {
	o := options(t)
	files, _ := filepath.Glob(filepath.Join(root, "events", "*.json"))
	ctx := context.Background()
	checked := 0
	for _, path := range files {
		file := "events/" + filepath.Base(path)
		if file == "events/demo-account.json" || file == orgMembersFixture { // fixtures, not payloads
			continue
		}
		t.Run(file, func(t *testing.T) {
			o := o
			if v, ok := payloadVariants[file]; ok {
				o.Template = o.variantTemplate(v)
			}
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
				if m.Execution != "" && !m.Duplicate && m.Ignored == "" {
					started++
				}
			}
			if strings.Contains(file, "own-writes") { // keywarden's own: recognised, nothing started
				for _, m := range res.Matches {
					if m.Ignored == "" || m.Duplicate || m.Error != "" {
						t.Errorf("match %+v; keywarden's own write must start nothing", m)
					}
				}
				if len(res.Matches) == 0 || started != 0 {
					t.Errorf("matched %+v", res.Matches)
				}
				return
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
