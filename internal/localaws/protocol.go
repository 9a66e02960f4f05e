package localaws

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// awsError is an error answer in AWS's vocabulary: the code the SDK maps to a
// typed error, the message, and the HTTP status the SDK's retryer looks at.
type awsError struct {
	Code    string
	Message string
	Status  int
	// Fields are extra members of a JSON error body, such as the Item that
	// DynamoDB's ConditionalCheckFailedException carries on request.
	Fields map[string]any
}

func (e *awsError) Error() string { return e.Code + ": " + e.Message }

// protocol is how a service encodes requests and answers on the wire.
type protocol int

const (
	queryProtocol protocol = iota // form-encoded Action, XML answers (IAM, STS, SNS)
	jsonProtocol                  // X-Amz-Target, JSON 1.1 or 1.0 (CloudTrail, EventBridge, Secrets Manager, DynamoDB)
	restProtocol                  // method and path, JSON (SES v2, Lambda)
	cborProtocol                  // Smithy RPC v2 CBOR: POST /service/S/operation/Op (CloudWatch)
)

// opFunc serves one operation. It returns what to answer (encoded by the
// service's protocol) or an AWS error. It runs with s.mu held unless the
// operation is marked unlocked.
type opFunc func(s *Server, req *request) (any, *awsError)

type operation struct {
	fn opFunc
	// unlocked operations take s.mu themselves because they call user code
	// (Lambda handlers, EventBridge targets) that may call back into s.
	unlocked bool
}

// service is one emulated AWS service: its protocol, its operations and the
// error shapes it answers with.
type service struct {
	name           string // SigV4 signing name; also the prefix of fault keys
	protocol       protocol
	xmlns          string                       // query protocol: XML namespace
	targetPrefixes []string                     // JSON protocol: X-Amz-Target prefixes
	route          func(r *http.Request) string // REST protocol: operation for method and path
	ops            map[string]operation

	throttleErr     awsError // the service's real throttling answer
	serverErr       awsError // the service's real 5xx answer
	invalidTokenErr awsError // answer to a request signed with a dead key
	badRequestCode  string   // code for requests that cannot be parsed
	// errorStatus is the HTTP status of the service's own error codes where
	// it differs from statusForCode's, for injected failures.
	errorStatus map[string]int
	// lambdaErrorBody: Lambda's error bodies carry "Type": "User"|"Service".
	lambdaErrorBody bool
	// jsonVersion is the JSON protocol's version in Content-Type: "1.1"
	// unless set (DynamoDB speaks "1.0").
	jsonVersion string
	// errorTypePrefix namespaces the JSON protocol's __type, as DynamoDB's
	// "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException".
	errorTypePrefix string
	// crc32Header adds X-Amz-Crc32 (the body's IEEE CRC32) to every JSON
	// answer, as DynamoDB does; its SDK client checks it.
	crc32Header bool
	// queryCompatible services (SQS, CloudWatch) moved from the query
	// protocol to JSON or CBOR and still send the old error code in
	// X-Amzn-Query-Error ("code;Sender"), which the SDK reports as the
	// error's code. queryCodes maps a code to its old name where they
	// differ (SQS: QueueDoesNotExist is AWS.SimpleQueueService.NonExistentQueue).
	queryCompatible bool
	queryCodes      map[string]string
	// cborService is the RPC v2 CBOR service name in the request path,
	// e.g. "GraniteServiceVersion20100801" for CloudWatch.
	cborService string
}

// sharedServices are the services every Server answers; they never change
// once built, so one set serves all (an Organization of 1,000 accounts
// builds them once).
var sharedServices = sync.OnceValue(newServices)

func newServices() map[string]*service {
	list := []*service{iamService(), stsService(), snsService(), cloudTrailService(), eventsService(), sesService(), lambdaService(), dynamoDBService(), secretsManagerService(),
		cloudFormationService(), sqsService(), cloudWatchService(), statesService(), organizationsService()}
	m := make(map[string]*service, len(list))
	for _, svc := range list {
		m[svc.name] = svc
	}
	return m
}

