package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/rotation"
	"github.com/keywarden/keywarden/internal/settings"
)

// Scenario is one drill: what to send and what must follow.
type Scenario struct {
	Name, Title string
	// Faults are injected unless the run gives its own.
	Faults map[string]localaws.Fault
	// Env overrides the functions' environment (the template's settings),
	// e.g. to run the daily run with enforcement on.
	Env map[string]string
	// Keys are shown (and checked) after the run.
	Keys   []string
	Run    func(ctx context.Context, d *Driver) error
	Expect func(e *Expectations)
}

// The demo account's exposed key and its user (events/demo-account.json).
const (
	demoKey      = "AKIAKEYWARDENDRILL01"
	demoUser     = "ci-deployer"
	demoOtherKey = "AKIAKEYWARDENDRILL02"
	attackerIP   = "198.51.100.23"
	rootKey      = "AKIAROOTKEYDRILL0001"
	exposedName  = "exposed-" + demoUser + "-" + demoKey
)

// exposedKeyContained checks the full response to the demo key.
func exposedKeyContained(e *Expectations) {
	e.Executions(1)
	e.Status(exposedName, "SUCCEEDED", "")
	e.StateOrder(exposedName, "RouteEvent", "ReadFinding", "IsRootKey", "ContainKey", "RevokeSessions", "LookUpActivity", "RemoveKey", "AlertExposedKey", "Contained")
	e.FirstIAMWrite("UpdateAccessKey")
	e.Key(demoKey, "deleted")
	e.Key(demoOtherKey, "Active")
	e.UserPolicy(demoUser, exposure.RevokePolicyName)
	e.Alerts(1)
	e.AlertContains("Exposed IAM Key For User "+demoUser+" On Account",
		"Contained: key set Inactive", "Sessions revoked", "Key deleted",
		attackerIP, "CreateUser", "AttachUserPolicy", "CreateAccessKey", "https://github.com/example-org/deploy-scripts")
}

