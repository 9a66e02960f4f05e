package localaws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"

	minidyn "github.com/truora/minidyn/server"
)

// DynamoDB: JSON 1.0 with X-Amz-Target "DynamoDB_20120810.<Op>". localaws
// does not evaluate DynamoDB requests itself: it hands each one, after the
// pipeline has identified the caller, injected faults and before it logs
// the call, to an in-process minidyn server (github.com/truora/minidyn)
// that holds the tables of the request's region. What localaws adds is
// only what the pipeline and the SDK need around it:
//
//   - the wire: answers go out through the service's JSON 1.0 writer, so
//     they carry X-Amz-Crc32 and errors a namespaced __type, as DynamoDB's;
//   - PutItem's return values: minidyn ignores ReturnValues and
//     ReturnValuesOnConditionCheckFailure on PutItem (it answers the new
//     item as Attributes whatever was asked, and no Item with
//     ConditionalCheckFailedException). The ledger reads the Item that a
//     failed conditional put returns, so the adapter reads the old item
//     first and answers as DynamoDB does (see putItem);
//   - inspection (Items) and table creation from Go (CreateDynamoDBTable,
//     fixtures), which go to minidyn directly and are not logged as calls.
//
// Operations run one at a time under the server's lock, as every other
// emulated service's do, which also keeps minidyn's table map (which its
// CreateTable writes without a lock of its own) safe.

const dynamoDBTargetPrefix = "DynamoDB_20120810."

// dynamoDBErrorPrefix is the namespace DynamoDB puts before its __type.
const dynamoDBErrorPrefix = "com.amazonaws.dynamodb.v20120810#"

// dynamoDBOperations are the operations minidyn serves (its server.go).
var dynamoDBOperations = []string{
	"CreateTable", "DescribeTable", "UpdateTable", "DeleteTable",
	"PutItem", "GetItem", "UpdateItem", "DeleteItem", "Query", "Scan",
	"BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
}

var tableNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

