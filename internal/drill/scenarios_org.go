package drill

import (
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/member"
)

// The organization mode scenarios: the hub template deployed in the hub
// account of the drill organization (stack_org.go), the member template in
// the members that have it, and AWS's events delivered where AWS delivers
// them (a member's own bus, or the hub's for Health's organizational view).

const orgVariant = "organization"

// The members' keys (events/organization-members.json).
const (
	paymentsAccount = "111111111111"
	paymentsName    = "payments-prod"
	paymentsUser    = "payments-ci"
	paymentsKey     = "AKIAPAYMENTSPROD0001"
	paymentsKey2    = "AKIAPAYMENTSPROD0002"
	dataAccount     = "222222222222"
	dataName        = "data-prod"
	dataUser        = "etl-runner"
	dataKey         = "AKIADATAPRODKEY00001"
	sandboxAccount  = "333333333333"
	sandboxUser     = "sandbox-dev"
	sandboxKey      = "AKIASANDBOXKEY000001"
	outsideAccount  = "999999999999"
	outsideKey      = "AKIAOUTSIDEORGKEY001"
)

// memberDenyPolicy is the member template's deny policy in account.
func memberDenyPolicy(account string) string {
	return "arn:aws:iam::" + account + ":policy/keywarden/keywarden-deny-temporary-sessions"
}

// orgExposedName is organization mode's execution name for an exposed key.
func orgExposedName(account, user, key string) string {
	return "exposed-" + account + "-" + user + "-" + key
}

func orgMemberExposedKey() Scenario {
	name := orgExposedName(paymentsAccount, paymentsUser, paymentsKey)
	return Scenario{
		Name: "org-member-exposed-key",
		Title: "Organization mode: Trusted Advisor reports payments-ci's key in member " + paymentsAccount + " (" + paymentsName +
			"); the member's rule forwards it to the hub bus, and the hub contains it in the member through the member roles " +
			"(events/samples/trusted-advisor-exposed-key-member.json)",
		Variant: orgVariant,
		Keys:    []string{paymentsKey, paymentsKey2},
		Run:     deliverEach("events/samples/trusted-advisor-exposed-key-member.json"),
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.Status(name, "SUCCEEDED", "")
			e.EndsIn(name, "Contained")
			e.KeyIn(paymentsAccount, paymentsKey, "deleted")
			e.KeyIn(paymentsAccount, paymentsKey2, "Active")
			e.NoKeyIn(orgHub, paymentsKey)
			e.AttachedPolicyIn(paymentsAccount, paymentsUser, memberDenyPolicy(paymentsAccount))
			e.NoIAMWriteIn(orgHub)
			e.IAMWritesBySession(paymentsAccount, name, member.RespondRole)
			e.TrailNamesExecution(paymentsAccount, name, member.RespondRole)
			e.Alerts(1)
			e.AlertContains("Exposed IAM Key For User "+paymentsUser, paymentsAccount, paymentsName, paymentsKey)
		},
	}
}

func orgMemberRoleMissing() Scenario {
	prefix := "exposed-" + sandboxAccount + "-"
	return Scenario{
		Name: "org-member-role-missing",
		Title: "Organization mode: member " + sandboxAccount + " (sandbox) has no member stack yet. Trusted Advisor's report on its " +
			"own bus reaches nothing (no forwarding rule there); AWS Health's organizational view, received in the hub, reports " +
			"the same key: no role to assume, a manual-action alert naming the account and the fix, nothing changed " +
			"(events/samples/trusted-advisor-exposed-key-member-no-stack.json, health-organizational-view-member-no-stack.json)",
		Variant: orgVariant,
		Keys:    []string{sandboxKey},
		Run: deliverEach("events/samples/trusted-advisor-exposed-key-member-no-stack.json",
			"events/samples/health-organizational-view-member-no-stack.json"),
		Expect: func(e *Expectations) {
			e.NoRuleMatched(0)
			e.Executions(1)
			e.StatusPrefix(prefix, "FAILED", string(member.NotDeployed))
			e.EndsIn(prefix, "ManualActionNeeded")
			e.KeyIn(sandboxAccount, sandboxKey, "Active")
			e.NoIAMWriteIn(sandboxAccount)
			e.NoIAMWriteIn(orgHub)
			e.Alerts(1)
			e.AlertContains("Manual Action Needed", string(member.NotDeployed), sandboxKey,
				"not deployed in account "+sandboxAccount, "keywarden-member StackSet")
		},
	}
}

func orgOutsideOrganization() Scenario {
	return Scenario{
		Name: "org-outside-organization",
		Title: "Organization mode: AWS Health, received in the hub, reports a key of account " + outsideAccount +
			", which is not in the organization: alerted as a foreign key, no role assumed there " +
			"(events/samples/health-organizational-view-outside.json)",
		Variant: orgVariant,
		Run:     deliverEach("events/samples/health-organizational-view-outside.json"),
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.StatusPrefix("", "SUCCEEDED", "")
			e.EndsIn("", "ForeignAccountKeyAlerted")
			e.NoAssumeRoleInto(outsideAccount)
			e.NoIAMWriteIn(orgHub)
			e.Alerts(1)
			e.AlertContains(outsideAccount, outsideAccount, outsideKey, string(inventory.ReasonNotInOrganization))
		},
	}
}

func orgHealthOrganizationalView() Scenario {
	name := orgExposedName(dataAccount, dataUser, dataKey)
	return Scenario{
		Name: "org-health-organizational-view",
		Title: "Organization mode: AWS Health's organizational view, received in the hub, reports etl-runner's key in member " +
			dataAccount + " (" + dataName + "): contained in that member (events/samples/health-organizational-view-member.json)",
		Variant: orgVariant,
		Keys:    []string{dataKey},
		Run:     deliverEach("events/samples/health-organizational-view-member.json"),
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.Status(name, "SUCCEEDED", "")
			e.EndsIn(name, "Contained")
			e.KeyIn(dataAccount, dataKey, "deleted")
			e.AttachedPolicyIn(dataAccount, dataUser, memberDenyPolicy(dataAccount))
			e.IAMWritesBySession(dataAccount, name, member.RespondRole)
			e.TrailNamesExecution(dataAccount, name, member.RespondRole)
			e.NoIAMWriteIn(orgHub)
			e.Alerts(1)
			e.AlertContains("Exposed IAM Key For User "+dataUser, dataAccount, dataName, dataKey)
		},
	}
}
