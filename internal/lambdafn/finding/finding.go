// Package finding builds the finding function: it reads the exposure from
// the event and resolves the key's owner through IAM.
package finding

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/settings"
)

var _ lambdafn.Build = New

// New builds the handler with the IAM client and the account the
// deployment acts in; in organization mode, with the organization's
// inventory and the member sessions instead of the hub's IAM.
func New(cfg aws.Config, env settings.Lookup, _ func() time.Time) (lambda.Handler, error) {
	account, err := env.Required(settings.EnvAccount)
	if err != nil {
		return nil, err
	}
	acting, err := member.NewActing(cfg, env)
	if err != nil {
		return nil, err
	}
	h := exposure.FindingHandler{Account: account}
	if acting.Organization() {
		h.Organization = acting
	} else {
		h.IAM = iam.NewFromConfig(cfg)
	}
	return lambdafn.Wrap(h.Handle), nil
}
