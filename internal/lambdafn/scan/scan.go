// Package scan builds the scan function: it reads key ages from the IAM
// credential report and decides per key from the key-age policy.
package scan

import (
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/keyage"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/settings"
)

var _ lambdafn.Build = New

// New builds the handler with the IAM and DynamoDB clients.
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
	store := keyage.LedgerStore{L: l, DryRun: dryRun}
	return lambdafn.Wrap(keyage.ScanHandler{IAM: iam.NewFromConfig(cfg), Store: store, Policy: policy, DryRun: dryRun, Now: now}.Handle), nil
}
