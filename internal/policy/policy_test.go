package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST case loads America/New_York on any machine
)

const day = 24 * time.Hour

// runAt is the daily run every case is judged at unless it says otherwise.
var runAt = time.Date(2026, 6, 15, 8, 0, 0, 0, time.UTC)

func utc(y int, m time.Month, d, h, min, s int) time.Time {
	return time.Date(y, m, d, h, min, s, 0, time.UTC)
}

// createdAgo is the creation time that makes a key exactly age days old at
// runAt (the first instant of that age).
func createdAgo(age int) time.Time { return runAt.Add(-time.Duration(age) * day) }

func activeKey(age int) Key {
	return Key{ID: "AKIAIOSFODNN7EXAMPLE", User: "alice", Active: true, Created: createdAgo(age)}
}

func inactiveKey(age int) Key {
	k := activeKey(age)
	k.Active = false
	return k
}

// sent is a History whose notices for stages were sent at `at`.
func sent(at time.Time, stages ...Stage) History {
	h := History{Notices: map[Stage]time.Time{}}
	for _, s := range stages {
		h.Notices[s] = at
	}
	return h
}

var (
	w70, w80 = WarningStage(70), WarningStage(80)
	human    = User{Name: "alice", Tags: map[string]string{"UserType": "human", "Contact": "alice@example.com"}}
	machine  = User{Name: "ci-deployer", Tags: map[string]string{"UserType": "machine", "email": "platform@example.com"}}
)

// decideCase is one row of the Decide tables: the inputs, the three fields
// every case pins down, and optional further checks.
type decideCase struct {
	name   string
	cfg    *Config   // nil = DefaultConfig()
	now    time.Time // zero = runAt
	user   User
	key    Key
	hist   History
	stage  Stage
	action Action
	notice Stage
	age    int
	check  func(t *testing.T, d Decision)
}

func runDecide(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.cfg != nil {
				cfg = *tc.cfg
			}
			now := tc.now
			if now.IsZero() {
				now = runAt
			}
			user := tc.user
			if user.Name == "" {
				user = human
			}
			d := Decide(cfg, now, user, tc.key, tc.hist)
			if d.Stage != tc.stage || d.Action != tc.action || d.Notice != tc.notice || d.AgeDays != tc.age {
				t.Errorf("got stage %q action %q notice %q age %d; want stage %q action %q notice %q age %d\nreasons: %q",
					d.Stage, d.Action, d.Notice, d.AgeDays, tc.stage, tc.action, tc.notice, tc.age, d.Reasons)
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

// Checks shared by many cases.

func deadline(want time.Time) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if !d.Deadline.Equal(want) {
			t.Errorf("deadline %v, want %v", d.Deadline, want)
		}
	}
}

func reason(substr string) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		for _, r := range d.Reasons {
			if strings.Contains(r, substr) {
				return
			}
		}
		t.Errorf("no reason contains %q: %q", substr, d.Reasons)
	}
}

func noReason(substr string) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		for _, r := range d.Reasons {
			if strings.Contains(r, substr) {
				t.Errorf("reason %q should not be given", r)
			}
		}
	}
}

func all(checks ...func(*testing.T, Decision)) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		for _, c := range checks {
			c(t, d)
		}
	}
}

func cfgWith(edit func(*Config)) *Config {
	c := DefaultConfig()
	edit(&c)
	return &c
}

func TestAgeCountsWholeUTCDays(t *testing.T) {
	west := time.FixedZone("UTC-8", -8*60*60)
	india := time.FixedZone("UTC+5:30", 5*60*60+30*60)
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		created, now time.Time
		want         int
	}{
		{"exactly 70 days is 70", createdAgo(70), runAt, 70},
		{"one nanosecond short of 70 days is 69", createdAgo(70).Add(time.Nanosecond), runAt, 69},
		{"same instant is 0", runAt, runAt, 0},
		{"23h59m is 0", runAt.Add(-day + time.Minute), runAt, 0},
		{"created in the future is 0", runAt.Add(time.Hour), runAt, 0},
		{"created years in the future is 0", runAt.AddDate(5, 0, 0), runAt, 0},
		// Local calendars would say 71 days (Jan 1 to Mar 13); UTC
		// elapsed time is one second short of 70 days.
		{"zones: created in UTC-8, now in UTC+5:30, counted in UTC",
			time.Date(2026, 1, 1, 20, 0, 0, 0, west), time.Date(2026, 3, 13, 9, 29, 59, 0, india), 69},
		{"zones: one second later it is 70",
			time.Date(2026, 1, 1, 20, 0, 0, 0, west), time.Date(2026, 3, 13, 9, 30, 0, 0, india), 70},
		// The US spring-forward day is 23 hours long: not a whole day.
		{"DST: noon to noon across spring-forward is 23h, age 0",
			time.Date(2026, 3, 7, 12, 0, 0, 0, newYork), time.Date(2026, 3, 8, 12, 0, 0, 0, newYork), 0},
		{"DST: 24 hours later in UTC is 1",
			time.Date(2026, 3, 7, 12, 0, 0, 0, newYork), time.Date(2026, 3, 8, 13, 0, 0, 0, newYork), 1},
		{"leap day: 2028-02-29 to 2028-05-29 is 90", utc(2028, 2, 29, 0, 0, 0), utc(2028, 5, 29, 0, 0, 0), 90},
		{"leap day: 2028-02-29 to one second before 2028-05-29 is 89", utc(2028, 2, 29, 0, 0, 0), utc(2028, 5, 28, 23, 59, 59), 89},
		{"leap year: Dec 1 to Mar 1 across Feb 29 is 91", utc(2027, 12, 1, 0, 0, 0), utc(2028, 3, 1, 0, 0, 0), 91},
		{"common year: Dec 1 to Mar 1 is 90", utc(2026, 12, 1, 0, 0, 0), utc(2027, 3, 1, 0, 0, 0), 90},
		{"leap day counts: Feb 28 noon to Mar 1 noon 2028 is 2", utc(2028, 2, 28, 12, 0, 0), utc(2028, 3, 1, 12, 0, 0), 2},
		{"leap day to its anniversary-eve is 365", utc(2028, 2, 29, 0, 0, 0), utc(2029, 2, 28, 0, 0, 0), 365},
		{"zero creation time counts from year 1 (Decide refuses it)", time.Time{}, runAt, 739781},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Age(tc.created, tc.now); got != tc.want {
				t.Errorf("Age(%v, %v) = %d, want %d", tc.created, tc.now, got, tc.want)
			}
		})
	}
}

