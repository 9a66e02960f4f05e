// Package contain builds the contain function: it deactivates the exposed
// key and reads it back.
package contain

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

// New builds the handler with the IAM client.
func New(cfg aws.Config, _ settings.Lookup, _ func() time.Time) (lambda.Handler, error) {
	return lambdafn.Wrap(exposure.NewContainHandler(iam.NewFromConfig(cfg)).Handle), nil
}
