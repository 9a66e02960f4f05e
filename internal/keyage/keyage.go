// Package keyage is the daily key-age run: scan the account's access keys
// from the IAM credential report, decide each flagged key's stage with
// internal/policy, then — chunk by chunk, in a Step Functions Map — notify
// owners, deactivate or delete keys, and record all of it in the ledger, and
// finally send the security team a digest.
//
// Ages are measured against the triggering event's time, so drills and
// tests can run "90 days later" by sending a later event.
package keyage

import (
	"context"
	"time"

	"github.com/keywarden/keywarden/internal/credreport"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/rotation"
)

// IAMScanAPI is what the scan calls on IAM.
type IAMScanAPI interface {
	credreport.ReportAPI
	credreport.UserAPI
}

// NoticeRecord is what the ledger keeps of a notice sent.
type NoticeRecord struct {
	User    string    `json:"user"`
	SentAt  time.Time `json:"sentAt"`
	Channel string    `json:"channel"` // ses or sns
	Contact string    `json:"contact,omitempty"`
	DryRun  bool      `json:"dryRun"`
	RunID   string    `json:"runId"`
}

// ActionRecord is what the ledger keeps of an action taken.
type ActionRecord struct {
	User   string    `json:"user"`
	At     time.Time `json:"at"`
	RunID  string    `json:"runId"`
	Reason string    `json:"reason,omitempty"`
	// For a rotation: the new key and the secret that holds it.
	NewKeyID  string `json:"newKeyId,omitempty"`
	SecretARN string `json:"secretArn,omitempty"`
}

// Rotator replaces a user's active key by a new one kept in Secrets
// Manager (internal/rotation); the old key stays active.
type Rotator interface {
	Rotate(ctx context.Context, user, oldKeyID string) (rotation.Result, error)
}

// Store is the ledger as the run uses it. RecordNotice and RecordAction
// are conditional writes: false means an earlier run (or an earlier attempt
// of this one) already recorded it, so nothing is sent or done twice.
type Store interface {
	Histories(ctx context.Context, keyIDs []string) (map[string]policy.History, error)
	PutChunk(ctx context.Context, runID string, n int, data []byte) error
	GetChunk(ctx context.Context, runID string, n int) ([]byte, error)
	RecordNotice(ctx context.Context, keyID, stage string, r NoticeRecord) (bool, error)
	ConfirmNotice(ctx context.Context, keyID, stage string, at time.Time, messageID string) error
	RecordAction(ctx context.Context, keyID, action string, r ActionRecord) (bool, error)
	Creator(ctx context.Context, keyID string) (Creator, bool, error)
	// CreatedAgainstPolicy lists keys created between since and now for
	// users whose tags forbid long-term keys.
	CreatedAgainstPolicy(ctx context.Context, since, now time.Time) ([]UserKey, error)
	// Tampering lists what the tamper watch recorded between since and now:
	// changes to the tags the policy reads, and keywarden responses undone.
	Tampering(ctx context.Context, since, now time.Time) (tags, undone []UserKey, err error)
}

const dryRunPrefix = "dryrun-"

// FlagCreatedAgainstPolicy is the ledger flag the key-creation recorder
// writes for a key created for a user whose tags forbid long-term keys.
const FlagCreatedAgainstPolicy = "created-against-policy"

// dryRunStage is the ledger stage of a dry-run notice: kept apart from
// real notices so that turning enforcement on still sends each real notice
// once.
func dryRunStage(s policy.Stage) string { return dryRunPrefix + string(s) }
