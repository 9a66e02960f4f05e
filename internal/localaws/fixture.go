package localaws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Fixture is the state a Server is seeded with (Seed), usually read from a
// JSON file (LoadFixture). Dates are RFC 3339 ("2026-01-02T15:04:05Z") or
// relative to the server clock at seeding time ("-95d", "-2h30m", "+1d";
// units d, h, m, s), so a fixture keeps describing "a key 95 days old"
// whenever it runs.
type Fixture struct {
	AccountID     string          `json:"accountId,omitempty"`
	Region        string          `json:"region,omitempty"`
	Users         []FixtureUser   `json:"users,omitempty"`
	Keys          []FixtureKey    `json:"keys,omitempty"`
	Policies      []FixturePolicy `json:"policies,omitempty"`
	CloudTrail    []FixtureEvent  `json:"cloudtrail,omitempty"`
	Topics        []string        `json:"topics,omitempty"`        // SNS topic names to create
	SESIdentities []string        `json:"sesIdentities,omitempty"` // verified addresses or domains
	// DynamoDBTables are on-demand tables to create, such as the ledger's.
	DynamoDBTables []FixtureTable `json:"dynamodbTables,omitempty"`
}

// FixtureTable is a DynamoDB table with a partition key and an optional
// sort key; key types are S (the default), N or B.
type FixtureTable struct {
	Name             string `json:"name"`
	PartitionKey     string `json:"partitionKey"`
	PartitionKeyType string `json:"partitionKeyType,omitempty"`
	SortKey          string `json:"sortKey,omitempty"`
	SortKeyType      string `json:"sortKeyType,omitempty"`
}

// FixtureUser is an IAM user.
type FixtureUser struct {
	Name    string            `json:"name"`
	Path    string            `json:"path,omitempty"`    // default "/"
	Created string            `json:"created,omitempty"` // default: seeding time
	Tags    map[string]string `json:"tags,omitempty"`
}

// FixtureKey is an access key of a user. Its secret is generated: fixtures
// never carry secrets.
type FixtureKey struct {
	User            string `json:"user"`
	ID              string `json:"id,omitempty"`      // default: generated AKIA…
	Status          string `json:"status,omitempty"`  // Active (default) or Inactive
	Created         string `json:"created,omitempty"` // default: seeding time
	LastUsed        string `json:"lastUsed,omitempty"`
	LastUsedRegion  string `json:"lastUsedRegion,omitempty"`  // default: the fixture's region
	LastUsedService string `json:"lastUsedService,omitempty"` // default: "iam"
}

// FixturePolicy is an inline user policy. Document is a JSON object, or a
// JSON string holding one.
type FixturePolicy struct {
	User     string          `json:"user"`
	Name     string          `json:"name"`
	Document json.RawMessage `json:"document"`
}

// FixtureEvent is a CloudTrail management event in the account's history.
type FixtureEvent struct {
	EventName         string         `json:"eventName"`
	EventSource       string         `json:"eventSource,omitempty"` // default iam.amazonaws.com
	Time              string         `json:"time"`
	Username          string         `json:"username,omitempty"`    // "root" or empty for the root user
	AccessKeyID       string         `json:"accessKeyId,omitempty"` // key that made the call
	SourceIP          string         `json:"sourceIp,omitempty"`    // default 192.0.2.1
	Region            string         `json:"region,omitempty"`      // default: us-east-1 for IAM, else the fixture region
	UserAgent         string         `json:"userAgent,omitempty"`
	Resources         []Resource     `json:"resources,omitempty"`
	ErrorCode         string         `json:"errorCode,omitempty"`
	ErrorMessage      string         `json:"errorMessage,omitempty"`
	ReadOnly          bool           `json:"readOnly,omitempty"`
	RequestParameters map[string]any `json:"requestParameters,omitempty"`
	EventID           string         `json:"eventId,omitempty"` // default: generated
}

// ActivityRegions lists the regions whose CloudTrail history f seeds: its
// own region first, then the others sorted. LookupEvents is regional, so a
// drill points keywarden's activity search at these.
func (f Fixture) ActivityRegions() []string {
	home := f.Region
	if home == "" {
		home = DefaultRegion
	}
	seen := map[string]bool{home: true}
	var others []string
	for _, e := range f.CloudTrail {
		r := eventRegion(e, home)
		if !seen[r] {
			seen[r] = true
			others = append(others, r)
		}
	}
	sort.Strings(others)
	return append([]string{home}, others...)
}

