package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
)

// newLedgerTable is the key-age run's memory (internal/ledger): which
// notice went out for which key and stage, what was done to which key, who
// created it, and the run's decision chunks. One table, partition key pk,
// sort key sk, items expiring through the TTL attribute expiresAt.
//
// Encryption is the AWS managed key (aws/dynamodb), not the alert topic's
// customer key: the ledger holds key ids, user names, owner contacts and
// timestamps, never a secret, and who may read it is decided by the
// table's IAM permissions alone. The customer key would add kms grants to
// every ledger user (scan would need kms:Decrypt for nothing else) and
// couple the retained table to a key that a destroy schedules for
// deletion. Unlike an AWS owned key, the managed key's every use is in
// CloudTrail.
//
// It is an audit trail: point-in-time recovery, deletion protection, and
// kept (RETAIN) when the stack is deleted.
//
// A single-region AWS::DynamoDB::Table (Table, not TableV2): keywarden
// deploys per account in one region, cdk-nag's point-in-time-recovery rule
// (DDB3) checks only this resource type, and TableV2 in this CDK version
// prints deprecation warnings of its own internals on every synth.
func newLedgerTable(stack awscdk.Stack) awsdynamodb.Table {
	key := func(name string) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
	}
	return awsdynamodb.NewTable(stack, jsii.String("LedgerTable"), &awsdynamodb.TableProps{
		PartitionKey:        key("pk"),
		SortKey:             key("sk"),
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String("expiresAt"),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(true),
		Encryption:         awsdynamodb.TableEncryption_AWS_MANAGED,
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	})
}

// keyAgeEnvironment hands the scan its policy as settings.ParseKeyAge reads
// it, and the dry-run switch.
func keyAgeEnvironment(s settings.Settings, table awsdynamodb.Table) map[string]*string {
	policy, err := json.Marshal(s.KeyAge)
	if err != nil {
		// A struct of ints, strings and slices of them always encodes.
		panic(fmt.Sprintf("infra: encode keyAge: %v", err))
	}
	return map[string]*string{
		settings.EnvKeyAgePolicy: jsii.String(string(policy)),
		settings.EnvDryRun:       jsii.String(strconv.FormatBool(s.DryRun)),
		settings.EnvLedgerTable:  table.TableName(),
	}
}

// sesIdentityArns are the identities SES may check when the act function
// sends from sender: the address itself and its domain (SES authorizes
// against whichever of the two is the verified identity).
func sesIdentityArns(stack awscdk.Stack, sender string) []*string {
	domain := sender[strings.LastIndex(sender, "@")+1:] // settings.Validate checked the address
	arn := func(identity string) *string {
		return stack.FormatArn(&awscdk.ArnComponents{
			Service:      jsii.String("ses"),
			Resource:     jsii.String("identity"),
			ResourceName: jsii.String(identity),
			ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
		})
	}
	return []*string{arn(domain), arn(sender)}
}

// ledgerActions are what internal/ledger calls, by function.
var (
	// The scan also Queries the day's key-creation flags for the digest.
	scanLedgerActions = []string{"dynamodb:Query", "dynamodb:PutItem", "dynamodb:GetItem"}
	actLedgerActions  = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"}
	// The record writes the creation and any flag with conditional
	// PutItems (ledger.RecordCreation, RecordFlag). A record already there
	// comes back with the failed condition (ReturnValuesOnConditionCheckFailure
	// ALL_OLD), which needs no read permission: no GetItem.
	recordLedgerActions = []string{"dynamodb:PutItem"}
	// Organization mode: the digest writes each account's summary
	// (ledger.PutRunPart) and Queries the run's parts and the day's flags.
	digestLedgerActions = []string{"dynamodb:PutItem", "dynamodb:Query"}
	// The alert quotes the key's creator: one GetItem (ledger.Creation).
	alertLedgerActions = []string{"dynamodb:GetItem"}
)

