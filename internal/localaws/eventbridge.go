package localaws

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"quamina.net/go/quamina"
)

const eventsTargetPrefix = "AWSEvents."

// EventBridge limits.
const (
	maxPutEventsEntries = 10
	maxPutEventsBytes   = 256 * 1024
)

var ruleNamePattern = regexp.MustCompile(`^[.\-_A-Za-z0-9]{1,64}$`)

// Target receives the events a rule matches, as the envelope AWS delivers.
type Target func(ctx context.Context, event []byte) error

type eventsState struct {
	rules      map[string]*eventRule
	matcher    *quamina.Quamina
	deliveries []Delivery
	// defined are rules known to DescribeRule only (DefineRule): their
	// targets are outside localaws.
	defined map[string]RuleDefinition
	// disabled names the rules, of either kind, that are DISABLED.
	disabled map[string]bool
	// buses are the custom event buses (eventbuses.go).
	buses map[string]*EventBus
}

type eventRule struct {
	name    string
	bus     string // the bus the rule is on: "default" or a custom bus
	pattern string
	target  Target
}

func (st *eventsState) init() error {
	st.rules = map[string]*eventRule{}
	st.defined = map[string]RuleDefinition{}
	st.disabled = map[string]bool{}
	q, err := quamina.New()
	if err != nil {
		return fmt.Errorf("localaws: create event matcher: %w", err)
	}
	st.matcher = q
	return nil
}

// Delivery is one event handed to one rule's target, for inspection.
type Delivery struct {
	Rule    string
	EventID string
	Event   []byte // the envelope as delivered
	Err     string // the target's error, empty on success
	Time    time.Time
}

// AddRule adds (or replaces) a rule on the default event bus: events put
// with PutEvents that match patternJSON, an EventBridge event pattern, are
// passed to target before PutEvents answers. A target's error does not fail
// PutEvents (it would not in AWS either); it shows in Deliveries.
func (s *Server) AddRule(name, patternJSON string, target func(ctx context.Context, event []byte) error) error {
	return s.AddBusRule("default", name, patternJSON, target)
}

// AddBusRule is AddRule on the named bus: "default" or a custom bus
// (AddEventBus). A rule on a custom bus is named "bus|name" in
// SetRuleEnabled, as for DefineRule.
func (s *Server) AddBusRule(bus, name, patternJSON string, target func(ctx context.Context, event []byte) error) error {
	if !ruleNamePattern.MatchString(name) {
		return fmt.Errorf("localaws: rule name %q: want 1-64 of letters, digits, '.', '-', '_'", name)
	}
	if target == nil {
		return fmt.Errorf("localaws: rule %s: nil target", name)
	}
	pattern, err := preparePattern(patternJSON)
	if err != nil {
		return fmt.Errorf("localaws: rule %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bus, aerr := s.busNamed(bus)
	if aerr != nil {
		return fmt.Errorf("localaws: rule %s: %s (AddEventBus first)", name, aerr.Message)
	}
	rules := make(map[string]*eventRule, len(s.events.rules)+1)
	for n, r := range s.events.rules {
		rules[n] = r
	}
	rules[ruleKey(bus, name)] = &eventRule{name: name, bus: bus, pattern: pattern, target: target}
	q, err := quamina.New()
	if err != nil {
		return fmt.Errorf("localaws: rule %s: create matcher: %w", name, err)
	}
	for n, r := range rules {
		if err := q.AddPattern(n, r.pattern); err != nil {
			return fmt.Errorf("localaws: rule %s: pattern: %w", n, err)
		}
	}
	s.events.rules, s.events.matcher = rules, q
	return nil
}

// preparePattern checks a pattern as EventBridge does (a non-empty JSON
// object) and rewrites the EventBridge forms quamina does not accept into
// equivalent ones it does: {"anything-but": "x"} becomes
// {"anything-but": ["x"]}. Forms quamina lacks altogether (numeric, suffix,
// cidr, anything-but with prefix) are errors, so a test fails loudly rather
// than silently not matching.
func preparePattern(patternJSON string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(patternJSON))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return "", fmt.Errorf("event pattern is not a JSON object: %w", err)
	}
	if len(obj) == 0 {
		return "", fmt.Errorf("event pattern is empty")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(normalizePattern(obj)); err != nil {
		return "", fmt.Errorf("re-encode event pattern: %w", err)
	}
	prepared := strings.TrimSpace(buf.String())
	q, err := quamina.New()
	if err != nil {
		return "", fmt.Errorf("create matcher: %w", err)
	}
	if err := q.AddPattern("check", prepared); err != nil {
		return "", fmt.Errorf("event pattern: %w", err)
	}
	return prepared, nil
}

func normalizePattern(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if s, ok := val.(string); ok && k == "anything-but" {
				t[k] = []any{s}
				continue
			}
			t[k] = normalizePattern(val)
		}
	case []any:
		for i := range t {
			t[i] = normalizePattern(t[i])
		}
	}
	return v
}

