// Package credreport reads the ages of an account's IAM access keys from the
// IAM credential report, the first step of the key-age workflow.
//
// One report (GenerateCredentialReport, then GetCredentialReport) lists
// every user's two key slots with their creation and last-use dates, so the
// daily scan costs a handful of IAM calls whatever the size of the account.
// The report has no key ids, tags or owners, though: Resolve fetches those
// (ListUserTags, ListAccessKeys) only for the users a caller flags, and
// MatchKeys pairs each report slot with the key IAM lists.
//
//	rep, err := credreport.Fetch(ctx, iamClient, credreport.FetchOptions{})
//	flagged := … // users with a key past the first warning threshold
//	details, err := credreport.Resolve(ctx, iamClient, flagged)
//	byUser := rep.ByUser()
//	for _, m := range credreport.MatchKeys(byUser[user], details[user].Keys) { … }
package credreport

import (
	"time"
)

// Report is a parsed credential report.
type Report struct {
	// Generated is when AWS generated the report (GetCredentialReport's
	// GeneratedTime): the report describes the account as of then. AWS
	// reuses a report for up to four hours.
	Generated time.Time `json:"generated"`
	// Users is the number of IAM user rows, the root account's excluded.
	Users int `json:"users"`
	// Keys are the IAM users' access keys, in report order (users as AWS
	// lists them, slot 1 before slot 2). The root account's keys are not
	// among them: IAM cannot act on them.
	Keys []Key `json:"keys"`
	// RootHasKeys is true when the root account has an active access key,
	// which AWS advises against: a finding for the digest.
	RootHasKeys bool `json:"rootHasKeys"`
}

// Key is one access key slot of a user in the credential report.
type Key struct {
	User string `json:"user"`
	ARN  string `json:"arn"`
	// Slot is 1 or 2: the report's access_key_1_… or access_key_2_… columns.
	Slot   int  `json:"slot"`
	Active bool `json:"active"`
	// LastRotated is the report's access_key_N_last_rotated: when the key
	// was created (IAM keys are never changed in place; "rotating" means
	// creating a new key).
	LastRotated time.Time `json:"lastRotated"`
	// LastUsed is zero if the key was never used (N/A in the report).
	LastUsed        time.Time `json:"lastUsed,omitzero"`
	LastUsedRegion  string    `json:"lastUsedRegion,omitempty"`
	LastUsedService string    `json:"lastUsedService,omitempty"`
}

// ByUser groups the report's keys by user name, slot 1 first.
func (r Report) ByUser() map[string][]Key {
	out := make(map[string][]Key)
	for _, k := range r.Keys {
		out[k.User] = append(out[k.User], k)
	}
	return out
}
