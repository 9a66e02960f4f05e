package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

const lambdaPathPrefix = "/2015-03-31/functions/"

// Lambda payload limits.
const (
	maxSyncPayload  = 6 * 1024 * 1024
	maxAsyncPayload = 256 * 1024
)

var (
	functionNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	partialARNPattern   = regexp.MustCompile(`^\d{12}:function:`)
)

// Handler stands in for a Lambda function: it gets the invocation payload
// and returns the response payload, as the Lambda Go runtime would.
type Handler func(ctx context.Context, payload []byte) ([]byte, error)

type lambdaState struct {
	functions   map[string]Handler
	invocations []Invocation
}

// Invocation is one Invoke of a registered function, for inspection.
type Invocation struct {
	Function       string
	InvocationType string // RequestResponse or Event
	RequestID      string
	ErrorType      string // empty when the handler succeeded
	ErrorMessage   string
	Time           time.Time
}

func (st *lambdaState) init() { st.functions = map[string]Handler{} }

// RegisterFunction makes Invoke of name (or its ARN) call h. Registering a
// name again replaces its handler.
func (s *Server) RegisterFunction(name string, h func(ctx context.Context, payload []byte) ([]byte, error)) error {
	if !functionNamePattern.MatchString(name) {
		return fmt.Errorf("localaws: function name %q: want 1-64 letters, digits, - or _", name)
	}
	if h == nil {
		return fmt.Errorf("localaws: function %s: nil handler", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lambda.functions[name] = h
	return nil
}

func lambdaService() *service {
	return &service{
		name:     "lambda",
		protocol: restProtocol,
		route: func(r *http.Request) string {
			if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, lambdaPathPrefix) && strings.HasSuffix(r.URL.Path, "/invocations") {
				return "Invoke"
			}
			return ""
		},
		ops: map[string]operation{
			"Invoke": {fn: (*Server).lambdaInvoke, unlocked: true},
		},
		throttleErr:     awsError{Code: "TooManyRequestsException", Message: "Rate Exceeded.", Status: http.StatusTooManyRequests},
		serverErr:       awsError{Code: "ServiceException", Message: "An internal error occurred.", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden},
		badRequestCode:  "InvalidRequestContentException",
		lambdaErrorBody: true,
	}
}

func (s *Server) functionARN(name string) string {
	return "arn:aws:lambda:" + s.region + ":" + s.account + ":function:" + name
}

// resolveFunction finds the handler a FunctionName (name, partial ARN or
// ARN, optionally with :qualifier) names. Only $LATEST exists. Callers hold
// s.mu.
func (s *Server) resolveFunction(ref, qualifier string) (string, Handler, *awsError) {
	name := ref
	switch {
	case strings.HasPrefix(ref, "arn:"):
		parts := strings.Split(ref, ":")
		if len(parts) < 7 || len(parts) > 8 || parts[2] != "lambda" || parts[5] != "function" {
			return "", nil, &awsError{Code: "InvalidParameterValueException", Message: fmt.Sprintf("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern", ref), Status: http.StatusBadRequest}
		}
		if parts[3] != s.region || parts[4] != s.account {
			return "", nil, functionNotFound(ref)
		}
		name = strings.Join(parts[6:], ":")
	case partialARNPattern.MatchString(ref):
		if !strings.HasPrefix(ref, s.account+":") {
			return "", nil, functionNotFound(ref)
		}
		name = strings.TrimPrefix(ref, s.account+":function:")
	}
	if n, q, ok := strings.Cut(name, ":"); ok {
		name = n
		if qualifier == "" {
			qualifier = q
		}
	}
	h, ok := s.lambda.functions[name]
	if !ok || (qualifier != "" && qualifier != "$LATEST") {
		arn := s.functionARN(name)
		if qualifier != "" {
			arn += ":" + qualifier
		}
		return "", nil, functionNotFound(arn)
	}
	return name, h, nil
}

func functionNotFound(arn string) *awsError {
	return &awsError{Code: "ResourceNotFoundException", Message: "Function not found: " + arn, Status: http.StatusNotFound}
}

// lambdaInvoke runs the registered handler without holding s.mu, since a
// handler may call back into the emulator through the SDK. A handler error
// is a function error: HTTP 200 with X-Amz-Function-Error: Unhandled and
// the runtime's {"errorType","errorMessage"} body, which Step Functions
// matches against Retry and Catch.
func (s *Server) lambdaInvoke(req *request) (any, *awsError) {
	r := req.http
	ref := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, lambdaPathPrefix), "/invocations")
	if ref == "" || strings.Contains(ref, "/") {
		return nil, &awsError{Code: "InvalidParameterValueException", Message: fmt.Sprintf("invalid function name %q", ref), Status: http.StatusBadRequest}
	}
	invocationType := r.Header.Get("X-Amz-Invocation-Type")
	if invocationType == "" {
		invocationType = "RequestResponse"
	}
	if invocationType != "RequestResponse" && invocationType != "Event" && invocationType != "DryRun" {
		return nil, &awsError{Code: "InvalidParameterValueException", Message: fmt.Sprintf("1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", invocationType), Status: http.StatusBadRequest}
	}
	payload := req.body
	limit := maxSyncPayload
	if invocationType == "Event" {
		limit = maxAsyncPayload
	}
	if len(payload) > limit {
		return nil, &awsError{Code: "RequestTooLargeException", Message: fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", limit), Status: http.StatusRequestEntityTooLarge}
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		return nil, &awsError{Code: "InvalidRequestContentException", Message: "Could not parse request body into json: Could not parse payload into json", Status: http.StatusBadRequest}
	}

	s.mu.Lock()
	name, h, aerr := s.resolveFunction(ref, r.URL.Query().Get("Qualifier"))
	arn := s.functionARN(name)
	s.mu.Unlock()
	if aerr != nil {
		return nil, aerr
	}
	header := http.Header{"X-Amz-Executed-Version": {"$LATEST"}}
	if invocationType == "DryRun" {
		return &restReply{status: http.StatusNoContent, header: header}, nil
	}

	ctx := lambdacontext.NewContext(r.Context(), &lambdacontext.LambdaContext{AwsRequestID: req.requestID, InvokedFunctionArn: arn})
	out, err := callHandler(ctx, h, payload)
	inv := Invocation{Function: name, InvocationType: invocationType, RequestID: req.requestID}
	if err != nil {
		inv.ErrorType, inv.ErrorMessage = lambdaErrorType(err), lambdaErrorMessage(err)
	}
	s.mu.Lock()
	inv.Time = s.now()
	s.lambda.invocations = append(s.lambda.invocations, inv)
	s.mu.Unlock()
	if invocationType == "Event" {
		// The handler ran before the answer so that tests see its effects
		// when Invoke returns; AWS would run it afterwards.
		return &restReply{status: http.StatusAccepted, header: header}, nil
	}
	if err != nil {
		body, mErr := json.Marshal(messages.InvokeResponse_Error{Type: inv.ErrorType, Message: inv.ErrorMessage})
		if mErr != nil {
			return nil, req.svc.serverError(fmt.Sprintf("encode function error: %v", mErr))
		}
		header.Set("X-Amz-Function-Error", "Unhandled")
		header.Set("Content-Type", "application/json")
		return &restReply{status: http.StatusOK, header: header, body: body}, nil
	}
	if out == nil {
		out = []byte("null") // what the Go runtime returns for a nil result
	}
	header.Set("Content-Type", "application/json")
	return &restReply{status: http.StatusOK, header: header, body: out}, nil
}

