package drill

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

// The organization scenarios of a member's CloudTrail events (trail_org.go):
// a person's IAM call in a member, forwarded by the member's rules to the
// hub bus, answered in the member through its roles.

// noKeysUser is the payments-prod user the scenario creates with the
// organization template's noAccessKeysTag set.
const noKeysUser = "payments-analyst"

func orgMemberKeyCreated() Scenario {
	var key string // the key the member's administrator created
	return Scenario{
		Name: "org-member-key-created",
		Title: "Organization mode: in member " + paymentsAccount + " (" + paymentsName + ") the administrator creates a key for " +
			noKeysUser + ", whose tag keywarden:no-access-keys forbids keys; the member's CloudTrail event reaches its default bus " +
			"and is forwarded to the hub: recorded, the tag read through the member's read role, an alert naming the account",
		Variant: orgVariant,
		Run: func(ctx context.Context, d *Driver) error {
			err := d.AsMemberAdmin(ctx, paymentsAccount, func(ctx context.Context, c *iam.Client) error {
				if err := createTaggedUser(ctx, c, noKeysUser, map[string]string{"UserType": "Employee", "keywarden:no-access-keys": "true"}); err != nil {
					return err
				}
				out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(noKeysUser)})
				if err != nil {
					return err
				}
				key = aws.ToString(out.AccessKey.AccessKeyId)
				return nil
			})
			if err != nil {
				return err
			}
			return d.DeliverLastCall(ctx, paymentsAccount, "CreateAccessKey")
		},
		Expect: func(e *Expectations) {
			name := "created-" + noKeysUser + "-" + key
			e.Executions(1)
			e.Status(name, "SUCCEEDED", "")
			e.StateOrder(name, "RouteEvent", "RouteCloudTrailEvent", "RecordKeyCreation", "CheckTamper", "IsTamper", "CreationRecorded")
			e.LedgerItem("key#"+key, "created")
			e.Flags(key, 1)
			e.KeyIn(paymentsAccount, key, "Active")
			e.ReadsBySession(paymentsAccount, name, member.ReadRole)
			e.NoMemberRoleWriteIn(paymentsAccount)
			e.NoIAMWriteIn(orgHub)
			e.Alerts(1)
			e.AlertContains("Access Key Created Against Policy For User "+noKeysUser+" On Account "+paymentsAccount,
				"Key:          "+key, "Account:      "+paymentsAccount, "keywarden:no-access-keys",
				"Created by:   arn:aws:iam::"+paymentsAccount+":root")
		},
	}
}

// The tamper executions of payments-ci's key and of its deny policy
// (tamper-<user>-<what>-<CloudTrail event id>).
const (
	orgTamperKeyPrefix    = "tamper-" + paymentsUser + "-" + paymentsKey + "-"
	orgTamperPolicyPrefix = "tamper-" + paymentsUser + "-revoke-policy-"
)

