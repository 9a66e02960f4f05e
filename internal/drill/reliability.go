package drill

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/rotation"
)

// FaultProfile is one column of the reliability matrix.
type FaultProfile struct {
	Name   string
	Faults map[string]localaws.Fault
}

// Transient faults on every operation keywarden's handlers call.
var transient = FaultProfile{Name: "20% throttling, 5% 5xx, 5 ms latency", Faults: map[string]localaws.Fault{
	"iam:*":        {ThrottleRate: 0.2, ServerErrorRate: 0.05, Latency: 5 * time.Millisecond},
	"cloudtrail:*": {ThrottleRate: 0.2, ServerErrorRate: 0.05, Latency: 5 * time.Millisecond},
	"sns:*":        {ThrottleRate: 0.2, ServerErrorRate: 0.05, Latency: 5 * time.Millisecond},
	"ses:*":        {ThrottleRate: 0.2, ServerErrorRate: 0.05, Latency: 5 * time.Millisecond},
	"dynamodb:*":   {ThrottleRate: 0.2, ServerErrorRate: 0.05, Latency: 5 * time.Millisecond},
	// Rotation's.
	"secretsmanager:*": {ThrottleRate: 0.2, ServerErrorRate: 0.05, Latency: 5 * time.Millisecond},
	// The state machine invoking each step (the intake, invoked by
	// EventBridge, is not: its retries are Lambda's own).
	"lambda:*": {ThrottleRate: 0.2, ServerErrorRate: 0.05, Latency: 5 * time.Millisecond},
}}

// matrixCase is a scenario of the matrix, the operation that fails for
// good in its permanent-failure column, and the invariants that must hold
// whatever the faults did.
type matrixCase struct {
	scenario  string
	permanent string // fault key failed with AccessDenied in the third column
	check     func(st *stack, oc Outcome) []string
	// transient adds to the transient profile the services only this
	// scenario calls.
	transient map[string]localaws.Fault
}

var matrix = []matrixCase{
	{scenario: "exposed-key", permanent: "iam:UpdateAccessKey", check: exposedInvariants},
	{scenario: "daily-run", permanent: "iam:UpdateAccessKey", check: dailyInvariants},
	{scenario: "key-created", permanent: "dynamodb:PutItem", check: createdInvariants},
	{scenario: "rotation", permanent: "secretsmanager:PutSecretValue", check: rotationInvariants},
	// Organization mode: faults are set in every account of the drill
	// organization (each answers its own calls: the hub its STS and
	// Organizations calls, the member its IAM and CloudTrail calls).
	{scenario: "org-member-exposed-key", permanent: "iam:UpdateAccessKey", check: orgExposedInvariants,
		transient: map[string]localaws.Fault{
			"sts:*":           {ThrottleRate: 0.2, ServerErrorRate: 0.05, Latency: 5 * time.Millisecond},
			"organizations:*": {ThrottleRate: 0.2, ServerErrorRate: 0.05, Latency: 5 * time.Millisecond},
		}},
}

// withTransient is the transient profile with the case's own additions.
func (mc matrixCase) withTransient() FaultProfile {
	if len(mc.transient) == 0 {
		return transient
	}
	p := FaultProfile{Name: transient.Name, Faults: map[string]localaws.Fault{}}
	for k, f := range transient.Faults {
		p.Faults[k] = f
	}
	for k, f := range mc.transient {
		p.Faults[k] = f
	}
	return p
}

// MatrixRow is one cell: a scenario under a fault profile over seeds.
type MatrixRow struct {
	Scenario string   `json:"scenario"`
	Profile  string   `json:"profile"`
	Runs     int      `json:"runs"`
	Held     int      `json:"held"`
	Retried  int      `json:"retriedAttempts"`
	Failures []string `json:"failures,omitempty"`
}

