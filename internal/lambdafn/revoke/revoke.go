// Package revoke builds the revoke function: it denies the exposed key's
// user every session issued before now, and records the cut-off in the
// ledger.
package revoke

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/settings"
)

var _ lambdafn.Build = New

// New builds the handler with the IAM client and, when the ledger table is
// set, the DynamoDB client.
func New(cfg aws.Config, env settings.Lookup, now func() time.Time) (lambda.Handler, error) {
	h := exposure.RevokeHandler{IAM: iam.NewFromConfig(cfg), Now: now}
	if _, set := env(settings.EnvLedgerTable); set {
		l, err := ledger.Open(cfg, env, now)
		if err != nil {
			return nil, err
		}
		h.Ledger = l
	}
	return lambdafn.Wrap(h.Handle), nil
}
