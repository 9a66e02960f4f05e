package drill

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestNoSecretLeaks runs every scenario and searches everything each one
// produced — the handlers' logs, alerts, e-mails, events, every execution's
// full history with each state's input and output, the ledger, the API call
// log and the drill's own reports (the JSON outcome, the HTML page) — for every secret access key the account
// ever held: the fixture's keys and the keys rotation created. A secret may
// be in one place only, the user's Secrets Manager secret.
func TestNoSecretLeaks(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	defer slog.SetDefault(prev)

	o := options(t)
	audited := map[string]int{} // scenario → secrets searched for
	o.Audit = func(scenario string, secrets []string, produced map[string][]byte) {
		produced["handler logs"] = bytes.Clone(logs.Bytes())
		logs.Reset()
		if len(produced["handler logs"]) == 0 || len(produced["execution history "+firstExecution(produced)]) == 0 {
			t.Errorf("%s: nothing to search (logs %d bytes)", scenario, len(produced["handler logs"]))
		}
		for _, leak := range leaks(secrets, produced) {
			t.Errorf("%s: a secret access key is in the %s", scenario, leak)
		}
		audited[scenario] = len(secrets)
	}
	outcomes, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(audited) != len(Scenarios()) || len(outcomes) != len(Scenarios()) {
		t.Fatalf("audited %d scenarios, want %d", len(audited), len(Scenarios()))
	}
	// The rotation scenario created a key (and its secret) beyond the
	// fixture's, so its secret was among those searched for.
	if audited["rotation"] <= audited["exposed-key"] {
		t.Errorf("rotation searched for %d secrets, the fixture alone has %d: the rotated key's secret was not searched for",
			audited["rotation"], audited["exposed-key"])
	}
	// So did the organization's, in its member (data-prod).
	if audited["org-rotation"] <= audited["org-daily-run"] {
		t.Errorf("org-rotation searched for %d secrets, org-daily-run %d: the member's rotated key's secret was not searched for",
			audited["org-rotation"], audited["org-daily-run"])
	}
}

// firstExecution is the name of one execution whose history was produced.
func firstExecution(produced map[string][]byte) string {
	for k := range produced {
		if name, ok := strings.CutPrefix(k, "execution history "); ok {
			return name
		}
	}
	return ""
}

// leaks names the kinds of output that hold any of the secrets.
func leaks(secrets []string, produced map[string][]byte) []string {
	var out []string
	for kind, b := range produced {
		for _, s := range secrets {
			if s != "" && bytes.Contains(b, []byte(s)) {
				out = append(out, kind)
				break
			}
		}
	}
	return out
}

// The search finds a secret wherever it is, JSON-escaped or not.
func TestLeaksFindsASecret(t *testing.T) {
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	produced := map[string][]byte{"clean": []byte(`{"accessKeyId":"AKIAEXAMPLE"}`), "dirty": []byte(`{"note":"` + secret + `"}`)}
	if got := leaks([]string{secret}, produced); len(got) != 1 || got[0] != "dirty" {
		t.Errorf("leaks = %v, want [dirty]", got)
	}
}

// The HTML report writes a secret's '+' as &#43;: the search reads the
// report with its escapes undone, and still finds it.
func TestReportTextFindsASecret(t *testing.T) {
	secret := "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	page, err := reportText(root, Outcome{Scenario: "s", Alerts: []Alert{{Subject: "x", Body: "key " + secret}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := leaks([]string{secret}, map[string][]byte{"html report": page}); len(got) != 1 {
		t.Errorf("the secret in an alert body is not found in the report text")
	}
}
