package localaws

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

const snsNamespace = "http://sns.amazonaws.com/doc/2010-03-31/"

// SNS limits keywarden's alerts must respect.
const (
	maxSNSMessageBytes   = 256 * 1024
	maxSNSSubjectChars   = 100
	maxSNSAttributeCount = 10
)

var topicNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

type snsState struct {
	topics    map[string]*snsTopic // by ARN
	published []Message
}

func (st *snsState) init() { st.topics = map[string]*snsTopic{} }

type snsTopic struct {
	arn           string
	fifo          bool
	subscriptions []Subscription
}

// Subscription is a subscription to an SNS topic.
type Subscription struct {
	Protocol string // email, https, sqs, lambda, …
	Endpoint string
	// Pending subscriptions await the endpoint's confirmation; SNS lists
	// them with the subscription ARN "PendingConfirmation".
	Pending bool
}

// AddSubscription subscribes endpoint to a topic created earlier
// (CreateTopic), confirmed or pending, and returns the subscription ARN
// ("PendingConfirmation" while pending, as SNS lists it).
func (s *Server) AddSubscription(topicArn string, sub Subscription) (string, error) {
	switch sub.Protocol {
	case "email", "email-json", "http", "https", "sqs", "lambda", "sms", "application", "firehose":
	default:
		return "", fmt.Errorf("localaws: subscription protocol %q is not one SNS knows", sub.Protocol)
	}
	if sub.Endpoint == "" {
		return "", fmt.Errorf("localaws: subscription to %s: empty endpoint", topicArn)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.sns.topics[topicArn]
	if !ok {
		return "", fmt.Errorf("localaws: no topic %s (CreateTopic first)", topicArn)
	}
	t.subscriptions = append(t.subscriptions, sub)
	return s.subscriptionARN(t, len(t.subscriptions)-1), nil
}

// subscriptionARN is the ARN of a topic's i-th subscription, stable for
// the topic's life. Callers hold s.mu.
func (s *Server) subscriptionARN(t *snsTopic, i int) string {
	if t.subscriptions[i].Pending {
		return "PendingConfirmation"
	}
	return fmt.Sprintf("%s:%08x-0000-4000-8000-%012x", t.arn, i+1, i+1)
}

// Message is a message published to an SNS topic, for inspection.
type Message struct {
	MessageID        string
	TopicArn         string
	Subject          string
	Message          string
	MessageStructure string
	Attributes       map[string]MessageAttribute
	Time             time.Time
}

// MessageAttribute is one SNS message attribute.
type MessageAttribute struct {
	DataType    string
	StringValue string
	BinaryValue []byte
}

func snsService() *service {
	return &service{
		name:     "sns",
		protocol: queryProtocol,
		xmlns:    snsNamespace,
		ops: map[string]operation{
			"CreateTopic": {fn: (*Server).snsCreateTopic},
			"Publish":     {fn: (*Server).snsPublish},

			"ListSubscriptionsByTopic": {fn: (*Server).snsListSubscriptionsByTopic},
		},
		// SNS models its throttling error as code "Throttled", HTTP 429.
		// The SDK's standard retryer retries it as throttling since
		// aws-sdk-go-v2 v1.48.0 (an unmodeled 429); before, it did not.
		throttleErr:     awsError{Code: "Throttled", Message: "Rate exceeded", Status: http.StatusTooManyRequests},
		serverErr:       awsError{Code: "InternalError", Message: "Internal Error", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden},
		badRequestCode:  "InvalidParameter",
	}
}

func snsInvalid(msg string) *awsError {
	return &awsError{Code: "InvalidParameter", Message: "Invalid parameter: " + msg, Status: http.StatusBadRequest}
}

func snsInvalidValue(msg string) *awsError {
	return &awsError{Code: "ParameterValueInvalid", Message: msg, Status: http.StatusBadRequest}
}

func (s *Server) topicARN(region, name string) string {
	return "arn:aws:sns:" + region + ":" + s.account + ":" + name
}

// createTopic adds a topic, or returns the existing one, as CreateTopic is
// idempotent. Callers hold s.mu.
func (s *Server) createTopic(region, name string, fifo bool) (*snsTopic, *awsError) {
	base, isFifoName := strings.CutSuffix(name, ".fifo")
	if !topicNamePattern.MatchString(base) || len(name) > 256 || isFifoName != fifo {
		return nil, snsInvalid("Topic Name")
	}
	arn := s.topicARN(region, name)
	if t, ok := s.sns.topics[arn]; ok {
		return t, nil
	}
	t := &snsTopic{arn: arn, fifo: fifo}
	s.sns.topics[arn] = t
	return t, nil
}

type createTopicResult struct {
	TopicArn string `xml:"TopicArn"`
}

func (s *Server) snsCreateTopic(req *request) (any, *awsError) {
	name := req.params.get("Name")
	if name == "" {
		return nil, snsInvalid("Name Reason: cannot be empty")
	}
	fifo := false
	for _, a := range req.params.indexed("Attributes.entry") {
		if a["key"] == "FifoTopic" {
			fifo = a["value"] == "true"
		}
	}
	region := req.region
	if region == "" {
		region = s.region
	}
	t, aerr := s.createTopic(region, name, fifo)
	if aerr != nil {
		return nil, aerr
	}
	return &createTopicResult{TopicArn: t.arn}, nil
}

type publishResult struct {
	MessageID string `xml:"MessageId"`
}

// snsPublish accepts what SNS accepts for a topic publish and records the
// message for Published.
func (s *Server) snsPublish(req *request) (any, *awsError) {
	p := req.params
	arn := p.get("TopicArn")
	if arn == "" {
		arn = p.get("TargetArn")
	}
	if arn == "" {
		if p.get("PhoneNumber") != "" {
			return nil, snsInvalid("PhoneNumber Reason: localaws emulates publishing to topics only")
		}
		return nil, snsInvalid("TopicArn or TargetArn Reason: no value for required parameter")
	}
	if !strings.HasPrefix(arn, "arn:aws:sns:") || strings.Count(arn, ":") != 5 {
		return nil, snsInvalid("TopicArn")
	}
	msg := Message{TopicArn: arn, Message: p.get("Message"), MessageStructure: p.get("MessageStructure")}
	if msg.Message == "" {
		return nil, snsInvalid("Empty message")
	}
	if p.has("Subject") {
		msg.Subject = p.get("Subject")
		if aerr := validateSubject(msg.Subject); aerr != nil {
			return nil, aerr
		}
	}
	switch msg.MessageStructure {
	case "":
	case "json":
		var bodies map[string]any
		if err := json.Unmarshal([]byte(msg.Message), &bodies); err != nil {
			return nil, snsInvalid("Message Structure - JSON message body failed to parse")
		}
		if _, ok := bodies["default"].(string); !ok {
			return nil, snsInvalid("Message Structure - No default entry in JSON message body")
		}
	default:
		return nil, snsInvalid("MessageStructure")
	}
	attrs, size, aerr := parseMessageAttributes(p)
	if aerr != nil {
		return nil, aerr
	}
	if len(msg.Message)+size > maxSNSMessageBytes {
		return nil, snsInvalid("Message too long")
	}
	t, ok := s.sns.topics[arn]
	if !ok {
		return nil, &awsError{Code: "NotFound", Message: "Topic does not exist", Status: http.StatusNotFound}
	}
	if t.fifo && p.get("MessageGroupId") == "" {
		return nil, snsInvalid("The MessageGroupId parameter is required for FIFO topics")
	}
	msg.Attributes = attrs
	msg.MessageID = s.newUUID()
	msg.Time = s.now()
	s.sns.published = append(s.sns.published, msg)
	return &publishResult{MessageID: msg.MessageID}, nil
}

// validateSubject applies SNS's rule: 1–100 printable ASCII characters, no
// line breaks. Alert subjects built from user names must pass it.
func validateSubject(subject string) *awsError {
	if subject == "" || len(subject) > maxSNSSubjectChars {
		return snsInvalid("Subject")
	}
	for _, r := range subject {
		if r > unicode.MaxASCII || unicode.IsControl(r) {
			return snsInvalid("Subject")
		}
	}
	return nil
}

// parseMessageAttributes reads MessageAttributes.entry.N.{Name,Value.*} and
// returns them with their size in bytes, which counts toward the 256 KB
// message limit.
func parseMessageAttributes(p queryParams) (map[string]MessageAttribute, int, *awsError) {
	entries := p.indexed("MessageAttributes.entry")
	if len(entries) == 0 {
		return nil, 0, nil
	}
	if len(entries) > maxSNSAttributeCount {
		return nil, 0, snsInvalidValue(fmt.Sprintf("Number of message attributes [%d] exceeds the allowed maximum [%d].", len(entries), maxSNSAttributeCount))
	}
	attrs := make(map[string]MessageAttribute, len(entries))
	size := 0
	for _, e := range entries {
		name := e["Name"]
		if name == "" || len(name) > 256 {
			return nil, 0, snsInvalidValue("The message attribute name must be between 1 and 256 characters.")
		}
		a := MessageAttribute{DataType: e["Value.DataType"], StringValue: e["Value.StringValue"]}
		base, _, _ := strings.Cut(a.DataType, ".")
		if a.DataType == "String.Array" {
			base = "String.Array"
		}
		switch base {
		case "String", "String.Array":
			if a.StringValue == "" {
				return nil, 0, snsInvalidValue(fmt.Sprintf("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, a.DataType))
			}
			if base == "String.Array" && !json.Valid([]byte(a.StringValue)) {
				return nil, 0, snsInvalidValue(fmt.Sprintf("The message attribute '%s' with type 'String.Array' must be a JSON array.", name))
			}
		case "Number":
			if _, err := strconv.ParseFloat(a.StringValue, 64); err != nil {
				return nil, 0, snsInvalidValue(fmt.Sprintf("The message attribute '%s' with type 'Number' must be a valid number.", name))
			}
		case "Binary":
			b, err := base64.StdEncoding.DecodeString(e["Value.BinaryValue"])
			if err != nil || len(b) == 0 {
				return nil, 0, snsInvalidValue(fmt.Sprintf("The message attribute '%s' must contain non-empty message attribute value for message attribute type 'Binary'.", name))
			}
			a.BinaryValue = b
		default:
			return nil, 0, snsInvalidValue(fmt.Sprintf("The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", name))
		}
		if _, dup := attrs[name]; dup {
			return nil, 0, snsInvalidValue(fmt.Sprintf("Message attribute name '%s' is repeated.", name))
		}
		attrs[name] = a
		size += len(name) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	return attrs, size, nil
}

// snsSubscriptionsPage is how many subscriptions SNS lists per page.
const snsSubscriptionsPage = 100

type xmlSubscription struct {
	SubscriptionArn string `xml:"SubscriptionArn"`
	Owner           string `xml:"Owner"`
	Protocol        string `xml:"Protocol"`
	Endpoint        string `xml:"Endpoint"`
	TopicArn        string `xml:"TopicArn"`
}

type listSubscriptionsByTopicResult struct {
	Subscriptions members[xmlSubscription] `xml:"Subscriptions"`
	NextToken     string                   `xml:"NextToken,omitempty"`
}

// snsListSubscriptionsByTopic lists a topic's subscriptions, 100 a page.
func (s *Server) snsListSubscriptionsByTopic(req *request) (any, *awsError) {
	arn := req.params.get("TopicArn")
	if arn == "" {
		return nil, snsInvalid("TopicArn Reason: no value for required parameter")
	}
	t, ok := s.sns.topics[arn]
	if !ok {
		return nil, &awsError{Code: "NotFound", Message: "Topic does not exist", Status: http.StatusNotFound}
	}
	start := 0
	if tok := req.params.get("NextToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(t.subscriptions) {
			return nil, snsInvalid("NextToken")
		}
		start = n
	}
	end := min(start+snsSubscriptionsPage, len(t.subscriptions))
	out := &listSubscriptionsByTopicResult{}
	for i := start; i < end; i++ {
		sub := t.subscriptions[i]
		out.Subscriptions.Member = append(out.Subscriptions.Member, xmlSubscription{
			SubscriptionArn: s.subscriptionARN(t, i), Owner: s.account, Protocol: sub.Protocol, Endpoint: sub.Endpoint, TopicArn: t.arn,
		})
	}
	if end < len(t.subscriptions) {
		out.NextToken = strconv.Itoa(end)
	}
	return out, nil
}
