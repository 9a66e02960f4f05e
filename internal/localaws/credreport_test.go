package localaws

import (
	"context"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

const awsCredentialReportHeader = "user,arn,user_creation_time,password_enabled,password_last_used," +
	"password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated," +
	"access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service," +
	"access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region," +
	"access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"

func TestCredentialReport(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	seed(t, s, Fixture{
		Users: []FixtureUser{{Name: "bob", Created: "-400d"}, {Name: "alice", Created: "2025-01-02T03:04:05Z"}},
		Keys: []FixtureKey{
			{User: "alice", ID: "AKIAALICEKEYNEWER002", Created: "-10d"},
			{User: "alice", ID: "AKIAALICEKEYOLDER001", Created: "-95d", Status: "Inactive", LastUsed: "-91d", LastUsedRegion: "us-west-2", LastUsedService: "ec2"},
		},
	})
	c := iam.NewFromConfig(s.SDKConfig())

	_, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	var notPresent *types.CredentialReportNotPresentException
	if !errors.As(err, &notPresent) {
		t.Fatalf("GetCredentialReport before generation: %v, want ReportNotPresent", err)
	}
	wantCode(t, err, "ReportNotPresent", 410)

	gen, err := c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	mustOK(t, "GenerateCredentialReport", err)
	if gen.State != types.ReportStateTypeStarted {
		t.Errorf("first state = %s, want STARTED", gen.State)
	}
	gen, err = c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	mustOK(t, "GenerateCredentialReport", err)
	if gen.State != types.ReportStateTypeComplete {
		t.Errorf("second state = %s, want COMPLETE", gen.State)
	}

	rep, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	mustOK(t, "GetCredentialReport", err)
	if rep.ReportFormat != types.ReportFormatTypeTextCsv || !rep.GeneratedTime.Equal(testNow) {
		t.Errorf("format %s, generated %v", rep.ReportFormat, rep.GeneratedTime)
	}
	rows, err := csv.NewReader(strings.NewReader(string(rep.Content))).ReadAll()
	if err != nil {
		t.Fatalf("report is not CSV: %v", err)
	}
	if got := strings.Join(rows[0], ","); got != awsCredentialReportHeader {
		t.Fatalf("header =\n%s\nwant\n%s", got, awsCredentialReportHeader)
	}
	byUser := map[string]map[string]string{}
	for _, row := range rows[1:] {
		m := map[string]string{}
		for i, col := range rows[0] {
			m[col] = row[i]
		}
		byUser[row[0]] = m
	}
	if len(rows) != 4 || byUser["<root_account>"] == nil || rows[1][0] != "<root_account>" {
		t.Fatalf("rows = %v", rows)
	}
	alice := byUser["alice"]
	want := map[string]string{
		"arn":                            "arn:aws:iam::123456789012:user/alice",
		"user_creation_time":             "2025-01-02T03:04:05+00:00",
		"password_enabled":               "false",
		"access_key_1_active":            "false", // the older key comes first
		"access_key_1_last_rotated":      testNow.Add(-95 * 24 * time.Hour).Format("2006-01-02T15:04:05+00:00"),
		"access_key_1_last_used_date":    testNow.Add(-91 * 24 * time.Hour).Format("2006-01-02T15:04:05+00:00"),
		"access_key_1_last_used_region":  "us-west-2",
		"access_key_1_last_used_service": "ec2",
		"access_key_2_active":            "true",
		"access_key_2_last_used_date":    "N/A",
		"cert_1_active":                  "false",
	}
	for col, v := range want {
		if alice[col] != v {
			t.Errorf("alice %s = %q, want %q", col, alice[col], v)
		}
	}
	if bob := byUser["bob"]; bob["access_key_1_active"] != "false" || bob["access_key_1_last_rotated"] != "N/A" {
		t.Errorf("bob = %v", bob)
	}
}

func TestCredentialReportInProgress(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{CredentialReportDelay: 30 * time.Second})
	c := iam.NewFromConfig(s.SDKConfig())

	gen, err := c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	mustOK(t, "GenerateCredentialReport", err)
	if gen.State != types.ReportStateTypeStarted {
		t.Fatalf("state = %s", gen.State)
	}
	_, err = c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	var notReady *types.CredentialReportNotReadyException
	if !errors.As(err, &notReady) {
		t.Fatalf("GetCredentialReport while generating: %v, want ReportInProgress", err)
	}
	wantCode(t, err, "ReportInProgress", 404)
	gen, err = c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	mustOK(t, "GenerateCredentialReport", err)
	if gen.State != types.ReportStateTypeInprogress {
		t.Errorf("state while generating = %s, want INPROGRESS", gen.State)
	}

	s.Advance(31 * time.Second)
	_, err = c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	mustOK(t, "GetCredentialReport when ready", err)

	// The report is a snapshot: a new user shows only in a report generated
	// more than four hours later, as in AWS.
	seed(t, s, Fixture{Users: []FixtureUser{{Name: "late"}}})
	gen, _ = c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	if gen.State != types.ReportStateTypeComplete {
		t.Errorf("state of a fresh report = %s, want COMPLETE", gen.State)
	}
	s.Advance(4 * time.Hour)
	gen, _ = c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	if gen.State != types.ReportStateTypeStarted {
		t.Errorf("state of a stale report = %s, want STARTED", gen.State)
	}
	s.Advance(time.Minute)
	rep, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	mustOK(t, "GetCredentialReport (regenerated)", err)
	if !strings.Contains(string(rep.Content), "\nlate,") {
		t.Errorf("regenerated report lacks the new user:\n%s", rep.Content)
	}
}
