package localaws

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
)

// Managed policies: the stack's fixed deny policy that the revoke step
// attaches with revokeWith attachedPolicy. Policies are created with the
// Go setter CreateManagedPolicy (the stack creates its policy through
// CloudFormation, which localaws does not run); users attach and detach
// them through the API.

// maxAttachedPerUser is IAM's default quota of managed policies attached
// to one user (adjustable up to 20).
const maxAttachedPerUser = 10

type managedPolicy struct {
	name, arn, document string
}

// managedPolicyArnPattern is a policy ARN of this emulator's form, with
// its path.
var managedPolicyArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/[\w+=,.@/-]+$`)

// CreateManagedPolicy creates a customer managed policy named name, with
// the given document, as a deployed stack would have it, and returns its
// ARN. Creating it again replaces the document.
func (s *Server) CreateManagedPolicy(name, document string) (string, error) {
	return s.CreateManagedPolicyAt("/", name, document)
}

// CreateManagedPolicyAt is CreateManagedPolicy under a path ("/a/b/"), as
// a template's ManagedPolicy with a Path has it: the ARN carries the path.
func (s *Server) CreateManagedPolicyAt(path, name, document string) (string, error) {
	if len(path) > 512 || !pathPattern.MatchString(path) {
		return "", fmt.Errorf("localaws: policy %s: path %q: want / or /a/b/", name, path)
	}
	if len(name) == 0 || len(name) > 128 || !namePattern.MatchString(name) {
		return "", fmt.Errorf("localaws: policy name %q: want 1-128 of letters, digits and +=,.@_-", name)
	}
	if aerr := validatePolicyDocument(document); aerr != nil {
		return "", fmt.Errorf("localaws: policy %s: %s", name, aerr.Message)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	arn := "arn:aws:iam::" + s.account + ":policy" + path + name
	s.iam.managed[arn] = &managedPolicy{name: name, arn: arn, document: document}
	return arn, nil
}

// AttachedUserPolicies returns the ARNs of the managed policies attached to
// user, in attach order; nil if there is no such user.
func (s *Server) AttachedUserPolicies(user string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.iam.users[user]
	if !ok {
		return nil
	}
	return append([]string{}, u.attached...)
}

func requirePolicyArn(p queryParams) (string, *awsError) {
	arn := p.get("PolicyArn")
	if arn == "" {
		return "", validationError("policyArn", "", "Member must not be null")
	}
	if len(arn) < 20 || len(arn) > 2048 || !managedPolicyArnPattern.MatchString(arn) {
		return "", &awsError{Code: "InvalidInput", Message: fmt.Sprintf("ARN %s is not valid.", arn), Status: http.StatusBadRequest}
	}
	return arn, nil
}

// userAndPolicyArn reads the user and the policy ARN of Attach and
// DetachUserPolicy: the user must exist.
func (s *Server) userAndPolicyArn(req *request) (*iamUser, string, *awsError) {
	name, aerr := requireUserName(req.params, 128)
	if aerr != nil {
		return nil, "", aerr
	}
	arn, aerr := requirePolicyArn(req.params)
	if aerr != nil {
		return nil, "", aerr
	}
	u, aerr := s.existingUser(name)
	if aerr != nil {
		return nil, "", aerr
	}
	return u, arn, nil
}

// iamAttachUserPolicy attaches an existing managed policy; attaching one
// already attached succeeds and changes nothing (IAM lists no error for
// it), and the 11th distinct policy is refused with LimitExceeded.
func (s *Server) iamAttachUserPolicy(req *request) (any, *awsError) {
	u, arn, aerr := s.userAndPolicyArn(req)
	if aerr != nil {
		return nil, aerr
	}
	if _, ok := s.iam.managed[arn]; !ok {
		return nil, &awsError{Code: "NoSuchEntity", Message: fmt.Sprintf("Policy %s does not exist or is not attachable.", arn), Status: http.StatusNotFound}
	}
	if slices.Contains(u.attached, arn) {
		return nil, nil
	}
	if len(u.attached) >= maxAttachedPerUser {
		return nil, &awsError{Code: "LimitExceeded", Message: fmt.Sprintf("Cannot exceed quota for PoliciesPerUser: %d", maxAttachedPerUser), Status: http.StatusConflict}
	}
	u.attached = append(u.attached, arn)
	return nil, nil
}

// iamDetachUserPolicy detaches a policy; one not attached is NoSuchEntity.
func (s *Server) iamDetachUserPolicy(req *request) (any, *awsError) {
	u, arn, aerr := s.userAndPolicyArn(req)
	if aerr != nil {
		return nil, aerr
	}
	i := slices.Index(u.attached, arn)
	if i < 0 {
		return nil, &awsError{Code: "NoSuchEntity", Message: fmt.Sprintf("Policy %s was not found.", arn), Status: http.StatusNotFound}
	}
	u.attached = slices.Delete(u.attached, i, i+1)
	return nil, nil
}

type xmlAttachedPolicy struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

type listAttachedUserPoliciesResult struct {
	AttachedPolicies members[xmlAttachedPolicy] `xml:"AttachedPolicies"`
	IsTruncated      bool                       `xml:"IsTruncated"`
	Marker           string                     `xml:"Marker,omitempty"`
}

func (s *Server) iamListAttachedUserPolicies(req *request) (any, *awsError) {
	u, aerr := s.namedUser(req)
	if aerr != nil {
		return nil, aerr
	}
	list := make([]xmlAttachedPolicy, 0, len(u.attached))
	for _, arn := range u.attached {
		name := arn
		if p, ok := s.iam.managed[arn]; ok {
			name = p.name
		}
		list = append(list, xmlAttachedPolicy{PolicyName: name, PolicyArn: arn})
	}
	page, truncated, marker, aerr := paginate(list, req.params)
	if aerr != nil {
		return nil, aerr
	}
	return &listAttachedUserPoliciesResult{AttachedPolicies: members[xmlAttachedPolicy]{Member: page}, IsTruncated: truncated, Marker: marker}, nil
}
