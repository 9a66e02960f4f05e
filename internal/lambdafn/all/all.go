// Package all maps every function name to its Build, for the hosts that run
// all the handlers in one process: the offline drill and the integration
// tests. A Lambda's own main imports only its own package, never this one.
package all

import (
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/act"
	"github.com/keywarden/keywarden/internal/lambdafn/activity"
	"github.com/keywarden/keywarden/internal/lambdafn/alert"
	"github.com/keywarden/keywarden/internal/lambdafn/contain"
	"github.com/keywarden/keywarden/internal/lambdafn/digest"
	"github.com/keywarden/keywarden/internal/lambdafn/finding"
	"github.com/keywarden/keywarden/internal/lambdafn/intake"
	"github.com/keywarden/keywarden/internal/lambdafn/record"
	"github.com/keywarden/keywarden/internal/lambdafn/remove"
	"github.com/keywarden/keywarden/internal/lambdafn/revoke"
	"github.com/keywarden/keywarden/internal/lambdafn/scan"
	"github.com/keywarden/keywarden/internal/lambdafn/tamper"
	"github.com/keywarden/keywarden/internal/settings"
)

// Builds holds one Build per name in lambdafn.Names (a test checks it).
var Builds = map[string]lambdafn.Build{
	lambdafn.Intake:   intake.New,
	lambdafn.Finding:  finding.New,
	lambdafn.Contain:  contain.New,
	lambdafn.Revoke:   revoke.New,
	lambdafn.Activity: activity.New,
	lambdafn.Remove:   remove.New,
	lambdafn.Alert:    alert.New,
	lambdafn.Scan:     scan.New,
	lambdafn.Act:      act.New,
	lambdafn.Digest:   digest.New,
	lambdafn.Record:   record.New,
	lambdafn.Tamper:   tamper.New,
}

// New builds the named function's handler with the given clock.
func New(name string, cfg aws.Config, env settings.Lookup, now func() time.Time) (lambda.Handler, error) {
	build, ok := Builds[name]
	if !ok {
		return nil, fmt.Errorf("%w: no function named %q", settings.ErrInvalid, name)
	}
	return build(cfg, env, now)
}
