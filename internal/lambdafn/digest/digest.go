// Package digest builds the digest function: it publishes the summary of
// the daily key-age run.
package digest

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/keyage"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
)

var _ lambdafn.Build = New

// New builds the handler with the SNS client.
func New(cfg aws.Config, env settings.Lookup, _ func() time.Time) (lambda.Handler, error) {
	topic, region, err := lambdafn.AlertTopic(cfg, env)
	if err != nil {
		return nil, err
	}
	return lambdafn.Wrap(keyage.DigestHandler{SNS: sns.NewFromConfig(cfg), Topic: topic, ConsoleRegion: region}.Handle), nil
}
