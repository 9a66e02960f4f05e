package policy

import (
	"fmt"
	"time"
)

// Key is one IAM access key, as the credential report and ListAccessKeys
// describe it.
type Key struct {
	ID       string    `json:"id"`
	User     string    `json:"user"`
	Active   bool      `json:"active"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"lastUsed,omitzero"` // zero = never used
}

// User is the key's IAM user and its tags.
type User struct {
	Name string            `json:"name"`
	Tags map[string]string `json:"tags,omitempty"`
}

// History is what the ledger knows about a key from earlier runs.
type History struct {
	// Notices maps each stage whose notice was sent to when it was sent.
	Notices map[Stage]time.Time `json:"notices,omitempty"`
	// DeactivatedAt is when keywarden deactivated the key; zero when it did
	// not, or it is not known.
	DeactivatedAt time.Time `json:"deactivatedAt,omitzero"`
	// RotatedAt is when keywarden replaced the key by a new one (a
	// rotation); zero when it did not.
	RotatedAt time.Time `json:"rotatedAt,omitzero"`
	// ReplacedBy is the id of the key that replaced it, and SecretARN the
	// Secrets Manager secret that holds that key.
	ReplacedBy string `json:"replacedBy,omitempty"`
	SecretARN  string `json:"secretArn,omitempty"`
}

func (h History) sent(s Stage) (time.Time, bool) {
	t, ok := h.Notices[s]
	return t, ok
}

// Decision is the policy's verdict on one key for one run.
type Decision struct {
	KeyID   string `json:"keyId"`
	User    string `json:"user"`
	AgeDays int    `json:"ageDays"`
	Stage   Stage  `json:"stage"`
	// Action is what this run must do.
	Action Action `json:"action"`
	// Notice is the notice to send this run, "" for none: always a stage
	// whose notice is not in History yet.
	Notice Stage `json:"notice,omitempty"`
	// Deadline is the earliest instant keywarden deactivates the key (or,
	// for an inactive key, when it did; for a key rotated in this run, when
	// it will be retired); zero if never (exempt, notify-only, not judged).
	Deadline time.Time `json:"deadline,omitzero"`
	// DeleteDue is when an inactive key becomes due for deletion; zero when
	// it never will be.
	DeleteDue time.Time `json:"deleteDue,omitzero"`
	UserType  string    `json:"userType,omitempty"`
	// NotifyOnly keys get notices only, never deactivation or deletion.
	NotifyOnly bool `json:"notifyOnly,omitempty"`
	// Contact is the owner's address from ContactTags; "" = none (the
	// caller falls back to the security topic and the digest lists it).
	Contact      string    `json:"contact,omitempty"`
	Exempt       bool      `json:"exempt,omitempty"`
	ExemptUntil  time.Time `json:"exemptUntil,omitzero"` // last instant of the exemption's day
	ExemptReason string    `json:"exemptReason,omitempty"`
	// ExemptionProblem is set when the exemption tag is present but
	// unparsable, expired or too long: the key is NOT exempt and this says
	// why.
	ExemptionProblem string `json:"exemptionProblem,omitempty"`
	// TagProblems name the user's tag values Decide could not read (a
	// rotation flag that is neither true nor false, a blank user type), so
	// the digest lists them; an unreadable exemption is in ExemptionProblem.
	TagProblems []string `json:"tagProblems,omitempty"`
	// Unused is set when the unused-key rule applies.
	Unused bool `json:"unused,omitempty"`
	// Rotation is set for users opted into rotation: their keys are
	// replaced at RotationDays and the replaced keys retired.
	Rotation bool `json:"rotation,omitempty"`
	// ReplacedBy is the key that replaced this one in a rotation, and
	// SecretARN the secret holding it.
	ReplacedBy string `json:"replacedBy,omitempty"`
	SecretARN  string `json:"secretArn,omitempty"`
	// Problem is set when the key could not be judged (invalid policy,
	// creation time unknown or in the future): no notice, no action.
	Problem string `json:"problem,omitempty"`
	// Reasons are short, human reasons, in order, for reports and notices.
	Reasons []string `json:"reasons"`
}

func (d *Decision) because(format string, args ...any) {
	d.Reasons = append(d.Reasons, fmt.Sprintf(format, args...))
}

