package localaws

// Unit tests of the DynamoDB adapter: routing to minidyn, faults and call
// records, the wire, PutItem's return values and empty binaries (the two
// gaps the adapter fixes), inspection with Items, and table creation from
// Go and fixtures. What DynamoDB itself does (conditions, updates,
// queries) is compared with moto in conformance_dynamodb_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"hash/crc32"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func ddbS(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
func ddbN(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberN{Value: v} }

// newDDBTable starts a server with a pk/sk table named "ledger" and returns
// a client for it.
func newDDBTable(t *testing.T, opts Options) (*Server, *dynamodb.Client) {
	t.Helper()
	s := newTestServer(t, opts)
	c := dynamodb.NewFromConfig(s.SDKConfig())
	_, err := c.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:   aws.String("ledger"),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange},
		},
	})
	mustOK(t, "CreateTable", err)
	return s, c
}

func ledgerKey(pk, sk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": ddbS(pk), "sk": ddbS(sk)}
}

func TestDynamoDBTableLifecycle(t *testing.T) {
	ctx := context.Background()
	_, c := newDDBTable(t, Options{})

	out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("ledger")})
	mustOK(t, "DescribeTable", err)
	if tb := out.Table; aws.ToString(tb.TableName) != "ledger" || len(tb.KeySchema) != 2 ||
		aws.ToString(tb.KeySchema[1].AttributeName) != "sk" || tb.KeySchema[1].KeyType != ddbtypes.KeyTypeRange {
		t.Errorf("DescribeTable = %+v", tb)
	}

	_, err = c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("nope")})
	var notFound *ddbtypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("DescribeTable of a missing table: %v; want ResourceNotFoundException", err)
	}
	wantCode(t, err, "ResourceNotFoundException", 400)

	_, err = c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("ledger"), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
	})
	wantCode(t, err, "ResourceInUseException", 400)
}

// TestDynamoDBRegions: a table exists only in the region it was created
// in, as in AWS; Items reads the server's region.
func TestDynamoDBRegions(t *testing.T) {
	ctx := context.Background()
	s, _ := newDDBTable(t, Options{})
	cfg := s.SDKConfig()
	cfg.Region = "eu-west-1"
	eu := dynamodb.NewFromConfig(cfg)
	_, err := eu.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("ledger"), Item: ledgerKey("a", "b")})
	wantCode(t, err, "ResourceNotFoundException", 400)
	if err := s.CreateDynamoDBTable(DynamoDBTable{Name: "ledger", PartitionKey: "pk", SortKey: "sk"}); err == nil {
		t.Error("CreateDynamoDBTable of an existing table succeeded")
	}
	_, err = eu.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("ledger"), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
	})
	mustOK(t, "CreateTable in eu-west-1", err)
	_, err = eu.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("ledger"), Item: map[string]ddbtypes.AttributeValue{"pk": ddbS("eu")}})
	mustOK(t, "PutItem in eu-west-1", err)
	if items := s.Items("ledger"); len(items) != 0 {
		t.Errorf("Items of us-east-1's ledger = %v; the item went to eu-west-1", items)
	}
}

