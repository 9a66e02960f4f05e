package localaws

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

const iamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// Access key statuses as IAM spells them.
const (
	statusActive   = "Active"
	statusInactive = "Inactive"
)

// IAM quotas keywarden's behaviour depends on.
const (
	maxKeysPerUser       = 2
	maxTagsPerUser       = 50
	maxInlinePolicyChars = 2048 // per user, white space not counted
)

var (
	// IAM names: [\w+=,.@-]+ where \w is ASCII, as in RE2.
	namePattern      = regexp.MustCompile(`^[\w+=,.@-]+$`)
	accessKeyPattern = regexp.MustCompile(`^\w{16,128}$`)
	pathPattern      = regexp.MustCompile(`^(/|/[\x21-\x7E]+/)$`)
	tagKeyPattern    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
	tagValuePattern  = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$`)
)

// iamState is the account's IAM data. Deleted keys stay in keys (marked
// deleted) so tests can inspect them and CloudTrail history can name them.
type iamState struct {
	users  map[string]*iamUser
	keys   map[string]*accessKey
	report credentialReportState
	// managed are the account's customer managed policies, by ARN.
	managed map[string]*managedPolicy
	// roles are the account's roles, by name.
	roles map[string]*iamRole
}

func (st *iamState) init() {
	st.users = map[string]*iamUser{}
	st.keys = map[string]*accessKey{}
	st.managed = map[string]*managedPolicy{}
	st.roles = map[string]*iamRole{}
}

type iamUser struct {
	name     string
	id       string
	path     string
	created  time.Time
	tags     []tag
	policies map[string]string // inline policy name → document as given
	attached []string          // managed policy ARNs, in attach order
	keyIDs   []string          // creation order, deleted keys included
}

type tag struct{ Key, Value string }

type accessKey struct {
	id       string
	user     string
	secret   string
	status   string
	created  time.Time
	deleted  bool
	lastUsed *lastUse
}

type lastUse struct {
	date    time.Time
	region  string
	service string
}

func (s *Server) userARN(u *iamUser) string {
	return "arn:aws:iam::" + s.account + ":user" + u.path + u.name
}

// liveKeys are a user's keys that are not deleted, oldest first.
func (s *Server) liveKeys(u *iamUser) []*accessKey {
	var out []*accessKey
	for _, id := range u.keyIDs {
		if k := s.iam.keys[id]; !k.deleted {
			out = append(out, k)
		}
	}
	return out
}

func iamService() *service {
	ops := map[string]opFunc{
		"CreateUser":               (*Server).iamCreateUser,
		"GetUser":                  (*Server).iamGetUser,
		"ListUsers":                (*Server).iamListUsers,
		"TagUser":                  (*Server).iamTagUser,
		"ListUserTags":             (*Server).iamListUserTags,
		"CreateAccessKey":          (*Server).iamCreateAccessKey,
		"ListAccessKeys":           (*Server).iamListAccessKeys,
		"UpdateAccessKey":          (*Server).iamUpdateAccessKey,
		"DeleteAccessKey":          (*Server).iamDeleteAccessKey,
		"GetAccessKeyLastUsed":     (*Server).iamGetAccessKeyLastUsed,
		"PutUserPolicy":            (*Server).iamPutUserPolicy,
		"GetUserPolicy":            (*Server).iamGetUserPolicy,
		"DeleteUserPolicy":         (*Server).iamDeleteUserPolicy,
		"ListUserPolicies":         (*Server).iamListUserPolicies,
		"AttachUserPolicy":         (*Server).iamAttachUserPolicy,
		"DetachUserPolicy":         (*Server).iamDetachUserPolicy,
		"ListAttachedUserPolicies": (*Server).iamListAttachedUserPolicies,
		"GenerateCredentialReport": (*Server).iamGenerateCredentialReport,
		"GetCredentialReport":      (*Server).iamGetCredentialReport,
		"GetRole":                  (*Server).iamGetRole,
	}
	svc := &service{
		name:            "iam",
		protocol:        queryProtocol,
		xmlns:           iamNamespace,
		ops:             map[string]operation{},
		throttleErr:     awsError{Code: "Throttling", Message: "Rate exceeded", Status: http.StatusBadRequest},
		serverErr:       awsError{Code: "ServiceFailure", Message: "The request processing has failed because of an unknown error, exception or failure.", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden},
		badRequestCode:  "ValidationError",
	}
	for name, fn := range ops {
		svc.ops[name] = operation{fn: fn}
	}
	return svc
}

// iamWrites are the IAM operations that change state; each call of one is
// recorded as a CloudTrail event, as AWS records management write events.
var iamWrites = map[string]bool{
	"CreateUser": true, "TagUser": true, "CreateAccessKey": true, "UpdateAccessKey": true,
	"DeleteAccessKey": true, "PutUserPolicy": true, "DeleteUserPolicy": true,
	"AttachUserPolicy": true, "DetachUserPolicy": true,
}

// IAM errors, worded as AWS words them.

func validationError(field, value, constraint string) *awsError {
	v := "null"
	if value != "" {
		v = "'" + value + "'"
	}
	return &awsError{
		Code:    "ValidationError",
		Message: fmt.Sprintf("1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s", v, field, constraint),
		Status:  http.StatusBadRequest,
	}
}

func noSuchUser(name string) *awsError {
	return &awsError{Code: "NoSuchEntity", Message: fmt.Sprintf("The user with name %s cannot be found.", name), Status: http.StatusNotFound}
}

func noSuchKey(id string) *awsError {
	return &awsError{Code: "NoSuchEntity", Message: fmt.Sprintf("The Access Key with id %s cannot be found.", id), Status: http.StatusNotFound}
}

func noSuchPolicy(name string) *awsError {
	return &awsError{Code: "NoSuchEntity", Message: fmt.Sprintf("The user policy with name %s cannot be found.", name), Status: http.StatusNotFound}
}

func malformedPolicy(msg string) *awsError {
	return &awsError{Code: "MalformedPolicyDocument", Message: msg, Status: http.StatusBadRequest}
}

// requireUserName validates a UserName parameter naming an existing or new
// user (pattern [\w+=,.@-]+).
func requireUserName(p queryParams, maxLen int) (string, *awsError) {
	name := p.get("UserName")
	if name == "" {
		return "", validationError("userName", "", "Member must not be null")
	}
	if len(name) > maxLen {
		return "", validationError("userName", name, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
	}
	if !namePattern.MatchString(name) {
		return "", validationError("userName", name, `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	return name, nil
}

