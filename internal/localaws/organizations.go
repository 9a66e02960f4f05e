package localaws

import (
	"encoding/base64"
	"net/http"
	"strconv"
)

// The Organizations API (JSON 1.1) keywarden's inventory reads. Each call
// is served by the caller's account (its faults, its call log) and answered
// from the Organization's state. Only the management account and delegated
// administrators may read the organization, except DescribeOrganization,
// which every member may call.

const organizationsTargetPrefix = "AWSOrganizationsV20161128."

func organizationsService() *service {
	ops := map[string]opFunc{
		"DescribeOrganization":             (*Server).orgDescribeOrganization,
		"DescribeAccount":                  (*Server).orgDescribeAccount,
		"ListAccounts":                     (*Server).orgListAccounts,
		"ListAccountsForParent":            (*Server).orgListAccountsForParent,
		"ListRoots":                        (*Server).orgListRoots,
		"ListOrganizationalUnitsForParent": (*Server).orgListOUsForParent,
		"ListParents":                      (*Server).orgListParents,
		"ListTagsForResource":              (*Server).orgListTagsForResource,
	}
	svc := &service{
		name:            "organizations",
		protocol:        jsonProtocol,
		targetPrefixes:  []string{organizationsTargetPrefix},
		ops:             map[string]operation{},
		throttleErr:     awsError{Code: "TooManyRequestsException", Message: "Rate exceeded", Status: http.StatusTooManyRequests},
		serverErr:       awsError{Code: "ServiceException", Message: "AWS Organizations can't complete your request because of an internal service error. Try again later.", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid.", Status: http.StatusBadRequest},
		badRequestCode:  "InvalidInputException",
		errorStatus:     orgErrorStatus,
	}
	for name, fn := range ops {
		// Unlocked: they read the Organization, never this account's state.
		svc.ops[name] = operation{fn: fn, unlocked: true}
	}
	return svc
}

// orgErrorStatus are the HTTP statuses of Organizations' errors, from the
// httpError traits of its service model (aws-sdk-go-v2 service/organizations
// v1.63.0, schemas.go); moto answers 400 for all of them.
var orgErrorStatus = map[string]int{
	"AccessDeniedException":             http.StatusForbidden,
	"AWSOrganizationsNotInUseException": http.StatusNotFound,
	"AccountNotFoundException":          http.StatusNotFound,
	"ParentNotFoundException":           http.StatusNotFound,
	"ChildNotFoundException":            http.StatusNotFound,
	"TargetNotFoundException":           http.StatusNotFound,
	"InvalidInputException":             http.StatusBadRequest,
	"TooManyRequestsException":          http.StatusTooManyRequests,
}

func orgError(code, msg string) *awsError {
	status, ok := orgErrorStatus[code]
	if !ok {
		status = http.StatusBadRequest
	}
	return &awsError{Code: code, Message: msg, Status: status}
}

func invalidInput(reason, msg string) *awsError {
	e := orgError("InvalidInputException", msg)
	e.Fields = map[string]any{"Reason": reason}
	return e
}

// orgFor is the organization the caller may read: an account outside any
// organization gets AWSOrganizationsNotInUseException, a member that is
// neither the management account nor a delegated administrator
// AccessDeniedException (unless anyMember).
func (s *Server) orgFor(anyMember bool) (*Organization, *awsError) {
	account := s.AccountID()
	notInUse := orgError("AWSOrganizationsNotInUseException", "Your account is not a member of an organization.")
	if s.org == nil {
		return nil, notInUse
	}
	o := s.org
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.members[account] == nil {
		return nil, notInUse
	}
	if !anyMember && account != o.management && !o.delegated[account] {
		return nil, orgError("AccessDeniedException", "You don't have permissions to access this resource.")
	}
	return o, nil
}

// orgRead serves a read of the organization: it decodes the input, checks
// that the caller may read the organization (orgFor: the management
// account or a delegated administrator), then answers under the read
// lock.
func orgRead[In any](s *Server, req *request, answer func(o *Organization, in *In) (any, *awsError)) (any, *awsError) {
	var in In
	if aerr := decodeJSON(req.svc, req.body, &in); aerr != nil {
		return nil, aerr
	}
	o, aerr := s.orgFor(false)
	if aerr != nil {
		return nil, aerr
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	return answer(o, &in)
}

// JSON shapes of Organizations answers. Timestamps are epoch seconds.

type orgAccountJSON struct {
	Arn             string  `json:"Arn"`
	Email           string  `json:"Email"`
	ID              string  `json:"Id"`
	JoinedMethod    string  `json:"JoinedMethod"`
	JoinedTimestamp float64 `json:"JoinedTimestamp"`
	Name            string  `json:"Name"`
	Status          string  `json:"Status"`
	State           string  `json:"State"`
}

type orgIDJSON struct {
	ID   string `json:"Id"`
	Arn  string `json:"Arn"`
	Name string `json:"Name"`
}

type orgTagJSON struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// arn builds an Organizations ARN; callers hold o.mu.
func (o *Organization) arn(kind, id string) string {
	return "arn:aws:organizations::" + o.management + ":" + kind + "/" + o.id + "/" + id
}

// accountJSON renders a member; callers hold o.mu.
func (o *Organization) accountJSON(a *orgAccount) orgAccountJSON {
	method := "INVITED"
	if a.id != o.management {
		method = "CREATED"
	}
	return orgAccountJSON{
		Arn: o.arn("account", a.id), Email: a.email, ID: a.id, JoinedMethod: method,
		JoinedTimestamp: epochSeconds(a.joined), Name: a.name, Status: a.status, State: a.status,
	}
}

// pageInput is the paging half of Organizations' list requests.
type pageInput struct {
	NextToken  *string `json:"NextToken"`
	MaxResults *int    `json:"MaxResults"`
}

// page cuts n items at the request's NextToken and MaxResults (1..maxPage,
// default maxPage), returning the range and the next token.
func (p pageInput) page(n, maxPage int) (start, end int, next *string, aerr *awsError) {
	size := maxPage
	if p.MaxResults != nil {
		switch size = *p.MaxResults; {
		case size < 1:
			return 0, 0, nil, invalidInput("MIN_VALUE_EXCEEDED", "You provided a value that is too small for MaxResults.")
		case size > maxPage:
			return 0, 0, nil, invalidInput("MAX_VALUE_EXCEEDED", "You provided a value that is too large for MaxResults.")
		}
	}
	if p.NextToken != nil {
		raw, err := base64.RawURLEncoding.DecodeString(*p.NextToken)
		i, convErr := strconv.Atoi(string(raw))
		if err != nil || convErr != nil || i < 0 || i > n {
			return 0, 0, nil, invalidInput("INVALID_NEXT_TOKEN", "The parameter NextToken is not valid.")
		}
		start = i
	}
	end = min(start+size, n)
	if end < n {
		tok := base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
		next = &tok
	}
	return start, end, next, nil
}

func (s *Server) orgDescribeOrganization(*request) (any, *awsError) {
	o, aerr := s.orgFor(true)
	if aerr != nil {
		return nil, aerr
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	m := o.members[o.management]
	return map[string]any{"Organization": map[string]any{
		"Arn": "arn:aws:organizations::" + o.management + ":organization/" + o.id, "Id": o.id, "FeatureSet": "ALL",
		"MasterAccountArn": o.arn("account", m.id), "MasterAccountId": m.id, "MasterAccountEmail": m.email,
		"AvailablePolicyTypes": []any{},
	}}, nil
}

func (s *Server) orgDescribeAccount(req *request) (any, *awsError) {
	return orgRead(s, req, func(o *Organization, in *describeAccountInput) (any, *awsError) {
		if !accountIDPattern.MatchString(in.AccountID) {
			return nil, invalidInput("INVALID_PATTERN", "You specified a value with an invalid pattern for AccountId.")
		}
		a := o.members[in.AccountID]
		if a == nil {
			return nil, orgError("AccountNotFoundException", "You specified an account that doesn't exist.")
		}
		return map[string]any{"Account": o.accountJSON(a)}, nil
	})
}

func (s *Server) orgListAccounts(req *request) (any, *awsError) {
	return orgRead(s, req, func(o *Organization, in *pageInput) (any, *awsError) {
		start, end, next, aerr := in.page(len(o.order), 20)
		if aerr != nil {
			return nil, aerr
		}
		out := make([]orgAccountJSON, 0, end-start)
		for _, id := range o.order[start:end] {
			out = append(out, o.accountJSON(o.members[id]))
		}
		return withNextToken(map[string]any{"Accounts": out}, next), nil
	})
}

type describeAccountInput struct {
	AccountID string `json:"AccountId"`
}

type listParentsInput struct {
	pageInput
	ChildID string `json:"ChildId"`
}

type listTagsInput struct {
	NextToken  *string `json:"NextToken"`
	ResourceID string  `json:"ResourceId"`
}

type parentInput struct {
	pageInput
	ParentID string `json:"ParentId"`
}

// parent checks a ParentId: a valid id of the root or an existing OU.
// Callers hold o.mu.
func (o *Organization) parent(id string) *awsError {
	switch {
	case id == "":
		return invalidInput("INPUT_REQUIRED", "You must specify a value for ParentId.")
	case !parentIDPattern.MatchString(id):
		return invalidInput("INVALID_PATTERN", "You specified a value with an invalid pattern for ParentId.")
	case id != o.rootID && o.units[id] == nil:
		return orgError("ParentNotFoundException", "We can't find a root or OU with the ParentId that you specified.")
	}
	return nil
}

// children is the requested page of the ids in order (accounts or OUs)
// whose parent is in.ParentID, once the parent is checked: the two
// ...ForParent listings differ only in what they list. Callers hold o.mu.
func (o *Organization) children(in parentInput, order []string, parentOf func(id string) string) ([]string, *string, *awsError) {
	if aerr := o.parent(in.ParentID); aerr != nil {
		return nil, nil, aerr
	}
	var ids []string
	for _, id := range order {
		if parentOf(id) == in.ParentID {
			ids = append(ids, id)
		}
	}
	start, end, next, aerr := in.page(len(ids), 20)
	if aerr != nil {
		return nil, nil, aerr
	}
	return ids[start:end], next, nil
}

func (s *Server) orgListAccountsForParent(req *request) (any, *awsError) {
	return orgRead(s, req, func(o *Organization, in *parentInput) (any, *awsError) {
		ids, next, aerr := o.children(*in, o.order, func(id string) string { return o.members[id].parent })
		if aerr != nil {
			return nil, aerr
		}
		out := make([]orgAccountJSON, 0, len(ids))
		for _, id := range ids {
			out = append(out, o.accountJSON(o.members[id]))
		}
		return withNextToken(map[string]any{"Accounts": out}, next), nil
	})
}

func (s *Server) orgListRoots(req *request) (any, *awsError) {
	return orgRead(s, req, func(o *Organization, in *pageInput) (any, *awsError) {
		if _, _, _, aerr := in.page(1, 20); aerr != nil {
			return nil, aerr
		}
		return map[string]any{"Roots": []map[string]any{{
			"Id": o.rootID, "Arn": o.arn("root", o.rootID), "Name": "Root", "PolicyTypes": []any{},
		}}}, nil
	})
}

func (s *Server) orgListOUsForParent(req *request) (any, *awsError) {
	return orgRead(s, req, func(o *Organization, in *parentInput) (any, *awsError) {
		ids, next, aerr := o.children(*in, o.unitOrder, func(id string) string { return o.units[id].parent })
		if aerr != nil {
			return nil, aerr
		}
		out := make([]orgIDJSON, 0, len(ids))
		for _, id := range ids {
			out = append(out, orgIDJSON{ID: id, Arn: o.arn("ou", id), Name: o.units[id].name})
		}
		return withNextToken(map[string]any{"OrganizationalUnits": out}, next), nil
	})
}

func (s *Server) orgListParents(req *request) (any, *awsError) {
	return orgRead(s, req, func(o *Organization, in *listParentsInput) (any, *awsError) {
		switch {
		case in.ChildID == "":
			return nil, invalidInput("INPUT_REQUIRED", "You must specify a value for ChildId.")
		case !childIDPattern.MatchString(in.ChildID):
			return nil, invalidInput("INVALID_PATTERN", "You specified a value with an invalid pattern for ChildId.")
		}
		if _, _, _, aerr := in.page(1, 20); aerr != nil {
			return nil, aerr
		}
		parent := ""
		if a := o.members[in.ChildID]; a != nil {
			parent = a.parent
		} else if u := o.units[in.ChildID]; u != nil {
			parent = u.parent
		} else {
			return nil, orgError("ChildNotFoundException", "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified.")
		}
		kind := "ORGANIZATIONAL_UNIT"
		if parent == o.rootID {
			kind = "ROOT"
		}
		return map[string]any{"Parents": []map[string]string{{"Id": parent, "Type": kind}}}, nil
	})
}

func (s *Server) orgListTagsForResource(req *request) (any, *awsError) {
	return orgRead(s, req, func(o *Organization, in *listTagsInput) (any, *awsError) {
		switch {
		case in.ResourceID == "":
			return nil, invalidInput("INPUT_REQUIRED", "You must specify a value for ResourceId.")
		case !taggableIDPattern.MatchString(in.ResourceID):
			return nil, invalidInput("INVALID_PATTERN", "You specified a value with an invalid pattern for ResourceId.")
		}
		var tags []tag
		switch a := o.members[in.ResourceID]; {
		case a != nil:
			tags = a.tags
		case in.ResourceID == o.rootID || o.units[in.ResourceID] != nil:
			// Roots and OUs carry no tags in localaws.
		default:
			return nil, orgError("TargetNotFoundException", "We can't find a root, OU, account, or policy with the TargetId that you specified.")
		}
		// One page holds every tag: an account has at most 50.
		if in.NextToken != nil {
			return nil, invalidInput("INVALID_NEXT_TOKEN", "The parameter NextToken is not valid.")
		}
		out := make([]orgTagJSON, 0, len(tags))
		for _, t := range tags {
			out = append(out, orgTagJSON(t))
		}
		return map[string]any{"Tags": out}, nil
	})
}

// withNextToken adds NextToken to a list answer when there is a next page.
func withNextToken(m map[string]any, next *string) map[string]any {
	if next != nil {
		m["NextToken"] = *next
	}
	return m
}
