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
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/settings"
)

var _ lambdafn.Build = New

// New builds the handler with a CloudTrail client per searched region.
func New(cfg aws.Config, env settings.Lookup, _ func() time.Time) (lambda.Handler, error) {
	h, err := activity.NewHandler(env, cfg.Region, regional(cfg))
	if err != nil {
		return nil, err
	}
	acting, err := member.NewActing(cfg, env)
	if err != nil {
		return nil, err
	}
	return lambdafn.Wrap(member.Step(acting, member.Read, regional, activity.Input.Target, h.HandleWith)), nil
}

// regional returns the CloudTrail client of each searched region, acting
// with cfg's credentials (the function's own, or a member session's).
func regional(cfg aws.Config, _ ...func(*cloudtrail.Options)) func(region string) activity.LookupAPI {
	return func(region string) activity.LookupAPI {
		return cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) { o.Region = region })
	}
}
