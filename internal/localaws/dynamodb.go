package localaws

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"time"
)

// DynamoDB: JSON 1.0 with X-Amz-Target "DynamoDB_20120810.<Op>", the
// operations keywarden's ledger uses: CreateTable, DescribeTable, PutItem,
// GetItem, UpdateItem and Query, over on-demand (PAY_PER_REQUEST) tables
// with a partition key and an optional sort key of type S or N.
//
// Simplifications, each deliberate: a table is ACTIVE as soon as it is
// created (AWS answers CREATING first); every read is strongly consistent;
// TTL is an ordinary attribute (nothing expires; AWS deletes expired items
// only eventually, so readers must not count on it anyway); throughput is
// never exceeded unless a Fault injects ProvisionedThroughputExceeded.
// Request parameters outside the emulated subset are refused with a
// ValidationException naming them, never silently ignored.

const dynamoDBTargetPrefix = "DynamoDB_20120810."

// dynamoDBErrorPrefix is the namespace DynamoDB puts before its __type.
const dynamoDBErrorPrefix = "com.amazonaws.dynamodb.v20120810#"

// maxQueryPage is how much a Query reads before it stops and answers with a
// LastEvaluatedKey, as DynamoDB's 1 MB page limit.
const maxQueryPage = 1 << 20

// DynamoDB's key size limits.
const (
	maxPartitionKeySize = 2048
	maxSortKeySize      = 1024
)

var tableNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

