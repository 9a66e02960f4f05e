package localaws

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"time"
)

// CloudTrail's X-Amz-Target prefixes: the SDK sends the short one, AWS's
// documentation shows the long one; AWS accepts both.
var cloudTrailTargetPrefixes = []string{"CloudTrail_20131101.", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."}

// cloudTrailRetention is how far back LookupEvents sees, as in AWS.
const cloudTrailRetention = 90 * 24 * time.Hour

// Resource is a resource a CloudTrail event names, as LookupEvents lists it.
type Resource struct {
	Type string `json:"type"` // e.g. "AWS::IAM::AccessKey"
	Name string `json:"name"` // e.g. the key id
}

type trailState struct {
	events []*trailEvent
	seq    int64
	trails map[string]*Trail // by name
}

// trailEvent is one CloudTrail management event, recorded or seeded.
type trailEvent struct {
	seq          int64
	id           string
	name         string
	source       string
	time         time.Time
	region       string
	sourceIP     string
	userAgent    string
	caller       principal
	resources    []Resource
	requestID    string
	request      map[string]any
	response     map[string]any
	readOnly     bool
	errorCode    string
	errorMessage string
	recipientID  string
	record       string // the CloudTrailEvent JSON document
}

// username is the event's LookupEvents Username: the user name, "root",
// or a role session's name.
func (e *trailEvent) username() string {
	switch {
	case e.caller.session != nil:
		return e.caller.session.sessionName
	case e.caller.isRoot():
		return "root"
	}
	return e.caller.userName
}

type ctUserIdentity struct {
	Type           string            `json:"type"`
	PrincipalID    string            `json:"principalId"`
	Arn            string            `json:"arn"`
	AccountID      string            `json:"accountId"`
	AccessKeyID    string            `json:"accessKeyId,omitempty"`
	UserName       string            `json:"userName,omitempty"`
	SessionContext *ctSessionContext `json:"sessionContext,omitempty"`
}

// ctSessionContext is a role session's part of userIdentity: the role it
// was issued for (with its path) and, when set, the source identity,
// which CloudTrail records on every call of the session.
type ctSessionContext struct {
	SessionIssuer struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		Arn         string `json:"arn"`
		AccountID   string `json:"accountId"`
		UserName    string `json:"userName"`
	} `json:"sessionIssuer"`
	SourceIdentity string `json:"sourceIdentity,omitempty"`
}

// ctRecord is the CloudTrail record format (the CloudTrailEvent string).
type ctRecord struct {
	EventVersion       string         `json:"eventVersion"`
	UserIdentity       ctUserIdentity `json:"userIdentity"`
	EventTime          string         `json:"eventTime"`
	EventSource        string         `json:"eventSource"`
	EventName          string         `json:"eventName"`
	AwsRegion          string         `json:"awsRegion"`
	SourceIPAddress    string         `json:"sourceIPAddress"`
	UserAgent          string         `json:"userAgent,omitempty"`
	ErrorCode          string         `json:"errorCode,omitempty"`
	ErrorMessage       string         `json:"errorMessage,omitempty"`
	RequestParameters  map[string]any `json:"requestParameters"`
	ResponseElements   map[string]any `json:"responseElements"`
	RequestID          string         `json:"requestID,omitempty"`
	EventID            string         `json:"eventID"`
	ReadOnly           bool           `json:"readOnly"`
	EventType          string         `json:"eventType"`
	ManagementEvent    bool           `json:"managementEvent"`
	RecipientAccountID string         `json:"recipientAccountId"`
	EventCategory      string         `json:"eventCategory"`
}

