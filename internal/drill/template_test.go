package drill

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestRulesFromTemplate(t *testing.T) {
	rules, err := RulesFromTemplate(filepath.Join(root, "cdk.out", "Keywarden.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rules {
		ids = append(ids, r.LogicalID)
	}
	got := strings.Join(ids, ",")
	for _, want := range []string{"DrillRule", "HealthRule", "TrustedAdvisorRule", "ScheduleRule", "DrillScheduleRule", "KeyCreationRule", "DrillKeyCreationRule"} {
		if !strings.Contains(got, want) {
			t.Errorf("rules %s lack %s", got, want)
		}
	}
	if strings.Contains(got, "FailedExecution") {
		t.Errorf("rules %s include one that does not target the intake", got)
	}
	if _, err := RulesFromTemplate("no/such/template.json"); err == nil || !strings.Contains(err.Error(), "make synth") {
		t.Errorf("missing template: %v", err)
	}
}