func TestDecideStageBoundaries(t *testing.T) {
	both := sent(runAt.Add(-5*day), w70, w80)
	runDecide(t, []decideCase{
		{name: "new key is ok", key: activeKey(0), stage: StageOK, action: ActionNone, age: 0,
			check: all(deadline(createdAgo(0).Add(90*day)), reason("below the first warning at 70 days"))},
		{name: "day 69 (one second short of 70) is ok", key: Key{ID: "K", Active: true, Created: createdAgo(70).Add(time.Second)},
			stage: StageOK, action: ActionNone, age: 69},
		{name: "day 70 exactly sends warning-70", key: activeKey(70), stage: w70, action: ActionNotify, notice: w70, age: 70,
			check: all(deadline(runAt.Add(20*day)), reason("stage warning-70, limit 90 days"))},
		{name: "day 71 after warning-70 was sent sends nothing", key: activeKey(71), hist: sent(runAt.Add(-day), w70),
			stage: w70, action: ActionNone, age: 71, check: reason("warning-70 notice already sent 2026-06-14")},
		{name: "day 79 is still warning-70", key: activeKey(79), hist: sent(runAt.Add(-9*day), w70),
			stage: w70, action: ActionNone, age: 79},
		{name: "day 80 sends warning-80", key: activeKey(80), hist: sent(runAt.Add(-10*day), w70),
			stage: w80, action: ActionNotify, notice: w80, age: 80, check: deadline(runAt.Add(10 * day))},
		{name: "day 81 after warning-80 sends nothing", key: activeKey(81), hist: both, stage: w80, action: ActionNone, age: 81},
		{name: "day 89 (one second short of 90) is still warning-80", key: Key{ID: "K", Active: true, Created: createdAgo(90).Add(time.Second)},
			hist: both, stage: w80, action: ActionNone, age: 89},
		{name: "day 90 with grace 0 sends final and deactivates in the same run", key: activeKey(90), hist: both,
			stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 90,
			check: all(deadline(runAt), reason("no grace period"))},
		{name: "day 91 still active after final (failed or dry run) deactivates and says so once", key: activeKey(91),
			hist: sent(runAt.Add(-day), w70, w80, StageFinal), stage: StageDeactivate, action: ActionDeactivate, notice: StageDeactivate, age: 91,
			check: deadline(runAt.Add(-day))},
		{name: "day 91 with every notice sent deactivates without a new notice", key: activeKey(91),
			hist: sent(runAt.Add(-day), w70, w80, StageFinal, StageDeactivate), stage: StageDeactivate, action: ActionDeactivate, age: 91},
		{name: "reactivated key past the limit is deactivated again", key: activeKey(120),
			hist:  History{Notices: sent(runAt.Add(-30*day), w70, w80, StageFinal, StageDeactivate).Notices, DeactivatedAt: runAt.Add(-30 * day)},
			stage: StageDeactivate, action: ActionDeactivate, age: 120, check: reason("reactivated after keywarden deactivated it on 2026-05-16")},
	})
}

// Decide counts the age in UTC whatever zones its inputs carry, and a leap
// day is an ordinary day.
func TestDecideCountsAgeInUTC(t *testing.T) {
	west := time.FixedZone("UTC-8", -8*60*60)
	india := time.FixedZone("UTC+5:30", 5*60*60+30*60)
	zoned := Key{ID: "K", Active: true, Created: time.Date(2026, 1, 1, 20, 0, 0, 0, west)}
	leap := Key{ID: "K", Active: true, Created: utc(2028, 2, 29, 9, 0, 0)}
	runDecide(t, []decideCase{
		{name: "zones: local dates say 71 days, UTC says 69: ok", now: time.Date(2026, 3, 13, 9, 29, 59, 0, india), key: zoned,
			stage: StageOK, action: ActionNone, age: 69, check: deadline(utc(2026, 4, 2, 4, 0, 0))},
		{name: "zones: 70 UTC days later: warning-70", now: time.Date(2026, 3, 13, 9, 30, 0, 0, india), key: zoned,
			stage: w70, action: ActionNotify, notice: w70, age: 70},
		{name: "leap day: key created 2028-02-29 is 89 days old one second before 2028-05-29 09:00", now: utc(2028, 5, 29, 8, 59, 59), key: leap,
			stage: w80, action: ActionNotify, notice: w80, age: 89},
		{name: "leap day: key created 2028-02-29 reaches 90 days on 2028-05-29", now: utc(2028, 5, 29, 9, 0, 0), key: leap,
			hist: sent(utc(2028, 5, 19, 9, 0, 0), w70, w80), stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 90},
		{name: "leap day: grace 3 from 2028-02-27 crosses Feb 29", cfg: cfgWith(func(c *Config) { c.GraceDays = 3 }), now: utc(2028, 3, 1, 8, 0, 0),
			key: Key{ID: "K", Active: true, Created: utc(2027, 11, 1, 0, 0, 0)}, hist: sent(utc(2028, 2, 27, 8, 0, 0), w70, w80, StageFinal),
			stage: StageDeactivate, action: ActionDeactivate, notice: StageDeactivate, age: 121, check: deadline(utc(2028, 3, 1, 0, 0, 0))},
	})
}

func TestDecideGraceDays(t *testing.T) {
	g3 := cfgWith(func(c *Config) { c.GraceDays = 3 })
	finalDay := runAt // the day-90 run that sent the final notice
	afterFinal := sent(finalDay, w70, w80, StageFinal)
	deactivationDay := utc(2026, 6, 18, 0, 0, 0)
	runDecide(t, []decideCase{
		{name: "grace 3: warning deadline is the UTC date of created+90+3", cfg: g3, key: activeKey(80),
			hist: sent(runAt.Add(-10*day), w70), stage: w80, action: ActionNotify, notice: w80, age: 80,
			check: deadline(utc(2026, 6, 28, 0, 0, 0))},
		{name: "grace 3: day 90 sends the final notice only", cfg: g3, key: activeKey(90), hist: sent(runAt.Add(-10*day), w70, w80),
			stage: StageFinal, action: ActionNotify, notice: StageFinal, age: 90,
			check: all(deadline(deactivationDay), reason("final notice now; deactivation on 2026-06-18, after the 3-day grace"))},
		{name: "grace 3: day 91 waits", cfg: g3, now: finalDay.Add(day), key: activeKey(90), hist: afterFinal,
			stage: StageFinal, action: ActionNone, age: 91, check: deadline(deactivationDay)},
		{name: "grace 3: day 92, last second before the deadline, waits", cfg: g3, now: deactivationDay.Add(-time.Nanosecond),
			key: activeKey(90), hist: afterFinal, stage: StageFinal, action: ActionNone, age: 92},
		{name: "grace 3: day 93 deactivates and says so", cfg: g3, now: finalDay.Add(3 * day), key: activeKey(90), hist: afterFinal,
			stage: StageDeactivate, action: ActionDeactivate, notice: StageDeactivate, age: 93,
			check: all(deadline(deactivationDay), reason("the 3-day grace is over"))},
		// Grace counts UTC dates: a run 10 s earlier in the day than the one
		// that sent the final notice must not slip a day.
		{name: "grace 3: day 93 run firing earlier in the day still deactivates", cfg: g3, now: finalDay.Add(3*day - 10*time.Second),
			key: activeKey(90), hist: afterFinal, stage: StageDeactivate, action: ActionDeactivate, notice: StageDeactivate, age: 92},
		{name: "grace 3: missed runs, first run at day 95 sends final and restarts the grace", cfg: g3, key: activeKey(95),
			stage: StageFinal, action: ActionNotify, notice: StageFinal, age: 95, check: deadline(deactivationDay)},
		{name: "grace 3: final notice recorded without a time (migrated ledger): grace taken as over", cfg: g3, key: activeKey(95),
			hist: sent(time.Time{}, w70, w80, StageFinal), stage: StageDeactivate, action: ActionDeactivate, notice: StageDeactivate, age: 95,
			check: all(deadline(runAt), reason("unknown time"))},
		{name: "grace 0: final notice sent at a later time of day in the ledger than now still counts", key: activeKey(91),
			hist: sent(runAt.Add(-day+time.Hour), StageFinal), stage: StageDeactivate, action: ActionDeactivate, notice: StageDeactivate, age: 91},
	})
}

