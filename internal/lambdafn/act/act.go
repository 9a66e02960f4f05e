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
		if kmsKey, _ := env(settings.EnvRotationKMSKey); kmsKey != "" {
			return nil, fmt.Errorf("%w: %s is set, but rotation in organization mode is not built yet (synth refuses keyAge.rotationDays "+
				"above 0 with mode organization)", settings.ErrInvalid, settings.EnvRotationKMSKey)
		}
		// The chunk's account is the run's ListAccounts item
		// (member.Acting.Listed): no inventory read per instance.
		return lambdafn.Wrap(Organization(acting.Listed(), l, h)), nil
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
// invocation; notices go out from the hub as in account mode.
func Organization(accounts member.Accounts, l *ledger.Ledger, h keyage.ActHandler) func(context.Context, keyage.ActInput) (keyage.ChunkResult, error) {
	return member.StepIn(accounts, member.Respond, iam.NewFromConfig, keyage.ActInput.Target,
		func(ctx context.Context, api *iam.Client, in keyage.ActInput) (keyage.ChunkResult, error) {
			run := h
			run.IAM = api
			run.Store = keyage.LedgerStore{L: l, DryRun: in.DryRun}
			return run.Handle(ctx, in)
		})
}
