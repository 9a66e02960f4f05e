// Package member is how the hub of organization mode acts in a member
// account: it assumes the member role of a step's duty, which the
// keywarden-member StackSet deploys to every member (infra/member.go), and
// hands back an aws.Config whose clients act in that account.
//
// The steps reach an account through Acting (acting.go), which checks the
// account against the organization's inventory before Config assumes a
// role; Step builds a step's handler on it.
//
// One AssumeRole per step: Config calls STS once, at once, and the config
// it returns holds those credentials and nothing that could fetch more.
// A session is never refreshed: it lasts SessionDuration, longer than any
// step (a Lambda invocation), and a config kept beyond its step fails with
// the service's ExpiredToken instead of quietly assuming the role again.
package member

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/step"
)

// The member roles' fixed names, one per duty: the member template creates
// them (infra/member.go uses these constants) and the hub builds each ARN
// from the account it acts in, with no lookup.
const (
	ReadRole    = "keywarden-member-read"
	RespondRole = "keywarden-member-respond"
	RotateRole  = "keywarden-member-rotate"
	// DenyPolicyName is the member's deny policy of revokeWith:
	// attachedPolicy, under DenyPolicyPath; the respond role may attach
	// this policy and no other.
	DenyPolicyName = "keywarden-deny-temporary-sessions"
	DenyPolicyPath = "/keywarden/"
	// RotationKeyAlias names, in each member with rotation on, the KMS key
	// that encrypts the rotated keys' secrets; the hub builds its ARN
	// (RotationKeyARN) as it does the roles'.
	RotationKeyAlias = "alias/keywarden-rotation"
)

// Duty is what a step does in a member account, and so which member role
// it assumes. Only Read, Respond and Rotate exist; Config refuses any other
// value.
type Duty uint8

const (
	// Read: the credential report, users' tags and keys, a key's last use,
	// CloudTrail event history.
	Read Duty = iota + 1
	// Respond: deactivate, delete and read back keys; attach the member's
	// deny policy.
	Respond
	// Rotate: create a key for a user opted into rotation and write its
	// secret (only where rotation is on).
	Rotate
)

// RoleName is the duty's member role, "" for a value that is no duty.
func (d Duty) RoleName() string {
	switch d {
	case Read:
		return ReadRole
	case Respond:
		return RespondRole
	case Rotate:
		return RotateRole
	}
	return ""
}

func (d Duty) String() string {
	if name := d.RoleName(); name != "" {
		return strings.TrimPrefix(name, "keywarden-member-")
	}
	return fmt.Sprintf("Duty(%d)", uint8(d))
}

// SessionDuration is how long a member session lasts: a step is one Lambda
// invocation, at most 15 minutes, and the session starts after the
// invocation does, so 15 minutes (STS's minimum) outlives every step while
// leaving a leaked session the least time. It is within role chaining's one
// hour, which caps the hub function's chained AssumeRole.
const SessionDuration = 15 * time.Minute

// NotDeployed is the step error name of ErrMemberRoleNotDeployed, so the
// state machine can catch the outcome apart from the hub's own AccessDenied.
const NotDeployed = step.MemberRoleNotDeployed

var (
	// ErrMemberRoleNotDeployed: STS refused the member role (it does not
	// exist, or its trust does not allow this hub role). The error names
	// the account, the role and the fix; alert it, never skip the account.
	ErrMemberRoleNotDeployed = errors.New("member role not deployed")
	// ErrInvalidAccount: the account id is not 12 digits.
	ErrInvalidAccount = errors.New("invalid member account id")
	// ErrInvalidDuty: a Duty other than Read, Respond or Rotate.
	ErrInvalidDuty = errors.New("invalid member duty")
	// ErrNoRegion: the base config has no region, so no regional STS.
	ErrNoRegion = errors.New("no region for STS")
	// ErrWrongAccount: STS answered for another account than the one asked.
	ErrWrongAccount = errors.New("member session in the wrong account")
)

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// RoleARN is the member role of duty in account, in the partition of the
// base config's region.
func RoleARN(region, account string, duty Duty) string {
	return "arn:" + partition(region) + ":iam::" + account + ":role/" + duty.RoleName()
}

// DenyPolicyARN is the member's deny policy in account, in the partition of
// region.
func DenyPolicyARN(region, account string) string {
	return "arn:" + partition(region) + ":iam::" + account + ":policy" + DenyPolicyPath + DenyPolicyName
}

// RotationKeyARN is the alias ARN of the member's rotation key in account,
// in region: Secrets Manager takes an alias ARN for KmsKeyId and resolves
// it in the member.
func RotationKeyARN(region, account string) string {
	return "arn:" + partition(region) + ":kms:" + region + ":" + account + ":" + RotationKeyAlias
}

// Partition is region's AWS partition ("aws" for the commercial regions).
func Partition(region string) string { return partition(region) }

