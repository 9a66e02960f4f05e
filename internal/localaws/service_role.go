package localaws

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// serviceRenewBefore is how long before its session's end, on the
// account's clock, a ServiceCredentials provider starts a new one.
const serviceRenewBefore = 5 * time.Minute

// ServiceCredentials returns the credentials a service gets for a role of
// this account that trusts it, as Lambda runs a function with its execution
// role: the role must exist and its trust policy must allow service (e.g.
// lambda.amazonaws.com) sts:AssumeRole. Calls signed with them act as a
// session of the role named sessionName, so what the account sees, and
// what a trust policy of another account evaluates as aws:PrincipalArn, is
// the role (with its path).
//
// The provider starts a new session whenever the account's clock (which
// Advance moves) comes within five minutes of the current session's end,
// so clients built once keep working across a drill's "seven days later".
// It reports credentials as already expired to the SDK's cache, so the
// SDK asks it before each request; the account's clock decides.
func (s *Server) ServiceCredentials(roleName, service, sessionName string) (aws.CredentialsProvider, error) {
	if !sessionNamePattern.MatchString(sessionName) || len(sessionName) < 2 || len(sessionName) > 64 {
		return nil, fmt.Errorf("localaws: session name %q: want 2-64 of [\\w+=,.@-]", sessionName)
	}
	p := &serviceCredentials{s: s, role: roleName, service: service, session: sessionName}
	if _, err := p.Retrieve(context.Background()); err != nil {
		return nil, err
	}
	return p, nil
}

type serviceCredentials struct {
	s                      *Server
	role, service, session string

	mu      sync.Mutex
	current *stsSession
	secret  string
}

func (p *serviceCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.current == nil || !s.now().Add(serviceRenewBefore).Before(p.current.expires) {
		role := s.iam.roles[p.role]
		if role == nil {
			return aws.Credentials{}, fmt.Errorf("localaws: %s cannot assume role %s: no such role in account %s", p.service, p.role, s.account)
		}
		if !role.trust.allows("sts:assumerole", trustContext{service: p.service}) {
			return aws.Credentials{}, fmt.Errorf("localaws: the trust policy of role %s does not allow %s to assume it", p.role, p.service)
		}
		sess, secret, err := s.issueSession(role, p.session, "", role.maxSession)
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("localaws: %s assuming role %s: %w", p.service, p.role, err)
		}
		p.current, p.secret = sess, secret
	}
	return aws.Credentials{
		AccessKeyID: p.current.keyID, SecretAccessKey: p.secret, SessionToken: p.current.token,
		Source: "localaws " + p.service, CanExpire: true, Expires: time.Now(), AccountID: s.account,
	}, nil
}