func (svc *service) throttle() *awsError {
	e := svc.throttleErr
	return &e
}

func (svc *service) serverError(msg string) *awsError {
	e := svc.serverErr
	if msg != "" {
		e.Message = msg
	}
	return &e
}

func (svc *service) invalidToken() *awsError {
	e := svc.invalidTokenErr
	return &e
}

// missingAuth is AWS's answer to a request without SigV4 credentials.
func (svc *service) missingAuth() *awsError {
	code := "MissingAuthenticationToken"
	if svc.protocol != queryProtocol {
		code = "MissingAuthenticationTokenException"
	}
	return &awsError{Code: code, Message: "Request is missing Authentication Token", Status: http.StatusForbidden}
}

func (svc *service) badRequest(msg string) *awsError {
	return &awsError{Code: svc.badRequestCode, Message: msg, Status: http.StatusBadRequest}
}

// operation identifies the operation a request asks for, parsing query
// parameters on the way.
func (svc *service) operation(req *request) (string, *awsError) {
	r := req.http
	switch svc.protocol {
	case queryProtocol:
		params, err := parseQueryParams(r, req.body)
		if err != nil {
			return "", svc.badRequest(err.Error())
		}
		req.params = params
		action := params.get("Action")
		if action == "" {
			return "", &awsError{Code: "MissingAction", Message: "Missing Action", Status: http.StatusBadRequest}
		}
		if _, ok := svc.ops[action]; !ok {
			return action, &awsError{Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %s for version %s", action, params.get("Version")), Status: http.StatusBadRequest}
		}
		return action, nil
	case jsonProtocol:
		target := r.Header.Get("X-Amz-Target")
		op, ok := "", false
		for _, prefix := range svc.targetPrefixes {
			if op, ok = strings.CutPrefix(target, prefix); ok {
				break
			}
		}
		if !ok || op == "" {
			return "", &awsError{Code: "UnknownOperationException", Message: fmt.Sprintf("unknown X-Amz-Target %q", target), Status: http.StatusBadRequest}
		}
		if _, ok := svc.ops[op]; !ok {
			return op, &awsError{Code: "UnknownOperationException", Message: fmt.Sprintf("unknown operation %s", op), Status: http.StatusBadRequest}
		}
		return op, nil
	case cborProtocol:
		op, ok := strings.CutPrefix(r.URL.Path, "/service/"+svc.cborService+"/operation/")
		if !ok || r.Method != http.MethodPost {
			return "", &awsError{Code: "UnknownOperationException", Message: fmt.Sprintf("no operation for %s %s", r.Method, r.URL.Path), Status: http.StatusNotFound}
		}
		if _, ok := svc.ops[op]; !ok {
			return op, &awsError{Code: "UnknownOperationException", Message: fmt.Sprintf("unknown operation %s", op), Status: http.StatusBadRequest}
		}
		return op, nil
	default:
		op := svc.route(r)
		if _, ok := svc.ops[op]; !ok {
			return "", &awsError{Code: "UnknownOperationException", Message: fmt.Sprintf("no operation for %s %s", r.Method, r.URL.Path), Status: http.StatusNotFound}
		}
		return op, nil
	}
}

// restReply is a fully formed REST answer, for operations whose answer is
// more than a JSON body (Lambda Invoke).
type restReply struct {
	status int
	header http.Header
	body   []byte
}

func (svc *service) writeResult(w http.ResponseWriter, op, requestID string, result any) {
	w.Header().Set("X-Amzn-Requestid", requestID)
	switch svc.protocol {
	case queryProtocol:
		body, err := encodeQueryResult(svc.xmlns, op, requestID, result)
		if err != nil {
			svc.writeError(w, op, requestID, svc.serverError(err.Error()))
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(body)
	case jsonProtocol:
		body, err := encodeJSON(result)
		if err != nil {
			svc.writeError(w, op, requestID, svc.serverError(err.Error()))
			return
		}
		svc.writeJSONHeaders(w, body)
		_, _ = w.Write(body)
	case cborProtocol:
		v, ok := result.(cbor.Value)
		if !ok {
			v = cbor.Map{}
		}
		writeCBORHeaders(w)
		_, _ = w.Write(cbor.Encode(v))
	default:
		if reply, ok := result.(*restReply); ok {
			for k, vs := range reply.header {
				w.Header()[k] = vs
			}
			w.WriteHeader(reply.status)
			_, _ = w.Write(reply.body)
			return
		}
		body, err := encodeJSON(result)
		if err != nil {
			svc.writeError(w, op, requestID, svc.serverError(err.Error()))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
}

func (svc *service) writeError(w http.ResponseWriter, op, requestID string, e *awsError) {
	if svc.queryCompatible {
		code := e.Code
		if old, ok := svc.queryCodes[code]; ok {
			code = old
		}
		w.Header().Set("X-Amzn-Query-Error", code+";"+faultType(e.Status, "Sender", "Receiver"))
	}
	switch svc.protocol {
	case queryProtocol:
		writeQueryError(w, svc.xmlns, requestID, e)
	case jsonProtocol:
		fields := map[string]any{}
		for k, v := range e.Fields {
			fields[k] = v
		}
		fields["__type"], fields["message"] = svc.errorTypePrefix+e.Code, e.Message
		body, _ := json.Marshal(fields)
		w.Header().Set("X-Amzn-Requestid", requestID)
		svc.writeJSONHeaders(w, body)
		w.WriteHeader(e.Status)
		_, _ = w.Write(body)
	case cborProtocol:
		w.Header().Set("X-Amzn-Requestid", requestID)
		writeCBORHeaders(w)
		w.WriteHeader(e.Status)
		_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String(svc.errorTypePrefix + e.Code), "message": cbor.String(e.Message)}))
	default:
		w.Header().Set("X-Amzn-Requestid", requestID)
		w.Header().Set("X-Amzn-Errortype", e.Code)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(e.Status)
		fields := map[string]string{"message": e.Message}
		if svc.lambdaErrorBody {
			fields = map[string]string{"Type": faultType(e.Status, "User", "Service"), "Message": e.Message}
		}
		body, _ := json.Marshal(fields)
		_, _ = w.Write(body)
	}
}

// writeJSONHeaders sets the JSON protocol's Content-Type and, where the
// service sends one, the body's checksum.
func (svc *service) writeJSONHeaders(w http.ResponseWriter, body []byte) {
	version := svc.jsonVersion
	if version == "" {
		version = "1.1"
	}
	w.Header().Set("Content-Type", "application/x-amz-json-"+version)
	if svc.crc32Header {
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	}
}

func faultType(status int, client, server string) string {
	if status >= 500 {
		return server
	}
	return client
}

// xmlErrorResponse is the query protocol's error document.
type xmlErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

func writeQueryError(w http.ResponseWriter, xmlns, requestID string, e *awsError) {
	body, err := xml.Marshal(xmlErrorResponse{
		Xmlns:     xmlns,
		Type:      faultType(e.Status, "Sender", "Receiver"),
		Code:      e.Code,
		Message:   e.Message,
		RequestID: requestID,
	})
	if err != nil {
		// Strings always marshal; this is unreachable in practice.
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	_, _ = w.Write(append([]byte(xml.Header), body...))
}

// encodeQueryResult builds <OpResponse><OpResult>…</OpResult>
// <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></OpResponse>.
func encodeQueryResult(xmlns, op, requestID string, result any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	start := xml.StartElement{
		Name: xml.Name{Local: op + "Response"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: xmlns}},
	}
	if err := enc.EncodeToken(start); err != nil {
		return nil, fmt.Errorf("encode %s response: %w", op, err)
	}
	if result != nil {
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: op + "Result"}}); err != nil {
			return nil, fmt.Errorf("encode %s result: %w", op, err)
		}
	}
	meta := struct {
		RequestID string `xml:"RequestId"`
	}{requestID}
	if err := enc.EncodeElement(meta, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}); err != nil {
		return nil, fmt.Errorf("encode %s metadata: %w", op, err)
	}
	if err := enc.EncodeToken(start.End()); err != nil {
		return nil, fmt.Errorf("encode %s response: %w", op, err)
	}
	if err := enc.Flush(); err != nil {
		return nil, fmt.Errorf("encode %s response: %w", op, err)
	}
	return buf.Bytes(), nil
}

