package keyage

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/credreport"
	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/step"
)

// Limits that keep the scan's output small in the Step Functions state.
const (
	// ChunkSize is how many decisions one chunk (one Map iteration) holds.
	ChunkSize = 100
	// MaxListed caps every list in ScanResult; totals count the rest.
	MaxListed = 50
	// ExpiringWithinDays is how soon an exemption's end is worth a line in
	// the digest.
	ExpiringWithinDays = 14
)

// Evaluation is what a scan found: every flagged key's decision, and counts
// over all keys.
type Evaluation struct {
	Now             time.Time
	ReportGenerated time.Time
	Users, Keys     int
	RootHasKeys     bool
	// Decisions are the keys past a threshold (candidates), in report order.
	Decisions []policy.Decision
	// GoneUsers were in the report but deleted since.
	GoneUsers []string
}

// Evaluate scans the account: the credential report for every key, then
// per-user calls only for users with a key past the first threshold, the
// ledger's history of those keys (hist may be nil: no history), and the
// policy's decision for each.
func Evaluate(ctx context.Context, api IAMScanAPI, hist Store, cfg policy.Config, now time.Time, fetch credreport.FetchOptions) (Evaluation, error) {
	ev := Evaluation{Now: now.UTC()}
	report, err := credreport.Fetch(ctx, api, fetch)
	if err != nil {
		return ev, fmt.Errorf("credential report: %w", err)
	}
	ev.ReportGenerated, ev.Users, ev.Keys, ev.RootHasKeys = report.Generated, report.Users, len(report.Keys), report.RootHasKeys
	byUser := report.ByUser()
	var users []string
	for user, keys := range byUser {
		if slices.ContainsFunc(keys, func(k credreport.Key) bool { return Candidate(cfg, k, now) }) {
			users = append(users, user)
		}
	}
	sort.Strings(users)
	details, err := credreport.Resolve(ctx, api, users)
	if err != nil {
		return ev, err
	}
	type pending struct {
		user policy.User
		key  policy.Key
	}
	var todo []pending
	var ids []string
	for _, name := range users {
		d := details[name]
		if d.Gone {
			ev.GoneUsers = append(ev.GoneUsers, name)
			continue
		}
		for _, m := range credreport.MatchKeys(byUser[name], d.Keys) {
			if m.AccessKeyID == "" || !Candidate(cfg, m.Key, now) {
				continue // deleted since the report, or not past a threshold
			}
			k := policy.Key{ID: m.AccessKeyID, User: name, Active: m.Status == "Active", Created: m.LastRotated, LastUsed: m.LastUsed}
			todo = append(todo, pending{user: policy.User{Name: name, Tags: d.Tags}, key: k})
			ids = append(ids, k.ID)
		}
	}
	histories := map[string]policy.History{}
	if hist != nil && len(ids) > 0 {
		if histories, err = hist.Histories(ctx, ids); err != nil {
			return ev, err
		}
	}
	for _, p := range todo {
		ev.Decisions = append(ev.Decisions, policy.Decide(cfg, now, p.user, p.key, histories[p.key.ID]))
	}
	return ev, nil
}

// Candidate reports whether a key of the credential report is past a
// threshold of cfg, and so worth the per-user calls: an active key at or
// past the first warning, the rotation age or the limit, an active key the
// unused rule could catch, or an inactive key that deletion (of long
// inactive or of rotated keys) could catch. Tags are not in the report, so
// with rotation on every key past rotationDays is read.
func Candidate(cfg policy.Config, k credreport.Key, now time.Time) bool {
	age := policy.Age(k.LastRotated, now)
	if !k.Active {
		return (cfg.DeleteAfterDays > 0 || cfg.RotationDays > 0) && age >= cfg.NewKeyGraceDays
	}
	first := cfg.LimitDays
	if len(cfg.WarnDays) > 0 {
		first = min(first, slices.Min(cfg.WarnDays))
	}
	if cfg.RotationDays > 0 {
		first = min(first, cfg.RotationDays)
	}
	if age >= first {
		return true
	}
	if cfg.UnusedDays <= 0 || age < cfg.NewKeyGraceDays {
		return false
	}
	if k.LastUsed.IsZero() {
		return age >= cfg.UnusedDays
	}
	return policy.Age(k.LastUsed, now) >= cfg.UnusedDays
}

