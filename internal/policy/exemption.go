package policy

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// exemptionFormat is quoted in problems so that the digest says how to fix
// a tag.
const exemptionFormat = `"YYYY-MM-DD reason", e.g. "2026-09-30 vendor migration SEC-123"`

// exemption is a parsed exemption tag value.
type exemption struct {
	until   time.Time // last instant of the exemption (end of its UTC day)
	reason  string
	problem string // set when the tag does not exempt the key
}

// parseExemption reads "YYYY-MM-DD reason". The key is exempt while now is
// on or before that UTC date; until is the last nanosecond of it, so
// until.Format(time.DateOnly) is the tag's date.
func parseExemption(value string, now time.Time, maxDays int) exemption {
	if TagValue(value) == "" {
		return exemption{problem: "exemption tag is empty; want " + exemptionFormat}
	}
	// The date is matched as TagValue reads it; the reason keeps its case,
	// since it is quoted, not matched.
	v := strings.TrimSpace(value)
	dateText, reason := v, ""
	if i := strings.IndexFunc(v, unicode.IsSpace); i >= 0 {
		dateText, reason = v[:i], strings.TrimSpace(v[i:])
	}
	day, err := time.Parse(time.DateOnly, TagValue(dateText))
	if err != nil {
		return exemption{problem: fmt.Sprintf("exemption tag %q does not start with a valid date; want %s", v, exemptionFormat)}
	}
	if reason == "" {
		return exemption{problem: fmt.Sprintf("exemption tag %q has no reason after the date; want %s", v, exemptionFormat)}
	}
	e := exemption{until: addDays(day, 1).Add(-time.Nanosecond), reason: reason}
	if now.After(e.until) {
		e.problem = fmt.Sprintf("exemption expired on %s (%s)", dateText, reason)
	} else if maxDays > 0 && calendarDays(now, day) > int64(maxDays) {
		e.problem = fmt.Sprintf("exemption until %s is more than %d days ahead (maxExemptionDays); set an earlier date", dateText, maxDays)
	}
	return e
}

// ExemptionExpiringWithin reports an exempt key whose exemption ends within
// the given number of UTC calendar days (0 = ends today), so the digest can
// remind owners before enforcement resumes.
func ExemptionExpiringWithin(d Decision, now time.Time, days int) bool {
	if !d.Exempt || d.ExemptUntil.IsZero() || days < 0 || now.After(d.ExemptUntil) {
		return false
	}
	return calendarDays(now, d.ExemptUntil) <= int64(days)
}
