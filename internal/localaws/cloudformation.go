package localaws

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

const cloudFormationNamespace = "http://cloudformation.amazonaws.com/doc/2010-05-15/"

// stackResourcesPage is how many resources ListStackResources answers per
// page.
const stackResourcesPage = 100

var stackNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)

// Stack is a deployed CloudFormation stack, as DescribeStacks and
// ListStackResources show it. localaws does not deploy templates: a test or
// drill registers the stack it pretends was deployed.
type Stack struct {
	Name string
	// Status is the stack status; default CREATE_COMPLETE.
	Status string
	// Created is the creation time; default the server clock.
	Created   time.Time
	Outputs   []StackOutput
	Resources []StackResource
}

// StackOutput is one output of a stack.
type StackOutput struct {
	Key, Value, Description string
}

// StackResource is one resource of a stack.
type StackResource struct {
	LogicalID  string
	PhysicalID string
	Type       string // e.g. "AWS::Events::Rule"
	// Status is the resource status; default CREATE_COMPLETE.
	Status string
}

type stackState struct {
	stacks map[string]*deployedStack // by name
}

func (st *stackState) init() { st.stacks = map[string]*deployedStack{} }

type deployedStack struct {
	Stack
	id string
}

// AddStack registers a stack as if it were deployed and returns its id (an
// ARN). A stack of the same name is replaced.
func (s *Server) AddStack(st Stack) (string, error) {
	if !stackNamePattern.MatchString(st.Name) {
		return "", fmt.Errorf("localaws: stack name %q: want a letter, then up to 127 letters, digits and hyphens", st.Name)
	}
	for _, r := range st.Resources {
		if r.LogicalID == "" || r.Type == "" {
			return "", fmt.Errorf("localaws: stack %s: a resource needs a logical id and a type: %+v", st.Name, r)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.Status == "" {
		st.Status = "CREATE_COMPLETE"
	}
	if st.Created.IsZero() {
		st.Created = s.now()
	}
	st.Outputs = append([]StackOutput(nil), st.Outputs...)
	st.Resources = append([]StackResource(nil), st.Resources...)
	id := fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/%s", s.region, s.account, st.Name, s.newUUID())
	s.stacks.stacks[st.Name] = &deployedStack{Stack: st, id: id}
	return id, nil
}

func cloudFormationService() *service {
	return &service{
		name:     "cloudformation",
		protocol: queryProtocol,
		xmlns:    cloudFormationNamespace,
		ops: map[string]operation{
			"DescribeStacks":     {fn: (*Server).cfnDescribeStacks},
			"ListStackResources": {fn: (*Server).cfnListStackResources},
			"DescribeStackSet":   {fn: (*Server).cfnDescribeStackSet},
			"ListStackInstances": {fn: (*Server).cfnListStackInstances},
		},
		throttleErr:     awsError{Code: "Throttling", Message: "Rate exceeded", Status: http.StatusBadRequest},
		serverErr:       awsError{Code: "InternalFailure", Message: "An internal error occurred.", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden},
		badRequestCode:  "ValidationError",
	}
}

func cfnValidation(msg string) *awsError {
	return &awsError{Code: "ValidationError", Message: msg, Status: http.StatusBadRequest}
}

// findStack looks a stack up by name or id, as CloudFormation accepts
// either. Callers hold s.mu.
func (s *Server) findStack(nameOrID string) (*deployedStack, *awsError) {
	if st, ok := s.stacks.stacks[nameOrID]; ok {
		return st, nil
	}
	for _, st := range s.stacks.stacks {
		if st.id == nameOrID {
			return st, nil
		}
	}
	return nil, cfnValidation(fmt.Sprintf("Stack with id %s does not exist", nameOrID))
}

type cfnOutput struct {
	OutputKey   string `xml:"OutputKey"`
	OutputValue string `xml:"OutputValue"`
	Description string `xml:"Description,omitempty"`
}

type cfnStack struct {
	StackID      string             `xml:"StackId"`
	StackName    string             `xml:"StackName"`
	CreationTime string             `xml:"CreationTime"`
	StackStatus  string             `xml:"StackStatus"`
	Outputs      members[cfnOutput] `xml:"Outputs"`
}

type describeStacksResult struct {
	Stacks members[cfnStack] `xml:"Stacks"`
}

// cfnDescribeStacks describes one stack by name or id, or every stack.
func (s *Server) cfnDescribeStacks(req *request) (any, *awsError) {
	var list []*deployedStack
	if name := req.params.get("StackName"); name != "" {
		st, aerr := s.findStack(name)
		if aerr != nil {
			return nil, aerr
		}
		list = append(list, st)
	} else {
		for _, st := range s.stacks.stacks {
			list = append(list, st)
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	}
	out := &describeStacksResult{}
	for _, st := range list {
		v := cfnStack{StackID: st.id, StackName: st.Name, CreationTime: iso8601(st.Created), StackStatus: st.Status}
		for _, o := range st.Outputs {
			v.Outputs.Member = append(v.Outputs.Member, cfnOutput{OutputKey: o.Key, OutputValue: o.Value, Description: o.Description})
		}
		out.Stacks.Member = append(out.Stacks.Member, v)
	}
	return out, nil
}

type cfnResourceSummary struct {
	LogicalResourceID    string `xml:"LogicalResourceId"`
	PhysicalResourceID   string `xml:"PhysicalResourceId,omitempty"`
	ResourceType         string `xml:"ResourceType"`
	LastUpdatedTimestamp string `xml:"LastUpdatedTimestamp"`
	ResourceStatus       string `xml:"ResourceStatus"`
}

type listStackResourcesResult struct {
	StackResourceSummaries members[cfnResourceSummary] `xml:"StackResourceSummaries"`
	NextToken              string                      `xml:"NextToken,omitempty"`
}

// cfnListStackResources pages through a stack's resources in the order
// they were registered.
func (s *Server) cfnListStackResources(req *request) (any, *awsError) {
	name := req.params.get("StackName")
	if name == "" {
		return nil, cfnValidation("1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null")
	}
	st, aerr := s.findStack(name)
	if aerr != nil {
		return nil, aerr
	}
	start := 0
	if tok := req.params.get("NextToken"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "page-"))
		if err != nil || !strings.HasPrefix(tok, "page-") || n < 0 || n > len(st.Resources) {
			return nil, cfnValidation("Invalid NextToken")
		}
		start = n
	}
	end := min(start+stackResourcesPage, len(st.Resources))
	out := &listStackResourcesResult{}
	for _, r := range st.Resources[start:end] {
		status := r.Status
		if status == "" {
			status = "CREATE_COMPLETE"
		}
		out.StackResourceSummaries.Member = append(out.StackResourceSummaries.Member, cfnResourceSummary{
			LogicalResourceID: r.LogicalID, PhysicalResourceID: r.PhysicalID, ResourceType: r.Type,
			LastUpdatedTimestamp: iso8601(st.Created), ResourceStatus: status,
		})
	}
	if end < len(st.Resources) {
		out.NextToken = "page-" + strconv.Itoa(end)
	}
	return out, nil
}
