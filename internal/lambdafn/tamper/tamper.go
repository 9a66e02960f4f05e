// Package tamper builds the tamper function: it judges CloudTrail records
// of IAM calls that may undo a keywarden response, and undoes them.
package tamper

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/tamper"
)

var _ lambdafn.Build = New

// New builds the handler with the IAM and DynamoDB clients; in
// organization mode with the inventory and member sessions instead of the
// hub's IAM.
func New(cfg aws.Config, env settings.Lookup, now func() time.Time) (lambda.Handler, error) {
	c, err := tamper.ConfigFromEnv(env)
	if err != nil {
		return nil, err
	}
	l, err := ledger.Open(cfg, env, now)
	if err != nil {
		return nil, err
	}
	acting, err := member.NewActing(cfg, env)
	if err != nil {
		return nil, err
	}
	h := tamper.NewHandler(nil, l, c, now)
	if acting.Organization() {
		h.Organization = acting
	} else {
		h.IAM = iam.NewFromConfig(cfg)
	}
	return lambdafn.Wrap(h.Handle), nil
}