// Scenarios lists the offline drills in the order they run.
func Scenarios() []Scenario {
	return []Scenario{
		{
			Name:   "exposed-key",
			Title:  "Trusted Advisor reports ci-deployer's key exposed on GitHub (events/exposed-key.json)",
			Keys:   []string{demoKey, demoOtherKey},
			Run:    func(ctx context.Context, d *Driver) error { return d.Put(ctx, "events/exposed-key.json") },
			Expect: exposedKeyContained,
		},
		{
			Name:  "exposed-key-under-faults",
			Title: "The same report while IAM and CloudTrail throttle 20% of calls and answer 5% with 5xx",
			Faults: map[string]localaws.Fault{
				"iam:*":        {ThrottleRate: 0.20, ServerErrorRate: 0.05},
				"cloudtrail:*": {ThrottleRate: 0.20, ServerErrorRate: 0.05},
			},
			Keys:   []string{demoKey, demoOtherKey},
			Run:    func(ctx context.Context, d *Driver) error { return d.Put(ctx, "events/exposed-key.json") },
			Expect: exposedKeyContained,
		},
		{
			Name:   "cloudtrail-unavailable",
			Title:  "The same report while every CloudTrail lookup is throttled: the key is still removed",
			Faults: map[string]localaws.Fault{"cloudtrail:LookupEvents": {ErrorCode: "ThrottlingException"}},
			Keys:   []string{demoKey},
			Run:    func(ctx context.Context, d *Driver) error { return d.Put(ctx, "events/exposed-key.json") },
			Expect: func(e *Expectations) {
				e.Executions(1)
				e.Status(exposedName, "SUCCEEDED", "")
				e.Retried(exposedName, "LookUpActivity")
				e.Key(demoKey, "deleted")
				e.Alerts(1)
				e.AlertContains("Exposed IAM Key For User "+demoUser, "Activity lookup FAILED (Throttled", "Search CloudTrail event history by hand", "Key deleted")
			},
		},
		{
			Name: "containment-denied",
			Title: "The same report while IAM refuses UpdateAccessKey: a manual-action alert, no silent failure; the report " +
				"redelivered after that failed response is a duplicate, not a second response or alert",
			Faults: map[string]localaws.Fault{"iam:UpdateAccessKey": {ErrorCode: "AccessDenied"}},
			Keys:   []string{demoKey},
			Run: func(ctx context.Context, d *Driver) error {
				if err := d.Put(ctx, "events/exposed-key.json"); err != nil {
					return err
				}
				return d.Put(ctx, "events/exposed-key.json") // redelivered after the failed first response
			},
			Expect: func(e *Expectations) {
				e.Executions(1)
				e.Duplicates(1)
				e.Status(exposedName, "FAILED", "AccessDenied")
				e.Key(demoKey, "Active")
				e.Alerts(1)
				e.AlertContains("Manual Action Needed For Key "+demoKey, "The key may still be ACTIVE", "aws iam update-access-key --user-name "+demoUser+" --access-key-id "+demoKey+" --status Inactive")
			},
		},
		{
			Name:  "duplicate-reports",
			Title: "The report delivered twice, then AWS Health reporting the same key: one response",
			Keys:  []string{demoKey},
			Run: func(ctx context.Context, d *Driver) error {
				for _, f := range []string{"events/exposed-key.json", "events/exposed-key.json"} {
					if err := d.Put(ctx, f); err != nil {
						return err
					}
				}
				return d.Deliver(ctx, "events/samples/health-credentials-exposed.json")
			},
			Expect: func(e *Expectations) {
				e.Executions(1)
				e.Status(exposedName, "SUCCEEDED", "")
				e.Duplicates(2)
				e.Alerts(1)
				e.Key(demoKey, "deleted")
			},
		},
		{
			Name:  "daily-run-dry-run",
			Title: "The daily key-age run as deployed (dryRun on): decisions and notices, no IAM write",
			Keys:  dailyKeys,
			Run:   dailyRunTwice(true),
			Expect: func(e *Expectations) {
				e.Executions(2)
				e.StatusPrefix("daily-2", "SUCCEEDED", "")
				e.Status("daily-rerun-by-hand", "SUCCEEDED", "")
				e.Duplicates(1)
				e.NoIAMWrite()
				e.Emails(0)
				for _, k := range dailyKeys {
					e.Key(k, "Active")
				}
				e.AlertContains("[DRY RUN] AWS access key AKIAKEYWARDENDAVE001 of dave would be deactivated today", "DRY RUN", "aws iam create-access-key --user-name dave")
				e.AlertContains("[DRY RUN] AWS access key AKIAKEYWARDENBOB0001 of bob is 70 days old", "Rotate it before")
				e.AlertContains("[DRY RUN] keywarden key ages", "Would be deactivated (dry run)", "AKIAKEYWARDENDAVE001", "gina", "Exemptions ending within 14 days", "erin")
				e.NothingNewSince("first run", 1)
			},
		},
		{
			Name: "daily-run",
			Title: "The daily key-age run enforcing (dryRun off, SES sender, unusedDays 30): notices, deactivations, digest; " +
				"then a second run the same day sends nothing new",
			Env: map[string]string{
				settings.EnvDryRun:       "false",
				settings.EnvNoticeSender: "keywarden@example.com",
				settings.EnvKeyAgePolicy: `{"unusedDays":30}`,
			},
			Keys: dailyKeys,
			Run:  dailyRunTwice(false),
			Expect: func(e *Expectations) {
				e.Executions(2)
				e.StatusPrefix("daily-2", "SUCCEEDED", "")
				e.Key("AKIAKEYWARDENBOB0001", "Active")
				e.Key("AKIAKEYWARDENCAROL01", "Active")
				e.Key("AKIAKEYWARDENDAVE001", "Inactive")
				e.Key("AKIAKEYWARDENERIN001", "Active")
				e.Key("AKIAKEYWARDENFRANK01", "Inactive")
				e.Key("AKIAKEYWARDENHENRY01", "Inactive")
				e.Key(demoKey, "Active")
				e.EmailTo("bob@example.com", "is 70 days old")
				e.EmailTo("carol@example.com", "is 85 days old")
				e.EmailTo("dave@example.com", "is being deactivated today")
				e.EmailTo("frank@example.com", "is being deactivated today")
				e.EmailTo("henry@example.com", "is being deactivated today")
				e.EmailTo("platform-team@example.com", "past the")
				e.EmailTo(rotationContact, "has been rotated")
				e.Emails(7)
				e.AlertContains("AWS access key AKIAKEYWARDENGINA001 of gina is 75 days old")
				e.AlertContains("keywarden key ages", "Deactivated (3)", "AKIAKEYWARDENDAVE001", "Users with a notice due but no contact tag", "gina",
					"Exemptions ending within 14 days", "erin", "Exemption tags that do not apply", "frank")
				e.NothingNewSince("first run", 1)
			},
		},
		{
			Name: "key-created",
			Title: "CloudTrail reports bob's key created by admin-alice, and a key created for ivan, whose tag forbids keys; " +
				"the next daily run quotes the creator in bob's notice and lists ivan's key in the digest",
			Env: map[string]string{
				settings.EnvDryRun:       "false",
				settings.EnvNoticeSender: "keywarden@example.com",
			},
			Keys: []string{"AKIAKEYWARDENBOB0001", "AKIAKEYWARDENIVAN001"},
			Run: func(ctx context.Context, d *Driver) error {
				for _, f := range []string{"events/key-created.json", "events/key-created-against-policy.json", "events/key-created.json", "events/daily-run.json"} {
					if err := d.Put(ctx, f); err != nil {
						return err
					}
				}
				return nil
			},
			Expect: func(e *Expectations) {
				e.Executions(3)
				e.Status("created-bob-AKIAKEYWARDENBOB0001", "SUCCEEDED", "")
				e.Status("created-ivan-AKIAKEYWARDENIVAN001", "SUCCEEDED", "")
				e.Duplicates(1)
				e.StatusPrefix("daily-2", "SUCCEEDED", "")
				e.EmailBodyContains("bob@example.com", "Created:", "by arn:aws:iam::123456789012:user/admin-alice from 192.0.2.10")
				e.AlertContains("Access Key Created Against Policy For User ivan", "AKIAKEYWARDENIVAN001", "keywarden:no-access-keys")
				e.AlertContains("keywarden key ages", "Keys created in the last day for users not allowed long-term keys", "ivan  AKIAKEYWARDENIVAN001")
			},
		},
		{
			Name: "rotation",
			Title: "svc-reports carries keywarden:rotate=true and its key is 61 days old: the daily run deletes its inactive second key " +
				"to make room and replaces the key with a new one kept in Secrets Manager; 7 days later the old key is deactivated, " +
				"7 days after that deleted",
			Env:  map[string]string{settings.EnvDryRun: "false", settings.EnvNoticeSender: "keywarden@example.com"},
			Keys: []string{rotationSpareKey, rotationKey},
			Run: func(ctx context.Context, d *Driver) error {
				for i, label := range []string{"rotation", "7 days later", "14 days later"} {
					if i > 0 {
						d.Advance(7 * 24 * time.Hour)
					}
					if err := d.Put(ctx, "events/daily-run.json"); err != nil {
						return err
					}
					d.Mark(label)
				}
				return nil
			},
			Expect: func(e *Expectations) {
				e.Executions(3)
				for _, x := range e.outcome.Executions {
					e.Status(x.Name, "SUCCEEDED", "")
				}
				e.Key(rotationSpareKey, "deleted")
				e.Key(rotationKey, "deleted")
				e.RotatedInto(rotationUser, rotationKey)
				e.EmailTo(rotationContact, "AKIAKEYWARDENSVCR001 of svc-reports has been rotated")
				e.EmailBodyContains(rotationContact, "New key:", "Secret:    arn:aws:secretsmanager:us-east-1:123456789012:secret:keywarden/access-key/svc-reports-",
					"keeps working until")
				e.EmailTo(rotationContact, "AKIAKEYWARDENSVCR001 of svc-reports has been deactivated")
				e.EmailTo(rotationContact, "AKIAKEYWARDENSVCR001 of svc-reports has been deleted")
				e.AlertContains("keywarden key ages", "Rotated: new key in Secrets Manager", "svc-reports  AKIAKEYWARDENSVCR001  replaced by AKIA",
					"svc-reports  AKIAKEYWARDENSVCR000  inactive; deleted to make room for the rotation of AKIAKEYWARDENSVCR001")
			},
		},
		{
			Name: "rotation-rolled-back",
			Title: "The same rotation while Secrets Manager refuses PutSecretValue: the new key is deleted again, svc-reports keeps " +
				"its working key, and the digest names the failure",
			Env:    map[string]string{settings.EnvDryRun: "false", settings.EnvNoticeSender: "keywarden@example.com"},
			Faults: map[string]localaws.Fault{"secretsmanager:PutSecretValue": {ErrorCode: "AccessDeniedException"}},
			Keys:   []string{rotationKey},
			Run:    func(ctx context.Context, d *Driver) error { return d.Put(ctx, "events/daily-run.json") },
			Expect: func(e *Expectations) {
				e.Executions(1)
				e.StatusPrefix("daily-2", "SUCCEEDED", "")
				e.Key(rotationKey, "Active")
				e.OnlyKey(rotationUser, rotationKey)
				e.AlertContains("KEYS NOT HANDLED", "svc-reports  AKIAKEYWARDENSVCR001  rotate failed", "rotation rolled back",
					"the old key AKIAKEYWARDENSVCR001 is untouched and still works")
				e.NoEmailAbout("has been rotated")
			},
		},
		{
			Name:   "daily-run-iam-denied",
			Title:  "The enforcing daily run while IAM refuses UpdateAccessKey: every key not handled is named in the digest",
			Env:    map[string]string{settings.EnvDryRun: "false", settings.EnvKeyAgePolicy: `{"unusedDays":30}`},
			Faults: map[string]localaws.Fault{"iam:UpdateAccessKey": {ErrorCode: "AccessDenied"}},
			Keys:   []string{"AKIAKEYWARDENDAVE001", "AKIAKEYWARDENFRANK01", "AKIAKEYWARDENHENRY01"},
			Run:    func(ctx context.Context, d *Driver) error { return d.Put(ctx, "events/daily-run.json") },
			Expect: func(e *Expectations) {
				e.Executions(1)
				e.StatusPrefix("daily-2", "SUCCEEDED", "")
				e.Key("AKIAKEYWARDENDAVE001", "Active")
				// erin has no exemption tag here, so her 120-day key is due too.
				e.AlertContains("4 KEYS NOT HANDLED", "NOT HANDLED", "dave  AKIAKEYWARDENDAVE001  deactivate failed: AccessDenied", "AKIAKEYWARDENERIN001",
					"AKIAKEYWARDENFRANK01", "AKIAKEYWARDENHENRY01")
				// Warnings still went out; no "deactivated" notice was sent
				// for a key that was not.
				e.AlertContains("AWS access key AKIAKEYWARDENBOB0001 of bob is 70 days old")
				e.NoAlert("AKIAKEYWARDENDAVE001 of dave is being deactivated")
			},
		},
		{
			Name:  "malformed-report",
			Title: "A report without the key id (events/exposed-key-malformed.json)",
			Run:   func(ctx context.Context, d *Driver) error { return d.Put(ctx, "events/exposed-key-malformed.json") },
			Keys:  []string{demoKey},
			Expect: func(e *Expectations) {
				e.Executions(1)
				e.StatusPrefix("invalid-", "FAILED", "InvalidEvent")
				e.NoIAMWrite()
				e.Key(demoKey, "Active")
				e.Alerts(1)
				e.AlertContains("Manual Action Needed", "InvalidEvent", "no access key id")
			},
		},
		{
			Name:  "root-key",
			Title: "Trusted Advisor reports a root-user key (events/exposed-root-key.json)",
			Run:   func(ctx context.Context, d *Driver) error { return d.Put(ctx, "events/exposed-root-key.json") },
			Expect: func(e *Expectations) {
				e.Executions(1)
				e.Status("exposed-root-"+rootKey, "SUCCEEDED", "")
				e.StateOrder("exposed-root-"+rootKey, "RouteEvent", "ReadFinding", "IsRootKey", "AlertRootKey", "EscalatedRootKey")
				e.NoIAMWrite()
				e.Alerts(1)
				e.AlertContains("Exposed Root Access Key", "Sign in to the AWS console as the root user", rootKey)
			},
		},
		{
			Name:  "unsupported-event",
			Title: "An event no rule matches, then the same event started by hand",
			Run: func(ctx context.Context, d *Driver) error {
				if err := d.Put(ctx, "events/drill-unsupported-event.json"); err != nil {
					return err
				}
				return d.StartDirect(ctx, "manual-unsupported-event", "events/samples/unsupported-event.json")
			},
			Expect: func(e *Expectations) {
				e.NoRuleMatched(0)
				e.Executions(1)
				e.Status("manual-unsupported-event", "FAILED", "UnsupportedEvent")
				e.CauseContains("manual-unsupported-event", `source "aws.ec2" detail-type "EC2 Instance State-change Notification"`)
				e.Alerts(1)
				e.AlertContains("Unsupported Event From aws.ec2")
			},
		},
	}
}

