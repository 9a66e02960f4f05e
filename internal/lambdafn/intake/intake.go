// Package intake builds the intake function: EventBridge's target, which
// starts one execution per exposed key, per created key and per daily run.
package intake

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/keywarden/keywarden/internal/intake"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/tamper"
)

var _ lambdafn.Build = New

// New builds the handler with the Step Functions and IAM clients and the
// account the deployment acts in; in organization mode, with the
// organization's inventory and member sessions instead of the hub's IAM.
func New(cfg aws.Config, env settings.Lookup, _ func() time.Time) (lambda.Handler, error) {
	arn, err := env.Required(settings.EnvStateMachineArn)
	if err != nil {
		return nil, err
	}
	account, err := env.Required(settings.EnvAccount)
	if err != nil {
		return nil, err
	}
	acting, err := member.NewActing(cfg, env)
	if err != nil {
		return nil, err
	}
	h := intake.Handler{SFN: sfn.NewFromConfig(cfg), StateMachineArn: arn, Account: account, OwnRoles: tamper.OwnRolesFromEnv(env)}
	if acting.Organization() {
		h.Organization = acting
	} else {
		h.IAM = iam.NewFromConfig(cfg)
	}
	return lambdafn.Wrap(h.Handle), nil
}