// eventRegion is where CloudTrail keeps e: its region if given, else
// us-east-1 for IAM (a global service), else the fixture's region.
func eventRegion(e FixtureEvent, home string) string {
	switch {
	case e.Region != "":
		return e.Region
	case e.EventSource == "" || e.EventSource == "iam.amazonaws.com":
		return "us-east-1"
	}
	return home
}

var (
	regionPattern       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	fixtureKeyIDPattern = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
)

// LoadFixture reads a JSON fixture file. Unknown fields are errors, so a
// typo cannot silently drop part of a scenario. Seed checks the rest; a
// caller may read AccountID and Region first to build Options.
func LoadFixture(path string) (Fixture, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Fixture{}, fmt.Errorf("localaws: read fixture: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f Fixture
	if err := dec.Decode(&f); err != nil {
		return Fixture{}, fmt.Errorf("localaws: fixture %s: %w", path, err)
	}
	if dec.More() {
		return Fixture{}, fmt.Errorf("localaws: fixture %s: more than one JSON document", path)
	}
	return f, nil
}

// NewSeeded starts a Server in the fixture file's account and region, seeded
// with it: the one step drills and tests of a whole account need. opts'
// AccountID and Region are taken from the fixture when it names them.
func NewSeeded(path string, opts Options) (*Server, Fixture, error) {
	f, err := LoadFixture(path)
	if err != nil {
		return nil, f, err
	}
	if f.AccountID != "" {
		opts.AccountID = f.AccountID
	}
	if f.Region != "" {
		opts.Region = f.Region
	}
	srv, err := New(opts)
	if err != nil {
		return nil, f, err
	}
	if err := srv.Seed(f); err != nil {
		_ = srv.Close()
		return nil, f, fmt.Errorf("localaws: seed %s: %w", path, err)
	}
	return srv, f, nil
}

// Seed adds f to the server's state. It checks the whole fixture first and
// changes nothing if any part is wrong; users and keys must not exist yet.
func (s *Server) Seed(f Fixture) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stageFixture(f)
	if err != nil {
		return fmt.Errorf("localaws: seed: %w", err)
	}
	s.commitFixture(st)
	return nil
}

// stagedFixture is a checked fixture, ready to apply.
type stagedFixture struct {
	account, region string
	users           []*iamUser
	keys            []*accessKey
	policies        []FixturePolicy // Document already decoded into docs
	docs            []string
	events          []trailEvent
	topics          []string
	identities      []string
	tables          []DynamoDBTable
}

