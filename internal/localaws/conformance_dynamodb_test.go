package localaws

// DynamoDB conformance scenarios, run by the suite in conformance_test.go
// against localaws (whose DynamoDB is minidyn, see dynamodb.go) and moto
// alike. They cover tables, conditional puts and updates, return values,
// queries by partition with begins_with, ranges and pagination forward and
// backward, missing items and tables, and the semantics of condition
// expressions.
//
// minidyn gaps found (minidyn v0.8.2), skipped on localaws by name in
// dynamoDBMinidynGaps. None is in a call the ledger makes:
//   - DescribeTable answers only TableName, KeySchema and ItemCount: no
//     TableStatus, TableArn, BillingModeSummary or CreationDateTime.
//   - UpdateItem's REMOVE of a top-level attribute changes nothing.
//   - Numbers are returned as written ("1.50", not "1.5"), and expressions
//     compare them as float64 (exact for the ledger's epoch seconds, not
//     beyond 2^53).
//   - PutItem accepts an empty string key and an item over 400 KB (the
//     ledger bounds its chunks itself, MaxChunkSize).
//   - A key condition with OR, or without the partition key, is evaluated
//     instead of refused.
//   - A comparison of values of different types (N with S, begins_with on
//     an N) is refused with ValidationException; DynamoDB evaluates it as
//     false (<> as true).
//   - An undefined :value in a condition is evaluated (as absent) instead
//     of refused.
// Fixed in localaws's adapter, because the ledger relies on them (tested
// in dynamodb_test.go):
//   - PutItem ignores ReturnValuesOnConditionCheckFailure ALL_OLD (no Item
//     with ConditionalCheckFailedException; RecordCreation compares it) and
//     ReturnValues (it answered the new item as Attributes).
//   - An empty binary value (an empty chunk) came back as no value and made
//     every later Query and UpdateItem on the table fail.
//
// Moto gaps found (moto 5.2.1), skipped on moto by name in
// dynamoDBMotoGaps:
//   - Query with Limit: when a page ends exactly at Limit and nothing
//     follows, moto omits LastEvaluatedKey; DynamoDB stops at Limit and
//     always returns it (API reference, Query, Limit: "…stops the operation
//     and returns the matching values up to that point, and a key in
//     LastEvaluatedKey…"), so a caller sees one more, empty page.
//   - Numbers: moto returns them as written ("1.50"); DynamoDB stores and
//     returns them normalized ("1.5").
//   - PutItem with an ExpressionAttributeValues entry no expression uses:
//     moto accepts it; DynamoDB answers ValidationException ("Value provided
//     in ExpressionAttributeValues unused in expressions").
//   - Ordering comparators and begins_with with a :value of the wrong type
//     (BOOL for <, N for begins_with): moto evaluates them as false;
//     DynamoDB refuses them statically ("Incorrect operand type for operator
//     or function").
//   - Malformed expressions (a syntax error, an unbalanced parenthesis, an
//     unknown function, an undefined #name or :value, OR in a key
//     condition): moto fails with an internal error (HTTP 500, an HTML
//     page); DynamoDB answers ValidationException 400.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

var dynamoDBMotoGaps = map[string]string{
	"dynamodb-query/pages at exact limit":        "moto omits LastEvaluatedKey when the last page is exactly Limit items",
	"dynamodb-items/number read back":            "moto returns numbers as written, not normalized",
	"dynamodb-items/unused value":                "moto's PutItem does not refuse unused ExpressionAttributeValues",
	"dynamodb-items/undefined name":              "moto fails with HTTP 500 on an undefined #name",
	"dynamodb-query/key condition with OR":       "moto fails with HTTP 500 on OR in a key condition",
	"dynamodb-conditions/yes < :t":               "moto does not check operand types statically",
	"dynamodb-conditions/begins_with(str, :ten)": "moto does not check operand types statically",
	"dynamodb-conditions/n = :undefined":         "moto fails with HTTP 500 on an undefined :value",
	"dynamodb-conditions/n = ":                   "moto fails with HTTP 500 on a syntax error",
	"dynamodb-conditions/(n = :ten":              "moto fails with HTTP 500 on an unbalanced parenthesis",
	"dynamodb-conditions/nope(n)":                "moto fails with HTTP 500 on an unknown function",
}