// tagProblem records an unreadable tag value, if any, as a problem and a
// reason.
func (d *Decision) tagProblem(problem string) {
	if problem != "" {
		d.TagProblems = append(d.TagProblems, problem)
		d.because("%s", problem)
	}
}

// Decide is the key-age decision for one key in one run; the package
// comment lists its rules. It never panics and never acts on a key it
// cannot judge.
func Decide(cfg Config, now time.Time, u User, k Key, h History) Decision {
	now = now.UTC()
	d := Decision{KeyID: k.ID, User: k.User, Stage: StageOK, Action: ActionNone, Reasons: []string{}}
	if d.User == "" {
		d.User = u.Name
	}
	if now.IsZero() {
		// A caller that forgot the clock must not act on year 1.
		d.Problem = "no current time given; not acted on"
		d.because("%s", d.Problem)
		return d
	}
	if err := cfg.Validate(); err != nil {
		d.Problem = "policy is invalid, no action taken: " + err.Error()
		d.because("%s", d.Problem)
		return d
	}

	userType, shown, problem := cfg.userType(u.Tags)
	d.UserType = userType
	d.tagProblem(problem)
	d.Contact = cfg.contact(u.Tags)
	var notifyOnlyWhy string
	d.NotifyOnly, notifyOnlyWhy = cfg.notifyOnly(userType, shown)
	if d.NotifyOnly {
		d.because("%s", notifyOnlyWhy)
	}
	// The rotation flag is read here, before any early return, so that an
	// unreadable one is listed whatever becomes of the key.
	rotates, rotationWhy, problem := cfg.rotates(u.Tags)
	d.tagProblem(problem)
	if v, ok := u.Tags[cfg.ExemptionTag]; ok {
		e := parseExemption(v, now, cfg.MaxExemptionDays)
		if e.problem != "" {
			d.ExemptionProblem = e.problem
			d.because("not exempt: %s", e.problem)
		} else {
			d.Exempt, d.ExemptUntil, d.ExemptReason = true, e.until, e.reason
		}
	}

	switch created := k.Created.UTC(); {
	case k.Created.IsZero():
		d.Problem = "creation time unknown; not acted on"
		d.because("%s", d.Problem)
		return d
	case created.After(now):
		d.Problem = fmt.Sprintf("created %s, after now (%s): clock skew or bad data; age counted as 0, not acted on",
			created.Format(time.RFC3339), now.Format(time.RFC3339))
		d.because("%s", d.Problem)
		return d
	}
	d.AgeDays = Age(k.Created, now)

	if d.Exempt {
		d.because("exempt until %s: %s", date(d.ExemptUntil), d.ExemptReason)
		if !k.Active {
			d.Deadline = h.DeactivatedAt
		}
		return d
	}
	if rotationWhy != "" {
		d.because("%s", rotationWhy)
	}
	if !h.RotatedAt.IsZero() {
		// Replaced keys are retired whatever the user's tags say now: the
		// owner was told the date when the new key was issued.
		decideRetired(cfg, now, k, h, &d)
		return d
	}
	if rotates && k.Active && d.AgeDays >= cfg.RotationDays {
		d.Rotation, d.Stage, d.Action = true, StageRotate, ActionRotate
		// If the rotation works in this run, the key retires then.
		d.Deadline = afterCalendarDays(now, cfg.RetireAfterDays)
		d.overrideNotifyOnly()
		d.because("age %d days, at or past rotationDays %d, and tag %s is \"true\": replace it with a new key kept in Secrets Manager", d.AgeDays, cfg.RotationDays, cfg.RotationTag)
		if d.AgeDays >= cfg.LimitDays {
			d.because("past the %d-day limit: rotation is retried every run instead of deactivation, so its consumer keeps a working key", cfg.LimitDays)
		}
		d.noticeOnce(h, StageRotate)
		return d
	}
	d.Rotation = rotates
	if !k.Active {
		decideInactive(cfg, now, k, h, &d)
		return d
	}
	decideActive(cfg, now, k, h, &d)
	return d
}