// MatchesPattern reports whether eventJSON, an EventBridge event envelope,
// matches patternJSON, an EventBridge event pattern. Tests use it to prove
// that a rule in the deployed template fires on a given event.
func MatchesPattern(patternJSON string, eventJSON []byte) (bool, error) {
	pattern, err := preparePattern(patternJSON)
	if err != nil {
		return false, err
	}
	q, err := quamina.New()
	if err != nil {
		return false, fmt.Errorf("create matcher: %w", err)
	}
	if err := q.AddPattern("p", pattern); err != nil {
		return false, fmt.Errorf("event pattern: %w", err)
	}
	matches, err := q.MatchesForEvent(eventJSON)
	if err != nil {
		return false, fmt.Errorf("match event: %w", err)
	}
	return len(matches) > 0, nil
}

func eventsService() *service {
	return &service{
		name:           "events",
		protocol:       jsonProtocol,
		targetPrefixes: []string{eventsTargetPrefix},
		ops: map[string]operation{
			"PutEvents":        {fn: (*Server).eventsPutEvents, unlocked: true},
			"DescribeRule":     {fn: (*Server).eventsDescribeRule},
			"DescribeEventBus": {fn: (*Server).eventsDescribeEventBus},
		},
		throttleErr:     awsError{Code: "ThrottlingException", Message: "Rate exceeded", Status: http.StatusBadRequest},
		serverErr:       awsError{Code: "InternalException", Message: "An internal error occurred.", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid.", Status: http.StatusBadRequest},
		badRequestCode:  "SerializationException",
	}
}

type putEventsEntry struct {
	Source       string
	DetailType   string
	Detail       string
	Resources    []string
	Time         *float64
	EventBusName string
	TraceHeader  string
}

type putEventsInput struct {
	Entries    []putEventsEntry
	EndpointID string `json:"EndpointId"`
}

type putEventsResultEntry struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

type putEventsOutput struct {
	FailedEntryCount int                    `json:"FailedEntryCount"`
	Entries          []putEventsResultEntry `json:"Entries"`
}

// envelope is the event as EventBridge delivers it to targets.
type envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

type pendingDelivery struct {
	rule    *eventRule
	eventID string
	event   []byte
}

// eventsPutEvents validates each entry as EventBridge does (failures are
// per entry, counted in FailedEntryCount), builds the envelope, matches it
// against the rules and calls matching targets without holding s.mu.
func (s *Server) eventsPutEvents(req *request) (any, *awsError) {
	var in putEventsInput
	if aerr := decodeJSON(req.svc, req.body, &in); aerr != nil {
		return nil, aerr
	}
	if n := len(in.Entries); n < 1 || n > maxPutEventsEntries {
		return nil, &awsError{Code: "ValidationException", Message: fmt.Sprintf("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and %d", maxPutEventsEntries), Status: http.StatusBadRequest}
	}
	size := 0
	for _, e := range in.Entries {
		size += len(e.Source) + len(e.DetailType) + len(e.Detail) + len(strings.Join(e.Resources, ""))
	}
	if size > maxPutEventsBytes {
		return nil, &awsError{Code: "ValidationException", Message: "Total size of the entries in the request is over the limit.", Status: http.StatusBadRequest}
	}

	s.mu.Lock()
	out := &putEventsOutput{Entries: make([]putEventsResultEntry, 0, len(in.Entries))}
	var pending []pendingDelivery
	for _, e := range in.Entries {
		bus, aerr := s.busNamed(e.EventBusName)
		if aerr != nil {
			s.mu.Unlock()
			return nil, aerr
		}
		code, msg := validateEntry(e)
		if code != "" {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, putEventsResultEntry{ErrorCode: code, ErrorMessage: msg})
			continue
		}
		t := s.now()
		if e.Time != nil {
			t = epochTime(*e.Time)
		}
		var detail bytes.Buffer
		_ = json.Compact(&detail, []byte(e.Detail)) // validated above
		resources := e.Resources
		if resources == nil {
			resources = []string{}
		}
		env := envelope{
			Version: "0", ID: s.newUUID(), DetailType: e.DetailType, Source: e.Source, Account: s.account,
			Time: t.UTC().Format("2006-01-02T15:04:05Z"), Region: s.region, Resources: resources, Detail: detail.Bytes(),
		}
		event, err := json.Marshal(env)
		if err != nil {
			s.mu.Unlock()
			return nil, req.svc.serverError(fmt.Sprintf("encode event: %v", err))
		}
		out.Entries = append(out.Entries, putEventsResultEntry{EventID: env.ID})
		matched, err := s.matchLocked(bus, env.ID, event)
		if err != nil {
			s.mu.Unlock()
			return nil, req.svc.serverError(err.Error())
		}
		pending = append(pending, matched...)
	}
	s.mu.Unlock()
	s.deliver(req.http.Context(), pending)
	return out, nil
}

