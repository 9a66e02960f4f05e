package localaws

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SQS speaks JSON 1.0 since 2023 (query-compatible: errors also carry the
// old query code in X-Amzn-Query-Error).
const sqsTargetPrefix = "AmazonSQS."

var queueNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}(\.fifo)?$`)

type queueState struct {
	queues map[string]*queue // by name
}

func (st *queueState) init() { st.queues = map[string]*queue{} }

type queue struct {
	name     string
	created  time.Time
	visible  int
	inFlight int
}

// AddQueue creates an empty queue and returns its URL, in AWS's form
// (https://sqs.<region>.amazonaws.com/<account>/<name>). GetQueueAttributes
// finds a queue by the account and name at the end of any URL, so a stack
// output naming it resolves wherever the test says it lives.
func (s *Server) AddQueue(name string) (string, error) {
	if !queueNamePattern.MatchString(name) {
		return "", fmt.Errorf("localaws: queue name %q: want 1-80 of letters, digits, '-' and '_'", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.queues.queues[name]; !ok {
		s.queues.queues[name] = &queue{name: name, created: s.now()}
	}
	return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", s.region, s.account, name), nil
}

// SetQueueDepth sets how many messages wait in the named queue (visible)
// and how many are being received (in flight), as
// ApproximateNumberOfMessages and ApproximateNumberOfMessagesNotVisible
// report them.
func (s *Server) SetQueueDepth(name string, visible, inFlight int) error {
	if visible < 0 || inFlight < 0 {
		return fmt.Errorf("localaws: queue %s: negative depth %d/%d", name, visible, inFlight)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues.queues[name]
	if !ok {
		return fmt.Errorf("localaws: no queue %s (AddQueue first)", name)
	}
	q.visible, q.inFlight = visible, inFlight
	return nil
}

func sqsService() *service {
	return &service{
		name:           "sqs",
		protocol:       jsonProtocol,
		targetPrefixes: []string{sqsTargetPrefix},
		jsonVersion:    "1.0",
		ops: map[string]operation{
			"GetQueueAttributes": {fn: (*Server).sqsGetQueueAttributes},
		},
		queryCompatible: true,
		queryCodes:      map[string]string{"QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue"},
		errorTypePrefix: "com.amazonaws.sqs#",
		throttleErr:     awsError{Code: "RequestThrottled", Message: "Request is throttled.", Status: http.StatusBadRequest},
		serverErr:       awsError{Code: "InternalError", Message: "We encountered an internal error. Please try again.", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden},
		badRequestCode:  "InvalidParameterValue",
	}
}

type getQueueAttributesInput struct {
	QueueURL       string   `json:"QueueUrl"`
	AttributeNames []string `json:"AttributeNames"`
}

type getQueueAttributesOutput struct {
	Attributes map[string]string `json:"Attributes,omitempty"`
}

// sqsGetQueueAttributes answers the attributes asked for ("All" for
// every one); those localaws keeps no state for carry SQS's defaults.
func (s *Server) sqsGetQueueAttributes(req *request) (any, *awsError) {
	var in getQueueAttributesInput
	if aerr := decodeJSON(req.svc, req.body, &in); aerr != nil {
		return nil, aerr
	}
	q, aerr := s.queueByURL(in.QueueURL)
	if aerr != nil {
		return nil, aerr
	}
	values := map[string]string{
		"ApproximateNumberOfMessages":           strconv.Itoa(q.visible),
		"ApproximateNumberOfMessagesDelayed":    "0",
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(q.inFlight),
		"CreatedTimestamp":                      strconv.FormatInt(q.created.Unix(), 10),
		"DelaySeconds":                          "0",
		"LastModifiedTimestamp":                 strconv.FormatInt(q.created.Unix(), 10),
		"MaximumMessageSize":                    "262144",
		"MessageRetentionPeriod":                "345600",
		"QueueArn":                              fmt.Sprintf("arn:aws:sqs:%s:%s:%s", s.region, s.account, q.name),
		"ReceiveMessageWaitTimeSeconds":         "0",
		"SqsManagedSseEnabled":                  "true",
		"VisibilityTimeout":                     "30",
	}
	out := &getQueueAttributesOutput{}
	for _, name := range in.AttributeNames {
		if name == "All" {
			out.Attributes = values
			break
		}
		v, ok := values[name]
		if !ok {
			return nil, &awsError{Code: "InvalidAttributeName", Message: fmt.Sprintf("Unknown Attribute %s.", name), Status: http.StatusBadRequest}
		}
		if out.Attributes == nil {
			out.Attributes = map[string]string{}
		}
		out.Attributes[name] = v
	}
	return out, nil
}

// queueByURL finds the queue a URL names: its path is /<account>/<name>.
// Callers hold s.mu.
func (s *Server) queueByURL(url string) (*queue, *awsError) {
	notFound := &awsError{Code: "QueueDoesNotExist", Message: "The specified queue does not exist.", Status: http.StatusBadRequest}
	if url == "" {
		return nil, &awsError{Code: "InvalidAddress", Message: "The address  is not valid for this endpoint.", Status: http.StatusBadRequest}
	}
	parts := strings.Split(strings.TrimSuffix(url, "/"), "/")
	if len(parts) < 2 {
		return nil, notFound
	}
	account, name := parts[len(parts)-2], parts[len(parts)-1]
	q, ok := s.queues.queues[name]
	if !ok || account != s.account {
		return nil, notFound
	}
	return q, nil
}
