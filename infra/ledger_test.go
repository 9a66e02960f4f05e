package main

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The ledger: keys pk/sk, on demand, TTL expiresAt, point-in-time recovery,
// deletion protection, retained, encrypted with the AWS managed key.
func TestLedgerTable(t *testing.T) {
	table := defaultTmpl.at(t, "LedgerTable/Resource")
	if table.Type != "AWS::DynamoDB::Table" {
		t.Fatalf("ledger is %s, want AWS::DynamoDB::Table", table.Type)
	}
	want := map[string]string{
		"KeySchema":                        `[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]`,
		"AttributeDefinitions":             `[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"S"}]`,
		"BillingMode":                      `"PAY_PER_REQUEST"`,
		"TimeToLiveSpecification":          `{"AttributeName":"expiresAt","Enabled":true}`,
		"PointInTimeRecoverySpecification": `{"PointInTimeRecoveryEnabled":true}`,
		"DeletionProtectionEnabled":        `true`,
		// AWS managed key (aws/dynamodb): SSE on, no customer key.
		"SSESpecification":       `{"SSEEnabled":true}`,
		"GlobalSecondaryIndexes": `null`,
		"LocalSecondaryIndexes":  `null`,
		"StreamSpecification":    `null`,
		"TableName":              `null`,
	}
	for k, v := range want {
		var w any
		if err := json.Unmarshal([]byte(v), &w); err != nil {
			t.Fatal(err)
		}
		if got := table.Properties[k]; !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %s, want %s", k, toJSON(got), v)
		}
	}
	if table.DeletionPolicy != "Retain" || table.UpdateReplacePolicy != "Retain" {
		t.Errorf("DeletionPolicy %q, UpdateReplacePolicy %q; want Retain", table.DeletionPolicy, table.UpdateReplacePolicy)
	}
}
