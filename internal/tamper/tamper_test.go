package tamper

import (
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/ledger"
)

const (
	keyID    = "AKIAKEYWARDENDRILL01"
	user     = "ci-deployer"
	revoker  = "arn:aws:iam::123456789012:role/keywarden-RevokeFunctionRole"
	tamperer = "arn:aws:iam::123456789012:role/path/keywarden-TamperFunctionRole"
)

var (
	// t0 is when keywarden contained the key and revoked the sessions.
	t0  = time.Date(2026, 11, 20, 9, 12, 51, 0, time.UTC)
	cfg = Config{
		OwnRoles:    []string{revoker, tamperer},
		WatchedTags: []string{"UserType", "keywarden:exempt", "keywarden:rotate", "keywarden:no-access-keys"},
		Undo:        true,
		OpenDays:    30,
	}
	admin = event.Caller{Type: "IAMUser", ARN: "arn:aws:iam::123456789012:user/admin-mallory", UserName: "admin-mallory"}
)

func call(name string, at time.Time, f func(c *event.IAMCall)) event.IAMCall {
	c := event.IAMCall{EventName: name, EventID: "e-1", EventTime: at, Account: "123456789012", Caller: admin, SourceIP: "203.0.113.50", User: user}
	if f != nil {
		f(&c)
	}
	return c
}

func reactivate(at time.Time) event.IAMCall {
	return call(event.EventNameUpdateAccessKey, at, func(c *event.IAMCall) { c.AccessKeyID, c.Status = keyID, event.KeyStatusActive })
}

func policyCall(name string, at time.Time) event.IAMCall {
	return call(name, at, func(c *event.IAMCall) { c.PolicyName = "keywarden-revoke-older-sessions" })
}

var (
	contained   = &ledger.Action{User: user, At: t0, RunID: "exposed-ci-deployer-" + keyID, Reason: "reported exposed by trusted-advisor"}
	deactivated = &ledger.Action{User: user, At: t0, RunID: "daily-2026-11-20", Reason: "95 days old, limit 90"}
	revocation  = &ledger.Revocation{User: user, KeyID: keyID, IssuedBefore: t0, At: t0, Execution: "exposed-ci-deployer-" + keyID}
)