// matchLocked returns the deliveries of event to the enabled rules of bus
// it matches, in rule key order. Callers hold s.mu.
func (s *Server) matchLocked(bus, eventID string, event []byte) ([]pendingDelivery, error) {
	matched, err := s.events.matcher.MatchesForEvent(event)
	if err != nil {
		return nil, fmt.Errorf("match event: %w", err)
	}
	keys := make([]string, 0, len(matched))
	for _, m := range matched {
		if k, ok := m.(string); ok && !s.events.disabled[k] && s.events.rules[k] != nil && s.events.rules[k].bus == bus {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]pendingDelivery, 0, len(keys))
	for _, k := range keys {
		out = append(out, pendingDelivery{rule: s.events.rules[k], eventID: eventID, event: event})
	}
	return out, nil
}

// deliver calls each delivery's target, without s.mu, and records it.
func (s *Server) deliver(ctx context.Context, pending []pendingDelivery) {
	for _, p := range pending {
		err := callTarget(ctx, p.rule.target, p.event)
		d := Delivery{Rule: p.rule.name, EventID: p.eventID, Event: p.event}
		if err != nil {
			d.Err = err.Error()
		}
		s.mu.Lock()
		d.Time = s.now()
		s.events.deliveries = append(s.events.deliveries, d)
		s.mu.Unlock()
	}
}

// DeliverEvent hands event, an envelope as EventBridge delivers it, to
// the rules of the account's bus ("default" or a custom bus), as an AWS
// service's event arrives (aws.health, aws.trustedadvisor and CloudTrail's
// aws.iam cannot be sent with PutEvents). The envelope is delivered as it
// is, its account included. Targets' errors show in Deliveries, as for
// PutEvents.
func (s *Server) DeliverEvent(ctx context.Context, bus string, event []byte) error {
	var env struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(event, &env); err != nil {
		return fmt.Errorf("localaws: deliver to bus %s: the event is not a JSON envelope: %w", bus, err)
	}
	s.mu.Lock()
	name, aerr := s.busNamed(bus)
	if aerr != nil {
		s.mu.Unlock()
		return fmt.Errorf("localaws: deliver to account %s: %s", s.account, aerr.Message)
	}
	pending, err := s.matchLocked(name, env.ID, event)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("localaws: deliver to bus %s: %w", bus, err)
	}
	s.deliver(ctx, pending)
	return nil
}

// AddForwardRule adds a rule on bus whose target is another event bus,
// given by ARN, of this account or of another account of the
// Organization: a matching event is delivered to that bus's rules as it
// is, keeping its account, as EventBridge forwards between buses. The
// target bus's resource policy decides (busAdmits): an account it does not
// admit gets its delivery refused (an error in Deliveries, as AWS fails
// the target).
func (s *Server) AddForwardRule(bus, name, patternJSON, targetBusARN string) error {
	m := busARNForm.FindStringSubmatch(targetBusARN)
	if m == nil {
		return fmt.Errorf("localaws: rule %s: target %q is not an event bus ARN", name, targetBusARN)
	}
	account, targetBus := m[2], m[3]
	return s.AddBusRule(bus, name, patternJSON, func(ctx context.Context, event []byte) error {
		target := s.accountServer(account)
		if target == nil {
			return fmt.Errorf("forward to %s: the emulator holds no account %s", targetBusARN, account)
		}
		if err := target.busAdmits(targetBus, s.AccountID()); err != nil {
			return fmt.Errorf("forward to %s: %w", targetBusARN, err)
		}
		return target.DeliverEvent(ctx, targetBus, event)
	})
}

var busARNForm = regexp.MustCompile(`^arn:aws:events:([a-z0-9-]+):([0-9]{12}):event-bus/([/.\-_A-Za-z0-9]{1,256})$`)

func callTarget(ctx context.Context, t Target, event []byte) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("target panicked: %v", v)
		}
	}()
	return t(ctx, append([]byte(nil), event...))
}

