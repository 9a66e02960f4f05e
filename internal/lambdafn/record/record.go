// Package record builds the record function: it records who created each
// access key, when and from where, from CloudTrail's CreateAccessKey.
package record

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/creation"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/settings"
)

var _ lambdafn.Build = New

// New builds the handler with the IAM, DynamoDB and SNS clients; in
// organization mode with the inventory and member sessions instead of the
// hub's IAM.
func New(cfg aws.Config, env settings.Lookup, now func() time.Time) (lambda.Handler, error) {
	l, err := ledger.Open(cfg, env, now)
	if err != nil {
		return nil, err
	}
	topic, _, err := lambdafn.AlertTopic(cfg, env)
	if err != nil {
		return nil, err
	}
	tag, _ := env(settings.EnvNoKeysTag)
	acting, err := member.NewActing(cfg, env)
	if err != nil {
		return nil, err
	}
	h := creation.Handler{Ledger: l, SNS: sns.NewFromConfig(cfg), Topic: topic, NoKeysTag: tag}
	if acting.Organization() {
		h.Organization = acting
	} else {
		h.IAM = iam.NewFromConfig(cfg)
	}
	return lambdafn.Wrap(h.Handle), nil
}