// Config returns a config whose clients act in account as duty's member
// role: base (the hub function's own config, whose region chooses the
// regional STS endpoint and the partition) with the credentials of one
// sts:AssumeRole, session name and source identity SessionName(execution),
// so the member's CloudTrail names the execution on every call.
//
// Errors are step errors: InvalidEvent for an account that is not 12
// digits or an empty execution name, NotDeployed (ErrMemberRoleNotDeployed)
// when STS refuses the role, else STS's error classified by step.Classify
// (Throttled and Transient are retried by the state machine).
func Config(ctx context.Context, base aws.Config, account string, duty Duty, execution string) (aws.Config, error) {
	role := duty.RoleName()
	switch {
	case role == "":
		return aws.Config{}, step.Errorf(step.Failed, "act in account %s: %w %d", account, ErrInvalidDuty, uint8(duty))
	case !accountPattern.MatchString(account):
		return aws.Config{}, step.Errorf(step.InvalidEvent, "act in account %q: %w: want 12 digits", account, ErrInvalidAccount)
	case base.Region == "":
		return aws.Config{}, step.Errorf(step.InvalidSetting, "act in account %s as %s: %w: the hub config has no region", account, role, ErrNoRegion)
	}
	name, err := SessionName(execution)
	if err != nil {
		return aws.Config{}, step.Errorf(step.InvalidEvent, "act in account %s as %s: %w", account, role, err)
	}
	arn := RoleARN(base.Region, account, duty)
	// The SDK's default STS endpoint is the base region's own (sts.<region>
	// .amazonaws.com), which keeps working if us-east-1 has trouble and
	// counts against that region's quotas: nothing here picks the global one.
	out, err := sts.NewFromConfig(base).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(arn),
		RoleSessionName: aws.String(name),
		SourceIdentity:  aws.String(name),
		DurationSeconds: aws.Int32(int32(SessionDuration / time.Second)),
	})
	if err != nil {
		return aws.Config{}, assumeError(account, role, arn, err)
	}
	if got := assumedAccount(aws.ToString(out.AssumedRoleUser.Arn)); got != account {
		return aws.Config{}, step.Errorf(step.Failed, "assume %s: %w: STS answered for %q (%s)",
			arn, ErrWrongAccount, got, aws.ToString(out.AssumedRoleUser.Arn))
	}
	creds := aws.Credentials{
		AccessKeyID:     aws.ToString(out.Credentials.AccessKeyId),
		SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken:    aws.ToString(out.Credentials.SessionToken),
		Source:          "keywarden/member " + arn,
		CanExpire:       true,
		Expires:         aws.ToTime(out.Credentials.Expiration),
		AccountID:       account,
	}
	cfg := base.Copy()
	// The same credentials for every call, never re-fetched: see the
	// package comment.
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	return cfg, nil
}

// assumeError names STS's refusal of a member role, which AWS answers
// AccessDenied alike whether the role is missing or its trust does not
// match, and classifies anything else.
func assumeError(account, role, arn string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDenied" {
		return &step.Error{Name: NotDeployed, Err: &notDeployedError{account: account, role: role, arn: arn, err: err}}
	}
	return step.Classify(fmt.Errorf("assume %s: %w", arn, err))
}

// notDeployedError is ErrMemberRoleNotDeployed for one account and role,
// worded for the alert: what is wrong, where, and the fix.
type notDeployedError struct {
	account, role, arn string
	err                error
}

func (e *notDeployedError) Error() string {
	return fmt.Sprintf("member role %s not deployed in account %s (or its trust does not allow this hub): "+
		"deploy the keywarden-member StackSet to the account's OU, or check its stack instance: "+
		"aws cloudformation list-stack-instances --stack-set-name keywarden-member --stack-instance-account %s --call-as DELEGATED_ADMIN "+
		"(--call-as SELF from the management account); if the instance is CURRENT, check that the hub role may sts:AssumeRole %s. STS: %v",
		e.role, e.account, e.account, e.arn, e.err)
}

func (e *notDeployedError) Unwrap() []error { return []error{ErrMemberRoleNotDeployed, e.err} }

// assumedAccount reads the account of arn:<partition>:sts::<account>:
// assumed-role/<role>/<session>.
func assumedAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || parts[2] != "sts" {
		return ""
	}
	return parts[4]
}

// partition is the region's AWS partition: the member role's ARN must be
// in the hub's partition, since a role cannot be assumed across partitions.
func partition(region string) string {
	for _, p := range []struct{ prefix, partition string }{
		{"cn-", "aws-cn"},
		{"us-gov-", "aws-us-gov"},
		{"us-isob-", "aws-iso-b"},
		{"us-isof-", "aws-iso-f"},
		{"us-iso-", "aws-iso"},
		{"eu-isoe-", "aws-iso-e"},
		{"eusc-", "aws-eusc"},
	} {
		if strings.HasPrefix(region, p.prefix) {
			return p.partition
		}
	}
	return "aws"
}
