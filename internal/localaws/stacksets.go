package localaws

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// CloudFormation StackSets, as far as `keywarden doctor` reads them:
// DescribeStackSet and ListStackInstances on the query protocol, with
// CallAs. localaws deploys nothing: a test registers the StackSet and its
// stack instances as it pretends CloudFormation left them (AddStackSet).
//
// CallAs as AWS answers it: a StackSet created as DELEGATED_ADMIN belongs
// to the management account, so the delegated administrator sees it only
// when it calls as DELEGATED_ADMIN (with SELF, its own account holds no
// such StackSet: StackSetNotFoundException). Calling as DELEGATED_ADMIN
// from an account that is not a registered delegated administrator is
// "ValidationError: Account used is not a delegated administrator" (AWS
// says the same when the caller may not call
// organizations:ListDelegatedAdministrators).

// Values of StackSet.CallAs.
const (
	CallAsSelf           = "SELF"
	CallAsDelegatedAdmin = "DELEGATED_ADMIN"
)

// Stack instance statuses (StackInstance.Status) and the detailed ones.
const (
	StackInstanceCurrent    = "CURRENT"
	StackInstanceOutdated   = "OUTDATED"
	StackInstanceInoperable = "INOPERABLE"
)

// stackInstancesPage is ListStackInstances' largest (and default) page.
const stackInstancesPage = 100

