package settings

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFromContext(t *testing.T) {
	ctx := map[string]any{
		"exposedKeyAction": "deactivate", "drillSources": "false", "activityWindowHours": float64(48),
		"activityRegions": []any{"us-east-1", "eu-west-1"}, "activityMaxEvents": "1000",
		"alertEmails": "sec@example.com, oncall@example.com", "logRetentionDays": float64(90),
	}
	s, err := FromContext(func(k string) any { return ctx[k] })
	if err != nil {
		t.Fatal(err)
	}
	if s.ExposedKeyAction != ActionDeactivate || s.DrillSources || s.ActivityWindowHours != 48 ||
		strings.Join(s.ActivityRegions, ",") != "us-east-1,eu-west-1" || s.ActivityMaxEvents != 1000 ||
		strings.Join(s.AlertEmails, ",") != "sec@example.com,oncall@example.com" || s.LogRetentionDays != 90 {
		t.Errorf("%+v", s)
	}
	s, err = FromContext(func(string) any { return nil })
	if err != nil || s.ExposedKeyAction != ActionDelete || !s.DrillSources {
		t.Errorf("defaults: %+v, %v", s, err)
	}
}

func TestBadSettingsSayWhatToFix(t *testing.T) {
	for _, tc := range []struct {
		key  string
		val  any
		want string
	}{
		{"exposedKeyAction", "shred", `exposedKeyAction is "shred"; use "delete" or "deactivate"`},
		{"exposedKeyAction", 3.0, "exposedKeyAction: want a string"},
		{"drillSources", "maybe", `drillSources: want true or false, got "maybe"`},
		{"activityWindowHours", 0.0, "activityWindowHours is 0; use 1 to 2160"},
		{"activityWindowHours", 2.5, "want a whole number, got 2.5"},
		{"activityWindowHours", 5000.0, "activityWindowHours is 5000"},
		{"activityRegions", []any{"mars-1"}, `activityRegions has "mars-1"`},
		{"activityRegions", []any{1.0}, "want a list of strings"},
		{"activityMaxEvents", 10.0, "activityMaxEvents is 10; use 50 to 5000"},
		{"alertEmails", []any{"not-an-address"}, `alertEmails has "not-an-address"`},
		{"logRetentionDays", 42.0, "logRetentionDays is 42"},
	} {
		t.Run(tc.key, func(t *testing.T) { wantInvalid(t, tc.key, tc.val, tc.want) })
	}
}

func TestLookup(t *testing.T) {
	env := Lookup(func(k string) (string, bool) {
		v, ok := map[string]string{"A": " x ", "N": "12", "BAD": "twelve", "EMPTY": " "}[k]
		return v, ok
	})
	if v, err := env.Required("A"); v != "x" || err != nil {
		t.Errorf("Required A: %q %v", v, err)
	}
	if _, err := env.Required("EMPTY"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "EMPTY is not set") {
		t.Errorf("Required EMPTY: %v", err)
	}
	if n, err := env.Int("N", 1); n != 12 || err != nil {
		t.Errorf("Int N: %d %v", n, err)
	}
	if n, err := env.Int("MISSING", 7); n != 7 || err != nil {
		t.Errorf("Int default: %d %v", n, err)
	}
	if _, err := env.Int("BAD", 1); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `BAD is "twelve"`) {
		t.Errorf("Int BAD: %v", err)
	}
}

func TestKeyAgeSettings(t *testing.T) {
	ctx := map[string]any{
		"keyAge": map[string]any{"warnDays": []any{30.0}, "limitDays": 37.0, "rotationDays": 0.0},
		"dryRun": false, "schedule": "rate(1 day)", "noticeSender": "keywarden@example.com",
	}
	s, err := FromContext(func(k string) any { return ctx[k] })
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyAge.LimitDays != 37 || len(s.KeyAge.WarnDays) != 1 || s.KeyAge.UserTypeTag != "UserType" || s.DryRun || s.Schedule != "rate(1 day)" {
		t.Errorf("%+v", s)
	}
	for _, tc := range []struct {
		key  string
		val  any
		want string
	}{
		{"keyAge", map[string]any{"limitDay": 90.0}, "unknown field"},
		{"keyAge", map[string]any{"warnDays": []any{95.0}}, "keyAge"},
		{"keyAge", `{"limitDays":`, "want an object"},
		{"schedule", "every day", `schedule is "every day"`},
		{"noticeSender", "keywarden", `noticeSender is "keywarden"`},
	} {
		wantInvalid(t, tc.key, tc.val, tc.want)
	}
	if d := Default(); !d.DryRun || d.KeyAge.LimitDays != 90 {
		t.Errorf("the default must be a dry run with the 90-day limit: %+v", d)
	}
}

// FuzzFromContext: any cdk.json context either gives valid settings or a
// named error; it never panics.
func FuzzFromContext(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"exposedKeyAction":"deactivate","activityRegions":["eu-west-1"],"keyAge":{"warnDays":[30],"limitDays":37,"rotationDays":0}}`,
		`{"keyAge":"{\"limitDays\":90}","dryRun":"false","schedule":"rate(1 day)"}`,
		`{"activityWindowHours":1e99,"alertEmails":[1,2],"logRetentionDays":"x"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ctx map[string]any
		if json.Unmarshal(raw, &ctx) != nil {
			return
		}
		s, err := FromContext(func(k string) any { return ctx[k] })
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("unnamed error: %v", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted settings that do not validate: %v", err)
		}
	})
}

// wantInvalid sets one context key to val, the others unset, and wants
// ErrInvalid with a message that says want.
func wantInvalid(t *testing.T, key string, val any, want string) {
	t.Helper()
	_, err := FromContext(func(k string) any {
		if k == key {
			return val
		}
		return nil
	})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
		t.Errorf("%s=%v: err %v, want it to say %q", key, val, err, want)
	}
}
