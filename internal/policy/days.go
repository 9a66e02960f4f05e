package policy

import (
	"math"
	"time"
)

const secondsPerDay = 24 * 60 * 60

// Age returns the whole days elapsed from created to now, in UTC:
// floor((now − created) / 24h). A created time after now gives 0. It works
// on seconds rather than time.Duration, which saturates after 292 years and
// would make a zero time look like a mere 106751 days.
func Age(created, now time.Time) int {
	return elapsedDays(created, now)
}

// elapsedDays is floor((to − from) / 24h), 0 when to is not after from, and
// clamped to math.MaxInt for times absurdly far apart.
func elapsedDays(from, to time.Time) int {
	if !to.After(from) {
		return 0
	}
	a, b := to.Unix(), from.Unix()
	if b < 0 && a > math.MaxInt64+b {
		return math.MaxInt
	}
	secs := a - b
	if to.Nanosecond() < from.Nanosecond() {
		secs-- // the last second is not complete
	}
	days := secs / secondsPerDay
	if days > math.MaxInt {
		return math.MaxInt
	}
	return int(days)
}

// unixDay numbers t's UTC calendar day (0 = 1970-01-01).
func unixDay(t time.Time) int64 {
	s := t.Unix()
	d := s / secondsPerDay
	if s%secondsPerDay < 0 {
		d--
	}
	return d
}

// calendarDays is the number of UTC calendar days from from's date to to's
// date; negative when to is on an earlier date.
func calendarDays(from, to time.Time) int64 {
	return unixDay(to) - unixDay(from)
}

// startOfDay is midnight UTC of t's UTC date.
func startOfDay(t time.Time) time.Time {
	return time.Unix(unixDay(t)*secondsPerDay, 0).UTC()
}

// addDays adds n days of 24 hours (exact in UTC). AddDate instead of
// Add(n*24h) so that huge n cannot overflow a time.Duration.
func addDays(t time.Time, n int) time.Time {
	return t.UTC().AddDate(0, 0, n)
}

// afterCalendarDays is the earliest instant at least n UTC calendar days
// after t's date: t itself for n ≤ 0, else midnight UTC n days after t's date.
func afterCalendarDays(t time.Time, n int) time.Time {
	if n <= 0 {
		return t.UTC()
	}
	return addDays(startOfDay(t), n)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// date formats t's UTC date for reasons and problems.
func date(t time.Time) string {
	return t.UTC().Format(time.DateOnly)
}