func (s *Server) stageFixture(f Fixture) (*stagedFixture, error) {
	now := s.now()
	st := &stagedFixture{account: s.account, region: s.region}
	if f.AccountID != "" {
		if !accountIDPattern.MatchString(f.AccountID) {
			return nil, fmt.Errorf("accountId %q: want 12 digits", f.AccountID)
		}
		if s.org != nil && f.AccountID != s.account {
			return nil, fmt.Errorf("accountId %s: this server is account %s of an organization and cannot become another", f.AccountID, s.account)
		}
		st.account = f.AccountID
	}
	if f.Region != "" {
		if !regionPattern.MatchString(f.Region) {
			return nil, fmt.Errorf("region %q: want a region name such as us-east-1", f.Region)
		}
		st.region = f.Region
	}

	users := map[string]*iamUser{}
	lookupUser := func(name string) *iamUser {
		if u, ok := users[name]; ok {
			return u
		}
		return s.iam.users[name]
	}
	for i, fu := range f.Users {
		where := fmt.Sprintf("users[%d] (%s)", i, fu.Name)
		if fu.Name == "" || len(fu.Name) > 64 || !namePattern.MatchString(fu.Name) {
			return nil, fmt.Errorf("%s: name must be 1-64 of letters, digits and _+=,.@-", where)
		}
		if lookupUser(fu.Name) != nil {
			return nil, fmt.Errorf("%s: user already exists", where)
		}
		path := fu.Path
		if path == "" {
			path = "/"
		}
		if !pathPattern.MatchString(path) {
			return nil, fmt.Errorf("%s: path %q must start and end with /", where, path)
		}
		created, err := fixtureTime(fu.Created, now)
		if err != nil {
			return nil, fmt.Errorf("%s: created: %w", where, err)
		}
		u := &iamUser{name: fu.Name, id: s.newID("AIDA", 17), path: path, created: created, policies: map[string]string{}}
		keys := make([]string, 0, len(fu.Tags))
		for k := range fu.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) > maxTagsPerUser {
			return nil, fmt.Errorf("%s: %d tags, at most %d allowed", where, len(keys), maxTagsPerUser)
		}
		for _, k := range keys {
			if !tagKeyPattern.MatchString(k) || !tagValuePattern.MatchString(fu.Tags[k]) {
				return nil, fmt.Errorf("%s: tag %q=%q is not a valid IAM tag", where, k, fu.Tags[k])
			}
			u.tags = append(u.tags, tag{Key: k, Value: fu.Tags[k]})
		}
		users[fu.Name] = u
		st.users = append(st.users, u)
	}

	keyIDs := map[string]bool{}
	liveCount := map[string]int{}
	for name, u := range s.iam.users {
		liveCount[name] = len(s.liveKeys(u))
	}
	for i, fk := range f.Keys {
		where := fmt.Sprintf("keys[%d] (%s)", i, fk.ID)
		if lookupUser(fk.User) == nil {
			return nil, fmt.Errorf("%s: user %q is neither in the fixture nor on the server", where, fk.User)
		}
		id := fk.ID
		if id == "" {
			id = s.newAccessKeyID()
			for keyIDs[id] {
				id = s.newAccessKeyID()
			}
		}
		if !fixtureKeyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("%s: id must be 16-128 upper-case letters and digits", where)
		}
		if _, taken := s.iam.keys[id]; taken || keyIDs[id] || !s.keyIDFree(id) {
			return nil, fmt.Errorf("%s: key id already exists", where)
		}
		keyIDs[id] = true
		status := fk.Status
		if status == "" {
			status = statusActive
		}
		if status != statusActive && status != statusInactive {
			return nil, fmt.Errorf("%s: status %q: want Active or Inactive", where, status)
		}
		if liveCount[fk.User]++; liveCount[fk.User] > maxKeysPerUser {
			return nil, fmt.Errorf("%s: user %s would have more than %d access keys", where, fk.User, maxKeysPerUser)
		}
		created, err := fixtureTime(fk.Created, now)
		if err != nil {
			return nil, fmt.Errorf("%s: created: %w", where, err)
		}
		secret, err := newSecretAccessKey()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		k := &accessKey{id: id, user: fk.User, secret: secret, status: status, created: created}
		if fk.LastUsed != "" {
			used, err := fixtureTime(fk.LastUsed, now)
			if err != nil {
				return nil, fmt.Errorf("%s: lastUsed: %w", where, err)
			}
			k.lastUsed = &lastUse{date: used, region: fk.LastUsedRegion, service: fk.LastUsedService}
			if k.lastUsed.region == "" {
				k.lastUsed.region = st.region
			}
			if k.lastUsed.service == "" {
				k.lastUsed.service = "iam"
			}
		} else if fk.LastUsedRegion != "" || fk.LastUsedService != "" {
			return nil, fmt.Errorf("%s: lastUsedRegion and lastUsedService need lastUsed", where)
		}
		st.keys = append(st.keys, k)
	}

	for i, fp := range f.Policies {
		where := fmt.Sprintf("policies[%d] (%s/%s)", i, fp.User, fp.Name)
		if lookupUser(fp.User) == nil {
			return nil, fmt.Errorf("%s: user %q is neither in the fixture nor on the server", where, fp.User)
		}
		if fp.Name == "" || len(fp.Name) > 128 || !namePattern.MatchString(fp.Name) {
			return nil, fmt.Errorf("%s: name must be 1-128 of letters, digits and _+=,.@-", where)
		}
		doc, err := policyDocumentText(fp.Document)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if aerr := validatePolicyDocument(doc); aerr != nil {
			return nil, fmt.Errorf("%s: %s", where, aerr.Message)
		}
		st.policies = append(st.policies, fp)
		st.docs = append(st.docs, doc)
	}

	keyOwner := func(id string) string {
		for _, k := range st.keys {
			if k.id == id {
				return k.user
			}
		}
		if k, ok := s.iam.keys[id]; ok {
			return k.user
		}
		return ""
	}
	for i, fe := range f.CloudTrail {
		where := fmt.Sprintf("cloudtrail[%d] (%s)", i, fe.EventName)
		if fe.EventName == "" {
			return nil, fmt.Errorf("%s: eventName is required", where)
		}
		if fe.Time == "" {
			return nil, fmt.Errorf("%s: time is required", where)
		}
		t, err := fixtureTime(fe.Time, now)
		if err != nil {
			return nil, fmt.Errorf("%s: time: %w", where, err)
		}
		userName := fe.Username
		if userName == "" && fe.AccessKeyID != "" {
			userName = keyOwner(fe.AccessKeyID)
		}
		caller := principal{keyID: fe.AccessKeyID, userID: st.account, arn: "arn:aws:iam::" + st.account + ":root"}
		if userName != "" && userName != "root" {
			caller.userName = userName
			caller.arn = "arn:aws:iam::" + st.account + ":user/" + userName
			caller.userID = s.newID("AIDA", 17)
			if u := lookupUser(userName); u != nil {
				caller.arn = "arn:aws:iam::" + st.account + ":user" + u.path + u.name
				caller.userID = u.id
			}
		}
		ev := trailEvent{
			id: fe.EventID, name: fe.EventName, source: fe.EventSource, time: t, region: fe.Region,
			sourceIP: fe.SourceIP, userAgent: fe.UserAgent, caller: caller, resources: fe.Resources,
			request: fe.RequestParameters, readOnly: fe.ReadOnly, errorCode: fe.ErrorCode,
			errorMessage: fe.ErrorMessage, recipientID: st.account,
		}
		if ev.source == "" {
			ev.source = "iam.amazonaws.com"
		}
		ev.region = eventRegion(fe, st.region)
		if ev.sourceIP == "" {
			ev.sourceIP = "192.0.2.1"
		}
		st.events = append(st.events, ev)
	}

	for i, name := range f.Topics {
		if base, _ := strings.CutSuffix(name, ".fifo"); !topicNamePattern.MatchString(base) {
			return nil, fmt.Errorf("topics[%d] (%s): want 1-256 of letters, digits, - and _ (optionally .fifo)", i, name)
		}
		st.topics = append(st.topics, name)
	}
	for i, id := range f.SESIdentities {
		id = strings.ToLower(strings.TrimSpace(id))
		if id == "" || strings.ContainsAny(id, " <>") {
			return nil, fmt.Errorf("sesIdentities[%d] (%s): want an address or a domain", i, id)
		}
		st.identities = append(st.identities, id)
	}
	tableNames := map[string]bool{}
	for i, ft := range f.DynamoDBTables {
		spec, aerr := checkTableSpec(DynamoDBTable(ft))
		if aerr != nil {
			return nil, fmt.Errorf("dynamodbTables[%d] (%s): %s", i, ft.Name, aerr.Message)
		}
		if s.tableExists(st.region, spec.Name) || tableNames[spec.Name] {
			return nil, fmt.Errorf("dynamodbTables[%d] (%s): table already exists", i, ft.Name)
		}
		tableNames[spec.Name] = true
		st.tables = append(st.tables, spec)
	}
	return st, nil
}