var dynamoDBMinidynGaps = map[string]string{
	"dynamodb-table/table shape":                         "minidyn's DescribeTable has no TableStatus, TableArn or BillingModeSummary",
	"dynamodb-items/update removes attribute":            "minidyn's REMOVE of a top-level attribute changes nothing",
	"dynamodb-items/number read back":                    "minidyn returns numbers as written, not normalized",
	"dynamodb-items/put with empty key":                  "minidyn accepts an empty string key",
	"dynamodb-items/put over 400 KB":                     "minidyn does not limit item size",
	"dynamodb-query/key condition with OR":               "minidyn evaluates OR in a key condition",
	"dynamodb-query/key condition without partition key": "minidyn evaluates a key condition without the partition key",
	"dynamodb-conditions/begins_with(n, :pre)":           "minidyn refuses begins_with on a number; DynamoDB evaluates it as false",
	"dynamodb-conditions/n = :s":                         "minidyn refuses comparing N with S; DynamoDB evaluates it as false",
	"dynamodb-conditions/n <> :s":                        "minidyn refuses comparing N with S; DynamoDB evaluates it as true",
	"dynamodb-conditions/n = :undefined":                 "minidyn evaluates an undefined :value instead of refusing it",
}

func init() {
	conformanceScenarios = append(conformanceScenarios, dynamoDBScenarios...)
	for k, v := range dynamoDBMotoGaps {
		motoGaps[k] = v
	}
	for k, v := range dynamoDBMinidynGaps {
		localawsGaps[k] = v
	}
}

const confTable = "conf-ledger"

func confCreateTable(ctx context.Context, c *dynamodb.Client) error {
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(confTable),
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
	return err
}

func confKey(pk, sk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": ddbS(pk), "sk": ddbS(sk)}
}

// attrText renders chosen attributes of an item as "a=x b=y" (S, N and
// BOOL values), or "no item".
func attrText(it map[string]ddbtypes.AttributeValue, names ...string) string {
	if it == nil {
		return "no item"
	}
	var parts []string
	for _, n := range names {
		switch v := it[n].(type) {
		case *ddbtypes.AttributeValueMemberS:
			parts = append(parts, n+"="+v.Value)
		case *ddbtypes.AttributeValueMemberN:
			parts = append(parts, n+"="+v.Value)
		case *ddbtypes.AttributeValueMemberBOOL:
			parts = append(parts, fmt.Sprintf("%s=%t", n, v.Value))
		case *ddbtypes.AttributeValueMemberB:
			parts = append(parts, fmt.Sprintf("%s=%q", n, v.Value))
		case nil:
			parts = append(parts, n+" absent")
		default:
			parts = append(parts, fmt.Sprintf("%s=%T", n, v))
		}
	}
	return strings.Join(parts, " ")
}

