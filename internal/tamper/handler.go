package tamper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/step"
)

// Ledger is what the tamper watch reads and writes of the ledger.
type Ledger interface {
	Action(ctx context.Context, keyID, action string) (ledger.Action, bool, error)
	Revocation(ctx context.Context, account, user string) (ledger.Revocation, bool, error)
	RecordFlag(ctx context.Context, f ledger.Flag) error
}

// IAM is what the respond step calls: set a key Inactive and read it back,
// put the revoke policy back or attach it again.
type IAM interface {
	exposure.ContainAPI
	exposure.RevokeAPI
}

var (
	_ Ledger = (*ledger.Ledger)(nil)
	_ IAM    = (*iam.Client)(nil)
)

// Steps of the tamper branch, as the state machine names them in the
// function's input.
const (
	StepCheck   = "check"
	StepRespond = "respond"
)

// Input is the function's input: the check step gets the execution's
// event, the respond step the check's assessment.
type Input struct {
	Step       string          `json:"step"`
	Event      json.RawMessage `json:"event,omitempty"`
	Assessment *Assessment     `json:"assessment,omitempty"`
	// Execution is the execution's name: the member session's name in
	// organization mode.
	Execution string `json:"execution,omitempty"`
}

// Outcomes of the respond step's undo.
const (
	StatusDeactivated = exposure.StatusDeactivated // the key reads back Inactive
	StatusAlreadyGone = exposure.StatusAlreadyGone // IAM has no such key any more
	StatusRestored    = "restored"                 // the revoke policy is back (put back or attached again)
	StatusUserGone    = exposure.StatusUserGone    // IAM has no such user any more
)

// Response is the respond step's output: what was undone, and whether the
// digest will list it.
type Response struct {
	Undo   string    `json:"undo,omitempty"`
	Status string    `json:"status,omitempty"`
	At     time.Time `json:"at"`
	// Flagged is true once the ledger holds the digest's line; LedgerError
	// says why it does not.
	Flagged     bool   `json:"flagged"`
	LedgerError string `json:"ledgerError,omitempty"`
}

// Handler runs both steps of the tamper branch.
type Handler struct {
	IAM    IAM
	Ledger Ledger
	Config Config
	Now    func() time.Time
	// ReadBackAttempts and ReadBackDelay: as for the containment.
	ReadBackAttempts int
	ReadBackDelay    time.Duration
	// Organization, when set, is organization mode: a call of an account
	// out of scope is refused (AccountOutOfScope), and the respond step
	// undoes in the call's account through the respond member role; IAM
	// is then unused.
	Organization member.Accounts
}

// NewHandler returns a handler with the production read-back timing.
func NewHandler(api IAM, l Ledger, cfg Config, now func() time.Time) Handler {
	return Handler{IAM: api, Ledger: l, Config: cfg, Now: now, ReadBackAttempts: 5, ReadBackDelay: time.Second}
}

// Handle runs the step the input names.
func (h Handler) Handle(ctx context.Context, in Input) (any, error) {
	switch in.Step {
	case StepCheck:
		return h.Check(ctx, in.Event)
	case StepRespond:
		if in.Assessment == nil {
			return nil, step.Errorf(step.InvalidEvent, "the respond step needs the check's assessment")
		}
		if h.Organization != nil && in.Assessment.Undo != "" {
			cfg, err := h.Organization.Config(ctx, in.Assessment.Call.Account, member.Respond, in.Execution)
			if err != nil {
				return nil, err
			}
			h.IAM = iam.NewFromConfig(cfg)
		}
		return h.Respond(ctx, *in.Assessment)
	}
	return nil, step.Errorf(step.InvalidEvent, "tamper step %q is neither %s nor %s", in.Step, StepCheck, StepRespond)
}

// Check reads the event and judges it against the ledger. It writes
// nothing.
func (h Handler) Check(ctx context.Context, raw json.RawMessage) (Assessment, error) {
	call, err := event.ParseIAMCall(raw)
	switch {
	case errors.Is(err, event.ErrUnsupported):
		return Assessment{}, &step.Error{Name: step.UnsupportedEvent, Err: err}
	case err != nil:
		return Assessment{}, &step.Error{Name: step.InvalidEvent, Err: err}
	}
	if h.Organization != nil {
		// The forwarded event keeps its member's account: only an
		// account in scope is watched.
		if err := member.RequireInScope(ctx, h.Organization, call.Account); err != nil {
			return Assessment{}, err
		}
	}
	var facts Facts
	if _, own := OwnWrite(call.Caller, h.Config.OwnRoles); call.ErrorCode == "" && !own {
		if facts, err = h.facts(ctx, call); err != nil {
			return Assessment{}, step.Classify(err)
		}
	}
	a := Decide(call, facts, h.Config)
	slog.InfoContext(ctx, "tamper check", "tamper", a.Tamper, "kind", a.Kind, "reason", a.Reason, "event", call.EventName,
		"eventId", call.EventID, "user", call.User, "accessKeyId", call.AccessKeyID, "caller", call.Caller.ARN, "undo", a.Undo)
	return a, nil
}