// The demo account's rotation user (keywarden:rotate=true), its 61-day-old
// key and its inactive second key.
const (
	rotationUser     = "svc-reports"
	rotationContact  = "data-platform@example.com"
	rotationKey      = "AKIAKEYWARDENSVCR001"
	rotationSpareKey = "AKIAKEYWARDENSVCR000"
)

// The demo account's keys the daily run decides on.
var dailyKeys = []string{"AKIAKEYWARDENBOB0001", "AKIAKEYWARDENCAROL01", "AKIAKEYWARDENDAVE001", "AKIAKEYWARDENERIN001",
	"AKIAKEYWARDENFRANK01", "AKIAKEYWARDENGINA001", "AKIAKEYWARDENHENRY01", demoKey}

// tagExemptions gives erin an exemption ending in ten days and frank one
// that ended five days ago: dates relative to the drill's day.
func tagExemptions(ctx context.Context, d *Driver) error {
	now := d.Now()
	if err := d.Tag(ctx, "erin", "keywarden:exempt", now.AddDate(0, 0, 10).Format("2006-01-02")+" vendor migration"); err != nil {
		return err
	}
	return d.Tag(ctx, "frank", "keywarden:exempt", now.AddDate(0, 0, -5).Format("2006-01-02")+" old waiver")
}

