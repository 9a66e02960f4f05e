package localaws

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Organization is several emulated accounts behind one endpoint: an AWS
// Organization (a management account, a root, nested OUs, member accounts)
// and, if wanted, accounts outside it. Each account is a Server of its own
// (its own IAM, CloudTrail, topics, tables, faults and call log); the
// Organization only routes. A request goes to the account that holds the
// access key it is signed with (a map lookup, whatever the number of
// accounts); a key no account holds is refused as AWS refuses it
// (InvalidClientTokenId in the query protocol, UnrecognizedClientException
// in JSON). STS AssumeRole into another account and the Organizations API
// are answered by the caller's account, which asks the Organization.
//
// Each account signs as its root user with RootAccessKeyID(account);
// Server.SDKConfig and Env of an account use it.
type Organization struct {
	http *http.Server
	url  string
	base Options // options every account starts from

	clockMu sync.Mutex
	clock   func() time.Time
	offset  time.Duration

	// mu guards what follows. It is the innermost lock: nothing takes a
	// Server's mu while holding it (a Server holding its own mu may take it).
	mu         sync.RWMutex
	keys       map[string]*Server // every access key id → its account
	accounts   map[string]*Server // every account the emulator holds
	id, rootID string
	management string
	members    map[string]*orgAccount // accounts in the organization
	order      []string               // members in join order
	units      map[string]*orgUnit
	unitOrder  []string
	delegated  map[string]bool
	idRand     *rand.Rand
}

// OrganizationOptions configure NewOrganization. The zero value is usable.
type OrganizationOptions struct {
	// ManagementAccountID is the organization's management account;
	// default DefaultAccountID.
	ManagementAccountID string
	ManagementName      string // default "management"
	ManagementEmail     string // default "management@example.com"
	// ID and RootID fix the organization's id (o-…) and its root's (r-…),
	// as a template's settings name them; default drawn from Seed.
	ID, RootID string
	// Region, Addr, Now, Seed and CredentialReportDelay are as in Options,
	// for every account. Each account draws its ids from Seed and its
	// account id, so accounts do not repeat each other's ids.
	Region                string
	Addr                  string
	Now                   func() time.Time
	Seed                  uint64
	CredentialReportDelay time.Duration
}

// MemberAccount is an account to add to the organization.
type MemberAccount struct {
	ID    string // 12 digits
	Name  string // default "account-<id>"
	Email string // default "<id>@example.com"
	// Parent is the root or the OU the account sits in; default the root.
	Parent string
	// Status is ACTIVE (the default) or SUSPENDED.
	Status string
	Tags   map[string]string
	// Joined is when the account joined; default the organization's clock.
	Joined time.Time
}

type orgAccount struct {
	id, name, email, status, parent string
	tags                            []tag
	joined                          time.Time
}

type orgUnit struct {
	id, name, parent string
}

// RootAccessKeyID is the access key id an account of an Organization signs
// with as its root user: "AKIAROOT" and the account id.
func RootAccessKeyID(account string) string { return "AKIAROOT" + account }

// NewOrganization starts an organization with its management account and
// root, listening on opts.Addr (default a free 127.0.0.1 port). Close it
// when done.
func NewOrganization(opts OrganizationOptions) (*Organization, error) {
	o := &Organization{
		base:      Options{Region: opts.Region, Seed: opts.Seed, CredentialReportDelay: opts.CredentialReportDelay},
		clock:     opts.Now,
		keys:      map[string]*Server{},
		accounts:  map[string]*Server{},
		members:   map[string]*orgAccount{},
		units:     map[string]*orgUnit{},
		delegated: map[string]bool{},
		idRand:    rand.New(rand.NewPCG(opts.Seed, 0x6f7267)), // "org"
	}
	if o.clock == nil {
		o.clock = time.Now
	}
	o.base.Now = o.now
	mgmt := opts.ManagementAccountID
	if mgmt == "" {
		mgmt = DefaultAccountID
	}
	o.id = "o-" + o.lowerID(10)
	o.rootID = "r-" + o.lowerID(4)
	if opts.ID != "" {
		if !orgIDPattern.MatchString(opts.ID) {
			return nil, fmt.Errorf("localaws: organization id %q: want o- and 10-32 of [a-z0-9]", opts.ID)
		}
		o.id = opts.ID
	}
	if opts.RootID != "" {
		if !rootIDPattern.MatchString(opts.RootID) {
			return nil, fmt.Errorf("localaws: root id %q: want r- and 4-32 of [a-z0-9]", opts.RootID)
		}
		o.rootID = opts.RootID
	}
	o.management = mgmt
	front := &Server{}
	if err := front.listen(opts.Addr, o); err != nil {
		return nil, err
	}
	o.http, o.url = front.http, front.url
	if _, err := o.AddAccount(MemberAccount{ID: mgmt, Name: opts.ManagementName, Email: opts.ManagementEmail}); err != nil {
		_ = o.Close()
		return nil, err
	}
	return o, nil
}

const lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"

// lowerID draws n characters of Organizations' id alphabet. Callers hold
// o.mu or have not shared o yet.
func (o *Organization) lowerID(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = lowerAlnum[o.idRand.IntN(len(lowerAlnum))]
	}
	return string(b)
}

func (o *Organization) now() time.Time {
	o.clockMu.Lock()
	defer o.clockMu.Unlock()
	return o.clock().Add(o.offset)
}

// SetNow fixes every account's clock at t.
func (o *Organization) SetNow(t time.Time) {
	o.clockMu.Lock()
	defer o.clockMu.Unlock()
	o.clock, o.offset = func() time.Time { return t }, 0
}

// Advance moves every account's clock forward by d.
func (o *Organization) Advance(d time.Duration) {
	o.clockMu.Lock()
	defer o.clockMu.Unlock()
	o.offset += d
}

// URL is the endpoint every account's clients use.
func (o *Organization) URL() string { return o.url }

// Close stops the listener.
func (o *Organization) Close() error {
	if err := o.http.Close(); err != nil {
		return fmt.Errorf("localaws: close organization: %w", err)
	}
	return nil
}

// ID is the organization's id (o-…); RootID its root's (r-…).
func (o *Organization) ID() string     { return o.id }
func (o *Organization) RootID() string { return o.rootID }

// Management is the management account's Server.
func (o *Organization) Management() *Server { return o.Account(o.management) }

// Account is the Server of an account the emulator holds, in the
// organization or not; nil if it holds none with that id.
func (o *Organization) Account(id string) *Server {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.accounts[id]
}

// AccountIDs lists every account the emulator holds, sorted.
func (o *Organization) AccountIDs() []string {
	o.mu.RLock()
	defer o.mu.RUnlock()
	ids := make([]string, 0, len(o.accounts))
	for id := range o.accounts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// accountSeed spreads Seed over accounts so that two accounts never draw
// the same sequence of ids (keys are routed by id).
func accountSeed(seed uint64, account string) uint64 {
	n, _ := strconv.ParseUint(account, 10, 64)
	return seed ^ (n+1)*0x9e3779b97f4a7c15
}

// newAccount creates an account's Server and routes its root key to it.
func (o *Organization) newAccount(id string) (*Server, error) {
	if !accountIDPattern.MatchString(id) {
		return nil, fmt.Errorf("localaws: account id %q: want 12 digits", id)
	}
	opts := o.base
	opts.AccountID, opts.Seed = id, accountSeed(o.base.Seed, id)
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	s.url, s.rootKeyID, s.org = o.url, RootAccessKeyID(id), o
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.accounts[id] != nil {
		return nil, fmt.Errorf("localaws: account %s already exists", id)
	}
	o.accounts[id] = s
	o.keys[s.rootKeyID] = s
	return s, nil
}

// AddOutsideAccount adds an account the emulator serves that is not in the
// organization: its calls work, Organizations answers it
// AWSOrganizationsNotInUseException, and it has no aws:PrincipalOrgID.
func (o *Organization) AddOutsideAccount(id string) (*Server, error) {
	return o.newAccount(id)
}

// AddAccount adds a member account under a.Parent and returns its Server,
// which a test seeds like any other (Seed, CreateRole, SetFault).
func (o *Organization) AddAccount(a MemberAccount) (*Server, error) {
	if a.Name == "" {
		a.Name = "account-" + a.ID
	}
	if a.Email == "" {
		a.Email = a.ID + "@example.com"
	}
	if a.Parent == "" {
		a.Parent = o.rootID
	}
	if a.Status == "" {
		a.Status = "ACTIVE"
	}
	if a.Status != "ACTIVE" && a.Status != "SUSPENDED" {
		return nil, fmt.Errorf("localaws: account %s: status %q: want ACTIVE or SUSPENDED", a.ID, a.Status)
	}
	if a.Joined.IsZero() {
		a.Joined = o.now()
	}
	tags := make([]tag, 0, len(a.Tags))
	for k, v := range a.Tags {
		if !tagKeyPattern.MatchString(k) || !tagValuePattern.MatchString(v) {
			return nil, fmt.Errorf("localaws: account %s: tag %q=%q is not a valid tag", a.ID, k, v)
		}
		tags = append(tags, tag{k, v})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	o.mu.RLock()
	_, parentOK := o.units[a.Parent]
	parentOK = parentOK || a.Parent == o.rootID
	o.mu.RUnlock()
	if !parentOK {
		return nil, fmt.Errorf("localaws: account %s: no root or OU %s", a.ID, a.Parent)
	}
	s, err := o.newAccount(a.ID)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.members[a.ID] = &orgAccount{id: a.ID, name: a.Name, email: a.Email, status: a.Status, parent: a.Parent, tags: tags, joined: a.Joined.UTC()}
	o.order = append(o.order, a.ID)
	return s, nil
}

// TagAccount sets tags on an account of the organization, as
// organizations:TagResource does: a key it already has takes the new
// value.
func (o *Organization) TagAccount(id string, tags map[string]string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, ok := o.members[id]
	if !ok {
		return fmt.Errorf("localaws: no account %s in the organization", id)
	}
	for k, v := range tags {
		if !tagKeyPattern.MatchString(k) || !tagValuePattern.MatchString(v) {
			return fmt.Errorf("localaws: account %s: tag %q=%q is not a valid tag", id, k, v)
		}
		a.tags = slices.DeleteFunc(a.tags, func(t tag) bool { return t.Key == k })
		a.tags = append(a.tags, tag{k, v})
	}
	sort.Slice(a.tags, func(i, j int) bool { return a.tags[i].Key < a.tags[j].Key })
	return nil
}

// AddOU adds an organizational unit under parent (the root or an OU) and
// returns its id (ou-…).
func (o *Organization) AddOU(parent, name string) (string, error) {
	if name == "" || len(name) > 128 {
		return "", fmt.Errorf("localaws: OU name %q: want 1-128 characters", name)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.units[parent]; !ok && parent != o.rootID {
		return "", fmt.Errorf("localaws: OU %s: no root or OU %s", name, parent)
	}
	for _, u := range o.units {
		if u.parent == parent && u.name == name {
			return "", fmt.Errorf("localaws: OU %s already exists under %s", name, parent)
		}
	}
	id := "ou-" + o.rootID[2:] + "-" + o.lowerID(8)
	o.units[id] = &orgUnit{id: id, name: name, parent: parent}
	o.unitOrder = append(o.unitOrder, id)
	return id, nil
}

// RegisterDelegatedAdministrator lets a member account (not the management
// account) read the organization, as a delegated administrator can.
func (o *Organization) RegisterDelegatedAdministrator(account string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.members[account] == nil:
		return fmt.Errorf("localaws: %s is not an account of the organization", account)
	case account == o.management:
		return fmt.Errorf("localaws: the management account cannot be a delegated administrator")
	}
	o.delegated[account] = true
	return nil
}

// DeregisterDelegatedAdministrator undoes RegisterDelegatedAdministrator.
func (o *Organization) DeregisterDelegatedAdministrator(account string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.delegated, account)
}

// SetFault sets f on every account the emulator holds now (see
// Server.SetFault); set it on one account's Server for that account only.
func (o *Organization) SetFault(key string, f Fault) error {
	for _, id := range o.AccountIDs() {
		if err := o.Account(id).SetFault(key, f); err != nil {
			return err
		}
	}
	return nil
}

// orgIDOf is account's aws:PrincipalOrgID: the organization's id for a
// member, "" for an account outside it.
func (o *Organization) orgIDOf(account string) string {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.members[account] == nil {
		return ""
	}
	return o.id
}

// keyOwner is the account holding key id, or nil.
func (o *Organization) keyOwner(id string) *Server {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.keys[id]
}

// claimKey routes key id to s unless another account holds it.
func (o *Organization) claimKey(id string, s *Server) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.keys[id] == nil {
		o.keys[id] = s
	}
}

