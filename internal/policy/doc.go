// Package policy is the daily key-age decision: given the policy, the clock,
// an IAM user (its tags), one of its access keys and what the ledger
// remembers about that key, it says which stage the key is in, which notice
// to send and what to do. It is pure: no AWS, no I/O, no clock of its own,
// so every rule below is proven by table tests and a fuzz test.
//
// # Ages and days
//
//   - A key's age is the number of whole 24-hour days elapsed since it was
//     created, in UTC: floor((now − created) / 24h). Time zones of the inputs
//     do not matter and a daylight-saving change never makes a 23- or 25-hour
//     "day". A leap day is a day like any other.
//   - A key created in the future (clock skew, bad data) or without a
//     creation time has age 0 and is never acted on; Decision.Problem and a
//     Reason say why, so the digest can list it.
//   - Waiting periods that start at one of keywarden's own runs (the grace
//     after the final notice, the time an inactive key has been inactive)
//     count UTC calendar days, not 24-hour periods: a daily schedule that
//     fires a few seconds earlier than the day before must not slip a
//     deactivation by a whole day. Deadlines that come from such a period
//     are therefore midnight UTC of the day they fall on.
//
// # Stages of an active key
//
//	age < WarnDays[0]                  ok
//	WarnDays[i] ≤ age < WarnDays[i+1]  warning-<WarnDays[i]>
//	last warning ≤ age < LimitDays     warning-<last>
//	age ≥ LimitDays                    final, then deactivate
//
// A key in the final stage is deactivated once the final notice has been
// sent at least GraceDays UTC days ago; with GraceDays 0 the final notice and
// the deactivation happen in the same run (Notice final, Action deactivate).
// A key is never deactivated before its final notice has gone out.
//
// # Notices
//
// Each stage's notice is sent once per key, ever: Notice is the current
// stage when History has no notice for it yet. So a skipped day never skips
// a stage (the run on day 71 sends the day-70 warning) and a second run on
// the same day sends nothing new. When runs were missed and a key jumps over
// several warning stages, only the highest warning it reached is sent: two
// warnings in one run would tell the owner two different stories.
//
// Notices follow the current stage, not the highest stage ever notified: a
// key that leaves the final stage (it was unused and is used again, the
// limit was raised) gets the warnings of its new stage. A final notice in
// History counts whenever it was sent, so such a key is deactivated without
// a second final notice when it returns to the final stage and the grace
// since the first one is over.
//
// When a key is deactivated, the owner hears it in that run: from the final
// notice if it goes out in the same run (GraceDays 0), otherwise from a
// one-time "deactivate" notice. A deleted key gets a one-time "delete" notice.
//
// # Deadlines
//
// Decision.Deadline is the earliest instant keywarden deactivates the key;
// the first daily run at or after it does. It is Created + LimitDays when
// GraceDays is 0. With a grace period it is midnight UTC of the day
// GraceDays after the final notice: as sent, as sent in this run, or, for
// a key not yet past the limit, as due at Created + LimitDays (that is, the
// UTC date of Created + LimitDays + GraceDays). Keys that are
// exempt, notify-only or cannot be judged have no deadline; an inactive key's
// Deadline is when keywarden deactivated it, if known.
//
// # Unused keys
//
// With UnusedDays > 0, an active key at least NewKeyGraceDays old that was
// never used and is at least UnusedDays old, or was last used UnusedDays or
// more ago, is treated as past the limit (final, then deactivate, with the
// same notice and grace rules). A LastUsed before Created (bad data) counts
// from Created. Warning deadlines quote the age limit only: a key's use can
// change before then.
//
// # New keys
//
// A key younger than NewKeyGraceDays is never deactivated or deleted,
// whatever else applies. Validate requires NewKeyGraceDays < LimitDays.
//
// # Tag values
//
// Tag values are matched as people write them: TagValue drops the white
// space around a value and its case, on both sides of every comparison, so
// "machine", "Machine", "MACHINE" and " machine " are one user type, in a
// tag or in the settings. A tag value Decide cannot read (a blank user type,
// a rotation flag neither true nor false) is named in TagProblems and the
// key is judged as if the tag were absent.
//
// # User types
//
// A user's type is the value of the UserTypeTag tag, as TagValue reads it
// ("" when untagged or blank). A user is notify-only when the type is in
// NotifyOnlyUserTypes ("*" there makes everyone notify-only), or when
// EnforcedUserTypes holds neither "*" nor the type: untagged users are
// enforced only under "*". A misspelt type is therefore notified, not
// enforced; the Reason names the type, so notices and `keywarden report`
// show it. Notify-only keys get every notice (warnings, final) and are never
// deactivated or deleted.
//
// # Exemptions
//
// The ExemptionTag value is "YYYY-MM-DD reason": a UTC date, whitespace, and
// a non-empty reason, with any white space around it; the reason is kept as
// written. The key is exempt until the end of that UTC day: no
// notice, no action, Stage ok with Exempt set (inactive keys are not deleted
// either). An expired, unparsable, reason-less exemption, or one ending more
// than MaxExemptionDays after today, does not exempt the key;
// ExemptionProblem says why and the key is judged as usual.
//
// # Inactive keys
//
// Inactive keys are never warned. With DeleteAfterDays > 0 an inactive key is
// deleted once it has been inactive for DeleteAfterDays UTC days, unless it is
// younger than NewKeyGraceDays, notify-only or exempt. "Inactive since" is
// History.DeactivatedAt when keywarden deactivated it; otherwise, unknown, it
// is taken to be Created + LimitDays, a conservative stand-in (the earliest
// day keywarden itself would have deactivated it). Either way it is moved to
// the key's LastUsed if that is later: a key used at some time was active
// then.
//
// # Rotation
//
// With RotationDays > 0, a user whose RotationTag tag is "true" (read by
// TagFlag: any case, spaces around it) opts into rotation. Its active key at least RotationDays old that was
// never replaced gets Action rotate, Stage rotate and the one-time rotate
// notice: the run issues a new key, stores it in Secrets Manager and tells
// the owner where. Rotation overrides notify-only user types (the tag is the
// user's own opt-in) but not exemptions. A key past LimitDays that could not
// be rotated yet is rotated again on every run rather than deactivated, so
// the system it feeds keeps a working key; each failure is in the digest.
//
// A replaced key (History.RotatedAt set) is retired whatever the tags say
// now: it stays active, Stage rotate, until RetireAfterDays UTC days after
// the rotation, is then deactivated with the one-time deactivate notice, and
// is deleted DeleteRetiredAfterDays UTC days after its deactivation (counted
// from the planned deactivation if someone else deactivated it), with the
// delete notice, even when DeleteAfterDays is 0. Tag values other than
// "true" and "false" do not opt in; TagProblems and a Reason say so.
//
// # Contact
//
// The contact is the value of the first ContactTags tag that is present and
// not blank, returned as is; the caller checks its e-mail shape and falls
// back to the security topic.
//
// # Invalid input
//
// Decide never panics. With a configuration that fails Validate, or a zero
// now (a caller that forgot the clock), it takes no action, sends no notice
// and says so in Problem: a broken policy must not deactivate keys. A final
// notice that the ledger holds without a time counts as sent long ago (its
// grace is over), because a grace counted from an unknown start would never
// end.
package policy
