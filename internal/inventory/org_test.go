package inventory

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/settings"
)

// The test organization, 45 members besides the management account:
//
//	root: management, the hub (delegated administrator), root-00..03
//	  workloads
//	    prod: prod-00..19
//	    dev: dev-00..14
//	      sandbox: sandbox-00..04
//
// prod-00..04 carry the opt-out tag as "true", " TRUE ", "false", none and
// "yes"; dev-00 is SUSPENDED; sandbox-00 is the one excludedAccounts lists.
const (
	hubAccount  = "200000000000"
	management  = localaws.DefaultAccountID
	optOutTag   = settings.DefaultOptOutTag
	outsideAcct = "300000000000"
)

type testOrg struct {
	org                           *localaws.Organization
	hub                           *localaws.Server
	workloads, prod, dev, sandbox string
}

func prodID(i int) string    { return fmt.Sprintf("1100000000%02d", i) }
func devID(i int) string     { return fmt.Sprintf("1200000000%02d", i) }
func sandboxID(i int) string { return fmt.Sprintf("1300000000%02d", i) }
func rootID(i int) string    { return fmt.Sprintf("1000000000%02d", i) }

func newTestOrg(t testing.TB) testOrg {
	t.Helper()
	o, err := localaws.NewOrganization(localaws.OrganizationOptions{ManagementName: "management"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close() })
	to := testOrg{org: o}
	ou := func(parent, name string) string {
		id, err := o.AddOU(parent, name)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	add := func(a localaws.MemberAccount) *localaws.Server {
		s, err := o.AddAccount(a)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	to.workloads = ou(o.RootID(), "workloads")
	to.prod = ou(to.workloads, "prod")
	to.dev = ou(to.workloads, "dev")
	to.sandbox = ou(to.dev, "sandbox")
	to.hub = add(localaws.MemberAccount{ID: hubAccount, Name: "security"})
	if err := o.RegisterDelegatedAdministrator(hubAccount); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		add(localaws.MemberAccount{ID: rootID(i), Name: fmt.Sprintf("root-%02d", i)})
	}
	optOut := []map[string]string{{optOutTag: "true"}, {optOutTag: " TRUE "}, {optOutTag: "false"}, {"owner": "team-3"}, {optOutTag: "yes"}}
	for i := range 20 {
		a := localaws.MemberAccount{ID: prodID(i), Name: fmt.Sprintf("prod-%02d", i), Parent: to.prod}
		if i < len(optOut) {
			a.Tags = optOut[i]
		}
		add(a)
	}
	for i := range 15 {
		a := localaws.MemberAccount{ID: devID(i), Name: fmt.Sprintf("dev-%02d", i), Parent: to.dev}
		if i == 0 {
			a.Status = "SUSPENDED"
		}
		add(a)
	}
	for i := range 5 {
		add(localaws.MemberAccount{ID: sandboxID(i), Name: fmt.Sprintf("sandbox-%02d", i), Parent: to.sandbox})
	}
	if _, err := o.AddOutsideAccount(outsideAcct); err != nil {
		t.Fatal(err)
	}
	return to
}

func (to testOrg) settings(units ...string) settings.Organization {
	return settings.Organization{
		Mode: settings.ModeOrganization, OrganizationID: to.org.ID(), OrganizationalUnits: units,
		ExcludedAccounts: []string{sandboxID(0)}, OptOutTag: optOutTag,
	}
}

// client is an Organizations client signing as account's root user.
func (to testOrg) client(account string) *organizations.Client {
	return organizations.NewFromConfig(to.org.Account(account).SDKConfig())
}

// sleeps records the inventory's waits; after each, then runs (if set).
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
	then  func(n int)
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	n, then := len(s.waits), s.then
	s.mu.Unlock()
	if then != nil {
		then(n)
	}
	return nil
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// fakeClock is the cache's clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// callCounts counts a server's Organizations calls by operation (and
// operation/error code for failed ones), since the last mark.
func callCounts(s *localaws.Server, since int) (map[string]int, int) {
	calls := s.Calls()
	out := map[string]int{}
	for _, c := range calls[since:] {
		if c.Service != "organizations" {
			continue
		}
		key := c.Operation
		if c.ErrorCode != "" {
			key += "/" + c.ErrorCode
		}
		out[key]++
	}
	return out, len(calls)
}

func mustNew(t testing.TB, to testOrg, org settings.Organization, opts Options) *Inventory {
	t.Helper()
	inv, err := New(to.client(hubAccount), org, opts)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}
