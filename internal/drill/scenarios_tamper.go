package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
)

// ownRoleArns are the drill's stand-ins for the roles of keywarden's IAM
// writers (infra's iamWriters), named keywarden-<Name>FunctionRole as the
// CloudTrail samples of keywarden's own writes name them.
func ownRoleArns(account string) string {
	var arns []string
	for _, name := range []string{lambdafn.Contain, lambdafn.Revoke, lambdafn.Remove, lambdafn.Act, lambdafn.Tamper} {
		arns = append(arns, fmt.Sprintf("arn:aws:iam::%s:role/keywarden-%s%sFunctionRole", account, strings.ToUpper(name[:1]), name[1:]))
	}
	return strings.Join(arns, ",")
}

// admin is an administrator's IAM client: the tampering the scenarios do
// by hand. It is given room to get through injected throttling, like the
// set-up.
func (d *Driver) admin() *iam.Client {
	cfg := d.st.cfg.Copy()
	cfg.RetryMaxAttempts = 10
	return iam.NewFromConfig(cfg)
}

// ReactivateKey sets a key Active again, as someone undoing a containment
// would.
func (d *Driver) ReactivateKey(ctx context.Context, user, keyID string) error {
	_, err := d.admin().UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String(user), AccessKeyId: aws.String(keyID), Status: iamtypes.StatusTypeActive,
	})
	return err
}

// DeletePolicy deletes a user's inline policy.
func (d *Driver) DeletePolicy(ctx context.Context, user, policy string) error {
	_, err := d.admin().DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(policy)})
	return err
}

// PutNow sends a put-events file of CloudTrail records as CloudTrail would
// deliver them now: each entry's time and each record's eventTime are the
// drill's clock. localaws does not write CloudTrail records for IAM calls,
// so a scenario makes the call through the SDK, then puts its record.
func (d *Driver) PutNow(ctx context.Context, file string) error {
	return d.putNow(ctx, file, "", nil)
}

// PutCreationNow is PutNow for CloudTrail records of CreateAccessKey: each
// record also names the key IAM issued (keyID), created at the drill's
// clock, since localaws chooses its own key ids.
func (d *Driver) PutCreationNow(ctx context.Context, file, keyID string) error {
	return d.putNow(ctx, file, "key id set to "+keyID, func(detail map[string]any, now time.Time) error {
		resp, _ := detail["responseElements"].(map[string]any)
		key, ok := resp["accessKey"].(map[string]any)
		if !ok {
			return fmt.Errorf("no responseElements.accessKey")
		}
		key["accessKeyId"], key["createDate"] = keyID, now.Format("Jan 2, 2006, 3:04:05 PM")
		return nil
	})
}

