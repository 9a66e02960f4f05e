package drill

import "context"

// The AWS Health scenarios: raw events as AWS delivers them (aws.health
// cannot be sent with put-events), from events/samples.

// The second key of the two-key Health event: bob's, in the demo account.
const (
	bobKey       = "AKIAKEYWARDENBOB0001"
	memberKey    = "AKIAMEMBERACCOUNT001"
	memberAcct   = "111122223333"
	drillAccount = "123456789012"
)

// deliverEach delivers the raw event files in order, stopping at the first
// that fails.
func deliverEach(files ...string) func(ctx context.Context, d *Driver) error {
	return func(ctx context.Context, d *Driver) error {
		for _, f := range files {
			if err := d.Deliver(ctx, f); err != nil {
				return err
			}
		}
		return nil
	}
}

func healthTwoKeys() Scenario {
	return Scenario{
		Name: "health-two-keys",
		Title: "AWS Health lists two keys in one event (ci-deployer's and bob's), then the same event arrives once more " +
			"from its backup region: one response per key, the second delivery two duplicates",
		Keys: []string{demoKey, bobKey, demoOtherKey},
		Run: deliverEach("events/samples/health-credentials-exposed-two-keys.json",
			"events/samples/health-credentials-exposed-two-keys-backup-region.json"),
		Expect: func(e *Expectations) {
			e.Executions(2)
			e.Status(exposedName, "SUCCEEDED", "")
			e.Status("exposed-bob-"+bobKey, "SUCCEEDED", "")
			e.Duplicates(2)
			e.Key(demoKey, "deleted")
			e.Key(bobKey, "deleted")
			e.Key(demoOtherKey, "Active")
			e.Alerts(2)
			e.AlertContains("Exposed IAM Key For User "+demoUser+" On Account "+drillAccount,
				"Key:          "+demoKey, "Same report:  AWS Health listed 2 keys in this event; each has its own execution",
				"Contained: key set Inactive", "Key deleted")
			e.AlertContains("Exposed IAM Key For User bob On Account "+drillAccount,
				"Key:          "+bobKey, "Same report:  AWS Health listed 2 keys in this event; each has its own execution",
				"Contained: key set Inactive", "Key deleted")
		},
	}
}

func healthOrganizationalView() Scenario {
	return Scenario{
		Name: "health-organizational-view",
		Title: "AWS Health's organizational view, received in the drill account, reports a key of member account " +
			memberAcct + ": alerted with that account named, no IAM call",
		Run: deliverEach("events/samples/health-organizational-view.json"),
		Expect: func(e *Expectations) {
			name := "foreign-" + memberAcct + "-" + memberKey
			e.Executions(1)
			e.Status(name, "SUCCEEDED", "")
			e.StateOrder(name, "RouteEvent", "ReadFinding", "IsKeyOfThisAccount", "AlertForeignAccountKey", "ForeignAccountKeyAlerted")
			e.NoIAMCall()
			e.Alerts(1)
			e.AlertContains("Exposed Key Of Account "+memberAcct+" - Not Handled By "+drillAccount,
				"An access key of account "+memberAcct+" was reported as exposed. keywarden acts in account "+drillAccount+" only,",
				"so it made no IAM call and no change for this key",
				"Account:      "+memberAcct,
				"(the key's account, named by AWS Health's organizational view; received in "+drillAccount+")",
				"aws iam get-access-key-last-used --access-key-id "+memberKey)
		},
	}
}

func healthCompromiseSuspected() Scenario {
	return Scenario{
		Name:  "health-compromise-suspected",
		Title: "AWS Health reports ci-deployer's key with AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED: the exposed-key response",
		Keys:  []string{demoKey, demoOtherKey},
		Run:   deliverEach("events/samples/health-credentials-compromise-suspected.json"),
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.Status(exposedName, "SUCCEEDED", "")
			e.StateOrder(exposedName, "RouteEvent", "ReadFinding", "IsKeyOfThisAccount", "IsRootKey", "ContainKey", "RevokeSessions",
				"LookUpActivity", "RemoveKey", "AlertExposedKey", "Contained")
			e.FirstIAMWrite("UpdateAccessKey")
			e.Key(demoKey, "deleted")
			e.Key(demoOtherKey, "Active")
			e.Alerts(1)
			e.AlertContains("Exposed IAM Key For User "+demoUser+" On Account "+drillAccount,
				"Reported by:  AWS Health, AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED",
				"Contained: key set Inactive", "Sessions revoked", "Key deleted")
		},
	}
}

func healthNotice() Scenario {
	return Scenario{
		Name:  "health-iam-quarantine",
		Title: "AWS Health reports AWS_RISK_IAM_QUARANTINE, which names no key: an alert saying what AWS reported and what to check",
		Keys:  []string{demoKey},
		Run:   deliverEach("events/samples/health-iam-quarantine.json"),
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.StatusPrefix("notice-IAM_QUARANTINE-"+drillAccount+"-", "SUCCEEDED", "")
			e.NoIAMCall()
			e.Key(demoKey, "Active")
			e.Alerts(1)
			e.AlertContains("AWS Health AWS_RISK_IAM_QUARANTINE On Account "+drillAccount,
				"The report names no access key to", "Affected:     arn:aws:iam::"+drillAccount+":user/"+demoUser,
				"Do not detach it: follow the AWS Support case for this event.")
		},
	}
}
