package localaws

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// CloudWatch's SDK client (v1.76) speaks Smithy RPC v2 CBOR, query
// compatible; this is the service name in its request path.
const cloudWatchCBORService = "GraniteServiceVersion20100801"

// Alarm states, as CloudWatch names them.
const (
	AlarmOK               = "OK"
	AlarmAlarm            = "ALARM"
	AlarmInsufficientData = "INSUFFICIENT_DATA"
)

// Alarm is a CloudWatch metric alarm as DescribeAlarms shows it. localaws
// evaluates no metrics: a test sets the state it wants.
type Alarm struct {
	Name        string
	Description string
	// State is OK, ALARM or INSUFFICIENT_DATA; default INSUFFICIENT_DATA,
	// where CloudWatch starts a new alarm.
	State  string
	Reason string
	// Updated is when the state last changed; default the server clock.
	Updated time.Time
}

type alarmState struct {
	alarms map[string]Alarm // by name
}

func (st *alarmState) init() { st.alarms = map[string]Alarm{} }

// SetAlarm creates or replaces a metric alarm.
func (s *Server) SetAlarm(a Alarm) error {
	if a.Name == "" || len(a.Name) > 255 {
		return fmt.Errorf("localaws: alarm name %q: want 1-255 characters", a.Name)
	}
	switch a.State {
	case "":
		a.State = AlarmInsufficientData
	case AlarmOK, AlarmAlarm, AlarmInsufficientData:
	default:
		return fmt.Errorf("localaws: alarm %s: state %q: want OK, ALARM or INSUFFICIENT_DATA", a.Name, a.State)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.Updated.IsZero() {
		a.Updated = s.now()
	}
	if a.Reason == "" {
		a.Reason = "Unchecked: Initial alarm creation"
	}
	s.alarms.alarms[a.Name] = a
	return nil
}

func cloudWatchService() *service {
	return &service{
		name:        "monitoring",
		protocol:    cborProtocol,
		cborService: cloudWatchCBORService,
		ops: map[string]operation{
			"DescribeAlarms": {fn: (*Server).cwDescribeAlarms},
		},
		queryCompatible: true,
		errorTypePrefix: "com.amazonaws.cloudwatch#",
		throttleErr:     awsError{Code: "Throttling", Message: "Rate exceeded", Status: http.StatusBadRequest},
		serverErr:       awsError{Code: "InternalServiceFault", Message: "Internal service error.", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden},
		badRequestCode:  "InvalidParameterValue",
	}
}

func cwInvalid(msg string) *awsError {
	return &awsError{Code: "InvalidParameterValue", Message: msg, Status: http.StatusBadRequest}
}

// cwDescribeAlarms filters metric alarms by name, name prefix and state,
// in name order, MaxRecords (1-100, default 50) per page.
func (s *Server) cwDescribeAlarms(req *request) (any, *awsError) {
	in, aerr := decodeCBOR(req.svc, req.body)
	if aerr != nil {
		return nil, aerr
	}
	names := cborStrings(in, "AlarmNames")
	if len(names) > 100 {
		return nil, cwInvalid("The collection AlarmNames must not have a size greater than 100.")
	}
	if len(names) > 0 && in["AlarmNamePrefix"] != nil {
		return nil, &awsError{Code: "InvalidParameterCombination", Message: "AlarmNamePrefix and AlarmNames cannot be specified together.", Status: http.StatusBadRequest}
	}
	prefix, _ := in["AlarmNamePrefix"].(cbor.String)
	state, _ := in["StateValue"].(cbor.String)
	limit := 50
	if v, ok := in["MaxRecords"].(cbor.Uint); ok {
		if v < 1 || v > 100 {
			return nil, cwInvalid(fmt.Sprintf("The parameter MaxRecords must be between 1 and 100, got %d.", v))
		}
		limit = int(v)
	}
	start := 0
	if tok, ok := in["NextToken"].(cbor.String); ok {
		n, err := strconv.Atoi(strings.TrimPrefix(string(tok), "alarms-"))
		if err != nil || n < 0 {
			return nil, &awsError{Code: "InvalidNextToken", Message: "The service couldn't process your request because the next token is invalid.", Status: http.StatusBadRequest}
		}
		start = n
	}

	var match []Alarm
	for _, a := range s.alarms.alarms {
		if len(names) > 0 && !slices.Contains(names, a.Name) || !strings.HasPrefix(a.Name, string(prefix)) || state != "" && a.State != string(state) {
			continue
		}
		match = append(match, a)
	}
	sort.Slice(match, func(i, j int) bool { return match[i].Name < match[j].Name })
	start = min(start, len(match))
	end := min(start+limit, len(match))
	list := cbor.List{}
	for _, a := range match[start:end] {
		list = append(list, s.cwAlarmView(a))
	}
	out := cbor.Map{"MetricAlarms": list, "CompositeAlarms": cbor.List{}}
	if end < len(match) {
		out["NextToken"] = cbor.String("alarms-" + strconv.Itoa(end))
	}
	return out, nil
}

// cwAlarmView is the members of a MetricAlarm localaws keeps. Callers hold
// s.mu.
func (s *Server) cwAlarmView(a Alarm) cbor.Map {
	m := cbor.Map{
		"AlarmName":                          cbor.String(a.Name),
		"AlarmArn":                           cbor.String(fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", s.region, s.account, a.Name)),
		"ActionsEnabled":                     cbor.Bool(true),
		"StateValue":                         cbor.String(a.State),
		"StateReason":                        cbor.String(a.Reason),
		"StateUpdatedTimestamp":              cborTime(a.Updated),
		"StateTransitionedTimestamp":         cborTime(a.Updated),
		"AlarmConfigurationUpdatedTimestamp": cborTime(a.Updated),
	}
	if a.Description != "" {
		m["AlarmDescription"] = cbor.String(a.Description)
	}
	return m
}
