package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/localaws"
)

// keywarden report against the demo account on localaws, reached through
// the SDK's standard endpoint settings as a real account would be.
func TestReportAgainstLocalAWS(t *testing.T) {
	srv, _, err := localaws.NewSeeded("../../events/demo-account.json", localaws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	run := func(args ...string) string {
		var out, errOut bytes.Buffer
		if code := report(context.Background(), append(args, "--cdk-json", "../../cdk.json"), &out, &errOut); code != 0 {
			t.Fatalf("report %v: exit %d: %s", args, code, errOut.String())
		}
		return out.String()
	}
	table := run()
	for _, want := range []string{"AKIAKEYWARDENDAVE001", "AKIAKEYWARDENBOB0001", "warning-70", "notify only", "no key is changed"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	rows, err := csv.NewReader(strings.NewReader(run("--format", "csv"))).ReadAll()
	if err != nil || len(rows) < 5 || rows[0][0] != "user" {
		t.Fatalf("csv: %v, %d rows", err, len(rows))
	}
	var doc struct {
		Decisions []struct {
			KeyID  string `json:"keyId"`
			Action string `json:"action"`
		} `json:"decisions"`
	}
	if err := json.Unmarshal([]byte(run("--format", "json")), &doc); err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{}
	for _, d := range doc.Decisions {
		actions[d.KeyID] = d.Action
	}
	if actions["AKIAKEYWARDENDAVE001"] != "deactivate" || actions["AKIAKEYWARDENBOB0001"] != "notify" {
		t.Errorf("decisions %v", actions)
	}
	// "90 days later": every Employee key is past the limit.
	later := run("--format", "json", "--at", srv.Now().AddDate(0, 0, 90).Format("2006-01-02T15:04:05Z"))
	if !strings.Contains(later, `"AKIAKEYWARDENALICE01"`) {
		t.Errorf("90 days later, alice's 40-day key should be flagged")
	}
	for _, c := range srv.Calls() {
		if c.Service == "iam" && (c.Operation == "UpdateAccessKey" || c.Operation == "DeleteAccessKey") {
			t.Fatalf("report changed a key: %+v", c)
		}
	}
	var errOut bytes.Buffer
	if code := report(context.Background(), []string{"--format", "xml"}, &bytes.Buffer{}, &errOut); code != 2 {
		t.Errorf("bad format: exit %d", code)
	}

	// Without the ledger, the rotation user's key is due; with it, what
	// the ledger recorded counts: the key was rotated, bob was warned.
	if actions["AKIAKEYWARDENSVCR001"] != "rotate" {
		t.Errorf("svc-reports's key: %q, want rotate", actions["AKIAKEYWARDENSVCR001"])
	}
	if err := srv.CreateDynamoDBTable(localaws.DynamoDBTable{Name: "keywarden-ledger", PartitionKey: "pk", SortKey: "sk"}); err != nil {
		t.Fatal(err)
	}
	cfg := srv.SDKConfig()
	l, err := ledger.New(dynamodb.NewFromConfig(cfg), "keywarden-ledger", ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := srv.Now().Add(-24 * time.Hour)
	if _, err := l.RecordAction(ctx, "AKIAKEYWARDENSVCR001", ledger.ActionRotated, ledger.Action{User: "svc-reports", At: at,
		NewKeyID: "AKIAKEYWARDENSVCR002", SecretARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:keywarden/access-key/svc-reports-AbCdEf"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.RecordNotice(ctx, "AKIAKEYWARDENBOB0001", "warning-70", ledger.Notice{User: "bob", SentAt: at, Channel: ledger.ChannelSNS}); err != nil {
		t.Fatal(err)
	}
	doc.Decisions = nil
	if err := json.Unmarshal([]byte(run("--format", "json", "--ledger", "keywarden-ledger")), &doc); err != nil {
		t.Fatal(err)
	}
	for _, d := range doc.Decisions {
		if (d.KeyID == "AKIAKEYWARDENSVCR001" || d.KeyID == "AKIAKEYWARDENBOB0001") && d.Action != "none" {
			t.Errorf("with the ledger, %s: %s, want none (already rotated / already warned)", d.KeyID, d.Action)
		}
	}
}