func dynamoDBService() *service {
	return &service{
		name:           "dynamodb",
		protocol:       jsonProtocol,
		targetPrefixes: []string{dynamoDBTargetPrefix},
		ops: map[string]operation{
			"CreateTable":   {fn: (*Server).ddbCreateTable},
			"DescribeTable": {fn: (*Server).ddbDescribeTable},
			"PutItem":       {fn: (*Server).ddbPutItem},
			"GetItem":       {fn: (*Server).ddbGetItem},
			"UpdateItem":    {fn: (*Server).ddbUpdateItem},
			"Query":         {fn: (*Server).ddbQuery},
		},
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

func ddbValidation(msg string) *awsError {
	return &awsError{Code: "ValidationException", Message: msg, Status: http.StatusBadRequest}
}

func ddbSerialization(msg string) *awsError {
	return &awsError{Code: "SerializationException", Message: msg, Status: http.StatusBadRequest}
}

func ddbTableNotFound(name string) *awsError {
	return &awsError{Code: "ResourceNotFoundException", Message: "Requested resource not found: Table: " + name + " not found", Status: http.StatusBadRequest}
}

type dynamoState struct {
	tables map[string]*ddbTable // by region + "/" + name
}

func (st *dynamoState) init() { st.tables = map[string]*ddbTable{} }

type ddbTable struct {
	name, arn, id string
	region        string
	created       time.Time
	hashKey       string
	rangeKey      string            // empty for a table without a sort key
	keyTypes      map[string]string // key attribute name to S or N
	// items by partition key, then sort key ("" without one), in canonical
	// text (numbers normalized).
	items map[string]map[string]item
}

func tableKey(region, name string) string { return region + "/" + name }

// DynamoDBTable describes a table to create with CreateDynamoDBTable.
type DynamoDBTable struct {
	Name             string
	PartitionKey     string // attribute name; its type is PartitionKeyType
	PartitionKeyType string // S (default) or N
	SortKey          string // optional
	SortKeyType      string // S (default) or N
}

// CreateDynamoDBTable creates an on-demand table in the server's region, as
// a drill's account would have it.
func (s *Server) CreateDynamoDBTable(spec DynamoDBTable) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if aerr := s.createTable(s.region, spec); aerr != nil {
		return fmt.Errorf("localaws: create DynamoDB table %s: %s", spec.Name, aerr.Message)
	}
	return nil
}

// createTable checks spec and adds the table. Callers hold s.mu.
func (s *Server) createTable(region string, spec DynamoDBTable) *awsError {
	spec, aerr := checkTableSpec(spec)
	if aerr != nil {
		return aerr
	}
	key := tableKey(region, spec.Name)
	if _, exists := s.dynamo.tables[key]; exists {
		return &awsError{Code: "ResourceInUseException", Message: "Table already exists: " + spec.Name, Status: http.StatusBadRequest}
	}
	types := map[string]string{spec.PartitionKey: spec.PartitionKeyType}
	if spec.SortKey != "" {
		types[spec.SortKey] = spec.SortKeyType
	}
	s.dynamo.tables[key] = &ddbTable{
		name:     spec.Name,
		arn:      fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", region, s.account, spec.Name),
		id:       s.newUUID(),
		region:   region,
		created:  s.now(),
		hashKey:  spec.PartitionKey,
		rangeKey: spec.SortKey,
		keyTypes: types,
		items:    map[string]map[string]item{},
	}
	return nil
}

// checkTableSpec checks a table's name and keys and fills in default key
// types.
func checkTableSpec(spec DynamoDBTable) (DynamoDBTable, *awsError) {
	if !tableNamePattern.MatchString(spec.Name) {
		return spec, ddbValidation(fmt.Sprintf("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must have length 3-255 and match [a-zA-Z0-9_.-]+", spec.Name))
	}
	if spec.PartitionKeyType == "" {
		spec.PartitionKeyType = "S"
	}
	if spec.SortKey != "" && spec.SortKeyType == "" {
		spec.SortKeyType = "S"
	}
	types := map[string]string{spec.PartitionKey: spec.PartitionKeyType}
	if spec.SortKey != "" {
		types[spec.SortKey] = spec.SortKeyType
	}
	for name, typ := range types {
		if name == "" {
			return spec, ddbValidation("One or more parameter values were invalid: a key attribute name is empty")
		}
		switch typ {
		case "S", "N":
		case "B":
			return spec, ddbValidation("localaws does not support key attributes of type B (only S and N)")
		default:
			return spec, ddbValidation(fmt.Sprintf("1 validation error detected: Value '%s' at 'attributeDefinitions.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]", typ))
		}
	}
	if spec.SortKey == spec.PartitionKey {
		return spec, ddbValidation("Invalid KeySchema: the partition key and the sort key must be different attributes")
	}
	return spec, nil
}

// ddbDecode decodes a request into v after checking that it names only the
// parameters localaws emulates for the operation.
func ddbDecode(req *request, allowed []string, v any) *awsError {
	var fields map[string]json.RawMessage
	if aerr := decodeJSON(req.svc, req.body, &fields); aerr != nil {
		return aerr
	}
	for _, name := range sortedKeys(fields) {
		if !slices.Contains(allowed, name) {
			return ddbValidation(fmt.Sprintf("localaws does not support parameter %s of %s", name, req.op))
		}
	}
	return decodeJSON(req.svc, req.body, v)
}

// lookupTable finds a table of the request's region. Callers hold s.mu.
// keyedTable reads a request's Key and table: the table, the key item and
// its partition and sort key values, in the order AWS validates them.
func (s *Server) keyedTable(req *request, tableName string, rawKey map[string]json.RawMessage) (t *ddbTable, key item, pk, sk string, aerr *awsError) {
	if key, aerr = parseItem(rawKey); aerr != nil {
		return nil, nil, "", "", aerr
	}
	if t, aerr = s.lookupTable(req, tableName); aerr != nil {
		return nil, nil, "", "", aerr
	}
	if pk, sk, aerr = t.requestKey(key); aerr != nil {
		return nil, nil, "", "", aerr
	}
	return t, key, pk, sk, nil
}

func (s *Server) lookupTable(req *request, name string) (*ddbTable, *awsError) {
	if name == "" {
		return nil, ddbValidation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	t, ok := s.dynamo.tables[tableKey(s.requestRegion(req), name)]
	if !ok {
		return nil, ddbTableNotFound(name)
	}
	return t, nil
}

// requestRegion is the region a request was signed for, else the server's.
func (s *Server) requestRegion(req *request) string {
	if req.region != "" {
		return req.region
	}
	return s.region
}

// checkNone refuses options localaws does not emulate beyond their default.
func checkNone(param, value string) *awsError {
	if value != "" && value != "NONE" {
		return ddbValidation(fmt.Sprintf("localaws does not support %s %s (only NONE)", param, value))
	}
	return nil
}

// --- CreateTable, DescribeTable ---

type ddbAttributeDefinition struct {
	AttributeName string
	AttributeType string
}

type ddbKeySchemaElement struct {
	AttributeName string
	KeyType       string
}

type ddbTableDescription struct {
	TableName             string
	TableArn              string
	TableId               string
	TableStatus           string
	CreationDateTime      float64
	KeySchema             []ddbKeySchemaElement
	AttributeDefinitions  []ddbAttributeDefinition
	BillingModeSummary    map[string]any
	ProvisionedThroughput map[string]int
	ItemCount             int64
	TableSizeBytes        int64
}

func (s *Server) ddbCreateTable(req *request) (any, *awsError) {
	var in struct {
		TableName             string
		AttributeDefinitions  []ddbAttributeDefinition
		KeySchema             []ddbKeySchemaElement
		BillingMode           string
		ProvisionedThroughput *struct{ ReadCapacityUnits, WriteCapacityUnits int64 }
	}
	if aerr := ddbDecode(req, []string{"TableName", "AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput"}, &in); aerr != nil {
		return nil, aerr
	}
	if in.BillingMode != "PAY_PER_REQUEST" {
		return nil, ddbValidation(fmt.Sprintf("localaws supports only BillingMode PAY_PER_REQUEST (got %q)", in.BillingMode))
	}
	if in.ProvisionedThroughput != nil {
		return nil, ddbValidation("One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST")
	}
	spec := DynamoDBTable{Name: in.TableName}
	switch {
	case len(in.KeySchema) == 0 || len(in.KeySchema) > 2:
		return nil, ddbValidation("1 validation error detected: Value at 'keySchema' failed to satisfy constraint: Member must have length between 1 and 2")
	case in.KeySchema[0].KeyType != "HASH":
		return nil, ddbValidation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
	case len(in.KeySchema) == 2 && in.KeySchema[1].KeyType != "RANGE":
		return nil, ddbValidation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
	}
	spec.PartitionKey = in.KeySchema[0].AttributeName
	if len(in.KeySchema) == 2 {
		spec.SortKey = in.KeySchema[1].AttributeName
	}
	defined := map[string]string{}
	for _, d := range in.AttributeDefinitions {
		if _, dup := defined[d.AttributeName]; dup {
			return nil, ddbValidation("Cannot have two attributes with the same name")
		}
		defined[d.AttributeName] = d.AttributeType
	}
	for _, k := range in.KeySchema {
		if _, ok := defined[k.AttributeName]; !ok {
			return nil, ddbValidation("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [" + k.AttributeName + "], AttributeDefinitions: " + fmt.Sprint(sortedKeys(defined)))
		}
	}
	if len(defined) != len(in.KeySchema) {
		return nil, ddbValidation("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
	}
	spec.PartitionKeyType = defined[spec.PartitionKey]
	if spec.SortKey != "" {
		spec.SortKeyType = defined[spec.SortKey]
	}
	if aerr := s.createTable(s.requestRegion(req), spec); aerr != nil {
		return nil, aerr
	}
	t := s.dynamo.tables[tableKey(s.requestRegion(req), spec.Name)]
	return map[string]any{"TableDescription": t.describe()}, nil
}

func (s *Server) ddbDescribeTable(req *request) (any, *awsError) {
	var in struct{ TableName string }
	if aerr := ddbDecode(req, []string{"TableName"}, &in); aerr != nil {
		return nil, aerr
	}
	t, aerr := s.lookupTable(req, in.TableName)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"Table": t.describe()}, nil
}

func (t *ddbTable) describe() ddbTableDescription {
	d := ddbTableDescription{
		TableName:        t.name,
		TableArn:         t.arn,
		TableId:          t.id,
		TableStatus:      "ACTIVE",
		CreationDateTime: float64(t.created.UnixMilli()) / 1000,
		KeySchema:        []ddbKeySchemaElement{{t.hashKey, "HASH"}},
		AttributeDefinitions: []ddbAttributeDefinition{
			{t.hashKey, t.keyTypes[t.hashKey]},
		},
		BillingModeSummary: map[string]any{
			"BillingMode":                       "PAY_PER_REQUEST",
			"LastUpdateToPayPerRequestDateTime": float64(t.created.UnixMilli()) / 1000,
		},
		ProvisionedThroughput: map[string]int{"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
	}
	if t.rangeKey != "" {
		d.KeySchema = append(d.KeySchema, ddbKeySchemaElement{t.rangeKey, "RANGE"})
		d.AttributeDefinitions = append(d.AttributeDefinitions, ddbAttributeDefinition{t.rangeKey, t.keyTypes[t.rangeKey]})
	}
	for _, part := range t.items {
		for _, it := range part {
			d.ItemCount++
			d.TableSizeBytes += int64(itemSize(it))
		}
	}
	return d
}

// --- keys ---

// itemKey extracts and checks the key of an item about to be written.
func (t *ddbTable) itemKey(it item) (pk, sk string, aerr *awsError) {
	for _, name := range t.keyNames() {
		v, ok := it[name]
		if !ok {
			return "", "", ddbValidation("One or more parameter values were invalid: Missing the key " + name + " in the item")
		}
		if want := t.keyTypes[name]; v.typ != want {
			return "", "", ddbValidation(fmt.Sprintf("One or more parameter values were invalid: Type mismatch for key %s expected: %s actual: %s", name, want, v.typ))
		}
	}
	return t.checkedKey(it)
}

// requestKey extracts and checks a Key parameter: exactly the key
// attributes, of the right types.
func (t *ddbTable) requestKey(key item) (pk, sk string, aerr *awsError) {
	if len(key) != len(t.keyNames()) {
		return "", "", ddbValidation("The provided key element does not match the schema")
	}
	for _, name := range t.keyNames() {
		if v, ok := key[name]; !ok || v.typ != t.keyTypes[name] {
			return "", "", ddbValidation("The provided key element does not match the schema")
		}
	}
	return t.checkedKey(key)
}

func (t *ddbTable) checkedKey(it item) (pk, sk string, aerr *awsError) {
	for _, name := range t.keyNames() {
		if v := it[name]; v.typ == "S" && v.str == "" {
			return "", "", ddbValidation("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: " + name)
		}
	}
	pv := it[t.hashKey]
	if len(pv.str) > maxPartitionKeySize {
		return "", "", ddbValidation(fmt.Sprintf("One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of %d bytes", maxPartitionKeySize))
	}
	if t.rangeKey != "" {
		sv := it[t.rangeKey]
		if len(sv.str) > maxSortKeySize {
			return "", "", ddbValidation(fmt.Sprintf("One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of %d bytes", maxSortKeySize))
		}
		sk = sv.str
	}
	return pv.str, sk, nil
}

func (t *ddbTable) keyNames() []string {
	if t.rangeKey == "" {
		return []string{t.hashKey}
	}
	return []string{t.hashKey, t.rangeKey}
}

func (t *ddbTable) keyOf(it item) item {
	k := item{}
	for _, name := range t.keyNames() {
		k[name] = it[name]
	}
	return k
}

func (t *ddbTable) get(pk, sk string) (item, bool) {
	it, ok := t.items[pk][sk]
	return it, ok
}

func (t *ddbTable) put(pk, sk string, it item) {
	if t.items[pk] == nil {
		t.items[pk] = map[string]item{}
	}
	t.items[pk][sk] = it
}

// --- PutItem, GetItem, UpdateItem ---

// writeRequest holds the parameters PutItem and UpdateItem share.
type writeRequest struct {
	TableName                           string
	ConditionExpression                 *string
	ExpressionAttributeNames            map[string]string
	ExpressionAttributeValues           map[string]json.RawMessage
	ReturnValues                        string
	ReturnValuesOnConditionCheckFailure string
	ReturnConsumedCapacity              string
	ReturnItemCollectionMetrics         string
}

// expressions builds the placeholder context and parses the condition.
// The caller parses its own other expressions with ctx, then calls
// ctx.checkUnused.
func (w *writeRequest) expressions(usesOther bool) (*exprContext, condNode, *awsError) {
	if aerr := checkNone("ReturnConsumedCapacity", w.ReturnConsumedCapacity); aerr != nil {
		return nil, nil, aerr
	}
	if aerr := checkNone("ReturnItemCollectionMetrics", w.ReturnItemCollectionMetrics); aerr != nil {
		return nil, nil, aerr
	}
	switch w.ReturnValuesOnConditionCheckFailure {
	case "", "NONE", "ALL_OLD":
	default:
		return nil, nil, ddbValidation(fmt.Sprintf("1 validation error detected: Value '%s' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]", w.ReturnValuesOnConditionCheckFailure))
	}
	if w.ConditionExpression == nil && !usesOther {
		if w.ExpressionAttributeNames != nil {
			return nil, nil, ddbValidation("ExpressionAttributeNames can only be specified when using expressions")
		}
		if w.ExpressionAttributeValues != nil {
			return nil, nil, ddbValidation("ExpressionAttributeValues can only be specified when using expressions")
		}
	}
	ctx, aerr := newExprContext(w.ExpressionAttributeNames, w.ExpressionAttributeValues, w.ExpressionAttributeNames != nil, w.ExpressionAttributeValues != nil)
	if aerr != nil {
		return nil, nil, aerr
	}
	var cond condNode
	if w.ConditionExpression != nil {
		if cond, aerr = parseCondition("ConditionExpression", *w.ConditionExpression, ctx); aerr != nil {
			return nil, nil, aerr
		}
	}
	return ctx, cond, nil
}

// conditionFailed is ConditionalCheckFailedException, carrying the item as
// it was when the request asked for it (ReturnValuesOnConditionCheckFailure
// ALL_OLD).
func (w *writeRequest) conditionFailed(old item, exists bool) *awsError {
	e := &awsError{Code: "ConditionalCheckFailedException", Message: "The conditional request failed", Status: http.StatusBadRequest}
	if w.ReturnValuesOnConditionCheckFailure == "ALL_OLD" && exists {
		e.Fields = map[string]any{"Item": old}
	}
	return e
}

func checkItemSize(it item) *awsError {
	if itemSize(it) > maxItemSize {
		return ddbValidation("Item size has exceeded the maximum allowed size")
	}
	return nil
}

func (s *Server) ddbPutItem(req *request) (any, *awsError) {
	var in struct {
		writeRequest
		Item map[string]json.RawMessage
	}
	if aerr := ddbDecode(req, []string{"TableName", "Item", "ConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues", "ReturnValues", "ReturnValuesOnConditionCheckFailure", "ReturnConsumedCapacity", "ReturnItemCollectionMetrics"}, &in); aerr != nil {
		return nil, aerr
	}
	switch in.ReturnValues {
	case "", "NONE", "ALL_OLD":
	default:
		return nil, ddbValidation("ReturnValues can only be ALL_OLD or NONE")
	}
	ctx, cond, aerr := in.expressions(false)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := ctx.checkUnused(); aerr != nil {
		return nil, aerr
	}
	if in.Item == nil {
		return nil, ddbValidation("1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null")
	}
	it, aerr := parseItem(in.Item)
	if aerr != nil {
		return nil, aerr
	}
	t, aerr := s.lookupTable(req, in.TableName)
	if aerr != nil {
		return nil, aerr
	}
	pk, sk, aerr := t.itemKey(it)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := checkItemSize(it); aerr != nil {
		return nil, aerr
	}
	old, exists := t.get(pk, sk)
	if cond != nil && !cond.eval(old) {
		return nil, in.conditionFailed(old, exists)
	}
	t.put(pk, sk, it)
	out := map[string]any{}
	if in.ReturnValues == "ALL_OLD" && exists {
		out["Attributes"] = old
	}
	return out, nil
}

func (s *Server) ddbGetItem(req *request) (any, *awsError) {
	var in struct {
		TableName              string
		Key                    map[string]json.RawMessage
		ConsistentRead         bool
		ReturnConsumedCapacity string
	}
	if aerr := ddbDecode(req, []string{"TableName", "Key", "ConsistentRead", "ReturnConsumedCapacity"}, &in); aerr != nil {
		return nil, aerr
	}
	if aerr := checkNone("ReturnConsumedCapacity", in.ReturnConsumedCapacity); aerr != nil {
		return nil, aerr
	}
	t, _, pk, sk, aerr := s.keyedTable(req, in.TableName, in.Key)
	if aerr != nil {
		return nil, aerr
	}
	if it, ok := t.get(pk, sk); ok {
		return map[string]any{"Item": it}, nil
	}
	return map[string]any{}, nil
}

func (s *Server) ddbUpdateItem(req *request) (any, *awsError) {
	var in struct {
		writeRequest
		Key              map[string]json.RawMessage
		UpdateExpression *string
	}
	if aerr := ddbDecode(req, []string{"TableName", "Key", "UpdateExpression", "ConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues", "ReturnValues", "ReturnValuesOnConditionCheckFailure", "ReturnConsumedCapacity", "ReturnItemCollectionMetrics"}, &in); aerr != nil {
		return nil, aerr
	}
	switch in.ReturnValues {
	case "", "NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW":
	default:
		return nil, ddbValidation(fmt.Sprintf("1 validation error detected: Value '%s' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]", in.ReturnValues))
	}
	ctx, cond, aerr := in.expressions(in.UpdateExpression != nil)
	if aerr != nil {
		return nil, aerr
	}
	var upd updateExpr
	if in.UpdateExpression != nil {
		if upd, aerr = parseUpdate(*in.UpdateExpression, ctx); aerr != nil {
			return nil, aerr
		}
	}
	if aerr := ctx.checkUnused(); aerr != nil {
		return nil, aerr
	}
	t, key, pk, sk, aerr := s.keyedTable(req, in.TableName, in.Key)
	if aerr != nil {
		return nil, aerr
	}
	for _, a := range upd.sets {
		if slices.Contains(t.keyNames(), a.path) {
			return nil, ddbValidation("One or more parameter values were invalid: Cannot update attribute " + a.path + ". This attribute is part of the key")
		}
	}
	for _, path := range upd.removes {
		if slices.Contains(t.keyNames(), path) {
			return nil, ddbValidation("One or more parameter values were invalid: Cannot update attribute " + path + ". This attribute is part of the key")
		}
	}
	old, exists := t.get(pk, sk)
	if cond != nil && !cond.eval(old) {
		return nil, in.conditionFailed(old, exists)
	}
	next, changed, aerr := upd.apply(old, key)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := checkItemSize(next); aerr != nil {
		return nil, aerr
	}
	t.put(pk, sk, next)

	var attrs item
	switch in.ReturnValues {
	case "ALL_NEW":
		attrs = next
	case "ALL_OLD":
		attrs = old
	case "UPDATED_NEW", "UPDATED_OLD":
		from := next
		if in.ReturnValues == "UPDATED_OLD" {
			from = old
		}
		attrs = item{}
		for _, name := range changed {
			if v, ok := from[name]; ok {
				attrs[name] = v
			}
		}
	}
	out := map[string]any{}
	if len(attrs) > 0 {
		out["Attributes"] = attrs
	}
	return out, nil
}

// --- Query ---

func (s *Server) ddbQuery(req *request) (any, *awsError) {
	var in struct {
		TableName                 string
		KeyConditionExpression    *string
		ExpressionAttributeNames  map[string]string
		ExpressionAttributeValues map[string]json.RawMessage
		Limit                     *int
		ExclusiveStartKey         map[string]json.RawMessage
		ScanIndexForward          *bool
		ConsistentRead            bool
		Select                    string
		ReturnConsumedCapacity    string
	}
	if aerr := ddbDecode(req, []string{"TableName", "KeyConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues", "Limit", "ExclusiveStartKey", "ScanIndexForward", "ConsistentRead", "Select", "ReturnConsumedCapacity"}, &in); aerr != nil {
		return nil, aerr
	}
	if aerr := checkNone("ReturnConsumedCapacity", in.ReturnConsumedCapacity); aerr != nil {
		return nil, aerr
	}
	if in.Select != "" && in.Select != "ALL_ATTRIBUTES" {
		return nil, ddbValidation(fmt.Sprintf("localaws does not support Select %s (only ALL_ATTRIBUTES)", in.Select))
	}
	if in.Limit != nil && *in.Limit < 1 {
		return nil, ddbValidation(fmt.Sprintf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.Limit))
	}
	if in.KeyConditionExpression == nil {
		return nil, ddbValidation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
	}
	t, aerr := s.lookupTable(req, in.TableName)
	if aerr != nil {
		return nil, aerr
	}
	ctx, aerr := newExprContext(in.ExpressionAttributeNames, in.ExpressionAttributeValues, in.ExpressionAttributeNames != nil, in.ExpressionAttributeValues != nil)
	if aerr != nil {
		return nil, aerr
	}
	kc, aerr := parseKeyCondition(*in.KeyConditionExpression, ctx, t)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := ctx.checkUnused(); aerr != nil {
		return nil, aerr
	}

	part := t.items[kc.partition.str]
	matches := make([]item, 0, len(part))
	for _, it := range part {
		if kc.sort == nil || kc.sort.eval(it) {
			matches = append(matches, it)
		}
	}
	forward := in.ScanIndexForward == nil || *in.ScanIndexForward
	t.sortItems(matches, forward)

	if in.ExclusiveStartKey != nil {
		start, aerr := parseItem(in.ExclusiveStartKey)
		if aerr != nil {
			return nil, aerr
		}
		if _, _, aerr := t.requestKey(start); aerr != nil {
			return nil, ddbValidation("The provided starting key is invalid: " + aerr.Message)
		}
		if !equalValues(start[t.hashKey], kc.partition) {
			return nil, ddbValidation("The provided starting key is outside query boundaries based on provided conditions")
		}
		if t.rangeKey == "" {
			matches = nil
		} else {
			startSort := start[t.rangeKey]
			i := sort.Search(len(matches), func(i int) bool {
				c, _ := compareValues(matches[i][t.rangeKey], startSort)
				if forward {
					return c > 0
				}
				return c < 0
			})
			matches = matches[i:]
		}
	}

	out := map[string]any{}
	page := []item{}
	size := 0
	for _, it := range matches {
		page = append(page, it)
		size += itemSize(it)
		// DynamoDB stops at Limit items or 1 MB read and hands back where
		// it stopped, whether or not more items follow.
		if (in.Limit != nil && len(page) == *in.Limit) || size >= maxQueryPage {
			out["LastEvaluatedKey"] = t.keyOf(it)
			break
		}
	}
	out["Items"], out["Count"], out["ScannedCount"] = page, len(page), len(page)
	return out, nil
}

// sortItems orders items of one partition by sort key.
func (t *ddbTable) sortItems(items []item, forward bool) {
	if t.rangeKey == "" {
		return
	}
	sort.Slice(items, func(i, j int) bool {
		c, _ := compareValues(items[i][t.rangeKey], items[j][t.rangeKey])
		if forward {
			return c < 0
		}
		return c > 0
	})
}

// --- inspection ---

// Items returns the items of table (in the server's region) as plain Go
// values, ordered by partition key then sort key: S string, N json.Number
// (exact), B []byte, BOOL bool, NULL nil, M map[string]any, L []any, SS
// []string. It returns nil if there is no such table.
func (s *Server) Items(table string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.dynamo.tables[tableKey(s.region, table)]
	if !ok {
		return nil
	}
	var all []item
	for _, part := range t.items {
		for _, it := range part {
			all = append(all, it)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		c, _ := compareValues(all[i][t.hashKey], all[j][t.hashKey])
		if c != 0 || t.rangeKey == "" {
			return c < 0
		}
		c, _ = compareValues(all[i][t.rangeKey], all[j][t.rangeKey])
		return c < 0
	})
	out := make([]map[string]any, 0, len(all))
	for _, it := range all {
		m := make(map[string]any, len(it))
		for k, v := range it {
			m[k] = plainValue(v)
		}
		out = append(out, m)
	}
	return out
}

// DynamoDBTables returns the names of the tables in the server's region,
// sorted.
func (s *Server) DynamoDBTables() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, t := range s.dynamo.tables {
		if t.region == s.region {
			names = append(names, t.name)
		}
	}
	sort.Strings(names)
	return names
}
