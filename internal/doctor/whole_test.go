package doctor

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/settings"
)

var update = flag.Bool("update", false, "rewrite testdata/doctor-*.txt from the current output")

// healthyDeployment is the template's stack, enforcing, with notices from
// a verified sender: every check passes.
func healthyDeployment(t *testing.T) *deployment {
	rules, outputs := fromTemplate(t)
	d := newDeployment(t, rules, outputs)
	d.setOutput(outKeyAgeMode, keyAgeModeEnforcing)
	d.setOutput(outNoticeSender, testSender)
	return d
}

// brokenDeployment is the template's stack as deployed (a dry run) with
// one thing wrong for each check that can go wrong after a deploy.
func brokenDeployment(t *testing.T) *deployment {
	rules, outputs := fromTemplate(t)
	d := newDeployment(t, rules, outputs)
	d.setOutput(outNoticeSender, testSender)
	must(t, d.srv.AddEmailIdentity(testSender, false))
	d.srv.SetSESAccount(localaws.SESAccount{SendingEnabled: true})
	topic := replaceTopic(t, d, "Keywarden-AlertTopicUnconfirmed")
	_, err := d.srv.AddSubscription(topic, localaws.Subscription{Protocol: "email", Endpoint: "security@example.com", Pending: true})
	must(t, err)
	must(t, d.srv.AddTrail(localaws.Trail{Name: "management-events", MultiRegion: true, Logging: false}))
	for _, r := range d.rules {
		if strings.Contains(r, "ScheduleRule") && !strings.Contains(r, "Drill") {
			must(t, d.srv.SetRuleEnabled(r, false))
		}
	}
	must(t, d.srv.SetQueueDepth(testQueueName, 2, 0))
	d.freshMachine()
	d.addExecution("daily-2026-02-27", localaws.ExecutionSucceeded, time.Date(2026, 2, 27, 8, 0, 0, 0, time.UTC), 2*time.Minute)
	d.addExecution("daily-2026-02-28", localaws.ExecutionFailed, time.Date(2026, 2, 28, 8, 0, 0, 0, time.UTC), 3*time.Minute)
	d.addExecution("exposed-bob-AKIAEXAMPLEBOB000001", localaws.ExecutionFailed, time.Date(2026, 2, 28, 14, 10, 0, 0, time.UTC), time.Minute)
	must(t, d.srv.SetAlarm(localaws.Alarm{Name: "Keywarden-DailyRunMissing", State: localaws.AlarmAlarm,
		Reason: "Threshold Crossed: 26 datapoints were less than the threshold (1.0)"}))
	must(t, d.srv.SetAlarm(localaws.Alarm{Name: "Keywarden-DeadLetterQueue", State: localaws.AlarmAlarm,
		Reason: "Threshold Crossed: 1 datapoint [2.0] was greater than or equal to the threshold (1.0)"}))
	return d
}

// orgTemplate is organization mode's hub template (make synth).
var orgTemplate = filepath.Join("..", "..", "build", "variants", "organization", "Keywarden.template.json")

// healthyHub is the hub template's stack in an organization (hub a
// delegated administrator, the StackSet called as DELEGATED_ADMIN, legacy
// excluded, sandbox opted out), with every check passing.
func healthyHub(t *testing.T) *deployment {
	rules, outputs := fromTemplateFile(t, orgTemplate)
	// The fixture sets the scope of its own organization; the template
	// must have every output it replaces, under doctor's names.
	have := map[string]string{}
	for _, o := range outputs {
		have[o.Key] = o.Value
	}
	for _, k := range organizationOutputs {
		if have[k] == "" {
			t.Errorf("the hub template has no output %s (infra/organization.go and doctor disagree)", k)
		}
	}
	if have[outMode] != settings.ModeOrganization || have[outStackSetName] != testStackSet || have[outOrganizationBus] != testOrgBus ||
		have[outStackSetCallAs] != localaws.CallAsDelegatedAdmin {
		t.Errorf("hub template outputs %v", have)
	}
	d := newOrgDeployment(t, rules, outputs)
	d.setOutput(outKeyAgeMode, keyAgeModeEnforcing)
	d.setOutput(outNoticeSender, testSender)
	return d
}

