package drill

import (
	"context"
	"time"

	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/localaws"
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
	// Variant, when set, runs the scenario on the template synthesized
	// with other settings (Options.Variants/<Variant>): for a setting that
	// changes more than an environment, such as revokeWith's policy, roles
	// and rules.
	Variant string
	// Keys are shown (and checked) after the run.
	Keys   []string
	Run    func(ctx context.Context, d *Driver) error
	Expect func(e *Expectations)
}

// Scenarios lists the offline drills in the order they run.
func Scenarios() []Scenario {
	return []Scenario{
		exposedKey(),
		exposedKeyUnderFaults(),
		cloudTrailUnavailable(),
		containmentDenied(),
		duplicateReports(),
		dailyRunDryRun(),
		dailyRun(),
		keyCreated(),
		rotationScenario(),
		rotationRolledBack(),
		dailyRunIAMDenied(),
		malformedReport(),
		rootKeyReport(),
		rootAccountSpelling(),
		unsupportedEvent(),
		tamperReactivatedKey(),
		tamperRevokePolicyDeleted(),
		tamperOwnWrites(),
		tamperPolicyTag(),
		tamperNewKeyOpenIncident(),
		exposedKeyAttachedPolicy(),
		tamperRevokePolicyDetached(),
		healthTwoKeys(),
		healthOrganizationalView(),
		healthCompromiseSuspected(),
		healthNotice(),
		orgMemberExposedKey(),
		orgMemberRoleMissing(),
		orgOutsideOrganization(),
		orgHealthOrganizationalView(),
		orgMemberKeyCreated(),
		orgMemberTamperReactivated(),
		orgOptedOutKeyCreated(),
		orgSameUserOtherAccount(),
		orgDailyRun(),
		orgRotation(),
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

// The demo account's exposed key and its user (events/demo-account.json).
const (
	demoKey      = "AKIAKEYWARDENDRILL01"
	demoUser     = "ci-deployer"
	demoOtherKey = "AKIAKEYWARDENDRILL02"
	attackerIP   = "198.51.100.23"
	rootKey      = "AKIAROOTKEYDRILL0001"
	// rootKey2 is reported with the credential report's spelling of root.
	rootKey2    = "AKIAROOTKEYDRILL0002"
	exposedName = "exposed-" + demoUser + "-" + demoKey
)

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

// putEach sends the put-events files in order, stopping at the first that
// fails.
func putEach(files ...string) func(ctx context.Context, d *Driver) error {
	return func(ctx context.Context, d *Driver) error {
		for _, f := range files {
			if err := d.Put(ctx, f); err != nil {
				return err
			}
		}
		return nil
	}
}

func exposedKey() Scenario {
	return Scenario{
		Name:   "exposed-key",
		Title:  "Trusted Advisor reports ci-deployer's key exposed on GitHub (events/exposed-key.json)",
		Keys:   []string{demoKey, demoOtherKey},
		Run:    putEach("events/exposed-key.json"),
		Expect: exposedKeyContained,
	}
}

func exposedKeyUnderFaults() Scenario {
	return Scenario{
		Name:  "exposed-key-under-faults",
		Title: "The same report while IAM and CloudTrail throttle 20% of calls and answer 5% with 5xx",
		Faults: map[string]localaws.Fault{
			"iam:*":        {ThrottleRate: 0.20, ServerErrorRate: 0.05},
			"cloudtrail:*": {ThrottleRate: 0.20, ServerErrorRate: 0.05},
		},
		Keys:   []string{demoKey, demoOtherKey},
		Run:    putEach("events/exposed-key.json"),
		Expect: exposedKeyContained,
	}
}

// exposedKeyContained checks the full response to the demo key.
func exposedKeyContained(e *Expectations) {
	e.Executions(1)
	e.Status(exposedName, "SUCCEEDED", "")
	e.StateOrder(exposedName, "RouteEvent", "ReadFinding", "IsKeyOfThisAccount", "IsRootKey", "ContainKey", "RevokeSessions", "LookUpActivity", "RemoveKey", "AlertExposedKey", "Contained")
	e.FirstIAMWrite("UpdateAccessKey")
	e.Key(demoKey, "deleted")
	e.Key(demoOtherKey, "Active")
	e.UserPolicy(demoUser, exposure.RevokePolicyName)
	e.Alerts(1)
	e.AlertContains("Exposed IAM Key For User "+demoUser+" On Account",
		"Contained: key set Inactive", "Sessions revoked", "Key deleted",
		attackerIP, "CreateUser", "AttachUserPolicy", "CreateAccessKey", "https://github.com/example-org/deploy-scripts")
}

func cloudTrailUnavailable() Scenario {
	return Scenario{
		Name:   "cloudtrail-unavailable",
		Title:  "The same report while every CloudTrail lookup is throttled: the key is still removed",
		Faults: map[string]localaws.Fault{"cloudtrail:LookupEvents": {ErrorCode: "ThrottlingException"}},
		Keys:   []string{demoKey},
		Run:    putEach("events/exposed-key.json"),
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.Status(exposedName, "SUCCEEDED", "")
			e.Retried(exposedName, "LookUpActivity")
			e.Key(demoKey, "deleted")
			e.Alerts(1)
			e.AlertContains("Exposed IAM Key For User "+demoUser, "Activity lookup FAILED (Throttled", "Search CloudTrail event history by hand", "Key deleted")
		},
	}
}

func containmentDenied() Scenario {
	return Scenario{
		Name: "containment-denied",
		Title: "The same report while IAM refuses UpdateAccessKey: a manual-action alert, no silent failure; the report " +
			"redelivered after that failed response is a duplicate, not a second response or alert",
		Faults: map[string]localaws.Fault{"iam:UpdateAccessKey": {ErrorCode: "AccessDenied"}},
		Keys:   []string{demoKey},
		// The second put is the report redelivered after the failed first
		// response.
		Run: putEach("events/exposed-key.json", "events/exposed-key.json"),
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.Duplicates(1)
			e.Status(exposedName, "FAILED", "AccessDenied")
			e.Key(demoKey, "Active")
			e.Alerts(1)
			e.AlertContains("Manual Action Needed For Key "+demoKey, "The key may still be ACTIVE", "aws iam update-access-key --user-name "+demoUser+" --access-key-id "+demoKey+" --status Inactive")
		},
	}
}