var dynamoDBScenarios = []scenario{
	{
		name: "dynamodb-table",
		want: []step{
			{"create table", "ok"},
			{"create table again", "ResourceInUseException 400"},
			{"describe table", "ok"},
			{"table shape", "ok"},
			{"describe missing table", "ResourceNotFoundException 400"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			c := dynamodb.NewFromConfig(env.cfg)
			var steps []step
			add := func(name, got string) { steps = append(steps, step{name, got}) }
			add("create table", outcome(confCreateTable(ctx, c)))
			add("create table again", outcome(confCreateTable(ctx, c)))
			out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(confTable)})
			add("describe table", outcome(err))
			if err == nil {
				tb := out.Table
				var keys []string
				for _, k := range tb.KeySchema {
					keys = append(keys, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
				}
				billing := ddbtypes.BillingMode("")
				if tb.BillingModeSummary != nil {
					billing = tb.BillingModeSummary.BillingMode
				}
				add("table shape", shape(
					expect(tb.TableStatus == ddbtypes.TableStatusActive, "status %s", tb.TableStatus),
					expect(aws.ToString(tb.TableArn) == "arn:aws:dynamodb:us-east-1:"+env.account+":table/"+confTable, "arn %s", aws.ToString(tb.TableArn)),
					expect(strings.Join(keys, ",") == "pk:HASH,sk:RANGE", "key schema %s", keys),
					expect(billing == ddbtypes.BillingModePayPerRequest, "billing mode %q", billing),
				))
			}
			_, err = c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("conf-missing")})
			add("describe missing table", outcome(err))
			return steps
		},
	},
	{
		name: "dynamodb-items",
		want: []step{
			{"put if absent", "ok"},
			{"put if absent again", "ConditionalCheckFailedException 400"},
			{"failed put returns old item", "user=alice"},
			{"get item", "user=alice dryRun=false expiresAt=1790000000"},
			{"get missing item", "no item"},
			{"get from missing table", "ResourceNotFoundException 400"},
			{"update with true condition", "ok"},
			{"update returns all new", "user=alice status=sent dryRun=false"},
			{"update with false condition", "ConditionalCheckFailedException 400"},
			{"update removes attribute", "user=alice dryRun absent"},
			{"update creates missing item", "ok"},
			{"update key attribute", "ValidationException 400"},
			{"number read back", "n=1.5"},
			{"put without sort key", "ValidationException 400"},
			{"put with empty key", "ValidationException 400"},
			{"put over 400 KB", "ValidationException 400"},
			{"unused value", "ValidationException 400"},
			{"undefined name", "ValidationException 400"},
			{"reserved word", "ValidationException 400"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			c := dynamodb.NewFromConfig(env.cfg)
			if err := confCreateTable(ctx, c); err != nil {
				return []step{{"setup", outcome(err)}}
			}
			var steps []step
			add := func(name, got string) { steps = append(steps, step{name, got}) }
			notice := confKey("key#AKIACONF", "notice#warn-70")
			notice["user"], notice["dryRun"], notice["expiresAt"] = ddbS("alice"), &ddbtypes.AttributeValueMemberBOOL{Value: false}, ddbN("1790000000")
			putIfAbsent := func(rv ddbtypes.ReturnValuesOnConditionCheckFailure) error {
				_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
					TableName: aws.String(confTable), Item: notice,
					ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
					ReturnValuesOnConditionCheckFailure: rv,
				})
				return err
			}
			add("put if absent", outcome(putIfAbsent("")))
			add("put if absent again", outcome(putIfAbsent("")))
			var ccf *ddbtypes.ConditionalCheckFailedException
			if err := putIfAbsent(ddbtypes.ReturnValuesOnConditionCheckFailureAllOld); errors.As(err, &ccf) {
				add("failed put returns old item", attrText(ccf.Item, "user"))
			} else {
				add("failed put returns old item", outcome(err))
			}
			get := func(table, sk string) string {
				out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: confKey("key#AKIACONF", sk), ConsistentRead: aws.Bool(true)})
				if err != nil {
					return outcome(err)
				}
				return attrText(out.Item, "user", "dryRun", "expiresAt")
			}
			add("get item", get(confTable, "notice#warn-70"))
			add("get missing item", get(confTable, "notice#warn-80"))
			add("get from missing table", get("conf-missing", "notice#warn-70"))

			update := func(key map[string]ddbtypes.AttributeValue, cond string) (*dynamodb.UpdateItemOutput, error) {
				return c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
					TableName:                 aws.String(confTable),
					Key:                       key,
					UpdateExpression:          aws.String("SET #s = :s"),
					ConditionExpression:       aws.String(cond),
					ExpressionAttributeNames:  map[string]string{"#s": "status"},
					ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":s": ddbS("sent")},
					ReturnValues:              ddbtypes.ReturnValueAllNew,
				})
			}
			out, err := update(confKey("key#AKIACONF", "notice#warn-70"), "attribute_exists(pk) AND attribute_not_exists(#s)")
			add("update with true condition", outcome(err))
			if err == nil {
				add("update returns all new", attrText(out.Attributes, "user", "status", "dryRun"))
			}
			_, err = update(confKey("key#AKIACONF", "notice#warn-70"), "attribute_exists(pk) AND attribute_not_exists(#s)")
			add("update with false condition", outcome(err))
			out, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: aws.String(confTable), Key: confKey("key#AKIACONF", "notice#warn-70"),
				UpdateExpression: aws.String("REMOVE dryRun"), ReturnValues: ddbtypes.ReturnValueAllNew,
			})
			if err != nil {
				add("update removes attribute", outcome(err))
			} else {
				add("update removes attribute", attrText(out.Attributes, "user", "dryRun"))
			}
			_, err = update(confKey("key#AKIACONF", "notice#new"), "attribute_not_exists(pk)")
			add("update creates missing item", outcome(err))
			_, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: aws.String(confTable), Key: confKey("key#AKIACONF", "notice#warn-70"),
				UpdateExpression:          aws.String("SET sk = :x"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":x": ddbS("other")},
			})
			add("update key attribute", outcome(err))

			num := confKey("key#AKIACONF", "number")
			num["n"] = ddbN("1.50")
			if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(confTable), Item: num}); err != nil {
				add("number read back", outcome(err))
			} else if got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(confTable), Key: confKey("key#AKIACONF", "number")}); err != nil {
				add("number read back", outcome(err))
			} else {
				add("number read back", attrText(got.Item, "n"))
			}

			put := func(it map[string]ddbtypes.AttributeValue, cond string, names map[string]string, values map[string]ddbtypes.AttributeValue) string {
				in := &dynamodb.PutItemInput{TableName: aws.String(confTable), Item: it, ExpressionAttributeNames: names, ExpressionAttributeValues: values}
				if cond != "" {
					in.ConditionExpression = aws.String(cond)
				}
				_, err := c.PutItem(ctx, in)
				return outcome(err)
			}
			add("put without sort key", put(map[string]ddbtypes.AttributeValue{"pk": ddbS("key#AKIACONF")}, "", nil, nil))
			add("put with empty key", put(confKey("", "x"), "", nil, nil))
			large := confKey("key#AKIACONF", "large")
			large["data"] = ddbS(strings.Repeat("x", 400*1024))
			add("put over 400 KB", put(large, "", nil, nil))
			add("unused value", put(confKey("key#AKIACONF", "x"), "attribute_not_exists(pk)", nil, map[string]ddbtypes.AttributeValue{":unused": ddbS("x")}))
			add("undefined name", put(confKey("key#AKIACONF", "x"), "attribute_not_exists(#nope)", nil, nil))
			add("reserved word", put(confKey("key#AKIACONF", "x"), "attribute_not_exists(status)", nil, nil))
			return steps
		},
	},
	{
		name: "dynamodb-query",
		want: []step{
			{"pages forward", "a,b | c,d | e"},
			{"pages backward", "e,d | c,b | a"},
			{"pages at exact limit", "a,b,c,d,e | "},
			{"whole partition", "action#delete,created,notice#a,notice#b,notice#c,notice#d,notice#e"},
			{"sort key range", "notice#d,notice#e"},
			{"key condition with OR", "ValidationException 400"},
			{"key condition on other attribute", "ValidationException 400"},
			{"key condition without partition key", "ValidationException 400"},
			{"query missing table", "ResourceNotFoundException 400"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			c := dynamodb.NewFromConfig(env.cfg)
			if err := confCreateTable(ctx, c); err != nil {
				return []step{{"setup", outcome(err)}}
			}
			// Written out of order: the answer orders by sort key.
			for _, k := range [][2]string{
				{"key#K", "notice#c"}, {"key#K", "notice#a"}, {"key#K", "created"}, {"key#K", "notice#e"},
				{"key#K", "action#delete"}, {"key#K", "notice#b"}, {"key#K", "notice#d"}, {"key#L", "notice#a"},
			} {
				if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(confTable), Item: confKey(k[0], k[1])}); err != nil {
					return []step{{"setup", outcome(err)}}
				}
			}
			var steps []step
			add := func(name, got string) { steps = append(steps, step{name, got}) }
			query := func(table, expr string, values map[string]ddbtypes.AttributeValue, limit int32, forward bool, start map[string]ddbtypes.AttributeValue) (*dynamodb.QueryOutput, error) {
				in := &dynamodb.QueryInput{
					TableName:                 aws.String(table),
					KeyConditionExpression:    aws.String(expr),
					ExpressionAttributeValues: values,
					ExclusiveStartKey:         start,
					ScanIndexForward:          aws.Bool(forward),
					ConsistentRead:            aws.Bool(true),
				}
				if limit > 0 {
					in.Limit = aws.Int32(limit)
				}
				return c.Query(ctx, in)
			}
			sks := func(items []map[string]ddbtypes.AttributeValue, trim string) string {
				var out []string
				for _, it := range items {
					if s, ok := it["sk"].(*ddbtypes.AttributeValueMemberS); ok {
						out = append(out, strings.TrimPrefix(s.Value, trim))
					}
				}
				return strings.Join(out, ",")
			}
			prefix := map[string]ddbtypes.AttributeValue{":pk": ddbS("key#K"), ":p": ddbS("notice#")}
			pages := func(limit int32, forward bool) string {
				var out []string
				var start map[string]ddbtypes.AttributeValue
				for range 10 {
					page, err := query(confTable, "pk = :pk AND begins_with(sk, :p)", prefix, limit, forward, start)
					if err != nil {
						return outcome(err)
					}
					out = append(out, sks(page.Items, "notice#"))
					if page.LastEvaluatedKey == nil {
						return strings.Join(out, " | ")
					}
					start = page.LastEvaluatedKey
				}
				return "more than 10 pages"
			}
			add("pages forward", pages(2, true))
			add("pages backward", pages(2, false))
			add("pages at exact limit", pages(5, true))
			whole := map[string]ddbtypes.AttributeValue{":pk": ddbS("key#K")}
			if out, err := query(confTable, "pk = :pk", whole, 0, true, nil); err != nil {
				add("whole partition", outcome(err))
			} else {
				add("whole partition", sks(out.Items, ""))
			}
			if out, err := query(confTable, "pk = :pk AND sk >= :p", map[string]ddbtypes.AttributeValue{":pk": ddbS("key#K"), ":p": ddbS("notice#d")}, 0, true, nil); err != nil {
				add("sort key range", outcome(err))
			} else {
				add("sort key range", sks(out.Items, ""))
			}
			_, err := query(confTable, "pk = :pk OR begins_with(sk, :p)", prefix, 0, true, nil)
			add("key condition with OR", outcome(err))
			_, err = query(confTable, "pk = :pk AND other = :p", prefix, 0, true, nil)
			add("key condition on other attribute", outcome(err))
			_, err = query(confTable, "begins_with(sk, :p)", map[string]ddbtypes.AttributeValue{":p": ddbS("notice#")}, 0, true, nil)
			add("key condition without partition key", outcome(err))
			_, err = query("conf-missing", "pk = :pk", whole, 0, true, nil)
			add("query missing table", outcome(err))
			return steps
		},
	},
	{
		name: "dynamodb-conditions",
		want: conditionSteps(),
		run: func(ctx context.Context, env conformanceEnv) []step {
			c := dynamodb.NewFromConfig(env.cfg)
			if err := confCreateTable(ctx, c); err != nil {
				return []step{{"setup", outcome(err)}}
			}
			it := confKey("p", "s")
			it["n"], it["str"], it["yes"] = ddbN("10"), ddbS("notice#warn"), &ddbtypes.AttributeValueMemberBOOL{Value: true}
			it["nul"] = &ddbtypes.AttributeValueMemberNULL{Value: true}
			it["tags"] = &ddbtypes.AttributeValueMemberSS{Value: []string{"a", "b"}}
			it["m"] = &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"x": ddbN("1"), "y": ddbS("z")}}
			it["l"] = &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{ddbS("a"), ddbN("2")}}
			if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(confTable), Item: it}); err != nil {
				return []step{{"setup", outcome(err)}}
			}
			var steps []step
			for _, cc := range conformanceConditions {
				vals := map[string]ddbtypes.AttributeValue{}
				for k, v := range conditionValues {
					if strings.Contains(cc.cond+" ", k+" ") || strings.Contains(cc.cond, k+")") || strings.Contains(cc.cond, k+",") {
						vals[k] = v
					}
				}
				if len(vals) == 0 {
					vals = nil
				}
				_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(confTable), Item: it, ConditionExpression: aws.String(cc.cond), ExpressionAttributeValues: vals})
				got := "true"
				var ccf *ddbtypes.ConditionalCheckFailedException
				switch {
				case errors.As(err, &ccf):
					got = "false"
				case err != nil:
					got = outcome(err)
				}
				steps = append(steps, step{cc.cond, got})
			}
			return steps
		},
	},
}

