package statemachine

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// Account mode's definition is the file byte for byte: organization mode
// changes nothing of a per-account deployment.
func TestAccountDefinitionIsTheFile(t *testing.T) {
	for _, mode := range []string{"", ModeAccount} {
		if DefinitionFor(mode) != definition {
			t.Errorf("DefinitionFor(%q) is not keywarden.asl.json", mode)
		}
	}
	if !slices.Equal(PlaceholdersOf(DefinitionFor(ModeAccount)), Placeholders()) {
		t.Error("account mode's placeholders differ from the file's")
	}
}

type orgState struct {
	Type                           string
	Next, Default                  string
	Label                          string
	ResultPath                     string
	ItemsPath                      string
	MaxConcurrencyPath             string
	ToleratedFailurePercentagePath string
	ItemSelector                   map[string]string
	Parameters                     map[string]any
	Result                         map[string]any
	Choices                        []struct{ Next string }
	Catch                          []struct {
		ErrorEquals []string
		ResultPath  string
		Next        string
	}
	Retry         []struct{ ErrorEquals []string }
	ItemProcessor struct {
		ProcessorConfig struct{ Mode, ExecutionType string }
		StartAt         string
		States          map[string]orgState
	}
	ErrorPath, CausePath string
}

func organizationStates(t *testing.T) map[string]orgState {
	t.Helper()
	var def struct{ States map[string]orgState }
	if err := json.Unmarshal([]byte(DefinitionFor(ModeOrganization)), &def); err != nil {
		t.Fatal(err)
	}
	return def.States
}

