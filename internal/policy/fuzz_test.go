package policy

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzBytes hands out fuzz input; it returns zeros once the input runs out,
// so every input, however short, makes a complete case.
type fuzzBytes []byte

func (b *fuzzBytes) byte() byte {
	if len(*b) == 0 {
		return 0
	}
	v := (*b)[0]
	*b = (*b)[1:]
	return v
}

func (b *fuzzBytes) int64() int64 {
	var buf [8]byte
	for i := range buf {
		buf[i] = b.byte()
	}
	return int64(binary.LittleEndian.Uint64(buf[:]))
}

func (b *fuzzBytes) pick(options ...string) string { return options[int(b.byte())%len(options)] }

func (b *fuzzBytes) str() string {
	n := int(b.byte() % 24)
	s := make([]byte, 0, n)
	for range n {
		s = append(s, b.byte())
	}
	return string(s)
}

// time near base, or (rarely) anywhere time.Unix can reach, or zero.
func (b *fuzzBytes) timeNear(base time.Time) time.Time {
	switch b.byte() % 16 {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(b.int64(), b.int64()%1e9)
	}
	// ±~180 days at second resolution, biased to whole days.
	days := int(int8(b.byte()))
	secs := int(int16(uint16(b.byte())<<8 | uint16(b.byte())))
	return base.Add(time.Duration(days)*day + time.Duration(secs)*time.Second)
}

func (b *fuzzBytes) config() Config {
	if b.byte()%16 == 0 {
		return Config{} // invalid: must be refused, not acted on
	}
	c := DefaultConfig()
	flags := b.byte()
	if flags&1 != 0 {
		c.WarnDays = nil
		for range b.byte() % 4 {
			c.WarnDays = append(c.WarnDays, int(int8(b.byte())))
		}
		c.LimitDays = int(int8(b.byte()))
	}
	if flags&2 != 0 {
		c.GraceDays = int(int8(b.byte())) % 10
	}
	if flags&4 != 0 {
		c.DeleteAfterDays = int(int8(b.byte())) % 60
	}
	if flags&8 != 0 {
		c.UnusedDays = int(int8(b.byte())) % 60
	}
	if flags&16 != 0 {
		c.NewKeyGraceDays = int(int8(b.byte())) % 15
	}
	if flags&32 != 0 {
		c.EnforcedUserTypes = [][]string{{"*"}, {"Employee"}, nil, {""}, {"machine"}, {" EMPLOYEE "}, {"  "}}[b.byte()%7]
		c.NotifyOnlyUserTypes = [][]string{nil, {"machine"}, {"*"}, {""}, {"Machine"}, {" * "}}[b.byte()%6]
	}
	if flags&64 != 0 {
		c.MaxExemptionDays = int(int8(b.byte()))
	}
	if flags&128 != 0 {
		c.ExemptionTag = b.pick("keywarden:exempt", "", "UserType")
		c.ContactTags = [][]string{nil, {"Contact"}, {""}, {"email", "Contact"}}[b.byte()%4]
	}
	if b.byte()%2 == 0 {
		c.RotationDays = int(int8(b.byte())) % 100
		c.RetireAfterDays = int(int8(b.byte())) % 10
		c.DeleteRetiredAfterDays = int(int8(b.byte())) % 10
	}
	return c
}

var fuzzStages = []Stage{StageOK, StageRotate, WarningStage(30), WarningStage(70), WarningStage(80), StageFinal, StageDeactivate, StageDelete, "bogus"}

func FuzzDecide(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("keywarden"))
	f.Add([]byte{1, 0, 2, 1, 70, 90, 2, 3, 0, 0, 0, 0, 200, 0, 0, 5, 2, 0, 1, 3, 0xff, 0xff})
	f.Add([]byte{1, 0xff, 3, 30, 70, 80, 37, 3, 7, 30, 30, 5, 0, 1, 2, 0, 0, 1, 0, 0x1f, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzBytes(data)
		cfg := in.config()
		now := in.timeNear(runAt)
		if in.byte()%8 == 0 {
			now = now.In(time.FixedZone("odd", int(int16(in.byte()))*60))
		}
		k := Key{ID: in.str(), User: in.pick("", "alice"), Active: in.byte()%2 == 0, Created: in.timeNear(now)}
		if in.byte()%2 == 0 {
			k.LastUsed = in.timeNear(now)
		}
		var u User
		if in.byte()%4 != 0 {
			u = User{Name: in.str(), Tags: map[string]string{}}
			if v := in.pick("-", "", "human", "machine", "Employee", "employee", "*", "Machine", "MACHINE", " machine ", " ", "EMPLOYEE\t"); v != "-" {
				u.Tags["UserType"] = v
			}
			switch in.byte() % 4 {
			case 1:
				u.Tags["keywarden:exempt"] = in.timeNear(now).UTC().Format(time.DateOnly) + in.pick(" reason", "", "  ", " x y")
			case 2:
				u.Tags["keywarden:exempt"] = in.str()
			}
			if in.byte()%2 == 0 {
				u.Tags[in.pick("Contact", "email", "")] = in.str()
			}
			if v := in.pick("-", "true", "TRUE", "false", "yes", "", " True ", "FALSE\n"); v != "-" {
				u.Tags["keywarden:rotate"] = v
			}
		}
		var h History
		if mask := in.byte(); mask != 0 {
			h.Notices = map[Stage]time.Time{}
			for i, s := range fuzzStages {
				if mask&(1<<i) != 0 {
					h.Notices[s] = in.timeNear(now)
				}
			}
		}
		if in.byte()%3 == 0 {
			h.DeactivatedAt = in.timeNear(now)
		}
		if in.byte()%3 == 0 {
			h.RotatedAt, h.ReplacedBy = in.timeNear(now), "AKIANEWKEY"
		}

		d := Decide(cfg, now, u, k, h)
		checkInvariants(t, cfg, now, u, k, h, d)
	})
}

