package drill

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/rotation"
)

// Expectations records checks on an outcome.
type Expectations struct {
	outcome *Outcome
	st      *stack
	marks   map[string]mark
}

// NothingNewSince: after the mark, no notice, e-mail or IAM write happened
// besides extra published messages (a digest per run).
func (e *Expectations) NothingNewSince(name string, extraPublished int) {
	before, now := e.marks[name], e.st.counts()
	ok := now.emails == before.emails && now.iamWrites == before.iamWrites && now.published == before.published+extraPublished
	e.check(ok, fmt.Sprintf("after %s: nothing new but %d digest(s)", name, extraPublished),
		"e-mails %d→%d, IAM writes %d→%d, published %d→%d", before.emails, now.emails, before.iamWrites, now.iamWrites, before.published, now.published)
}

// Emails: exactly n e-mails were sent.
func (e *Expectations) Emails(n int) {
	e.check(len(e.outcome.Emails) == n, fmt.Sprintf("%d e-mail(s) sent", n), "got %d", len(e.outcome.Emails))
}

// EmailBodyContains: an e-mail to addr says every part.
func (e *Expectations) EmailBodyContains(addr string, parts ...string) {
	what := fmt.Sprintf("e-mail to %s says %s", addr, strings.Join(parts, ", "))
	for _, m := range e.outcome.Emails {
		if !strings.Contains(m.To, addr) {
			continue
		}
		var missing []string
		for _, p := range parts {
			if !strings.Contains(m.Body, p) {
				missing = append(missing, p)
			}
		}
		e.check(len(missing) == 0, what, "missing %s in:\n%s", strings.Join(missing, ", "), m.Body)
		return
	}
	e.check(false, what, "no e-mail to %s", addr)
}

// EmailTo: an e-mail to addr has subject containing s.
func (e *Expectations) EmailTo(addr, s string) {
	for _, m := range e.outcome.Emails {
		if strings.Contains(m.To, addr) && strings.Contains(m.Subject, s) {
			e.check(true, fmt.Sprintf("e-mail to %s: %q", addr, s), "")
			return
		}
	}
	var got []string
	for _, m := range e.outcome.Emails {
		got = append(got, m.To+": "+m.Subject)
	}
	e.check(false, fmt.Sprintf("e-mail to %s: %q", addr, s), "sent: %s", strings.Join(got, "; "))
}

// NoEmailAbout: no e-mail's subject contains s.
func (e *Expectations) NoEmailAbout(s string) {
	for _, m := range e.outcome.Emails {
		if strings.Contains(m.Subject, s) {
			e.check(false, fmt.Sprintf("no e-mail about %q", s), "sent to %s: %s", m.To, m.Subject)
			return
		}
	}
	e.check(true, fmt.Sprintf("no e-mail about %q", s), "")
}

// OnlyKey: user's one remaining key is id.
func (e *Expectations) OnlyKey(user, id string) {
	var live []string
	for _, k := range e.st.liveKeys(user) {
		live = append(live, k.ID)
	}
	e.check(len(live) == 1 && live[0] == id, fmt.Sprintf("%s has only key %s", user, id), "keys: %v", live)
}

// RotatedInto: user's one remaining key replaced old, is active, and is
// what the user's secret holds (id and secret access key as IAM issued
// them); the secret's policy names the user; and no key of the user is
// left without a home.
func (e *Expectations) RotatedInto(user, old string) {
	what := fmt.Sprintf("%s's key %s replaced by a new key kept in secret %s%s", user, old, rotation.DefaultSecretPrefix, user)
	live := e.st.liveKeys(user)
	if len(live) != 1 || live[0].ID == old || live[0].Status != "Active" {
		e.check(false, what, "the user's keys are %+v", live)
		return
	}
	name := rotation.DefaultSecretPrefix + user
	sec, ok := e.st.aws.Secret(name)
	value, hasValue := e.st.aws.SecretValueFor(name)
	var held struct{ AccessKeyId, SecretAccessKey string }
	issued, _ := e.st.aws.SecretFor(live[0].ID)
	switch {
	case !ok || !hasValue:
		e.check(false, what, "no secret %s with a value", name)
	case json.Unmarshal([]byte(value), &held) != nil || held.AccessKeyId != live[0].ID || held.SecretAccessKey != issued || issued == "":
		e.check(false, what, "the secret does not hold key %s as IAM issued it", live[0].ID)
	case !strings.Contains(sec.ResourcePolicy, ":user/"+user+`"`) || sec.KmsKeyID == "":
		e.check(false, what, "secret policy %s, KMS key %q", sec.ResourcePolicy, sec.KmsKeyID)
	default:
		e.check(true, what+" ("+live[0].ID+")", "")
	}
}