// decideActive walks an active key through ok → warnings → final →
// deactivate.
func decideActive(cfg Config, now time.Time, k Key, h History, d *Decision) {
	if !h.DeactivatedAt.IsZero() {
		d.because("reactivated after keywarden deactivated it on %s", date(h.DeactivatedAt))
	}
	// With a valid policy neither the limit (newKeyGraceDays < limitDays)
	// nor the unused rule (which waits for it) reaches a key younger than
	// the new-key grace; the guard stays all the same.
	newKeyEnd := addDays(k.Created, cfg.NewKeyGraceDays)

	if unused, why := cfg.unused(k, d.AgeDays, now); unused {
		d.Unused = true
		d.because("%s", why)
	}
	pastLimit := d.AgeDays >= cfg.LimitDays || d.Unused
	finalAt, finalSent := h.sent(StageFinal)

	if !pastLimit {
		d.Stage = cfg.warningStage(d.AgeDays)
		if d.Stage == StageOK {
			d.because("age %d days, below the first warning at %d days", d.AgeDays, cfg.WarnDays[0])
		} else {
			d.because("age %d days: stage %s, limit %d days", d.AgeDays, d.Stage, cfg.LimitDays)
			d.noticeOnce(h, d.Stage)
			if d.Notice != "" {
				d.reportSkippedWarnings(cfg, h)
			}
		}
		if !d.NotifyOnly {
			due := afterCalendarDays(addDays(k.Created, cfg.LimitDays), cfg.GraceDays)
			if finalSent && !finalAt.IsZero() {
				due = later(due, afterCalendarDays(finalAt, cfg.GraceDays))
			}
			d.Deadline = later(due, newKeyEnd)
		}
		return
	}

	d.Stage = StageFinal
	if d.AgeDays >= cfg.LimitDays {
		d.because("age %d days, at or past the %d-day limit", d.AgeDays, cfg.LimitDays)
	}
	d.noticeOnce(h, StageFinal)
	if d.NotifyOnly {
		return
	}
	switch {
	case !finalSent: // the final notice goes out now
		d.Deadline = later(afterCalendarDays(now, cfg.GraceDays), newKeyEnd)
	case finalAt.IsZero():
		// A ledger entry without a time (e.g. migrated) cannot restart a
		// grace that would then never end: take the grace as over.
		d.because("final notice sent at an unknown time; its grace is taken as over")
		d.Deadline = later(now, newKeyEnd)
	default:
		d.Deadline = later(afterCalendarDays(finalAt, cfg.GraceDays), newKeyEnd)
	}
	switch {
	case d.AgeDays < cfg.NewKeyGraceDays:
		d.because("younger than the %d-day new-key grace: not deactivated before %s", cfg.NewKeyGraceDays, newKeyEnd.Format(time.RFC3339))
	case !finalSent && cfg.GraceDays > 0:
		d.because("final notice now; deactivation on %s, after the %d-day grace", date(d.Deadline), cfg.GraceDays)
	case now.Before(d.Deadline):
		d.because("final notice sent %s; deactivation on %s, after the %d-day grace", date(finalAt), date(d.Deadline), cfg.GraceDays)
	default:
		d.Stage, d.Action = StageDeactivate, ActionDeactivate
		if finalSent {
			d.because("final notice sent and the %d-day grace is over: deactivate", cfg.GraceDays)
			d.noticeOnce(h, StageDeactivate)
		} else {
			d.because("no grace period: final notice and deactivation in this run")
		}
	}
}

// decideRetired walks a key replaced by a rotation through deactivation,
// RetireAfterDays UTC days after the rotation, and deletion,
// DeleteRetiredAfterDays UTC days after the deactivation. The user asked
// for rotation, so notify-only user types do not hold this back.
func decideRetired(cfg Config, now time.Time, k Key, h History, d *Decision) {
	d.Rotation, d.ReplacedBy, d.SecretARN = true, h.ReplacedBy, h.SecretARN
	d.overrideNotifyOnly()
	d.because("replaced by key %s on %s", h.ReplacedBy, date(h.RotatedAt))
	retireAt := later(afterCalendarDays(h.RotatedAt, cfg.RetireAfterDays), addDays(k.Created, cfg.NewKeyGraceDays))
	if k.Active {
		d.Deadline = retireAt
		if now.Before(retireAt) {
			d.Stage = StageRotate
			d.because("deactivation on %s, %d days after the rotation", date(retireAt), cfg.RetireAfterDays)
			return
		}
		d.Stage, d.Action = StageDeactivate, ActionDeactivate
		d.because("the %d days after the rotation are over: deactivate", cfg.RetireAfterDays)
		d.noticeOnce(h, StageDeactivate)
		return
	}
	since := h.DeactivatedAt
	if since.IsZero() {
		since = retireAt // deactivated by someone else: count from when keywarden would have
	}
	d.Deadline = h.DeactivatedAt
	d.DeleteDue = later(afterCalendarDays(since, max(cfg.DeleteRetiredAfterDays, 1)), addDays(k.Created, cfg.NewKeyGraceDays))
	if now.Before(d.DeleteDue) {
		d.Stage = StageDeactivate
		d.because("inactive since %s; deletion on %s", date(since), date(d.DeleteDue))
		return
	}
	d.Stage, d.Action = StageDelete, ActionDelete
	d.because("inactive since %s, %d days or more: delete", date(since), cfg.DeleteRetiredAfterDays)
	d.noticeOnce(h, StageDelete)
}