// addKeyAgeFunctions adds the daily run's task functions: scan decides,
// act notifies and enforces, digest reports.
func addKeyAgeFunctions(stack awscdk.Stack, s settings.Settings, alerting *alerting, table awsdynamodb.Table,
	add func(name string, env map[string]*string, statements ...awsiam.PolicyStatement) *function) {
	users := iamUsersArn(stack)

	// In organization mode scan and act reach each account through its
	// member roles only (inOwnAccount drops their IAM grants here).
	add(lambdafn.Scan, keyAgeEnvironment(s, table), append(inOwnAccount(s, lambdafn.Scan,
		// IAM supports no resource-level permissions for the credential
		// report.
		allow("ReadCredentialReport", []string{"iam:GenerateCredentialReport", "iam:GetCredentialReport"}, jsii.String("*")),
		allow("ReadFlaggedUsers", []string{"iam:ListUserTags", "iam:ListAccessKeys"}, users)),
		allow("UseLedger", scanLedgerActions, table.TableArn()))...)

	actEnv := map[string]*string{
		settings.EnvLedgerTable:   table.TableName(),
		settings.EnvAlertTopicArn: alerting.topic.TopicArn(),
		settings.EnvAccount:       awscdk.Aws_ACCOUNT_ID(),
	}
	act := append(inOwnAccount(s, lambdafn.Act, allow("DeactivateAndReadKeys", []string{"iam:UpdateAccessKey", "iam:ListAccessKeys"}, users)),
		allow("UseLedger", actLedgerActions, table.TableArn()))
	if s.KeyAge.DeleteAfterDays > 0 || s.KeyAge.RotationDays > 0 {
		// With deleteAfterDays and rotationDays 0 (the defaults) keys are
		// never deleted, and the role cannot.
		act = append(act, inOwnAccount(s, lambdafn.Act, allow("DeleteKeys", []string{"iam:DeleteAccessKey"}, users))...)
	}
	var rot *rotationResources
	switch {
	case s.KeyAge.RotationDays > 0 && actsThroughMembers(s, lambdafn.Act):
		// Organization mode rotates in each member through its rotate
		// role, with the member's own key (member.go): the hub holds no
		// key and no secret, and its role may only assume that role.
		maps.Copy(actEnv, memberRotationEnvironment(s))
	case s.KeyAge.RotationDays > 0:
		// With rotation off the role can create no key and touch no
		// secret.
		rot = newRotationResources(stack)
		act = append(act, rot.actStatements(stack, s)...)
		maps.Copy(actEnv, rot.actEnvironment(s))
	}
	if s.NoticeSender != "" {
		actEnv[settings.EnvNoticeSender] = jsii.String(s.NoticeSender)
		// SES authorizes SendEmail against the sending identity. In the
		// SES sandbox every recipient must be a verified identity too,
		// which this permission cannot grant: request production access
		// before owners are e-mailed. (An account or identity default
		// configuration set would need ses:SendEmail on it as well.)
		act = append(act, allow("SendOwnerNotices", []string{"ses:SendEmail"}, sesIdentityArns(stack, s.NoticeSender)...))
	}
	actFn := add(lambdafn.Act, actEnv, append(act, alerting.publishStatements()...)...)
	if rot != nil {
		// Each secret's policy lets only this role (and the security
		// role) change it.
		actFn.fn.AddEnvironment(jsii.String(settings.EnvRotationWriter), actFn.role.RoleArn(), nil)
	}

	digestEnv := map[string]*string{
		settings.EnvAlertTopicArn: alerting.topic.TopicArn(),
		settings.EnvConsoleRegion: awscdk.Aws_REGION(),
	}
	digest := alerting.publishStatements()
	if s.Mode == settings.ModeOrganization {
		// The organization's daily run: the digest records each account's
		// summary under the run and reads them (and the day's flags) back
		// for the one organization digest. It assumes no member role.
		digestEnv[settings.EnvLedgerTable] = table.TableName()
		maps.Copy(digestEnv, memberEnvironment(s))
		digest = append(digest, allow("UseLedger", digestLedgerActions, table.TableArn()))
	}
	add(lambdafn.Digest, digestEnv, digest...)
}

// addRecordFunction adds the key-creation record (workflow 3): it writes
// who created each key, when and from where to the ledger, which later
// notices and exposure alerts quote. With noAccessKeysTag set it also reads
// the user's tags and, where they forbid long-term keys, flags the key and
// alerts; with the setting empty that check is off and the role can do
// neither.
func addRecordFunction(stack awscdk.Stack, s settings.Settings, alerting *alerting, table awsdynamodb.Table,
	add func(name string, env map[string]*string, statements ...awsiam.PolicyStatement) *function) {
	env := map[string]*string{
		settings.EnvLedgerTable: table.TableName(),
		// The function reads the topic at start, check or no check.
		settings.EnvAlertTopicArn: alerting.topic.TopicArn(),
	}
	statements := []awsiam.PolicyStatement{allow("RecordCreation", recordLedgerActions, table.TableArn())}
	if s.NoAccessKeysTag != "" {
		env[settings.EnvNoKeysTag] = jsii.String(s.NoAccessKeysTag)
		// In organization mode, read through the member's read role.
		statements = append(statements, inOwnAccount(s, lambdafn.Record,
			allow("ReadNewKeyOwnerTags", []string{"iam:ListUserTags"}, iamUsersArn(stack)))...)
		statements = append(statements, alerting.publishStatements()...)
	}
	add(lambdafn.Record, env, statements...)
}
