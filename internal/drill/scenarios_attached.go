package drill

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/exposure"
)

// The scenarios of revokeWith attachedPolicy run on the template
// synthesized with that setting: its deny policy, its roles' environment
// and its detach rule.
const (
	attachedVariant = "attached-policy"
	// revokePolicyArn is the drill's deny policy in the demo account.
	revokePolicyArn = "arn:aws:iam::123456789012:policy/" + revokePolicyName
	policyDetached  = "tamper-" + demoUser + "-revoke-policy-3c5e7a9c-1d4f-4b8a-9e2c-4b6d8f0a2c35"
)

const detachCommand = "aws iam detach-user-policy --user-name " + demoUser + " --policy-arn " + revokePolicyArn

func exposedKeyAttachedPolicy() Scenario {
	return Scenario{
		Name: "exposed-key-attached-policy",
		Title: "The exposed-key report with revokeWith attachedPolicy: the stack's deny policy is attached to ci-deployer, no inline " +
			"policy is written, and the alert says the deny holds until a person detaches it, and how",
		Variant: attachedVariant,
		Keys:    []string{demoKey, demoOtherKey},
		Run:     putEach("events/exposed-key.json"),
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.Status(exposedName, "SUCCEEDED", "")
			e.StateOrder(exposedName, "RouteEvent", "ReadFinding", "IsKeyOfThisAccount", "IsRootKey", "ContainKey", "RevokeSessions", "LookUpActivity", "RemoveKey", "AlertExposedKey", "Contained")
			e.FirstIAMWrite("UpdateAccessKey")
			e.Key(demoKey, "deleted")
			e.Key(demoOtherKey, "Active")
			e.AttachedPolicy(demoUser, revokePolicyArn)
			e.NoUserPolicy(demoUser, exposure.RevokePolicyName)
			e.Alerts(1)
			e.AlertContains("Exposed IAM Key For User "+demoUser+" On Account",
				"Sessions revoked: managed policy "+revokePolicyArn, "EVERY temporary session of the user", "until a person detaches it",
				detachCommand)
		},
	}
}

// DetachPolicy detaches a managed policy from a user, as the tampering
// administrator.
func (d *Driver) DetachPolicy(ctx context.Context, user, arn string) error {
	_, err := d.admin().DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String(arn)})
	return err
}

func tamperRevokePolicyDetached() Scenario {
	return Scenario{
		Name: "tamper-revoke-policy-detached",
		Title: "With revokeWith attachedPolicy, after the exposed-key response an administrator's SSO session detaches the deny " +
			"policy from ci-deployer (events/tamper-revoke-policy-detached.json): the incident is open, so the tamper watch attaches it again and says who",
		Variant: attachedVariant,
		Keys:    []string{demoKey},
		Run: func(ctx context.Context, d *Driver) error {
			if err := d.Put(ctx, "events/exposed-key.json"); err != nil {
				return err
			}
			if err := d.DetachPolicy(ctx, demoUser, revokePolicyArn); err != nil {
				return err
			}
			return d.PutNow(ctx, "events/tamper-revoke-policy-detached.json")
		},
		Expect: func(e *Expectations) {
			e.Executions(2)
			e.Status(exposedName, "SUCCEEDED", "")
			e.Status(policyDetached, "SUCCEEDED", "")
			e.StateOrder(policyDetached, "RouteEvent", "RouteCloudTrailEvent", "CheckTamper", "IsTamper", "RespondToTamper", "AlertTamper", "TamperAnswered")
			e.AttachedPolicy(demoUser, revokePolicyArn)
			e.NoUserPolicy(demoUser, exposure.RevokePolicyName)
			e.Alerts(2)
			e.AlertContains("Session Revocation Of User "+demoUser+" Detached",
				"Who:          "+tamperSSOSession+" (AssumedRole)", "From:         "+tamperIP, "DetachUserPolicy "+revokePolicyArn,
				"open until", "Attached the policy "+revokePolicyArn+" to "+demoUser+" again")
		},
	}
}
