package ledger

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/keywarden/keywarden/internal/settings"
)

// Open opens the ledger table the function's environment names
// (settings.EnvLedgerTable), for the functions that keep or read the ledger;
// keyed by account in organization mode (settings.EnvMode).
func Open(cfg aws.Config, env settings.Lookup, now func() time.Time) (*Ledger, error) {
	table, err := env.Required(settings.EnvLedgerTable)
	if err != nil {
		return nil, err
	}
	// Conditional writes are cheap to retry; give throttling more room
	// than the SDK default of three attempts.
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.RetryMaxAttempts = 8 })
	mode, _ := env(settings.EnvMode)
	return New(ddb, table, Options{Now: now, ByAccount: mode == settings.ModeOrganization})
}