func encodeJSON(v any) ([]byte, error) {
	if v == nil {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode JSON answer: %w", err)
	}
	return b, nil
}

// decodeJSON decodes a JSON request body; an empty body is an empty object,
// as AWS's JSON services treat it.
func decodeJSON(svc *service, body []byte, v any) *awsError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &awsError{Code: svc.badRequestCode, Message: fmt.Sprintf("could not parse request body: %v", err), Status: http.StatusBadRequest}
	}
	return nil
}

// queryParams are the parameters of a query-protocol request.
type queryParams url.Values

func parseQueryParams(r *http.Request, body []byte) (queryParams, error) {
	params := url.Values{}
	for k, vs := range r.URL.Query() {
		params[k] = append(params[k], vs...)
	}
	if len(body) > 0 {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("malformed form body: %w", err)
		}
		for k, vs := range form {
			params[k] = append(params[k], vs...)
		}
	}
	return queryParams(params), nil
}

func (p queryParams) get(name string) string { return url.Values(p).Get(name) }

func (p queryParams) has(name string) bool {
	_, ok := p[name]
	return ok
}

// indexed returns the members of a query-protocol list or map, such as
// Tags.member.1.Key or MessageAttributes.entry.2.Value.DataType, in index
// order, each as a map from the rest of the name ("Key", "Value.DataType")
// to its value.
func (p queryParams) indexed(prefix string) []map[string]string {
	byIndex := map[int]map[string]string{}
	for name, vs := range p {
		rest, ok := strings.CutPrefix(name, prefix+".")
		if !ok || len(vs) == 0 {
			continue
		}
		num, field, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 {
			continue
		}
		if byIndex[n] == nil {
			byIndex[n] = map[string]string{}
		}
		byIndex[n][field] = vs[0]
	}
	idx := make([]int, 0, len(byIndex))
	for n := range byIndex {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	out := make([]map[string]string, 0, len(idx))
	for _, n := range idx {
		out = append(out, byIndex[n])
	}
	return out
}

// members is a query-protocol XML list: <Name><member>…</member></Name>. It
// always encodes its element, even when empty, as AWS does.
type members[T any] struct {
	Member []T `xml:"member"`
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func writeCBORHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
}

// decodeCBOR reads an RPC v2 CBOR request body as a map; an empty body is
// an empty map, as for the JSON protocols.
func decodeCBOR(svc *service, body []byte) (cbor.Map, *awsError) {
	if len(body) == 0 {
		return cbor.Map{}, nil
	}
	v, err := cbor.Decode(body)
	if err != nil {
		return nil, svc.badRequest(fmt.Sprintf("could not parse CBOR request body: %v", err))
	}
	m, ok := v.(cbor.Map)
	if !ok {
		return nil, svc.badRequest("CBOR request body is not a map")
	}
	return m, nil
}

// cborStrings reads a list of strings from a CBOR request map; other
// members are ignored.
func cborStrings(m cbor.Map, key string) []string {
	list, _ := m[key].(cbor.List)
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s, ok := v.(cbor.String); ok {
			out = append(out, string(s))
		}
	}
	return out
}

// cborTime is a CBOR timestamp: tag 1 around epoch seconds.
func cborTime(t time.Time) cbor.Value {
	return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(t.UnixNano()) / 1e9)}
}
