package keyage

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/step"
)

// The organization's daily run (organization mode): the scan function
// lists the in-scope accounts (StepAccounts), a Distributed Map runs one
// child per account — scan through the member read role, act on its chunks
// through the member respond role, and record the account's summary in the
// ledger (StepAccount, the digest function) — and the digest function
// publishes one organization digest from those summaries
// (StepOrganization). Only account ids and names travel in the state:
// summaries go through the ledger, as chunks do.
const (
	StepAccounts     = "accounts"
	StepAccount      = "account"
	StepOrganization = "organization"
)

// Ledger parts of the organization's run (ledger.PutRunPart).
const (
	partAccounts      = "accounts"
	partAccountPrefix = "account#"
)

// MaxWorstAccounts is how many accounts the digest names as the worst.
const MaxWorstAccounts = 10

// MaxAccountsInState bounds the JSON of the accounts ListAccounts returns:
// they travel in the state, whose payload Step Functions caps at 256 KB,
// with the event and the run's settings. About 2,400 accounts with
// Organizations' longest names (50 characters), 4,000 with 20-character
// names. Past it the run needs the accounts in S3 and the Map's
// ItemReader, which is not built.
const MaxAccountsInState = 200 * 1024

// maxAccountFailures caps the key failures an account's summary keeps.
const maxAccountFailures = 10

// AccountLister reads the organization's in-scope accounts
// (inventory.Inventory).
type AccountLister interface {
	Accounts(ctx context.Context) (*inventory.Snapshot, error)
}

var _ AccountLister = (*inventory.Inventory)(nil)

// RunPartStore keeps what one step of a run leaves for another.
type RunPartStore interface {
	PutRunPart(ctx context.Context, runID, name string, data []byte) error
	RunParts(ctx context.Context, runID, prefix string) (map[string][]byte, error)
}

// PutRunPart stores a part of a run.
func (s LedgerStore) PutRunPart(ctx context.Context, runID, name string, data []byte) error {
	return s.L.PutRunPart(ctx, runID, name, data)
}

// RunParts reads the parts of a run.
func (s LedgerStore) RunParts(ctx context.Context, runID, prefix string) (map[string][]byte, error) {
	return s.L.RunParts(ctx, runID, prefix)
}

var _ RunPartStore = LedgerStore{}

// AccountRef is one account of the fan-out: an item of the Distributed Map.
type AccountRef struct {
	Account string `json:"account"`
	Name    string `json:"name"`
}

// OutOfScopeAccount is an account of the organization the run leaves out.
type OutOfScopeAccount struct {
	Account string `json:"account"`
	Name    string `json:"name,omitempty"`
	Reason  string `json:"reason"`
}

// AccountsResult is the ListAccounts step's output: the accounts to fan
// out over, and no more, since it travels in the state.
type AccountsResult struct {
	RunID      string       `json:"runId"`
	DryRun     bool         `json:"dryRun"`
	Accounts   []AccountRef `json:"accounts"`
	OutOfScope int          `json:"outOfScope"`
}

// accountsPart is the ledger's record of the run's accounts.
type accountsPart struct {
	At              time.Time           `json:"at"`
	DryRun          bool                `json:"dryRun"`
	Accounts        []AccountRef        `json:"accounts"`
	OutOfScope      []OutOfScopeAccount `json:"outOfScope"`
	OutOfScopeTotal int                 `json:"outOfScopeTotal"`
}

// ListAccountsHandler is the organization run's first step.
type ListAccountsHandler struct {
	Inventory AccountLister
	Parts     RunPartStore
	DryRun    bool
	Now       func() time.Time
}

// Handle reads the in-scope accounts, records them (and those left out,
// with why) for the digest, and returns them.
func (h ListAccountsHandler) Handle(ctx context.Context, in ScanInput) (AccountsResult, error) {
	at, runID, err := runOf(in, h.Now)
	if err != nil {
		return AccountsResult{}, err
	}
	snap, err := h.Inventory.Accounts(ctx)
	if err != nil {
		return AccountsResult{}, step.Classify(fmt.Errorf("list the organization's accounts in scope: %w", err))
	}
	res := AccountsResult{RunID: runID, DryRun: h.DryRun, Accounts: make([]AccountRef, 0, len(snap.Accounts)), OutOfScope: len(snap.Excluded)}
	for _, a := range snap.Accounts {
		res.Accounts = append(res.Accounts, AccountRef{Account: a.ID, Name: a.Name})
	}
	if b, _ := json.Marshal(res.Accounts); len(b) > MaxAccountsInState {
		return res, step.Errorf(step.Failed, "%d accounts in scope take %d bytes, more than the %d the state machine's payload can carry: "+
			"the daily run across accounts needs the accounts in S3 and the Distributed Map's ItemReader, which keywarden does not build yet; "+
			"narrow organizationalUnits or split the organization between hubs", len(res.Accounts), len(b), MaxAccountsInState)
	}
	part := accountsPart{At: at, DryRun: h.DryRun, Accounts: res.Accounts, OutOfScope: []OutOfScopeAccount{}, OutOfScopeTotal: len(snap.Excluded)}
	for i, x := range snap.Excluded {
		if i == MaxListed {
			break
		}
		part.OutOfScope = append(part.OutOfScope, OutOfScopeAccount{Account: x.ID, Name: x.Name, Reason: string(x.Reason)})
	}
	data, err := json.Marshal(part)
	if err != nil {
		return res, fmt.Errorf("encode the accounts of run %s: %w", runID, err)
	}
	if err := h.Parts.PutRunPart(ctx, runID, partAccounts, data); err != nil {
		return res, err
	}
	slog.InfoContext(ctx, "accounts listed", "run", runID, "accounts", len(res.Accounts), "outOfScope", res.OutOfScope, "dryRun", h.DryRun)
	return res, nil
}

