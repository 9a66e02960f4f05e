// Package revoke builds the revoke function: it denies the exposed key's
// user its sessions (an inline deny of those issued before now, or the
// stack's attached deny of all temporary ones), and records how in the
// ledger.
package revoke

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/settings"
)

var _ lambdafn.Build = New

// New builds the handler with the IAM client and, when the ledger table is
// set, the DynamoDB client. revokeWith (KEYWARDEN_REVOKE_WITH) chooses the
// inline policy or the stack's attached one.
func New(cfg aws.Config, env settings.Lookup, now func() time.Time) (lambda.Handler, error) {
	with, policyArn, err := env.RevokeWith()
	if err != nil {
		return nil, err
	}
	acting, err := member.NewActing(cfg, env)
	if err != nil {
		return nil, err
	}
	h := exposure.RevokeHandler{Method: exposure.Method{With: with, PolicyArn: policyArn}, Now: now}
	if _, set := env(settings.EnvLedgerTable); set {
		l, err := ledger.Open(cfg, env, now)
		if err != nil {
			return nil, err
		}
		h.Ledger = l
	}
	return lambdafn.Wrap(member.Step(acting, member.Respond, iam.NewFromConfig, exposure.Input.Target,
		func(ctx context.Context, api *iam.Client, in exposure.Input) (exposure.Revocation, error) {
			h := h
			h.IAM = api
			if acting.Organization() {
				// Each member has its own deny policy, at a fixed name.
				h.Method.PolicyArn = member.DenyPolicyARN(cfg.Region, in.Finding.Account)
			}
			return h.Handle(ctx, in)
		})), nil
}
