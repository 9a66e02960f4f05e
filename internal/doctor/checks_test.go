package doctor

import (
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/localaws"
)

// checkCase is one check in one state: how to get the deployment there
// and what the check must then say.
type checkCase struct {
	name   string
	check  string
	setup  func(d *deployment)
	doctor func(d *Doctor)
	want   Status
	detail []string // substrings of Detail
	fix    string   // a substring of Fix
	org    bool     // on a hub (newOrgDeployment)
}

func (c checkCase) run(t *testing.T) {
	newDeploy := newDeployment
	if c.org {
		newDeploy = newOrgDeployment
	}
	d := newDeploy(t, fixedRules, nil)
	if c.setup != nil {
		c.setup(d)
	}
	doc := d.doctor()
	if c.doctor != nil {
		c.doctor(&doc)
	}
	rep := doc.Run(t.Context())
	var got *Result
	for i := range rep.Results {
		if rep.Results[i].ID == c.check {
			got = &rep.Results[i]
		}
	}
	if got == nil {
		t.Fatalf("no result %s in %+v (not checked: %s)", c.check, rep.Results, rep.NotChecked)
	}
	if got.Status != c.want {
		t.Errorf("%s = %s, want %s: %s (fix: %s)", c.check, got.Status, c.want, got.Detail, got.Fix)
	}
	for _, s := range c.detail {
		if !strings.Contains(got.Detail, s) {
			t.Errorf("%s detail %q does not say %q", c.check, got.Detail, s)
		}
	}
	if !strings.Contains(got.Fix, c.fix) {
		t.Errorf("%s fix %q does not say %q", c.check, got.Fix, c.fix)
	}
	if got.Status != Pass && got.Fix == "" {
		t.Errorf("%s %s without a fix", c.check, got.Status)
	}
	if rep.Failed() != (got.Status == Fail) && c.want == Fail {
		t.Errorf("Failed() = %v with %s failing", rep.Failed(), c.check)
	}
}