// StepFailure is what a Catch puts at its ResultPath: the error's name
// and its cause (for a Lambda error, the JSON of errorMessage and
// errorType).
type StepFailure struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Message is the cause's message: errorMessage of a Lambda error.
func (f StepFailure) Message() string {
	var lambdaErr struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(f.Cause), &lambdaErr) == nil && lambdaErr.ErrorMessage != "" {
		return lambdaErr.ErrorMessage
	}
	return f.Cause
}

// AccountInput is the input of the step that records one account's part
// of the run: its scan and chunk results, or the error that ended it.
type AccountInput struct {
	Step      string        `json:"step"`
	Execution string        `json:"execution"`
	Account   string        `json:"account"`
	Name      string        `json:"name"`
	Scan      *ScanResult   `json:"scan,omitempty"`
	Results   []ChunkResult `json:"results,omitempty"`
	Error     *StepFailure  `json:"error,omitempty"`
}

// AccountSummary is what the ledger keeps of one account's part of the
// run, for the organization digest. Lists are capped; counts are whole.
type AccountSummary struct {
	Account         string       `json:"account"`
	Name            string       `json:"name,omitempty"`
	Failed          bool         `json:"failed,omitempty"`
	Error           string       `json:"error,omitempty"`
	Cause           string       `json:"cause,omitempty"`
	Users           int          `json:"users"`
	Keys            int          `json:"keys"`
	Counts          []StageCount `json:"counts,omitempty"`
	Exempt          int          `json:"exempt"`
	PastLimit       int          `json:"pastLimit"`
	Notices         int          `json:"notices"`
	AlreadyNotified int          `json:"alreadyNotified"`
	Deactivated     int          `json:"deactivated"`
	Deleted         int          `json:"deleted"`
	WouldDeactivate int          `json:"wouldDeactivate"`
	WouldDelete     int          `json:"wouldDelete"`
	Rotated         int          `json:"rotated,omitempty"`
	WouldRotate     int          `json:"wouldRotate,omitempty"`
	NoContact       int          `json:"noContact"`
	RootHasKeys     bool         `json:"rootHasKeys,omitempty"`
	KeyFailures     []Failure    `json:"keyFailures,omitempty"`
	KeyFailureTotal int          `json:"keyFailureTotal"`
}

// Summarize reduces an account's scan and chunk results, or its error, to
// its summary.
func (in AccountInput) Summarize() AccountSummary {
	s := AccountSummary{Account: in.Account, Name: in.Name}
	if in.Error != nil || in.Scan == nil {
		f := StepFailure{Error: step.Failed, Cause: "the account's run recorded neither a scan nor an error"}
		if in.Error != nil {
			f = *in.Error
		}
		// Some hosts put the error's name before its message; the digest
		// shows the name once.
		msg := strings.TrimPrefix(f.Message(), f.Error+": ")
		s.Failed, s.Error, s.Cause = true, f.Error, clip(msg, 600)
		return s
	}
	sc := in.Scan
	s.Users, s.Keys, s.Counts, s.Exempt, s.NoContact, s.RootHasKeys = sc.Users, sc.Keys, sc.Counts, sc.Exempt, sc.NoContactTotal, sc.RootHasKeys
	for _, c := range sc.Counts {
		if c.Stage.Rank() >= policy.StageFinal.Rank() {
			s.PastLimit += c.Count
		}
	}
	for _, r := range in.Results {
		s.Notices += r.Notices
		s.AlreadyNotified += r.AlreadyNotified
		s.Deactivated += len(r.Deactivated)
		s.Deleted += len(r.Deleted)
		s.WouldDeactivate += len(r.WouldDeactivate)
		s.WouldDelete += len(r.WouldDelete)
		s.Rotated += len(r.Rotated)
		s.WouldRotate += len(r.WouldRotate)
		for _, f := range r.Failures {
			s.KeyFailureTotal++
			if len(s.KeyFailures) < maxAccountFailures {
				f.Cause = clip(f.Cause, 300)
				s.KeyFailures = append(s.KeyFailures, f)
			}
		}
	}
	return s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// AccountRecorded is the record step's output, kept tiny: a Distributed
// Map without a ResultWriter collects every child's output into one
// state, under the 256 KB payload limit.
type AccountRecorded struct{}

// RecordAccountHandler records one account's summary in the ledger.
type RecordAccountHandler struct {
	Parts RunPartStore
}

// Handle summarizes the account and stores the summary under the run.
func (h RecordAccountHandler) Handle(ctx context.Context, in AccountInput) (AccountRecorded, error) {
	runID := ExecutionName(in.Execution)
	if runID == "" || in.Account == "" {
		return AccountRecorded{}, step.Errorf(step.InvalidEvent, "recording an account's run needs the execution and the account; got %q and %q", in.Execution, in.Account)
	}
	s := in.Summarize()
	data, err := json.Marshal(s)
	if err != nil {
		return AccountRecorded{}, fmt.Errorf("encode the summary of account %s: %w", in.Account, err)
	}
	if err := h.Parts.PutRunPart(ctx, runID, partAccountPrefix+in.Account, data); err != nil {
		return AccountRecorded{}, err
	}
	if s.Failed {
		slog.WarnContext(ctx, "account not scanned", "run", runID, "account", in.Account, "errorType", s.Error, "error", s.Cause)
	} else {
		slog.InfoContext(ctx, "account recorded", "run", runID, "account", in.Account, "keys", s.Keys, "pastLimit", s.PastLimit, "notices", s.Notices)
	}
	return AccountRecorded{}, nil
}