// ServeHTTP routes a request to the account holding its access key.
func (o *Organization) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	keyID, _, signingName := parseCredentialScope(r.Header.Get("Authorization"))
	o.mu.RLock()
	s := o.keys[keyID]
	mgmt := o.accounts[o.management]
	o.mu.RUnlock()
	if s != nil {
		s.ServeHTTP(w, r)
		return
	}
	services := sharedServices()
	svc := services[signingName]
	if svc == nil {
		svc = services[guessService(r)]
	}
	if mgmt == nil {
		// Still being built by NewOrganization.
		http.Error(w, "localaws: organization starting", http.StatusServiceUnavailable)
		return
	}
	if keyID == "" || svc == nil {
		// Unsigned or for a service localaws does not emulate: the
		// management account answers (and logs) the refusal.
		mgmt.ServeHTTP(w, r)
		return
	}
	svc.writeError(w, "", newRequestID(), svc.invalidToken())
}

var requestIDs = struct {
	sync.Mutex
	n uint64
}{}

// newRequestID numbers the front's own answers, which no account logs.
func newRequestID() string {
	requestIDs.Lock()
	defer requestIDs.Unlock()
	requestIDs.n++
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", requestIDs.n)
}

// Organizations ids as the API's patterns define them.
var (
	orgIDPattern      = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	rootIDPattern     = regexp.MustCompile(`^r-[0-9a-z]{4,32}$`)
	parentIDPattern   = regexp.MustCompile(`^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$`)
	childIDPattern    = regexp.MustCompile(`^([0-9]{12}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$`)
	taggableIDPattern = regexp.MustCompile(`^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|[0-9]{12}|p-[0-9a-zA-Z_]{8,128})$`)
)