// Reliability runs the matrix: each case with no fault, with transient
// faults and with one permanent failure, over seeds 1..seeds, checking the
// invariants of DESIGN.md's non-negotiables on every run; with o.Only,
// only those scenarios' rows.
func Reliability(ctx context.Context, o Options, seeds int, progress io.Writer) ([]MatrixRow, error) {
	byName := map[string]Scenario{}
	for _, s := range Scenarios() {
		byName[s.Name] = s
	}
	var rows []MatrixRow
	for _, mc := range matrix {
		if len(o.Only) > 0 && !contains(o.Only, mc.scenario) {
			continue
		}
		sc := byName[mc.scenario]
		profiles := []FaultProfile{{Name: "no fault"}, mc.withTransient(),
			{Name: "permanent AccessDenied on " + mc.permanent, Faults: map[string]localaws.Fault{mc.permanent: {ErrorCode: "AccessDenied"}}}}
		for _, p := range profiles {
			row := MatrixRow{Scenario: mc.scenario, Profile: p.Name}
			n := seeds
			if len(p.Faults) == 0 || strings.HasPrefix(p.Name, "permanent") {
				n = min(seeds, 3) // deterministic columns: a few runs suffice
			}
			for seed := 1; seed <= n; seed++ {
				o.Seed = uint64(seed)
				problems, retried, err := runChecked(ctx, o, sc, p.Faults, mc.check)
				if err != nil {
					return rows, fmt.Errorf("%s, %s, seed %d: %w", mc.scenario, p.Name, seed, err)
				}
				row.Runs++
				row.Retried += retried
				if len(problems) == 0 {
					row.Held++
				} else {
					row.Failures = append(row.Failures, fmt.Sprintf("seed %d: %s", seed, strings.Join(problems, "; ")))
				}
			}
			if progress != nil {
				fmt.Fprintf(progress, "%-12s %-45s %d/%d held\n", row.Scenario, row.Profile, row.Held, row.Runs)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// runChecked runs one scenario of the matrix on a fresh stack and returns
// the invariants that did not hold and the failed step attempts that were
// retried or caught.
func runChecked(ctx context.Context, o Options, sc Scenario, faults map[string]localaws.Fault, check func(*stack, Outcome) []string) ([]string, int, error) {
	if sc.Variant != "" {
		o.Template = o.variantTemplate(sc.Variant)
	}
	st, err := newStack(ctx, o, faults, sc.Env)
	if err != nil {
		return nil, 0, err
	}
	defer st.Close()
	oc := Outcome{Scenario: sc.Name}
	d := &Driver{st: st, root: o.Root, outcome: &oc}
	runErr := sc.Run(ctx, d)
	if err := st.observe(ctx, &oc); err != nil {
		return nil, 0, err
	}
	var problems []string
	if runErr != nil {
		problems = append(problems, "the scenario could not send its events: "+runErr.Error())
	}
	problems = append(problems, check(st, oc)...)
	problems = append(problems, commonInvariants(oc)...)
	retried := 0
	for _, x := range oc.Executions {
		for _, s := range x.States {
			retried += len(s.Errors)
		}
	}
	return problems, retried, nil
}

// commonInvariants: no execution fails without an alert, and no message is
// sent twice.
func commonInvariants(oc Outcome) []string {
	var p []string
	for _, x := range oc.Executions {
		if x.Status == "FAILED" && len(oc.Alerts) == 0 {
			p = append(p, "execution "+x.Name+" failed without any alert")
		}
	}
	seen := map[string]bool{}
	for _, a := range oc.Alerts {
		if strings.Contains(a.Subject, "key ages") { // one digest per run
			continue
		}
		if seen[a.Subject] {
			p = append(p, "sent twice: "+a.Subject)
		}
		seen[a.Subject] = true
	}
	for _, e := range oc.Emails {
		k := e.To + "|" + e.Subject
		if seen[k] {
			p = append(p, "e-mailed twice: "+k)
		}
		seen[k] = true
	}
	return p
}

// sentToDLQ: an event exhausted the intake's attempts.
func sentToDLQ(oc Outcome) bool {
	for _, p := range oc.Puts {
		for _, m := range p.Matches {
			if strings.Contains(m.Error, "dead-letter queue") {
				return true
			}
		}
	}
	return false
}

func alerted(oc Outcome, subject string) bool {
	for _, a := range oc.Alerts {
		if strings.Contains(a.Subject, subject) {
			return true
		}
	}
	return false
}

// exposedInvariants: the key ends contained and the alert is out, or a
// manual-action alert says what is left.
func exposedInvariants(st *stack, oc Outcome) []string {
	k := st.keyView(demoKey)
	contained := k.Status == "Inactive" || k.Status == "deleted"
	switch {
	case contained && alerted(oc, "Exposed IAM Key For User "+demoUser):
		return nil
	case alerted(oc, "Manual Action Needed"):
		return nil
	case sentToDLQ(oc):
		// The dead-letter queue alarm reports it.
		return nil
	}
	return []string{fmt.Sprintf("key %s and no exposure or manual-action alert", k.Status)}
}

// orgExposedInvariants: payments-ci's key ends contained in its member
// account and the exposure alert is out, or a manual-action alert says
// what is left, or the event went to the dead-letter queue; and whatever
// the faults, keywarden wrote to IAM in that member only, and only as a
// session of a member role carrying a source identity (never as the hub,
// never anonymously in the member's CloudTrail).
func orgExposedInvariants(st *stack, oc Outcome) []string {
	var p []string
	for account, calls := range st.allCalls() {
		for _, c := range calls {
			if c.Service != "iam" || !iamWrites[c.Operation] {
				continue
			}
			switch {
			case account != paymentsAccount:
				p = append(p, fmt.Sprintf("IAM %s in account %s", c.Operation, account))
			case !strings.Contains(c.Caller, ":assumed-role/keywarden-member-") || c.SourceIdentity == "":
				p = append(p, fmt.Sprintf("IAM %s in the member by %s, source identity %q", c.Operation, c.Caller, c.SourceIdentity))
			}
		}
	}
	srv := st.account(paymentsAccount)
	if srv == nil {
		return append(p, "the stack has no account "+paymentsAccount+": not the organization variant")
	}
	k, _ := srv.AccessKey(paymentsKey)
	contained := k.Deleted || k.Status == "Inactive"
	switch {
	case contained && alerted(oc, "Exposed IAM Key For User "+paymentsUser):
	case alerted(oc, "Manual Action Needed"):
	case sentToDLQ(oc):
	default:
		p = append(p, fmt.Sprintf("key %s (deleted %v) and no exposure or manual-action alert", k.Status, k.Deleted))
	}
	return p
}

// dailyInvariants: every key due for deactivation is inactive or named as
// not handled in the digest; the digest (or a manual-action alert) is out.
func dailyInvariants(st *stack, oc Outcome) []string {
	var digest string
	for _, a := range oc.Alerts {
		if strings.Contains(a.Subject, "key ages") {
			digest = a.Body
		}
	}
	if digest == "" {
		if alerted(oc, "Daily Key-Age Run Failed") {
			return nil
		}
		return []string{"no digest and no failure alert"}
	}
	var p []string
	for _, id := range []string{"AKIAKEYWARDENDAVE001", "AKIAKEYWARDENFRANK01", "AKIAKEYWARDENHENRY01"} {
		if k := st.keyView(id); k.Status != "Inactive" && !strings.Contains(digest, id+"  deactivate failed") {
			p = append(p, fmt.Sprintf("key %s is %s and not named as not handled", id, k.Status))
		}
	}
	return p
}

// createdInvariants: bob's key creation is in the ledger, or a
// manual-action alert says it is not.
func createdInvariants(st *stack, oc Outcome) []string {
	for _, it := range st.aws.Items(ledgerTable) {
		if it["pk"] == "key#AKIAKEYWARDENBOB0001" && it["sk"] == "created" {
			return nil
		}
	}
	if alerted(oc, "Manual Action Needed") {
		return nil
	}
	return []string{"creation not recorded and no manual-action alert"}
}

// rotationInvariants: over the three runs, svc-reports always ends with a
// working key; every key keywarden created is in the user's secret (or an
// alert names it for deletion by hand); the old key was rotated, or the
// digest names the failed rotation; and no secret access key is in any
// alert or e-mail.
func rotationInvariants(st *stack, oc Outcome) []string {
	var p []string
	var digests strings.Builder
	for _, a := range oc.Alerts {
		digests.WriteString(a.Body)
	}
	for _, e := range oc.Emails {
		digests.WriteString(e.Body)
	}
	text := digests.String()
	for _, secret := range st.aws.IssuedSecrets() {
		if secret != "" && strings.Contains(text, secret) {
			p = append(p, "a secret access key is in an alert or e-mail")
		}
	}
	value, _ := st.aws.SecretValueFor(rotation.DefaultSecretPrefix + rotationUser)
	active := 0
	for _, k := range st.liveKeys(rotationUser) {
		if k.Status == "Active" {
			active++
		}
		if k.ID != rotationKey && k.ID != rotationSpareKey && !strings.Contains(value, k.ID) && !strings.Contains(text, "delete key "+k.ID+" by hand") {
			p = append(p, fmt.Sprintf("key %s exists, is in no secret and no alert names it", k.ID))
		}
	}
	if active == 0 {
		p = append(p, rotationUser+" has no active key")
	}
	rotated := false
	for _, it := range st.aws.Items(ledgerTable) {
		if it["pk"] == "key#"+rotationKey && it["sk"] == "action#rotated" {
			rotated = true
		}
	}
	if !rotated && !strings.Contains(text, rotationKey+"  rotate failed") && !alerted(oc, "Daily Key-Age Run Failed") {
		p = append(p, "the key was not rotated and no alert says why")
	}
	return p
}

// WriteMatrix renders the matrix as a Markdown table.
func WriteMatrix(w io.Writer, rows []MatrixRow) {
	fmt.Fprintln(w, "| scenario | faults | runs | invariants held | failed step attempts retried or caught |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d |\n", r.Scenario, r.Profile, r.Runs, r.Held, r.Retried)
	}
	var fails []string
	for _, r := range rows {
		fails = append(fails, r.Failures...)
	}
	sort.Strings(fails)
	for _, f := range fails {
		fmt.Fprintln(w, "- FAILED:", f)
	}
}
