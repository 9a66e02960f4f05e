// Package inventory answers which accounts of an AWS Organization
// keywarden's hub may act in: the organization's ACTIVE accounts under the
// settings' organizationalUnits, minus excludedAccounts, minus accounts
// tagged optOutTag = true, minus the management account. A step checks an
// account with InScope before any AssumeRole into it; the daily run fans
// out over Accounts.
//
// Not wired into any Lambda yet (issue 12): the hub's steps still act in
// their own account only.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/keywarden/keywarden/internal/clock"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

// API is the part of the Organizations client the inventory calls.
type API interface {
	DescribeOrganization(ctx context.Context, in *organizations.DescribeOrganizationInput, optFns ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error)
	ListAccounts(ctx context.Context, in *organizations.ListAccountsInput, optFns ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error)
	ListRoots(ctx context.Context, in *organizations.ListRootsInput, optFns ...func(*organizations.Options)) (*organizations.ListRootsOutput, error)
	ListAccountsForParent(ctx context.Context, in *organizations.ListAccountsForParentInput, optFns ...func(*organizations.Options)) (*organizations.ListAccountsForParentOutput, error)
	ListOrganizationalUnitsForParent(ctx context.Context, in *organizations.ListOrganizationalUnitsForParentInput, optFns ...func(*organizations.Options)) (*organizations.ListOrganizationalUnitsForParentOutput, error)
	ListTagsForResource(ctx context.Context, in *organizations.ListTagsForResourceInput, optFns ...func(*organizations.Options)) (*organizations.ListTagsForResourceOutput, error)
}

var _ API = (*organizations.Client)(nil)

// Errors a read can end with. Each is also a step.Error, named for the
// state machine.
var (
	// ErrWrongOrganization: the hub's organization is not the settings'
	// organizationId (or the hub is in none). The hub must never act in
	// another organization, so no cached answer is served after it.
	// Named step.InvalidSetting.
	ErrWrongOrganization = errors.New("the hub is not in the configured organization")
	// ErrAccessDenied: Organizations refused a read. Only the management
	// account and a delegated administrator for Organizations may list
	// accounts and read their tags. Named step.AccessDenied.
	ErrAccessDenied = errors.New("organizations access denied")
	// ErrUnavailable: Organizations kept throttling or failing after
	// Options.MaxAttempts attempts. Named step.Throttled or step.Transient.
	ErrUnavailable = errors.New("organizations unavailable")
	// ErrUnknownOU: an id of organizationalUnits is neither the
	// organization's root nor one of its OUs. Named step.InvalidSetting.
	ErrUnknownOU = errors.New("organizational unit not in the organization")
	// ErrTooStale: a refresh failed and the last good inventory is older
	// than Options.MaxStale.
	ErrTooStale = errors.New("organization inventory too stale")
)

// Reason says why an account is out of scope.
type Reason string

// Reasons an account is out of scope, in the order they are checked: an
// account is given the first that applies.
const (
	ReasonNotInOrganization Reason = "not an account of the organization"
	ReasonManagement        Reason = "the management account (member stacks never deploy there; cover it with a per-account stack)"
	ReasonSuspended         Reason = "not ACTIVE (suspended, closing or closed)"
	ReasonExcluded          Reason = "listed in excludedAccounts"
	ReasonOutsideOUs        Reason = "outside organizationalUnits"
	ReasonOptedOut          Reason = "opted out by its optOutTag tag"
)

// Account is an account in scope.
type Account struct {
	ID   string
	Name string
}

// Excluded is an account of the organization left out, and why.
type Excluded struct {
	ID     string
	Name   string
	Reason Reason
}

// Snapshot is one read of the organization. It is shared between callers:
// read it, do not modify it.
type Snapshot struct {
	OrganizationID    string
	ManagementAccount string
	// Accounts are in scope, Excluded are the organization's other
	// accounts; both sorted by id.
	Accounts []Account
	Excluded []Excluded
	// ReadAt is when the read began (the inventory's clock).
	ReadAt time.Time
	// Calls is how many Organizations operations the read called,
	// counting each of the inventory's attempts (not the SDK's own
	// retries inside one attempt).
	Calls int

	byID map[string]Decision
}

