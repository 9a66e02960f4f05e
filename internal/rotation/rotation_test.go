package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/step"
)

const (
	user     = "svc-reports"
	oldKey   = "AKIAOLDKEY0000000001"
	spareKey = "AKIASPAREKEY00000002"
	kmsKey   = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
	writer   = "arn:aws:iam::123456789012:role/keywarden-act"
	security = "arn:aws:iam::123456789012:role/security-responder"
)

var t0 = time.Date(2026, 6, 15, 8, 0, 0, 0, time.UTC)

// setup is a localaws account where user has oldKey (active) and the
// given extra keys, and a Rotator on it.
func setup(t *testing.T, extra ...localaws.FixtureKey) (*localaws.Server, Rotator) {
	t.Helper()
	srv, err := localaws.New(localaws.Options{AccountID: "123456789012", Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f := localaws.Fixture{
		Users: []localaws.FixtureUser{{Name: user, Tags: map[string]string{"keywarden:rotate": "true"}}},
		Keys:  append([]localaws.FixtureKey{{User: user, ID: oldKey, Created: "-61d"}}, extra...),
	}
	if err := srv.Seed(f); err != nil {
		t.Fatal(err)
	}
	cfg := srv.SDKConfig()
	return srv, Rotator{IAM: iam.NewFromConfig(cfg), Secrets: secretsmanager.NewFromConfig(cfg), KMSKeyID: kmsKey,
		Partition: "aws", Account: "123456789012", WriterRoleARN: writer, SecurityRoleARN: security, Now: func() time.Time { return t0 }}
}

// keys is user's keys that exist, as "id:Status".
func keys(srv *localaws.Server) []string {
	var out []string
	for _, k := range srv.AccessKeys(user) {
		if !k.Deleted {
			out = append(out, k.ID+":"+k.Status)
		}
	}
	return out
}

func TestRotateStoresTheNewKeyInTheUsersSecret(t *testing.T) {
	srv, r := setup(t)
	res, err := r.Rotate(context.Background(), user, oldKey)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if got, want := keys(srv), []string{oldKey + ":Active", res.NewKeyID + ":Active"}; !slices.Equal(got, want) {
		t.Errorf("keys after rotation %v, want %v (the old key stays active)", got, want)
	}
	sec, ok := srv.Secret(DefaultSecretPrefix + user)
	if !ok {
		t.Fatal("no secret keywarden/access-key/" + user)
	}
	if sec.ARN != res.SecretARN || sec.KmsKeyID != kmsKey {
		t.Errorf("secret %s encrypted with %q; result names %s, want key %s", sec.ARN, sec.KmsKeyID, res.SecretARN, kmsKey)
	}
	raw, _ := srv.SecretValueFor(DefaultSecretPrefix + user)
	var v secretValue
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("secret value is not JSON: %v", err)
	}
	want, _ := srv.SecretFor(res.NewKeyID)
	if v.AccessKeyID != res.NewKeyID || v.SecretAccessKey != want || want == "" || v.UserName != user || !v.CreatedAt.Equal(t0) {
		t.Errorf("secret holds key %s for %s at %v (secret matches IAM's: %t)", v.AccessKeyID, v.UserName, v.CreatedAt, v.SecretAccessKey == want)
	}

	// The policy: the user reads; only the user and the security role
	// may read; only keywarden and the security role may change it.
	var doc struct {
		Statement []struct {
			Sid, Effect string
			Principal   any
			Action      []string
			Condition   map[string]map[string][]string
		}
	}
	if err := json.Unmarshal([]byte(sec.ResourcePolicy), &doc); err != nil {
		t.Fatalf("resource policy %q: %v", sec.ResourcePolicy, err)
	}
	userARN := "arn:aws:iam::123456789012:user/" + user
	bySid := map[string]int{}
	for i, s := range doc.Statement {
		bySid[s.Sid] = i
	}
	allow := doc.Statement[bySid["OwnerReads"]]
	if p, _ := allow.Principal.(map[string]any); allow.Effect != "Allow" || p["AWS"] != userARN || !slices.Contains(allow.Action, "secretsmanager:GetSecretValue") {
		t.Errorf("owner statement %+v", allow)
	}
	read := doc.Statement[bySid["OnlyOwnerAndSecurityRead"]]
	if read.Effect != "Deny" || read.Principal != "*" || !slices.Equal(read.Condition["StringNotEquals"]["aws:PrincipalArn"], []string{userARN, security}) {
		t.Errorf("read-deny statement %+v", read)
	}
	change := doc.Statement[bySid["OnlyKeywardenAndSecurityChange"]]
	if change.Effect != "Deny" || !slices.Equal(change.Condition["StringNotEquals"]["aws:PrincipalArn"], []string{writer, security}) ||
		!slices.Contains(change.Action, "secretsmanager:PutResourcePolicy") || !slices.Contains(change.Action, "secretsmanager:DeleteSecret") {
		t.Errorf("change-deny statement %+v", change)
	}
}

func TestRotateAgainPutsANewVersion(t *testing.T) {
	srv, r := setup(t)
	first, err := r.Rotate(context.Background(), user, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	// The next rotation, of the new key, once the old one is gone.
	if _, err := r.IAM.DeleteAccessKey(context.Background(), &iam.DeleteAccessKeyInput{UserName: ptr(user), AccessKeyId: ptr(oldKey)}); err != nil {
		t.Fatal(err)
	}
	second, err := r.Rotate(context.Background(), user, first.NewKeyID)
	if err != nil {
		t.Fatalf("second rotation: %v", err)
	}
	if second.SecretARN != first.SecretARN {
		t.Errorf("second rotation wrote %s, want the same secret %s", second.SecretARN, first.SecretARN)
	}
	raw, _ := srv.SecretValueFor(DefaultSecretPrefix + user)
	if !strings.Contains(raw, second.NewKeyID) {
		t.Errorf("current secret version does not hold the newest key %s", second.NewKeyID)
	}
	sec, _ := srv.Secret(DefaultSecretPrefix + user)
	if len(sec.VersionStages) != 2 {
		t.Errorf("versions %v, want AWSCURRENT and AWSPREVIOUS", sec.VersionStages)
	}
}

func TestRotateRetiresAnInactiveSecondKeyFirst(t *testing.T) {
	srv, r := setup(t, localaws.FixtureKey{User: user, ID: spareKey, Status: "Inactive", Created: "-200d"})
	res, err := r.Rotate(context.Background(), user, oldKey)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if res.RetiredKeyID != spareKey {
		t.Errorf("RetiredKeyID %q, want %s", res.RetiredKeyID, spareKey)
	}
	if got, want := keys(srv), []string{oldKey + ":Active", res.NewKeyID + ":Active"}; !slices.Equal(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
}

func TestRotateRefusesWhenBothKeysAreActive(t *testing.T) {
	srv, r := setup(t, localaws.FixtureKey{User: user, ID: spareKey, Created: "-5d"})
	_, err := r.Rotate(context.Background(), user, oldKey)
	if !errors.Is(err, ErrBothKeysActive) || step.Name(err) != step.Failed {
		t.Fatalf("err = %v, want ErrBothKeysActive", err)
	}
	if !strings.Contains(err.Error(), spareKey) || !strings.Contains(err.Error(), oldKey) {
		t.Errorf("error %q does not name both keys", err)
	}
	if got, want := keys(srv), []string{oldKey + ":Active", spareKey + ":Active"}; !slices.Equal(got, want) {
		t.Errorf("keys %v, want %v untouched", got, want)
	}
	if _, ok := srv.Secret(DefaultSecretPrefix + user); ok {
		t.Error("a secret was created")
	}
}

func TestRotateRefusesKeysItCannotRotate(t *testing.T) {
	for _, tc := range []struct{ name, user, key string }{
		{"gone", user, "AKIANOSUCHKEY0000000"},
		{"inactive", user, spareKey},
		{"comma in the user name", "svc,reports", oldKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r := setup(t, localaws.FixtureKey{User: user, ID: spareKey, Status: "Inactive"})
			_, err := r.Rotate(context.Background(), tc.user, tc.key)
			if !errors.Is(err, ErrKeyNotRotatable) {
				t.Errorf("err = %v, want ErrKeyNotRotatable", err)
			}
		})
	}
}

// A rotation that fails after creating the new key leaves the user as it
// was: the old key active, the new one deleted, and an error that says so.
func TestHalfFailedRotationRollsBack(t *testing.T) {
	for _, op := range []string{"DescribeSecret", "CreateSecret", "PutResourcePolicy", "PutSecretValue"} {
		t.Run(op, func(t *testing.T) {
			srv, r := setup(t)
			if err := srv.SetFault("secretsmanager:"+op, localaws.Fault{ErrorCode: "AccessDeniedException"}); err != nil {
				t.Fatal(err)
			}
			res, err := r.Rotate(context.Background(), user, oldKey)
			if !errors.Is(err, ErrRolledBack) {
				t.Fatalf("err = %v, want ErrRolledBack", err)
			}
			if got, want := keys(srv), []string{oldKey + ":Active"}; !slices.Equal(got, want) {
				t.Errorf("keys after the rollback %v, want only the old, active key %v", got, want)
			}
			if res.NewKeyID == "" || !strings.Contains(err.Error(), res.NewKeyID) || !strings.Contains(err.Error(), "still works") {
				t.Errorf("error %q does not name the deleted new key %q and the working old key", err, res.NewKeyID)
			}
			secret, _ := srv.SecretFor(res.NewKeyID)
			if secret == "" || strings.Contains(err.Error(), secret) {
				t.Error("the error holds the new key's secret")
			}
			if v, ok := srv.SecretValueFor(DefaultSecretPrefix + user); ok {
				t.Errorf("the secret holds a value after a failed rotation: %d bytes", len(v))
			}
		})
	}
}

func TestFailedRollbackNamesTheLeftoverKey(t *testing.T) {
	srv, r := setup(t)
	for _, f := range []string{"secretsmanager:PutSecretValue", "iam:DeleteAccessKey"} {
		if err := srv.SetFault(f, localaws.Fault{ErrorCode: "AccessDenied"}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := r.Rotate(context.Background(), user, oldKey)
	if !errors.Is(err, ErrRollbackFailed) || !strings.Contains(err.Error(), "delete key "+res.NewKeyID+" by hand") {
		t.Fatalf("err = %v, want ErrRollbackFailed naming %s", err, res.NewKeyID)
	}
	if got := keys(srv); !slices.Contains(got, oldKey+":Active") {
		t.Errorf("old key not active after a failed rollback: %v", got)
	}
}

func TestSecretMadeBySomeoneElseIsNotWritten(t *testing.T) {
	srv, r := setup(t)
	other := r
	other.KMSKeyID = "alias/someone-elses"
	if _, err := other.Secrets.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: ptr(DefaultSecretPrefix + user), KmsKeyId: ptr(other.KMSKeyID)}); err != nil {
		t.Fatal(err)
	}
	_, err := r.Rotate(context.Background(), user, oldKey)
	if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "not keywarden's") {
		t.Fatalf("err = %v, want a rollback because the secret has another KMS key", err)
	}
	if got, want := keys(srv), []string{oldKey + ":Active"}; !slices.Equal(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
}

func TestValidateNamesWhatIsMissing(t *testing.T) {
	err := Rotator{Partition: "aws"}.Validate()
	if step.Name(err) != step.InvalidSetting {
		t.Fatalf("err = %v, want InvalidSetting", err)
	}
	for _, want := range []string{"KMS key", "account", "writer role"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not name %s", err, want)
		}
	}
}

func ptr(s string) *string { return &s }