func (e *Expectations) check(ok bool, what, detail string, args ...any) {
	c := Check{What: what, Passed: ok}
	if !ok {
		c.Detail = fmt.Sprintf(detail, args...)
	}
	e.outcome.Checks = append(e.outcome.Checks, c)
}

func (e *Expectations) execution(name string) *ExecutionView {
	for i := range e.outcome.Executions {
		if e.outcome.Executions[i].Name == name {
			return &e.outcome.Executions[i]
		}
	}
	return nil
}

// Executions: exactly n executions started.
func (e *Expectations) Executions(n int) {
	var names []string
	for _, x := range e.outcome.Executions {
		names = append(names, x.Name)
	}
	e.check(len(names) == n, fmt.Sprintf("%d execution(s) started", n), "got %d: %s", len(names), strings.Join(names, ", "))
}

// Status: the named execution ended with status (and error name).
func (e *Expectations) Status(name, status, errName string) {
	x := e.execution(name)
	what := fmt.Sprintf("execution %s ends %s", name, status)
	if errName != "" {
		what += " with " + errName
	}
	if x == nil {
		e.check(false, what, "no such execution")
		return
	}
	e.check(x.Status == status && x.Error == errName, what, "got %s %s: %s", x.Status, x.Error, x.Cause)
}

// StatusPrefix is Status for the one execution whose name has the prefix.
func (e *Expectations) StatusPrefix(prefix, status, errName string) {
	for _, x := range e.outcome.Executions {
		if strings.HasPrefix(x.Name, prefix) {
			e.Status(x.Name, status, errName)
			return
		}
	}
	e.check(false, "an execution named "+prefix+"…", "none started")
}

// MapRun: the execution whose name starts with prefix ran one Map Run
// with children child executions, failed of them failed, at most
// maxConcurrency at once.
func (e *Expectations) MapRun(prefix string, children, failed, maxConcurrency int) {
	what := fmt.Sprintf("one Map Run of %d child executions, %d failed, %d at once", children, failed, maxConcurrency)
	for _, x := range e.outcome.Executions {
		if !strings.HasPrefix(x.Name, prefix) {
			continue
		}
		if len(x.MapRuns) != 1 {
			e.check(false, what, "%s ran %d Map Runs", x.Name, len(x.MapRuns))
			return
		}
		m := x.MapRuns[0]
		bad := 0
		for _, c := range m.Children {
			if c.Status != "SUCCEEDED" {
				bad++
			}
		}
		e.check(len(m.Children) == children && bad == failed && int(m.ItemsFailed) == failed && int(m.MaxConcurrency) == maxConcurrency, what,
			"%d children, %d failed (%d items), concurrency %d", len(m.Children), bad, m.ItemsFailed, m.MaxConcurrency)
		return
	}
	e.check(false, what, "no execution named %s…", prefix)
}

// ChildrenThrough: of the Map Run children of the execution whose name
// starts with prefix, n passed through state.
func (e *Expectations) ChildrenThrough(prefix, state string, n int) {
	what := fmt.Sprintf("%d child execution(s) passed through %s", n, state)
	for _, x := range e.outcome.Executions {
		if !strings.HasPrefix(x.Name, prefix) {
			continue
		}
		got := 0
		for _, m := range x.MapRuns {
			for _, c := range m.Children {
				if slices.ContainsFunc(c.States, func(s StateView) bool { return s.Name == state }) {
					got++
				}
			}
		}
		e.check(got == n, what, "got %d", got)
		return
	}
	e.check(false, what, "no execution named %s…", prefix)
}

// CauseContains: the execution's failure cause says s.
func (e *Expectations) CauseContains(name, s string) {
	x := e.execution(name)
	e.check(x != nil && strings.Contains(x.Cause, s), "the failure cause names "+s, "cause: %v", causeOf(x))
}

func causeOf(x *ExecutionView) string {
	if x == nil {
		return "(no execution)"
	}
	return x.Cause
}

// StateOrder: the execution passed through exactly these states in order.
func (e *Expectations) StateOrder(name string, states ...string) {
	x := e.execution(name)
	var got []string
	if x != nil {
		for _, s := range x.States {
			got = append(got, s.Name)
		}
	}
	e.check(strings.Join(got, ">") == strings.Join(states, ">"), "path "+strings.Join(states, " → "), "got %s", strings.Join(got, " → "))
}