func orgMemberTamperReactivated() Scenario {
	exposed := orgExposedName(paymentsAccount, paymentsUser, paymentsKey)
	return Scenario{
		Name: "org-member-tamper-reactivated",
		Title: "Organization mode, exposedKeyAction deactivate: after the response to payments-ci's exposed key in member " +
			paymentsAccount + ", the member's administrator sets the key Active again, then detaches the deny policy; each " +
			"CloudTrail event is forwarded to the hub and undone in the member through the respond role. keywarden's own " +
			"writes there, delivered on the member's bus too, start nothing",
		Variant: orgVariant,
		Env:     map[string]string{settings.EnvExposedKeyAction: settings.ActionDeactivate},
		Keys:    []string{paymentsKey, paymentsKey2},
		Run: func(ctx context.Context, d *Driver) error {
			if err := d.Deliver(ctx, "events/samples/trusted-advisor-exposed-key-member.json"); err != nil {
				return err
			}
			err := d.AsMemberAdmin(ctx, paymentsAccount, func(ctx context.Context, c *iam.Client) error {
				_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
					UserName: aws.String(paymentsUser), AccessKeyId: aws.String(paymentsKey), Status: iamtypes.StatusTypeActive,
				})
				return err
			})
			if err != nil {
				return err
			}
			if err := d.DeliverLastCall(ctx, paymentsAccount, "UpdateAccessKey"); err != nil {
				return err
			}
			err = d.AsMemberAdmin(ctx, paymentsAccount, func(ctx context.Context, c *iam.Client) error {
				_, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{
					UserName: aws.String(paymentsUser), PolicyArn: aws.String(memberDenyPolicy(paymentsAccount)),
				})
				return err
			})
			if err != nil {
				return err
			}
			if err := d.DeliverLastCall(ctx, paymentsAccount, "DetachUserPolicy"); err != nil {
				return err
			}
			return d.DeliverWritesOf(ctx, paymentsAccount, member.RespondRole)
		},
		Expect: func(e *Expectations) {
			e.Executions(3)
			e.Status(exposed, "SUCCEEDED", "")
			e.EndsIn(exposed, "Contained")
			e.StatusPrefix(orgTamperKeyPrefix, "SUCCEEDED", "")
			e.EndsIn(orgTamperKeyPrefix, "TamperAnswered")
			e.StatusPrefix(orgTamperPolicyPrefix, "SUCCEEDED", "")
			e.EndsIn(orgTamperPolicyPrefix, "TamperAnswered")
			e.KeyIn(paymentsAccount, paymentsKey, "Inactive")
			e.KeyIn(paymentsAccount, paymentsKey2, "Active")
			e.AttachedPolicyIn(paymentsAccount, paymentsUser, memberDenyPolicy(paymentsAccount))
			e.TrailWritesBy(paymentsAccount, exposed, member.RespondRole, "UpdateAccessKey", "AttachUserPolicy")
			e.TrailWritesBy(paymentsAccount, orgTamperKeyPrefix, member.RespondRole, "UpdateAccessKey")
			e.TrailWritesBy(paymentsAccount, orgTamperPolicyPrefix, member.RespondRole, "AttachUserPolicy")
			e.NoRuleMatched(3) // keywarden's own writes: no member rule forwards them
			e.NoIAMWriteIn(orgHub)
			e.Alerts(3)
			e.AlertContains("Exposed Key "+paymentsKey+" Of User "+paymentsUser+" Re-activated",
				"Who:          arn:aws:iam::"+paymentsAccount+":root", "UpdateAccessKey "+paymentsKey+" --status Active",
				"Account:      "+paymentsAccount, "contained as exposed on", "Set the key Inactive again at")
			e.AlertContains("Session Revocation Of User "+paymentsUser+" Detached",
				"DetachUserPolicy "+memberDenyPolicy(paymentsAccount), "Account:      "+paymentsAccount, "open until")
		},
	}
}

func orgOptedOutKeyCreated() Scenario {
	prefix := "created-" + dataUser + "-"
	return Scenario{
		Name: "org-opted-out-key-created",
		Title: "Organization mode: member " + dataAccount + " (" + dataName + ") is tagged " + settings.DefaultOptOutTag +
			"=true after its member stack was deployed; a key created there is forwarded to the hub all the same: the record " +
			"step refuses the account (AccountOutOfScope), records nothing, assumes no role there, and a manual-action alert says why",
		Variant: orgVariant,
		Run: func(ctx context.Context, d *Driver) error {
			if err := d.st.org.TagAccount(dataAccount, map[string]string{settings.DefaultOptOutTag: "true"}); err != nil {
				return err
			}
			err := d.AsMemberAdmin(ctx, dataAccount, func(ctx context.Context, c *iam.Client) error {
				_, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(dataUser)})
				return err
			})
			if err != nil {
				return err
			}
			return d.DeliverLastCall(ctx, dataAccount, "CreateAccessKey")
		},
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.StatusPrefix(prefix, "FAILED", step.AccountOutOfScope)
			e.EndsIn(prefix, "ManualActionNeeded")
			e.NoLedgerItemPrefix("key#")
			e.NoAssumeRoleInto(dataAccount)
			e.NoMemberRoleWriteIn(dataAccount)
			e.NoIAMWriteIn(orgHub)
			e.Alerts(1)
			e.AlertContains("Manual Action Needed", step.AccountOutOfScope, dataAccount, string(inventory.ReasonOptedOut),
				"no role was assumed there, nothing was\nrecorded", "remove its opt-out tag", "list it in excludedAccounts")
		},
	}
}