func dynamoDBService() *service {
	ops := make(map[string]operation, len(dynamoDBOperations))
	for _, op := range dynamoDBOperations {
		ops[op] = operation{fn: (*Server).ddbDelegate}
	}
	ops["PutItem"] = operation{fn: (*Server).ddbPutItem}
	return &service{
		name:           "dynamodb",
		protocol:       jsonProtocol,
		targetPrefixes: []string{dynamoDBTargetPrefix},
		ops:            ops,
		throttleErr: awsError{
			Code:    "ProvisionedThroughputExceededException",
			Message: "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
			Status:  http.StatusBadRequest,
		},
		serverErr:       awsError{Code: "InternalServerError", Message: "Internal server error", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid.", Status: http.StatusBadRequest},
		badRequestCode:  "SerializationException",
		jsonVersion:     "1.0",
		errorTypePrefix: dynamoDBErrorPrefix,
		crc32Header:     true,
	}
}

// dynamoState holds one minidyn server per region, created on first use,
// so that a table exists only in the region it was created in.
type dynamoState struct {
	regions map[string]*minidyn.Server
}

func (st *dynamoState) init() { st.regions = map[string]*minidyn.Server{} }

// engine is the minidyn server of region. Callers hold s.mu.
func (s *Server) engine(region string) *minidyn.Server {
	e := s.dynamo.regions[region]
	if e == nil {
		e = minidyn.NewServer()
		s.dynamo.regions[region] = e
	}
	return e
}

// requestRegion is the region a request was signed for, else the server's.
func (s *Server) requestRegion(req *request) string {
	if req.region != "" {
		return req.region
	}
	return s.region
}

// ddbCall sends one DynamoDB request body to region's minidyn server and
// returns its answer: the JSON result, or the error it answered. Callers
// hold s.mu.
func (s *Server) ddbCall(region, op string, body []byte) (json.RawMessage, *awsError) {
	body, err := replaceBinaries(body, emptyBinary, emptyBinaryStandIn)
	if err != nil {
		return nil, ddbSerialization(err.Error())
	}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.0")
	r.Header.Set("X-Amz-Target", dynamoDBTargetPrefix+op)
	w := httptest.NewRecorder()
	s.engine(region).ServeHTTP(w, r)
	out, err := replaceBinaries(w.Body.Bytes(), emptyBinaryStandIn, emptyBinary)
	if err != nil {
		return nil, &awsError{Code: "InternalServerError", Message: "minidyn: " + err.Error(), Status: http.StatusInternalServerError}
	}
	if w.Code == http.StatusOK {
		return json.RawMessage(out), nil
	}
	return nil, ddbEngineError(w.Code, out)
}

// Empty binary values. DynamoDB stores an empty B value in a non-key
// attribute (the ledger's PutChunk writes one for an empty chunk). minidyn
// stores it but cannot read it back: it answers it as {}, which the SDK
// decodes as no value, and its expression evaluator refuses every item that
// holds one, so that one empty chunk would fail every later Query and
// UpdateItem on the table with a ValidationException. The adapter therefore
// swaps {"B": ""} for a stand-in value on the way in and back on the way out.
// The stand-in is a non-empty binary no caller writes; conditions that
// compare an empty binary by order or size() see the stand-in (nothing in
// keywarden does).
const (
	emptyBinary        = ""
	emptyBinaryStandIn = "AGxvY2FsYXdzOmVtcHR5LWJpbmFyeQA=" // base64 of "\x00localaws:empty-binary\x00"
)

// replaceBinaries replaces every DynamoDB JSON binary value {"B": from} in
// a request or answer body by {"B": to}. Bodies without such a value are
// returned as they are; others are re-encoded with their numbers intact.
func replaceBinaries(body []byte, from, to string) ([]byte, error) {
	if !bytes.Contains(body, []byte(`"B"`)) || (from != "" && !bytes.Contains(body, []byte(from))) {
		return body, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("could not parse body: %w", err)
	}
	changed := false
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if b, ok := v["B"].(string); ok && len(v) == 1 && b == from {
				v["B"], changed = to, true
				return
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	if !changed {
		return body, nil
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("could not encode body: %w", err)
	}
	return out, nil
}

// ddbEngineError turns minidyn's JSON error answer into an awsError, so the
// service's writer namespaces __type and keeps extra members (the Item of
// a ConditionalCheckFailedException, a transaction's
// CancellationReasons).
func ddbEngineError(status int, body []byte) *awsError {
	var fields map[string]any
	if err := json.Unmarshal(body, &fields); err != nil {
		return &awsError{Code: "InternalServerError", Message: "minidyn: " + strings.TrimSpace(string(body)), Status: http.StatusInternalServerError}
	}
	e := &awsError{Status: status}
	if t, ok := fields["__type"].(string); ok {
		// minidyn answers bare types; strip a namespace should it add one.
		e.Code = t[strings.LastIndexByte(t, '#')+1:]
	}
	for _, name := range []string{"message", "Message"} {
		if m, ok := fields[name].(string); ok {
			e.Message = m
		}
		delete(fields, name)
	}
	delete(fields, "__type")
	if len(fields) > 0 {
		e.Fields = fields
	}
	return e
}

// ddbBody checks that a request body is a JSON object, as DynamoDB does
// before anything else, and turns an empty body into {}.
func ddbBody(req *request) ([]byte, *awsError) {
	var fields map[string]json.RawMessage
	if aerr := decodeJSON(req.svc, req.body, &fields); aerr != nil {
		return nil, aerr
	}
	if fields == nil {
		return []byte("{}"), nil
	}
	return req.body, nil
}

// ddbDelegate serves an operation by minidyn as it is.
func (s *Server) ddbDelegate(req *request) (any, *awsError) {
	body, aerr := ddbBody(req)
	if aerr != nil {
		return nil, aerr
	}
	return s.ddbCall(s.requestRegion(req), req.op, body)
}

// ddbPutItem serves PutItem by minidyn, then answers its return values as
// DynamoDB does: Attributes only with ReturnValues ALL_OLD, and then the
// item as it was before the put (absent if there was none); the old item
// as the Item of a ConditionalCheckFailedException only with
// ReturnValuesOnConditionCheckFailure ALL_OLD. minidyn does neither, so
// the old item is read first; under s.mu nothing can change it between
// the read and the put.
func (s *Server) ddbPutItem(req *request) (any, *awsError) {
	body, aerr := ddbBody(req)
	if aerr != nil {
		return nil, aerr
	}
	var in struct {
		TableName                           string
		Item                                map[string]json.RawMessage
		ReturnValues                        string
		ReturnValuesOnConditionCheckFailure string
	}
	if aerr := decodeJSON(req.svc, body, &in); aerr != nil {
		return nil, aerr
	}
	switch in.ReturnValues {
	case "", "NONE", "ALL_OLD":
	default:
		return nil, ddbValidation("ReturnValues can only be ALL_OLD or NONE")
	}
	region := s.requestRegion(req)
	var old json.RawMessage
	if in.ReturnValues == "ALL_OLD" || in.ReturnValuesOnConditionCheckFailure == "ALL_OLD" {
		// A missing table or a bad key: let minidyn's PutItem answer it.
		old, _ = s.ddbGetOld(region, in.TableName, in.Item)
	}
	if _, aerr := s.ddbCall(region, "PutItem", body); aerr != nil {
		if aerr.Code == "ConditionalCheckFailedException" {
			delete(aerr.Fields, "Item")
			if in.ReturnValuesOnConditionCheckFailure == "ALL_OLD" && old != nil {
				aerr.Fields = map[string]any{"Item": old}
			}
		}
		return nil, aerr
	}
	out := map[string]any{}
	if in.ReturnValues == "ALL_OLD" && old != nil {
		out["Attributes"] = old
	}
	return out, nil
}

// ddbGetOld reads the stored item with the key of item; nil if there is
// none. Callers hold s.mu.
func (s *Server) ddbGetOld(region, table string, item map[string]json.RawMessage) (json.RawMessage, *awsError) {
	schema, aerr := s.ddbKeySchema(region, table)
	if aerr != nil {
		return nil, aerr
	}
	key := map[string]json.RawMessage{}
	for _, name := range schema {
		if v, ok := item[name]; ok {
			key[name] = v
		}
	}
	in, err := json.Marshal(map[string]any{"TableName": table, "Key": key, "ConsistentRead": true})
	if err != nil {
		return nil, ddbValidation(err.Error())
	}
	raw, aerr := s.ddbCall(region, "GetItem", in)
	if aerr != nil {
		return nil, aerr
	}
	var out struct{ Item json.RawMessage }
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Item) == 0 || string(out.Item) == "null" {
		return nil, nil
	}
	return out.Item, nil
}

// ddbKeySchema is a table's key attribute names, partition key first.
// Callers hold s.mu.
func (s *Server) ddbKeySchema(region, table string) ([]string, *awsError) {
	in, err := json.Marshal(map[string]string{"TableName": table})
	if err != nil {
		return nil, ddbValidation(err.Error())
	}
	raw, aerr := s.ddbCall(region, "DescribeTable", in)
	if aerr != nil {
		return nil, aerr
	}
	var out struct {
		Table struct {
			KeySchema []struct{ AttributeName, KeyType string }
		}
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, &awsError{Code: "InternalServerError", Message: "minidyn: decode DescribeTable: " + err.Error(), Status: http.StatusInternalServerError}
	}
	var hash, rng []string
	for _, k := range out.Table.KeySchema {
		if k.KeyType == "HASH" {
			hash = append(hash, k.AttributeName)
		} else {
			rng = append(rng, k.AttributeName)
		}
	}
	return append(hash, rng...), nil
}

func ddbValidation(msg string) *awsError {
	return &awsError{Code: "ValidationException", Message: msg, Status: http.StatusBadRequest}
}

func ddbSerialization(msg string) *awsError {
	return &awsError{Code: "SerializationException", Message: msg, Status: http.StatusBadRequest}
}

// DynamoDBTable describes a table to create with CreateDynamoDBTable.
type DynamoDBTable struct {
	Name             string
	PartitionKey     string // attribute name; its type is PartitionKeyType
	PartitionKeyType string // S (default), N or B
	SortKey          string // optional
	SortKeyType      string // S (default), N or B
}

// CreateDynamoDBTable creates an on-demand table in the server's region, as
// a drill's account would have it. It is not logged as a call.
func (s *Server) CreateDynamoDBTable(spec DynamoDBTable) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if aerr := s.createTable(s.region, spec); aerr != nil {
		return fmt.Errorf("localaws: create DynamoDB table %s: %s: %s", spec.Name, aerr.Code, aerr.Message)
	}
	return nil
}

