package policy

import (
	"slices"
	"strings"
	"testing"
)

func TestTagValue(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"machine", "machine"},
		{"Machine", "machine"},
		{"MACHINE", "machine"},
		{" machine ", "machine"},
		{"\tMachine\n", "machine"},
		{"\u00a0machine\u00a0", "machine"}, // a no-break space pasted from a web page
		{"machine user", "machine user"},   // inner spaces are part of the value
		{"", ""},
		{"   ", ""},
		{"*", "*"},
		{" Employee ", "employee"},
	} {
		if got := TagValue(tc.in); got != tc.want {
			t.Errorf("TagValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTagFlag(t *testing.T) {
	for _, tc := range []struct {
		in     string
		on, ok bool
	}{
		{"true", true, true},
		{"TRUE", true, true},
		{" True ", true, true},
		{"false", false, true},
		{"False\n", false, true},
		{" FALSE", false, true},
		{"yes", false, false},
		{"1", false, false},
		{"t", false, false},
		{"", false, false},
		{"true false", false, false},
	} {
		on, ok := TagFlag(tc.in)
		if on != tc.on || ok != tc.ok {
			t.Errorf("TagFlag(%q) = %v, %v; want %v, %v", tc.in, on, ok, tc.on, tc.ok)
		}
	}
}

// Under the default settings a machine user is notified only, however the
// type is written: its key past the limit gets the final notice and is never
// deactivated, and its inactive key is never deleted.
func TestDecideUserTypeAsWrittenUnderDefaults(t *testing.T) {
	deletes := cfgWith(func(c *Config) { c.DeleteAfterDays = 30 })
	for _, written := range []string{"machine", "Machine", "MACHINE", " machine ", "\tMachine\n"} {
		u := User{Name: "ci-deployer", Tags: map[string]string{"UserType": written}}
		runDecide(t, []decideCase{
			{name: "UserType " + `"` + written + `"` + " day 90", user: u, key: activeKey(90), hist: sent(runAt, w70, w80),
				stage: StageFinal, action: ActionNotify, notice: StageFinal, age: 90, check: func(t *testing.T, d Decision) {
					if !d.NotifyOnly || !d.Deadline.IsZero() || d.UserType != "machine" || len(d.TagProblems) != 0 {
						t.Errorf("notifyOnly %v deadline %v type %q tag problems %q", d.NotifyOnly, d.Deadline, d.UserType, d.TagProblems)
					}
				}},
			{name: "UserType " + `"` + written + `"` + " day 400, final sent long ago", user: u, key: activeKey(400),
				hist: sent(runAt.AddDate(0, -9, 0), w70, w80, StageFinal), stage: StageFinal, action: ActionNone, age: 400},
			{name: "UserType " + `"` + written + `"` + " inactive past deleteAfterDays", cfg: deletes, user: u, key: inactiveKey(300),
				hist: History{DeactivatedAt: runAt.AddDate(0, -6, 0)}, stage: StageOK, action: ActionNone, age: 300,
				check: reason("notify-only keys are never deleted")},
		})
	}
}

func TestDecideUserTypeMatchesSettingsAsWritten(t *testing.T) {
	key, hist := activeKey(90), sent(runAt, w70, w80)
	for _, tc := range []struct {
		name       string
		edit       func(*Config)
		tag        string
		notifyOnly bool
	}{
		{"notifyOnlyUserTypes [Machine], tag machine", func(c *Config) { c.NotifyOnlyUserTypes = []string{"Machine"} }, "machine", true},
		{"notifyOnlyUserTypes [ MACHINE ], tag Machine", func(c *Config) { c.NotifyOnlyUserTypes = []string{" MACHINE "} }, "Machine", true},
		{"notifyOnlyUserTypes [Machine], tag human", func(c *Config) { c.NotifyOnlyUserTypes = []string{"Machine"} }, "human", false},
		{"enforcedUserTypes [Employee], tag employee", func(c *Config) {
			c.EnforcedUserTypes, c.NotifyOnlyUserTypes = []string{"Employee"}, nil
		}, "employee", false},
		{"enforcedUserTypes [Employee], tag  EMPLOYEE ", func(c *Config) {
			c.EnforcedUserTypes, c.NotifyOnlyUserTypes = []string{"Employee"}, nil
		}, " EMPLOYEE ", false},
		{"enforcedUserTypes [Employee], tag Contractor", func(c *Config) {
			c.EnforcedUserTypes, c.NotifyOnlyUserTypes = []string{"Employee"}, nil
		}, "Contractor", true},
		{`notifyOnlyUserTypes [" * "]: everyone`, func(c *Config) { c.NotifyOnlyUserTypes = []string{" * "} }, "human", true},
		{`enforcedUserTypes [" * "]: everyone`, func(c *Config) { c.EnforcedUserTypes, c.NotifyOnlyUserTypes = []string{" * "}, nil }, "Machine", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.edit(&cfg)
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			d := Decide(cfg, runAt, User{Name: "u", Tags: map[string]string{"UserType": tc.tag}}, key, hist)
			deactivated := d.Action == ActionDeactivate
			if d.NotifyOnly != tc.notifyOnly || deactivated == tc.notifyOnly {
				t.Errorf("notifyOnly %v action %s; want notifyOnly %v\nreasons %q", d.NotifyOnly, d.Action, tc.notifyOnly, d.Reasons)
			}
		})
	}
}

// A reason quotes the type as the user's tag writes it.
func TestDecideUserTypeReasonQuotesTheTag(t *testing.T) {
	d := Decide(DefaultConfig(), runAt, User{Name: "u", Tags: map[string]string{"UserType": " MACHINE "}}, activeKey(90), History{})
	reason(`user type " MACHINE " is never deactivated`)(t, d)
}

// Tag values the policy cannot read are named in TagProblems, so the digest
// lists them; the key is judged as if the tag were absent.
func TestDecideTagProblems(t *testing.T) {
	rotationOn := cfgWith(func(c *Config) { c.RotationDays = 60 })
	rotationOff := cfgWith(func(c *Config) { c.RotationDays = 0 })
	for _, tc := range []struct {
		name string
		cfg  *Config
		tags map[string]string
		want []string
	}{
		{"readable tags", rotationOn, map[string]string{"UserType": " Machine ", "keywarden:rotate": " FALSE "}, nil},
		{"rotation flag yes", rotationOn, map[string]string{"keywarden:rotate": "yes"},
			[]string{`tag keywarden:rotate is "yes", neither true nor false`}},
		{"rotation flag blank", rotationOn, map[string]string{"keywarden:rotate": " "},
			[]string{`tag keywarden:rotate is " ", neither true nor false`}},
		{"rotation flag unreadable, rotation off: not a problem", rotationOff, map[string]string{"keywarden:rotate": "yes"}, nil},
		{"blank user type", rotationOn, map[string]string{"UserType": "  "}, []string{`tag UserType is "  ", which names no user type`}},
		{"both", rotationOn, map[string]string{"UserType": "", "keywarden:rotate": "1"},
			[]string{`tag UserType is "", which names no user type`, `tag keywarden:rotate is "1", neither true nor false`}},
		// Listed even when the key is exempt or cannot be judged.
		{"exempt user with an unreadable flag", rotationOn, map[string]string{"keywarden:rotate": "on", "keywarden:exempt": "2026-07-01 migration"},
			[]string{`tag keywarden:rotate is "on"`}},
		// An unreadable exemption is the exemption's problem, not repeated here.
		{"exemption not a date", rotationOn, map[string]string{"keywarden:exempt": "next week"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(*tc.cfg, runAt, User{Name: "u", Tags: tc.tags}, activeKey(95), History{})
			if len(d.TagProblems) != len(tc.want) {
				t.Fatalf("tag problems %q, want %q", d.TagProblems, tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(d.TagProblems[i], w) {
					t.Errorf("tag problem %q, want it to contain %q", d.TagProblems[i], w)
				}
				if !slices.Contains(d.Reasons, d.TagProblems[i]) {
					t.Errorf("tag problem %q is not among the reasons %q", d.TagProblems[i], d.Reasons)
				}
			}
		})
	}
	t.Run("an unreadable rotation flag does not rotate", func(t *testing.T) {
		d := Decide(*rotationOn, runAt, User{Name: "u", Tags: map[string]string{"keywarden:rotate": "yes"}}, activeKey(65), History{})
		if d.Action == ActionRotate || d.Rotation {
			t.Errorf("rotated on %q: %+v", "yes", d)
		}
	})
}

func FuzzTagValue(f *testing.F) {
	for _, s := range []string{"machine", " Machine ", "MACHINE", "", "\u00a0x\u00a0", "\xff", "İ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := TagValue(s)
		if TagValue(v) != v {
			t.Fatalf("TagValue(%q) = %q is not stable: %q", s, v, TagValue(v))
		}
		if strings.TrimSpace(v) != v {
			t.Fatalf("TagValue(%q) = %q keeps surrounding space", s, v)
		}
		if TagValue(" "+s+"\t") != v {
			t.Fatalf("surrounding space changes TagValue(%q)", s)
		}
		on, ok := TagFlag(s)
		if ok != (v == "true" || v == "false") || on != (v == "true") {
			t.Fatalf("TagFlag(%q) = %v, %v for the value %q", s, on, ok, v)
		}
	})
}