func orgSameUserOtherAccount() Scenario {
	exposed := orgExposedName(paymentsAccount, paymentsUser, paymentsKey)
	var inPayments, inData string // the keys created for payments-ci in each member
	return Scenario{
		Name: "org-same-user-other-account",
		Title: "Organization mode: after the response to payments-ci's exposed key in member " + paymentsAccount + ", its " +
			"administrator creates a new key for payments-ci, and data-prod's creates a user of the same name in " + dataAccount +
			" and a key for it; both forwarded to the hub: the first is a new key during the open incident (alerted, nothing " +
			"undone), the second only recorded, since the ledger keys revocations by account",
		Variant: orgVariant,
		Keys:    []string{paymentsKey, paymentsKey2},
		Run: func(ctx context.Context, d *Driver) error {
			if err := d.Deliver(ctx, "events/samples/trusted-advisor-exposed-key-member.json"); err != nil {
				return err
			}
			err := d.AsMemberAdmin(ctx, paymentsAccount, func(ctx context.Context, c *iam.Client) error {
				out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(paymentsUser)})
				if err != nil {
					return err
				}
				inPayments = aws.ToString(out.AccessKey.AccessKeyId)
				return nil
			})
			if err != nil {
				return err
			}
			if err := d.DeliverLastCall(ctx, paymentsAccount, "CreateAccessKey"); err != nil {
				return err
			}
			err = d.AsMemberAdmin(ctx, dataAccount, func(ctx context.Context, c *iam.Client) error {
				if err := createTaggedUser(ctx, c, paymentsUser, map[string]string{"UserType": "machine"}); err != nil {
					return err
				}
				out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(paymentsUser)})
				if err != nil {
					return err
				}
				inData = aws.ToString(out.AccessKey.AccessKeyId)
				return nil
			})
			if err != nil {
				return err
			}
			return d.DeliverLastCall(ctx, dataAccount, "CreateAccessKey")
		},
		Expect: func(e *Expectations) {
			paymentsName, dataName := "created-"+paymentsUser+"-"+inPayments, "created-"+paymentsUser+"-"+inData
			e.Executions(3)
			e.Status(exposed, "SUCCEEDED", "")

			// In the exposed key's account: a new key during its incident.
			e.Status(paymentsName, "SUCCEEDED", "")
			e.StateOrder(paymentsName, "RouteEvent", "RouteCloudTrailEvent", "RecordKeyCreation", "CheckTamper", "IsTamper",
				"RespondToTamper", "AlertTamper", "TamperAnswered")
			e.Flags(inPayments, 1)
			e.KeyIn(paymentsAccount, inPayments, "Active")
			e.AlertContains("New Key For User "+paymentsUser+" After Its Key Was Exposed", "Account:      "+paymentsAccount,
				"CreateAccessKey, new key "+inPayments, "while the exposure of its key "+paymentsKey)

			// The same user name in another account: only recorded.
			e.Status(dataName, "SUCCEEDED", "")
			e.StateOrder(dataName, "RouteEvent", "RouteCloudTrailEvent", "RecordKeyCreation", "CheckTamper", "IsTamper", "CreationRecorded")
			e.LedgerItem("key#"+inData, "created")
			e.Flags(inData, 0)
			e.KeyIn(dataAccount, inData, "Active")
			e.ReadsBySession(dataAccount, dataName, member.ReadRole)
			e.NoMemberRoleWriteIn(dataAccount)
			e.Alerts(2)
		},
	}
}
