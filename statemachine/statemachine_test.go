package statemachine

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/alert"
	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/step"
)

type state struct {
	Type     string
	Next     string
	End      bool
	Default  string
	Resource string
	Choices  []struct{ Next string }
	Retry    []struct {
		ErrorEquals []string
		MaxAttempts int
		BackoffRate float64
	}
	Catch []struct {
		ErrorEquals []string
		Next        string
		ResultPath  string
	}
	Error, ErrorPath, Cause, CausePath string
}

// modes are the definitions every structural test checks.
var modes = []string{ModeAccount, ModeOrganization}

func definitionStates(t *testing.T, mode string) (string, map[string]state) {
	t.Helper()
	var def struct {
		StartAt string
		States  map[string]state
	}
	if err := json.Unmarshal([]byte(DefinitionFor(mode)), &def); err != nil {
		t.Fatal(err)
	}
	return def.StartAt, def.States
}

// eachMode runs check on each mode's definition.
func eachMode(t *testing.T, check func(t *testing.T, mode string)) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) { check(t, mode) })
	}
}

func TestEveryTaskRetriesTransientErrorsAndCatchesTheRest(t *testing.T) {
	eachMode(t, func(t *testing.T, mode string) {
		_, states := definitionStates(t, mode)
		for name, s := range states {
			if s.Type != "Task" {
				continue
			}
			if len(s.Retry) == 0 {
				t.Errorf("%s: no Retry", name)
				continue
			}
			retried := s.Retry[0].ErrorEquals
			for _, want := range []string{step.Throttled, step.Transient, "Lambda.ServiceException", "Lambda.TooManyRequestsException"} {
				if !slices.Contains(retried, want) {
					t.Errorf("%s: Retry lacks %s", name, want)
				}
			}
			for _, never := range []string{step.InvalidEvent, step.AccessDenied, "States.ALL"} {
				if slices.Contains(retried, never) {
					t.Errorf("%s: retries %s, which another attempt cannot fix", name, never)
				}
			}
			if s.Retry[0].MaxAttempts < 3 || s.Retry[0].BackoffRate < 1.5 {
				t.Errorf("%s: retry %+v is not a back-off", name, s.Retry[0])
			}
			if len(s.Catch) != 1 || !slices.Equal(s.Catch[0].ErrorEquals, []string{"States.ALL"}) {
				t.Errorf("%s: must catch States.ALL once, has %+v", name, s.Catch)
				continue
			}
			// A step's failure alerts; an alert's own failure fails the execution.
			// The CloudTrail lookup is informational: its failure must not keep
			// the key from being removed, so it goes on to RemoveKey.
			target := states[s.Catch[0].Next]
			if name == "LookUpActivity" {
				if s.Catch[0].Next != "RemoveKey" || s.Catch[0].ResultPath != "$.activityError" {
					t.Errorf("%s: catch goes to %s at %s, want RemoveKey at $.activityError", name, s.Catch[0].Next, s.Catch[0].ResultPath)
				}
				continue
			}
			if strings.HasPrefix(name, "Alert") {
				if target.Type != "Fail" {
					t.Errorf("%s: an undeliverable alert must end in a Fail state, goes to %s", name, s.Catch[0].Next)
				}
			} else if s.Catch[0].Next != "AlertManualAction" || s.Catch[0].ResultPath != "$.error" {
				t.Errorf("%s: catch goes to %s at %s, want AlertManualAction at $.error", name, s.Catch[0].Next, s.Catch[0].ResultPath)
			}
		}
	})
}

func TestEveryStateIsReachableAndEveryNextExists(t *testing.T) {
	eachMode(t, func(t *testing.T, mode string) {
		start, states := definitionStates(t, mode)
		seen := map[string]bool{}
		var walk func(string)
		walk = func(n string) {
			s, ok := states[n]
			if !ok {
				t.Errorf("transition to missing state %q", n)
				return
			}
			if seen[n] {
				return
			}
			seen[n] = true
			next := []string{s.Next, s.Default}
			for _, c := range s.Choices {
				next = append(next, c.Next)
			}
			for _, c := range s.Catch {
				next = append(next, c.Next)
			}
			for _, x := range next {
				if x != "" {
					walk(x)
				}
			}
		}
		walk(start)
		for n := range states {
			if !seen[n] {
				t.Errorf("state %s is unreachable", n)
			}
		}
		if start != "RouteEvent" || states[start].Type != "Choice" {
			t.Errorf("the definition must start with the routing Choice, starts at %s", start)
		}
		if f := states["UnsupportedEvent"]; f.Type != "Fail" || f.Error != step.UnsupportedEvent {
			t.Errorf("unsupported input must end in Fail %s: %+v", step.UnsupportedEvent, f)
		}
	})
}

