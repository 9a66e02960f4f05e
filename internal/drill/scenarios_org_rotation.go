package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/rotation"
	"github.com/keywarden/keywarden/internal/settings"
)

// data-prod's rotation user (keywarden:rotate=true) and its 61-day-old key,
// which the organization's rotation scenario seeds.
const (
	dataRotationUser = "report-builder"
	dataRotationKey  = "AKIADATAPRODROTATE01"
)

// orgRotation is the organization's daily run with enforcement on, over
// data-prod alone (the other members opt out): a user opted into rotation
// has its key replaced in data-prod, by data-prod's rotate role, and the new
// key kept in data-prod's secret under data-prod's own key.
func orgRotation() Scenario {
	return Scenario{
		Name: "org-rotation",
		Title: "Organization mode, enforcement on: " + dataRotationUser + " in data-prod carries keywarden:rotate=true and its key is 61 " +
			"days old; the daily run replaces the key through data-prod's keywarden-member-rotate and keeps the new one in data-prod's " +
			"secret under alias/keywarden-rotation; the hub holds no secret; the old key stays active",
		Variant: orgVariant,
		Env:     map[string]string{settings.EnvDryRun: "false"},
		Keys:    []string{dataRotationKey},
		Run: func(ctx context.Context, d *Driver) error {
			for _, a := range []string{orgHub, paymentsAccount, sandboxAccount} {
				if err := d.st.org.TagAccount(a, map[string]string{settings.DefaultOptOutTag: "true"}); err != nil {
					return err
				}
			}
			data := d.st.account(dataAccount)
			if data == nil {
				return fmt.Errorf("the drill organization has no account %s", dataAccount)
			}
			if err := data.Seed(localaws.Fixture{
				Users: []localaws.FixtureUser{{Name: dataRotationUser, Tags: map[string]string{"keywarden:rotate": "true"}}},
				Keys:  []localaws.FixtureKey{{User: dataRotationUser, ID: dataRotationKey, Created: "-61d"}},
			}); err != nil {
				return err
			}
			return d.Put(ctx, "events/daily-run.json")
		},
		Expect: func(e *Expectations) {
			e.Executions(1)
			e.StatusPrefix("daily-", "SUCCEEDED", "")
			e.KeyIn(dataAccount, dataRotationKey, "Active")
			e.RotatedInMember(dataAccount, dataRotationUser, dataRotationKey)
			var name string
			for _, x := range e.outcome.Executions {
				name = x.Name
			}
			e.IAMWritesBySession(dataAccount, name, member.RotateRole)
			for _, a := range []string{orgHub, paymentsAccount, sandboxAccount} {
				e.NoIAMWriteIn(a)
			}
			e.Alerts(2)
			e.AlertContains("AWS access key "+dataRotationKey+" of "+dataRotationUser+" has been rotated", "Account:   "+dataAccount+" ("+dataName+")",
				"Secret:    arn:aws:secretsmanager:us-east-1:"+dataAccount+":secret:keywarden/access-key/"+dataRotationUser+"-")
			e.AlertContains("keywarden organization key ages", "1 rotated", "Rotations:    1 rotated, each new key in its account's "+
				"keywarden/access-key/<user> secret")
		},
	}
}

// RotatedInMember: in account, user's key old was replaced by a new active
// key (the old one still there), which account's secret holds, encrypted
// under account's alias/keywarden-rotation and changeable only by
// account's keywarden-member-rotate (and the security role); the hub holds
// no such secret.
func (e *Expectations) RotatedInMember(account, user, old string) {
	name := rotation.DefaultSecretPrefix + user
	what := fmt.Sprintf("%s's key %s in account %s replaced by a new key kept in that account's secret %s", user, old, account, name)
	srv := e.st.account(account)
	if srv == nil {
		e.check(false, what, "the drill has no account %s", account)
		return
	}
	var fresh string
	for _, k := range srv.AccessKeys(user) {
		if !k.Deleted && k.ID != old && k.Status == "Active" {
			fresh = k.ID
		}
	}
	sec, ok := srv.Secret(name)
	value, hasValue := srv.SecretValueFor(name)
	var held struct{ AccessKeyId, SecretAccessKey string }
	issued, _ := srv.SecretFor(fresh)
	writer := `"` + member.RoleARN("us-east-1", account, member.Rotate) + `"`
	_, inHub := e.st.aws.Secret(name)
	switch {
	case fresh == "":
		e.check(false, what, "no new active key for %s", user)
	case !ok || !hasValue:
		e.check(false, what, "no secret %s with a value in account %s", name, account)
	case json.Unmarshal([]byte(value), &held) != nil || held.AccessKeyId != fresh || held.SecretAccessKey != issued || issued == "":
		e.check(false, what, "the secret does not hold key %s as IAM issued it", fresh)
	case sec.KmsKeyID != member.RotationKeyARN("us-east-1", account):
		e.check(false, what, "secret encrypted with %q, not %s", sec.KmsKeyID, member.RotationKeyARN("us-east-1", account))
	case !strings.Contains(sec.ResourcePolicy, ":"+account+":user/"+user+`"`) || !strings.Contains(sec.ResourcePolicy, writer):
		e.check(false, what, "secret policy %s does not name the user and %s", sec.ResourcePolicy, writer)
	case inHub:
		e.check(false, what, "the hub holds a secret %s", name)
	default:
		e.check(true, what+" ("+fresh+")", "")
	}
}