// TestDynamoDBPutItemReturnValues: the adapter answers PutItem's
// ReturnValues and ReturnValuesOnConditionCheckFailure as DynamoDB does,
// which minidyn does not.
func TestDynamoDBPutItemReturnValues(t *testing.T) {
	ctx := context.Background()
	_, c := newDDBTable(t, Options{})
	item := func(v string) map[string]ddbtypes.AttributeValue {
		it := ledgerKey("p", "s")
		it["v"] = ddbS(v)
		return it
	}
	put := func(it map[string]ddbtypes.AttributeValue, rv ddbtypes.ReturnValue) map[string]ddbtypes.AttributeValue {
		t.Helper()
		out, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("ledger"), Item: it, ReturnValues: rv})
		mustOK(t, "PutItem "+string(rv), err)
		return out.Attributes
	}
	if got := put(item("1"), ""); got != nil {
		t.Errorf("PutItem without ReturnValues answered %v", got)
	}
	if got := put(item("2"), ddbtypes.ReturnValueNone); got != nil {
		t.Errorf("PutItem with NONE answered %v", got)
	}
	if got := attrText(put(item("3"), ddbtypes.ReturnValueAllOld), "v"); got != "v=2" {
		t.Errorf("PutItem ALL_OLD answered %s; want the old item", got)
	}
	if got := put(map[string]ddbtypes.AttributeValue{"pk": ddbS("new"), "sk": ddbS("s")}, ddbtypes.ReturnValueAllOld); got != nil {
		t.Errorf("PutItem ALL_OLD of a new item answered %v", got)
	}
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("ledger"), Item: item("4"), ReturnValues: ddbtypes.ReturnValueAllNew})
	wantCode(t, err, "ValidationException", 400)

	condPut := func(cond string, rv ddbtypes.ReturnValuesOnConditionCheckFailure) *ddbtypes.ConditionalCheckFailedException {
		t.Helper()
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String("ledger"), Item: item("5"),
			ConditionExpression: aws.String(cond), ReturnValuesOnConditionCheckFailure: rv,
		})
		var ccf *ddbtypes.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			t.Fatalf("PutItem if %s: %v; want ConditionalCheckFailedException", cond, err)
		}
		wantCode(t, err, "ConditionalCheckFailedException", 400)
		return ccf
	}
	if ccf := condPut("attribute_not_exists(pk)", ""); ccf.Item != nil {
		t.Errorf("Item returned without ReturnValuesOnConditionCheckFailure: %v", ccf.Item)
	}
	if ccf := condPut("attribute_not_exists(pk)", ddbtypes.ReturnValuesOnConditionCheckFailureAllOld); attrText(ccf.Item, "pk", "v") != "pk=p v=3" {
		t.Errorf("Item with ALL_OLD on failure = %v; want the stored item", ccf.Item)
	}
	_, err = c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("ledger"), Key: ledgerKey("p", "s")})
	mustOK(t, "DeleteItem", err)
	if ccf := condPut("attribute_exists(pk)", ddbtypes.ReturnValuesOnConditionCheckFailureAllOld); ccf.Item != nil {
		t.Errorf("Item with ALL_OLD on failure of a missing item = %v; want none", ccf.Item)
	}
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("nope"), Item: item("6"), ReturnValues: ddbtypes.ReturnValueAllOld})
	wantCode(t, err, "ResourceNotFoundException", 400)
}

// TestDynamoDBEmptyBinary: an empty binary value is stored and read back
// as one, and does not stop later queries and updates (the ledger's empty
// chunk), which minidyn on its own does.
func TestDynamoDBEmptyBinary(t *testing.T) {
	ctx := context.Background()
	s, c := newDDBTable(t, Options{})
	chunk := ledgerKey("run#r", "chunk#000000")
	chunk["data"] = &ddbtypes.AttributeValueMemberB{Value: []byte{}}
	chunk["nested"] = &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{&ddbtypes.AttributeValueMemberB{Value: []byte{}}}}
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("ledger"), Item: chunk})
	mustOK(t, "PutItem", err)
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("ledger"), Item: ledgerKey("key#K", "notice#a")})
	mustOK(t, "PutItem", err)

	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("ledger"), Key: ledgerKey("run#r", "chunk#000000"), ConsistentRead: aws.Bool(true)})
	mustOK(t, "GetItem", err)
	if b, ok := got.Item["data"].(*ddbtypes.AttributeValueMemberB); !ok || len(b.Value) != 0 {
		t.Errorf("data = %#v; want an empty B", got.Item["data"])
	}
	if l, ok := got.Item["nested"].(*ddbtypes.AttributeValueMemberL); !ok || len(l.Value) != 1 {
		t.Errorf("nested = %#v", got.Item["nested"])
	} else if b, ok := l.Value[0].(*ddbtypes.AttributeValueMemberB); !ok || len(b.Value) != 0 {
		t.Errorf("nested[0] = %#v; want an empty B", l.Value[0])
	}

	q, err := c.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String("ledger"), KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": ddbS("key#K")},
	})
	mustOK(t, "Query after an empty binary was stored", err)
	if len(q.Items) != 1 {
		t.Errorf("Query: %d items", len(q.Items))
	}
	up, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String("ledger"), Key: ledgerKey("run#r", "chunk#000000"),
		UpdateExpression:          aws.String("SET n = :n"),
		ConditionExpression:       aws.String("#d = :empty"),
		ExpressionAttributeNames:  map[string]string{"#d": "data"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":n": ddbN("1"), ":empty": &ddbtypes.AttributeValueMemberB{Value: []byte{}}},
		ReturnValues:              ddbtypes.ReturnValueAllNew,
	})
	mustOK(t, "UpdateItem of the item with the empty binary, if it is empty", err)
	if b, ok := up.Attributes["data"].(*ddbtypes.AttributeValueMemberB); !ok || len(b.Value) != 0 {
		t.Errorf("UpdateItem ALL_NEW data = %#v", up.Attributes["data"])
	}
	for _, it := range s.Items("ledger") {
		if it["sk"] == "chunk#000000" {
			if b, ok := it["data"].([]byte); !ok || len(b) != 0 {
				t.Errorf("Items: data = %#v; want []byte{}", it["data"])
			}
		}
	}
}

