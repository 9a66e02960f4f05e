// Package rotation replaces an IAM user's access key with a new one kept in
// Secrets Manager: the user's own secret, encrypted with keywarden's KMS key,
// readable only by the user and the security role. The new secret access
// key goes from IAM's CreateAccessKey response into the secret and nowhere
// else: it is never returned, logged or put in an error.
//
// A rotation that fails after the new key exists deletes the new key again,
// so the user is left as before, with the old, working key; the error says
// what happened (ErrRolledBack), or, if even that failed, which key is left
// over (ErrRollbackFailed).
package rotation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keywarden/keywarden/internal/step"
)

// IAMAPI is what a rotation calls on IAM.
type IAMAPI interface {
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	CreateAccessKey(ctx context.Context, in *iam.CreateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error)
	DeleteAccessKey(ctx context.Context, in *iam.DeleteAccessKeyInput, optFns ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
}

// SecretsAPI is what a rotation calls on Secrets Manager.
type SecretsAPI interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutResourcePolicy(ctx context.Context, in *secretsmanager.PutResourcePolicyInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutResourcePolicyOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

var (
	_ IAMAPI     = (*iam.Client)(nil)
	_ SecretsAPI = (*secretsmanager.Client)(nil)
)

// DefaultSecretPrefix starts the name of every secret keywarden writes; the
// act function's role may write only secrets under it.
const DefaultSecretPrefix = "keywarden/access-key/"

// Errors a rotation returns, for errors.Is. Each is also a *step.Error.
var (
	// ErrBothKeysActive: the user already has two active keys, the IAM
	// maximum; which one is in use is not keywarden's guess to make.
	ErrBothKeysActive = errors.New("both access keys are active")
	// ErrKeyNotRotatable: the key is gone, inactive, or its user's name
	// cannot name a secret.
	ErrKeyNotRotatable = errors.New("key cannot be rotated")
	// ErrRolledBack: the new key could not be stored, and was deleted;
	// the old key is untouched.
	ErrRolledBack = errors.New("rotation rolled back")
	// ErrRollbackFailed: the new key could not be stored, nor deleted;
	// it is left over (without its secret anywhere) for an administrator.
	ErrRollbackFailed = errors.New("rotation failed and its new key could not be deleted")
)

// Rotator rotates keys.
type Rotator struct {
	IAM     IAMAPI
	Secrets SecretsAPI
	// KMSKeyID encrypts the secrets (an ARN or alias); required.
	KMSKeyID string
	// Partition and Account build the user's ARN for the resource policy.
	Partition, Account string
	// WriterRoleARN is the role this code runs as: the only one besides
	// SecurityRoleARN allowed to change the secret.
	WriterRoleARN string
	// SecurityRoleARN may read the secret besides its user; "" for none.
	SecurityRoleARN string
	// SecretPrefix starts each secret's name; DefaultSecretPrefix if "".
	SecretPrefix string
	// Now stamps the secret's value; time.Now if nil.
	Now func() time.Time
}

// Result is a rotation that worked.
type Result struct {
	NewKeyID  string `json:"newKeyId"`
	SecretARN string `json:"secretArn"`
	// RetiredKeyID is the user's inactive key deleted to make room (IAM
	// allows two keys per user); "" when there was room.
	RetiredKeyID string `json:"retiredKeyId,omitempty"`
}

// SecretName is the name of user's secret.
func (r Rotator) SecretName(user string) string {
	p := r.SecretPrefix
	if p == "" {
		p = DefaultSecretPrefix
	}
	return p + user
}

// Validate says what a deployment left out.
func (r Rotator) Validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"KMS key", r.KMSKeyID}, {"partition", r.Partition}, {"account", r.Account}, {"writer role", r.WriterRoleARN}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return step.Errorf(step.InvalidSetting, "rotation is not configured: no %s", strings.Join(missing, ", "))
	}
	return nil
}

