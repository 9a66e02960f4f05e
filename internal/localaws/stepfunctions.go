package localaws

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Step Functions speaks JSON 1.0. The drill runs executions in
// internal/sfnlocal (a real ASL interpreter); localaws keeps only a
// history of executions a test registers, for ListExecutions.
const statesTargetPrefix = "AWSStepFunctions."

var executionNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// Execution statuses, as Step Functions names them.
const (
	ExecutionRunning   = "RUNNING"
	ExecutionSucceeded = "SUCCEEDED"
	ExecutionFailed    = "FAILED"
	ExecutionTimedOut  = "TIMED_OUT"
	ExecutionAborted   = "ABORTED"
)

// StateMachineExecution is an execution as ListExecutions lists it.
type StateMachineExecution struct {
	StateMachineArn string
	Name            string
	Status          string
	Start           time.Time
	// Stop is when it ended; zero while RUNNING.
	Stop time.Time
}

type statesState struct {
	machines map[string][]StateMachineExecution // by state machine ARN
}

func (st *statesState) init() { st.machines = map[string][]StateMachineExecution{} }

// AddStateMachine registers a state machine by name and returns its ARN.
func (s *Server) AddStateMachine(name string) (string, error) {
	if !executionNamePattern.MatchString(name) {
		return "", fmt.Errorf("localaws: state machine name %q: want 1-80 of letters, digits, '-' and '_'", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	arn := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", s.region, s.account, name)
	if _, ok := s.states.machines[arn]; !ok {
		s.states.machines[arn] = nil
	}
	return arn, nil
}

// AddExecution records a past or running execution of a registered state
// machine and returns its ARN.
func (s *Server) AddExecution(e StateMachineExecution) (string, error) {
	if !executionNamePattern.MatchString(e.Name) {
		return "", fmt.Errorf("localaws: execution name %q: want 1-80 of letters, digits, '-' and '_'", e.Name)
	}
	switch e.Status {
	case ExecutionRunning, ExecutionSucceeded, ExecutionFailed, ExecutionTimedOut, ExecutionAborted:
	default:
		return "", fmt.Errorf("localaws: execution %s: status %q: want RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED", e.Name, e.Status)
	}
	if e.Start.IsZero() || e.Status != ExecutionRunning && e.Stop.Before(e.Start) {
		return "", fmt.Errorf("localaws: execution %s: want a start time, and a stop time after it unless RUNNING", e.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list, ok := s.states.machines[e.StateMachineArn]
	if !ok {
		return "", fmt.Errorf("localaws: no state machine %s (AddStateMachine first)", e.StateMachineArn)
	}
	for _, x := range list {
		if x.Name == e.Name {
			return "", fmt.Errorf("localaws: execution %s exists", e.Name)
		}
	}
	s.states.machines[e.StateMachineArn] = append(list, e)
	return executionArn(e.StateMachineArn, e.Name), nil
}

func executionArn(machineArn, name string) string {
	return strings.Replace(machineArn, ":stateMachine:", ":execution:", 1) + ":" + name
}

func statesService() *service {
	return &service{
		name:           "states",
		protocol:       jsonProtocol,
		targetPrefixes: []string{statesTargetPrefix},
		jsonVersion:    "1.0",
		ops: map[string]operation{
			"ListExecutions": {fn: (*Server).statesListExecutions},
		},
		throttleErr:     awsError{Code: "ThrottlingException", Message: "Rate exceeded", Status: http.StatusBadRequest},
		serverErr:       awsError{Code: "InternalFailure", Message: "An internal error occurred.", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid.", Status: http.StatusBadRequest},
		badRequestCode:  "SerializationException",
	}
}

type listExecutionsInput struct {
	StateMachineArn string `json:"stateMachineArn"`
	StatusFilter    string `json:"statusFilter"`
	MaxResults      int    `json:"maxResults"`
	NextToken       string `json:"nextToken"`
}

type executionListItem struct {
	ExecutionArn    string   `json:"executionArn"`
	StateMachineArn string   `json:"stateMachineArn"`
	Name            string   `json:"name"`
	Status          string   `json:"status"`
	StartDate       float64  `json:"startDate"`
	StopDate        *float64 `json:"stopDate,omitempty"`
}

type listExecutionsOutput struct {
	Executions []executionListItem `json:"executions"`
	NextToken  string              `json:"nextToken,omitempty"`
}

type executionsToken struct {
	Machine string `json:"m"`
	Offset  int    `json:"o"`
}

// statesListExecutions lists a state machine's executions newest first,
// maxResults (default 100, at most 1000) per page.
func (s *Server) statesListExecutions(req *request) (any, *awsError) {
	var in listExecutionsInput
	if aerr := decodeJSON(req.svc, req.body, &in); aerr != nil {
		return nil, aerr
	}
	if !strings.HasPrefix(in.StateMachineArn, "arn:aws:states:") || !strings.Contains(in.StateMachineArn, ":stateMachine:") {
		return nil, &awsError{Code: "InvalidArn", Message: fmt.Sprintf("Invalid Arn: 'Resource type not valid in this context: %s'", in.StateMachineArn), Status: http.StatusBadRequest}
	}
	list, ok := s.states.machines[in.StateMachineArn]
	if !ok {
		return nil, &awsError{Code: "StateMachineDoesNotExist", Message: fmt.Sprintf("State Machine Does Not Exist: '%s'", in.StateMachineArn), Status: http.StatusBadRequest}
	}
	switch in.StatusFilter {
	case "", ExecutionRunning, ExecutionSucceeded, ExecutionFailed, ExecutionTimedOut, ExecutionAborted, "PENDING_REDRIVE":
	default:
		return nil, &awsError{Code: "ValidationException", Message: fmt.Sprintf("1 validation error detected: Value '%s' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]", in.StatusFilter), Status: http.StatusBadRequest}
	}
	limit := 100
	if in.MaxResults < 0 || in.MaxResults > 1000 {
		return nil, &awsError{Code: "ValidationException", Message: "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000", Status: http.StatusBadRequest}
	}
	if in.MaxResults > 0 {
		limit = in.MaxResults
	}
	start := 0
	if in.NextToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		var tok executionsToken
		if err != nil || json.Unmarshal(raw, &tok) != nil || tok.Machine != in.StateMachineArn || tok.Offset < 0 {
			return nil, &awsError{Code: "InvalidToken", Message: "Invalid Token: 'Invalid token'", Status: http.StatusBadRequest}
		}
		start = tok.Offset
	}

	var match []StateMachineExecution
	for _, e := range list {
		if in.StatusFilter == "" || e.Status == in.StatusFilter {
			match = append(match, e)
		}
	}
	sort.SliceStable(match, func(i, j int) bool { return match[i].Start.After(match[j].Start) })
	start = min(start, len(match))
	end := min(start+limit, len(match))
	out := &listExecutionsOutput{Executions: []executionListItem{}}
	for _, e := range match[start:end] {
		item := executionListItem{
			ExecutionArn: executionArn(e.StateMachineArn, e.Name), StateMachineArn: e.StateMachineArn,
			Name: e.Name, Status: e.Status, StartDate: epochSeconds(e.Start),
		}
		if e.Status != ExecutionRunning {
			stop := epochSeconds(e.Stop)
			item.StopDate = &stop
		}
		out.Executions = append(out.Executions, item)
	}
	if end < len(match) {
		tok, err := json.Marshal(executionsToken{Machine: in.StateMachineArn, Offset: end})
		if err != nil {
			return nil, req.svc.serverError(fmt.Sprintf("encode nextToken: %v", err))
		}
		out.NextToken = base64.RawURLEncoding.EncodeToString(tok)
	}
	return out, nil
}
