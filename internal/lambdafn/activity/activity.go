// Package activity builds the activity function: it summarises what the
// exposed key did from CloudTrail event history, one client per region.
package activity

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/keywarden/keywarden/internal/activity"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
)

var _ lambdafn.Build = New

// New builds the handler with a CloudTrail client per searched region.
func New(cfg aws.Config, env settings.Lookup, _ func() time.Time) (lambda.Handler, error) {
	clients := func(region string) activity.LookupAPI {
		return cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) { o.Region = region })
	}
	h, err := activity.NewHandler(env, cfg.Region, clients)
	if err != nil {
		return nil, err
	}
	return lambdafn.Wrap(h.Handle), nil
}