// A second run on the same day — the schedule firing twice, a retried
// execution — sends nothing new, at every stage, with and without grace.
func TestSecondRunSameDaySendsNothingNew(t *testing.T) {
	for _, grace := range []int{0, 3} {
		for _, age := range []int{70, 75, 80, 90, 95} {
			t.Run(fmt.Sprintf("grace %d day %d", grace, age), func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.GraceDays = grace
				k := activeKey(age)
				h := History{Notices: map[Stage]time.Time{}}
				first := Decide(cfg, runAt, human, k, h)
				if first.Notice == "" {
					t.Fatalf("first run sent nothing: %+v", first)
				}
				h.Notices[first.Notice] = runAt
				if first.Action == ActionDeactivate {
					k.Active, h.DeactivatedAt = false, runAt
				}
				second := Decide(cfg, runAt.Add(2*time.Minute), human, k, h)
				if second.Notice != "" || second.Action != ActionNone {
					t.Errorf("second run: notice %q action %q, want nothing; reasons %q", second.Notice, second.Action, second.Reasons)
				}
			})
		}
	}
}

func TestDecideSkippedRuns(t *testing.T) {
	runDecide(t, []decideCase{
		{name: "day 70 missed: run at 71 sends warning-70", key: activeKey(71), stage: w70, action: ActionNotify, notice: w70, age: 71},
		{name: "day 80 missed: run at 83 sends warning-80", key: activeKey(83), hist: sent(runAt.Add(-13*day), w70),
			stage: w80, action: ActionNotify, notice: w80, age: 83},
		{name: "both warnings missed: run at 85 sends only warning-80 and says so", key: activeKey(85),
			stage: w80, action: ActionNotify, notice: w80, age: 85, check: reason("warning-70 was never sent (missed runs); only warning-80 is sent")},
		{name: "after a skipped warning-70, later runs do not repeat that it was skipped", key: activeKey(86), hist: sent(runAt.Add(-day), w80),
			stage: w80, action: ActionNone, age: 86, check: noReason("never sent")},
		{name: "day 90 missed: run at 92 sends final and deactivates", key: activeKey(92), hist: sent(runAt.Add(-12*day), w70, w80),
			stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 92},
		{name: "every stage missed: run at 150 still sends final before deactivating", key: activeKey(150),
			stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 150},
	})
}

func TestDecideKeysDatedInTheFuture(t *testing.T) {
	cfg := cfgWith(func(c *Config) { c.DeleteAfterDays = 1; c.UnusedDays = 1 })
	runDecide(t, []decideCase{
		{name: "created an hour from now: age 0, not acted on", key: Key{ID: "K", Active: true, Created: runAt.Add(time.Hour)},
			stage: StageOK, action: ActionNone, age: 0, check: all(reason("clock skew or bad data"), func(t *testing.T, d Decision) {
				if d.Problem == "" || !d.Deadline.IsZero() {
					t.Errorf("problem %q deadline %v", d.Problem, d.Deadline)
				}
			})},
		{name: "created next year, never used, unused rule on: not acted on", cfg: cfg,
			key: Key{ID: "K", Active: true, Created: runAt.AddDate(1, 0, 0)}, stage: StageOK, action: ActionNone, age: 0},
		{name: "inactive key created in the future is not deleted", cfg: cfg,
			key: Key{ID: "K", Created: runAt.Add(time.Minute)}, hist: History{DeactivatedAt: runAt.AddDate(-1, 0, 0)},
			stage: StageOK, action: ActionNone, age: 0},
		{name: "unknown creation time is not acted on", cfg: cfg, key: Key{ID: "K", Active: true},
			stage: StageOK, action: ActionNone, age: 0, check: reason("creation time unknown")},
	})
}

func TestDecideExemption(t *testing.T) {
	exempt := func(value string, tags ...string) User {
		u := User{Name: "alice", Tags: map[string]string{"UserType": "human", "keywarden:exempt": value}}
		for i := 0; i+1 < len(tags); i += 2 {
			u.Tags[tags[i]] = tags[i+1]
		}
		return u
	}
	isExempt := func(until time.Time, why string) func(*testing.T, Decision) {
		return func(t *testing.T, d Decision) {
			t.Helper()
			if !d.Exempt || !d.ExemptUntil.Equal(until) || d.ExemptReason != why || d.ExemptionProblem != "" || !d.Deadline.IsZero() {
				t.Errorf("exempt %v until %v reason %q problem %q deadline %v; want until %v reason %q",
					d.Exempt, d.ExemptUntil, d.ExemptReason, d.ExemptionProblem, d.Deadline, until, why)
			}
		}
	}
	notExempt := func(problem string) func(*testing.T, Decision) {
		return func(t *testing.T, d Decision) {
			t.Helper()
			if d.Exempt || !strings.Contains(d.ExemptionProblem, problem) {
				t.Errorf("exempt %v problem %q; want not exempt, problem containing %q", d.Exempt, d.ExemptionProblem, problem)
			}
		}
	}
	endOf := func(y int, m time.Month, d int) time.Time { return utc(y, m, d, 0, 0, 0).Add(day - time.Nanosecond) }
	noCap := cfgWith(func(c *Config) { c.MaxExemptionDays = 0 })
	deletes := cfgWith(func(c *Config) { c.DeleteAfterDays = 30 })
	runDecide(t, []decideCase{
		{name: "valid exemption: key past the limit is left alone", user: exempt("2026-07-01 vendor migration SEC-123"), key: activeKey(95),
			stage: StageOK, action: ActionNone, age: 95,
			check: all(isExempt(endOf(2026, 7, 1), "vendor migration SEC-123"), reason("exempt until 2026-07-01: vendor migration SEC-123"))},
		{name: "valid exemption: no warning notice either", user: exempt("2026-07-01 migration"), key: activeKey(70),
			stage: StageOK, action: ActionNone, age: 70},
		{name: "exemption expires today: still exempt this morning", user: exempt("2026-06-15 last day"), key: activeKey(95),
			stage: StageOK, action: ActionNone, age: 95, check: isExempt(endOf(2026, 6, 15), "last day")},
		{name: "exemption expires today: still exempt at the last nanosecond", now: endOf(2026, 6, 15), user: exempt("2026-06-15 last day"),
			key: activeKey(95), stage: StageOK, action: ActionNone, age: 95},
		{name: "exemption expired at midnight UTC: enforced again", now: utc(2026, 6, 16, 0, 0, 0), user: exempt("2026-06-15 last day"),
			key: activeKey(95), hist: sent(runAt.Add(-5*day), w70, w80, StageFinal),
			stage: StageDeactivate, action: ActionDeactivate, notice: StageDeactivate, age: 95,
			check: notExempt("exemption expired on 2026-06-15 (last day)")},
		{name: "exemption expired yesterday: final notice and deactivation", user: exempt("2026-06-14 migration"), key: activeKey(95),
			stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 95,
			check: all(notExempt("expired on 2026-06-14"), reason("not exempt: exemption expired on 2026-06-14"))},
		{name: "unparsable date: not exempt", user: exempt("2026-13-01 migration"), key: activeKey(70),
			stage: w70, action: ActionNotify, notice: w70, age: 70, check: notExempt(`"2026-13-01 migration" does not start with a valid date`)},
		{name: "free text instead of a date: not exempt", user: exempt("until next week please"), key: activeKey(70),
			stage: w70, action: ActionNotify, notice: w70, age: 70, check: notExempt("YYYY-MM-DD reason")},
		{name: "date glued to the reason: not exempt", user: exempt("2026-07-01:migration"), key: activeKey(70),
			stage: w70, action: ActionNotify, notice: w70, age: 70, check: notExempt("does not start with a valid date")},
		{name: "February 29 of a common year: not exempt", user: exempt("2027-02-29 migration"), key: activeKey(70),
			stage: w70, action: ActionNotify, notice: w70, age: 70, check: notExempt("does not start with a valid date")},
		{name: "February 29 of a leap year is a valid end date", cfg: noCap, user: exempt("2028-02-29 long migration"), key: activeKey(95),
			stage: StageOK, action: ActionNone, age: 95, check: isExempt(endOf(2028, 2, 29), "long migration")},
		{name: "missing reason: not exempt", user: exempt("2026-07-01"), key: activeKey(70),
			stage: w70, action: ActionNotify, notice: w70, age: 70, check: notExempt("has no reason after the date")},
		{name: "only blanks after the date: not exempt", user: exempt("2026-07-01   "), key: activeKey(70),
			stage: w70, action: ActionNotify, notice: w70, age: 70, check: notExempt("has no reason after the date")},
		{name: "empty tag value: not exempt", user: exempt(""), key: activeKey(70),
			stage: w70, action: ActionNotify, notice: w70, age: 70, check: notExempt("exemption tag is empty")},
		{name: "exemption further ahead than maxExemptionDays: not exempt", user: exempt("2099-12-31 forever"), key: activeKey(95),
			stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 95, check: notExempt("more than 365 days ahead")},
		{name: "exemption exactly maxExemptionDays ahead is allowed", user: exempt("2027-06-15 one year"), key: activeKey(95),
			stage: StageOK, action: ActionNone, age: 95, check: isExempt(endOf(2027, 6, 15), "one year")},
		{name: "surrounding blanks and tabs are tolerated", user: exempt(" 2026-07-01\tvendor  migration "), key: activeKey(95),
			stage: StageOK, action: ActionNone, age: 95, check: isExempt(endOf(2026, 7, 1), "vendor  migration")},
		{name: "the reason keeps its case; a no-break space around the value is tolerated", user: exempt("\u00a02026-07-01 Vendor Migration SEC-123 "),
			key: activeKey(95), stage: StageOK, action: ActionNone, age: 95, check: isExempt(endOf(2026, 7, 1), "Vendor Migration SEC-123")},
		{name: "exempt machine user gets no notice", user: exempt("2026-07-01 migration", "UserType", "machine"), key: activeKey(90),
			stage: StageOK, action: ActionNone, age: 90},
		{name: "exempt inactive key is not deleted", cfg: deletes, user: exempt("2026-07-01 forensics hold"), key: inactiveKey(300),
			hist: History{DeactivatedAt: runAt.AddDate(0, -6, 0)}, stage: StageOK, action: ActionNone, age: 300,
			check: deadline(runAt.AddDate(0, -6, 0))},
	})
}

