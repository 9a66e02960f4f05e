// Package act builds the act function: it notifies owners of aging keys once
// per stage, deactivates or deletes keys where due, and rotates opted-in
// users' keys through Secrets Manager.
package act

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/keyage"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/rotation"
	"github.com/keywarden/keywarden/internal/settings"
)

var _ lambdafn.Build = New

// New builds the handler with the IAM, DynamoDB and SNS clients, SES v2 when
// a notice sender is set and Secrets Manager when rotation is on.
func New(cfg aws.Config, env settings.Lookup, now func() time.Time) (lambda.Handler, error) {
	l, err := ledger.Open(cfg, env, now)
	if err != nil {
		return nil, err
	}
	topic, err := env.Required(settings.EnvAlertTopicArn)
	if err != nil {
		return nil, err
	}
	n := keyage.Notifier{SNS: sns.NewFromConfig(cfg), Topic: topic}
	if sender, _ := env(settings.EnvNoticeSender); sender != "" {
		n.SES, n.Sender = sesv2.NewFromConfig(cfg), sender
	}
	account, _ := env(settings.EnvAccount)
	acting, err := member.NewActing(cfg, env)
	if err != nil {
		return nil, err
	}
	h := keyage.ActHandler{Store: keyage.LedgerStore{L: l}, Notifier: n, Account: account, Now: now, ReadBackAttempts: 5, ReadBackDelay: time.Second}
	if acting.Organization() {
		var rot *MemberRotation
		if alias, _ := env(settings.EnvRotationKMSKey); alias != "" {
			// In organization mode the variable names the alias of each
			// member's own key (infra/member.go), not a key of the hub.
			if alias != member.RotationKeyAlias {
				return nil, fmt.Errorf("%w: %s is %q; in organization mode it names the members' key alias %s",
					settings.ErrInvalid, settings.EnvRotationKMSKey, alias, member.RotationKeyAlias)
			}
			rot = &MemberRotation{Region: cfg.Region, Now: now}
			rot.SecurityRoleARN, _ = env(settings.EnvSecurityRoleArn)
		}
		// The chunk's account is the run's ListAccounts item
		// (member.Acting.Listed): no inventory read per instance.
		return lambdafn.Wrap(Organization(acting.Listed(), l, h, rot)), nil
	}
	iamClient := iam.NewFromConfig(cfg)
	h.IAM = iamClient
	if kmsKey, _ := env(settings.EnvRotationKMSKey); kmsKey != "" {
		r := rotation.Rotator{IAM: iamClient, Secrets: secretsmanager.NewFromConfig(cfg), KMSKeyID: kmsKey, Account: account, Now: now}
		r.Partition, _ = env(settings.EnvPartition)
		r.WriterRoleARN, _ = env(settings.EnvRotationWriter)
		r.SecurityRoleARN, _ = env(settings.EnvSecurityRoleArn)
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s is set but %v", settings.ErrInvalid, settings.EnvRotationKMSKey, err)
		}
		h.Rotator = r
	}
	return lambdafn.Wrap(func(ctx context.Context, in keyage.ActInput) (keyage.ChunkResult, error) {
		// The chunk's dry-run flag decides which history the conditional
		// records go to.
		run := h
		run.Store = keyage.LedgerStore{L: l, DryRun: in.DryRun}
		return run.Handle(ctx, in)
	}), nil
}

// Organization is the act step of organization mode: each chunk acts in
// its account through the member respond role, one AssumeRole per
// invocation; notices go out from the hub as in account mode. With rot
// set, a key due for rotation is rotated in its account through the
// member rotate role (rot.In).
func Organization(accounts member.Accounts, l *ledger.Ledger, h keyage.ActHandler, rot *MemberRotation) func(context.Context, keyage.ActInput) (keyage.ChunkResult, error) {
	return member.StepIn(accounts, member.Respond, iam.NewFromConfig, keyage.ActInput.Target,
		func(ctx context.Context, api *iam.Client, in keyage.ActInput) (keyage.ChunkResult, error) {
			run := h
			run.IAM = api
			run.Store = keyage.LedgerStore{L: l, DryRun: in.DryRun}
			if rot != nil {
				run.Rotator = rot.In(accounts, in)
			}
			return run.Handle(ctx, in)
		})
}

// MemberRotation is rotation in organization mode: the new key is created
// in the decision's account and kept there, in the user's secret under the
// member's own key (member.RotationKeyAlias), written by the member's
// rotate role, which the secret's policy names as its writer. Nothing of
// the key reaches the hub.
type MemberRotation struct {
	// Region is the hub's, and so the members': the member template is
	// deployed to the hub's region.
	Region string
	// SecurityRoleARN may read every secret besides its user; "" for none.
	SecurityRoleARN string
	Now             func() time.Time
}

// In is the chunk's rotator. It assumes the rotate role at the first
// rotation the chunk makes, once: a chunk with no rotation due, a dry run,
// or a rotation the ledger says is done, makes no rotate session.
func (m *MemberRotation) In(accounts member.Accounts, in keyage.ActInput) keyage.Rotator {
	account, execution := in.Target()
	return &memberRotator{accounts: accounts, account: account, execution: execution, r: rotation.Rotator{
		KMSKeyID:        member.RotationKeyARN(m.Region, account),
		Partition:       member.Partition(m.Region),
		Account:         account,
		WriterRoleARN:   member.RoleARN(m.Region, account, member.Rotate),
		SecurityRoleARN: m.SecurityRoleARN,
		Now:             m.Now,
	}}
}

// memberRotator rotates in one account, with the clients of one rotate
// session, made at its first use.
type memberRotator struct {
	accounts           member.Accounts
	account, execution string
	r                  rotation.Rotator
	session            bool
	err                error // the session's error, for every rotation of the chunk
}

func (m *memberRotator) Rotate(ctx context.Context, user, oldKeyID string) (rotation.Result, error) {
	if !m.session {
		m.session = true
		cfg, err := m.accounts.Config(ctx, m.account, member.Rotate, m.execution)
		if err != nil {
			m.err = err
		} else {
			m.r.IAM, m.r.Secrets = iam.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
		}
	}
	if m.err != nil {
		return rotation.Result{}, fmt.Errorf("rotate key %s of %s in account %s: %w", oldKeyID, user, m.account, m.err)
	}
	return m.r.Rotate(ctx, user, oldKeyID)
}