var iamWrites = map[string]bool{
	"UpdateAccessKey": true, "DeleteAccessKey": true, "CreateAccessKey": true, "PutUserPolicy": true,
	"DeleteUserPolicy": true, "CreateUser": true, "TagUser": true, "AttachUserPolicy": true, "DetachUserPolicy": true,
}

func (e *Expectations) iamWriteCalls() []localaws.Call {
	var out []localaws.Call
	for _, c := range e.st.aws.Calls() {
		if c.Service == "iam" && iamWrites[c.Operation] {
			out = append(out, c)
		}
	}
	return out
}

// NoIAMWrite: nothing was written to IAM (after the scenario's own setup,
// when it marked one).
func (e *Expectations) NoIAMWrite() {
	w := e.iamWriteCalls()
	if m, ok := e.marks["setup"]; ok {
		w = w[min(m.iamWrites, len(w)):]
	}
	e.check(len(w) == 0, "no IAM write", "got %d, first %s", len(w), firstOp(w))
}

// NoIAMCall: no IAM call at all, reads included: for a key of another
// account, not even the lookup of its owner.
func (e *Expectations) NoIAMCall() {
	var ops []string
	for _, c := range e.st.aws.Calls() {
		if c.Service == "iam" {
			ops = append(ops, c.Operation)
		}
	}
	e.check(len(ops) == 0, "no IAM call", "got %d: %s", len(ops), strings.Join(ops, ", "))
}

// FirstIAMWrite: the first IAM write (attempted) was op — containment first.
func (e *Expectations) FirstIAMWrite(op string) {
	w := e.iamWriteCalls()
	e.check(len(w) > 0 && w[0].Operation == op, "first IAM write is "+op, "first was %s", firstOp(w))
}

func firstOp(calls []localaws.Call) string {
	if len(calls) == 0 {
		return "(none)"
	}
	return calls[0].Operation
}

// Retried: the execution retried the state after a failed attempt.
func (e *Expectations) Retried(name, state string) {
	x := e.execution(name)
	retries := 0
	if x != nil {
		for _, s := range x.States {
			if s.Name == state {
				retries += s.Retries
			}
		}
	}
	e.check(retries > 0, fmt.Sprintf("%s was retried", state), "no retry recorded")
}

// Key: the key ends in this state (Active, Inactive, deleted).
func (e *Expectations) Key(id, status string) {
	k := e.st.keyView(id)
	e.check(k.Status == status, fmt.Sprintf("key %s is %s", id, status), "it is %s", k.Status)
}

// UserPolicy: the user has the inline policy.
func (e *Expectations) UserPolicy(user, policy string) {
	_, ok := e.st.aws.UserPolicies(user)[policy]
	e.check(ok, fmt.Sprintf("%s has inline policy %s", user, policy), "policies: %v", sortedKeys(e.st.aws.UserPolicies(user)))
}

// Alerts: exactly n alerts were published.
func (e *Expectations) Alerts(n int) {
	e.check(len(e.outcome.Alerts) == n, fmt.Sprintf("%d alert(s) published", n), "got %d", len(e.outcome.Alerts))
}

// AlertContains: one alert's subject has subject and its body every part.
func (e *Expectations) AlertContains(subject string, parts ...string) {
	for _, a := range e.outcome.Alerts {
		if !strings.Contains(a.Subject, subject) {
			continue
		}
		var missing []string
		for _, p := range parts {
			if !strings.Contains(a.Body, p) {
				missing = append(missing, p)
			}
		}
		what := fmt.Sprintf("alert %q", subject)
		if len(parts) > 0 {
			what += " says " + strings.Join(parts, ", ")
		}
		e.check(len(missing) == 0, what, "missing %s", strings.Join(missing, ", "))
		return
	}
	e.check(false, fmt.Sprintf("an alert with subject %q", subject), "subjects: %v", subjects(e.outcome.Alerts))
}

func subjects(alerts []Alert) []string {
	var s []string
	for _, a := range alerts {
		s = append(s, a.Subject)
	}
	return s
}

// NoAlert: no published message's subject contains s.
func (e *Expectations) NoAlert(s string) {
	for _, a := range e.outcome.Alerts {
		if strings.Contains(a.Subject, s) {
			e.check(false, fmt.Sprintf("no alert %q", s), "published %q", a.Subject)
			return
		}
	}
	e.check(true, fmt.Sprintf("no alert %q", s), "")
}