// dailyRunTwice tags the exemptions, sends the daily run, then (with
// refire) the schedule's event once more, and starts a second run the same
// day by hand.
func dailyRunTwice(refire bool) func(ctx context.Context, d *Driver) error {
	return func(ctx context.Context, d *Driver) error {
		if err := tagExemptions(ctx, d); err != nil {
			return err
		}
		d.Mark("setup")
		if err := d.Put(ctx, "events/daily-run.json"); err != nil {
			return err
		}
		d.Mark("first run")
		if refire {
			if err := d.Put(ctx, "events/daily-run.json"); err != nil { // the schedule firing twice
				return err
			}
		}
		return d.StartDirect(ctx, "daily-rerun-by-hand", "") // a second run the same day
	}
}

// ScenarioNames lists the scenarios' names.
func ScenarioNames() []string {
	var names []string
	for _, s := range Scenarios() {
		names = append(names, s.Name)
	}
	return names
}

// Expectations records checks on an outcome.
type Expectations struct {
	outcome *Outcome
	st      *stack
	marks   map[string]mark
}

// NothingNewSince: after the mark, no notice, e-mail or IAM write happened
// besides extra published messages (a digest per run).
func (e *Expectations) NothingNewSince(name string, extraPublished int) {
	before, now := e.marks[name], e.st.counts()
	ok := now.emails == before.emails && now.iamWrites == before.iamWrites && now.published == before.published+extraPublished
	e.check(ok, fmt.Sprintf("after %s: nothing new but %d digest(s)", name, extraPublished),
		"e-mails %d→%d, IAM writes %d→%d, published %d→%d", before.emails, now.emails, before.iamWrites, now.iamWrites, before.published, now.published)
}