// Decision is InScope's answer for one account.
type Decision struct {
	ID      string
	Name    string // empty if the account is not in the organization
	InScope bool
	Reason  Reason // empty when InScope
}

func (d Decision) String() string {
	if d.InScope {
		return fmt.Sprintf("account %s (%s) is in scope", d.ID, d.Name)
	}
	if d.Name == "" {
		return fmt.Sprintf("account %s is out of scope: %s", d.ID, d.Reason)
	}
	return fmt.Sprintf("account %s (%s) is out of scope: %s", d.ID, d.Name, d.Reason)
}

// Defaults of Options.
const (
	DefaultTTL         = 15 * time.Minute
	DefaultMaxStale    = time.Hour
	DefaultMaxAttempts = 5
	DefaultFirstDelay  = 200 * time.Millisecond
	DefaultMaxDelay    = 5 * time.Second
	DefaultPageSize    = 20 // Organizations' maximum MaxResults
	DefaultTagReaders  = 4
)

// Options tune the inventory. The zero value is the production setting.
type Options struct {
	// TTL is how long a read is served before the next call reads again
	// (default DefaultTTL).
	TTL time.Duration
	// MaxStale bounds the age of a read served when a refresh fails
	// (default DefaultMaxStale, at least TTL).
	MaxStale time.Duration
	// MaxAttempts bounds the inventory's attempts at one operation that
	// is throttled or fails transiently (default DefaultMaxAttempts), on
	// top of the SDK's own retries. Between attempts it waits FirstDelay,
	// doubling up to MaxDelay, each wait drawn in its upper half (jitter).
	MaxAttempts int
	FirstDelay  time.Duration
	MaxDelay    time.Duration
	// PageSize is MaxResults of the list calls, 1 to 20 (default 20).
	PageSize int32
	// TagReaders is how many accounts' tags are read at once (default
	// DefaultTagReaders).
	TagReaders int
	// Sleep waits between attempts; default clock.Sleep. Now is the
	// cache's clock; default time.Now.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

func (o Options) withDefaults() Options {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.MaxStale <= 0 {
		o.MaxStale = DefaultMaxStale
	}
	o.MaxStale = max(o.MaxStale, o.TTL)
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.FirstDelay <= 0 {
		o.FirstDelay = DefaultFirstDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	o.MaxDelay = max(o.MaxDelay, o.FirstDelay)
	if o.PageSize <= 0 || o.PageSize > DefaultPageSize {
		o.PageSize = DefaultPageSize
	}
	if o.TagReaders <= 0 {
		o.TagReaders = DefaultTagReaders
	}
	if o.Sleep == nil {
		o.Sleep = clock.Sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// scope is what the settings say about which accounts count.
type scope struct {
	organizationID string
	units          []string
	excluded       map[string]bool
	optOutTag      string
}

// Inventory reads the organization's in-scope accounts and caches the
// answer. Build one per process and share it: it is safe for concurrent
// use.
//
// Why a cache: a Lambda container serves many invocations, and every step
// that acts in a member checks the inventory first; reading the
// organization each time would cost one ListTagsForResource per account
// per event, and Organizations throttles. So a read is served for TTL, and
// concurrent callers wait for one refresh instead of each starting their
// own. A refresh that fails does not replace the last good read: that
// read is served (with a warning logged) while it is younger than
// MaxStale, because a throttled Organizations must not stop incident
// response; past MaxStale the error is returned, because an account's
// exclusion or opt-out must not be ignored indefinitely. The price of the
// cache: an account that joined, left or opted out within the last TTL
// may be judged on the older read.
type Inventory struct {
	api   API
	scope scope
	opts  Options

	// refreshing holds one token while a read runs; a caller waits for
	// it, or for its context to end.
	refreshing chan struct{}

	mu   sync.Mutex
	last *Snapshot
}

// New builds an Inventory for the organization settings org (its
// organizationId, organizationalUnits, excludedAccounts and optOutTag).
func New(api API, org settings.Organization, opts Options) (*Inventory, error) {
	if org.OrganizationID == "" || len(org.OrganizationalUnits) == 0 {
		return nil, step.Errorf(step.InvalidSetting, "organization inventory: organizationId (%q) and organizationalUnits (%d) must be set",
			org.OrganizationID, len(org.OrganizationalUnits))
	}
	s := scope{
		organizationID: org.OrganizationID,
		units:          append([]string(nil), org.OrganizationalUnits...),
		excluded:       map[string]bool{},
		optOutTag:      org.OptOutTag,
	}
	for _, a := range org.ExcludedAccounts {
		s.excluded[strings.TrimSpace(a)] = true
	}
	return &Inventory{api: api, scope: s, opts: opts.withDefaults(), refreshing: make(chan struct{}, 1)}, nil
}

// Accounts returns the organization's accounts in scope, and those left
// out with their reasons, from the cache when it is younger than TTL.
func (inv *Inventory) Accounts(ctx context.Context) (*Snapshot, error) {
	if s := inv.fresh(); s != nil {
		return s, nil
	}
	select {
	case inv.refreshing <- struct{}{}:
	case <-ctx.Done():
		return nil, step.Classify(fmt.Errorf("wait for the organization inventory: %w", ctx.Err()))
	}
	defer func() { <-inv.refreshing }()
	if s := inv.fresh(); s != nil {
		return s, nil // another caller refreshed while this one waited
	}

	s, err := inv.read(ctx)
	if err == nil {
		inv.mu.Lock()
		inv.last = s
		inv.mu.Unlock()
		return s, nil
	}
	inv.mu.Lock()
	last := inv.last
	inv.mu.Unlock()
	if last == nil || errors.Is(err, ErrWrongOrganization) || ctx.Err() != nil {
		return nil, err
	}
	age := inv.opts.Now().Sub(last.ReadAt)
	if age > inv.opts.MaxStale {
		return nil, &step.Error{Name: step.Name(err), Err: fmt.Errorf("%w: the refresh failed and the last good read is %s old, beyond %s: %w",
			ErrTooStale, age.Round(time.Second), inv.opts.MaxStale, err)}
	}
	slog.WarnContext(ctx, "organization inventory refresh failed; serving the last good read",
		"age", age.Round(time.Second).String(), "maxStale", inv.opts.MaxStale.String(), "error", err.Error())
	return last, nil
}

// fresh is the cached read if it is younger than TTL.
func (inv *Inventory) fresh() *Snapshot {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.last != nil && inv.opts.Now().Sub(inv.last.ReadAt) < inv.opts.TTL {
		return inv.last
	}
	return nil
}

// InScope decides whether the hub may act in account: it is in the
// organization and in scope. Out of scope is a Decision, not an error;
// the error is a failed read. Check it before any AssumeRole.
func (inv *Inventory) InScope(ctx context.Context, account string) (Decision, error) {
	s, err := inv.Accounts(ctx)
	if err != nil {
		return Decision{}, err
	}
	return s.Decide(account), nil
}

// Decide is the decision for account in this read.
func (s *Snapshot) Decide(account string) Decision {
	if d, ok := s.byID[account]; ok {
		return d
	}
	return Decision{ID: account, Reason: ReasonNotInOrganization}
}

// index builds byID; the read calls it once the lists are final.
func (s *Snapshot) index() {
	s.byID = make(map[string]Decision, len(s.Accounts)+len(s.Excluded))
	for _, a := range s.Accounts {
		s.byID[a.ID] = Decision{ID: a.ID, Name: a.Name, InScope: true}
	}
	for _, e := range s.Excluded {
		s.byID[e.ID] = Decision{ID: e.ID, Name: e.Name, Reason: e.Reason}
	}
}