// brokenHub is a healthy hub with one thing wrong for each organization
// check: automatic deployment off, prod's instance OUTDATED, no instance
// in staging, one in the excluded legacy account, the bus policy naming
// another organization, the organization trail stopped.
func brokenHub(t *testing.T) *deployment {
	d := healthyHub(t)
	d.org.stackSet.AutoDeployment = false
	d.setInstance(testProd, localaws.StackInstance{OrganizationalUnitID: d.org.workloads, Status: localaws.StackInstanceOutdated,
		StatusReason: "ResourceLogicalId:ReadRole, ResourceType:AWS::IAM::Role, ResourceStatusReason:keywarden-member-read already exists."})
	d.setInstance(testStaging, localaws.StackInstance{})
	d.setInstance(testLegacy, localaws.StackInstance{OrganizationalUnitID: d.org.workloads, Status: localaws.StackInstanceCurrent})
	d.setBusPolicy(busPolicy("o-another0001"))
	must(t, d.srv.AddTrail(localaws.Trail{Name: "organization-trail", Organization: true, MultiRegion: true}))
	return d
}

// TestWholeDoctor runs every check against a healthy and a broken local
// deployment of the synthesized template, and keeps docs/doctor.md's
// examples equal to the output.
func TestWholeDoctor(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "doctor.md"))
	must(t, err)
	for _, c := range []struct {
		name       string
		deploy     func(*testing.T) *deployment
		wantFailed bool
		want       map[string]Status
	}{
		{"healthy", healthyDeployment, false, map[string]Status{
			"region": Pass, "stack": Pass, "outputs": Pass, "settings": Pass, "alert-subscriptions": Pass, "ses-sender": Pass,
			"ses-account": Pass, "cloudtrail": Pass, "rules": Pass, "dead-letter-queue": Pass, "daily-run": Pass,
			"failed-executions": Pass, "alarms": Pass}},
		{"broken", brokenDeployment, true, map[string]Status{
			"region": Pass, "stack": Pass, "outputs": Pass, "settings": Warn, "alert-subscriptions": Fail, "ses-sender": Fail,
			"ses-account": Warn, "cloudtrail": Fail, "rules": Fail, "dead-letter-queue": Fail, "daily-run": Fail,
			"failed-executions": Warn, "alarms": Fail}},
		{"organization-healthy", healthyHub, false, map[string]Status{
			"region": Pass, "stack": Pass, "outputs": Pass, "settings": Pass, "alert-subscriptions": Pass, "ses-sender": Pass,
			"ses-account": Pass, "cloudtrail": Pass, "rules": Pass, "dead-letter-queue": Pass, "daily-run": Pass,
			"failed-executions": Pass, "alarms": Pass,
			"stackset": Pass, "stack-instances": Pass, "member-accounts": Pass, "organization-bus": Pass, "organization-trail": Pass}},
		{"organization-broken", brokenHub, true, map[string]Status{
			"region": Pass, "stack": Pass, "outputs": Pass, "settings": Pass, "alert-subscriptions": Pass, "ses-sender": Pass,
			"ses-account": Pass, "cloudtrail": Pass, "rules": Pass, "dead-letter-queue": Pass, "daily-run": Pass,
			"failed-executions": Pass, "alarms": Pass,
			"stackset": Fail, "stack-instances": Fail, "member-accounts": Fail, "organization-bus": Fail, "organization-trail": Warn}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := c.deploy(t).run()
			if rep.Failed() != c.wantFailed {
				t.Errorf("Failed() = %v, want %v", rep.Failed(), c.wantFailed)
			}
			got := map[string]Status{}
			for _, r := range rep.Results {
				got[r.ID] = r.Status
				if strings.Contains(r.Detail, "local-") || strings.Contains(r.Fix, "local-") {
					t.Errorf("%s reads an output the deployment did not fill: %+v", r.ID, r)
				}
			}
			if len(got) != len(c.want) {
				t.Errorf("%d checks ran, want %d: %v", len(got), len(c.want), got)
			}
			for id, want := range c.want {
				if got[id] != want {
					t.Errorf("%s = %s, want %s", id, got[id], want)
				}
			}

			var text bytes.Buffer
			must(t, WriteText(&text, rep))
			golden := filepath.Join("testdata", "doctor-"+c.name+".txt")
			if *update {
				must(t, os.WriteFile(golden, text.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			must(t, err)
			if text.String() != string(want) {
				t.Errorf("output differs from %s (go test ./internal/doctor -run TestWholeDoctor -update, then paste it in docs/doctor.md):\n%s", golden, text.String())
			}
			if !bytes.Contains(doc, []byte("```text\n$ keywarden doctor\n"+text.String()+"```")) {
				t.Errorf("docs/doctor.md does not show the %s output of %s verbatim", c.name, golden)
			}

			var js bytes.Buffer
			must(t, WriteJSON(&js, rep))
			var back Report
			must(t, json.Unmarshal(js.Bytes(), &back))
			if len(back.Results) != len(rep.Results) || back.Results[4] != rep.Results[4] {
				t.Errorf("JSON round trip: %s", js.String())
			}
		})
	}
}
