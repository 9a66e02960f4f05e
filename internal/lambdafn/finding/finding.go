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
	"github.com/keywarden/keywarden/internal/settings"
)

var _ lambdafn.Build = New

// New builds the handler with the IAM client and the account the
// deployment acts in.
func New(cfg aws.Config, env settings.Lookup, _ func() time.Time) (lambda.Handler, error) {
	account, err := env.Required(settings.EnvAccount)
	if err != nil {
		return nil, err
	}
	return lambdafn.Wrap(exposure.FindingHandler{IAM: iam.NewFromConfig(cfg), Account: account}.Handle), nil
}
