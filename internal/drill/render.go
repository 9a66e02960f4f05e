package drill

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// resultKeys maps a state to where its result lands in the state data
// ($.containment …), so a timeline row can quote the step's own result.
var resultKeys = map[string]string{
	"ReadFinding": "finding", "ContainKey": "containment", "RevokeSessions": "revocation",
	"LookUpActivity": "activity", "RemoveKey": "removal",
	"AlertExposedKey": "alert", "AlertRootKey": "alert", "AlertManualAction": "alert", "AlertUnsupportedEvent": "alert",
	"CheckTamper": "tamper", "RespondToTamper": "tamperResponse", "AlertTamper": "alert",
}

// Summary is a one-line reading of a state's result.
func Summary(state string, output json.RawMessage) string {
	key, ok := resultKeys[state]
	if !ok || len(output) == 0 {
		return ""
	}
	var data map[string]json.RawMessage
	if json.Unmarshal(output, &data) != nil {
		return ""
	}
	var r map[string]any
	if json.Unmarshal(data[key], &r) != nil || r == nil {
		return ""
	}
	s := func(k string) string { v, _ := r[k].(string); return v }
	n := func(k string) int { v, _ := r[k].(float64); return int(v) }
	switch key {
	case "finding":
		if b, _ := r["foreignAccount"].(bool); b {
			return fmt.Sprintf("key %s of account %s, not %s: no IAM call", s("accessKeyId"), s("account"), s("actsIn"))
		}
		if b, _ := r["root"].(bool); b {
			return fmt.Sprintf("root key %s in %s", s("accessKeyId"), s("account"))
		}
		verified := "owner not confirmed by IAM"
		if b, _ := r["ownerVerified"].(bool); b {
			verified = "owner confirmed by IAM"
		}
		return fmt.Sprintf("key %s of %s (%s, %s)", s("accessKeyId"), s("userName"), s("signal"), verified)
	case "activity":
		return fmt.Sprintf("%d events, %d high-risk, %d requests", n("totalEvents"), n("highRiskTotal"), n("requests"))
	case "alert":
		return fmt.Sprintf("published %q", s("subject"))
	case "tamper":
		if b, _ := r["tamper"].(bool); !b {
			return "not tampering: " + s("reason")
		}
		if s("undo") != "" {
			return fmt.Sprintf("tampering (%s): undo %s", s("kind"), s("undo"))
		}
		return fmt.Sprintf("tampering (%s): %s", s("kind"), s("noUndo"))
	case "tamperResponse":
		flagged := "listed for the digest"
		if b, _ := r["flagged"].(bool); !b {
			flagged = "NOT listed for the digest"
		}
		if s("status") == "" {
			return flagged
		}
		return s("status") + ", " + flagged
	}
	return s("status")
}

// WriteText renders outcomes the way the console shows executions.
func WriteText(w io.Writer, outcomes []Outcome) {
	passed := 0
	for _, oc := range outcomes {
		writeOutcome(w, oc)
		if oc.Passed {
			passed++
		}
	}
	fmt.Fprintf(w, "\n%d of %d scenarios ended as expected\n", passed, len(outcomes))
}

// writeOutcome renders one scenario: what was sent, the executions, the
// messages, the keys and the expectations.
func writeOutcome(w io.Writer, oc Outcome) {
	fmt.Fprintf(w, "\n━━ %s — %s\n", oc.Scenario, oc.Title)
	for _, p := range oc.Puts {
		writePut(w, p)
	}
	for _, x := range oc.Executions {
		writeExecution(w, x)
	}
	for i, a := range oc.Alerts {
		fmt.Fprintf(w, "\n   alert %d/%d — Subject: %s\n", i+1, len(oc.Alerts), a.Subject)
		for _, line := range strings.Split(strings.TrimRight(a.Body, "\n"), "\n") {
			fmt.Fprintf(w, "   │ %s\n", line)
		}
	}
	for _, e := range oc.Emails {
		fmt.Fprintf(w, "\n   e-mail to %s — Subject: %s\n", e.To, e.Subject)
	}
	if len(oc.Keys) > 0 {
		fmt.Fprintln(w, "\n   keys after the drill:")
		for _, k := range oc.Keys {
			fmt.Fprintf(w, "     %s  %-12s %s\n", k.AccessKeyID, k.UserName, k.Status)
		}
	}
	writeChecks(w, oc)
}

// writePut renders what was sent and the rules it matched.
func writePut(w io.Writer, p PutResult) {
	fmt.Fprintf(w, "   sent %s", p.File)
	if len(p.EntryErrors) > 0 {
		fmt.Fprintf(w, " — rejected: %s", strings.Join(p.EntryErrors, "; "))
	}
	fmt.Fprintln(w)
	if len(p.Matches) == 0 && !strings.Contains(p.File, "no rule") {
		fmt.Fprintln(w, "     no rule matched: nothing started")
	}
	for _, m := range p.Matches {
		switch {
		case m.Error != "":
			fmt.Fprintf(w, "     rule %s → intake failed: %s\n", m.Rule, m.Error)
		case m.Duplicate:
			fmt.Fprintf(w, "     rule %s → intake: %s already exists, duplicate ignored\n", m.Rule, m.Execution)
		case m.Ignored != "":
			fmt.Fprintf(w, "     rule %s → intake: %s; no execution (it would be %s)\n", m.Rule, m.Ignored, m.Execution)
		default:
			fmt.Fprintf(w, "     rule %s → intake started %s\n", m.Rule, m.Execution)
		}
	}
}

// writeExecution renders an execution's timeline, one row per state.
func writeExecution(w io.Writer, x ExecutionView) {
	fmt.Fprintf(w, "\n   execution %s  %s", x.Name, x.Status)
	if x.Error != "" {
		fmt.Fprintf(w, " %s", x.Error)
	}
	fmt.Fprintf(w, "  (%s)\n", round(x.Duration))
	if x.Cause != "" {
		fmt.Fprintf(w, "     cause: %s\n", oneLine(x.Cause, 200))
	}
	for _, s := range x.States {
		fmt.Fprintf(w, "     +%-8s %-22s %-7s %8s", round(s.Offset), s.Name, s.Type, round(s.Elapsed))
		switch {
		case s.Retries > 0:
			fmt.Fprintf(w, "  retried %d× (%s)", s.Retries, strings.Join(s.Errors, ", "))
		case len(s.Errors) > 0:
			fmt.Fprintf(w, "  failed: %s", strings.Join(s.Errors, ", "))
		}
		if sum := Summary(s.Name, s.Output); sum != "" {
			fmt.Fprintf(w, "  %s", sum)
		}
		fmt.Fprintln(w)
	}
}

// writeChecks renders the expectations, and why the scenario stopped if it
// did.
func writeChecks(w io.Writer, oc Outcome) {
	fmt.Fprintln(w, "\n   expected:")
	for _, c := range oc.Checks {
		mark := "✓"
		if !c.Passed {
			mark = "✗"
		}
		fmt.Fprintf(w, "     %s %s", mark, c.What)
		if c.Detail != "" {
			fmt.Fprintf(w, " — %s", c.Detail)
		}
		fmt.Fprintln(w)
	}
	if oc.Error != "" {
		fmt.Fprintf(w, "     ✗ the scenario stopped: %s\n", oc.Error)
	}
}

func round(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return "0ms"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