// TestDynamoDBItems: inspection orders items by partition then sort key,
// numbers by value, converts values to plain Go, and is not a call.
func TestDynamoDBItems(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	if err := s.CreateDynamoDBTable(DynamoDBTable{Name: "numbers", PartitionKey: "id", PartitionKeyType: "N", SortKey: "at"}); err != nil {
		t.Fatal(err)
	}
	c := dynamodb.NewFromConfig(s.SDKConfig())
	for _, k := range [][2]string{{"100", "b"}, {"9", "z"}, {"10", "b"}, {"10", "a"}, {"-1.5", "a"}} {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("numbers"), Item: map[string]ddbtypes.AttributeValue{
			"id": ddbN(k[0]), "at": ddbS(k[1]),
			"ok": &ddbtypes.AttributeValueMemberBOOL{Value: true}, "nul": &ddbtypes.AttributeValueMemberNULL{Value: true},
			"m":   &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"x": ddbS("y")}},
			"l":   &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{ddbN("1")}},
			"ss":  &ddbtypes.AttributeValueMemberSS{Value: []string{"a"}},
			"bin": &ddbtypes.AttributeValueMemberB{Value: []byte{1}},
		}})
		mustOK(t, "PutItem", err)
	}
	calls := len(s.Calls())
	items := s.Items("numbers")
	if len(s.Calls()) != calls {
		t.Errorf("Items logged %d calls", len(s.Calls())-calls)
	}
	var order []string
	for _, it := range items {
		order = append(order, string(it["id"].(json.Number))+"/"+it["at"].(string))
	}
	if got := strings.Join(order, " "); got != "-1.5/a 9/z 10/a 10/b 100/b" {
		t.Errorf("Items order = %s", got)
	}
	want := map[string]any{
		"id": json.Number("-1.5"), "at": "a", "ok": true, "nul": nil, "m": map[string]any{"x": "y"},
		"l": []any{json.Number("1")}, "ss": []string{"a"}, "bin": []byte{1},
	}
	if !reflect.DeepEqual(items[0], want) {
		t.Errorf("Items[0] = %#v, want %#v", items[0], want)
	}
	if s.Items("nope") != nil {
		t.Error("Items of a missing table is not nil")
	}
}

func TestDynamoDBConcurrentConditionalPuts(t *testing.T) {
	ctx := context.Background()
	_, c := newDDBTable(t, Options{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, lost := 0, 0
	for range 8 {
		wg.Go(func() {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
				TableName:                           aws.String("ledger"),
				Item:                                ledgerKey("key#K", "notice#warn-70"),
				ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
				ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
			})
			mu.Lock()
			defer mu.Unlock()
			var ccf *ddbtypes.ConditionalCheckFailedException
			switch {
			case err == nil:
				won++
			case errors.As(err, &ccf) && ccf.Item != nil:
				lost++
			default:
				t.Errorf("PutItem: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 || lost != 7 {
		t.Errorf("%d puts won, %d lost with the winner's item; want 1 and 7", won, lost)
	}
}

// TestDynamoDBThrottlingIsRetried: injected throttling answers DynamoDB's
// ProvisionedThroughputExceededException, which the SDK retries.
func TestDynamoDBThrottlingIsRetried(t *testing.T) {
	ctx := context.Background()
	s, c := newDDBTable(t, Options{Seed: 7})
	if err := s.SetFault("dynamodb:PutItem", Fault{ThrottleRate: 0.5}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("ledger"), Item: ledgerKey("p", strconv.Itoa(i))},
			func(o *dynamodb.Options) { o.RetryMaxAttempts = 20 })
		mustOK(t, "PutItem", err)
	}
	throttled := 0
	for _, call := range callsTo(s, "dynamodb", "PutItem") {
		if call.ErrorCode == "ProvisionedThroughputExceededException" && call.Status == 400 && call.Injected {
			throttled++
		}
	}
	if throttled == 0 || len(s.Items("ledger")) != 10 {
		t.Errorf("%d throttled attempts, %d items; want some and 10", throttled, len(s.Items("ledger")))
	}
	if err := s.SetFault("dynamodb:Scan", Fault{ThrottleRate: 0.5}); err != nil {
		t.Errorf("a fault on Scan, which minidyn serves: %v", err)
	}
	if err := s.SetFault("dynamodb:ListTables", Fault{ThrottleRate: 0.5}); err == nil {
		t.Error("a fault on an operation localaws does not serve was accepted")
	}
}

// TestDynamoDBFaults: a fault is applied before the request reaches
// minidyn (a failed put writes nothing), its code reaches the SDK, and
// calls are logged on the server clock.
func TestDynamoDBFaults(t *testing.T) {
	ctx := context.Background()
	s, c := newDDBTable(t, Options{})
	mustOK(t, "SetFault", s.SetFault("dynamodb:PutItem", Fault{ErrorCode: "AccessDeniedException"}))
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("ledger"), Item: ledgerKey("p", "s")})
	wantCode(t, err, "AccessDeniedException", 403)
	if n := len(s.Items("ledger")); n != 0 {
		t.Errorf("a put failed by a fault wrote %d items", n)
	}
	mustOK(t, "SetFault", s.SetFault("dynamodb:*", Fault{ServerErrorRate: 1}))
	_, err = c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("ledger"), Key: ledgerKey("p", "s")},
		func(o *dynamodb.Options) { o.RetryMaxAttempts = 2 })
	wantCode(t, err, "InternalServerError", 500)
	if got := callsTo(s, "dynamodb", "GetItem"); len(got) != 2 || !got[1].Injected {
		t.Errorf("GetItem calls = %+v; want 2 injected (one retry)", got)
	}
	s.ClearFaults()

	s.SetNow(testNow.Add(time.Hour))
	s.Advance(time.Minute)
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("ledger"), Item: ledgerKey("p", "s")})
	mustOK(t, "PutItem", err)
	calls := callsTo(s, "dynamodb", "PutItem")
	if last := calls[len(calls)-1]; !last.Time.Equal(testNow.Add(time.Hour+time.Minute)) || last.Injected || last.ErrorCode != "" {
		t.Errorf("last PutItem call = %+v", last)
	}
	if n := len(s.Items("ledger")); n != 1 {
		t.Errorf("%d items after the fault was cleared; want 1", n)
	}
}

