package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"

	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/rotation"
	"github.com/keywarden/keywarden/internal/settings"
)

// rotationResources are what key rotation (workflow 4) needs besides the
// act function: the KMS key that encrypts every rotated key's secret.
// They exist only with keyAge.rotationDays above 0.
type rotationResources struct {
	key awskms.Key
}

// secretsArn is every secret rotation may write: keywarden/access-key/<user>
// (Secrets Manager appends a random suffix to each secret's ARN).
func secretsArn(stack awscdk.Stack) *string {
	return stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("secretsmanager"),
		Resource:     jsii.String("secret"),
		ResourceName: jsii.String(rotation.DefaultSecretPrefix + "*"),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}

// viaSecretsManager is the kms:ViaService value of calls Secrets Manager
// makes to KMS on a caller's behalf, in the stack's region.
func viaSecretsManager() string {
	return "secretsmanager." + *awscdk.Aws_REGION() + ".amazonaws.com"
}

// newRotationResources makes the secrets' KMS key. Its policy keeps the
// CDK default (the account's IAM policies decide) and adds one statement:
// any principal of this account may decrypt with it through Secrets Manager,
// for the secrets under keywarden/access-key/ only. Who may read a secret
// is then decided by the secret's own resource policy (internal/rotation:
// its user and the security role), so a rotated user needs no KMS
// permission of its own.
func newRotationResources(stack awscdk.Stack) *rotationResources {
	key := awskms.NewKey(stack, jsii.String("RotationSecretsKey"), &awskms.KeyProps{
		Description:       jsii.String("keywarden: encrypts the Secrets Manager secrets holding rotated access keys"),
		EnableKeyRotation: jsii.Bool(true),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("DecryptRotatedKeysThroughSecretsManager"),
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("kms:Decrypt"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{
				"kms:ViaService":    viaSecretsManager(),
				"kms:CallerAccount": awscdk.Aws_ACCOUNT_ID(),
			},
			"StringLike": map[string]any{"kms:EncryptionContext:SecretARN": secretsArn(stack)},
		},
	}), jsii.Bool(false))
	return &rotationResources{key: key}
}

// actStatements let the act function rotate: create a key for a user
// carrying the rotation tag "true" (IAM checks the tag, so the role cannot
// create keys for anyone else) and write the users' secrets with the
// secrets' key. Deleting keys (a failed rotation's new key, the inactive
// key that makes room, the replaced key when it retires) is the act
// function's DeleteKeys statement.
func (r *rotationResources) actStatements(stack awscdk.Stack, s settings.Settings) []awsiam.PolicyStatement {
	users := iamUsersArn(stack)
	return []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("CreateKeysForRotationUsers"),
			Effect:    awsiam.Effect_ALLOW,
			Actions:   jsii.Strings("iam:CreateAccessKey"),
			Resources: &[]*string{users},
			Conditions: &map[string]any{
				"StringEqualsIgnoreCase": map[string]any{"aws:ResourceTag/" + s.KeyAge.RotationTag: "true"},
			},
		}),
		allow("WriteRotatedKeySecrets", []string{"secretsmanager:DescribeSecret", "secretsmanager:CreateSecret",
			"secretsmanager:PutResourcePolicy", "secretsmanager:PutSecretValue"}, secretsArn(stack)),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("EncryptRotatedKeySecrets"),
			Effect:    awsiam.Effect_ALLOW,
			Actions:   jsii.Strings("kms:GenerateDataKey", "kms:Decrypt"),
			Resources: &[]*string{r.key.KeyArn()},
			Conditions: &map[string]any{
				"StringEquals": map[string]any{"kms:ViaService": viaSecretsManager()},
			},
		}),
	}
}

// memberRotationEnvironment tells the act function of organization mode
// how to rotate: with each member's key, by its alias. The function builds
// the alias ARN, the user's and the writer's (the member's rotate role) in
// the decision's account and the partition of its region.
func memberRotationEnvironment(s settings.Settings) map[string]*string {
	env := map[string]*string{settings.EnvRotationKMSKey: jsii.String(member.RotationKeyAlias)}
	if s.SecurityRoleArn != "" {
		env[settings.EnvSecurityRoleArn] = jsii.String(s.SecurityRoleArn)
	}
	return env
}

// actEnvironment tells the act function how to rotate; its role's ARN is
// added once the role exists (see addKeyAgeFunctions).
func (r *rotationResources) actEnvironment(s settings.Settings) map[string]*string {
	env := map[string]*string{
		settings.EnvRotationKMSKey: r.key.KeyArn(),
		settings.EnvPartition:      awscdk.Aws_PARTITION(),
	}
	if s.SecurityRoleArn != "" {
		env[settings.EnvSecurityRoleArn] = jsii.String(s.SecurityRoleArn)
	}
	return env
}
