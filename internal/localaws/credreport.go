package localaws

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"time"
)

// credentialReportColumns is AWS's credential report header, in order.
var credentialReportColumns = []string{
	"user", "arn", "user_creation_time", "password_enabled", "password_last_used",
	"password_last_changed", "password_next_rotation", "mfa_active",
	"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
	"access_key_1_last_used_region", "access_key_1_last_used_service",
	"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
	"access_key_2_last_used_region", "access_key_2_last_used_service",
	"cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
}

// credentialReportMaxAge is how long AWS serves a report before
// GenerateCredentialReport starts a new one.
const credentialReportMaxAge = 4 * time.Hour

// credentialReportState is the account's latest report. Like AWS, the report
// is a snapshot: changes after generation show only in a report generated
// more than four hours later.
type credentialReportState struct {
	exists      bool
	generatedAt time.Time // when generation started
	readyAt     time.Time
	content     []byte
}

type generateCredentialReportResult struct {
	State       string `xml:"State"`
	Description string `xml:"Description,omitempty"`
}

func (s *Server) iamGenerateCredentialReport(req *request) (any, *awsError) {
	now := s.now()
	r := &s.iam.report
	switch {
	case r.exists && now.Before(r.readyAt):
		return &generateCredentialReportResult{State: "INPROGRESS"}, nil
	case r.exists && now.Sub(r.generatedAt) < credentialReportMaxAge:
		return &generateCredentialReportResult{State: "COMPLETE"}, nil
	}
	content, err := s.credentialReportCSV()
	if err != nil {
		return nil, req.svc.serverError(err.Error())
	}
	first := !r.exists
	*r = credentialReportState{exists: true, generatedAt: now, readyAt: now.Add(s.reportDelay), content: content}
	if first {
		return &generateCredentialReportResult{State: "STARTED", Description: "No report exists. Starting a new report generation task"}, nil
	}
	return &generateCredentialReportResult{State: "STARTED"}, nil
}

type getCredentialReportResult struct {
	Content       string `xml:"Content"` // base64
	ReportFormat  string `xml:"ReportFormat"`
	GeneratedTime string `xml:"GeneratedTime"`
}

func (s *Server) iamGetCredentialReport(*request) (any, *awsError) {
	r := s.iam.report
	switch {
	case !r.exists:
		return nil, &awsError{Code: "ReportNotPresent", Message: "Credential report not present. Use GenerateCredentialReport to generate one.", Status: http.StatusGone}
	case s.now().Before(r.readyAt):
		return nil, &awsError{Code: "ReportInProgress", Message: "Credential report is still being generated.", Status: http.StatusNotFound}
	}
	return &getCredentialReportResult{
		Content:       base64Std(r.content),
		ReportFormat:  "text/csv",
		GeneratedTime: iso8601(r.generatedAt),
	}, nil
}

// credentialReportCSV renders the report from current state: the root
// account first, then users by name, each with its live keys oldest first.
// Callers hold s.mu.
func (s *Server) credentialReportCSV() ([]byte, error) {
	const na = "N/A"
	reportTime := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }
	rows := [][]string{credentialReportColumns, {
		"<root_account>", "arn:aws:iam::" + s.account + ":root", reportTime(s.rootCreated()),
		"not_supported", "no_information", "not_supported", "not_supported", "false",
		"false", na, na, na, na,
		"false", na, na, na, na,
		"false", na, "false", na,
	}}
	for _, u := range s.sortedUsers() {
		row := []string{u.name, s.userARN(u), reportTime(u.created), "false", na, na, na, "false"}
		keys := s.liveKeys(u)
		for i := range maxKeysPerUser {
			if i >= len(keys) {
				row = append(row, "false", na, na, na, na)
				continue
			}
			k := keys[i]
			used := []string{na, na, na}
			if k.lastUsed != nil {
				used = []string{reportTime(k.lastUsed.date), k.lastUsed.region, k.lastUsed.service}
			}
			row = append(row, fmt.Sprint(k.status == statusActive), reportTime(k.created))
			row = append(row, used...)
		}
		row = append(row, "false", na, "false", na)
		rows = append(rows, row)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(rows); err != nil {
		return nil, fmt.Errorf("write credential report: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
