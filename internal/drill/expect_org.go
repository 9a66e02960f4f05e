package drill

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/member"
)

// Expectations on the accounts of the drill organization (stack_org.go);
// in account mode the only account is the stack's.

// EndsIn: the execution whose name starts with prefix (the full name will
// do; "" the first) passed last through state.
func (e *Expectations) EndsIn(prefix, state string) {
	what := fmt.Sprintf("execution %s… ends in state %s", prefix, state)
	for _, x := range e.outcome.Executions {
		if !strings.HasPrefix(x.Name, prefix) {
			continue
		}
		last := "(none)"
		if len(x.States) > 0 {
			last = x.States[len(x.States)-1].Name
		}
		e.check(last == state, what, "%s ended in %s", x.Name, last)
		return
	}
	e.check(false, what, "no such execution")
}

// KeyIn: the key, in account, ends in this state (Active, Inactive,
// deleted).
func (e *Expectations) KeyIn(account, id, status string) {
	what := fmt.Sprintf("key %s of account %s is %s", id, account, status)
	srv := e.st.account(account)
	if srv == nil {
		e.check(false, what, "the drill has no account %s", account)
		return
	}
	k, ok := srv.AccessKey(id)
	got := "absent"
	switch {
	case ok && k.Deleted:
		got = "deleted"
	case ok:
		got = k.Status
	}
	e.check(got == status, what, "it is %s", got)
}

// NoKeyIn: account holds no key id, not even a deleted one.
func (e *Expectations) NoKeyIn(account, id string) {
	srv := e.st.account(account)
	ok := false
	if srv != nil {
		_, ok = srv.AccessKey(id)
	}
	e.check(srv != nil && !ok, fmt.Sprintf("account %s holds no key %s", account, id), "it does")
}

// AttachedPolicyIn: in account, the user has the managed policy attached.
func (e *Expectations) AttachedPolicyIn(account, user, arn string) {
	what := fmt.Sprintf("%s of account %s has policy %s attached", user, account, arn)
	srv := e.st.account(account)
	if srv == nil {
		e.check(false, what, "the drill has no account %s", account)
		return
	}
	got := srv.AttachedUserPolicies(user)
	e.check(slices.Contains(got, arn), what, "attached: %v", got)
}

// iamWritesIn are the IAM writes account answered (attempted ones too).
func (e *Expectations) iamWritesIn(account string) []localaws.Call {
	var out []localaws.Call
	for _, c := range e.st.allCalls()[account] {
		if c.Service == "iam" && iamWrites[c.Operation] {
			out = append(out, c)
		}
	}
	return out
}

// NoIAMWriteIn: account saw no IAM write.
func (e *Expectations) NoIAMWriteIn(account string) {
	w := e.iamWritesIn(account)
	e.check(len(w) == 0, "no IAM write in account "+account, "got %d, first %s by %s", len(w), firstOp(w), firstCaller(w))
}

func firstCaller(calls []localaws.Call) string {
	if len(calls) == 0 {
		return "(none)"
	}
	return calls[0].Caller
}

// IAMWritesBySession: account saw IAM writes, and every one was made by a
// session of the member role whose session name and source identity are
// the execution's name: what the member's CloudTrail shows.
func (e *Expectations) IAMWritesBySession(account, execution, role string) {
	want := "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + execution
	what := fmt.Sprintf("every IAM write in account %s made by %s, source identity %s", account, want, execution)
	w := e.iamWritesIn(account)
	if len(w) == 0 {
		e.check(false, what, "no IAM write in the account")
		return
	}
	for _, c := range w {
		if c.Caller != want || c.SourceIdentity != execution {
			e.check(false, what, "%s by %s, source identity %q", c.Operation, c.Caller, c.SourceIdentity)
			return
		}
	}
	e.check(true, fmt.Sprintf("%s (%d writes)", what, len(w)), "")
}

// IAMCallsBySession: account answered IAM calls, every one made by a
// session of role whose session name and source identity are the
// execution's name (the daily run's reads through keywarden-member-read).
func (e *Expectations) IAMCallsBySession(account, execution, role string) {
	want := "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + execution
	what := fmt.Sprintf("every IAM call in account %s made by %s, source identity %s", account, want, execution)
	n := 0
	for _, c := range e.st.allCalls()[account] {
		if c.Service != "iam" {
			continue
		}
		n++
		if c.Caller != want || c.SourceIdentity != execution {
			e.check(false, what, "%s by %s, source identity %q", c.Operation, c.Caller, c.SourceIdentity)
			return
		}
	}
	e.check(n > 0, fmt.Sprintf("%s (%d calls)", what, n), "no IAM call in the account")
}

// NoAssumeRoleInto: no account asked STS for a role of account.
func (e *Expectations) NoAssumeRoleInto(account string) {
	var asked []string
	for caller, calls := range e.st.allCalls() {
		for _, c := range calls {
			if c.Service == "sts" && c.Operation == "AssumeRole" && strings.Contains(c.RoleArn, ":iam::"+account+":") {
				asked = append(asked, caller+" asked for "+c.RoleArn)
			}
		}
	}
	e.check(len(asked) == 0, "no sts:AssumeRole into account "+account, "%s", strings.Join(asked, "; "))
}