// createTable checks spec and creates the table in minidyn. Callers hold
// s.mu.
func (s *Server) createTable(region string, spec DynamoDBTable) *awsError {
	spec, aerr := checkTableSpec(spec)
	if aerr != nil {
		return aerr
	}
	type attr struct{ AttributeName, AttributeType string }
	type key struct{ AttributeName, KeyType string }
	in := struct {
		TableName            string
		BillingMode          string
		AttributeDefinitions []attr
		KeySchema            []key
	}{
		TableName:            spec.Name,
		BillingMode:          "PAY_PER_REQUEST",
		AttributeDefinitions: []attr{{spec.PartitionKey, spec.PartitionKeyType}},
		KeySchema:            []key{{spec.PartitionKey, "HASH"}},
	}
	if spec.SortKey != "" {
		in.AttributeDefinitions = append(in.AttributeDefinitions, attr{spec.SortKey, spec.SortKeyType})
		in.KeySchema = append(in.KeySchema, key{spec.SortKey, "RANGE"})
	}
	body, err := json.Marshal(in)
	if err != nil {
		return ddbValidation(err.Error())
	}
	_, aerr = s.ddbCall(region, "CreateTable", body)
	return aerr
}

// tableExists tells whether region has table. Callers hold s.mu.
func (s *Server) tableExists(region, table string) bool {
	_, aerr := s.ddbKeySchema(region, table)
	return aerr == nil
}