// checkInvariants are the promises Decide keeps for every input.
func checkInvariants(t *testing.T, cfg Config, now time.Time, u User, k Key, h History, d Decision) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\ncfg %+v\nnow %v\nkey %+v\nhistory %+v\ndecision %+v", fmt.Sprintf(format, args...), cfg, now, k, h, d)
	}
	acts := d.Action == ActionDeactivate || d.Action == ActionDelete || d.Action == ActionRotate
	retired := !h.RotatedAt.IsZero()
	if !slices.Contains([]Action{ActionNone, ActionNotify, ActionDeactivate, ActionDelete, ActionRotate}, d.Action) {
		fail("unknown action %q", d.Action)
	}
	if d.Stage.Rank() < 0 {
		fail("unknown stage %q", d.Stage)
	}
	if len(d.Reasons) == 0 {
		fail("a decision without a reason")
	}
	if d.NotifyOnly && acts {
		fail("notify-only key gets %s", d.Action)
	}
	// A user type listed as notify-only, however either side writes it, is
	// never acted on unless the user opted into rotation.
	if userType := strings.ToLower(strings.TrimSpace(u.Tags["UserType"])); !now.IsZero() && cfg.Validate() == nil && userType != "" &&
		slices.ContainsFunc(cfg.NotifyOnlyUserTypes, func(t string) bool { return strings.EqualFold(strings.TrimSpace(t), userType) }) &&
		!d.NotifyOnly && !d.Rotation {
		fail("user type %q is notify-only in %q, but the decision is not", u.Tags["UserType"], cfg.NotifyOnlyUserTypes)
	}
	if (Age(k.Created, now) < cfg.NewKeyGraceDays || d.AgeDays < cfg.NewKeyGraceDays) && acts {
		fail("key younger than the new-key grace gets %s", d.Action)
	}
	if d.Exempt && (d.Action != ActionNone || d.Notice != "") {
		fail("exempt key gets action %s notice %q", d.Action, d.Notice)
	}
	if d.Notice != "" {
		if _, ok := h.Notices[d.Notice]; ok {
			fail("notice %q is already in History", d.Notice)
		}
		if d.Action == ActionNone {
			fail("notice %q with action none", d.Notice)
		}
	} else if d.Action == ActionNotify {
		fail("action notify without a notice")
	}
	if !k.Active && d.Notice != "" && d.Notice != StageDelete {
		fail("inactive key gets notice %q", d.Notice)
	}
	if d.Action == ActionDeactivate {
		_, finalSent := h.Notices[StageFinal]
		switch {
		case !k.Active:
			fail("deactivating an inactive key")
		case retired && d.Notice != StageDeactivate && !hasNotice(h, StageDeactivate):
			fail("deactivation of a replaced key without its deactivate notice")
		case !retired && !finalSent && d.Notice != StageFinal:
			fail("deactivation without a final notice")
		case now.Before(d.Deadline):
			fail("deactivation before its deadline %v", d.Deadline)
		}
	}
	if d.Action == ActionDelete && (k.Active || (cfg.DeleteAfterDays <= 0 && !retired) || now.Before(d.DeleteDue)) {
		fail("delete of an active key, with deletion off, or before %v", d.DeleteDue)
	}
	if d.Action == ActionRotate {
		switch {
		case !k.Active || retired:
			fail("rotation of an inactive or already replaced key")
		case cfg.RotationDays <= 0 || d.AgeDays < cfg.RotationDays:
			fail("rotation with rotation off or before rotationDays")
		case !strings.EqualFold(strings.TrimSpace(u.Tags["keywarden:rotate"]), "true"):
			fail("rotation of a user not tagged for it")
		case d.Notice != StageRotate && !hasNotice(h, StageRotate):
			fail("rotation without its notice")
		}
	}
	if now.IsZero() && (d.Action != ActionNone || d.Notice != "" || d.Problem == "") {
		fail("acted without a clock")
	}
	if cfg.Validate() != nil && (d.Action != ActionNone || d.Problem == "") {
		fail("acted on an invalid policy")
	}
	if (k.Created.IsZero() || k.Created.After(now)) && (d.Action != ActionNone || d.Problem == "" || d.AgeDays != 0) {
		fail("acted on a key without a believable creation time")
	}
	// A key replaced before rotation was turned off still retires through
	// rotate, deactivate and delete: its owner was told the dates.
	if cfg.Validate() == nil && !slices.Contains(Stages(cfg), d.Stage) && !retired {
		fail("stage %q is not in Stages %v", d.Stage, Stages(cfg))
	}
}

