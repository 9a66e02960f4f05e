// Package alert builds the alert function: it composes and publishes the
// incident alert, quoting the ledger's creation record when there is one.
package alert

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/alert"
	"github.com/keywarden/keywarden/internal/keyage"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/settings"
)

var _ lambdafn.Build = New

// New builds the handler with the SNS client and, when the ledger table is
// set, the DynamoDB client.
func New(cfg aws.Config, env settings.Lookup, now func() time.Time) (lambda.Handler, error) {
	topic, region, err := lambdafn.AlertTopic(cfg, env)
	if err != nil {
		return nil, err
	}
	h := alert.Handler{SNS: sns.NewFromConfig(cfg), TopicArn: topic, ConsoleRegion: region}
	if _, set := env(settings.EnvLedgerTable); set {
		// Quote who created the exposed key when the ledger knows.
		l, err := ledger.Open(cfg, env, now)
		if err != nil {
			return nil, err
		}
		store := keyage.LedgerStore{L: l}
		h.Creators = store.Creator
		h.Replacements = store.Replacement
	}
	return lambdafn.Wrap(h.Handle), nil
}