// Emails: exactly n e-mails were sent.
func (e *Expectations) Emails(n int) {
	e.check(len(e.outcome.Emails) == n, fmt.Sprintf("%d e-mail(s) sent", n), "got %d", len(e.outcome.Emails))
}

// EmailBodyContains: an e-mail to addr says every part.
func (e *Expectations) EmailBodyContains(addr string, parts ...string) {
	what := fmt.Sprintf("e-mail to %s says %s", addr, strings.Join(parts, ", "))
	for _, m := range e.outcome.Emails {
		if !strings.Contains(m.To, addr) {
			continue
		}
		var missing []string
		for _, p := range parts {
			if !strings.Contains(m.Body, p) {
				missing = append(missing, p)
			}
		}
		e.check(len(missing) == 0, what, "missing %s in:\n%s", strings.Join(missing, ", "), m.Body)
		return
	}
	e.check(false, what, "no e-mail to %s", addr)
}

// EmailTo: an e-mail to addr has subject containing s.
func (e *Expectations) EmailTo(addr, s string) {
	for _, m := range e.outcome.Emails {
		if strings.Contains(m.To, addr) && strings.Contains(m.Subject, s) {
			e.check(true, fmt.Sprintf("e-mail to %s: %q", addr, s), "")
			return
		}
	}
	var got []string
	for _, m := range e.outcome.Emails {
		got = append(got, m.To+": "+m.Subject)
	}
	e.check(false, fmt.Sprintf("e-mail to %s: %q", addr, s), "sent: %s", strings.Join(got, "; "))
}