// TestDynamoDBWire checks what the SDK does not show: JSON 1.0, the
// checksum header and the namespaced __type.
func TestDynamoDBWire(t *testing.T) {
	s := newTestServer(t, Options{})
	header := http.Header{
		"Content-Type":  {"application/x-amz-json-1.0"},
		"X-Amz-Target":  {"DynamoDB_20120810.DescribeTable"},
		"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEEXAMPLE12/20260301/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x"},
	}
	resp := rawPost(t, s.URL(), header, `{"TableName": "missing"}`)
	body := resp.Body
	if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/x-amz-json-1.0" {
		t.Errorf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if want := strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10); resp.Header.Get("X-Amz-Crc32") != want {
		t.Errorf("X-Amz-Crc32 = %q, want %s", resp.Header.Get("X-Amz-Crc32"), want)
	}
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Type != "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException" {
		t.Errorf("error body %s", body)
	}
	resp = rawPost(t, s.URL(), header, `{"TableName": `)
	body = resp.Body
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != 400 || e.Type != "com.amazonaws.dynamodb.v20120810#SerializationException" {
		t.Errorf("malformed body: %d %s", resp.StatusCode, body)
	}
	// The other JSON services keep JSON 1.1 and bare error types.
	header.Set("X-Amz-Target", "AWSEvents.PutEvents")
	header.Set("Authorization", strings.Replace(header.Get("Authorization"), "/dynamodb/", "/events/", 1))
	resp = rawPost(t, s.URL(), header, `{"Entries": "not a list"}`)
	body = resp.Body
	if resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" || resp.Header.Get("X-Amz-Crc32") != "" || strings.Contains(string(body), "#") {
		t.Errorf("EventBridge answer changed: %s %s", resp.Header, body)
	}
}

func TestDynamoDBFixtureTables(t *testing.T) {
	s := newTestServer(t, Options{})
	seed(t, s, Fixture{DynamoDBTables: []FixtureTable{{Name: "keywarden-ledger", PartitionKey: "pk", SortKey: "sk"}}})
	c := dynamodb.NewFromConfig(s.SDKConfig())
	_, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("keywarden-ledger"), Item: ledgerKey("a", "b")})
	mustOK(t, "PutItem into a seeded table", err)
	for _, bad := range []FixtureTable{
		{Name: "keywarden-ledger", PartitionKey: "pk"},
		{Name: "x", PartitionKey: "pk"},
		{Name: "t-no-key"},
		{Name: "t-bad-type", PartitionKey: "pk", PartitionKeyType: "SS"},
		{Name: "t-same", PartitionKey: "pk", SortKey: "pk"},
	} {
		if err := s.Seed(Fixture{DynamoDBTables: []FixtureTable{bad}}); err == nil {
			t.Errorf("Seed accepted table %+v", bad)
		}
	}
	if err := s.CreateDynamoDBTable(DynamoDBTable{Name: "binary", PartitionKey: "id", PartitionKeyType: "B"}); err != nil {
		t.Fatalf("CreateDynamoDBTable: %v", err)
	}
	_, err = c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("binary"), Item: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberB{Value: []byte{7}}}})
	mustOK(t, "PutItem into a table with a binary key", err)
	if items := s.Items("binary"); len(items) != 1 || !reflect.DeepEqual(items[0]["id"], []byte{7}) {
		t.Errorf("Items(binary) = %v", items)
	}
}