// addTrailEvent stores ev, giving it an id and its CloudTrailEvent
// document. Callers hold s.mu.
func (s *Server) addTrailEvent(ev trailEvent) {
	s.trail.seq++
	ev.seq = s.trail.seq
	if ev.id == "" {
		ev.id = s.newUUID()
	}
	identity := ctUserIdentity{
		Type:        "IAMUser",
		PrincipalID: ev.caller.userID,
		Arn:         ev.caller.arn,
		AccountID:   s.account,
		AccessKeyID: ev.caller.keyID,
		UserName:    ev.caller.userName,
	}
	switch {
	case ev.caller.session != nil:
		identity.Type = "AssumedRole"
		sess := ev.caller.session
		sc := &ctSessionContext{SourceIdentity: sess.sourceIdentity}
		sc.SessionIssuer.Type, sc.SessionIssuer.PrincipalID, sc.SessionIssuer.Arn = "Role", sess.roleID, sess.roleARN
		sc.SessionIssuer.AccountID, sc.SessionIssuer.UserName = s.account, sess.roleName
		identity.SessionContext = sc
	case ev.caller.isRoot():
		identity.Type = "Root"
	}
	rec := ctRecord{
		EventVersion:       "1.09",
		UserIdentity:       identity,
		EventTime:          iso8601(ev.time),
		EventSource:        ev.source,
		EventName:          ev.name,
		AwsRegion:          ev.region,
		SourceIPAddress:    ev.sourceIP,
		UserAgent:          ev.userAgent,
		ErrorCode:          ev.errorCode,
		ErrorMessage:       ev.errorMessage,
		RequestParameters:  ev.request,
		ResponseElements:   ev.response,
		RequestID:          ev.requestID,
		EventID:            ev.id,
		ReadOnly:           ev.readOnly,
		EventType:          "AwsApiCall",
		ManagementEvent:    true,
		RecipientAccountID: ev.recipientID,
		EventCategory:      "Management",
	}
	b, err := json.Marshal(rec)
	if err != nil {
		// Only maps of strings and plain values reach here; keep the event
		// findable even so.
		b = []byte(fmt.Sprintf(`{"eventName":%q,"eventID":%q}`, ev.name, ev.id))
	}
	ev.record = string(b)
	s.trail.events = append(s.trail.events, &ev)
}

func cloudTrailService() *service {
	return &service{
		name:           "cloudtrail",
		protocol:       jsonProtocol,
		targetPrefixes: cloudTrailTargetPrefixes,
		ops: map[string]operation{
			"LookupEvents":      {fn: (*Server).cloudTrailLookupEvents},
			"DescribeTrails":    {fn: (*Server).cloudTrailDescribeTrails},
			"GetTrailStatus":    {fn: (*Server).cloudTrailGetTrailStatus},
			"GetEventSelectors": {fn: (*Server).cloudTrailGetEventSelectors},
		},
		throttleErr:     awsError{Code: "ThrottlingException", Message: "Rate exceeded", Status: http.StatusBadRequest},
		serverErr:       awsError{Code: "InternalFailure", Message: "An internal error occurred.", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid.", Status: http.StatusBadRequest},
		badRequestCode:  "SerializationException",
	}
}

type lookupEventsInput struct {
	LookupAttributes []struct {
		AttributeKey   string
		AttributeValue string
	}
	StartTime     *float64
	EndTime       *float64
	EventCategory *string
	MaxResults    *int
	NextToken     *string
}

type ctResource struct {
	ResourceType string `json:"ResourceType,omitempty"`
	ResourceName string `json:"ResourceName,omitempty"`
}

type ctEvent struct {
	EventID         string       `json:"EventId"`
	EventName       string       `json:"EventName"`
	ReadOnly        string       `json:"ReadOnly"`
	AccessKeyID     string       `json:"AccessKeyId,omitempty"`
	EventTime       int64        `json:"EventTime"` // epoch seconds, as the SDK expects
	EventSource     string       `json:"EventSource"`
	Username        string       `json:"Username,omitempty"`
	Resources       []ctResource `json:"Resources"`
	CloudTrailEvent string       `json:"CloudTrailEvent"`
}

type lookupEventsOutput struct {
	Events    []ctEvent `json:"Events"`
	NextToken string    `json:"NextToken,omitempty"`
}

// lookupToken is the decoded NextToken: the position after the last event
// returned, and a hash of the filters it is valid for.
type lookupToken struct {
	Time   int64  `json:"t"`
	Seq    int64  `json:"s"`
	Filter string `json:"f"`
}

func lookupError(code, msg string) *awsError {
	return &awsError{Code: code, Message: msg, Status: http.StatusBadRequest}
}

func epochTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// cloudTrailLookupEvents filters by at most one attribute and a time window,
// newest first, MaxResults (≤ 50) per page, like AWS. Like AWS it is
// regional: it sees the events of the region it is called in (IAM's, being
// global, are in us-east-1), and only those of the last 90 days.
func (s *Server) cloudTrailLookupEvents(req *request) (any, *awsError) {
	var in lookupEventsInput
	if aerr := decodeJSON(req.svc, req.body, &in); aerr != nil {
		return nil, aerr
	}
	if len(in.LookupAttributes) > 1 {
		return nil, lookupError("InvalidLookupAttributesException", "You can only specify one lookup attribute.")
	}
	var key, value string
	if len(in.LookupAttributes) == 1 {
		key, value = in.LookupAttributes[0].AttributeKey, in.LookupAttributes[0].AttributeValue
		switch key {
		case "EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId":
		default:
			return nil, lookupError("InvalidLookupAttributesException", fmt.Sprintf("Invalid lookup attribute key: %q. Valid keys: EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource, AccessKeyId.", key))
		}
		if value == "" || len(value) > 2000 {
			return nil, lookupError("InvalidLookupAttributesException", "AttributeValue must be between 1 and 2000 characters.")
		}
		if key == "ReadOnly" && value != "true" && value != "false" {
			return nil, lookupError("InvalidLookupAttributesException", "ReadOnly must be true or false.")
		}
	}
	if in.EventCategory != nil && *in.EventCategory != "insight" {
		return nil, lookupError("InvalidEventCategoryException", fmt.Sprintf("Invalid event category %q; the only category is insight.", *in.EventCategory))
	}
	maxResults := 50
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return nil, lookupError("InvalidMaxResultsException", fmt.Sprintf("Value %d for MaxResults is invalid. MaxResults must be between 1 and 50.", *in.MaxResults))
		}
		maxResults = *in.MaxResults
	}
	now := s.now()
	end, start := now, now.Add(-cloudTrailRetention)
	if in.EndTime != nil {
		end = epochTime(*in.EndTime)
	}
	if in.StartTime != nil {
		start = epochTime(*in.StartTime)
	}
	if start.After(end) {
		return nil, lookupError("InvalidTimeRangeException", "Start time must be before end time.")
	}
	if oldest := now.Add(-cloudTrailRetention); start.Before(oldest) {
		start = oldest
	}
	region := req.region
	if region == "" {
		region = s.region
	}
	filter := lookupFilterHash(region, key, value, in.StartTime, in.EndTime, in.EventCategory)

	var after *lookupToken
	if in.NextToken != nil {
		raw, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		var tok lookupToken
		if err != nil || json.Unmarshal(raw, &tok) != nil || tok.Filter != filter {
			return nil, lookupError("InvalidNextTokenException", "Invalid NextToken: it does not belong to a request with these parameters.")
		}
		after = &tok
	}

	out := &lookupEventsOutput{Events: []ctEvent{}}
	if in.EventCategory != nil {
		return out, nil // no Insights events are emulated
	}
	events := append([]*trailEvent(nil), s.trail.events...)
	sort.Slice(events, func(i, j int) bool { return newerThan(events[i].time, events[i].seq, events[j].time, events[j].seq) })
	var last *trailEvent
	for _, ev := range events {
		if ev.region != region || ev.time.Before(start) || ev.time.After(end) || !ev.matches(key, value) {
			continue
		}
		if after != nil && !newerThan(time.Unix(0, after.Time), after.Seq, ev.time, ev.seq) {
			continue
		}
		if len(out.Events) == maxResults {
			tok, err := json.Marshal(lookupToken{Time: last.time.UnixNano(), Seq: last.seq, Filter: filter})
			if err != nil {
				return nil, req.svc.serverError(fmt.Sprintf("encode NextToken: %v", err))
			}
			out.NextToken = base64.RawURLEncoding.EncodeToString(tok)
			break
		}
		out.Events = append(out.Events, ev.lookupView())
		last = ev
	}
	return out, nil
}

