// Package contain builds the contain function: it deactivates the exposed
// key, reads it back and records the containment in the ledger.
package contain

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/settings"
)

var _ lambdafn.Build = New

// New builds the handler with the IAM client and, when the ledger table is
// set, the DynamoDB client.
func New(cfg aws.Config, env settings.Lookup, now func() time.Time) (lambda.Handler, error) {
	acting, err := member.NewActing(cfg, env)
	if err != nil {
		return nil, err
	}
	h := exposure.NewContainHandler(nil)
	h.Now = now
	if _, set := env(settings.EnvLedgerTable); set {
		l, err := ledger.Open(cfg, env, now)
		if err != nil {
			return nil, err
		}
		h.Ledger = l
	}
	return lambdafn.Wrap(member.Step(acting, member.Respond, iam.NewFromConfig, exposure.Input.Target,
		func(ctx context.Context, api *iam.Client, in exposure.Input) (exposure.Containment, error) {
			h := h
			h.IAM = api
			return h.Handle(ctx, in)
		})), nil
}