// Containment first: on the exposed-key path nothing runs between reading
// the finding and containing the key.
func TestContainmentIsTheFirstWrite(t *testing.T) {
	eachMode(t, func(t *testing.T, mode string) {
		_, states := definitionStates(t, mode)
		if states["ReadFinding"].Next != "IsKeyOfThisAccount" || states["IsKeyOfThisAccount"].Default != "IsRootKey" || states["IsRootKey"].Default != "ContainKey" {
			t.Errorf("ReadFinding → IsKeyOfThisAccount → IsRootKey → ContainKey expected")
		}
		// A key of another account goes to its alert, and from there nowhere
		// near IAM.
		foreign := states["IsKeyOfThisAccount"].Choices
		if len(foreign) != 1 || foreign[0].Next != "AlertForeignAccountKey" || states["AlertForeignAccountKey"].Next != "ForeignAccountKeyAlerted" ||
			states["ForeignAccountKeyAlerted"].Type != "Succeed" {
			t.Errorf("IsKeyOfThisAccount must send a key of another account to AlertForeignAccountKey, then succeed")
		}
		if states["ContainKey"].Next != "RevokeSessions" || states["RevokeSessions"].Next != "LookUpActivity" {
			t.Errorf("ContainKey must come before the session revocation and the CloudTrail lookup")
		}
	})
}

func TestRender(t *testing.T) {
	values := map[string]string{}
	for _, p := range Placeholders() {
		values[p] = "arn:aws:lambda:us-east-1:123456789012:function:" + p
	}
	out, err := Render(values)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "${") || !json.Valid([]byte(out)) {
		t.Error("rendered definition still has placeholders or is not JSON")
	}
	delete(values, Placeholders()[0])
	if _, err := Render(values); err == nil || !strings.Contains(err.Error(), "no value for") {
		t.Errorf("missing value: %v", err)
	}
	values[Placeholders()[0]] = "x"
	values["Nope"] = "x"
	if _, err := Render(values); err == nil || !strings.Contains(err.Error(), "no placeholder ${Nope}") {
		t.Errorf("unknown value: %v", err)
	}
}

// The definition passes the ASL validator the interpreter uses (installed
// by `make deps`).
func TestASLValidator(t *testing.T) {
	validator := filepath.Join("..", ".tools", "node_modules", ".bin", "asl-validator")
	if _, err := os.Stat(validator); err != nil {
		t.Fatalf("asl-validator is not installed: run `make deps` (%v)", err)
	}
	out, err := exec.Command(validator, "--json-path", "keywarden.asl.json").CombinedOutput()
	if err != nil {
		t.Fatalf("asl-validator: %v\n%s", err, out)
	}
	org := filepath.Join(t.TempDir(), "organization.asl.json")
	if err := os.WriteFile(org, []byte(DefinitionFor(ModeOrganization)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(validator, "--json-path", org).CombinedOutput(); err != nil {
		t.Fatalf("asl-validator, organization mode: %v\n%s", err, out)
	}
}

// The Health notice codes the routing Choice sends to AlertHealthNotice are
// exactly event.HealthNoticeCodes (the Health rule matches those and the
// key codes), and every alert task's kind is one the alert step composes.
func TestHealthNoticeRouteAndAlertKinds(t *testing.T) {
	var def struct {
		States map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(DefinitionFor(ModeOrganization)), &def); err != nil {
		t.Fatal(err)
	}
	var route struct {
		Choices []json.RawMessage
	}
	_ = json.Unmarshal(def.States["RouteEvent"], &route)
	var codes []string
	for _, c := range route.Choices {
		var choice struct{ Next string }
		_ = json.Unmarshal(c, &choice)
		if choice.Next != "AlertHealthNotice" {
			continue
		}
		var visit func(json.RawMessage)
		visit = func(raw json.RawMessage) {
			var r struct {
				Variable     string
				StringEquals *string
				And, Or      []json.RawMessage
			}
			_ = json.Unmarshal(raw, &r)
			if r.Variable == "$.detail.eventTypeCode" && r.StringEquals != nil {
				codes = append(codes, *r.StringEquals)
			}
			for _, sub := range append(r.And, r.Or...) {
				visit(sub)
			}
		}
		visit(c)
	}
	if !slices.Equal(codes, event.HealthNoticeCodes) {
		t.Errorf("AlertHealthNotice routes %v, want event.HealthNoticeCodes %v", codes, event.HealthNoticeCodes)
	}
	for name, raw := range def.States {
		var task struct {
			Resource   string
			Parameters map[string]any
		}
		_ = json.Unmarshal(raw, &task)
		if task.Resource != "${AlertFunctionArn}" {
			continue
		}
		kind, _ := task.Parameters["kind"].(string)
		if !slices.Contains(alert.Kinds, kind) {
			t.Errorf("%s sends kind %q, which the alert step does not compose (%v)", name, kind, alert.Kinds)
		}
	}
}
