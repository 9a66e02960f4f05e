package settings

import "testing"

// The tamper watch undoes by default and keeps an incident open 30 days;
// both read from cdk.json, and a bad value says what to fix.
func TestTamperSettings(t *testing.T) {
	if d := Default(); !d.TamperUndo || d.IncidentOpenDays != 30 {
		t.Errorf("defaults: tamperUndo %v, incidentOpenDays %d; want true, 30", d.TamperUndo, d.IncidentOpenDays)
	}
	ctx := map[string]any{"tamperUndo": "false", "incidentOpenDays": 7.0}
	s, err := FromContext(func(k string) any { return ctx[k] })
	if err != nil || s.TamperUndo || s.IncidentOpenDays != 7 {
		t.Errorf("got tamperUndo %v, incidentOpenDays %d, %v", s.TamperUndo, s.IncidentOpenDays, err)
	}
	for _, tc := range []struct {
		key  string
		val  any
		want string
	}{
		{"tamperUndo", "sometimes", `tamperUndo: want true or false, got "sometimes"`},
		{"incidentOpenDays", 0.0, "incidentOpenDays is 0; use 1 to 365"},
		{"incidentOpenDays", 366.0, "incidentOpenDays is 366; use 1 to 365"},
		{"incidentOpenDays", "a month", `incidentOpenDays: want a whole number, got "a month"`},
	} {
		wantInvalid(t, tc.key, tc.val, tc.want)
	}
	for _, ok := range []int{1, 30, 365} {
		s := Default()
		s.IncidentOpenDays = ok
		if err := s.Validate(); err != nil {
			t.Errorf("incidentOpenDays %d: %v", ok, err)
		}
	}
}
