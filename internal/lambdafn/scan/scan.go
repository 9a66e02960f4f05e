// Package scan builds the scan function: it reads key ages from the IAM
// credential report and decides per key from the key-age policy. In
// organization mode it also lists the accounts the daily run fans out
// over, and scans each through the member read role.
package scan

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/keyage"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/settings"
)

var _ lambdafn.Build = New

// New builds the handler with the IAM and DynamoDB clients; in
// organization mode with the inventory and member sessions instead of the
// hub's IAM.
func New(cfg aws.Config, env settings.Lookup, now func() time.Time) (lambda.Handler, error) {
	l, err := ledger.Open(cfg, env, now)
	if err != nil {
		return nil, err
	}
	raw, err := env.Required(settings.EnvKeyAgePolicy)
	if err != nil {
		return nil, err
	}
	policy, err := settings.ParseKeyAge(raw)
	if err == nil {
		err = policy.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", settings.ErrInvalid, settings.EnvKeyAgePolicy, err)
	}
	// Without the setting, the run is a dry run: enforcement is opt-in.
	dryRun, err := env.Bool(settings.EnvDryRun, true)
	if err != nil {
		return nil, err
	}
	acting, err := member.NewActing(cfg, env)
	if err != nil {
		return nil, err
	}
	store := keyage.LedgerStore{L: l, DryRun: dryRun}
	h := keyage.ScanHandler{Store: store, Policy: policy, DryRun: dryRun, Now: now}
	if !acting.Organization() {
		h.IAM = iam.NewFromConfig(cfg)
		return lambdafn.Wrap(h.Handle), nil
	}
	// The accounts step reads the inventory; each account's scan takes
	// its account from that read (member.Acting.Listed).
	return lambdafn.Wrap(Organization(acting.Listed(), acting.Inventory, store, h)), nil
}

// Organization is the scan step of organization mode: the accounts of
// the run (step "accounts"), or one account's scan through the member read
// role of accounts, one AssumeRole per invocation.
func Organization(accounts member.Accounts, inv keyage.AccountLister, parts keyage.RunPartStore, h keyage.ScanHandler) func(context.Context, keyage.ScanInput) (any, error) {
	h.Organization = true
	list := keyage.ListAccountsHandler{Inventory: inv, Parts: parts, DryRun: h.DryRun, Now: h.Now}
	scanAccount := member.StepIn(accounts, member.Read, iam.NewFromConfig, keyage.ScanInput.Target,
		func(ctx context.Context, api *iam.Client, in keyage.ScanInput) (keyage.ScanResult, error) {
			h := h
			h.IAM = api
			return h.Handle(ctx, in)
		})
	return func(ctx context.Context, in keyage.ScanInput) (any, error) {
		switch {
		case in.Step == keyage.StepAccounts:
			return list.Handle(ctx, in)
		case in.Account == "":
			// No account, no AssumeRole: the scan names what is missing.
			return h.Handle(ctx, in)
		}
		return scanAccount(ctx, in)
	}
}