// NoEmailAbout: no e-mail's subject contains s.
func (e *Expectations) NoEmailAbout(s string) {
	for _, m := range e.outcome.Emails {
		if strings.Contains(m.Subject, s) {
			e.check(false, fmt.Sprintf("no e-mail about %q", s), "sent to %s: %s", m.To, m.Subject)
			return
		}
	}
	e.check(true, fmt.Sprintf("no e-mail about %q", s), "")
}

// OnlyKey: user's one remaining key is id.
func (e *Expectations) OnlyKey(user, id string) {
	var live []string
	for _, k := range e.st.liveKeys(user) {
		live = append(live, k.ID)
	}
	e.check(len(live) == 1 && live[0] == id, fmt.Sprintf("%s has only key %s", user, id), "keys: %v", live)
}

// RotatedInto: user's one remaining key replaced old, is active, and is
// what the user's secret holds (id and secret access key as IAM issued
// them); the secret's policy names the user; and no key of the user is
// left without a home.
func (e *Expectations) RotatedInto(user, old string) {
	what := fmt.Sprintf("%s's key %s replaced by a new key kept in secret %s%s", user, old, rotation.DefaultSecretPrefix, user)
	live := e.st.liveKeys(user)
	if len(live) != 1 || live[0].ID == old || live[0].Status != "Active" {
		e.check(false, what, "the user's keys are %+v", live)
		return
	}
	name := rotation.DefaultSecretPrefix + user
	sec, ok := e.st.aws.Secret(name)
	value, hasValue := e.st.aws.SecretValueFor(name)
	var held struct{ AccessKeyId, SecretAccessKey string }
	issued, _ := e.st.aws.SecretFor(live[0].ID)
	switch {
	case !ok || !hasValue:
		e.check(false, what, "no secret %s with a value", name)
	case json.Unmarshal([]byte(value), &held) != nil || held.AccessKeyId != live[0].ID || held.SecretAccessKey != issued || issued == "":
		e.check(false, what, "the secret does not hold key %s as IAM issued it", live[0].ID)
	case !strings.Contains(sec.ResourcePolicy, ":user/"+user+`"`) || sec.KmsKeyID == "":
		e.check(false, what, "secret policy %s, KMS key %q", sec.ResourcePolicy, sec.KmsKeyID)
	default:
		e.check(true, what+" ("+live[0].ID+")", "")
	}
}