var conditionValues = map[string]ddbtypes.AttributeValue{
	":ten": ddbN("10.0"), ":nine": ddbN("9"), ":eleven": ddbN("1.1E1"),
	":s": ddbS("notice#warn"), ":pre": ddbS("notice#"), ":t": &ddbtypes.AttributeValueMemberBOOL{Value: true},
	":ba":   &ddbtypes.AttributeValueMemberSS{Value: []string{"b", "a"}},
	":m":    &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"y": ddbS("z"), "x": ddbN("1")}},
	":l":    &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{ddbS("a"), ddbN("2")}},
	":null": &ddbtypes.AttributeValueMemberNULL{Value: true},
}

// conformanceConditions are evaluated against one item; want is what
// DynamoDB answers: true, false (ConditionalCheckFailed) or an error.
var conformanceConditions = []struct{ cond, want string }{
	{"attribute_exists(n)", "true"},
	{"attribute_not_exists(n)", "false"},
	{"attribute_not_exists(absent)", "true"},
	{"n = :ten", "true"},
	{"n <> :ten", "false"},
	{"n > :nine AND n < :eleven", "true"},
	{"n >= :ten AND n <= :ten", "true"},
	{"n < :nine OR n > :eleven", "false"},
	{"NOT n < :nine", "true"},
	{"NOT (n = :ten OR n = :nine)", "false"},
	{"n = :nine OR n = :ten AND str = :s", "true"},
	{"(n = :nine OR n = :ten) AND str = :pre", "false"},
	{"str = :s", "true"},
	{"str > :pre", "true"},
	{"begins_with(str, :pre)", "true"},
	{"begins_with(n, :pre)", "false"},
	{"n = :s", "false"},
	{"n <> :s", "true"},
	{"absent = :ten", "false"},
	{"absent <> :ten", "true"},
	{"absent < :ten", "false"},
	{"NOT absent < :ten", "true"},
	{"yes = :t", "true"},
	{"nul = :null", "true"},
	{"tags = :ba", "true"},
	{"m = :m", "true"},
	{"l = :l", "true"},
	{"str = str", "true"},
	{"attribute_exists(pk) and not attribute_exists(absent) Or n = :nine", "true"},
	{"yes < :t", "ValidationException 400"},
	{"begins_with(str, :ten)", "ValidationException 400"},
	{"n = :undefined", "ValidationException 400"},
	{"status = :s", "ValidationException 400"},
	{"n = ", "ValidationException 400"},
	{"(n = :ten", "ValidationException 400"},
	{"nope(n)", "ValidationException 400"},
}

func conditionSteps() []step {
	steps := make([]step, 0, len(conformanceConditions))
	for _, cc := range conformanceConditions {
		steps = append(steps, step{cc.cond, cc.want})
	}
	return steps
}