func duplicateReports() Scenario {
	return Scenario{
		Name:  "duplicate-reports",
		Title: "The report delivered twice, then AWS Health reporting the same key: one response",
		Keys:  []string{demoKey},
		Run: func(ctx context.Context, d *Driver) error {
			if err := putEach("events/exposed-key.json", "events/exposed-key.json")(ctx, d); err != nil {
				return err
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
	}
}

func dailyRunDryRun() Scenario {
	return Scenario{
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
	}
}

func dailyRun() Scenario {
	return Scenario{
		Name: "daily-run",
		Title: "The daily key-age run enforcing (dryRun off, SES sender, unusedDays 30): notices, deactivations, digest; " +
			"then a second run the same day sends nothing new",
		Env: map[string]string{
			settings.EnvDryRun:       "false",
			settings.EnvNoticeSender: "keywarden@example.com",
			settings.EnvKeyAgePolicy: `{"unusedDays":30}`,
		},
		Keys:   dailyKeys,
		Run:    dailyRunTwice(false),
		Expect: dailyRunEnforced,
	}
}

// dailyRunEnforced checks the enforcing daily run's decisions, notices and
// digest.
func dailyRunEnforced(e *Expectations) {
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
}

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

func keyCreated() Scenario {
	return Scenario{
		Name: "key-created",
		Title: "CloudTrail reports bob's key created by admin-alice, and a key created for ivan, whose tag forbids keys; " +
			"the next daily run quotes the creator in bob's notice and lists ivan's key in the digest",
		Env: map[string]string{
			settings.EnvDryRun:       "false",
			settings.EnvNoticeSender: "keywarden@example.com",
		},
		Keys: []string{"AKIAKEYWARDENBOB0001", "AKIAKEYWARDENIVAN001"},
		Run:  putEach("events/key-created.json", "events/key-created-against-policy.json", "events/key-created.json", "events/daily-run.json"),
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
	}
}

func rotationScenario() Scenario {
	return Scenario{
		Name: "rotation",
		Title: "svc-reports carries keywarden:rotate=true and its key is 61 days old: the daily run deletes its inactive second key " +
			"to make room and replaces the key with a new one kept in Secrets Manager; 7 days later the old key is deactivated, " +
			"7 days after that deleted",
		Env:    map[string]string{settings.EnvDryRun: "false", settings.EnvNoticeSender: "keywarden@example.com"},
		Keys:   []string{rotationSpareKey, rotationKey},
		Run:    dailyRunsAWeekApart,
		Expect: rotatedThenRetired,
	}
}

// dailyRunsAWeekApart sends the daily run three times, seven days apart:
// the rotation, the old key's deactivation, its deletion.
func dailyRunsAWeekApart(ctx context.Context, d *Driver) error {
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
}

// rotatedThenRetired checks the rotation, then the old key's deactivation
// and deletion.
func rotatedThenRetired(e *Expectations) {
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
}

func rotationRolledBack() Scenario {
	return Scenario{
		Name: "rotation-rolled-back",
		Title: "The same rotation while Secrets Manager refuses PutSecretValue: the new key is deleted again, svc-reports keeps " +
			"its working key, and the digest names the failure",
		Env:    map[string]string{settings.EnvDryRun: "false", settings.EnvNoticeSender: "keywarden@example.com"},
		Faults: map[string]localaws.Fault{"secretsmanager:PutSecretValue": {ErrorCode: "AccessDeniedException"}},
		Keys:   []string{rotationKey},
		Run:    putEach("events/daily-run.json"),
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.StatusPrefix("daily-2", "SUCCEEDED", "")
			e.Key(rotationKey, "Active")
			e.OnlyKey(rotationUser, rotationKey)
			e.AlertContains("KEYS NOT HANDLED", "svc-reports  AKIAKEYWARDENSVCR001  rotate failed", "rotation rolled back",
				"the old key AKIAKEYWARDENSVCR001 is untouched and still works")
			e.NoEmailAbout("has been rotated")
		},
	}
}

func dailyRunIAMDenied() Scenario {
	return Scenario{
		Name:   "daily-run-iam-denied",
		Title:  "The enforcing daily run while IAM refuses UpdateAccessKey: every key not handled is named in the digest",
		Env:    map[string]string{settings.EnvDryRun: "false", settings.EnvKeyAgePolicy: `{"unusedDays":30}`},
		Faults: map[string]localaws.Fault{"iam:UpdateAccessKey": {ErrorCode: "AccessDenied"}},
		Keys:   []string{"AKIAKEYWARDENDAVE001", "AKIAKEYWARDENFRANK01", "AKIAKEYWARDENHENRY01"},
		Run:    putEach("events/daily-run.json"),
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
	}
}

func malformedReport() Scenario {
	return Scenario{
		Name:  "malformed-report",
		Title: "A report without the key id (events/exposed-key-malformed.json)",
		Run:   putEach("events/exposed-key-malformed.json"),
		Keys:  []string{demoKey},
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.StatusPrefix("invalid-", "FAILED", "InvalidEvent")
			e.NoIAMWrite()
			e.Key(demoKey, "Active")
			e.Alerts(1)
			e.AlertContains("Manual Action Needed", "InvalidEvent", "no access key id")
		},
	}
}