func (s *Server) commitFixture(st *stagedFixture) {
	s.account, s.region = st.account, st.region
	for _, u := range st.users {
		s.iam.users[u.name] = u
	}
	for _, k := range st.keys {
		s.iam.keys[k.id] = k
		s.claimKeyID(k.id)
		u := s.iam.users[k.user]
		u.keyIDs = append(u.keyIDs, k.id)
		sort.SliceStable(u.keyIDs, func(i, j int) bool {
			return s.iam.keys[u.keyIDs[i]].created.Before(s.iam.keys[u.keyIDs[j]].created)
		})
	}
	for i, p := range st.policies {
		s.iam.users[p.User].policies[p.Name] = st.docs[i]
	}
	for _, ev := range st.events {
		s.addTrailEvent(ev)
	}
	for _, name := range st.topics {
		_, fifo := strings.CutSuffix(name, ".fifo")
		// Validated in stageFixture, so this cannot fail.
		_, _ = s.createTopic(s.region, name, fifo)
	}
	for _, id := range st.identities {
		s.ses.identities[id] = true
	}
	for _, spec := range st.tables {
		// Checked in stageFixture, so this cannot fail.
		_ = s.createTable(s.region, spec)
	}
}

// policyDocumentText accepts a policy as a JSON object or a JSON string.
func policyDocumentText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", fmt.Errorf("document is required")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("document: %w", err)
		}
		return s, nil
	}
	return string(raw), nil
}

var relativeTimePattern = regexp.MustCompile(`^([+-])((?:\d+[dhms])+)$`)
var relativePartPattern = regexp.MustCompile(`(\d+)([dhms])`)

// fixtureTime parses an RFC 3339 time or a time relative to now such as
// "-95d" or "-2h30m"; empty means now.
func fixtureTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	m := relativeTimePattern.FindStringSubmatch(v)
	if m == nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor relative like -95d or -2h30m", v)
	}
	var d time.Duration
	unit := map[string]time.Duration{"d": 24 * time.Hour, "h": time.Hour, "m": time.Minute, "s": time.Second}
	for _, part := range relativePartPattern.FindAllStringSubmatch(m[2], -1) {
		n, err := strconv.Atoi(part[1])
		if err != nil || n > 100000 {
			return time.Time{}, fmt.Errorf("%q: number out of range", v)
		}
		d += time.Duration(n) * unit[part[2]]
	}
	if m[1] == "-" {
		d = -d
	}
	return now.Add(d), nil
}