func TestDecide(t *testing.T) {
	later := t0.Add(time.Hour)
	noUndo := cfg
	noUndo.Undo = false
	dry := *deactivated
	dry.DryRun = true
	for _, tc := range []struct {
		name   string
		call   event.IAMCall
		facts  Facts
		cfg    Config
		tamper bool
		kind   string
		undo   string
		reason string // part of the reason
	}{
		// Calls that change nothing, or are keywarden's own.
		{"refused call", call(event.EventNameUpdateAccessKey, later, func(c *event.IAMCall) { c.Status, c.ErrorCode = "Active", "NoSuchEntity" }),
			Facts{Contained: contained}, cfg, false, "", "", "IAM refused the call (NoSuchEntity)"},
		{"own write by session issuer", by(policyCall(event.EventNamePutUserPolicy, later), event.Caller{Type: "AssumedRole",
			ARN: "arn:aws:sts::123456789012:assumed-role/keywarden-RevokeFunctionRole/keywarden-revoke", RoleARN: revoker}),
			Facts{Revocation: revocation}, cfg, false, "", "", "keywarden's own write, from its role " + revoker},
		{"own write by session ARN alone, role with a path", by(policyCall(event.EventNamePutUserPolicy, later), event.Caller{Type: "AssumedRole",
			ARN: "arn:aws:sts::123456789012:assumed-role/keywarden-TamperFunctionRole/keywarden-tamper"}),
			Facts{Revocation: revocation}, cfg, false, "", "", "keywarden's own write"},

		// UpdateAccessKey.
		{"key set Inactive", call(event.EventNameUpdateAccessKey, later, func(c *event.IAMCall) { c.AccessKeyID, c.Status = keyID, "Inactive" }),
			Facts{Contained: contained}, cfg, false, "", "", "set Inactive, not Active"},
		{"contained key re-activated", reactivate(later), Facts{Contained: contained}, cfg, true, KindReactivatedKey, UndoDeactivateKey,
			"was contained as exposed on 2026-11-20"},
		{"contained key re-activated, undo off", reactivate(later), Facts{Contained: contained}, noUndo, true, KindReactivatedKey, "", ""},
		{"contained and deactivated: the containment wins", reactivate(later), Facts{Contained: contained, Deactivated: deactivated}, cfg, true,
			KindReactivatedKey, UndoDeactivateKey, "contained as exposed"},
		{"key-age deactivation undone", reactivate(later), Facts{Deactivated: deactivated}, cfg, true, KindReactivatedKey, "",
			"deactivated by the daily key-age run on 2026-11-20"},
		{"dry-run deactivation is no deactivation", reactivate(later), Facts{Deactivated: &dry}, cfg, false, "", "", "keywarden never deactivated"},
		{"a key keywarden never touched", reactivate(later), Facts{}, cfg, false, "", "", "keywarden never deactivated key " + keyID},
		{"re-activated within the slack before the containment", reactivate(t0.Add(-Slack)), Facts{Contained: contained}, cfg, true,
			KindReactivatedKey, UndoDeactivateKey, ""},
		{"re-activated before the containment", reactivate(t0.Add(-Slack - time.Second)), Facts{Contained: contained}, cfg, false, "", "",
			"came before keywarden deactivated it"},

		// The revoke policy.
		{"another policy", call(event.EventNameDeleteUserPolicy, later, func(c *event.IAMCall) { c.PolicyName = "deploy" }),
			Facts{Revocation: revocation}, cfg, false, "", "", "policy deploy is not keywarden's"},
		{"policy deleted, no revocation in the ledger", policyCall(event.EventNameDeleteUserPolicy, later), Facts{}, cfg, false, "", "",
			"holds no revocation"},
		{"policy deleted while open", policyCall(event.EventNameDeleteUserPolicy, later), Facts{Revocation: revocation}, cfg, true,
			KindRevokePolicy, UndoRestorePolicy, "was deleted"},
		{"policy changed while open", policyCall(event.EventNamePutUserPolicy, later), Facts{Revocation: revocation}, cfg, true,
			KindRevokePolicy, UndoRestorePolicy, "was changed"},
		{"policy name in another case", call(event.EventNameDeleteUserPolicy, later, func(c *event.IAMCall) { c.PolicyName = "Keywarden-Revoke-Older-Sessions" }),
			Facts{Revocation: revocation}, cfg, true, KindRevokePolicy, UndoRestorePolicy, ""},
		{"policy deleted, undo off", policyCall(event.EventNameDeleteUserPolicy, later), Facts{Revocation: revocation}, noUndo, true,
			KindRevokePolicy, "", ""},
		{"policy deleted on the incident's last second", policyCall(event.EventNameDeleteUserPolicy, t0.AddDate(0, 0, 30).Add(-time.Second)),
			Facts{Revocation: revocation}, cfg, true, KindRevokePolicy, UndoRestorePolicy, ""},
		{"policy deleted once the incident closed", policyCall(event.EventNameDeleteUserPolicy, t0.AddDate(0, 0, 30)),
			Facts{Revocation: revocation}, cfg, true, KindRevokePolicy, "", ""},
		{"policy deleted before the revocation", policyCall(event.EventNameDeleteUserPolicy, t0.Add(-time.Hour)),
			Facts{Revocation: revocation}, cfg, false, "", "", "came before keywarden revoked"},

		// Tags.
		{"exemption set", call(event.EventNameTagUser, later, func(c *event.IAMCall) {
			c.Tags = []event.Tag{{Key: "keywarden:exempt", Value: "2027-06-30 vendor"}, {Key: "team", Value: "data"}}
		}), Facts{}, cfg, true, KindPolicyTag, "", `keywarden:exempt set to "2027-06-30 vendor"`},
		{"user type removed", call(event.EventNameUntagUser, later, func(c *event.IAMCall) { c.TagKeys = []string{"UserType", "team"} }),
			Facts{}, cfg, true, KindPolicyTag, "", "UserType removed"},
		{"an unwatched tag", call(event.EventNameTagUser, later, func(c *event.IAMCall) { c.Tags = []event.Tag{{Key: "team", Value: "data"}} }),
			Facts{}, cfg, false, "", "", "no tag the key-age policy reads"},
		{"a watched key in another case is another tag", call(event.EventNameUntagUser, later, func(c *event.IAMCall) { c.TagKeys = []string{"usertype"} }),
			Facts{}, cfg, false, "", "", ""},

		// A new key.
		{"new key while the incident is open", call(event.EventNameCreateAccessKey, later, func(c *event.IAMCall) { c.AccessKeyID = "AKIAKEYWARDENNEWKEY1" }),
			Facts{Revocation: revocation}, cfg, true, KindNewKeyAfterExposure, "", "while the exposure of its key " + keyID},
		{"new key once the incident closed", call(event.EventNameCreateAccessKey, t0.AddDate(0, 0, 31), nil),
			Facts{Revocation: revocation}, cfg, false, "", "", "an incident closed on 2026-12-20"},
		{"new key, no incident", call(event.EventNameCreateAccessKey, later, nil), Facts{}, cfg, false, "", "", "no key of ci-deployer was contained"},
		{"new key before the incident", call(event.EventNameCreateAccessKey, t0.Add(-time.Hour), nil), Facts{Revocation: revocation}, cfg, false, "", "",
			"created before key"},

		{"another call", call("DeleteUser", later, nil), Facts{Contained: contained}, cfg, false, "", "", "not a call the tamper watch reads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Decide(tc.call, tc.facts, tc.cfg)
			if a.Tamper != tc.tamper || a.Kind != tc.kind || a.Undo != tc.undo || !strings.Contains(a.Reason, tc.reason) {
				t.Errorf("got tamper %v kind %q undo %q reason %q;\nwant tamper %v kind %q undo %q reason with %q",
					a.Tamper, a.Kind, a.Undo, a.Reason, tc.tamper, tc.kind, tc.undo, tc.reason)
			}
			if a.Tamper && a.Undo == "" && a.NoUndo == "" {
				t.Errorf("tampering neither undone nor said why not: %+v", a)
			}
			if !a.Tamper && (a.Undo != "" || a.Kind != "") {
				t.Errorf("no tampering, yet kind %q undo %q", a.Kind, a.Undo)
			}
			if a.Reason == "" {
				t.Error("no reason")
			}
		})
	}
}

// by is the call made by caller.
func by(c event.IAMCall, caller event.Caller) event.IAMCall { c.Caller = caller; return c }
