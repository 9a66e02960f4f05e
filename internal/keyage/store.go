package keyage

import (
	"context"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/alert"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/policy"
)

// LedgerStore is the Store over internal/ledger's DynamoDB table.
type LedgerStore struct {
	L *ledger.Ledger
	// DryRun reads the history of dry-run notices instead of real ones, so
	// a dry run shows the stages enforcement would reach (a final notice
	// "sent" in a dry run starts its grace period, in the dry run only).
	DryRun bool
}

var _ Store = LedgerStore{}

// Histories reads the keys' notices and actions as the policy needs them.
func (s LedgerStore) Histories(ctx context.Context, keyIDs []string) (map[string]policy.History, error) {
	all, err := s.L.Histories(ctx, keyIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]policy.History, len(all))
	for id, h := range all {
		ph := policy.History{Notices: map[policy.Stage]time.Time{}}
		for stage, n := range h.Notices {
			real, isDry := strings.CutPrefix(stage, dryRunPrefix)
			if isDry == s.DryRun {
				ph.Notices[policy.Stage(real)] = n.SentAt
			}
		}
		if a, ok := h.Actions[ledger.ActionDeactivate]; ok && !a.DryRun {
			ph.DeactivatedAt = a.At
		}
		if a, ok := h.Actions[ledger.ActionRotated]; ok && !a.DryRun {
			ph.RotatedAt, ph.ReplacedBy, ph.SecretARN = a.At, a.NewKeyID, a.SecretARN
		}
		out[id] = ph
	}
	return out, nil
}

// PutChunk stores a chunk of decisions.
func (s LedgerStore) PutChunk(ctx context.Context, runID string, n int, data []byte) error {
	return s.L.PutChunk(ctx, runID, n, data)
}

// GetChunk reads a chunk of decisions.
func (s LedgerStore) GetChunk(ctx context.Context, runID string, n int) ([]byte, error) {
	return s.L.GetChunk(ctx, runID, n)
}

// RecordNotice records a notice before it is sent.
func (s LedgerStore) RecordNotice(ctx context.Context, keyID, stage string, r NoticeRecord) (bool, error) {
	return s.L.RecordNotice(ctx, keyID, stage, ledger.Notice{User: r.User, SentAt: r.SentAt, Channel: r.Channel, Contact: r.Contact, DryRun: r.DryRun, RunID: r.RunID})
}

// ConfirmNotice marks a recorded notice delivered.
func (s LedgerStore) ConfirmNotice(ctx context.Context, keyID, stage string, at time.Time, messageID string) error {
	_, err := s.L.ConfirmNotice(ctx, keyID, stage, at, messageID)
	return err
}

// RecordAction records an action before it is taken.
func (s LedgerStore) RecordAction(ctx context.Context, keyID, action string, r ActionRecord) (bool, error) {
	return s.L.RecordAction(ctx, keyID, action, ledger.Action{User: r.User, At: r.At, RunID: r.RunID, Reason: r.Reason, NewKeyID: r.NewKeyID, SecretARN: r.SecretARN})
}

// Creator returns who created the key, when the ledger recorded it.
func (s LedgerStore) Creator(ctx context.Context, keyID string) (Creator, bool, error) {
	c, ok, err := s.L.Creation(ctx, keyID)
	if err != nil || !ok {
		return Creator{}, ok, err
	}
	return Creator{ARN: c.CreatorARN, SourceIP: c.SourceIP, CreatedAt: c.CreatedAt}, true, nil
}

// CreatedAgainstPolicy reads the creation records flagged against policy.
func (s LedgerStore) CreatedAgainstPolicy(ctx context.Context, since, now time.Time) ([]UserKey, error) {
	flags, err := s.L.FlagsSince(ctx, FlagCreatedAgainstPolicy, since, now)
	if err != nil {
		return nil, err
	}
	out := make([]UserKey, 0, len(flags))
	for _, f := range flags {
		out = append(out, UserKey{User: f.User, KeyID: f.KeyID, Detail: f.Detail})
	}
	return out, nil
}

// Tampering reads the tamper watch's flags (internal/tamper): policy-tag
// changes, and every other undoing of a response.
func (s LedgerStore) Tampering(ctx context.Context, since, now time.Time) (tags, undone []UserKey, err error) {
	read := func(kind string) ([]UserKey, error) {
		flags, err := s.L.FlagsSince(ctx, kind, since, now)
		out := make([]UserKey, 0, len(flags))
		for _, f := range flags {
			out = append(out, UserKey{User: f.User, KeyID: f.KeyID, Detail: f.Detail})
		}
		return out, err
	}
	if tags, err = read(ledger.FlagPolicyTagChanged); err != nil {
		return nil, nil, err
	}
	undone, err = read(ledger.FlagTampered)
	return tags, undone, err
}

// Replacement returns the key that replaced keyID in a rotation, for the
// exposed-key alert.
func (s LedgerStore) Replacement(ctx context.Context, keyID string) (alert.Replacement, bool, error) {
	a, ok, err := s.L.Action(ctx, keyID, ledger.ActionRotated)
	if err != nil || !ok || a.DryRun {
		return alert.Replacement{}, false, err
	}
	return alert.Replacement{NewKeyID: a.NewKeyID, SecretARN: a.SecretARN, At: a.At}, true, nil
}
