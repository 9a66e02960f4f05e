package member

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keywarden/keywarden/internal/step"
)

// Sessions are one step's member sessions: a step builds one from its
// invocation (the hub config and the execution name) and asks it for each
// account and duty it acts as, so that code building clients in several
// places still assumes each role once. Build one per invocation, never at
// cold start: a Sessions kept across invocations would carry sessions past
// their step. Safe for concurrent use.
type Sessions struct {
	base      aws.Config
	execution string

	mu      sync.Mutex
	configs map[sessionKey]aws.Config
}

type sessionKey struct {
	account string
	duty    Duty
}

// NewSessions holds the member sessions of one step of execution.
func NewSessions(base aws.Config, execution string) *Sessions {
	return &Sessions{base: base, execution: execution, configs: map[sessionKey]aws.Config{}}
}

// Config is Config(ctx, base, account, duty, execution), assumed on the
// first call for account and duty and returned from memory after that.
// A failure is not kept: the step fails with it, and its retry starts anew.
func (s *Sessions) Config(ctx context.Context, account string, duty Duty) (aws.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := sessionKey{account, duty}
	if cfg, ok := s.configs[key]; ok {
		return cfg, nil
	}
	cfg, err := Config(ctx, s.base, account, duty, s.execution)
	if err != nil {
		return aws.Config{}, err
	}
	s.configs[key] = cfg
	return cfg, nil
}

// Verify asks STS who cfg's credentials are (sts:GetCallerIdentity, which
// needs no permission) and fails with ErrWrongAccount unless they act in
// account: a check, at the cost of one call, that no endpoint setting sent
// the session somewhere else. Config already checks the ARN AssumeRole
// answers; Verify is for a step about to write.
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