// checkTableSpec checks a table's name and keys and fills in default key
// types: the parameters of CreateDynamoDBTable and of fixtures, checked
// before they reach minidyn so that a bad fixture fails with a clear
// message.
func checkTableSpec(spec DynamoDBTable) (DynamoDBTable, *awsError) {
	if !tableNamePattern.MatchString(spec.Name) {
		return spec, ddbValidation(fmt.Sprintf("table name %q: want 3-255 letters, digits, _ . or -", spec.Name))
	}
	if spec.PartitionKey == "" {
		return spec, ddbValidation("no partition key")
	}
	if spec.SortKey == spec.PartitionKey {
		return spec, ddbValidation("the partition key and the sort key must be different attributes")
	}
	if spec.PartitionKeyType == "" {
		spec.PartitionKeyType = "S"
	}
	if spec.SortKey != "" && spec.SortKeyType == "" {
		spec.SortKeyType = "S"
	}
	for _, typ := range []string{spec.PartitionKeyType, spec.SortKeyType} {
		switch typ {
		case "", "S", "N", "B":
		default:
			return spec, ddbValidation(fmt.Sprintf("key type %q: want S, N or B", typ))
		}
	}
	return spec, nil
}

// --- inspection ---

// Items returns the items of table (in the server's region) as plain Go
// values, ordered by partition key then sort key (numbers by value): S
// string, N json.Number (as stored), B []byte, BOOL bool, NULL nil, M
// map[string]any, L []any, SS []string, NS []json.Number, BS [][]byte. It
// returns nil if there is no such table. It reads with minidyn's Scan
// and is not logged as a call.
func (s *Server) Items(table string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	schema, aerr := s.ddbKeySchema(s.region, table)
	if aerr != nil {
		return nil
	}
	var all []map[string]*minidyn.AttributeValue
	var start map[string]*minidyn.AttributeValue
	for {
		body, err := json.Marshal(map[string]any{"TableName": table, "ExclusiveStartKey": start})
		if err != nil {
			return nil
		}
		raw, aerr := s.ddbCall(s.region, "Scan", body)
		if aerr != nil {
			return nil
		}
		var page struct {
			Items            []map[string]*minidyn.AttributeValue
			LastEvaluatedKey map[string]*minidyn.AttributeValue
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil
		}
		all = append(all, page.Items...)
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		start = page.LastEvaluatedKey
	}
	out := make([]map[string]any, 0, len(all))
	for _, it := range all {
		m := make(map[string]any, len(it))
		for k, v := range it {
			m[k] = plainValue(v)
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool {
		for _, name := range schema {
			if c := compareKeys(out[i][name], out[j][name]); c != 0 {
				return c < 0
			}
		}
		return false
	})
	return out
}

// plainValue converts a DynamoDB JSON value to the Go value Items
// documents.
func plainValue(v *minidyn.AttributeValue) any {
	switch {
	case v == nil:
		return nil
	case v.S != nil:
		return *v.S
	case v.N != nil:
		return json.Number(*v.N)
	case v.B != nil:
		return v.B
	case v.BOOL != nil:
		return *v.BOOL
	case v.M != nil:
		m := make(map[string]any, len(v.M))
		for k, e := range v.M {
			m[k] = plainValue(e)
		}
		return m
	case v.L != nil:
		l := make([]any, 0, len(v.L))
		for _, e := range v.L {
			l = append(l, plainValue(e))
		}
		return l
	case v.SS != nil:
		ss := make([]string, 0, len(v.SS))
		for _, e := range v.SS {
			ss = append(ss, *e)
		}
		return ss
	case v.NS != nil:
		ns := make([]json.Number, 0, len(v.NS))
		for _, e := range v.NS {
			ns = append(ns, json.Number(*e))
		}
		return ns
	case v.BS != nil:
		return v.BS
	}
	return nil // NULL
}

// compareKeys orders key values as DynamoDB does: strings and binaries by
// bytes, numbers by value.
func compareKeys(a, b any) int {
	switch a := a.(type) {
	case string:
		if b, ok := b.(string); ok {
			return strings.Compare(a, b)
		}
	case []byte:
		if b, ok := b.([]byte); ok {
			return bytes.Compare(a, b)
		}
	case json.Number:
		if b, ok := b.(json.Number); ok {
			x, okA := new(big.Rat).SetString(string(a))
			y, okB := new(big.Rat).SetString(string(b))
			if okA && okB {
				return x.Cmp(y)
			}
			return strings.Compare(string(a), string(b))
		}
	}
	return 0
}
