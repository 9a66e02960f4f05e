package drill

import (
	"context"
	"fmt"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

// dataKey2 is a second key of etl-runner in data-prod, 75 days old, which
// the organization's daily run seeds: past the first warning.
const dataKey2 = "AKIADATAPRODKEY00002"

// orgDailyRun is the daily key-age run across the drill organization, as
// deployed (dryRun on): one execution, a Distributed Map of one child per
// member.
func orgDailyRun() Scenario {
	return Scenario{
		Name: "org-daily-run",
		Title: "Organization mode: the daily key-age run as deployed (dryRun on) over the three members; the hub opts out. payments-prod " +
			"and data-prod are scanned from their credential reports through keywarden-member-read and their due keys noticed (no IAM " +
			"write); sandbox (" + sandboxAccount + ") has no member stack and is named in the one organization digest as \"member role " +
			"not deployed\". One failed account of three is more than the 10% tolerated: the run alerts and fails (AccountsFailed)",
		Variant: orgVariant,
		Keys:    []string{paymentsKey, paymentsKey2, dataKey, dataKey2, sandboxKey},
		Run: func(ctx context.Context, d *Driver) error {
			// The drill's hub sits in the root the settings cover but has
			// no member stack: it opts out, and the run is the members'.
			if err := d.st.org.TagAccount(orgHub, map[string]string{settings.DefaultOptOutTag: "true"}); err != nil {
				return err
			}
			data := d.st.account(dataAccount)
			if data == nil {
				return fmt.Errorf("the drill organization has no account %s", dataAccount)
			}
			if err := data.Seed(localaws.Fixture{Keys: []localaws.FixtureKey{{User: dataUser, ID: dataKey2, Created: "-75d", LastUsed: "-1d", LastUsedService: "glue"}}}); err != nil {
				return err
			}
			return d.Put(ctx, "events/daily-run.json")
		},
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.StatusPrefix("daily-", "FAILED", step.AccountsFailed)
			e.EndsIn("daily-", "ManualActionNeeded")
			e.MapRun("daily-", 3, 0, 10)
			e.ChildrenThrough("daily-", "RecordAccount", 2)
			e.ChildrenThrough("daily-", "RecordAccountFailure", 1)
			e.ChildrenThrough("daily-", "ActOnAccountChunk", 2)
			for _, a := range []string{orgHub, paymentsAccount, dataAccount, sandboxAccount} {
				e.NoIAMWriteIn(a)
			}
			var name string
			for _, x := range e.outcome.Executions {
				name = x.Name
			}
			e.IAMCallsBySession(paymentsAccount, name, member.ReadRole)
			e.IAMCallsBySession(dataAccount, name, member.ReadRole)
			e.NoAssumeRoleInto(orgHub)
			for _, k := range []struct{ account, id string }{{paymentsAccount, paymentsKey}, {paymentsAccount, paymentsKey2},
				{dataAccount, dataKey}, {dataAccount, dataKey2}, {sandboxAccount, sandboxKey}} {
				e.KeyIn(k.account, k.id, "Active")
			}
			e.Emails(0)
			e.Alerts(4)
			e.AlertContains("[DRY RUN] AWS access key "+paymentsKey+" of "+paymentsUser, "Account:   "+paymentsAccount+" ("+paymentsName+")")
			e.AlertContains("[DRY RUN] AWS access key "+dataKey2+" of "+dataUser+" is 75 days old", "Account:   "+dataAccount+" ("+dataName+")")
			e.AlertContains("[DRY RUN] keywarden organization key ages",
				"3 in scope: 2 scanned, 1 FAILED; 2 out of scope",
				"Scanned:      2 users, 4 access keys in 2 accounts",
				"Past limit:   1 keys", "Notices:      2 sent",
				"Keys:         0 would be deactivated, 0 would be deleted (dry run)",
				sandboxAccount+" (sandbox)  "+string(member.NotDeployed)+": member role "+member.ReadRole+" not deployed in account "+sandboxAccount,
				"Worst accounts", paymentsAccount+" ("+paymentsName+")  1 past the limit of 2 keys; 1 notices",
				orgHub+" (security): "+string(inventory.ReasonOptedOut), string(inventory.ReasonManagement))
			e.AlertContains("Daily Key-Age Run Failed", step.AccountsFailed, "1 of 3 accounts were not scanned", sandboxAccount)
		},
	}
}
