// Package digest builds the digest function: it publishes the summary of
// the daily key-age run. In organization mode it also records each
// account's part of the run in the ledger, and publishes one digest for
// the organization from those records.
package digest

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/keyage"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

var _ lambdafn.Build = New

// New builds the handler with the SNS client, and in organization mode
// the DynamoDB client of the ledger.
func New(cfg aws.Config, env settings.Lookup, now func() time.Time) (lambda.Handler, error) {
	topic, region, err := lambdafn.AlertTopic(cfg, env)
	if err != nil {
		return nil, err
	}
	h := keyage.DigestHandler{SNS: sns.NewFromConfig(cfg), Topic: topic, ConsoleRegion: region, Now: now}
	_, org, err := env.OrganizationScope()
	if err != nil {
		return nil, err
	}
	if !org {
		return lambdafn.Wrap(h.Handle), nil
	}
	l, err := ledger.Open(cfg, env, now)
	if err != nil {
		return nil, err
	}
	return lambdafn.Wrap(Organization(h, keyage.LedgerStore{L: l})), nil
}

// Organization is the digest step of organization mode, by the input's
// step: record one account's part of the run ("account"), or publish the
// organization's digest ("organization").
func Organization(h keyage.DigestHandler, store keyage.LedgerStore) func(context.Context, json.RawMessage) (any, error) {
	record := keyage.RecordAccountHandler{Parts: store}
	publish := keyage.OrganizationDigestHandler{Digest: h, Parts: store, Flags: store}
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var probe struct {
			Step string `json:"step"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, step.Errorf(step.InvalidEvent, "digest input: %v", err)
		}
		switch probe.Step {
		case keyage.StepAccount:
			var in keyage.AccountInput
			if err := json.Unmarshal(raw, &in); err != nil {
				return nil, step.Errorf(step.InvalidEvent, "digest input of an account: %v", err)
			}
			return record.Handle(ctx, in)
		case keyage.StepOrganization:
			var in keyage.OrganizationDigestInput
			if err := json.Unmarshal(raw, &in); err != nil {
				return nil, step.Errorf(step.InvalidEvent, "digest input of the organization: %v", err)
			}
			return publish.Handle(ctx, in)
		}
		return nil, step.Errorf(step.InvalidEvent, "organization mode's digest takes step %q or %q; got %q", keyage.StepAccount, keyage.StepOrganization, probe.Step)
	}
}