// TrailNamesExecution: the member's CloudTrail records every IAM write
// keywarden made there with the execution's name as the session's source
// identity, and the member role (with its path) as the session's issuer:
// what a member's security team sees.
func (e *Expectations) TrailNamesExecution(account, execution, role string) {
	what := fmt.Sprintf("account %s's CloudTrail names %s as source identity of %s's IAM writes", account, execution, role)
	srv := e.st.account(account)
	if srv == nil {
		e.check(false, what, "the drill has no account %s", account)
		return
	}
	n := 0
	for _, raw := range srv.CloudTrailRecords() {
		var r trailRecord
		if json.Unmarshal([]byte(raw), &r) != nil || r.EventSource != "iam.amazonaws.com" || r.ReadOnly || !iamWrites[r.EventName] {
			continue
		}
		sc := r.UserIdentity.SessionContext
		if sc == nil || sc.SourceIdentity != execution || sc.SessionIssuer.Arn != "arn:aws:iam::"+account+":role/"+role {
			e.check(false, what, "%s by %s recorded with session context %+v", r.EventName, r.UserIdentity.Arn, sc)
			return
		}
		n++
	}
	e.check(n > 0, fmt.Sprintf("%s (%d records)", what, n), "no IAM write recorded")
}

// executionNamed is the full name of the first execution whose name
// starts with prefix.
func (e *Expectations) executionNamed(prefix string) (string, bool) {
	for _, x := range e.outcome.Executions {
		if strings.HasPrefix(x.Name, prefix) {
			return x.Name, true
		}
	}
	return "", false
}

// ReadsBySession: the execution (by name prefix) read IAM in account, and
// only read, through a session of the member role whose session name and
// source identity are the execution's name.
func (e *Expectations) ReadsBySession(account, prefix, role string) {
	what := fmt.Sprintf("execution %s… read IAM in account %s as %s, source identity its name, and wrote nothing", prefix, account, role)
	name, ok := e.executionNamed(prefix)
	if !ok {
		e.check(false, what, "no such execution")
		return
	}
	want := "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + name
	var reads []string
	for _, c := range e.st.allCalls()[account] {
		if c.Service != "iam" || c.Caller != want {
			continue
		}
		if iamWrites[c.Operation] || c.SourceIdentity != name {
			e.check(false, what, "%s by %s, source identity %q", c.Operation, c.Caller, c.SourceIdentity)
			return
		}
		reads = append(reads, c.Operation)
	}
	e.check(len(reads) > 0, fmt.Sprintf("%s (%s)", what, strings.Join(reads, ", ")), "no IAM call by %s", want)
}

// TrailWritesBy: account's CloudTrail records, for the execution (by name
// prefix), exactly these IAM writes in order, each by a session of the
// member role whose session name and source identity are the execution's
// (member.SessionName): what the member's security team sees of that
// response.
func (e *Expectations) TrailWritesBy(account, prefix, role string, ops ...string) {
	what := fmt.Sprintf("account %s's CloudTrail records %s by %s for execution %s…", account, strings.Join(ops, ", "), role, prefix)
	name, ok := e.executionNamed(prefix)
	if !ok {
		e.check(false, what, "no such execution")
		return
	}
	recs, _, err := e.st.readTrail(account)
	if err != nil {
		e.check(false, what, "%v", err)
		return
	}
	// A name STS refuses (over 64 characters, as a tamper execution's
	// is) is shortened the one way member.SessionName says.
	id, err := member.SessionName(name)
	if err != nil {
		e.check(false, what, "%v", err)
		return
	}
	session := "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + id
	var got []string
	for _, r := range recs {
		sc := r.UserIdentity.SessionContext
		if r.ReadOnly || sc == nil || sc.SourceIdentity != id {
			continue
		}
		if r.UserIdentity.Arn != session || r.issuer() != "arn:aws:iam::"+account+":role/"+role {
			e.check(false, what, "%s by %s, issuer %s", r.EventName, r.UserIdentity.Arn, r.issuer())
			return
		}
		got = append(got, r.EventName)
	}
	e.check(slices.Equal(got, ops), what, "recorded %v", got)
}

// NoMemberRoleWriteIn: no IAM write in account by a session of any of
// keywarden's member roles (the person's own calls aside).
func (e *Expectations) NoMemberRoleWriteIn(account string) {
	var by []string
	for _, c := range e.iamWritesIn(account) {
		if strings.Contains(c.Caller, ":assumed-role/keywarden-member-") {
			by = append(by, c.Operation+" by "+c.Caller)
		}
	}
	e.check(len(by) == 0, "no IAM write by keywarden's member roles in account "+account, "%s", strings.Join(by, "; "))
}

// NoLedgerItemPrefix: the ledger holds no item whose pk starts with prefix.
func (e *Expectations) NoLedgerItemPrefix(prefix string) {
	for _, it := range e.st.aws.Items(ledgerTable) {
		if pk, _ := it["pk"].(string); strings.HasPrefix(pk, prefix) {
			e.check(false, "no ledger item "+prefix+"…", "holds %s %v", pk, it["sk"])
			return
		}
	}
	e.check(true, "no ledger item "+prefix+"…", "")
}