// userFor resolves the user an operation acts on: the UserName parameter if
// given, else the caller (empty for the root user).
func (s *Server) userFor(req *request) (string, *awsError) {
	if !req.params.has("UserName") {
		if req.caller.session != nil {
			return "", &awsError{Code: "ValidationError", Message: "Must specify userName when calling with non-User credentials", Status: http.StatusBadRequest}
		}
		return req.caller.userName, nil
	}
	return requireUserName(req.params, 128)
}

// namedUser is the existing user the required UserName parameter names.
func (s *Server) namedUser(req *request) (*iamUser, *awsError) {
	name, aerr := requireUserName(req.params, 128)
	if aerr != nil {
		return nil, aerr
	}
	return s.existingUser(name)
}

func (s *Server) existingUser(name string) (*iamUser, *awsError) {
	u, ok := s.iam.users[name]
	if !ok {
		return nil, noSuchUser(name)
	}
	return u, nil
}

func requireAccessKeyID(p queryParams) (string, *awsError) {
	id := p.get("AccessKeyId")
	if id == "" {
		return "", validationError("accessKeyId", "", "Member must not be null")
	}
	if !accessKeyPattern.MatchString(id) {
		return "", validationError("accessKeyId", id, `Member must satisfy regular expression pattern: [\w]+`)
	}
	return id, nil
}

// paginate applies IAM's Marker/MaxItems paging. Markers are opaque indexes.
func paginate[T any](items []T, p queryParams) ([]T, bool, string, *awsError) {
	maxItems := 100
	if v := p.get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, false, "", validationError("maxItems", v, "Member must have value between 1 and 1000")
		}
		maxItems = n
	}
	start := 0
	if m := p.get("Marker"); m != "" {
		raw, err := base64.RawURLEncoding.DecodeString(m)
		n, convErr := strconv.Atoi(string(raw))
		if err != nil || convErr != nil || n < 0 || n > len(items) {
			return nil, false, "", &awsError{Code: "InvalidInput", Message: "Invalid Marker.", Status: http.StatusBadRequest}
		}
		start = n
	}
	end := min(start+maxItems, len(items))
	if end < len(items) {
		return items[start:end], true, base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end))), nil
	}
	return items[start:end], false, "", nil
}