func (e *Expectations) check(ok bool, what, detail string, args ...any) {
	c := Check{What: what, Passed: ok}
	if !ok {
		c.Detail = fmt.Sprintf(detail, args...)
	}
	e.outcome.Checks = append(e.outcome.Checks, c)
}

func (e *Expectations) execution(name string) *ExecutionView {
	for i := range e.outcome.Executions {
		if e.outcome.Executions[i].Name == name {
			return &e.outcome.Executions[i]
		}
	}
	return nil
}

// Executions: exactly n executions started.
func (e *Expectations) Executions(n int) {
	var names []string
	for _, x := range e.outcome.Executions {
		names = append(names, x.Name)
	}
	e.check(len(names) == n, fmt.Sprintf("%d execution(s) started", n), "got %d: %s", len(names), strings.Join(names, ", "))
}

// Status: the named execution ended with status (and error name).
func (e *Expectations) Status(name, status, errName string) {
	x := e.execution(name)
	what := fmt.Sprintf("execution %s ends %s", name, status)
	if errName != "" {
		what += " with " + errName
	}
	if x == nil {
		e.check(false, what, "no such execution")
		return
	}
	e.check(x.Status == status && x.Error == errName, what, "got %s %s: %s", x.Status, x.Error, x.Cause)
}

// StatusPrefix is Status for the one execution whose name has the prefix.
func (e *Expectations) StatusPrefix(prefix, status, errName string) {
	for _, x := range e.outcome.Executions {
		if strings.HasPrefix(x.Name, prefix) {
			e.Status(x.Name, status, errName)
			return
		}
	}
	e.check(false, "an execution named "+prefix+"…", "none started")
}

// CauseContains: the execution's failure cause says s.
func (e *Expectations) CauseContains(name, s string) {
	x := e.execution(name)
	e.check(x != nil && strings.Contains(x.Cause, s), "the failure cause names "+s, "cause: %v", causeOf(x))
}

func causeOf(x *ExecutionView) string {
	if x == nil {
		return "(no execution)"
	}
	return x.Cause
}

// StateOrder: the execution passed through exactly these states in order.
func (e *Expectations) StateOrder(name string, states ...string) {
	x := e.execution(name)
	var got []string
	if x != nil {
		for _, s := range x.States {
			got = append(got, s.Name)
		}
	}
	e.check(strings.Join(got, ">") == strings.Join(states, ">"), "path "+strings.Join(states, " → "), "got %s", strings.Join(got, " → "))
}

var iamWrites = map[string]bool{
	"UpdateAccessKey": true, "DeleteAccessKey": true, "CreateAccessKey": true, "PutUserPolicy": true,
	"DeleteUserPolicy": true, "CreateUser": true, "TagUser": true,
}

func (e *Expectations) iamWriteCalls() []localaws.Call {
	var out []localaws.Call
	for _, c := range e.st.aws.Calls() {
		if c.Service == "iam" && iamWrites[c.Operation] {
			out = append(out, c)
		}
	}
	return out
}

// NoIAMWrite: nothing was written to IAM (after the scenario's own setup,
// when it marked one).
func (e *Expectations) NoIAMWrite() {
	w := e.iamWriteCalls()
	if m, ok := e.marks["setup"]; ok {
		w = w[min(m.iamWrites, len(w)):]
	}
	e.check(len(w) == 0, "no IAM write", "got %d, first %s", len(w), firstOp(w))
}