var stackSetNamePattern = regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]{0,127}$`)

// StackSet is a StackSet and its stack instances.
type StackSet struct {
	Name        string
	Description string
	// CallAs is how it was created: CallAsSelf (the default) or
	// CallAsDelegatedAdmin; it is read back only as it was created.
	CallAs string
	// Status is ACTIVE (the default) or DELETED.
	Status string
	// PermissionModel is SERVICE_MANAGED (the default) or SELF_MANAGED.
	PermissionModel string
	// AutoDeployment applies to SERVICE_MANAGED StackSets.
	AutoDeployment        bool
	RetainStacksOnRemoval bool
	OrganizationalUnitIDs []string
	Regions               []string
	Capabilities          []string
	ManagedExecution      bool
	Instances             []StackInstance
}

// deployedStackSet is a StackSet with the ids CloudFormation gave it and
// its instances' stacks.
type deployedStackSet struct {
	StackSet
	stackSetID, stackSetARN, lastOperation string
	instanceStackIDs                       []string
}

// StackInstance is one account and region of a StackSet.
type StackInstance struct {
	Account string
	Region  string // default the server's region
	// OrganizationalUnitID is the OU the account was deployed through
	// (SERVICE_MANAGED).
	OrganizationalUnitID string
	// Status is CURRENT (the default), OUTDATED or INOPERABLE.
	Status string
	// DetailedStatus is SUCCEEDED for a CURRENT instance unless set,
	// else FAILED; PENDING, RUNNING, CANCELLED, INOPERABLE,
	// SKIPPED_SUSPENDED_ACCOUNT and FAILED_IMPORT are AWS's others.
	DetailedStatus string
	StatusReason   string
}

type stackSetState struct {
	sets map[string]*deployedStackSet // by name
}

// AddStackSet registers a StackSet (and its instances) as if it were
// created and deployed, replacing one of the same name.
func (s *Server) AddStackSet(def StackSet) error {
	set := deployedStackSet{StackSet: def}
	if !stackSetNamePattern.MatchString(set.Name) {
		return fmt.Errorf("localaws: StackSet name %q: want a letter, then up to 127 letters, digits and hyphens", set.Name)
	}
	set.CallAs = orDefault(set.CallAs, CallAsSelf)
	set.Status = orDefault(set.Status, "ACTIVE")
	set.PermissionModel = orDefault(set.PermissionModel, "SERVICE_MANAGED")
	switch {
	case set.CallAs != CallAsSelf && set.CallAs != CallAsDelegatedAdmin:
		return fmt.Errorf("localaws: StackSet %s: CallAs %q: want SELF or DELEGATED_ADMIN", set.Name, set.CallAs)
	case set.Status != "ACTIVE" && set.Status != "DELETED":
		return fmt.Errorf("localaws: StackSet %s: status %q: want ACTIVE or DELETED", set.Name, set.Status)
	case set.PermissionModel != "SERVICE_MANAGED" && set.PermissionModel != "SELF_MANAGED":
		return fmt.Errorf("localaws: StackSet %s: permission model %q", set.Name, set.PermissionModel)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	set.Instances = slices.Clone(set.Instances)
	set.stackSetID = set.Name + ":" + s.newUUID()
	// A StackSet created by a delegated administrator belongs to the
	// management account.
	owner := s.account
	if set.CallAs == CallAsDelegatedAdmin && s.org != nil {
		owner = s.org.managementID()
	}
	set.stackSetARN = fmt.Sprintf("arn:aws:cloudformation:%s:%s:stackset/%s", s.region, owner, set.stackSetID)
	set.lastOperation = s.newUUID()
	set.instanceStackIDs = make([]string, len(set.Instances))
	for i, in := range set.Instances {
		if !accountIDPattern.MatchString(in.Account) {
			return fmt.Errorf("localaws: StackSet %s: instance account %q: want 12 digits", set.Name, in.Account)
		}
		in.Region = orDefault(in.Region, s.region)
		in.Status = orDefault(in.Status, StackInstanceCurrent)
		switch in.Status {
		case StackInstanceCurrent:
			in.DetailedStatus = orDefault(in.DetailedStatus, "SUCCEEDED")
		case StackInstanceOutdated:
			in.DetailedStatus = orDefault(in.DetailedStatus, "FAILED")
		case StackInstanceInoperable:
			in.DetailedStatus = orDefault(in.DetailedStatus, "INOPERABLE")
		default:
			return fmt.Errorf("localaws: StackSet %s: instance %s status %q: want CURRENT, OUTDATED or INOPERABLE", set.Name, in.Account, in.Status)
		}
		set.Instances[i] = in
		set.instanceStackIDs[i] = fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/StackSet-%s-%s/%s", in.Region, in.Account, set.Name, s.newUUID()[:8], s.newUUID())
	}
	// ListStackInstances answers by account, then region.
	order := make([]int, len(set.Instances))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := set.Instances[order[a]], set.Instances[order[b]]
		return x.Account < y.Account || x.Account == y.Account && x.Region < y.Region
	})
	instances, ids := make([]StackInstance, len(order)), make([]string, len(order))
	for i, j := range order {
		instances[i], ids[i] = set.Instances[j], set.instanceStackIDs[j]
	}
	set.Instances, set.instanceStackIDs = instances, ids
	if s.stackSets.sets == nil {
		s.stackSets.sets = map[string]*deployedStackSet{}
	}
	s.stackSets.sets[set.Name] = &set
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// managementID is the organization's management account.
func (o *Organization) managementID() string {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.management
}

// isDelegatedAdmin: the account is a registered delegated administrator
// of its organization.
func (s *Server) isDelegatedAdmin() bool {
	if s.org == nil {
		return false
	}
	s.org.mu.RLock()
	defer s.org.mu.RUnlock()
	return s.org.delegated[s.account]
}

// findStackSet finds a StackSet by name or id as the caller sees it with
// its CallAs. Callers hold s.mu.
func (s *Server) findStackSet(req *request) (*deployedStackSet, *awsError) {
	callAs := orDefault(req.params.get("CallAs"), CallAsSelf)
	if callAs != CallAsSelf && callAs != CallAsDelegatedAdmin {
		return nil, cfnValidation(fmt.Sprintf("1 validation error detected: Value '%s' at 'callAs' failed to satisfy constraint: Member must satisfy enum value set: [SELF, DELEGATED_ADMIN]", callAs))
	}
	name := req.params.get("StackSetName")
	if name == "" {
		return nil, cfnValidation("1 validation error detected: Value null at 'stackSetName' failed to satisfy constraint: Member must not be null")
	}
	if callAs == CallAsDelegatedAdmin && !s.isDelegatedAdmin() {
		return nil, cfnValidation("Account used is not a delegated administrator")
	}
	for _, set := range s.stackSets.sets {
		if (set.Name == name || set.stackSetID == name) && set.CallAs == callAs {
			return set, nil
		}
	}
	return nil, &awsError{Code: "StackSetNotFoundException", Message: fmt.Sprintf("StackSet %s not found", name), Status: http.StatusNotFound}
}

type xmlAutoDeployment struct {
	Enabled                      bool `xml:"Enabled"`
	RetainStacksOnAccountRemoval bool `xml:"RetainStacksOnAccountRemoval"`
}

type xmlManagedExecution struct {
	Active bool `xml:"Active"`
}

type xmlStackSet struct {
	StackSetName          string               `xml:"StackSetName"`
	StackSetID            string               `xml:"StackSetId"`
	Description           string               `xml:"Description,omitempty"`
	Status                string               `xml:"Status"`
	StackSetARN           string               `xml:"StackSetARN"`
	PermissionModel       string               `xml:"PermissionModel"`
	AutoDeployment        *xmlAutoDeployment   `xml:"AutoDeployment,omitempty"`
	OrganizationalUnitIDs members[string]      `xml:"OrganizationalUnitIds"`
	Regions               members[string]      `xml:"Regions"`
	Capabilities          members[string]      `xml:"Capabilities"`
	ManagedExecution      *xmlManagedExecution `xml:"ManagedExecution"`
}

type describeStackSetResult struct {
	StackSet xmlStackSet `xml:"StackSet"`
}

// cfnDescribeStackSet describes a StackSet by name or id.
func (s *Server) cfnDescribeStackSet(req *request) (any, *awsError) {
	set, aerr := s.findStackSet(req)
	if aerr != nil {
		return nil, aerr
	}
	v := xmlStackSet{
		StackSetName: set.Name, StackSetID: set.stackSetID, Description: set.Description, Status: set.Status,
		StackSetARN: set.stackSetARN, PermissionModel: set.PermissionModel,
		OrganizationalUnitIDs: members[string]{Member: set.OrganizationalUnitIDs},
		Regions:               members[string]{Member: set.Regions},
		Capabilities:          members[string]{Member: set.Capabilities},
		ManagedExecution:      &xmlManagedExecution{Active: set.ManagedExecution},
	}
	if set.PermissionModel == "SERVICE_MANAGED" {
		v.AutoDeployment = &xmlAutoDeployment{Enabled: set.AutoDeployment, RetainStacksOnAccountRemoval: set.RetainStacksOnRemoval}
	}
	return &describeStackSetResult{StackSet: v}, nil
}

type xmlStackInstanceStatus struct {
	DetailedStatus string `xml:"DetailedStatus"`
}

type xmlStackInstanceSummary struct {
	StackSetID           string                 `xml:"StackSetId"`
	Region               string                 `xml:"Region"`
	Account              string                 `xml:"Account"`
	StackID              string                 `xml:"StackId"`
	Status               string                 `xml:"Status"`
	StatusReason         string                 `xml:"StatusReason,omitempty"`
	StackInstanceStatus  xmlStackInstanceStatus `xml:"StackInstanceStatus"`
	OrganizationalUnitID string                 `xml:"OrganizationalUnitId,omitempty"`
	DriftStatus          string                 `xml:"DriftStatus"`
	LastOperationID      string                 `xml:"LastOperationId"`
}

type listStackInstancesResult struct {
	Summaries members[xmlStackInstanceSummary] `xml:"Summaries"`
	NextToken string                           `xml:"NextToken,omitempty"`
}

// cfnListStackInstances pages through a StackSet's instances (by account,
// then region), optionally of one account or region.
func (s *Server) cfnListStackInstances(req *request) (any, *awsError) {
	set, aerr := s.findStackSet(req)
	if aerr != nil {
		return nil, aerr
	}
	size := stackInstancesPage
	if v := req.params.get("MaxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > stackInstancesPage {
			return nil, cfnValidation(fmt.Sprintf("1 validation error detected: Value '%s' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100", v))
		}
		size = n
	}
	account, region := req.params.get("StackInstanceAccount"), req.params.get("StackInstanceRegion")
	var match []int
	for i, in := range set.Instances {
		if (account == "" || in.Account == account) && (region == "" || in.Region == region) {
			match = append(match, i)
		}
	}
	start := 0
	if tok := req.params.get("NextToken"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "page-"))
		if err != nil || !strings.HasPrefix(tok, "page-") || n < 0 || n > len(match) {
			return nil, cfnValidation("Invalid NextToken")
		}
		start = n
	}
	end := min(start+size, len(match))
	out := &listStackInstancesResult{}
	for _, i := range match[start:end] {
		in := set.Instances[i]
		out.Summaries.Member = append(out.Summaries.Member, xmlStackInstanceSummary{
			StackSetID: set.stackSetID, Region: in.Region, Account: in.Account, StackID: set.instanceStackIDs[i],
			Status: in.Status, StatusReason: in.StatusReason, StackInstanceStatus: xmlStackInstanceStatus{DetailedStatus: in.DetailedStatus},
			OrganizationalUnitID: in.OrganizationalUnitID, DriftStatus: "NOT_CHECKED", LastOperationID: set.lastOperation,
		})
	}
	if end < len(match) {
		out.NextToken = "page-" + strconv.Itoa(end)
	}
	return out, nil
}