// ScanInput is the scan step's input. In organization mode the daily run
// first asks for the accounts (Step StepAccounts), then scans each account
// (Account, its Name) in a child of the Distributed Map.
type ScanInput struct {
	Event     json.RawMessage `json:"event"`
	Execution string          `json:"execution"`
	Step      string          `json:"step,omitempty"`
	Account   string          `json:"account,omitempty"`
	Name      string          `json:"name,omitempty"`
}

// Target is the account the scan reads and the execution naming its
// member session (member.Step).
func (in ScanInput) Target() (account, execution string) {
	return in.Account, ExecutionName(in.Execution)
}

// StageCount is how many keys are at a stage.
type StageCount struct {
	Stage policy.Stage `json:"stage"`
	Count int          `json:"count"`
}

// UserKey names a key and its user.
type UserKey struct {
	User   string `json:"user"`
	KeyID  string `json:"keyId,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// ScanResult is the scan step's output: small, since it travels in the
// state; decisions themselves are in the ledger, in Chunks.
type ScanResult struct {
	RunID  string `json:"runId"`
	DryRun bool   `json:"dryRun"`
	// Account and AccountName: the account scanned, in organization mode.
	Account         string       `json:"account,omitempty"`
	AccountName     string       `json:"accountName,omitempty"`
	Now             time.Time    `json:"now"`
	ReportGenerated time.Time    `json:"reportGenerated"`
	Users           int          `json:"users"`
	Keys            int          `json:"keys"`
	Counts          []StageCount `json:"counts"`
	Exempt          int          `json:"exempt"`
	Flagged         int          `json:"flagged"`
	Chunks          []int        `json:"chunks"`
	RootHasKeys     bool         `json:"rootHasKeys"`
	// NoContact lists users with a notice due but no contact tag.
	NoContact          []UserKey `json:"noContact"`
	NoContactTotal     int       `json:"noContactTotal"`
	ExpiringExemptions []UserKey `json:"expiringExemptions"`
	ExemptionProblems  []UserKey `json:"exemptionProblems"`
	// TagProblems lists the keys whose user has a tag value the policy
	// could not read (a rotation flag neither true nor false, a blank user
	// type); an unreadable exemption is in ExemptionProblems.
	TagProblems []UserKey `json:"tagProblems"`
	Problems    []UserKey `json:"problems"`
	GoneUsers   []string  `json:"goneUsers,omitempty"`
	// CreatedAgainstPolicy lists keys created in the last day for users
	// whose tags forbid long-term keys (the key-creation record's flags).
	CreatedAgainstPolicy []UserKey `json:"createdAgainstPolicy"`
	// PolicyTagChanges and Tampered list what the tamper watch recorded in
	// the last day: changes to the tags the policy reads, and keywarden
	// responses undone (a contained key re-activated, …).
	PolicyTagChanges []UserKey `json:"policyTagChanges"`
	Tampered         []UserKey `json:"tampered"`
}

// ScanHandler is the first step of the daily run.
type ScanHandler struct {
	IAM    IAMScanAPI
	Store  Store
	Policy policy.Config
	DryRun bool
	Fetch  credreport.FetchOptions
	// Now is the clock the event's time is checked against; time.Now if
	// nil.
	Now func() time.Time
	// Organization: the scan reads the account of its input, and leaves
	// the organization-wide flags (keys created against policy, tampering)
	// to the organization digest, which shows them once.
	Organization bool
}

// MaxEventAhead is how far ahead of the clock a daily run's event time may
// be. Ages are measured at the event's time, so a run "from the future" —
// anyone who can put events on the bus can send one — would deactivate,
// delete and rotate keys early.
const MaxEventAhead = 15 * time.Minute

// checkEventTime refuses an event time more than MaxEventAhead after now.
func checkEventTime(at, now time.Time) error {
	if ahead := at.Sub(now); ahead > MaxEventAhead {
		return step.Errorf(step.InvalidEvent, "the event's time %s is %s ahead of the clock (%s); ages are judged at the event's time, "+
			"so a run from the future would act early: refused", at.UTC().Format(time.RFC3339), ahead.Round(time.Second), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// Handle scans, stores the decisions worth acting on in chunks, and
// returns the chunk numbers and the digest's counts.
func (h ScanHandler) Handle(ctx context.Context, in ScanInput) (ScanResult, error) {
	at, runID, err := runOf(in, h.Now)
	if err != nil {
		return ScanResult{}, err
	}
	if h.Organization {
		if in.Account == "" {
			return ScanResult{}, step.Errorf(step.InvalidEvent, "organization mode scans one account per input: the input names no account")
		}
		// One run id per account: the accounts' chunks never mix.
		runID = AccountRunID(runID, in.Account)
	}
	ev, err := Evaluate(ctx, h.IAM, h.Store, h.Policy, at, h.Fetch)
	if err != nil {
		if in.Account != "" {
			err = fmt.Errorf("scan account %s: %w", in.Account, err)
		}
		return ScanResult{}, step.Classify(err)
	}
	res := Summarise(ev, h.Policy)
	res.RunID, res.DryRun = runID, h.DryRun
	if h.Organization {
		res.Account, res.AccountName = in.Account, in.Name
	} else if err := h.addFlags(ctx, at, &res); err != nil {
		return res, err
	}
	return h.chunk(ctx, ev, res)
}

// runOf checks the daily run's event and returns its time and the run id
// (the execution's name).
func runOf(in ScanInput, clock func() time.Time) (time.Time, string, error) {
	env, err := event.ParseEnvelope(in.Event)
	if err != nil {
		return time.Time{}, "", &step.Error{Name: step.InvalidEvent, Err: err}
	}
	if !env.IsScheduled() || env.Time.IsZero() {
		return time.Time{}, "", step.Errorf(step.InvalidEvent, "the key-age run needs a scheduled event with a time; got source %q detail-type %q", env.Source, env.DetailType)
	}
	now := time.Now
	if clock != nil {
		now = clock
	}
	if err := checkEventTime(env.Time, now()); err != nil {
		return time.Time{}, "", err
	}
	runID := ExecutionName(in.Execution)
	if runID == "" {
		return time.Time{}, "", step.Errorf(step.InvalidEvent, "the scan step needs the execution's id")
	}
	return env.Time, runID, nil
}

// ExecutionName is the name of an execution given by its ARN (or name).
func ExecutionName(execution string) string {
	if i := strings.LastIndex(execution, ":"); i >= 0 {
		return execution[i+1:]
	}
	return execution
}

// AccountRunID is the run id of one account's part of the organization's
// run runID: its chunks are stored under it.
func AccountRunID(runID, account string) string { return runID + "-" + account }

// addFlags adds the last day's flags (created against policy, tampering).
func (h ScanHandler) addFlags(ctx context.Context, at time.Time, res *ScanResult) error {
	flagged, err := h.Store.CreatedAgainstPolicy(ctx, at.Add(-24*time.Hour), at)
	if err != nil {
		return step.Classify(err)
	}
	for _, f := range flagged {
		add(&res.CreatedAgainstPolicy, f)
	}
	tags, undone, err := h.Store.Tampering(ctx, at.Add(-24*time.Hour), at)
	if err != nil {
		return step.Classify(err)
	}
	for _, f := range tags {
		add(&res.PolicyTagChanges, f)
	}
	for _, f := range undone {
		add(&res.Tampered, f)
	}
	return nil
}

// chunk stores the decisions worth acting on in chunks of res's run.
func (h ScanHandler) chunk(ctx context.Context, ev Evaluation, res ScanResult) (ScanResult, error) {
	runID := res.RunID
	var due []policy.Decision
	for _, d := range ev.Decisions {
		if d.Notice != "" || d.Action == policy.ActionDeactivate || d.Action == policy.ActionDelete {
			due = append(due, d)
		}
	}
	res.Flagged = len(due)
	res.Chunks = []int{}
	for n := 0; n*ChunkSize < len(due); n++ {
		part := due[n*ChunkSize : min((n+1)*ChunkSize, len(due))]
		data, err := json.Marshal(part)
		if err != nil {
			return res, fmt.Errorf("encode chunk %d: %w", n, err)
		}
		if err := h.Store.PutChunk(ctx, runID, n, data); err != nil {
			return res, step.Classify(fmt.Errorf("store chunk %d of run %s: %w", n, runID, err))
		}
		res.Chunks = append(res.Chunks, n)
	}
	slog.InfoContext(ctx, "key ages scanned", "run", runID, "account", res.Account, "users", ev.Users, "keys", ev.Keys,
		"candidates", len(ev.Decisions), "due", len(due), "chunks", len(res.Chunks), "dryRun", h.DryRun)
	return res, nil
}

// Summarise counts an evaluation for the digest: every key by stage (keys
// not past a threshold are ok), exemptions, and the lists the digest shows.
func Summarise(ev Evaluation, cfg policy.Config) ScanResult {
	res := ScanResult{Now: ev.Now, ReportGenerated: ev.ReportGenerated, Users: ev.Users, Keys: ev.Keys,
		RootHasKeys: ev.RootHasKeys, GoneUsers: capped(ev.GoneUsers), NoContact: []UserKey{},
		ExpiringExemptions: []UserKey{}, ExemptionProblems: []UserKey{}, TagProblems: []UserKey{}, Problems: []UserKey{}, CreatedAgainstPolicy: []UserKey{},
		PolicyTagChanges: []UserKey{}, Tampered: []UserKey{}}
	counts := map[policy.Stage]int{policy.StageOK: ev.Keys - len(ev.Decisions)}
	noContact := map[string]bool{}
	for _, d := range ev.Decisions {
		counts[d.Stage]++
		if d.Exempt {
			res.Exempt++
			if policy.ExemptionExpiringWithin(d, ev.Now, ExpiringWithinDays) {
				add(&res.ExpiringExemptions, UserKey{User: d.User, KeyID: d.KeyID, Detail: "until " + d.ExemptUntil.UTC().Format("2006-01-02") + ": " + d.ExemptReason})
			}
		}
		if d.ExemptionProblem != "" {
			add(&res.ExemptionProblems, UserKey{User: d.User, KeyID: d.KeyID, Detail: d.ExemptionProblem})
		}
		if len(d.TagProblems) > 0 {
			add(&res.TagProblems, UserKey{User: d.User, KeyID: d.KeyID, Detail: strings.Join(d.TagProblems, "; ")})
		}
		if d.Problem != "" {
			add(&res.Problems, UserKey{User: d.User, KeyID: d.KeyID, Detail: d.Problem})
		}
		if d.Notice != "" && d.Contact == "" && !noContact[d.User] {
			noContact[d.User] = true
			res.NoContactTotal++
			add(&res.NoContact, UserKey{User: d.User})
		}
	}
	for _, s := range policy.Stages(cfg) {
		res.Counts = append(res.Counts, StageCount{Stage: s, Count: counts[s]})
		delete(counts, s)
	}
	for s, n := range counts { // stages of an earlier policy, if any
		res.Counts = append(res.Counts, StageCount{Stage: s, Count: n})
	}
	return res
}

func add(list *[]UserKey, u UserKey) {
	if len(*list) < MaxListed {
		*list = append(*list, u)
	}
}

func capped(s []string) []string {
	if len(s) > MaxListed {
		return s[:MaxListed]
	}
	return s
}