// FirstIAMWrite: the first IAM write (attempted) was op — containment first.
func (e *Expectations) FirstIAMWrite(op string) {
	w := e.iamWriteCalls()
	e.check(len(w) > 0 && w[0].Operation == op, "first IAM write is "+op, "first was %s", firstOp(w))
}

func firstOp(calls []localaws.Call) string {
	if len(calls) == 0 {
		return "(none)"
	}
	return calls[0].Operation
}

// Retried: the execution retried the state after a failed attempt.
func (e *Expectations) Retried(name, state string) {
	x := e.execution(name)
	retries := 0
	if x != nil {
		for _, s := range x.States {
			if s.Name == state {
				retries += s.Retries
			}
		}
	}
	e.check(retries > 0, fmt.Sprintf("%s was retried", state), "no retry recorded")
}

// Key: the key ends in this state (Active, Inactive, deleted).
func (e *Expectations) Key(id, status string) {
	k := e.st.keyView(id)
	e.check(k.Status == status, fmt.Sprintf("key %s is %s", id, status), "it is %s", k.Status)
}

// UserPolicy: the user has the inline policy.
func (e *Expectations) UserPolicy(user, policy string) {
	_, ok := e.st.aws.UserPolicies(user)[policy]
	e.check(ok, fmt.Sprintf("%s has inline policy %s", user, policy), "policies: %v", sortedKeys(e.st.aws.UserPolicies(user)))
}

// Alerts: exactly n alerts were published.
func (e *Expectations) Alerts(n int) {
	e.check(len(e.outcome.Alerts) == n, fmt.Sprintf("%d alert(s) published", n), "got %d", len(e.outcome.Alerts))
}

// AlertContains: one alert's subject has subject and its body every part.
func (e *Expectations) AlertContains(subject string, parts ...string) {
	for _, a := range e.outcome.Alerts {
		if !strings.Contains(a.Subject, subject) {
			continue
		}
		var missing []string
		for _, p := range parts {
			if !strings.Contains(a.Body, p) {
				missing = append(missing, p)
			}
		}
		what := fmt.Sprintf("alert %q", subject)
		if len(parts) > 0 {
			what += " says " + strings.Join(parts, ", ")
		}
		e.check(len(missing) == 0, what, "missing %s", strings.Join(missing, ", "))
		return
	}
	e.check(false, fmt.Sprintf("an alert with subject %q", subject), "subjects: %v", subjects(e.outcome.Alerts))
}

func subjects(alerts []Alert) []string {
	var s []string
	for _, a := range alerts {
		s = append(s, a.Subject)
	}
	return s
}

// NoAlert: no published message's subject contains s.
func (e *Expectations) NoAlert(s string) {
	for _, a := range e.outcome.Alerts {
		if strings.Contains(a.Subject, s) {
			e.check(false, fmt.Sprintf("no alert %q", s), "published %q", a.Subject)
			return
		}
	}
	e.check(true, fmt.Sprintf("no alert %q", s), "")
}

// Duplicates: n deliveries were recognised as duplicates by intake.
func (e *Expectations) Duplicates(n int) {
	got := 0
	for _, p := range e.outcome.Puts {
		for _, m := range p.Matches {
			if m.Duplicate {
				got++
			}
		}
	}
	e.check(got == n, fmt.Sprintf("%d deliveries recognised as duplicates", n), "got %d", got)
}

// NoRuleMatched: the i-th put matched no rule.
func (e *Expectations) NoRuleMatched(i int) {
	ok := i < len(e.outcome.Puts) && len(e.outcome.Puts[i].Matches) == 0 && e.outcome.Puts[i].FailedEntries == 0
	e.check(ok, fmt.Sprintf("%s matches no rule", putFile(e.outcome.Puts, i)), "matches: %+v", e.outcome.Puts)
}

func putFile(p []PutResult, i int) string {
	if i < len(p) {
		return p[i].File
	}
	return "put"
}