// facts reads what the ledger knows that a decision on call depends on:
// only what that kind of call needs.
func (h Handler) facts(ctx context.Context, call event.IAMCall) (Facts, error) {
	var f Facts
	action := func(name string) (*ledger.Action, error) {
		a, ok, err := h.Ledger.Action(ctx, call.AccessKeyID, name)
		if err != nil || !ok {
			return nil, err
		}
		return &a, nil
	}
	var err error
	switch call.EventName {
	case event.EventNameUpdateAccessKey:
		if call.Status != event.KeyStatusActive {
			return f, nil
		}
		if f.Contained, err = action(ledger.ActionContain); err != nil {
			return f, err
		}
		f.Deactivated, err = action(ledger.ActionDeactivate)
	case event.EventNamePutUserPolicy, event.EventNameDeleteUserPolicy, event.EventNameDetachUserPolicy, event.EventNameCreateAccessKey:
		if call.User == "" || call.User == event.RootUserName {
			return f, nil
		}
		r, ok, rerr := h.Ledger.Revocation(ctx, call.Account, call.User)
		if ok {
			f.Revocation = &r
		}
		err = rerr
	}
	return f, err
}

// Respond undoes what the assessment says to undo, then records the line
// the next digest lists. The undo comes first: like a containment it must
// not wait on the ledger, and a record that fails is reported in the
// response (and the alert), not thrown.
func (h Handler) Respond(ctx context.Context, a Assessment) (Response, error) {
	if !a.Tamper {
		return Response{}, step.Errorf(step.InvalidEvent, "the respond step runs for tampering only; the check found none: %s", a.Reason)
	}
	c := a.Call
	r := Response{Undo: a.Undo}
	var err error
	switch a.Undo {
	case "":
	case UndoDeactivateKey:
		if c.User == "" || c.AccessKeyID == "" {
			return r, step.Errorf(step.InvalidEvent, "no user or key to set Inactive (user %q, key %q)", c.User, c.AccessKeyID)
		}
		r.Status, _, err = exposure.Deactivate(ctx, h.IAM, c.User, c.AccessKeyID, h.ReadBackAttempts, h.ReadBackDelay)
	case UndoRestorePolicy:
		if c.User == "" || a.Revoked == nil || a.Revoked.IssuedBefore.IsZero() {
			return r, step.Errorf(step.InvalidEvent, "no user or cut-off to put the revoke policy back with")
		}
		r.Status, err = h.restorePolicy(ctx, c.User, *a.Revoked)
	default:
		return r, step.Errorf(step.InvalidEvent, "undo %q is neither %s nor %s", a.Undo, UndoDeactivateKey, UndoRestorePolicy)
	}
	r.At = h.Now().UTC()
	if err != nil {
		return r, err
	}
	if a.Undo != "" {
		slog.InfoContext(ctx, "tampering undone", "undo", a.Undo, "status", r.Status, "user", c.User, "accessKeyId", c.AccessKeyID, "caller", c.Caller.ARN)
	}
	if ferr := h.Ledger.RecordFlag(ctx, Flag(a, r)); ferr != nil {
		r.LedgerError = ferr.Error()
		slog.ErrorContext(ctx, "tampering not recorded for the digest", "user", c.User, "eventId", c.EventID, "error", ferr.Error())
		return r, nil
	}
	r.Flagged = true
	return r, nil
}

// restorePolicy puts the revoke policy back as the revoke step made it:
// the inline policy with its original cut-off, or the stack's policy
// attached again. exposure.Revoke does both, for the step and for this.
func (h Handler) restorePolicy(ctx context.Context, user string, r Revoked) (string, error) {
	if r.Attached() && r.PolicyArn == "" {
		return "", step.Errorf(step.InvalidEvent, "no policy ARN to attach to %s again", user)
	}
	status, err := exposure.Revoke(ctx, h.IAM, user, r.Method, r.IssuedBefore)
	if err != nil {
		return "", fmt.Errorf("put policy %s back on %s: %w", r.PolicyName(), user, err)
	}
	if status == exposure.StatusUserGone {
		return StatusUserGone, nil
	}
	return StatusRestored, nil
}

// maxFlagDetail bounds the digest's line.
const maxFlagDetail = 400

// Flag is the ledger's record of a tampering for the next digest: a
// policy-tag change (ledger.FlagPolicyTagChanged) or any other
// (ledger.FlagTampered), at the call's time, told apart by the CloudTrail
// event id, so that a redelivered event is one line.
func Flag(a Assessment, r Response) ledger.Flag {
	c := a.Call
	kind := ledger.FlagTampered
	if a.Kind == KindPolicyTag {
		kind = ledger.FlagPolicyTagChanged
	}
	detail := fmt.Sprintf("%s by %s from %s at %s", a.Reason, c.Caller.ARN, orUnknown(c.SourceIP), c.EventTime.UTC().Format("2006-01-02 15:04 UTC"))
	switch {
	case r.Status != "":
		detail += "; undone: " + r.Status
	case a.NoUndo != "":
		detail += "; not undone"
	}
	if len(detail) > maxFlagDetail {
		cut := maxFlagDetail - 3
		for cut > 0 && !utf8.RuneStart(detail[cut]) {
			cut--
		}
		detail = detail[:cut] + "..."
	}
	return ledger.Flag{Kind: kind, KeyID: c.AccessKeyID, User: c.User, Ref: c.EventID, At: c.EventTime, Detail: detail}
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
