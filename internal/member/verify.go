package member

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keywarden/keywarden/internal/step"
)

// Verify asks STS who cfg's credentials are (sts:GetCallerIdentity, which
// needs no permission) and fails with ErrWrongAccount unless they act in
// account: a check, at the cost of one call, that no endpoint setting sent
// the session somewhere else. Config already checks the ARN AssumeRole
// answers; the tests check each session with Verify, and a step that must
// be sure before a write can call it.
func Verify(ctx context.Context, cfg aws.Config, account string) error {
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return step.Classify(fmt.Errorf("verify the session in account %s: %w", account, err))
	}
	if got := aws.ToString(out.Account); got != account {
		return step.Errorf(step.Failed, "verify the session in account %s: %w: it acts as %s in account %q",
			account, ErrWrongAccount, aws.ToString(out.Arn), got)
	}
	return nil
}
