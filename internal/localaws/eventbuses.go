package localaws

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Custom event buses, as DescribeEventBus and DescribeRule show them.
// Events put on them are not delivered (PutEvents serves the default bus
// only): a custom bus here is configuration to inspect, as keywarden's
// hub bus is for `keywarden doctor`.

var eventBusNamePattern = regexp.MustCompile(`^[/\.\-_A-Za-z0-9]{1,256}$`)

// EventBus is a custom event bus and its resource policy.
type EventBus struct {
	Name        string
	Description string
	// Policy is the bus's resource policy as JSON; empty for none.
	Policy string
}

// AddEventBus creates (or replaces) a custom event bus and returns its
// ARN. Its rules are defined with DefineRule (RuleDefinition.EventBusName).
func (s *Server) AddEventBus(b EventBus) (string, error) {
	if !eventBusNamePattern.MatchString(b.Name) || b.Name == "default" || strings.HasPrefix(b.Name, "aws.") {
		return "", fmt.Errorf("localaws: event bus name %q: want 1-256 of letters, digits, '/', '.', '-', '_', not default or aws.*", b.Name)
	}
	if b.Policy != "" && !json.Valid([]byte(b.Policy)) {
		return "", fmt.Errorf("localaws: event bus %s: the policy is not JSON", b.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.events.buses == nil {
		s.events.buses = map[string]*EventBus{}
	}
	s.events.buses[b.Name] = &b
	return s.eventBusARN(b.Name), nil
}

func (s *Server) eventBusARN(name string) string {
	return fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s", s.region, s.account, name)
}

// busNamed resolves a bus name or ARN ("" is the default bus) to its
// name. Callers hold s.mu.
func (s *Server) busNamed(nameOrARN string) (string, *awsError) {
	name := nameOrARN
	if rest, ok := strings.CutPrefix(nameOrARN, fmt.Sprintf("arn:aws:events:%s:%s:event-bus/", s.region, s.account)); ok {
		name = rest
	}
	if name == "" || name == "default" {
		return "default", nil
	}
	if _, ok := s.events.buses[name]; ok {
		return name, nil
	}
	return "", &awsError{Code: "ResourceNotFoundException", Message: fmt.Sprintf("Event bus %s does not exist.", name), Status: http.StatusBadRequest}
}

// ruleKey is how a rule is held: its name on the default bus, "bus|name"
// on another, as CloudFormation's physical id of such a rule reads.
func ruleKey(bus, name string) string {
	if bus == "" || bus == "default" {
		return name
	}
	return bus + "|" + name
}

type describeEventBusInput struct {
	Name string
}

type describeEventBusOutput struct {
	Name        string
	Arn         string
	Description string `json:",omitempty"`
	Policy      string `json:",omitempty"`
}

// eventsDescribeEventBus describes the default bus or a custom one.
func (s *Server) eventsDescribeEventBus(req *request) (any, *awsError) {
	var in describeEventBusInput
	if aerr := decodeJSON(req.svc, req.body, &in); aerr != nil {
		return nil, aerr
	}
	name, aerr := s.busNamed(in.Name)
	if aerr != nil {
		return nil, aerr
	}
	out := &describeEventBusOutput{Name: name, Arn: s.eventBusARN(name)}
	if b := s.events.buses[name]; b != nil {
		out.Description, out.Policy = b.Description, b.Policy
	}
	return out, nil
}