// XML shapes of IAM answers.

type xmlTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type xmlUser struct {
	Path       string           `xml:"Path,omitempty"`
	UserName   string           `xml:"UserName,omitempty"`
	UserID     string           `xml:"UserId"`
	Arn        string           `xml:"Arn"`
	CreateDate string           `xml:"CreateDate"`
	Tags       *members[xmlTag] `xml:"Tags,omitempty"`
}

type xmlAccessKeyMetadata struct {
	UserName    string `xml:"UserName"`
	AccessKeyID string `xml:"AccessKeyId"`
	Status      string `xml:"Status"`
	CreateDate  string `xml:"CreateDate"`
}

func iso8601(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func xmlTags(tags []tag) []xmlTag {
	out := make([]xmlTag, 0, len(tags))
	for _, t := range tags {
		out = append(out, xmlTag(t))
	}
	return out
}

func (s *Server) xmlUserOf(u *iamUser, withTags bool) xmlUser {
	x := xmlUser{Path: u.path, UserName: u.name, UserID: u.id, Arn: s.userARN(u), CreateDate: iso8601(u.created)}
	if withTags && len(u.tags) > 0 {
		x.Tags = &members[xmlTag]{Member: xmlTags(u.tags)}
	}
	return x
}

// parseTags reads Tags.member.N.Key/Value.
func parseTags(p queryParams) ([]tag, *awsError) {
	var tags []tag
	for i, m := range p.indexed("Tags.member") {
		t := tag{Key: m["Key"], Value: m["Value"]}
		if !tagKeyPattern.MatchString(t.Key) {
			return nil, validationError(fmt.Sprintf("tags.%d.member.key", i+1), t.Key, `Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+`)
		}
		if !tagValuePattern.MatchString(t.Value) {
			return nil, validationError(fmt.Sprintf("tags.%d.member.value", i+1), t.Value, `Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]*`)
		}
		tags = append(tags, t)
	}
	if len(tags) > maxTagsPerUser {
		return nil, validationError("tags", "", "Member must have length less than or equal to 50")
	}
	return tags, nil
}

// mergeTags sets tags on existing, replacing values of keys already there.
func mergeTags(existing, add []tag) []tag {
	out := append([]tag(nil), existing...)
	for _, t := range add {
		replaced := false
		for i := range out {
			if out[i].Key == t.Key {
				out[i].Value, replaced = t.Value, true
				break
			}
		}
		if !replaced {
			out = append(out, t)
		}
	}
	return out
}

// Users.

type createUserResult struct {
	User xmlUser `xml:"User"`
}

func (s *Server) iamCreateUser(req *request) (any, *awsError) {
	name, aerr := requireUserName(req.params, 64)
	if aerr != nil {
		return nil, aerr
	}
	path := "/"
	if req.params.has("Path") {
		path = req.params.get("Path")
		if len(path) > 512 || !pathPattern.MatchString(path) {
			return nil, validationError("path", path, `Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)`)
		}
	}
	tags, aerr := parseTags(req.params)
	if aerr != nil {
		return nil, aerr
	}
	if _, exists := s.iam.users[name]; exists {
		return nil, &awsError{Code: "EntityAlreadyExists", Message: fmt.Sprintf("User with name %s already exists.", name), Status: http.StatusConflict}
	}
	u := &iamUser{name: name, id: s.newID("AIDA", 17), path: path, created: s.now(), tags: mergeTags(nil, tags), policies: map[string]string{}}
	s.iam.users[name] = u
	return &createUserResult{User: s.xmlUserOf(u, true)}, nil
}

type getUserResult struct {
	User xmlUser `xml:"User"`
}

func (s *Server) iamGetUser(req *request) (any, *awsError) {
	name, aerr := s.userFor(req)
	if aerr != nil {
		return nil, aerr
	}
	if name == "" {
		// The root user has no name, path or tags.
		return &getUserResult{User: xmlUser{UserID: s.account, Arn: "arn:aws:iam::" + s.account + ":root", CreateDate: iso8601(s.rootCreated())}}, nil
	}
	u, aerr := s.existingUser(name)
	if aerr != nil {
		return nil, aerr
	}
	return &getUserResult{User: s.xmlUserOf(u, true)}, nil
}

// rootCreated is when the emulated account was created: before any user.
func (s *Server) rootCreated() time.Time {
	oldest := s.now()
	for _, u := range s.iam.users {
		if u.created.Before(oldest) {
			oldest = u.created
		}
	}
	return oldest.Add(-24 * time.Hour).Truncate(time.Hour)
}

type listUsersResult struct {
	Users       members[xmlUser] `xml:"Users"`
	IsTruncated bool             `xml:"IsTruncated"`
	Marker      string           `xml:"Marker,omitempty"`
}

func (s *Server) sortedUsers() []*iamUser {
	users := make([]*iamUser, 0, len(s.iam.users))
	for _, u := range s.iam.users {
		users = append(users, u)
	}
	sort.Slice(users, func(i, j int) bool { return users[i].name < users[j].name })
	return users
}

func (s *Server) iamListUsers(req *request) (any, *awsError) {
	prefix := req.params.get("PathPrefix")
	var users []xmlUser
	for _, u := range s.sortedUsers() {
		if strings.HasPrefix(u.path, prefix) {
			users = append(users, s.xmlUserOf(u, false))
		}
	}
	page, truncated, marker, aerr := paginate(users, req.params)
	if aerr != nil {
		return nil, aerr
	}
	return &listUsersResult{Users: members[xmlUser]{Member: page}, IsTruncated: truncated, Marker: marker}, nil
}

func (s *Server) iamTagUser(req *request) (any, *awsError) {
	name, aerr := requireUserName(req.params, 128)
	if aerr != nil {
		return nil, aerr
	}
	tags, aerr := parseTags(req.params)
	if aerr != nil {
		return nil, aerr
	}
	if len(tags) == 0 {
		return nil, validationError("tags", "", "Member must not be null")
	}
	u, aerr := s.existingUser(name)
	if aerr != nil {
		return nil, aerr
	}
	merged := mergeTags(u.tags, tags)
	if len(merged) > maxTagsPerUser {
		return nil, &awsError{Code: "LimitExceeded", Message: "The number of tags has reached the maximum limit.", Status: http.StatusConflict}
	}
	u.tags = merged
	return nil, nil
}

type listUserTagsResult struct {
	Tags        members[xmlTag] `xml:"Tags"`
	IsTruncated bool            `xml:"IsTruncated"`
	Marker      string          `xml:"Marker,omitempty"`
}

func (s *Server) iamListUserTags(req *request) (any, *awsError) {
	u, aerr := s.namedUser(req)
	if aerr != nil {
		return nil, aerr
	}
	page, truncated, marker, aerr := paginate(xmlTags(u.tags), req.params)
	if aerr != nil {
		return nil, aerr
	}
	return &listUserTagsResult{Tags: members[xmlTag]{Member: page}, IsTruncated: truncated, Marker: marker}, nil
}

// Access keys.

type xmlAccessKey struct {
	UserName        string `xml:"UserName"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	CreateDate      string `xml:"CreateDate"`
}

type createAccessKeyResult struct {
	AccessKey xmlAccessKey `xml:"AccessKey"`
}

func (s *Server) iamCreateAccessKey(req *request) (any, *awsError) {
	name, aerr := s.userFor(req)
	if aerr != nil {
		return nil, aerr
	}
	if name == "" {
		return nil, validationError("userName", "", "Member must not be null (localaws does not emulate root access keys)")
	}
	u, aerr := s.existingUser(name)
	if aerr != nil {
		return nil, aerr
	}
	if len(s.liveKeys(u)) >= maxKeysPerUser {
		return nil, &awsError{Code: "LimitExceeded", Message: fmt.Sprintf("Cannot exceed quota for AccessKeysPerUser: %d", maxKeysPerUser), Status: http.StatusConflict}
	}
	secret, err := newSecretAccessKey()
	if err != nil {
		return nil, req.svc.serverError(err.Error())
	}
	k := &accessKey{id: s.newAccessKeyID(), user: u.name, secret: secret, status: statusActive, created: s.now()}
	s.iam.keys[k.id] = k
	s.claimKeyID(k.id)
	u.keyIDs = append(u.keyIDs, k.id)
	return &createAccessKeyResult{AccessKey: xmlAccessKey{
		UserName: u.name, AccessKeyID: k.id, Status: k.status, SecretAccessKey: k.secret, CreateDate: iso8601(k.created),
	}}, nil
}

type listAccessKeysResult struct {
	AccessKeyMetadata members[xmlAccessKeyMetadata] `xml:"AccessKeyMetadata"`
	IsTruncated       bool                          `xml:"IsTruncated"`
	Marker            string                        `xml:"Marker,omitempty"`
}

func (s *Server) iamListAccessKeys(req *request) (any, *awsError) {
	name, aerr := s.userFor(req)
	if aerr != nil {
		return nil, aerr
	}
	var metas []xmlAccessKeyMetadata
	if name != "" { // the emulated root user has no keys
		u, aerr := s.existingUser(name)
		if aerr != nil {
			return nil, aerr
		}
		for _, k := range s.liveKeys(u) {
			metas = append(metas, xmlAccessKeyMetadata{UserName: k.user, AccessKeyID: k.id, Status: k.status, CreateDate: iso8601(k.created)})
		}
	}
	page, truncated, marker, aerr := paginate(metas, req.params)
	if aerr != nil {
		return nil, aerr
	}
	return &listAccessKeysResult{AccessKeyMetadata: members[xmlAccessKeyMetadata]{Member: page}, IsTruncated: truncated, Marker: marker}, nil
}

// keyOf resolves the live key an UpdateAccessKey or DeleteAccessKey names.
// As in AWS, a key is looked up among the keys of UserName (or of the
// caller when UserName is absent), so naming another user's key is
// NoSuchEntity.
func (s *Server) keyOf(req *request) (*accessKey, *awsError) {
	id, aerr := requireAccessKeyID(req.params)
	if aerr != nil {
		return nil, aerr
	}
	name, aerr := s.userFor(req)
	if aerr != nil {
		return nil, aerr
	}
	if name != "" {
		if _, aerr := s.existingUser(name); aerr != nil {
			return nil, aerr
		}
	}
	k, ok := s.iam.keys[id]
	if !ok || k.deleted || k.user != name {
		return nil, noSuchKey(id)
	}
	return k, nil
}

func (s *Server) iamUpdateAccessKey(req *request) (any, *awsError) {
	status := req.params.get("Status")
	if status != statusActive && status != statusInactive {
		return nil, validationError("status", status, "Member must satisfy enum value set: [Active, Inactive]")
	}
	k, aerr := s.keyOf(req)
	if aerr != nil {
		return nil, aerr
	}
	k.status = status
	return nil, nil
}

func (s *Server) iamDeleteAccessKey(req *request) (any, *awsError) {
	k, aerr := s.keyOf(req)
	if aerr != nil {
		return nil, aerr
	}
	k.deleted = true
	return nil, nil
}

type xmlAccessKeyLastUsed struct {
	LastUsedDate string `xml:"LastUsedDate,omitempty"`
	ServiceName  string `xml:"ServiceName"`
	Region       string `xml:"Region"`
}

type getAccessKeyLastUsedResult struct {
	UserName          string               `xml:"UserName"`
	AccessKeyLastUsed xmlAccessKeyLastUsed `xml:"AccessKeyLastUsed"`
}

// iamGetAccessKeyLastUsed answers AccessDenied for a key the account does
// not have: the API reference lists no NoSuchEntity for this operation, and
// AWS refuses to say whether a key id exists elsewhere.
func (s *Server) iamGetAccessKeyLastUsed(req *request) (any, *awsError) {
	id, aerr := requireAccessKeyID(req.params)
	if aerr != nil {
		return nil, aerr
	}
	k, ok := s.iam.keys[id]
	if !ok || k.deleted {
		return nil, &awsError{
			Code:    "AccessDenied",
			Message: fmt.Sprintf("User: %s is not authorized to perform: iam:GetAccessKeyLastUsed on resource: access key %s", req.caller.arn, id),
			Status:  http.StatusForbidden,
		}
	}
	used := xmlAccessKeyLastUsed{ServiceName: "N/A", Region: "N/A"}
	if k.lastUsed != nil {
		used = xmlAccessKeyLastUsed{LastUsedDate: iso8601(k.lastUsed.date), ServiceName: k.lastUsed.service, Region: k.lastUsed.region}
	}
	return &getAccessKeyLastUsedResult{UserName: k.user, AccessKeyLastUsed: used}, nil
}

// Inline user policies.

func requirePolicyName(p queryParams) (string, *awsError) {
	name := p.get("PolicyName")
	if name == "" {
		return "", validationError("policyName", "", "Member must not be null")
	}
	if len(name) > 128 {
		return "", validationError("policyName", name, "Member must have length less than or equal to 128")
	}
	if !namePattern.MatchString(name) {
		return "", validationError("policyName", name, `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	return name, nil
}

// validatePolicyDocument checks what IAM checks first: JSON syntax, the
// version, and that each statement has an effect, actions and resources.
func validatePolicyDocument(doc string) *awsError {
	if doc == "" {
		return validationError("policyDocument", "", "Member must not be null")
	}
	if len(doc) > 131072 {
		return validationError("policyDocument", "", "Member must have length less than or equal to 131072")
	}
	var policy map[string]any
	if err := json.Unmarshal([]byte(doc), &policy); err != nil {
		return malformedPolicy("Syntax errors in policy.")
	}
	if v, ok := policy["Version"]; ok && v != "2012-10-17" && v != "2008-10-17" {
		return malformedPolicy("The policy failed legacy parsing")
	}
	var statements []any
	switch st := policy["Statement"].(type) {
	case []any:
		statements = st
	case map[string]any:
		statements = []any{st}
	default:
		return malformedPolicy("Syntax errors in policy.")
	}
	if len(statements) == 0 {
		return malformedPolicy("Syntax errors in policy.")
	}
	for _, raw := range statements {
		st, ok := raw.(map[string]any)
		if !ok {
			return malformedPolicy("Syntax errors in policy.")
		}
		if e := st["Effect"]; e != "Allow" && e != "Deny" {
			return malformedPolicy("Syntax errors in policy.")
		}
		_, action := st["Action"]
		_, notAction := st["NotAction"]
		if !action && !notAction {
			return malformedPolicy("Policy statement must contain actions.")
		}
		_, resource := st["Resource"]
		_, notResource := st["NotResource"]
		if !resource && !notResource {
			return malformedPolicy("Policy statement must contain resources.")
		}
	}
	return nil
}

// policyChars counts a document as IAM's size quota does: without white space.
func policyChars(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

func (s *Server) iamPutUserPolicy(req *request) (any, *awsError) {
	name, aerr := requireUserName(req.params, 128)
	if aerr != nil {
		return nil, aerr
	}
	policyName, aerr := requirePolicyName(req.params)
	if aerr != nil {
		return nil, aerr
	}
	doc := req.params.get("PolicyDocument")
	if aerr := validatePolicyDocument(doc); aerr != nil {
		return nil, aerr
	}
	u, aerr := s.existingUser(name)
	if aerr != nil {
		return nil, aerr
	}
	total := policyChars(doc)
	for other, d := range u.policies {
		if other != policyName {
			total += policyChars(d)
		}
	}
	if total > maxInlinePolicyChars {
		return nil, &awsError{Code: "LimitExceeded", Message: fmt.Sprintf("Maximum policy size of %d bytes exceeded for user %s", maxInlinePolicyChars, name), Status: http.StatusConflict}
	}
	u.policies[policyName] = doc
	return nil, nil
}

type getUserPolicyResult struct {
	UserName       string `xml:"UserName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

func (s *Server) userPolicy(req *request) (*iamUser, string, *awsError) {
	name, aerr := requireUserName(req.params, 128)
	if aerr != nil {
		return nil, "", aerr
	}
	policyName, aerr := requirePolicyName(req.params)
	if aerr != nil {
		return nil, "", aerr
	}
	u, aerr := s.existingUser(name)
	if aerr != nil {
		return nil, "", aerr
	}
	if _, ok := u.policies[policyName]; !ok {
		return nil, "", noSuchPolicy(policyName)
	}
	return u, policyName, nil
}

// iamGetUserPolicy returns the document URL-encoded (RFC 3986), as AWS does.
func (s *Server) iamGetUserPolicy(req *request) (any, *awsError) {
	u, policyName, aerr := s.userPolicy(req)
	if aerr != nil {
		return nil, aerr
	}
	return &getUserPolicyResult{UserName: u.name, PolicyName: policyName, PolicyDocument: rfc3986Escape(u.policies[policyName])}, nil
}

func (s *Server) iamDeleteUserPolicy(req *request) (any, *awsError) {
	u, policyName, aerr := s.userPolicy(req)
	if aerr != nil {
		return nil, aerr
	}
	delete(u.policies, policyName)
	return nil, nil
}

type listUserPoliciesResult struct {
	PolicyNames members[string] `xml:"PolicyNames"`
	IsTruncated bool            `xml:"IsTruncated"`
	Marker      string          `xml:"Marker,omitempty"`
}

func (s *Server) iamListUserPolicies(req *request) (any, *awsError) {
	u, aerr := s.namedUser(req)
	if aerr != nil {
		return nil, aerr
	}
	names := make([]string, 0, len(u.policies))
	for n := range u.policies {
		names = append(names, n)
	}
	sort.Strings(names)
	page, truncated, marker, aerr := paginate(names, req.params)
	if aerr != nil {
		return nil, aerr
	}
	return &listUserPoliciesResult{PolicyNames: members[string]{Member: page}, IsTruncated: truncated, Marker: marker}, nil
}

// rfc3986Escape percent-encodes every byte but the unreserved characters.
func rfc3986Escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// CloudTrail records of IAM writes.

// recordIAMEvent appends the CloudTrail event AWS would record for an IAM
// write, failed or not. It never includes a secret access key. Callers hold
// s.mu.
func (s *Server) recordIAMEvent(req *request, result any, aerr *awsError) {
	p := req.params
	userName := p.get("UserName")
	if userName == "" {
		userName = req.caller.userName
	}
	params := map[string]any{}
	if userName != "" {
		params["userName"] = userName
	}
	resources := []Resource{}
	addResource := func(typ, name string) {
		if name != "" {
			resources = append(resources, Resource{Type: typ, Name: name})
		}
	}
	var response map[string]any
	switch req.op {
	case "CreateUser", "TagUser":
		if req.op == "CreateUser" && p.has("Path") {
			params["path"] = p.get("Path")
		}
		if tags, _ := parseTags(p); len(tags) > 0 {
			list := make([]map[string]string, 0, len(tags))
			for _, t := range tags {
				list = append(list, map[string]string{"key": t.Key, "value": t.Value})
			}
			params["tags"] = list
		}
		if r, ok := result.(*createUserResult); ok {
			response = map[string]any{"user": map[string]any{
				"path": r.User.Path, "userName": r.User.UserName, "userId": r.User.UserID,
				"arn": r.User.Arn, "createDate": cloudTrailDate(s.iam.users[r.User.UserName].created),
			}}
		}
	case "CreateAccessKey":
		if r, ok := result.(*createAccessKeyResult); ok {
			k := s.iam.keys[r.AccessKey.AccessKeyID]
			response = map[string]any{"accessKey": map[string]any{
				"accessKeyId": k.id, "status": k.status, "userName": k.user, "createDate": cloudTrailDate(k.created),
			}}
			addResource("AWS::IAM::AccessKey", k.id)
		}
	case "UpdateAccessKey", "DeleteAccessKey":
		params["accessKeyId"] = p.get("AccessKeyId")
		if req.op == "UpdateAccessKey" {
			params["status"] = p.get("Status")
		}
		addResource("AWS::IAM::AccessKey", p.get("AccessKeyId"))
	case "PutUserPolicy", "DeleteUserPolicy":
		params["policyName"] = p.get("PolicyName")
		if req.op == "PutUserPolicy" {
			params["policyDocument"] = p.get("PolicyDocument")
		}
		addResource("AWS::IAM::Policy", p.get("PolicyName"))
	case "AttachUserPolicy", "DetachUserPolicy":
		params["policyArn"] = p.get("PolicyArn")
		addResource("AWS::IAM::Policy", p.get("PolicyArn"))
	}
	addResource("AWS::IAM::User", userName)

	ev := trailEvent{
		name:        req.op,
		source:      "iam.amazonaws.com",
		time:        s.now(),
		region:      "us-east-1", // IAM is global; CloudTrail records it in us-east-1
		sourceIP:    req.sourceIP,
		userAgent:   req.http.UserAgent(),
		caller:      req.caller,
		resources:   resources,
		requestID:   req.requestID,
		request:     params,
		response:    response,
		readOnly:    false,
		recipientID: s.account,
	}
	if aerr != nil {
		ev.errorCode, ev.errorMessage = aerr.Code, aerr.Message
		ev.response = nil
	}
	s.addTrailEvent(ev)
}

// cloudTrailDate is how CloudTrail writes IAM dates inside responseElements.
func cloudTrailDate(t time.Time) string { return t.UTC().Format("Jan 2, 2006, 3:04:05 PM") }
