package localaws

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// IAM roles: seeded from Go (CreateRole), read with GetRole, assumed with
// STS AssumeRole (sts.go), whose trust check is trust.go's.

// Role is an IAM role to create with CreateRole.
type Role struct {
	Name string
	Path string // default "/"
	// TrustPolicy is the role's trust policy (AssumeRolePolicyDocument), a
	// JSON document in the subset trust.go evaluates.
	TrustPolicy string
	// MaxSessionDuration caps DurationSeconds: 1 to 12 hours, default 1.
	MaxSessionDuration time.Duration
}

type iamRole struct {
	name, path, id string
	trustDoc       string
	trust          *trustPolicy
	maxSession     time.Duration
	created        time.Time
}

func (s *Server) roleARN(r *iamRole) string {
	return "arn:aws:iam::" + s.account + ":role" + r.path + r.name
}

// CreateRole adds a role to the account and returns its ARN. A trust policy
// outside what localaws evaluates is an error, never a role that trusts too
// much or too little.
func (s *Server) CreateRole(r Role) (string, error) {
	if r.Path == "" {
		r.Path = "/"
	}
	if r.MaxSessionDuration == 0 {
		r.MaxSessionDuration = time.Hour
	}
	switch {
	case len(r.Name) > 64 || !namePattern.MatchString(r.Name):
		return "", fmt.Errorf("localaws: role name %q: want 1-64 of [\\w+=,.@-]", r.Name)
	case len(r.Path) > 512 || !pathPattern.MatchString(r.Path):
		return "", fmt.Errorf("localaws: role %s: path %q: want / or /a/b/", r.Name, r.Path)
	case r.MaxSessionDuration < time.Hour || r.MaxSessionDuration > 12*time.Hour || r.MaxSessionDuration%time.Second != 0:
		return "", fmt.Errorf("localaws: role %s: max session duration %s: want whole seconds from 1h to 12h", r.Name, r.MaxSessionDuration)
	}
	trust, err := parseTrustPolicy(r.TrustPolicy)
	if err != nil {
		return "", fmt.Errorf("localaws: role %s: %w", r.Name, err)
	}
	for _, st := range trust.statements {
		for _, p := range st.principals {
			if !s.principalExists(p) {
				// What makes a stack roll-out fail when it trusts a role
				// that is not deployed yet.
				return "", fmt.Errorf("localaws: role %s: MalformedPolicyDocument: Invalid principal in policy: \"AWS\":\"%s\"", r.Name, p)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.iam.roles[r.Name]; taken {
		return "", fmt.Errorf("localaws: role %s already exists", r.Name)
	}
	role := &iamRole{name: r.Name, path: r.Path, id: s.newID("AROA", 17), trustDoc: r.TrustPolicy, trust: trust, maxSession: r.MaxSessionDuration, created: s.now()}
	s.iam.roles[r.Name] = role
	return s.roleARN(role), nil
}

// principalExists reports whether a trust policy principal names something
// that exists: an account id always does; a role or user ARN must name one
// in its account when the emulator holds that account (IAM checks
// principals when the policy is written). Callers do not hold s.mu.
func (s *Server) principalExists(p string) bool {
	m := principalARNForm.FindStringSubmatch(p)
	if m == nil {
		return true
	}
	owner := s.accountServer(m[1])
	if owner == nil {
		return true
	}
	kind, rest, _ := strings.Cut(m[2], "/")
	i := strings.LastIndex(rest, "/")
	path, name := "/"+rest[:i+1], rest[i+1:]
	owner.mu.Lock()
	defer owner.mu.Unlock()
	if kind == "role" {
		r := owner.iam.roles[name]
		return r != nil && r.path == path
	}
	u := owner.iam.users[name]
	return u != nil && u.path == path
}

// DeleteRole removes a role, as when a member stack is deleted; sessions
// already issued for it keep working until they expire, as in AWS.
func (s *Server) DeleteRole(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.iam.roles[name]; !ok {
		return fmt.Errorf("localaws: no role %s", name)
	}
	delete(s.iam.roles, name)
	return nil
}

type xmlRole struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleID                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument"`
	MaxSessionDuration       int    `xml:"MaxSessionDuration"`
}

type getRoleResult struct {
	Role xmlRole `xml:"Role"`
}

func (s *Server) iamGetRole(req *request) (any, *awsError) {
	name := req.params.get("RoleName")
	switch {
	case name == "":
		return nil, validationError("roleName", "", "Member must not be null")
	case len(name) > 64:
		return nil, validationError("roleName", name, "Member must have length less than or equal to 64")
	case !namePattern.MatchString(name):
		return nil, validationError("roleName", name, `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	r, ok := s.iam.roles[name]
	if !ok {
		return nil, &awsError{Code: "NoSuchEntity", Message: fmt.Sprintf("The role with name %s cannot be found.", name), Status: http.StatusNotFound}
	}
	return &getRoleResult{Role: xmlRole{
		Path: r.path, RoleName: r.name, RoleID: r.id, Arn: s.roleARN(r), CreateDate: iso8601(r.created),
		// IAM returns the document URL-encoded, as GetUserPolicy does.
		AssumeRolePolicyDocument: rfc3986Escape(r.trustDoc),
		MaxSessionDuration:       int(r.maxSession / time.Second),
	}}, nil
}