func TestExemptionExpiringWithin(t *testing.T) {
	exemptUntil := func(y int, m time.Month, d int) Decision {
		return Decision{Exempt: true, ExemptUntil: utc(y, m, d, 0, 0, 0).Add(day - time.Nanosecond)}
	}
	for _, tc := range []struct {
		name string
		d    Decision
		days int
		want bool
	}{
		{"ends today: within 14", exemptUntil(2026, 6, 15), 14, true},
		{"ends today: within 0", exemptUntil(2026, 6, 15), 0, true},
		{"ends tomorrow: not within 0", exemptUntil(2026, 6, 16), 0, false},
		{"ends in 14 days: within 14", exemptUntil(2026, 6, 29), 14, true},
		{"ends in 15 days: not within 14", exemptUntil(2026, 6, 30), 14, false},
		{"already ended: not listed (Decide reports it as a problem)", exemptUntil(2026, 6, 14), 14, false},
		{"not exempt", Decision{ExemptUntil: utc(2026, 6, 20, 0, 0, 0)}, 14, false},
		{"exempt without an end (not from Decide)", Decision{Exempt: true}, 14, false},
		{"negative window", exemptUntil(2026, 6, 15), -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExemptionExpiringWithin(tc.d, runAt, tc.days); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("from Decide", func(t *testing.T) {
		u := User{Name: "alice", Tags: map[string]string{"keywarden:exempt": "2026-06-20 migration"}}
		d := Decide(DefaultConfig(), runAt, u, activeKey(95), History{})
		if !ExemptionExpiringWithin(d, runAt, 14) || ExemptionExpiringWithin(d, runAt, 4) {
			t.Errorf("%+v", d)
		}
	})
}

func TestDecideNotifyOnlyMachineUser(t *testing.T) {
	notifyOnly := func(t *testing.T, d Decision) {
		t.Helper()
		if !d.NotifyOnly || !d.Deadline.IsZero() || d.UserType != "machine" || d.Contact != "platform@example.com" {
			t.Errorf("notifyOnly %v deadline %v type %q contact %q", d.NotifyOnly, d.Deadline, d.UserType, d.Contact)
		}
		reason("notify only (machine user)")(t, d)
	}
	unused := cfgWith(func(c *Config) { c.UnusedDays = 30 })
	deletes := cfgWith(func(c *Config) { c.DeleteAfterDays = 30; c.GraceDays = 3 })
	everyone := cfgWith(func(c *Config) { c.NotifyOnlyUserTypes = []string{"*"} })
	runDecide(t, []decideCase{
		{name: "machine day 69: ok", user: machine, key: Key{ID: "K", Active: true, Created: createdAgo(70).Add(time.Second)},
			stage: StageOK, action: ActionNone, age: 69, check: notifyOnly},
		{name: "machine day 70: warning-70", user: machine, key: activeKey(70), stage: w70, action: ActionNotify, notice: w70, age: 70, check: notifyOnly},
		{name: "machine day 80: warning-80", user: machine, key: activeKey(80), hist: sent(runAt, w70),
			stage: w80, action: ActionNotify, notice: w80, age: 80, check: notifyOnly},
		{name: "machine day 90: final notice, no deactivation", user: machine, key: activeKey(90), hist: sent(runAt, w70, w80),
			stage: StageFinal, action: ActionNotify, notice: StageFinal, age: 90, check: notifyOnly},
		{name: "machine day 93 with grace 3: still no deactivation", cfg: deletes, user: machine, key: activeKey(93),
			hist: sent(runAt.Add(-3*day), w70, w80, StageFinal), stage: StageFinal, action: ActionNone, age: 93, check: notifyOnly},
		{name: "machine day 400: final already sent, nothing", user: machine, key: activeKey(400),
			hist: sent(runAt.AddDate(0, -9, 0), w70, w80, StageFinal), stage: StageFinal, action: ActionNone, age: 400, check: notifyOnly},
		{name: "machine never-used key: final notice, no deactivation", cfg: unused, user: machine, key: activeKey(40),
			stage: StageFinal, action: ActionNotify, notice: StageFinal, age: 40, check: all(notifyOnly, func(t *testing.T, d Decision) {
				if !d.Unused {
					t.Error("unused rule should apply")
				}
			})},
		{name: "machine inactive key past deleteAfterDays: never deleted", cfg: deletes, user: machine, key: inactiveKey(300),
			hist: History{DeactivatedAt: runAt.AddDate(0, -6, 0)}, stage: StageOK, action: ActionNone, age: 300,
			check: all(reason("notify-only keys are never deleted"), func(t *testing.T, d Decision) {
				if !d.DeleteDue.IsZero() {
					t.Errorf("delete due %v", d.DeleteDue)
				}
			})},
		{name: `notifyOnlyUserTypes "*": a human is notified only`, cfg: everyone, key: activeKey(90),
			stage: StageFinal, action: ActionNotify, notice: StageFinal, age: 90, check: reason(`notifyOnlyUserTypes is "*"`)},
	})
}

// System 2 (SOURCES.md): warnings on day 70 and 80, final notice and
// deactivation from day 90 — for UserType=Employee only; everyone else
// (machine users) is only notified. Address from the "email" tag.
func TestDecideSystem2Configuration(t *testing.T) {
	cfg := DefaultConfig()
	cfg.EnforcedUserTypes = []string{"Employee"}
	cfg.NotifyOnlyUserTypes = nil
	cfg.ContactTags = []string{"email"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	employee := User{Name: "bob", Tags: map[string]string{"UserType": "Employee", "email": "bob@example.com"}}
	service := User{Name: "etl", Tags: map[string]string{"UserType": "Service", "email": "data@example.com"}}
	untagged := User{Name: "legacy", Tags: map[string]string{}}
	lowercase := User{Name: "carol", Tags: map[string]string{"UserType": "employee"}}
	enforced := func(t *testing.T, d Decision) {
		t.Helper()
		if d.NotifyOnly || d.Contact != "bob@example.com" {
			t.Errorf("notifyOnly %v contact %q", d.NotifyOnly, d.Contact)
		}
	}
	notified := func(t *testing.T, d Decision) {
		t.Helper()
		if !d.NotifyOnly || !d.Deadline.IsZero() {
			t.Errorf("notifyOnly %v deadline %v", d.NotifyOnly, d.Deadline)
		}
	}
	runDecide(t, []decideCase{
		{name: "employee day 69: nothing", cfg: &cfg, user: employee, key: activeKey(69), stage: StageOK, action: ActionNone, age: 69, check: enforced},
		{name: "employee day 70: first warning", cfg: &cfg, user: employee, key: activeKey(70), stage: w70, action: ActionNotify, notice: w70, age: 70, check: enforced},
		{name: "employee day 80: second warning", cfg: &cfg, user: employee, key: activeKey(80), hist: sent(runAt, w70),
			stage: w80, action: ActionNotify, notice: w80, age: 80, check: enforced},
		{name: "employee day 90: final notice and deactivation", cfg: &cfg, user: employee, key: activeKey(90), hist: sent(runAt, w70, w80),
			stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 90, check: enforced},
		{name: "employee day 120, first run ever: final notice and deactivation", cfg: &cfg, user: employee, key: activeKey(120),
			stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 120, check: enforced},
		{name: "service user day 90: final notice only", cfg: &cfg, user: service, key: activeKey(90), hist: sent(runAt, w70, w80),
			stage: StageFinal, action: ActionNotify, notice: StageFinal, age: 90, check: all(notified, reason(`user type "Service" is not in enforcedUserTypes [Employee]`))},
		{name: "service user day 70: warned like an employee", cfg: &cfg, user: service, key: activeKey(70),
			stage: w70, action: ActionNotify, notice: w70, age: 70, check: notified},
		{name: "untagged user day 90: notified only (enforced only under *)", cfg: &cfg, user: untagged, key: activeKey(90),
			stage: StageFinal, action: ActionNotify, notice: StageFinal, age: 90, check: all(notified, reason("untagged (no UserType tag)"))},
		// The older setup's users carry "employee" where its settings say
		// "Employee": one type.
		{name: "type match ignores case: employee is enforced", cfg: &cfg, user: lowercase, key: activeKey(90), hist: sent(runAt, w70, w80),
			stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 90, check: func(t *testing.T, d Decision) {
				if d.NotifyOnly || d.UserType != "employee" {
					t.Errorf("notifyOnly %v type %q", d.NotifyOnly, d.UserType)
				}
			}},
		// Where system 2 misfired (exact-day matching), keywarden does not.
		{name: "employee day 71 after a skipped day: still warned", cfg: &cfg, user: employee, key: activeKey(71),
			stage: w70, action: ActionNotify, notice: w70, age: 71},
		{name: "employee day 70 re-run: not warned twice", cfg: &cfg, user: employee, key: activeKey(70), hist: sent(runAt.Add(-time.Hour), w70),
			stage: w70, action: ActionNone, age: 70},
	})
}

// System 3 (SOURCES.md): first notice at 30 days, deactivation at 37 (the
// owner has seven days after the first notice), every user. Address from
// the "Contact" tag.
func TestDecideSystem3Configuration(t *testing.T) {
	cfg := DefaultConfig()
	cfg.WarnDays = []int{30}
	cfg.LimitDays, cfg.RotationDays = 37, 0
	cfg.EnforcedUserTypes = []string{"*"}
	cfg.NotifyOnlyUserTypes = nil
	cfg.ContactTags = []string{"Contact"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	w30 := WarningStage(30)
	dave := User{Name: "dave", Tags: map[string]string{"Contact": "dave@example.com"}}
	bot := User{Name: "bot", Tags: map[string]string{"UserType": "machine"}}
	runDecide(t, []decideCase{
		{name: "day 29: nothing", cfg: &cfg, user: dave, key: activeKey(29), stage: StageOK, action: ActionNone, age: 29},
		{name: "day 30: notice, deactivation announced for day 37", cfg: &cfg, user: dave, key: activeKey(30),
			stage: w30, action: ActionNotify, notice: w30, age: 30, check: all(deadline(runAt.Add(7*day)), func(t *testing.T, d Decision) {
				if d.Contact != "dave@example.com" {
					t.Errorf("contact %q", d.Contact)
				}
			})},
		{name: "day 33 after missed runs: the notice still goes out", cfg: &cfg, user: dave, key: activeKey(33),
			stage: w30, action: ActionNotify, notice: w30, age: 33},
		{name: "day 36: waiting", cfg: &cfg, user: dave, key: activeKey(36), hist: sent(runAt.Add(-6*day), w30),
			stage: w30, action: ActionNone, age: 36},
		{name: "day 37: deactivated with the final notice", cfg: &cfg, user: dave, key: activeKey(37), hist: sent(runAt.Add(-7*day), w30),
			stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 37},
		{name: "day 37, machine-typed user: enforced too (no notify-only types)", cfg: &cfg, user: bot, key: activeKey(37),
			hist: sent(runAt.Add(-7*day), w30), stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 37},
	})
}

func TestDecideUnusedKeys(t *testing.T) {
	cfg := cfgWith(func(c *Config) { c.UnusedDays = 30 })
	eager := cfgWith(func(c *Config) { c.UnusedDays = 1 })
	graced := cfgWith(func(c *Config) { c.UnusedDays = 30; c.GraceDays = 3 })
	usedAgo := func(age, idle int) Key {
		k := activeKey(age)
		k.LastUsed = runAt.Add(-time.Duration(idle) * day)
		return k
	}
	isUnused := func(want bool) func(*testing.T, Decision) {
		return func(t *testing.T, d Decision) {
			t.Helper()
			if d.Unused != want {
				t.Errorf("unused %v, want %v; reasons %q", d.Unused, want, d.Reasons)
			}
		}
	}
	runDecide(t, []decideCase{
		{name: "never used, 30 days old: final notice and deactivation", cfg: cfg, key: activeKey(30),
			stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 30,
			check: all(isUnused(true), reason("never used in 30 days (unused limit 30 days)"), deadline(runAt))},
		{name: "never used, 29 days old: not yet", cfg: cfg, key: activeKey(29), stage: StageOK, action: ActionNone, age: 29, check: isUnused(false)},
		{name: "last used 45 days ago: deactivated", cfg: cfg, key: usedAgo(60, 45),
			stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 60,
			check: all(isUnused(true), reason("not used for 45 days, since 2026-05-01"))},
		{name: "last used exactly 30 days ago: deactivated", cfg: cfg, key: usedAgo(60, 30),
			stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 60, check: isUnused(true)},
		{name: "recently used: normal age stages", cfg: cfg, key: usedAgo(75, 2), stage: w70, action: ActionNotify, notice: w70, age: 75, check: isUnused(false)},
		{name: "rule off (unusedDays 0): never-used old key only warned by age", key: activeKey(75), stage: w70, action: ActionNotify, notice: w70, age: 75, check: isUnused(false)},
		{name: "new-key grace wins: never used, 6 days old, unusedDays 1", cfg: eager, key: activeKey(6), stage: StageOK, action: ActionNone, age: 6, check: isUnused(false)},
		{name: "new-key grace ends on day 7", cfg: eager, key: activeKey(7), stage: StageDeactivate, action: ActionDeactivate, notice: StageFinal, age: 7, check: isUnused(true)},
		{name: "unused with grace 3: final notice first", cfg: graced, key: activeKey(40), stage: StageFinal, action: ActionNotify, notice: StageFinal, age: 40,
			check: all(isUnused(true), deadline(utc(2026, 6, 18, 0, 0, 0)))},
		{name: "last used before creation (bad data) counts from creation", cfg: cfg, key: usedAgo(10, 100), stage: StageOK, action: ActionNone, age: 10, check: isUnused(false)},
		{name: "last used in the future (clock skew) counts as just used", cfg: cfg, key: usedAgo(60, -1), stage: StageOK, action: ActionNone, age: 60, check: isUnused(false)},
		{name: "used again after the unused final notice: warnings follow the age", cfg: cfg, key: usedAgo(72, 1),
			hist: sent(runAt.Add(-20*day), StageFinal), stage: w70, action: ActionNotify, notice: w70, age: 72, check: isUnused(false)},
	})
}

func TestDecideInactiveKeys(t *testing.T) {
	del30 := cfgWith(func(c *Config) { c.DeleteAfterDays = 30 })
	del1 := cfgWith(func(c *Config) { c.DeleteAfterDays = 1 })
	deactivated := func(at time.Time) History { return History{DeactivatedAt: at} }
	lastUsed := func(k Key, at time.Time) Key { k.LastUsed = at; return k }
	deleteDue := func(want time.Time) func(*testing.T, Decision) {
		return func(t *testing.T, d Decision) {
			t.Helper()
			if !d.DeleteDue.Equal(want) {
				t.Errorf("delete due %v, want %v", d.DeleteDue, want)
			}
		}
	}
	runDecide(t, []decideCase{
		{name: "deletion off: an old inactive key is left alone", key: inactiveKey(400), hist: deactivated(runAt.AddDate(-1, 0, 0)),
			stage: StageOK, action: ActionNone, age: 400, check: all(reason("deleting inactive keys is off"), deadline(runAt.AddDate(-1, 0, 0)))},
		{name: "inactive keys are never warned", key: inactiveKey(70), stage: StageOK, action: ActionNone, age: 70},
		{name: "inactive keys get no final notice", key: inactiveKey(90), stage: StageOK, action: ActionNone, age: 90},
		{name: "deactivated 30 days ago: deleted with a notice", cfg: del30, key: inactiveKey(120), hist: deactivated(runAt.Add(-30 * day)),
			stage: StageDelete, action: ActionDelete, notice: StageDelete, age: 120, check: reason("(deactivated by keywarden), 30 days or more: delete")},
		{name: "deactivated 29 days ago: not yet, due tomorrow", cfg: del30, key: inactiveKey(119), hist: deactivated(runAt.Add(-29 * day)),
			stage: StageOK, action: ActionNone, age: 119, check: deleteDue(utc(2026, 6, 16, 0, 0, 0))},
		{name: "deactivated 30 calendar days ago by a later-in-the-day run: deleted", cfg: del30, key: inactiveKey(120),
			hist: deactivated(runAt.Add(-30*day + time.Minute)), stage: StageDelete, action: ActionDelete, notice: StageDelete, age: 120},
		{name: "delete notice already sent (deletion failed): delete without a notice", cfg: del30, key: inactiveKey(121),
			hist:  History{Notices: sent(runAt.Add(-day), StageDelete).Notices, DeactivatedAt: runAt.Add(-31 * day)},
			stage: StageDelete, action: ActionDelete, age: 121},
		{name: "not deactivated by keywarden: counted from creation + limit, 30 days reached", cfg: del30, key: inactiveKey(120),
			stage: StageDelete, action: ActionDelete, notice: StageDelete, age: 120, check: reason("counted from creation + limit")},
		{name: "not deactivated by keywarden: counted from creation + limit, 29 days", cfg: del30, key: inactiveKey(119),
			stage: StageOK, action: ActionNone, age: 119, check: deleteDue(utc(2026, 6, 16, 0, 0, 0))},
		{name: "unknown deactivation but used 10 days ago: counted from last use", cfg: del30, key: lastUsed(inactiveKey(200), runAt.Add(-10*day)),
			stage: StageOK, action: ActionNone, age: 200, check: all(reason("last used then"), deleteDue(utc(2026, 7, 5, 0, 0, 0)))},
		{name: "used after keywarden deactivated it: counted from last use", cfg: del30, key: lastUsed(inactiveKey(200), runAt.Add(-5*day)),
			hist: deactivated(runAt.Add(-60 * day)), stage: StageOK, action: ActionNone, age: 200, check: deleteDue(utc(2026, 7, 10, 0, 0, 0))},
		{name: "new-key grace: a 3-day-old inactive key is not deleted", cfg: del1, key: inactiveKey(3), hist: deactivated(runAt.Add(-3 * day)),
			stage: StageOK, action: ActionNone, age: 3, check: deleteDue(createdAgo(3).Add(7 * day))},
		{name: "new-key grace over: deleted on day 7", cfg: del1, key: inactiveKey(7), hist: deactivated(runAt.Add(-3 * day)),
			stage: StageDelete, action: ActionDelete, notice: StageDelete, age: 7},
	})
}

func TestDecideContact(t *testing.T) {
	for _, tc := range []struct {
		name        string
		contactTags []string
		tags        map[string]string
		want        string
	}{
		{"first listed tag wins", []string{"Contact", "email"}, map[string]string{"Contact": "a@example.com", "email": "b@example.com"}, "a@example.com"},
		{"order follows contactTags, not the user's tags", []string{"email", "Contact"}, map[string]string{"Contact": "a@example.com", "email": "b@example.com"}, "b@example.com"},
		{"blank first tag falls through", []string{"Contact", "email"}, map[string]string{"Contact": "  ", "email": "b@example.com"}, "b@example.com"},
		{"empty first tag falls through", []string{"Contact", "email"}, map[string]string{"Contact": "", "email": "b@example.com"}, "b@example.com"},
		{"only the second tag", []string{"Contact", "email"}, map[string]string{"email": "b@example.com"}, "b@example.com"},
		{"value returned as is", []string{"Contact"}, map[string]string{"Contact": " Team <t@example.com> "}, " Team <t@example.com> "},
		{"tag names are case-sensitive", []string{"Contact"}, map[string]string{"contact": "a@example.com"}, ""},
		{"no contact tag", []string{"Contact", "email"}, map[string]string{"UserType": "human"}, ""},
		{"nil tags", []string{"Contact", "email"}, nil, ""},
		{"no contact tags configured", nil, map[string]string{"Contact": "a@example.com"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ContactTags = tc.contactTags
			d := Decide(cfg, runAt, User{Name: "u", Tags: tc.tags}, activeKey(10), History{})
			if d.Contact != tc.want {
				t.Errorf("contact %q, want %q", d.Contact, tc.want)
			}
		})
	}
}

func TestDecideCopiesIdentity(t *testing.T) {
	d := Decide(DefaultConfig(), runAt, human, Key{ID: "AKIA1", Active: true, Created: createdAgo(1)}, History{})
	if d.KeyID != "AKIA1" || d.User != "alice" || d.UserType != "human" || d.NotifyOnly {
		t.Errorf("%+v", d)
	}
	d = Decide(DefaultConfig(), runAt, human, Key{ID: "AKIA1", User: "bob", Active: true, Created: createdAgo(1)}, History{})
	if d.User != "bob" {
		t.Errorf("key's user should win: %q", d.User)
	}
}

func TestDecideRefusesAnInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"zero config", Config{}},
		{"limit 0 would make every key past the limit", func() Config { c := DefaultConfig(); c.LimitDays = 0; return c }()},
		{"empty enforced types", func() Config { c := DefaultConfig(); c.EnforcedUserTypes = nil; return c }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.cfg, runAt, human, activeKey(200), History{})
			if d.Action != ActionNone || d.Notice != "" || !strings.Contains(d.Problem, "policy is invalid") {
				t.Errorf("%+v", d)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.WarnDays, []int{70, 80}) || c.LimitDays != 90 || c.GraceDays != 0 || c.DeleteAfterDays != 0 ||
		c.UserTypeTag != "UserType" || !slices.Equal(c.EnforcedUserTypes, []string{"*"}) ||
		!slices.Equal(c.NotifyOnlyUserTypes, []string{"machine"}) || !slices.Equal(c.ContactTags, []string{"Contact", "email"}) ||
		c.ExemptionTag != "keywarden:exempt" || c.UnusedDays != 0 || c.NewKeyGraceDays != 7 || c.MaxExemptionDays != 365 {
		t.Errorf("%+v", c)
	}
	// Each call returns fresh slices: callers may edit theirs.
	c.WarnDays[0] = 1
	if DefaultConfig().WarnDays[0] != 70 {
		t.Error("DefaultConfig shares its slices")
	}
}

func TestConfigValidateSaysWhatToFix(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"unsorted warnDays", func(c *Config) { c.WarnDays = []int{80, 70} },
			[]string{"warnDays [80 70] is not in ascending order; list the days ascending, e.g. [70 80]"}},
		{"duplicate warnDays", func(c *Config) { c.WarnDays = []int{70, 70, 80} },
			[]string{"warnDays lists 70 more than once; list each day once"}},
		{"warning at the limit", func(c *Config) { c.WarnDays = []int{70, 90} },
			[]string{"warnDays has 90, which is not below limitDays 90; warnings must come before the limit"}},
		{"warning beyond the limit", func(c *Config) { c.WarnDays = []int{70, 100} },
			[]string{"warnDays has 100, which is not below limitDays 90"}},
		{"zero and negative warnings", func(c *Config) { c.WarnDays = []int{-5, 0, 70} },
			[]string{"warnDays has -5; each warning day must be 1 or more", "warnDays has 0; each warning day must be 1 or more"}},
		{"no warnings", func(c *Config) { c.WarnDays = nil }, []string{"warnDays is empty; give at least one warning day"}},
		{"limit 0", func(c *Config) { c.LimitDays = 0 }, []string{"limitDays is 0; use the age in days from which keys are past the limit, e.g. 90"}},
		{"negative limit", func(c *Config) { c.LimitDays = -90 }, []string{"limitDays is -90"}},
		{"negative grace", func(c *Config) { c.GraceDays = -1 }, []string{"graceDays is -1; use 0 (deactivate in the same run as the final notice) or more"}},
		{"negative deleteAfterDays", func(c *Config) { c.DeleteAfterDays = -1 }, []string{"deleteAfterDays is -1; use 0 (never delete) or more"}},
		{"negative unusedDays", func(c *Config) { c.UnusedDays = -30 }, []string{"unusedDays is -30; use 0 (off) or more"}},
		{"negative newKeyGraceDays", func(c *Config) { c.NewKeyGraceDays = -1 }, []string{"newKeyGraceDays is -1; use 0 (no grace for new keys) or more"}},
		{"negative maxExemptionDays", func(c *Config) { c.MaxExemptionDays = -1 }, []string{"maxExemptionDays is -1; use 0 (no cap) or more"}},
		{"new-key grace as long as the limit", func(c *Config) { c.NewKeyGraceDays = 90 },
			[]string{"newKeyGraceDays 90 is not below limitDays 90; keys past the limit would never be deactivated"}},
		{"empty userTypeTag", func(c *Config) { c.UserTypeTag = "" }, []string{`userTypeTag is empty; name a user tag, e.g. "UserType"`}},
		{"empty exemptionTag", func(c *Config) { c.ExemptionTag = "" }, []string{`exemptionTag is empty; name a user tag, e.g. "keywarden:exempt"`}},
		{"empty contact tag name", func(c *Config) { c.ContactTags = []string{"Contact", ""} },
			[]string{`contactTags has an empty tag name; remove it or name a user tag, e.g. "Contact"`}},
		{"tag name with characters IAM rejects", func(c *Config) { c.UserTypeTag = "User#Type" },
			[]string{`userTypeTag "User#Type" has characters IAM does not allow in a tag key`}},
		{"tag name too long", func(c *Config) { c.ExemptionTag = strings.Repeat("x", 129) }, []string{"longer than the 128 characters"}},
		{"reserved aws: prefix", func(c *Config) { c.ExemptionTag = "aws:exempt" }, []string{`exemptionTag "aws:exempt" starts with the reserved prefix "aws:"`}},
		{"one tag for two purposes", func(c *Config) { c.ExemptionTag = "UserType" },
			[]string{`tag "UserType" is used for userTypeTag and exemptionTag; give each purpose its own tag`}},
		{"contact tag listed twice", func(c *Config) { c.ContactTags = []string{"email", "email"} },
			[]string{`contactTags lists "email" more than once`}},
		{"no enforced user types", func(c *Config) { c.EnforcedUserTypes = nil },
			[]string{`enforcedUserTypes is empty; list the user types whose keys are deactivated, or ["*"] for every user`}},
		{"empty enforced user type", func(c *Config) { c.EnforcedUserTypes = []string{"Employee", ""} },
			[]string{`enforcedUserTypes has an empty user type; name a UserType tag value, or use "*" to include untagged users`}},
		{"empty notify-only user type", func(c *Config) { c.NotifyOnlyUserTypes = []string{""} }, []string{"notifyOnlyUserTypes has an empty user type"}},
		{"type both enforced and notify-only", func(c *Config) { c.EnforcedUserTypes = []string{"Employee", "machine"} },
			[]string{`user type "machine" is in both enforcedUserTypes and notifyOnlyUserTypes; remove it from one`}},
		{"type both enforced and notify-only, spelt differently", func(c *Config) {
			c.EnforcedUserTypes, c.NotifyOnlyUserTypes = []string{"Employee", " MACHINE "}, []string{"Machine"}
		}, []string{`user type "Machine" is in both enforcedUserTypes and notifyOnlyUserTypes; remove it from one`}},
		{"blank enforced user type", func(c *Config) { c.EnforcedUserTypes = []string{"Employee", "  "} },
			[]string{"enforcedUserTypes has an empty user type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
	t.Run("every problem at once", func(t *testing.T) {
		err := Config{WarnDays: []int{80, 70, 70}, LimitDays: 75, GraceDays: -1, UserTypeTag: ""}.Validate()
		lines := strings.Split(err.Error(), "\n")
		for _, w := range []string{"warnDays has 80", "lists 70 more than once", "not in ascending order", "graceDays is -1",
			"userTypeTag is empty", "exemptionTag is empty", "enforcedUserTypes is empty"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("missing %q in\n%v", w, err)
			}
		}
		for _, l := range lines {
			if !strings.HasPrefix(l, "invalid key-age policy: ") {
				t.Errorf("line %q does not name the policy", l)
			}
		}
		if len(lines) != 7 {
			t.Errorf("%d problems, want 7:\n%v", len(lines), err)
		}
	})
	t.Run("valid variants", func(t *testing.T) {
		for _, edit := range []func(*Config){
			func(c *Config) { c.ContactTags = nil },                   // everything to the security topic
			func(c *Config) { c.NotifyOnlyUserTypes = []string{"*"} }, // notify-only rollout
			func(c *Config) { c.WarnDays = []int{1}; c.LimitDays = 2; c.NewKeyGraceDays = 1; c.RotationDays = 0 },
			func(c *Config) { c.UserTypeTag = "team:user-type" },
		} {
			c := DefaultConfig()
			edit(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("%+v: %v", c, err)
			}
		}
	})
}

func TestStages(t *testing.T) {
	sys3 := DefaultConfig()
	sys3.WarnDays, sys3.LimitDays, sys3.RotationDays = []int{30}, 37, 0
	deletes := DefaultConfig()
	deletes.DeleteAfterDays, deletes.RotationDays = 30, 0
	messy := DefaultConfig()
	messy.WarnDays = []int{80, 70, 70, 0}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []Stage
	}{
		{"default", DefaultConfig(), []Stage{"ok", "warning-70", "warning-80", "rotate", "final", "deactivate", "delete"}},
		{"with deletion, rotation off", deletes, []Stage{"ok", "warning-70", "warning-80", "final", "deactivate", "delete"}},
		{"system 3, rotation off", sys3, []Stage{"ok", "warning-30", "final", "deactivate"}},
		{"invalid warnDays are sorted and cleaned", messy, []Stage{"ok", "warning-70", "warning-80", "rotate", "final", "deactivate", "delete"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Stages(tc.cfg)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if !slices.IsSortedFunc(got, func(a, b Stage) int { return a.Rank() - b.Rank() }) {
				t.Errorf("%v not in rank order", got)
			}
		})
	}
}

func TestStageRankAndWarningDays(t *testing.T) {
	ordered := []Stage{StageOK, WarningStage(1), WarningStage(30), WarningStage(70), WarningStage(80), StageFinal, StageDeactivate, StageDelete}
	for i := 1; i < len(ordered); i++ {
		if ordered[i-1].Rank() >= ordered[i].Rank() {
			t.Errorf("%s (%d) should rank below %s (%d)", ordered[i-1], ordered[i-1].Rank(), ordered[i], ordered[i].Rank())
		}
	}
	for _, tc := range []struct {
		s    Stage
		days int
		ok   bool
	}{
		{"warning-70", 70, true}, {"warning-1", 1, true}, {"warning-0", 0, false}, {"warning--5", 0, false},
		{"warning-070", 0, false}, {"warning-+7", 0, false}, {"warning-", 0, false}, {"warning-7x", 0, false},
		{"final", 0, false}, {"", 0, false},
	} {
		days, ok := tc.s.WarningDays()
		if days != tc.days || ok != tc.ok {
			t.Errorf("%q.WarningDays() = %d, %v; want %d, %v", tc.s, days, ok, tc.days, tc.ok)
		}
		if !tc.ok && tc.s != StageFinal && tc.s.Rank() != -1 {
			t.Errorf("%q.Rank() = %d, want -1 for an unknown stage", tc.s, tc.s.Rank())
		}
	}
	if WarningStage(1<<40).Rank() >= StageFinal.Rank() {
		t.Error("a huge warning day must still rank below final")
	}
}

// The Decision crosses the Step Functions Map state as JSON: unset times are
// left out and reasons are always a list.
func TestDecisionJSON(t *testing.T) {
	d := Decide(DefaultConfig(), runAt, human, activeKey(10), History{})
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"keyId":"AKIAIOSFODNN7EXAMPLE"`, `"stage":"ok"`, `"action":"none"`, `"reasons":["age 10 days`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %s", s, want)
		}
	}
	for _, unwanted := range []string{"exemptUntil", "deleteDue", `"notice"`} {
		if strings.Contains(s, unwanted) {
			t.Errorf("%s has %s", s, unwanted)
		}
	}
	var back Decision
	if err := json.Unmarshal(b, &back); err != nil || !back.Deadline.Equal(d.Deadline) || back.Stage != d.Stage {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func ExampleDecide() {
	cfg := DefaultConfig()
	now := time.Date(2026, 6, 15, 8, 0, 0, 0, time.UTC)
	user := User{Name: "alice", Tags: map[string]string{"UserType": "human", "Contact": "alice@example.com"}}
	key := Key{ID: "AKIAIOSFODNN7EXAMPLE", User: "alice", Active: true, Created: now.AddDate(0, 0, -70)}

	d := Decide(cfg, now, user, key, History{})
	fmt.Println(d.Stage, d.Action, d.Notice, d.Deadline.Format(time.DateOnly), d.Contact)

	// The notice is recorded; the same day's second run sends nothing.
	d = Decide(cfg, now.Add(time.Minute), user, key, History{Notices: map[Stage]time.Time{d.Notice: now}})
	fmt.Println(d.Stage, d.Action, d.Notice == "")
	// Output:
	// warning-70 notify warning-70 2026-07-05 alice@example.com
	// warning-70 none true
}