// overrideNotifyOnly lets rotation act on a notify-only user type: the
// rotation tag is the user's own, more specific, opt-in.
func (d *Decision) overrideNotifyOnly() {
	if d.NotifyOnly {
		d.NotifyOnly = false
		d.because("opted into rotation: notify-only does not hold back the rotation or the retirement of the replaced key")
	}
}

// decideInactive deletes an inactive key once it has been inactive long
// enough; it never warns.
func decideInactive(cfg Config, now time.Time, k Key, h History, d *Decision) {
	d.Deadline = h.DeactivatedAt
	if cfg.DeleteAfterDays <= 0 {
		d.because("inactive; deleting inactive keys is off")
		return
	}
	if d.NotifyOnly {
		d.because("inactive; notify-only keys are never deleted")
		return
	}
	since, from := h.DeactivatedAt, "deactivated by keywarden"
	if since.IsZero() {
		since, from = addDays(k.Created, cfg.LimitDays), "not deactivated by keywarden, counted from creation + limit"
	}
	if k.LastUsed.After(since) {
		since, from = k.LastUsed, "last used then"
	}
	d.DeleteDue = later(afterCalendarDays(since, cfg.DeleteAfterDays), addDays(k.Created, cfg.NewKeyGraceDays))
	if now.Before(d.DeleteDue) {
		d.because("inactive since %s (%s); deletion on %s", date(since), from, date(d.DeleteDue))
		return
	}
	d.Stage, d.Action = StageDelete, ActionDelete
	d.because("inactive since %s (%s), %d days or more: delete", date(since), from, cfg.DeleteAfterDays)
	d.noticeOnce(h, StageDelete)
}

// noticeOnce sends the stage's notice unless History has it, and makes the
// action at least notify.
func (d *Decision) noticeOnce(h History, s Stage) {
	if at, ok := h.sent(s); ok {
		d.because("%s notice already sent %s", s, date(at))
		return
	}
	d.Notice = s
	if d.Action == ActionNone {
		d.Action = ActionNotify
	}
}

// reportSkippedWarnings names lower warnings that were never sent because
// runs were missed: only the highest warning reached goes out.
func (d *Decision) reportSkippedWarnings(cfg Config, h History) {
	cur, _ := d.Stage.WarningDays()
	for _, w := range cfg.WarnDays {
		if w >= cur {
			continue
		}
		if _, ok := h.sent(WarningStage(w)); !ok {
			d.because("warning-%d was never sent (missed runs); only %s is sent", w, d.Stage)
		}
	}
}

// unused applies the unused-key rule to an active key.
func (c Config) unused(k Key, age int, now time.Time) (bool, string) {
	if c.UnusedDays <= 0 || age < c.NewKeyGraceDays {
		return false, ""
	}
	if k.LastUsed.IsZero() {
		if age >= c.UnusedDays {
			return true, fmt.Sprintf("never used in %d days (unused limit %d days)", age, c.UnusedDays)
		}
		return false, ""
	}
	since := k.LastUsed
	if since.Before(k.Created) {
		since = k.Created
	}
	if idle := Age(since, now); idle >= c.UnusedDays {
		return true, fmt.Sprintf("not used for %d days, since %s (unused limit %d days)", idle, date(since), c.UnusedDays)
	}
	return false, ""
}