func rootKeyReport() Scenario {
	return rootKeyScenario("root-key", "Trusted Advisor reports a root-user key", "events/exposed-root-key.json", rootKey)
}

// rootAccountSpelling: AWS sources spell the root user several ways; the
// credential report's <root_account> is the root escalation too, never an
// IAM user to look up or an invalid event.
func rootAccountSpelling() Scenario {
	return rootKeyScenario("root-key-root-account", "Trusted Advisor reports a root key with the user spelled <root_account>",
		"events/exposed-root-key-root-account.json", rootKey2)
}

// rootKeyScenario puts a report of a root key, which escalates with no IAM
// write.
func rootKeyScenario(name, title, file, key string) Scenario {
	return Scenario{
		Name:  name,
		Title: title + " (" + file + ")",
		Run:   putEach(file),
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.Status("exposed-root-"+key, "SUCCEEDED", "")
			e.StateOrder("exposed-root-"+key, "RouteEvent", "ReadFinding", "IsKeyOfThisAccount", "IsRootKey", "AlertRootKey", "EscalatedRootKey")
			e.NoIAMWrite()
			e.Alerts(1)
			e.AlertContains("Exposed Root Access Key", "Sign in to the AWS console as the root user", key)
		},
	}
}

func unsupportedEvent() Scenario {
	return Scenario{
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
	}
}