// handlerPanic is a panic in a handler, reported as a function error the
// way the Go runtime reports it (errorType is the panic value's type).
type handlerPanic struct{ value any }

func (p handlerPanic) Error() string     { return fmt.Sprint(p.value) }
func (p handlerPanic) ErrorType() string { return goTypeName(p.value) }

func callHandler(ctx context.Context, h Handler, payload []byte) (out []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, handlerPanic{value: v}
		}
	}()
	return h(ctx, payload)
}

// lambdaErrorType names a handler error the way Step Functions will see it:
// an ErrorType() method anywhere in the chain wins, then a
// messages.InvokeResponse_Error's Type, then the Go type name (what
// aws-lambda-go reports).
func lambdaErrorType(err error) string {
	var typed interface{ ErrorType() string }
	if errors.As(err, &typed) && typed.ErrorType() != "" {
		return typed.ErrorType()
	}
	if ire, ok := invokeResponseError(err); ok && ire.Type != "" {
		return ire.Type
	}
	return goTypeName(err)
}

func lambdaErrorMessage(err error) string {
	if ire, ok := invokeResponseError(err); ok && !hasErrorTypeMethod(err) {
		return ire.Message
	}
	return err.Error()
}

func hasErrorTypeMethod(err error) bool {
	var typed interface{ ErrorType() string }
	return errors.As(err, &typed)
}

func invokeResponseError(err error) (messages.InvokeResponse_Error, bool) {
	var v messages.InvokeResponse_Error
	if errors.As(err, &v) {
		return v, true
	}
	var p *messages.InvokeResponse_Error
	if errors.As(err, &p) && p != nil {
		return *p, true
	}
	return messages.InvokeResponse_Error{}, false
}

func goTypeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "error"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}