func TestOrganizationRoutesTheScheduleToItsRun(t *testing.T) {
	states := organizationStates(t)
	var routes []string
	for _, c := range states["RouteEvent"].Choices {
		routes = append(routes, c.Next)
	}
	if !slices.Contains(routes, "StartOrganizationRun") || slices.Contains(routes, "ScanKeyAges") {
		t.Errorf("RouteEvent routes %v: the scheduled event must go to StartOrganizationRun, not ScanKeyAges", routes)
	}
	for _, gone := range []string{"ScanKeyAges", "ActOnDecisions", "PublishDigest", "KeyAgesEnforced"} {
		if _, ok := states[gone]; ok {
			t.Errorf("account mode's %s is still in the organization definition", gone)
		}
	}
	// Every other branch of account mode is there, unchanged.
	var account struct{ States map[string]json.RawMessage }
	var org struct{ States map[string]json.RawMessage }
	_ = json.Unmarshal([]byte(definition), &account)
	_ = json.Unmarshal([]byte(DefinitionFor(ModeOrganization)), &org)
	for name, raw := range account.States {
		if name == "RouteEvent" || slices.Contains([]string{"ScanKeyAges", "ActOnDecisions", "PublishDigest", "KeyAgesEnforced"}, name) {
			continue
		}
		var a, o any
		_ = json.Unmarshal(raw, &a)
		_ = json.Unmarshal(org.States[name], &o)
		if a1, _ := json.Marshal(a); string(a1) != mustJSON(o) {
			t.Errorf("state %s differs between the modes", name)
		}
	}
	want := append(Placeholders(), "MaxConcurrency", "ToleratedFailurePercentage")
	slices.Sort(want)
	if got := PlaceholdersOf(DefinitionFor(ModeOrganization)); !slices.Equal(got, want) {
		t.Errorf("organization placeholders %v, want %v", got, want)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestOrganizationDailyRun(t *testing.T) {
	states := organizationStates(t)
	start := states["StartOrganizationRun"]
	if start.Next != "ListAccounts" || start.ResultPath != "$.run" || start.Parameters["event.$"] != "$" || start.Parameters["maxConcurrency.$"] != "States.StringToJson('${MaxConcurrency}')" ||
		start.Parameters["toleratedFailurePercentage.$"] != "States.StringToJson('${ToleratedFailurePercentage}')" {
		t.Errorf("StartOrganizationRun: %+v", start)
	}
	if p := states["ListAccounts"].Parameters; p["step"] != "accounts" || states["ListAccounts"].Next != "ScanAccounts" {
		t.Errorf("ListAccounts: %+v", states["ListAccounts"])
	}
	m := states["ScanAccounts"]
	pc := m.ItemProcessor.ProcessorConfig
	switch {
	case m.Type != "Map" || pc.Mode != "DISTRIBUTED" || pc.ExecutionType != "STANDARD":
		t.Errorf("ScanAccounts must be a DISTRIBUTED Map of STANDARD children: %+v", pc)
	case m.ItemsPath != "$.accounts.accounts" || m.Label == "":
		t.Errorf("ScanAccounts items %q label %q", m.ItemsPath, m.Label)
	case m.MaxConcurrencyPath != "$.run.maxConcurrency" || m.ToleratedFailurePercentagePath != "$.run.toleratedFailurePercentage":
		t.Errorf("ScanAccounts concurrency %q, tolerance %q", m.MaxConcurrencyPath, m.ToleratedFailurePercentagePath)
	}
	var raw struct {
		States map[string]map[string]json.RawMessage
	}
	_ = json.Unmarshal([]byte(DefinitionFor(ModeOrganization)), &raw)
	if rp, ok := raw.States["ScanAccounts"]["ResultPath"]; !ok || string(rp) != "null" {
		t.Errorf("ScanAccounts must discard its collected output (ResultPath null), has %s", rp)
	}
	for _, f := range []string{"account.$", "name.$", "event.$", "execution.$"} {
		if m.ItemSelector[f] == "" {
			t.Errorf("ScanAccounts ItemSelector lacks %s: %v", f, m.ItemSelector)
		}
	}
	if len(m.Catch) != 1 || m.Catch[0].Next != "PublishOrganizationDigest" || m.Catch[0].ResultPath != "$.run.fanOutError" || m.Next != "PublishOrganizationDigest" {
		t.Errorf("ScanAccounts must go on to the digest, failed or not: %+v", m.Catch)
	}

	// The child: every failure before the record is caught and recorded.
	child := m.ItemProcessor.States
	if m.ItemProcessor.StartAt != "ScanAccount" || child["ScanAccount"].Next != "ActOnAccount" || child["ActOnAccount"].Next != "RecordAccount" ||
		child["RecordAccount"].Next != "AccountDone" || child["RecordAccountFailure"].Next != "AccountDone" {
		t.Error("child: ScanAccount → ActOnAccount → RecordAccount → AccountDone expected")
	}
	for _, name := range []string{"ScanAccount", "ActOnAccount"} {
		c := child[name].Catch
		if len(c) != 1 || !slices.Equal(c[0].ErrorEquals, []string{"States.ALL"}) || c[0].Next != "RecordAccountFailure" || c[0].ResultPath != "$.error" {
			t.Errorf("%s must catch everything into RecordAccountFailure at $.error: %+v", name, c)
		}
	}
	for _, name := range []string{"RecordAccount", "RecordAccountFailure"} {
		s := child[name]
		if s.Parameters["step"] != "account" || len(s.Retry) == 0 || len(s.Catch) != 1 || s.Catch[0].Next != "AccountNotRecorded" {
			t.Errorf("%s: %+v", name, s)
		}
	}
	if child["RecordAccountFailure"].Parameters["error.$"] != "$.error" {
		t.Error("RecordAccountFailure must record the caught error")
	}
	if f := child["AccountNotRecorded"]; f.Type != "Fail" || f.ErrorPath == "" {
		t.Errorf("AccountNotRecorded: %+v", f)
	}
	if d := child["AccountDone"]; d.Type != "Pass" || d.Result == nil || len(d.Result) != 0 {
		t.Errorf("AccountDone must output {}: %+v", d)
	}
	chunk := child["ActOnAccount"].ItemProcessor.States["ActOnAccountChunk"]
	for _, f := range []string{"account.$", "execution.$", "runId.$", "chunk.$", "dryRun.$"} {
		if chunk.Parameters[f] == nil {
			t.Errorf("ActOnAccountChunk lacks %s", f)
		}
	}

	d := states["PublishOrganizationDigest"]
	if d.Parameters["step"] != "organization" || d.Next != "AccountsWithinTolerance" {
		t.Errorf("PublishOrganizationDigest: %+v", d)
	}
	c := states["AccountsWithinTolerance"]
	if c.Type != "Choice" || len(c.Choices) != 1 || c.Choices[0].Next != "AccountsFailed" || c.Default != "OrganizationKeyAgesEnforced" {
		t.Errorf("AccountsWithinTolerance: %+v", c)
	}
	if states["AccountsFailed"].Next != "AlertManualAction" {
		t.Error("too many failed accounts must alert like any failure (AlertManualAction)")
	}
}

func TestRenderOrganization(t *testing.T) {
	def := DefinitionFor(ModeOrganization)
	values := map[string]string{}
	for _, p := range PlaceholdersOf(def) {
		values[p] = "arn:aws:lambda:us-east-1:123456789012:function:" + p
	}
	values["MaxConcurrency"], values["ToleratedFailurePercentage"] = "10", "5"
	out, err := RenderOf(def, values)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "${") || !json.Valid([]byte(out)) || !strings.Contains(out, "States.StringToJson('10')") {
		t.Error("rendered organization definition still has placeholders, is not JSON, or lost the concurrency")
	}
}

func TestMergeRefuses(t *testing.T) {
	base := `{"StartAt":"RouteEvent","States":{"RouteEvent":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"Next":"ScanKeyAges"}],"Default":"X"},"ScanKeyAges":{"Type":"Succeed"},"X":{"Type":"Succeed"}}}`
	if _, err := merge(base, `{"StartAt":"X","States":{"X":{"Type":"Succeed"}}}`, false); err == nil || !strings.Contains(err.Error(), "in both") {
		t.Errorf("a state in both: %v", err)
	}
	noRoute := strings.Replace(base, `"Next":"ScanKeyAges"`, `"Next":"X"`, 1)
	if _, err := merge(noRoute, `{"StartAt":"Y","States":{"Y":{"Type":"Succeed"}}}`, false); err == nil || !strings.Contains(err.Error(), "no route") {
		t.Errorf("no scheduled route: %v", err)
	}
	out, err := merge(base, `{"StartAt":"Y","States":{"Y":{"Type":"Succeed"}}}`, false)
	if err != nil || strings.Contains(out, "ScanKeyAges") || !strings.Contains(out, `"Next": "Y"`) {
		t.Errorf("merge: %v\n%s", err, out)
	}
	both, err := merge(base, `{"StartAt":"Y","States":{"Y":{"Type":"Succeed"}}}`, true)
	if err != nil || !strings.Contains(both, `"ScanKeyAges": {`) || !strings.Contains(both, `"Next": "ScanKeyAges"`) || !strings.Contains(both, `"Next": "Y"`) {
		t.Errorf("merge for drawing: %v\n%s", err, both)
	}
}

// The drawing holds every state of both modes, each reachable, and both
// routes of the scheduled event.
func TestDrawn(t *testing.T) {
	var drawn, account, org struct{ States map[string]json.RawMessage }
	for _, x := range []struct {
		def  string
		into any
	}{{Drawn(), &drawn}, {definition, &account}, {DefinitionFor(ModeOrganization), &org}} {
		if err := json.Unmarshal([]byte(x.def), x.into); err != nil {
			t.Fatal(err)
		}
	}
	for name := range account.States {
		if _, ok := drawn.States[name]; !ok {
			t.Errorf("the drawing lacks account mode's %s", name)
		}
	}
	for name := range org.States {
		if _, ok := drawn.States[name]; !ok {
			t.Errorf("the drawing lacks organization mode's %s", name)
		}
	}
	if route := string(drawn.States["RouteEvent"]); !strings.Contains(route, `"Next":"ScanKeyAges"`) && !strings.Contains(route, `"Next": "ScanKeyAges"`) ||
		!strings.Contains(route, "StartOrganizationRun") {
		t.Errorf("RouteEvent in the drawing: %s", route)
	}
}