// putNow puts a file's CloudTrail records with their times set to the
// drill's clock, each record's detail edited first when edit is given;
// also says what else was changed.
func (d *Driver) putNow(ctx context.Context, file, also string, edit func(detail map[string]any, now time.Time) error) error {
	raw, err := os.ReadFile(filepath.Join(d.root, file))
	if err != nil {
		return err
	}
	entries, err := event.ReadEntries(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	at := d.Now().UTC().Truncate(time.Second)
	now := at.Format(time.RFC3339)
	for i := range entries {
		var detail map[string]any
		if err := json.Unmarshal([]byte(entries[i].Detail), &detail); err != nil {
			return fmt.Errorf("%s: entry %d: %w", file, i, err)
		}
		if edit != nil {
			if err := edit(detail, at); err != nil {
				return fmt.Errorf("%s: entry %d: %w", file, i, err)
			}
		}
		detail["eventTime"] = now
		b, err := json.Marshal(detail)
		if err != nil {
			return err
		}
		entries[i].Detail, entries[i].Time = string(b), now
	}
	what := " (times set to the drill's clock)"
	if also != "" {
		what = " (times set to the drill's clock, " + also + ")"
	}
	res, err := d.st.putEntries(ctx, file+what, entries)
	d.outcome.Puts = append(d.outcome.Puts, res)
	return err
}

// The tampering in the CloudTrail samples: who, from where, which event.
const (
	tamperAdmin       = "arn:aws:iam::123456789012:user/admin-mallory"
	tamperSSOSession  = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b/mallory@example.com"
	tamperIP          = "203.0.113.50"
	reactivatedName   = "tamper-" + demoUser + "-" + demoKey + "-8c4e2f10-6a3b-4c5d-9e7f-0a1b2c3d4e51"
	policyDeletedName = "tamper-" + demoUser + "-revoke-policy-1e3a5c7e-9b2d-4f6a-8c0e-2a4c6e8a0c12"
	policyTagName     = "tamper-erin-tags-4b6d8f0b-2c3d-4e5f-9a6b-7c8d9e0f1a45"
)

func tamperReactivatedKey() Scenario {
	return Scenario{
		Name: "tamper-reactivated-key",
		Title: "After the exposed-key response (exposedKeyAction deactivate: the key is kept inactive), admin-mallory sets the " +
			"contained key Active again (events/tamper-reactivated-key.json): the tamper watch sets it Inactive again and says who",
		Env:  map[string]string{settings.EnvExposedKeyAction: settings.ActionDeactivate},
		Keys: []string{demoKey},
		Run: func(ctx context.Context, d *Driver) error {
			if err := d.Put(ctx, "events/exposed-key.json"); err != nil {
				return err
			}
			if err := d.ReactivateKey(ctx, demoUser, demoKey); err != nil {
				return err
			}
			return d.PutNow(ctx, "events/tamper-reactivated-key.json")
		},
		Expect: func(e *Expectations) {
			e.Executions(2)
			e.Status(exposedName, "SUCCEEDED", "")
			e.Status(reactivatedName, "SUCCEEDED", "")
			e.StateOrder(reactivatedName, "RouteEvent", "RouteCloudTrailEvent", "CheckTamper", "IsTamper", "RespondToTamper", "AlertTamper", "TamperAnswered")
			e.Key(demoKey, "Inactive")
			e.Alerts(2)
			e.AlertContains("Exposed Key "+demoKey+" Of User "+demoUser+" Re-activated",
				"Who:          "+tamperAdmin+" (IAMUser)", "From:         "+tamperIP, "When:", "UpdateAccessKey "+demoKey+" --status Active",
				"contained as exposed on", "Set the key Inactive again at")
		},
	}
}

func tamperRevokePolicyDeleted() Scenario {
	var written string // the policy the exposed-key response wrote
	return Scenario{
		Name: "tamper-revoke-policy-deleted",
		Title: "After the exposed-key response, an administrator's SSO session deletes the policy revoking ci-deployer's sessions " +
			"(events/tamper-revoke-policy-deleted.json): the incident is open, so the tamper watch puts it back as it was and says who",
		Keys: []string{demoKey},
		Run: func(ctx context.Context, d *Driver) error {
			if err := d.Put(ctx, "events/exposed-key.json"); err != nil {
				return err
			}
			written = d.st.aws.UserPolicies(demoUser)[exposure.RevokePolicyName]
			if err := d.DeletePolicy(ctx, demoUser, exposure.RevokePolicyName); err != nil {
				return err
			}
			return d.PutNow(ctx, "events/tamper-revoke-policy-deleted.json")
		},
		Expect: func(e *Expectations) {
			e.Executions(2)
			e.Status(policyDeletedName, "SUCCEEDED", "")
			e.StateOrder(policyDeletedName, "RouteEvent", "RouteCloudTrailEvent", "CheckTamper", "IsTamper", "RespondToTamper", "AlertTamper", "TamperAnswered")
			e.UserPolicyIs(demoUser, exposure.RevokePolicyName, written)
			e.Alerts(2)
			e.AlertContains("Session Revocation Of User "+demoUser+" Deleted",
				"Who:          "+tamperSSOSession+" (AssumedRole)", "session of role arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/",
				"From:         "+tamperIP, "DeleteUserPolicy "+exposure.RevokePolicyName, "open until", "Put the policy "+exposure.RevokePolicyName+" back")
		},
	}
}

func tamperOwnWrites() Scenario {
	return Scenario{
		Name: "tamper-own-writes",
		Title: "The exposed-key response, then CloudTrail's records of keywarden's own writes: the revoke step's policy and the " +
			"tamper function putting a policy back (events/tamper-keywarden-own-writes.json): recognised by their roles, no tamper execution",
		Keys: []string{demoKey},
		Run: func(ctx context.Context, d *Driver) error {
			if err := d.Put(ctx, "events/exposed-key.json"); err != nil {
				return err
			}
			return d.PutNow(ctx, "events/tamper-keywarden-own-writes.json")
		},
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.Status(exposedName, "SUCCEEDED", "")
			e.Ignored(2)
			e.NoExecutionPrefix("tamper-")
			e.Alerts(1)
			e.NoAlert("Session Revocation")
			e.UserPolicy(demoUser, exposure.RevokePolicyName)
		},
	}
}

// tagAsAdmin sets a tag on a user, as the tampering administrator.
func (d *Driver) tagAsAdmin(ctx context.Context, user, key, value string) error {
	_, err := d.admin().TagUser(ctx, &iam.TagUserInput{UserName: aws.String(user), Tags: []iamtypes.Tag{{Key: aws.String(key), Value: aws.String(value)}}})
	return err
}

func tamperPolicyTag() Scenario {
	return Scenario{
		Name: "tamper-policy-tag",
		Title: "admin-mallory sets erin's exemption tag (events/tamper-policy-tag.json; the team tag beside it is not the policy's): " +
			"an alert says who changed what, and the next daily run's digest lists it",
		Run: func(ctx context.Context, d *Driver) error {
			if err := d.tagAsAdmin(ctx, "erin", "keywarden:exempt", "2027-06-30 vendor migration"); err != nil {
				return err
			}
			d.Mark("setup") // keywarden itself writes nothing to IAM from here
			if err := d.PutNow(ctx, "events/tamper-policy-tag.json"); err != nil {
				return err
			}
			return d.Put(ctx, "events/daily-run.json")
		},
		Expect: func(e *Expectations) {
			e.Executions(2)
			e.Status(policyTagName, "SUCCEEDED", "")
			e.StatusPrefix("daily-2", "SUCCEEDED", "")
			e.NoIAMWrite()
			e.AlertContains("Key-Age Policy Tags Of User erin Changed", "Who:          "+tamperAdmin+" (IAMUser)", "From:         "+tamperIP,
				`Tag:          keywarden:exempt set to "2027-06-30 vendor migration"`, "Undid nothing: tags are their owners' to change")
			e.AlertContains("keywarden key ages", "Policy tags changed in the last day (tamper watch)", "erin  tags of erin", tamperAdmin)
		},
	}
}
