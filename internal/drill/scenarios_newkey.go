package drill

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/tamper"
)

// CreateKeyAsAdmin creates an access key for a user, as an administrator
// would, and returns the id IAM issued. Its secret is not kept.
func (d *Driver) CreateKeyAsAdmin(ctx context.Context, user string) (string, error) {
	out, err := d.admin().CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.AccessKey.AccessKeyId), nil
}

// DeleteKeyAsAdmin deletes a user's access key, as an administrator would.
func (d *Driver) DeleteKeyAsAdmin(ctx context.Context, user, keyID string) error {
	_, err := d.admin().DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(keyID)})
	return err
}

func tamperNewKeyOpenIncident() Scenario {
	var openKey, closedKey string // the keys the administrators created
	return Scenario{
		Name: "tamper-new-key-open-incident",
		Title: "After the exposed-key response, admin-mallory creates a new key for ci-deployer while the incident is open " +
			"(events/tamper-new-key-open-incident.json): recorded, and an alert asks a person to confirm it, nothing undone; " +
			"incidentOpenDays later admin-alice replaces ci-deployer's other key (events/tamper-new-key-incident-closed.json): recorded, not tampering",
		Keys: []string{demoKey, demoOtherKey},
		Run: func(ctx context.Context, d *Driver) error {
			if err := d.Put(ctx, "events/exposed-key.json"); err != nil {
				return err
			}
			var err error
			if openKey, err = d.CreateKeyAsAdmin(ctx, demoUser); err != nil {
				return err
			}
			d.Mark("open: key created")
			if err := d.PutCreationNow(ctx, "events/tamper-new-key-open-incident.json", openKey); err != nil {
				return err
			}
			d.Mark("open: answered")

			// The incident closes incidentOpenDays (default) after the
			// revocation; a day later the other key is rotated by hand.
			d.Advance(time.Duration(tamper.DefaultOpenDays+1) * 24 * time.Hour)
			if err := d.DeleteKeyAsAdmin(ctx, demoUser, demoOtherKey); err != nil {
				return err
			}
			if closedKey, err = d.CreateKeyAsAdmin(ctx, demoUser); err != nil {
				return err
			}
			d.Mark("closed: key created")
			return d.PutCreationNow(ctx, "events/tamper-new-key-incident-closed.json", closedKey)
		},
		Expect: func(e *Expectations) {
			openName, closedName := "created-"+demoUser+"-"+openKey, "created-"+demoUser+"-"+closedKey
			e.Executions(3)
			e.Status(exposedName, "SUCCEEDED", "")
			e.Key(demoKey, "deleted")

			// While the incident is open: recorded, flagged, alerted; the
			// new key is left as it is.
			e.Status(openName, "SUCCEEDED", "")
			e.StateOrder(openName, "RouteEvent", "RouteCloudTrailEvent", "RecordKeyCreation", "CheckTamper", "IsTamper",
				"RespondToTamper", "AlertTamper", "TamperAnswered")
			e.LedgerItem("key#"+openKey, "created")
			e.Flags(openKey, 1)
			e.AlertContains("New Key For User "+demoUser+" After Its Key Was Exposed",
				"Who:          "+tamperAdmin+" (IAMUser)", "From:         "+tamperIP, "When:", "CreateAccessKey, new key "+openKey,
				"was created for "+demoUser+" while the exposure of its key "+demoKey, "open until",
				"Undid nothing: a new key may be the planned replacement: reported for a person to confirm.",
				"Confirm with "+tamperAdmin+" that the new key is the planned replacement")
			e.Key(openKey, "Active")
			e.NoIAMWriteBetween("open: key created", "open: answered")

			// After incidentOpenDays: recorded, not tampering, nothing sent.
			e.Status(closedName, "SUCCEEDED", "")
			e.StateOrder(closedName, "RouteEvent", "RouteCloudTrailEvent", "RecordKeyCreation", "CheckTamper", "IsTamper", "CreationRecorded")
			e.LedgerItem("key#"+closedKey, "created")
			e.Flags(closedKey, 0)
			e.Key(closedKey, "Active")
			e.NothingNewSince("closed: key created", 0)
			e.Alerts(2)
		},
	}
}
