// Package tamper is keywarden's tamper watch: it reads CloudTrail records of
// the IAM calls that can undo or bend a keywarden response, decides from
// the ledger whether one did, and what to do about it.
//
//   - UpdateAccessKey setting Active a key keywarden deactivated: a key it
//     contained as exposed is set Inactive again (Config.Undo); a key the
//     daily run deactivated is reported, and the next enforcing run decides
//     on it again.
//   - PutUserPolicy or DeleteUserPolicy changing or deleting
//     exposure.RevokePolicyName on a user whose sessions keywarden revoked
//     with it, or DetachUserPolicy detaching the stack's deny policy from
//     a user keywarden attached it to (revokeWith attachedPolicy): the
//     policy is put back (with its original cut-off) or attached again,
//     while the incident is open (Config.OpenDays after the revocation).
//     The ledger's record of the revocation says which way it was made.
//   - TagUser or UntagUser changing a tag the key-age policy reads (user
//     type, exemption, rotation, no-access-keys): reported, and listed in
//     the next digest. Tags are people's to change; nothing is undone.
//   - CreateAccessKey for a user whose key was contained as exposed while
//     that incident is open: reported.
//
// keywarden's own writes (its revoke step's policy, its re-deactivations)
// are recognised by the role that made them and are never tampering. A
// call IAM refused changed nothing and is never tampering either.
//
// Decide is pure; Handler gathers the ledger's facts, then responds.
package tamper

import (
	"fmt"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/settings"
)

// Kinds of tampering.
const (
	// KindReactivatedKey: a key keywarden deactivated was set Active.
	KindReactivatedKey = "reactivated-key"
	// KindRevokePolicy: the session-revoking policy was deleted, changed
	// or detached.
	KindRevokePolicy = "revoke-policy"
	// KindPolicyTag: a user tag the key-age policy reads was set or removed.
	KindPolicyTag = "policy-tag"
	// KindNewKeyAfterExposure: a key was created for a user whose key was
	// contained as exposed, while that incident is open.
	KindNewKeyAfterExposure = "new-key-after-exposure"
)

// Undo actions.
const (
	UndoDeactivateKey = "deactivate-key"
	UndoRestorePolicy = "restore-policy"
)

// DefaultOpenDays is how long after its revocation an incident is open
// when the settings do not say.
const DefaultOpenDays = 30

// Config is the tamper watch's configuration (settings at synth time,
// environment at cold start).
type Config struct {
	// OwnRoles are the ARNs of keywarden's function roles that write to
	// IAM: a call made from a session of one of them is keywarden's own.
	OwnRoles []string
	// WatchedTags are the user tag keys the key-age policy reads.
	WatchedTags []string
	// Undo sets re-activated exposed keys Inactive again and puts revoke
	// policies back; false reports only.
	Undo bool
	// OpenDays is how long after keywarden revoked a user's sessions the
	// incident counts as open: the revoke policy is put back, and a new key
	// for the user is reported.
	OpenDays int
}

// Facts are what the ledger knows that a decision depends on.
type Facts struct {
	// Contained is the exposed-key branch's containment of the call's key.
	Contained *ledger.Action
	// Deactivated is the daily run's deactivation of the call's key.
	Deactivated *ledger.Action
	// Revocation is the latest revocation of the call's user's sessions.
	Revocation *ledger.Revocation
}

// TagChange is one watched tag a call set or removed.
type TagChange struct {
	Key     string `json:"key"`
	Value   string `json:"value,omitempty"`
	Removed bool   `json:"removed,omitempty"`
}

// Revoked is the revocation a call bent, as the alert quotes it.
type Revoked struct {
	KeyID string `json:"keyId"`
	// Method is how keywarden revoked: the inline policy, or the stack's
	// policy attached (revokedWith, policyArn).
	exposure.Method
	IssuedBefore time.Time `json:"issuedBefore"`
	At           time.Time `json:"at"`
	Execution    string    `json:"execution,omitempty"`
	// OpenUntil is when the incident closes (At plus Config.OpenDays).
	OpenUntil time.Time `json:"openUntil"`
	Open      bool      `json:"open"`
}

