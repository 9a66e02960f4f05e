// Package remove builds the remove function: it deletes the exposed key, or
// keeps it inactive, as exposedKeyAction says.
package remove

import (
	"context"
	"fmt"
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

// New builds the handler with the IAM client.
func New(cfg aws.Config, env settings.Lookup, now func() time.Time) (lambda.Handler, error) {
	action, ok := env(settings.EnvExposedKeyAction)
	if !ok || action == "" {
		action = settings.ActionDelete
	}
	if action != settings.ActionDelete && action != settings.ActionDeactivate {
		return nil, fmt.Errorf("%w: %s is %q; use %q or %q", settings.ErrInvalid, settings.EnvExposedKeyAction, action, settings.ActionDelete, settings.ActionDeactivate)
	}
	acting, err := member.NewActing(cfg, env)
	if err != nil {
		return nil, err
	}
	return lambdafn.Wrap(member.Step(acting, member.Respond, iam.NewFromConfig, exposure.Input.Target,
		func(ctx context.Context, api *iam.Client, in exposure.Input) (exposure.Removal, error) {
			return exposure.RemoveHandler{IAM: api, Action: action, Now: now}.Handle(ctx, in)
		})), nil
}
