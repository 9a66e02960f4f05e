// Package membertest is a stand-in for member.Acting in the tests of the
// steps that act in member accounts: it judges accounts from a list and
// reaches every account in scope at one emulated account.
package membertest

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/member"
)

// Accounts puts the accounts of InScope (id to name) in scope; any other
// is out with Reason (ReasonNotInOrganization when empty). Config answers
// with Member's config, after the scope check as member.Acting does, and
// records each call as "<account> <duty> <execution>".
type Accounts struct {
	InScope  map[string]string
	Reason   inventory.Reason
	Member   *localaws.Server
	ScopeErr error // Scope's error, when set
	RoleErr  error // Config's error for an account in scope, when set

	mu      sync.Mutex
	configs []string
}

var _ member.Accounts = (*Accounts)(nil)

// Scope judges account.
func (a *Accounts) Scope(_ context.Context, account string) (inventory.Decision, error) {
	if a.ScopeErr != nil {
		return inventory.Decision{}, a.ScopeErr
	}
	if name, ok := a.InScope[account]; ok {
		return inventory.Decision{ID: account, Name: name, InScope: true}, nil
	}
	reason := a.Reason
	if reason == "" {
		reason = inventory.ReasonNotInOrganization
	}
	return inventory.Decision{ID: account, Reason: reason}, nil
}

// Config records the call and answers with Member's config.
func (a *Accounts) Config(ctx context.Context, account string, duty member.Duty, execution string) (aws.Config, error) {
	d, err := a.Scope(ctx, account)
	if err != nil {
		return aws.Config{}, err
	}
	if !d.InScope {
		return aws.Config{}, member.OutOfScope(d)
	}
	a.mu.Lock()
	a.configs = append(a.configs, account+" "+duty.String()+" "+execution)
	a.mu.Unlock()
	if a.RoleErr != nil {
		return aws.Config{}, a.RoleErr
	}
	return a.Member.SDKConfig(), nil
}

// Configs are the Config calls that reached the role, in order.
func (a *Accounts) Configs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.configs...)
}

// NewMember is an emulated member account seeded with f, closed when the
// test ends: what Accounts reaches.
func NewMember(t testing.TB, f localaws.Fixture) *localaws.Server {
	t.Helper()
	srv, err := localaws.New(localaws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := srv.Seed(f); err != nil {
		t.Fatal(err)
	}
	return srv
}