// Rotate replaces user's active key oldKeyID: it makes room if the user has
// an inactive second key, creates the new key, and stores it in the user's
// secret. The old key stays active; retiring it is the caller's business.
func (r Rotator) Rotate(ctx context.Context, user, oldKeyID string) (Result, error) {
	var res Result
	if err := r.Validate(); err != nil {
		return res, err
	}
	if strings.Contains(user, ",") {
		// IAM allows commas in user names; Secrets Manager names do not.
		return res, notRotatable("user %s: a user name with a comma cannot name a Secrets Manager secret; rotate its key by hand", user)
	}
	keys, err := r.IAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		return res, step.Classify(fmt.Errorf("list the access keys of %s: %w", user, err))
	}
	var old *iamtypes.AccessKeyMetadata
	var others []iamtypes.AccessKeyMetadata
	for _, k := range keys.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) == oldKeyID {
			old = &k
		} else {
			others = append(others, k)
		}
	}
	switch {
	case old == nil:
		return res, notRotatable("key %s of %s no longer exists", oldKeyID, user)
	case old.Status != iamtypes.StatusTypeActive:
		return res, notRotatable("key %s of %s is %s, not active; an inactive key is retired, not rotated", oldKeyID, user, old.Status)
	}
	for _, o := range others {
		id := aws.ToString(o.AccessKeyId)
		if o.Status == iamtypes.StatusTypeActive {
			return res, &step.Error{Name: step.Failed, Err: fmt.Errorf("%w: %s has keys %s and %s, both active; "+
				"deactivate the one no longer in use and the next run rotates the other", ErrBothKeysActive, user, oldKeyID, id)}
		}
		if _, err := r.IAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id)}); err != nil {
			return res, step.Classify(fmt.Errorf("delete the inactive key %s of %s to make room for the new key: %w", id, user, err))
		}
		res.RetiredKeyID = id
	}

	created, err := r.IAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		return res, step.Classify(fmt.Errorf("create a new key for %s: %w", user, err))
	}
	if created.AccessKey == nil || aws.ToString(created.AccessKey.AccessKeyId) == "" {
		return res, step.Errorf(step.Failed, "create a new key for %s: IAM returned no key", user)
	}
	res.NewKeyID = aws.ToString(created.AccessKey.AccessKeyId)
	arn, storeErr := r.store(ctx, user, res.NewKeyID, aws.ToString(created.AccessKey.SecretAccessKey))
	if storeErr == nil {
		res.SecretARN = arn
		return res, nil
	}
	// Undo: the user keeps the old key and nothing else.
	_, delErr := r.IAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(res.NewKeyID)})
	if delErr != nil {
		return res, &step.Error{Name: step.Failed, Err: fmt.Errorf("%w: new key %s of %s could not be stored (%v) and deleting it failed (%v); "+
			"delete key %s by hand — its secret was not kept anywhere; the old key %s is untouched",
			ErrRollbackFailed, res.NewKeyID, user, storeErr, delErr, res.NewKeyID, oldKeyID)}
	}
	return res, &step.Error{Name: step.Failed, Err: fmt.Errorf("%w: new key %s of %s could not be stored and was deleted again; "+
		"the old key %s is untouched and still works: %w", ErrRolledBack, res.NewKeyID, user, oldKeyID, storeErr)}
}

// requestToken is PutSecretValue's idempotency token for a key: 32 to 64
// characters, as the API wants.
func requestToken(keyID string) string {
	sum := sha256.Sum256([]byte(keyID))
	return "keywarden-" + hex.EncodeToString(sum[:16])
}

func notRotatable(format string, args ...any) error {
	return &step.Error{Name: step.Failed, Err: fmt.Errorf("%w: "+format, append([]any{ErrKeyNotRotatable}, args...)...)}
}

// secretValue is what the secret holds: what a consumer needs to use the
// key, in the field names the AWS SDKs' credential settings use.
type secretValue struct {
	AccessKeyID     string    `json:"AccessKeyId"`
	SecretAccessKey string    `json:"SecretAccessKey"`
	UserName        string    `json:"UserName"`
	CreatedAt       time.Time `json:"CreatedAt"`
}