func runCases(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

func TestCheckRegion(t *testing.T) {
	runCases(t, []checkCase{
		{name: "us-east-1 passes", check: "region", want: Pass, detail: []string{"us-east-1"}},
		{name: "another region fails", check: "region", doctor: func(d *Doctor) { d.Region = "eu-west-1" },
			want: Fail, detail: []string{"eu-west-1", "only in us-east-1"}, fix: "--region us-east-1"},
	})
}

func TestCheckStack(t *testing.T) {
	runCases(t, []checkCase{
		{name: "complete passes", check: "stack", want: Pass, detail: []string{"CREATE_COMPLETE"}},
		{name: "missing fails", check: "stack", doctor: func(d *Doctor) { d.Stack = "Elsewhere" },
			want: Fail, detail: []string{"no stack Elsewhere in us-east-1"}, fix: "cdk deploy"},
		{name: "rolled back fails", check: "stack", setup: func(d *deployment) { d.stack.Status = "ROLLBACK_COMPLETE"; d.redeploy() },
			want: Fail, detail: []string{"ROLLBACK_COMPLETE"}, fix: "cloudformation/home?region=us-east-1"},
		{name: "update rolled back warns", check: "stack", setup: func(d *deployment) { d.stack.Status = "UPDATE_ROLLBACK_COMPLETE"; d.redeploy() },
			want: Warn, detail: []string{"rolled back"}, fix: "cdk deploy"},
	})
	// With no stack the other checks do not run, and say why.
	d := newDeployment(t, fixedRules, nil)
	doc := d.doctor()
	doc.Stack = "Elsewhere"
	rep := doc.Run(t.Context())
	if len(rep.Results) != 2 || rep.NotChecked == "" || !rep.Failed() {
		t.Errorf("without a stack: %+v", rep)
	}
}

func TestCheckOutputs(t *testing.T) {
	runCases(t, []checkCase{
		{name: "all there passes", check: "outputs", want: Pass},
		{name: "an older stack fails", check: "outputs", setup: func(d *deployment) { d.setOutput(outNoticeSender, "") },
			want: Fail, detail: []string{"missing: NoticeSender"}, fix: "cdk deploy"},
	})
}

func TestCheckSettings(t *testing.T) {
	runCases(t, []checkCase{
		{name: "enforcing passes", check: "settings", want: Pass, detail: []string{"enforcing", "e-mailed from " + testSender}},
		{name: "dry run warns", check: "settings", setup: func(d *deployment) { d.setOutput(outKeyAgeMode, keyAgeModeDryRun) },
			want: Warn, detail: []string{"deactivates no key"}, fix: `"dryRun": false`},
		{name: "unknown mode fails", check: "settings", setup: func(d *deployment) { d.setOutput(outKeyAgeMode, "maybe") },
			want: Fail, detail: []string{`"maybe"`}, fix: "cdk deploy"},
	})
}

func TestCheckSubscriptions(t *testing.T) {
	pending := func(d *deployment) {
		_, err := d.srv.AddSubscription(d.topic, localaws.Subscription{Protocol: "email", Endpoint: "oncall@example.com", Pending: true})
		must(t, err)
		// A webhook's path may hold a token: never printed.
		_, err = d.srv.AddSubscription(d.topic, localaws.Subscription{Protocol: "https", Endpoint: "https://hooks.example.com/services/T000/B000/SECRETTOKEN", Pending: true})
		must(t, err)
	}
	runCases(t, []checkCase{
		{name: "confirmed passes", check: "alert-subscriptions", want: Pass, detail: []string{"1 confirmed: email security@example.com"}},
		{name: "pending beside confirmed warns", check: "alert-subscriptions", setup: pending,
			want: Warn, detail: []string{"pending: email oncall@example.com, https https://hooks.example.com/…"}, fix: "confirm"},
		{name: "only pending fails", check: "alert-subscriptions", setup: func(d *deployment) {
			topic := replaceTopic(t, d, "Keywarden-Pending")
			_, err := d.srv.AddSubscription(topic, localaws.Subscription{Protocol: "email", Endpoint: "oncall@example.com", Pending: true})
			must(t, err)
		}, want: Fail, detail: []string{"no confirmed subscription", "pending: email oncall@example.com"}, fix: "aws sns subscribe"},
		{name: "none fails", check: "alert-subscriptions", setup: func(d *deployment) { replaceTopic(t, d, "Keywarden-Empty") },
			want: Fail, detail: []string{"no subscription"}, fix: "aws sns subscribe --region us-east-1 --topic-arn arn:aws:sns:us-east-1:123456789012:Keywarden-Empty"},
		{name: "a missing topic fails", check: "alert-subscriptions", setup: func(d *deployment) {
			d.setOutput(outAlertTopic, "arn:aws:sns:us-east-1:123456789012:Gone")
		}, want: Fail, detail: []string{"could not check", "NotFound"}, fix: "sns:ListSubscriptionsByTopic"},
	})
	for _, c := range []string{"SECRETTOKEN", "/services/"} {
		d := newDeployment(t, fixedRules, nil)
		pending(d)
		var b strings.Builder
		must(t, WriteText(&b, d.run()))
		if strings.Contains(b.String(), c) {
			t.Errorf("the report shows a webhook's %q:\n%s", c, b.String())
		}
	}
}

// replaceTopic points the stack at a new topic with no subscription.
func replaceTopic(t *testing.T, d *deployment, name string) string {
	t.Helper()
	arn := createTopic(t, d, name)
	d.setOutput(outAlertTopic, arn)
	return arn
}

func TestCheckSESSender(t *testing.T) {
	runCases(t, []checkCase{
		{name: "verified address passes", check: "ses-sender", want: Pass, detail: []string{testSender + " is verified"}},
		{name: "verified domain passes", check: "ses-sender", setup: func(d *deployment) {
			must(t, d.srv.AddEmailIdentity("example.org", true))
			d.setOutput(outNoticeSender, "notices@example.org")
		}, want: Pass, detail: []string{"identity example.org"}},
		{name: "pending fails", check: "ses-sender", setup: func(d *deployment) { must(t, d.srv.AddEmailIdentity(testSender, false)) },
			want: Fail, detail: []string{"PENDING", "refused"}, fix: "verification e-mail"},
		{name: "no identity fails", check: "ses-sender", setup: func(d *deployment) { d.setOutput(outNoticeSender, "someone@unknown.example") },
			want: Fail, detail: []string{"no SES identity for someone@unknown.example"}, fix: "aws sesv2 create-email-identity"},
		{name: "no sender passes, saying SES is unused", check: "ses-sender", setup: func(d *deployment) { d.setOutput(outNoticeSender, noNoticeSender) },
			want: Pass, detail: []string{"SES is not used"}},
	})
}

func TestCheckSESAccount(t *testing.T) {
	runCases(t, []checkCase{
		{name: "production passes", check: "ses-account", want: Pass, detail: []string{"out of the sandbox"}},
		{name: "sandbox warns", check: "ses-account", setup: func(d *deployment) {
			d.srv.SetSESAccount(localaws.SESAccount{SendingEnabled: true})
		}, want: Warn, detail: []string{"sandbox", "only verified recipients"}, fix: "ses/home?region=us-east-1#/account"},
		{name: "sending disabled fails", check: "ses-account", setup: func(d *deployment) {
			d.srv.SetSESAccount(localaws.SESAccount{ProductionAccess: true})
		}, want: Fail, detail: []string{"sending is disabled"}, fix: "--sending-enabled"},
		{name: "no sender passes, saying why", check: "ses-account", setup: func(d *deployment) { d.setOutput(outNoticeSender, noNoticeSender) },
			want: Pass, detail: []string{"not checked: no noticeSender"}},
	})
}

func TestCheckTrail(t *testing.T) {
	trail := func(tr localaws.Trail) func(d *deployment) {
		return func(d *deployment) { must(t, d.srv.AddTrail(tr)) }
	}
	runCases(t, []checkCase{
		{name: "multi-region logging passes", check: "cloudtrail", want: Pass, detail: []string{"management-events is logging", "multi-region"}},
		{name: "us-east-1 trail with advanced selectors passes", check: "cloudtrail",
			setup: trail(localaws.Trail{Name: "management-events", Logging: true, AdvancedEventSelectors: []localaws.AdvancedEventSelector{{
				Name: "management", FieldSelectors: []localaws.FieldSelector{{Field: "eventCategory", Equals: []string{"Management"}}}}}}),
			want: Pass, detail: []string{"(us-east-1)"}},
		{name: "stopped fails", check: "cloudtrail", setup: trail(localaws.Trail{Name: "management-events", MultiRegion: true}),
			want: Fail, detail: []string{"management-events is not logging"}, fix: "aws cloudtrail start-logging"},
		{name: "read-only fails", check: "cloudtrail",
			setup: trail(localaws.Trail{Name: "management-events", MultiRegion: true, Logging: true, EventSelectors: []localaws.EventSelector{{ReadWriteType: "ReadOnly", IncludeManagementEvents: true}}}),
			want:  Fail, detail: []string{"logs no write management events"}},
		{name: "advanced read-only fails", check: "cloudtrail",
			setup: trail(localaws.Trail{Name: "management-events", MultiRegion: true, Logging: true, AdvancedEventSelectors: []localaws.AdvancedEventSelector{{
				FieldSelectors: []localaws.FieldSelector{{Field: "eventCategory", Equals: []string{"Management"}}, {Field: "readOnly", Equals: []string{"true"}}}}}}),
			want: Fail, detail: []string{"logs no write management events"}},
		{name: "a shadow of another region's multi-region trail passes", check: "cloudtrail",
			setup: trail(localaws.Trail{Name: "management-events", HomeRegion: "eu-west-1", MultiRegion: true, Logging: true}),
			want:  Pass, detail: []string{"home eu-west-1"}},
		{name: "none fails", check: "cloudtrail", setup: func(d *deployment) {
			must(t, d.srv.AddTrail(localaws.Trail{Name: "management-events", HomeRegion: "eu-west-1", Logging: true}))
		}, want: Fail, detail: []string{"no trail:", "creation records and the tamper watch never fire"}, fix: "aws cloudtrail create-trail"},
	})
}

func TestCheckRules(t *testing.T) {
	runCases(t, []checkCase{
		{name: "enabled passes", check: "rules", want: Pass, detail: []string{"all 2 enabled"}},
		{name: "disabled fails", check: "rules", setup: func(d *deployment) { must(t, d.srv.SetRuleEnabled(d.rules[0], false)) },
			want: Fail, detail: []string{"1 of 2 disabled: Keywarden-ScheduleRuleDA5BD877"}, fix: "aws events enable-rule --name Keywarden-ScheduleRuleDA5BD877"},
		{name: "a rule gone from EventBridge fails", check: "rules", setup: func(d *deployment) {
			d.stack.Resources = append(d.stack.Resources, localaws.StackResource{LogicalID: "GoneRule", PhysicalID: "Keywarden-GoneRule", Type: "AWS::Events::Rule"})
			d.redeploy()
		}, want: Fail, detail: []string{"ResourceNotFoundException"}},
	})
}

func TestCheckDeadLetterQueue(t *testing.T) {
	runCases(t, []checkCase{
		{name: "empty passes", check: "dead-letter-queue", want: Pass, detail: []string{"empty"}},
		{name: "waiting events fail", check: "dead-letter-queue", setup: func(d *deployment) { must(t, d.srv.SetQueueDepth(testQueueName, 2, 1)) },
			want: Fail, detail: []string{"3 event(s) wait (1 being read)"}, fix: "aws sqs receive-message --region us-east-1 --queue-url https://sqs.us-east-1.amazonaws.com/123456789012/Keywarden-DeadLetterQueue"},
		{name: "a missing queue fails", check: "dead-letter-queue", setup: func(d *deployment) {
			d.setOutput(outDeadLetterQueue, "https://sqs.us-east-1.amazonaws.com/123456789012/Gone")
		}, want: Fail, detail: []string{"does not exist"}},
	})
}

func TestCheckDailyRun(t *testing.T) {
	runCases(t, []checkCase{
		{name: "succeeded today passes", check: "daily-run", want: Pass, detail: []string{"daily-2026-03-01 succeeded at 2026-03-01 08:02 UTC"}},
		{name: "failed today fails", check: "daily-run", setup: func(d *deployment) {
			d.freshMachine()
			d.addExecution("daily-2026-02-27", localaws.ExecutionSucceeded, testNow.Add(-52*time.Hour), time.Minute)
			d.addExecution("daily-2026-03-01", localaws.ExecutionFailed, testNow.Add(-4*time.Hour), time.Minute)
		}, want: Fail, detail: []string{"the latest, daily-2026-03-01, is FAILED"}, fix: "#/v2/executions/details/arn:aws:states:us-east-1:123456789012:execution:StateMachine2E01C7F5-k3yw4rd3n:daily-2026-03-01"},
		{name: "running warns", check: "daily-run", setup: func(d *deployment) {
			d.freshMachine()
			d.addExecution("daily-2026-03-01", localaws.ExecutionRunning, testNow.Add(-10*time.Minute), 0)
		}, want: Warn, detail: []string{"daily-2026-03-01 is running"}, fix: "when it has finished"},
		{name: "a new stack warns", check: "daily-run", setup: func(d *deployment) {
			d.freshMachine()
			d.stack.Created = testNow.Add(-2 * time.Hour)
			d.redeploy()
		}, want: Warn, detail: []string{"less than 26 hours old"}, fix: "after the first scheduled run"},
		{name: "none in a week fails", check: "daily-run", setup: func(d *deployment) { d.freshMachine() },
			want: Fail, detail: []string{"no daily run in the last 7 days"}, fix: "ScheduleRule"},
	})
}

func TestCheckFailedExecutions(t *testing.T) {
	runCases(t, []checkCase{
		{name: "none passes", check: "failed-executions", want: Pass, detail: []string{"none among 3 executions"}},
		{name: "failed ones warn, named and linked", check: "failed-executions", setup: func(d *deployment) {
			d.addExecution("exposed-bob-AKIAEXAMPLEBOB000001", localaws.ExecutionFailed, testNow.Add(-30*time.Hour), time.Minute)
			d.addExecution("created-carol-AKIAEXAMPLECAROL001", localaws.ExecutionTimedOut, testNow.Add(-70*time.Hour), time.Hour)
			// Older than a week: not listed.
			d.addExecution("exposed-dave-AKIAEXAMPLEDAVE0001", localaws.ExecutionFailed, testNow.Add(-8*24*time.Hour), time.Minute)
		}, want: Warn, detail: []string{
			"2 of 5 executions",
			"exposed-bob-AKIAEXAMPLEBOB000001 FAILED at 2026-02-28 06:01 UTC: https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:aws:states:us-east-1:123456789012:execution:KeywardenStateMachine:exposed-bob-AKIAEXAMPLEBOB000001",
			"created-carol-AKIAEXAMPLECAROL001 TIMED_OUT",
		}, fix: "manual-action alert"},
	})
}

func TestCheckAlarms(t *testing.T) {
	set := func(name, state string) func(d *deployment) {
		return func(d *deployment) {
			must(t, d.srv.SetAlarm(localaws.Alarm{Name: name, State: state, Reason: "Threshold Crossed: 26 datapoints were less than the threshold (1.0)."}))
		}
	}
	runCases(t, []checkCase{
		{name: "OK passes", check: "alarms", want: Pass, detail: []string{"all OK: Keywarden-DailyRunMissing, Keywarden-DeadLetterQueue, Keywarden-FailedExecutions"}},
		{name: "in ALARM fails", check: "alarms", setup: set("Keywarden-DailyRunMissing", localaws.AlarmAlarm),
			want: Fail, detail: []string{"Keywarden-DailyRunMissing is in ALARM (Threshold Crossed: 26 datapoints"}, fix: "#alarmsV2:"},
		{name: "insufficient data warns", check: "alarms", setup: set("Keywarden-FailedExecutions", localaws.AlarmInsufficientData),
			want: Warn, detail: []string{"Keywarden-FailedExecutions has insufficient data"}, fix: "look again later"},
		{name: "a missing alarm fails", check: "alarms", setup: func(d *deployment) { d.setOutput(outDeadLetterAlarm, "Keywarden-Gone") },
			want: Fail, detail: []string{"Keywarden-Gone does not exist"}},
	})
}

// A call the credentials may not make fails its check, naming the action.
func TestAccessDeniedFailsTheCheck(t *testing.T) {
	runCases(t, []checkCase{
		{name: "cloudwatch", check: "alarms", setup: func(d *deployment) {
			must(t, d.srv.SetFault("monitoring:DescribeAlarms", localaws.Fault{ErrorCode: "AccessDenied"}))
		}, want: Fail, detail: []string{"could not check", "AccessDenied"}, fix: "cloudwatch:DescribeAlarms"},
		{name: "step functions", check: "daily-run", setup: func(d *deployment) {
			must(t, d.srv.SetFault("states:ListExecutions", localaws.Fault{ErrorCode: "AccessDeniedException"}))
		}, want: Fail, detail: []string{"AccessDeniedException"}, fix: "states:ListExecutions"},
	})
}