// Deactivation is keywarden's deactivation of a key that a call undid.
type Deactivation struct {
	// By is "exposed-key" (the containment) or "key-age" (the daily run).
	By        string    `json:"by"`
	At        time.Time `json:"at"`
	Execution string    `json:"execution,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// Who undid the deactivation: the containment or the daily run.
const (
	ByExposedKey = "exposed-key"
	ByKeyAge     = "key-age"
)

// Assessment is the check step's output: whether the call is tampering,
// of which kind, what keywarden had done, and what to undo.
type Assessment struct {
	Tamper bool   `json:"tamper"`
	Kind   string `json:"kind,omitempty"`
	// Reason says in one line why the call is (or is not) tampering.
	Reason string        `json:"reason"`
	Call   event.IAMCall `json:"call"`
	// OwnWrite is set when the call was keywarden's own.
	OwnWrite bool `json:"ownWrite,omitempty"`

	Deactivation *Deactivation `json:"deactivation,omitempty"`
	Revoked      *Revoked      `json:"revoked,omitempty"`
	TagChanges   []TagChange   `json:"tagChanges,omitempty"`

	// Undo is what the respond step undoes (UndoDeactivateKey,
	// UndoRestorePolicy), or "" with NoUndo saying why not.
	Undo   string `json:"undo,omitempty"`
	NoUndo string `json:"noUndo,omitempty"`
}

// Decide judges one IAM call against what the ledger knows. It is pure.
func Decide(call event.IAMCall, facts Facts, cfg Config) Assessment {
	a := Assessment{Call: call}
	if call.ErrorCode != "" {
		a.Reason = fmt.Sprintf("IAM refused the call (%s): nothing changed", call.ErrorCode)
		return a
	}
	if role, own := OwnWrite(call.Caller, cfg.OwnRoles); own {
		a.OwnWrite = true
		a.Reason = "keywarden's own write, from its role " + role
		return a
	}
	switch call.EventName {
	case event.EventNameUpdateAccessKey:
		decideKeyUpdate(&a, facts, cfg)
	case event.EventNamePutUserPolicy, event.EventNameDeleteUserPolicy, event.EventNameDetachUserPolicy:
		decidePolicy(&a, facts, cfg)
	case event.EventNameTagUser, event.EventNameUntagUser:
		decideTags(&a, cfg)
	case event.EventNameCreateAccessKey:
		decideNewKey(&a, facts, cfg)
	default:
		a.Reason = fmt.Sprintf("%s is not a call the tamper watch reads", call.EventName)
	}
	return a
}

func decideKeyUpdate(a *Assessment, facts Facts, cfg Config) {
	c := a.Call
	if c.Status != event.KeyStatusActive {
		a.Reason = fmt.Sprintf("key %s was set %s, not Active", c.AccessKeyID, c.Status)
		return
	}
	contained := facts.Contained != nil && !facts.Contained.DryRun
	deactivated := facts.Deactivated != nil && !facts.Deactivated.DryRun
	switch {
	case contained && came(c, facts.Contained.At):
		a.Tamper, a.Kind = true, KindReactivatedKey
		a.Deactivation = &Deactivation{By: ByExposedKey, At: facts.Contained.At, Execution: facts.Contained.RunID, Reason: facts.Contained.Reason}
		a.Reason = fmt.Sprintf("key %s of %s was contained as exposed on %s and has been set Active again", c.AccessKeyID, c.User, day(facts.Contained.At))
		if cfg.Undo {
			a.Undo = UndoDeactivateKey
		} else {
			a.NoUndo = "tamperUndo is off: keywarden reports only"
		}
	case deactivated && came(c, facts.Deactivated.At):
		a.Tamper, a.Kind = true, KindReactivatedKey
		a.Deactivation = &Deactivation{By: ByKeyAge, At: facts.Deactivated.At, Execution: facts.Deactivated.RunID, Reason: facts.Deactivated.Reason}
		a.Reason = fmt.Sprintf("key %s of %s was deactivated by the daily key-age run on %s and has been set Active again", c.AccessKeyID, c.User, day(facts.Deactivated.At))
		a.NoUndo = "the key-age policy decides on this key again in the next enforcing daily run"
	case contained || deactivated:
		a.Reason = fmt.Sprintf("the call on key %s came before keywarden deactivated it", c.AccessKeyID)
	default:
		a.Reason = fmt.Sprintf("keywarden never deactivated key %s", c.AccessKeyID)
	}
}

func decidePolicy(a *Assessment, facts Facts, cfg Config) {
	c := a.Call
	detach := c.EventName == event.EventNameDetachUserPolicy
	if !detach && !strings.EqualFold(c.PolicyName, exposure.RevokePolicyName) {
		a.Reason = fmt.Sprintf("policy %s is not keywarden's", c.PolicyName)
		return
	}
	r := facts.Revocation
	if r == nil {
		a.Reason = fmt.Sprintf("the ledger holds no revocation of %s's sessions: the policy is not keywarden's to keep", c.User)
		return
	}
	m := method(*r)
	switch {
	case detach && !m.Attached():
		a.Reason = fmt.Sprintf("keywarden revoked %s's sessions with its inline policy, not by attaching %s", c.User, c.PolicyArn)
		return
	case detach && c.PolicyArn != m.PolicyArn:
		a.Reason = fmt.Sprintf("policy %s is not the one keywarden attached to %s (%s)", c.PolicyArn, c.User, m.PolicyArn)
		return
	case !detach && m.Attached():
		a.Reason = fmt.Sprintf("keywarden revoked %s's sessions by attaching %s, not with the inline policy", c.User, m.PolicyArn)
		return
	}
	if !came(c, r.At) {
		a.Reason = fmt.Sprintf("the call came before keywarden revoked %s's sessions at %s, which wrote the policy anew", c.User, stamp(r.At))
		return
	}
	verb := "deleted"
	switch c.EventName {
	case event.EventNamePutUserPolicy:
		verb = "changed"
	case event.EventNameDetachUserPolicy:
		verb = "detached"
	}
	a.Tamper, a.Kind = true, KindRevokePolicy
	a.Revoked = revoked(*r, cfg, c.EventTime)
	a.Reason = fmt.Sprintf("the policy revoking %s's sessions since the exposure of key %s was %s", c.User, r.KeyID, verb)
	switch {
	case !a.Revoked.Open && detach:
		a.NoUndo = fmt.Sprintf("the incident closed on %s (incidentOpenDays %d): detaching the policy is how a person lifts the deny, and it is not attached again",
			day(a.Revoked.OpenUntil), cfg.OpenDays)
	case !a.Revoked.Open:
		a.NoUndo = fmt.Sprintf("the incident closed on %s (incidentOpenDays %d): the policy is not put back", day(a.Revoked.OpenUntil), cfg.OpenDays)
	case !cfg.Undo:
		a.NoUndo = "tamperUndo is off: keywarden reports only"
	default:
		a.Undo = UndoRestorePolicy
	}
}

// method is how the ledger says a revocation was made; a record from
// before the choice existed was the inline policy.
func method(r ledger.Revocation) exposure.Method {
	if r.With == settings.RevokeAttachedPolicy {
		return exposure.Method{With: r.With, PolicyArn: r.PolicyArn}
	}
	return exposure.Method{With: settings.RevokeInlinePolicy}
}

func decideTags(a *Assessment, cfg Config) {
	c := a.Call
	watched := map[string]bool{}
	for _, k := range cfg.WatchedTags {
		watched[k] = true
	}
	for _, t := range c.Tags {
		if watched[t.Key] {
			a.TagChanges = append(a.TagChanges, TagChange{Key: t.Key, Value: t.Value})
		}
	}
	for _, k := range c.TagKeys {
		if watched[k] {
			a.TagChanges = append(a.TagChanges, TagChange{Key: k, Removed: true})
		}
	}
	if len(a.TagChanges) == 0 {
		a.Reason = fmt.Sprintf("no tag the key-age policy reads (%s) was changed", strings.Join(cfg.WatchedTags, ", "))
		return
	}
	a.Tamper, a.Kind = true, KindPolicyTag
	var what []string
	for _, t := range a.TagChanges {
		what = append(what, t.String())
	}
	a.Reason = fmt.Sprintf("tags of %s the key-age policy reads were changed: %s", c.User, strings.Join(what, "; "))
	a.NoUndo = "tags are their owners' to change: reported and listed in the next digest"
}

func decideNewKey(a *Assessment, facts Facts, cfg Config) {
	c := a.Call
	r := facts.Revocation
	if r == nil {
		a.Reason = fmt.Sprintf("no key of %s was contained as exposed", c.User)
		return
	}
	rv := revoked(*r, cfg, c.EventTime)
	if !came(c, r.At) {
		a.Reason = fmt.Sprintf("key %s was created before key %s of %s was contained as exposed", c.AccessKeyID, r.KeyID, c.User)
		return
	}
	if !rv.Open {
		a.Reason = fmt.Sprintf("key %s of %s was contained as exposed on %s, an incident closed on %s", r.KeyID, c.User, day(r.At), day(rv.OpenUntil))
		return
	}
	a.Tamper, a.Kind, a.Revoked = true, KindNewKeyAfterExposure, rv
	a.Reason = fmt.Sprintf("key %s was created for %s while the exposure of its key %s (contained %s) is open", c.AccessKeyID, c.User, r.KeyID, day(r.At))
	a.NoUndo = "a new key may be the planned replacement: reported for a person to confirm"
}

// revoked is the revocation as the alert quotes it, open if at (the
// call's time) is before it closes.
func revoked(r ledger.Revocation, cfg Config, at time.Time) *Revoked {
	days := cfg.OpenDays
	if days <= 0 {
		days = DefaultOpenDays
	}
	until := r.At.AddDate(0, 0, days)
	return &Revoked{KeyID: r.KeyID, Method: method(r), IssuedBefore: r.IssuedBefore, At: r.At, Execution: r.Execution, OpenUntil: until, Open: at.Before(until)}
}

// String is the change as one line: key=value set, or key removed.
func (t TagChange) String() string {
	if t.Removed {
		return t.Key + " removed"
	}
	return fmt.Sprintf("%s set to %q", t.Key, t.Value)
}

// OwnWrite reports whether a call was made from a session of one of
// keywarden's roles, and which. A Lambda function acts through a session
// of its execution role: CloudTrail names the role in
// sessionContext.sessionIssuer.arn (with its path) and in the session's
// ARN, arn:aws:sts::<account>:assumed-role/<role name>/<session>. Either
// is enough; both must name the same account as the role. Only the
// Lambda service may assume keywarden's roles (their trust policy), so
// no one else can act as them. A role given with partition and account *
// (organization mode's member roles, memberWriters) matches its sessions
// in any account.
func OwnWrite(c event.Caller, ownRoles []string) (role string, own bool) {
	sp, sa, sn, isSession := assumedRole(c.ARN)
	for _, r := range ownRoles {
		if r == "" {
			continue
		}
		if c.RoleARN == r {
			return r, true
		}
		rp, ra, rn, ok := roleParts(r)
		if ok && isSession && (sp == rp || rp == "*") && (sa == ra || ra == "*") && sn == rn {
			return r, true
		}
	}
	return "", false
}

// roleParts reads arn:<partition>:iam::<account>:role/<path/><name>.
func roleParts(arn string) (partition, account, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") {
		return "", "", "", false
	}
	name = parts[5][strings.LastIndex(parts[5], "/")+1:]
	return parts[1], parts[4], name, name != "" && parts[4] != ""
}

// assumedRole reads arn:<partition>:sts::<account>:assumed-role/<role
// name>/<session> (the role's path is not in it).
func assumedRole(arn string) (partition, account, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sts" {
		return "", "", "", false
	}
	rest, found := strings.CutPrefix(parts[5], "assumed-role/")
	name, session, hasSession := strings.Cut(rest, "/")
	if !found || !hasSession || name == "" || session == "" {
		return "", "", "", false
	}
	return parts[1], parts[4], name, true
}

// Slack allows for the clocks of CloudTrail (eventTime, to the second) and
// of keywarden's functions (the ledger's times) to differ a little.
const Slack = time.Minute

// came reports whether the call came after keywarden acted at at: one
// made before was undone by keywarden's own later write, and is not
// tampering with it (a delayed delivery can bring it late).
func came(c event.IAMCall, at time.Time) bool { return !c.EventTime.Before(at.Add(-Slack)) }

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