// store puts the key in user's secret, creating the secret (empty, then its
// policy, then the value) when it does not exist yet, so the value is never
// stored without the policy.
func (r Rotator) store(ctx context.Context, user, keyID, secret string) (string, error) {
	name := r.SecretName(user)
	var arn string
	desc, err := r.Secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	var notFound *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		out, err := r.Secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name:        aws.String(name),
			KmsKeyId:    aws.String(r.KMSKeyID),
			Description: aws.String("Access key of IAM user " + user + ", rotated by keywarden. Readable by that user and the security role only."),
		})
		if err != nil {
			return "", step.Classify(fmt.Errorf("create secret %s: %w", name, err))
		}
		arn = aws.ToString(out.ARN)
	case err != nil:
		return "", step.Classify(fmt.Errorf("describe secret %s: %w", name, err))
	default:
		arn = aws.ToString(desc.ARN)
		if got := aws.ToString(desc.KmsKeyId); got != "" && got != r.KMSKeyID {
			return "", step.Errorf(step.Failed, "secret %s is encrypted with KMS key %s, not keywarden's %s; "+
				"someone else made or changed it, so keywarden does not write the key into it", name, got, r.KMSKeyID)
		}
	}
	policy, err := r.ResourcePolicy(user)
	if err != nil {
		return "", err
	}
	if _, err := r.Secrets.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{
		SecretId: aws.String(arn), ResourcePolicy: aws.String(policy), BlockPublicPolicy: aws.Bool(true),
	}); err != nil {
		return "", step.Classify(fmt.Errorf("limit who can read secret %s: %w", name, err))
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	value, err := json.Marshal(secretValue{AccessKeyID: keyID, SecretAccessKey: secret, UserName: user, CreatedAt: now().UTC()})
	if err != nil {
		return "", fmt.Errorf("encode the value of secret %s: %w", name, err)
	}
	if _, err := r.Secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(arn), SecretString: aws.String(string(value)),
		// The new key's id makes a retried put of the same key idempotent.
		ClientRequestToken: aws.String(requestToken(keyID)),
	}); err != nil {
		// The SDK's error text holds no request parameters, so no secret.
		return "", step.Classify(fmt.Errorf("put the new key %s into secret %s: %w", keyID, name, err))
	}
	return arn, nil
}

// ResourcePolicy is user's secret's policy: the user may read it; no one
// but the user and the security role may read its value, and no one but
// keywarden and the security role may change it or its policy.
func (r Rotator) ResourcePolicy(user string) (string, error) {
	userARN := fmt.Sprintf("arn:%s:iam::%s:user/%s", r.Partition, r.Account, user)
	readers := []string{userARN}
	writers := []string{r.WriterRoleARN}
	if r.SecurityRoleARN != "" {
		readers = append(readers, r.SecurityRoleARN)
		writers = append(writers, r.SecurityRoleARN)
	}
	type stmt struct {
		Sid       string         `json:"Sid"`
		Effect    string         `json:"Effect"`
		Principal any            `json:"Principal"`
		Action    []string       `json:"Action"`
		Resource  string         `json:"Resource"`
		Condition map[string]any `json:"Condition,omitempty"`
	}
	doc := struct {
		Version   string `json:"Version"`
		Statement []stmt `json:"Statement"`
	}{Version: "2012-10-17", Statement: []stmt{
		{Sid: "OwnerReads", Effect: "Allow", Principal: map[string]string{"AWS": userARN},
			Action: []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}, Resource: "*"},
		{Sid: "OnlyOwnerAndSecurityRead", Effect: "Deny", Principal: "*",
			Action: []string{"secretsmanager:GetSecretValue"}, Resource: "*",
			Condition: map[string]any{"StringNotEquals": map[string]any{"aws:PrincipalArn": readers}}},
		{Sid: "OnlyKeywardenAndSecurityChange", Effect: "Deny", Principal: "*",
			Action: []string{"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret", "secretsmanager:PutResourcePolicy",
				"secretsmanager:DeleteResourcePolicy", "secretsmanager:DeleteSecret", "secretsmanager:RestoreSecret",
				"secretsmanager:UpdateSecretVersionStage", "secretsmanager:RotateSecret", "secretsmanager:CancelRotateSecret",
				"secretsmanager:TagResource", "secretsmanager:UntagResource", "secretsmanager:ReplicateSecretToRegions",
				"secretsmanager:RemoveRegionsFromReplication", "secretsmanager:StopReplicationToReplica"}, Resource: "*",
			Condition: map[string]any{"StringNotEquals": map[string]any{"aws:PrincipalArn": writers}}},
	}}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("encode the policy of %s's secret: %w", user, err)
	}
	return string(b), nil
}