// Duplicates: n deliveries were recognised as duplicates by intake.
func (e *Expectations) Duplicates(n int) {
	got := 0
	for _, p := range e.outcome.Puts {
		for _, m := range p.Matches {
			if m.Duplicate {
				got++
			}
		}
	}
	e.check(got == n, fmt.Sprintf("%d deliveries recognised as duplicates", n), "got %d", got)
}

// NoRuleMatched: the i-th put matched no rule.
func (e *Expectations) NoRuleMatched(i int) {
	ok := i < len(e.outcome.Puts) && len(e.outcome.Puts[i].Matches) == 0 && e.outcome.Puts[i].FailedEntries == 0
	e.check(ok, fmt.Sprintf("%s matches no rule", putFile(e.outcome.Puts, i)), "matches: %+v", e.outcome.Puts)
}

func putFile(p []PutResult, i int) string {
	if i < len(p) {
		return p[i].File
	}
	return "put"
}

// Ignored: n deliveries started nothing because the intake recognised
// keywarden's own write.
func (e *Expectations) Ignored(n int) {
	got := 0
	for _, p := range e.outcome.Puts {
		for _, m := range p.Matches {
			if m.Ignored != "" {
				got++
			}
		}
	}
	e.check(got == n, fmt.Sprintf("%d deliveries recognised as keywarden's own writes, nothing started", n), "got %d", got)
}

// NoExecutionPrefix: no execution's name starts with prefix.
func (e *Expectations) NoExecutionPrefix(prefix string) {
	for _, x := range e.outcome.Executions {
		if strings.HasPrefix(x.Name, prefix) {
			e.check(false, "no execution named "+prefix+"…", "started %s", x.Name)
			return
		}
	}
	e.check(true, "no execution named "+prefix+"…", "")
}

// AttachedPolicy: the user has the managed policy attached.
func (e *Expectations) AttachedPolicy(user, arn string) {
	got := e.st.aws.AttachedUserPolicies(user)
	e.check(slices.Contains(got, arn), fmt.Sprintf("%s has policy %s attached", user, arn), "attached: %v", got)
}

// NoUserPolicy: the user has no inline policy of that name.
func (e *Expectations) NoUserPolicy(user, policy string) {
	got := e.st.aws.UserPolicies(user)
	_, ok := got[policy]
	e.check(!ok, fmt.Sprintf("%s has no inline policy %s", user, policy), "policies: %v", sortedKeys(got))
}

// UserPolicyIs: the user has the inline policy, with exactly this document.
func (e *Expectations) UserPolicyIs(user, policy, doc string) {
	got, ok := e.st.aws.UserPolicies(user)[policy]
	e.check(ok && doc != "" && got == doc, fmt.Sprintf("%s has inline policy %s as keywarden wrote it", user, policy),
		"present %v, document %s, want %s", ok, got, doc)
}

// NoIAMWriteBetween: nothing was written to IAM between the two marks.
func (e *Expectations) NoIAMWriteBetween(from, to string) {
	a, b := e.marks[from], e.marks[to]
	w := e.iamWriteCalls()
	w = w[min(a.iamWrites, len(w)):min(b.iamWrites, len(w))]
	e.check(len(w) == 0, fmt.Sprintf("no IAM write between %s and %s", from, to), "got %d, first %s", len(w), firstOp(w))
}

// LedgerItem: the ledger holds the item pk, sk.
func (e *Expectations) LedgerItem(pk, sk string) {
	for _, it := range e.st.aws.Items(ledgerTable) {
		if it["pk"] == pk && it["sk"] == sk {
			e.check(true, fmt.Sprintf("ledger item %s %s", pk, sk), "")
			return
		}
	}
	e.check(false, fmt.Sprintf("ledger item %s %s", pk, sk), "not in the ledger")
}

// Flags: exactly n ledger flags (the next digest's lines) name the key.
func (e *Expectations) Flags(keyID string, n int) {
	got := 0
	for _, it := range e.st.aws.Items(ledgerTable) {
		if pk, _ := it["pk"].(string); strings.HasPrefix(pk, "flags#") && it["keyId"] == keyID {
			got++
		}
	}
	e.check(got == n, fmt.Sprintf("%d ledger flag(s) for key %s", n, keyID), "got %d", got)
}
