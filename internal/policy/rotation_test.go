package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// rotating is DefaultConfig with rotation on at 60 days.
func rotating(edit func(*Config)) *Config {
	return cfgWith(func(c *Config) {
		c.RotationDays = 60
		if edit != nil {
			edit(c)
		}
	})
}

var (
	rotUser     = User{Name: "svc-reports", Tags: map[string]string{"UserType": "machine", "keywarden:rotate": "true", "Contact": "data@example.com"}}
	rotatedAt   = runAt.Add(-3 * day)
	rotatedHist = History{RotatedAt: rotatedAt, ReplacedBy: "AKIANEWKEY", Notices: map[Stage]time.Time{StageRotate: rotatedAt}}
)

func TestDecideRotation(t *testing.T) {
	tagged := func(v string) User {
		return User{Name: "svc-reports", Tags: map[string]string{"keywarden:rotate": v}}
	}
	retiredSince := func(deactivated time.Time) History {
		h := rotatedHist
		h.DeactivatedAt = deactivated
		h.Notices = map[Stage]time.Time{StageRotate: rotatedAt, StageDeactivate: deactivated}
		return h
	}
	runDecide(t, []decideCase{
		{name: "below rotationDays: nothing", cfg: rotating(nil), user: rotUser, key: activeKey(59), stage: StageOK, action: ActionNone, age: 59},
		{name: "at rotationDays: rotate, with its notice", cfg: rotating(nil), user: rotUser, key: activeKey(60),
			stage: StageRotate, action: ActionRotate, notice: StageRotate, age: 60,
			check: all(reason("replace it with a new key"), reason("opted into rotation"), func(t *testing.T, d Decision) {
				if !d.Rotation || d.NotifyOnly {
					t.Errorf("Rotation %v NotifyOnly %v, want true false", d.Rotation, d.NotifyOnly)
				}
			})},
		{name: "tag value is case-insensitive", cfg: rotating(nil), user: tagged(" TRUE "), key: activeKey(61), stage: StageRotate, action: ActionRotate, notice: StageRotate, age: 61},
		{name: "tag false: the key-age policy as usual", cfg: rotating(nil), user: tagged("false"), key: activeKey(70),
			stage: w70, action: ActionNotify, notice: w70, age: 70},
		{name: "tag with another value: not rotated, and the reason says why", cfg: rotating(nil), user: tagged("yes"), key: activeKey(70),
			stage: w70, action: ActionNotify, notice: w70, age: 70, check: reason(`tag keywarden:rotate is "yes", neither true nor false: not rotated; only "true" opts in`)},
		{name: "rotation off: the tag alone does nothing, and says so", cfg: cfgWith(func(c *Config) { c.RotationDays = 0 }), user: rotUser, key: activeKey(70),
			stage: w70, action: ActionNotify, notice: w70, age: 70, check: reason("rotationDays is 0 (rotation off)")},
		{name: "exempt users are not rotated", cfg: rotating(nil),
			user: User{Name: "svc", Tags: map[string]string{"keywarden:rotate": "true", "keywarden:exempt": "2026-07-01 migration"}},
			key:  activeKey(65), stage: StageOK, action: ActionNone, age: 65},
		{name: "past the limit and not yet rotated: rotation is retried, not deactivation", cfg: rotating(nil),
			user: tagged("true"), key: activeKey(95), stage: StageRotate, action: ActionRotate, notice: StageRotate, age: 95,
			check: reason("rotation is retried every run")},
		{name: "dry-run notice already sent: rotate again without a second notice", cfg: rotating(nil), user: rotUser, key: activeKey(61),
			hist: sent(runAt.Add(-day), StageRotate), stage: StageRotate, action: ActionRotate, age: 61},
		{name: "replaced, within retireAfterDays: kept active", cfg: rotating(nil), user: rotUser, key: activeKey(63), hist: rotatedHist,
			stage: StageRotate, action: ActionNone, age: 63,
			check: all(reason("replaced by key AKIANEWKEY"), deadline(time.Date(2026, 6, 19, 0, 0, 0, 0, time.UTC)))},
		{name: "replaced, retireAfterDays over: deactivate with its notice", cfg: rotating(nil), user: rotUser, key: activeKey(70),
			now: runAt.Add(4 * day), hist: rotatedHist, stage: StageDeactivate, action: ActionDeactivate, notice: StageDeactivate, age: 74},
		{name: "replaced keys retire even after the tag is removed", cfg: rotating(nil), user: human, key: activeKey(70),
			now: runAt.Add(4 * day), hist: rotatedHist, stage: StageDeactivate, action: ActionDeactivate, notice: StageDeactivate, age: 74},
		{name: "retired, inactive within deleteRetiredAfterDays: kept", cfg: rotating(nil), user: rotUser, key: inactiveKey(70),
			hist: retiredSince(runAt.Add(-2 * day)), stage: StageDeactivate, action: ActionNone, age: 70,
			check: reason("deletion on 2026-06-20")},
		{name: "retired, inactive long enough: delete, even with deleteAfterDays 0", cfg: rotating(nil), user: rotUser, key: inactiveKey(70),
			hist: retiredSince(runAt.Add(-7 * day)), stage: StageDelete, action: ActionDelete, notice: StageDelete, age: 70},
		{name: "replaced key deactivated by someone else: deletion counts from the planned retirement", cfg: rotating(nil), user: rotUser,
			key: inactiveKey(70), now: runAt.Add(11 * day), hist: rotatedHist, stage: StageDelete, action: ActionDelete, notice: StageDelete, age: 81},
	})
}