// newerThan orders events newest first; seq breaks ties between events
// recorded in the same instant.
func newerThan(t1 time.Time, seq1 int64, t2 time.Time, seq2 int64) bool {
	if !t1.Equal(t2) {
		return t1.After(t2)
	}
	return seq1 > seq2
}

func lookupFilterHash(region, key, value string, start, end *float64, category *string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q", region, key, value)
	for _, f := range []*float64{start, end} {
		if f != nil {
			fmt.Fprintf(h, " %v", *f)
		} else {
			fmt.Fprint(h, " -")
		}
	}
	if category != nil {
		fmt.Fprintf(h, " %q", *category)
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

func (e *trailEvent) matches(key, value string) bool {
	switch key {
	case "":
		return true
	case "EventId":
		return e.id == value
	case "EventName":
		return e.name == value
	case "ReadOnly":
		return fmt.Sprint(e.readOnly) == value
	case "Username":
		return e.username() == value
	case "EventSource":
		return e.source == value
	case "AccessKeyId":
		return e.caller.keyID == value
	case "ResourceType", "ResourceName":
		for _, r := range e.resources {
			if key == "ResourceType" && r.Type == value || key == "ResourceName" && r.Name == value {
				return true
			}
		}
	}
	return false
}

func (e *trailEvent) lookupView() ctEvent {
	resources := make([]ctResource, 0, len(e.resources))
	for _, r := range e.resources {
		resources = append(resources, ctResource{ResourceType: r.Type, ResourceName: r.Name})
	}
	return ctEvent{
		EventID:         e.id,
		EventName:       e.name,
		ReadOnly:        fmt.Sprint(e.readOnly),
		AccessKeyID:     e.caller.keyID,
		EventTime:       e.time.Unix(),
		EventSource:     e.source,
		Username:        e.username(),
		Resources:       resources,
		CloudTrailEvent: e.record,
	}
}