// TestDailyRunsSimulation plays a key's life through daily runs — some
// skipped, some doubled, firing a little early or late — applying each
// decision the way the state machine does, and checks the whole story: each
// notice at most once, the warning of every stage a run saw, the final
// notice before (or with) the deactivation, and the deactivation on the
// first run the grace allows.
func TestDailyRunsSimulation(t *testing.T) {
	sys3 := DefaultConfig()
	sys3.WarnDays, sys3.LimitDays, sys3.RotationDays = []int{30}, 37, 0
	configs := map[string]Config{"default": DefaultConfig(), "grace 3": *cfgWith(func(c *Config) { c.GraceDays = 3 }), "system 3": sys3}
	skips := map[string]func(day int) bool{
		"every day":         func(int) bool { return false },
		"every other day":   func(d int) bool { return d%2 == 1 },
		"outage days 68-85": func(d int) bool { return d >= 68 && d <= 85 },
		"irregular":         func(d int) bool { return (d*7)%5 == 0 || (d*3)%11 == 0 },
	}
	for cname, cfg := range configs {
		for sname, skip := range skips {
			for _, createdHour := range []int{3, 8, 20} {
				t.Run(fmt.Sprintf("%s/%s/created %02d:00", cname, sname, createdHour), func(t *testing.T) {
					simulate(t, cfg, skip, createdHour)
				})
			}
		}
	}
}

func simulate(t *testing.T, cfg Config, skip func(int) bool, createdHour int) {
	created := time.Date(2026, 1, 10, createdHour, 17, 0, 0, time.UTC)
	k := Key{ID: "AKIASIM", User: "alice", Active: true, Created: created}
	h := History{Notices: map[Stage]time.Time{}}
	var (
		sentOrder   []Stage
		stagesSeen  = map[Stage]bool{}
		finalAt     time.Time
		deactivated time.Time
	)
	for d := 0; d < 200 && k.Active; d++ {
		if skip(d) {
			continue
		}
		base := time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC).AddDate(0, 0, d)
		// Two runs some days (a retried execution), at jittered times.
		for _, at := range []time.Time{base.Add(time.Duration(d%7-3) * 10 * time.Second), base.Add(time.Duration(d%3) * time.Hour)} {
			if !k.Active {
				break
			}
			dec := Decide(cfg, at, human, k, h)
			checkInvariants(t, cfg, at, human, k, h, dec)
			if s := cfg.warningStage(Age(created, at)); s != StageOK && Age(created, at) < cfg.LimitDays {
				stagesSeen[s] = true
			}
			if dec.Notice != "" {
				h.Notices[dec.Notice] = at
				sentOrder = append(sentOrder, dec.Notice)
				if dec.Notice == StageFinal {
					finalAt = at
					if Age(created, at) < cfg.LimitDays {
						t.Fatalf("final notice at age %d", Age(created, at))
					}
				}
			}
			if dec.Action == ActionDeactivate {
				k.Active, h.DeactivatedAt, deactivated = false, at, at
			} else if !finalAt.IsZero() && calendarDays(finalAt, at) >= int64(cfg.GraceDays) {
				t.Fatalf("run at %v should deactivate: final notice %v, grace %d days; reasons %q", at, finalAt, cfg.GraceDays, dec.Reasons)
			}
		}
	}
	if deactivated.IsZero() || finalAt.IsZero() {
		t.Fatalf("never deactivated; notices %v", sentOrder)
	}
	if got := calendarDays(finalAt, deactivated); got < int64(cfg.GraceDays) {
		t.Errorf("deactivated %v, %d days after the final notice %v; grace is %d", deactivated, got, finalAt, cfg.GraceDays)
	}
	for s := range stagesSeen {
		if _, ok := h.Notices[s]; !ok {
			t.Errorf("a run saw stage %s but its warning was never sent; sent %v", s, sentOrder)
		}
	}
	for i := 1; i < len(sentOrder); i++ {
		if sentOrder[i-1].Rank() >= sentOrder[i].Rank() {
			t.Errorf("notices out of order or repeated: %v", sentOrder)
		}
	}
}

func hasNotice(h History, s Stage) bool {
	_, ok := h.Notices[s]
	return ok
}