func TestValidateRotation(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"rotation at the limit", func(c *Config) { c.RotationDays = 90 }, "rotationDays 90 is not below limitDays 90"},
		{"rotation inside the new-key grace", func(c *Config) { c.RotationDays = 5 }, "rotationDays 5 is below newKeyGraceDays 7"},
		{"no time before deletion", func(c *Config) { c.RotationDays, c.DeleteRetiredAfterDays = 60, 0 }, "deleteRetiredAfterDays is 0; use 1 or more"},
		{"negative", func(c *Config) { c.RotationDays = -1 }, "rotationDays is -1"},
		{"tag shared with another purpose", func(c *Config) { c.RotationDays, c.RotationTag = 60, "UserType" }, `tag "UserType" is used for userTypeTag and rotationTag`},
		{"empty tag", func(c *Config) { c.RotationDays, c.RotationTag = 60, "" }, "rotationTag is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want it to say %q", err, tc.want)
			}
		})
	}
	if err := (*rotating(nil)).Validate(); err != nil {
		t.Errorf("rotation at 60 days is valid, got %v", err)
	}
}

// TestRotationSimulation plays a rotation user's life through daily runs,
// applying each decision as the run does (a rotation issues a new key),
// and checks the whole story: each key rotated once, the replaced key
// deactivated retireAfterDays after and deleted deleteRetiredAfterDays
// after that, the user never without an active key, never more than two.
func TestRotationSimulation(t *testing.T) {
	cfg := *rotating(nil)
	start := time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC)
	type simKey struct {
		Key
		hist History
	}
	keys := []*simKey{{Key: Key{ID: "K0", User: "svc-reports", Active: true, Created: start.Add(-50 * day)}, hist: History{Notices: map[Stage]time.Time{}}}}
	events := map[string][]string{}
	for d := 0; d < 200; d++ {
		at := start.AddDate(0, 0, d).Add(time.Duration(d%5) * time.Minute)
		for _, k := range append([]*simKey(nil), keys...) {
			if k.ID == "" {
				continue
			}
			dec := Decide(cfg, at, rotUser, k.Key, k.hist)
			checkInvariants(t, cfg, at, rotUser, k.Key, k.hist, dec)
			if dec.Notice != "" {
				k.hist.Notices[dec.Notice] = at
			}
			switch dec.Action {
			case ActionRotate:
				n := &simKey{Key: Key{ID: "K" + string(rune('0'+len(keys))), User: "svc-reports", Active: true, Created: at}, hist: History{Notices: map[Stage]time.Time{}}}
				keys = append(keys, n)
				k.hist.RotatedAt, k.hist.ReplacedBy = at, n.ID
				events[k.ID] = append(events[k.ID], "rotate@"+at.Format(time.DateOnly))
			case ActionDeactivate:
				k.Active, k.hist.DeactivatedAt = false, at
				events[k.ID] = append(events[k.ID], "deactivate@"+at.Format(time.DateOnly))
			case ActionDelete:
				events[k.ID] = append(events[k.ID], "delete@"+at.Format(time.DateOnly))
				k.ID = ""
			}
		}
		live, active := 0, 0
		for _, k := range keys {
			if k.ID != "" {
				live++
				if k.Active {
					active++
				}
			}
		}
		if active == 0 || live > 2 {
			t.Fatalf("day %d: %d keys, %d active", d, live, active)
		}
	}
	want := map[string][]string{
		// K0 is 60 days old on day 10; retired 7 and 14 days later.
		"K0": {"rotate@2026-01-20", "deactivate@2026-01-27", "delete@2026-02-03"},
		"K1": {"rotate@2026-03-21", "deactivate@2026-03-28", "delete@2026-04-04"},
		"K2": {"rotate@2026-05-20", "deactivate@2026-05-27", "delete@2026-06-03"},
	}
	for id, w := range want {
		if got := events[id]; !slices.Equal(got, w) {
			t.Errorf("key %s: %v, want %v", id, got, w)
		}
	}
}