// validateEntry returns EventBridge's per-entry error code and message for
// an entry it would refuse, or "" if the entry is fine.
func validateEntry(e putEventsEntry) (string, string) {
	for _, f := range []struct{ name, value string }{{"Source", e.Source}, {"DetailType", e.DetailType}, {"Detail", e.Detail}} {
		if f.value == "" {
			return "InvalidArgument", fmt.Sprintf("Parameter %s is not valid. Reason: %s is a required argument.", f.name, f.name)
		}
	}
	var detail map[string]json.RawMessage
	if err := json.Unmarshal([]byte(e.Detail), &detail); err != nil {
		return "MalformedDetail", "Detail is malformed."
	}
	if strings.HasPrefix(e.Source, "aws.") {
		return "NotAuthorizedForSourceException", "Not authorized for the source."
	}
	for _, r := range e.Resources {
		if !strings.HasPrefix(r, "arn:") {
			return "InvalidArgument", fmt.Sprintf("Parameter(s) Resources is not valid. Reason: Provided Arn(s) %s is not valid.", r)
		}
	}
	return "", ""
}

// RuleDefinition is a rule that DescribeRule shows but whose target lies
// outside localaws, such as a schedule that starts a function: a test sets
// what was deployed. AddRule's rules, which deliver events, are described
// too.
type RuleDefinition struct {
	Name string
	// EventBusName is a custom bus (AddEventBus) the rule is on; empty
	// for the default bus. Such a rule is named "bus|name" in
	// SetRuleEnabled, as CloudFormation names it.
	EventBusName       string
	Description        string
	EventPattern       string // a JSON event pattern, or
	ScheduleExpression string // cron(…) or rate(…)
}

// DefineRule adds (or replaces) a rule that DescribeRule shows, ENABLED.
func (s *Server) DefineRule(d RuleDefinition) error {
	if !ruleNamePattern.MatchString(d.Name) {
		return fmt.Errorf("localaws: rule name %q: want 1-64 of letters, digits, '.', '-', '_'", d.Name)
	}
	if (d.EventPattern == "") == (d.ScheduleExpression == "") {
		return fmt.Errorf("localaws: rule %s: want an event pattern or a schedule expression, not both or neither", d.Name)
	}
	if d.EventPattern != "" {
		if _, err := preparePattern(d.EventPattern); err != nil {
			return fmt.Errorf("localaws: rule %s: %w", d.Name, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bus, aerr := s.busNamed(d.EventBusName)
	if aerr != nil {
		return fmt.Errorf("localaws: rule %s: %s (AddEventBus first)", d.Name, aerr.Message)
	}
	key := ruleKey(bus, d.Name)
	s.events.defined[key] = d
	delete(s.events.disabled, key)
	return nil
}

// SetRuleEnabled enables or disables a rule added with AddRule or
// DefineRule. A disabled AddRule rule receives no events, as in AWS.
func (s *Server) SetRuleEnabled(name string, enabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, added := s.events.rules[name]
	_, defined := s.events.defined[name]
	if !added && !defined {
		return fmt.Errorf("localaws: no rule %s (AddRule or DefineRule first)", name)
	}
	if enabled {
		delete(s.events.disabled, name)
	} else {
		s.events.disabled[name] = true
	}
	return nil
}

type describeRuleInput struct {
	Name         string
	EventBusName string
}

type describeRuleOutput struct {
	Name               string
	Arn                string
	EventPattern       string `json:",omitempty"`
	ScheduleExpression string `json:",omitempty"`
	State              string
	Description        string `json:",omitempty"`
	EventBusName       string
	CreatedBy          string
}

// eventsDescribeRule describes a rule of the default bus or a custom one.
func (s *Server) eventsDescribeRule(req *request) (any, *awsError) {
	var in describeRuleInput
	if aerr := decodeJSON(req.svc, req.body, &in); aerr != nil {
		return nil, aerr
	}
	if in.Name == "" || !ruleNamePattern.MatchString(in.Name) {
		return nil, &awsError{Code: "ValidationException", Message: fmt.Sprintf("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", in.Name), Status: http.StatusBadRequest}
	}
	bus, aerr := s.busNamed(in.EventBusName)
	if aerr != nil {
		return nil, aerr
	}
	key := ruleKey(bus, in.Name)
	out := &describeRuleOutput{
		Name: in.Name, Arn: fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", s.region, s.account, strings.ReplaceAll(key, "|", "/")),
		State: "ENABLED", EventBusName: bus, CreatedBy: s.account,
	}
	if r, ok := s.events.rules[key]; ok {
		out.EventPattern = r.pattern
	} else if d, ok := s.events.defined[key]; ok {
		out.EventPattern, out.ScheduleExpression, out.Description = d.EventPattern, d.ScheduleExpression, d.Description
	} else {
		return nil, &awsError{Code: "ResourceNotFoundException", Message: fmt.Sprintf("Rule %s does not exist on EventBus %s.", in.Name, bus), Status: http.StatusBadRequest}
	}
	if s.events.disabled[key] {
		out.State = "DISABLED"
	}
	return out, nil
}
