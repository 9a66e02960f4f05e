package credreport

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/golden"
)

// generated is when the test reports were generated.
var generated = time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)

// header is AWS's credential report header, in AWS's order.
var header = []string{
	"user", "arn", "user_creation_time", "password_enabled", "password_last_used",
	"password_last_changed", "password_next_rotation", "mfa_active",
	"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
	"access_key_1_last_used_region", "access_key_1_last_used_service",
	"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
	"access_key_2_last_used_region", "access_key_2_last_used_service",
	"cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
}

// row is a user's report row: no password, no keys, except what fields set.
func row(user string, fields map[string]string) map[string]string {
	r := map[string]string{
		"user": user, "arn": "arn:aws:iam::123456789012:user/" + user,
		"user_creation_time": "2024-01-01T00:00:00+00:00", "password_enabled": "false",
		"mfa_active": "false", "access_key_1_active": "false", "access_key_2_active": "false",
		"cert_1_active": "false", "cert_2_active": "false",
	}
	if user == RootUser {
		r["arn"] = "arn:aws:iam::123456789012:root"
		r["password_enabled"], r["password_last_changed"], r["password_next_rotation"] = "not_supported", "not_supported", "not_supported"
		r["password_last_used"] = "no_information"
	}
	for k, v := range fields {
		r[k] = v
	}
	return r
}

// report renders rows under cols (AWS's header if nil); absent fields are N/A.
func report(t testing.TB, cols []string, rows ...map[string]string) []byte {
	t.Helper()
	if cols == nil {
		cols = header
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	recs := [][]string{cols}
	for _, r := range rows {
		rec := make([]string, len(cols))
		for i, c := range cols {
			rec[i] = "N/A"
			if v, ok := r[c]; ok {
				rec[i] = v
			}
		}
		recs = append(recs, rec)
	}
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestParseGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "report.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Parse(in, generated)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	got, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden.Check(t, filepath.Join("testdata", "report.json"), got)
}

// TestParseReorderedColumns proves columns are found by name: the golden
// report with its columns reversed parses to the same result.
func TestParseReorderedColumns(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "report.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(in)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		for i, j := 0, len(rec)-1; i < j; i, j = i+1, j-1 {
			rec[i], rec[j] = rec[j], rec[i]
		}
	}
	// A column AWS might add one day is ignored.
	recs[0] = append(recs[0], "access_key_1_new_column")
	for i := 1; i < len(recs); i++ {
		recs[i] = append(recs[i], "x")
	}
	var buf bytes.Buffer
	if err := csv.NewWriter(&buf).WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	want, err := Parse(in, generated)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(buf.Bytes(), generated)
	if err != nil {
		t.Fatalf("Parse(reordered): %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reordered columns parse to\n%+v\nwant\n%+v", got, want)
	}
}

func TestParse(t *testing.T) {
	root := func(fields map[string]string) map[string]string { return row(RootUser, fields) }
	for _, tc := range []struct {
		name string
		in   []byte
		want Report
	}{
		{
			name: "header only",
			in:   report(t, nil),
			want: Report{Generated: generated, Keys: []Key{}},
		},
		{
			name: "header only, trailing newline and CRLF",
			in:   []byte(strings.Join(header, ",") + "\r\n"),
			want: Report{Generated: generated, Keys: []Key{}},
		},
		{
			name: "N/A and not_supported: a user without keys, the root row of a new account",
			in:   report(t, nil, root(nil), row("nokeys", map[string]string{"password_enabled": "true", "password_last_used": "no_information"})),
			want: Report{Generated: generated, Users: 1, Keys: []Key{}},
		},
		{
			name: "both slots, one never used",
			in: report(t, nil, row("two", map[string]string{
				"access_key_1_active": "true", "access_key_1_last_rotated": "2025-12-01T10:00:00+00:00",
				"access_key_1_last_used_date": "2026-02-01T11:00:00+00:00", "access_key_1_last_used_region": "eu-west-1",
				"access_key_1_last_used_service": "s3",
				"access_key_2_active":            "false", "access_key_2_last_rotated": "2025-01-01T00:00:00+00:00",
			})),
			want: Report{Generated: generated, Users: 1, Keys: []Key{
				{User: "two", ARN: "arn:aws:iam::123456789012:user/two", Slot: 1, Active: true,
					LastRotated: date("2025-12-01T10:00:00Z"), LastUsed: date("2026-02-01T11:00:00Z"),
					LastUsedRegion: "eu-west-1", LastUsedService: "s3"},
				{User: "two", ARN: "arn:aws:iam::123456789012:user/two", Slot: 2, Active: false,
					LastRotated: date("2025-01-01T00:00:00Z")},
			}},
		},
		{
			name: "slot 2 only",
			in: report(t, nil, row("second", map[string]string{
				"access_key_2_active": "true", "access_key_2_last_rotated": "2024-02-29T12:00:00+00:00",
				"access_key_2_last_used_date": "no_information",
			})),
			want: Report{Generated: generated, Users: 1, Keys: []Key{
				{User: "second", ARN: "arn:aws:iam::123456789012:user/second", Slot: 2, Active: true, LastRotated: date("2024-02-29T12:00:00Z")},
			}},
		},
		{
			name: "root with an active key: flagged, not listed",
			in: report(t, nil, root(map[string]string{
				"access_key_1_active": "true", "access_key_1_last_rotated": "2019-03-11T09:12:40+00:00",
			})),
			want: Report{Generated: generated, Keys: []Key{}, RootHasKeys: true},
		},
		{
			name: "root with an inactive key only",
			in: report(t, nil, root(map[string]string{
				"access_key_2_active": "false", "access_key_2_last_rotated": "2019-03-11T09:12:40+00:00",
			})),
			want: Report{Generated: generated, Keys: []Key{}},
		},
		{
			name: "dates in another offset are kept in UTC",
			in: report(t, nil, row("tz", map[string]string{
				"access_key_1_active": "true", "access_key_1_last_rotated": "2026-01-01T01:30:00+02:00",
			})),
			want: Report{Generated: generated, Users: 1, Keys: []Key{
				{User: "tz", ARN: "arn:aws:iam::123456789012:user/tz", Slot: 1, Active: true, LastRotated: date("2025-12-31T23:30:00Z")},
			}},
		},
		{
			name: "without the optional region and service columns",
			in: report(t, []string{"user", "arn", "access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
				"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date"},
				row("min", map[string]string{"access_key_1_active": "true", "access_key_1_last_rotated": "2026-01-01T00:00:00+00:00",
					"access_key_1_last_used_date": "2026-02-01T00:00:00+00:00"})),
			want: Report{Generated: generated, Users: 1, Keys: []Key{
				{User: "min", ARN: "arn:aws:iam::123456789012:user/min", Slot: 1, Active: true,
					LastRotated: date("2026-01-01T00:00:00Z"), LastUsed: date("2026-02-01T00:00:00Z")},
			}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in, generated)
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, tc.in)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	without := func(name string) []string {
		var out []string
		for _, c := range header {
			if c != name {
				out = append(out, c)
			}
		}
		return out
	}
	good := row("alice", map[string]string{"access_key_1_active": "true", "access_key_1_last_rotated": "2026-01-01T00:00:00+00:00"})
	tests := []struct {
		name string
		in   []byte
		want []string // substrings of the error
	}{
		{"empty input", nil, []string{"empty"}},
		{"blank lines only", []byte("\n\n"), []string{"empty"}},
		{"bad date", report(t, nil, good, row("bob", map[string]string{
			"access_key_2_active": "true", "access_key_2_last_rotated": "2026-13-01T00:00:00+00:00"})),
			[]string{"line 3", "bob", "access_key_2_last_rotated", "2026-13-01T00:00:00+00:00"}},
		{"date without a zone", report(t, nil, row("bob", map[string]string{
			"access_key_1_active": "true", "access_key_1_last_rotated": "2026-01-01 00:00:00"})),
			[]string{"line 2", "access_key_1_last_rotated"}},
		{"bad last used date", report(t, nil, row("bob", map[string]string{
			"access_key_1_active": "true", "access_key_1_last_rotated": "2026-01-01T00:00:00+00:00",
			"access_key_1_last_used_date": "yesterday"})),
			[]string{"line 2", "access_key_1_last_used_date", "yesterday"}},
		{"bad active flag", report(t, nil, row("bob", map[string]string{"access_key_1_active": "TRUE"})),
			[]string{"line 2", "access_key_1_active", "TRUE"}},
		{"active key without a date", report(t, nil, row("bob", map[string]string{"access_key_2_active": "true"})),
			[]string{"line 2", "access_key_2_active is true", "access_key_2_last_rotated"}},
		{"too few fields", append(report(t, nil, good), []byte("\nbob,arn:aws:iam::123456789012:user/bob,false")...),
			[]string{"line 3", "3 fields", "header has 22"}},
		{"too many fields", append(report(t, nil, good), []byte("\n"+strings.Repeat("x,", 22)+"x")...),
			[]string{"line 3", "23 fields"}},
		{"empty user", report(t, nil, row("", nil)), []string{"line 2", "empty user"}},
		{"user twice", report(t, nil, good, good), []string{"line 3", `"alice" already on line 2`}},
		{"column twice", report(t, append(header, "arn"), good), []string{"line 1", `"arn" appears twice`}},
		{"bad quoting", []byte(strings.Join(header, ",") + "\n\"alice,arn"), []string{"line"}},
		{"not a report", []byte("<html>Service Unavailable</html>"), []string{"missing column", "user"}},
	}
	for _, name := range requiredColumns {
		tests = append(tests, struct {
			name string
			in   []byte
			want []string
		}{"missing column " + name, report(t, without(name), good), []string{"line 1", "missing column", name}})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Parse(tc.in, generated)
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", rep)
			}
			if !errors.Is(err, ErrMalformedReport) {
				t.Errorf("error %q does not wrap ErrMalformedReport", err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestReportByUser(t *testing.T) {
	rep, err := Parse(report(t, nil,
		row("a", map[string]string{"access_key_1_active": "true", "access_key_1_last_rotated": "2026-01-01T00:00:00+00:00",
			"access_key_2_active": "true", "access_key_2_last_rotated": "2026-01-02T00:00:00+00:00"}),
		row("b", map[string]string{"access_key_2_active": "true", "access_key_2_last_rotated": "2026-01-03T00:00:00+00:00"}),
		row("c", nil)), generated)
	if err != nil {
		t.Fatal(err)
	}
	by := rep.ByUser()
	if len(by) != 2 || len(by["a"]) != 2 || by["a"][0].Slot != 1 || by["a"][1].Slot != 2 || len(by["b"]) != 1 || by["c"] != nil {
		t.Errorf("ByUser = %+v", by)
	}
}

// The root account's row is known by any spelling of root, in the user
// column or the ARN; an IAM user named root is known by its ARN.
func TestParseRootRowSpellings(t *testing.T) {
	activeKey := map[string]string{"access_key_1_active": "true", "access_key_1_last_rotated": "2019-03-11T09:12:40+00:00"}
	with := func(fields map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range activeKey {
			out[k] = v
		}
		for k, v := range fields {
			out[k] = v
		}
		return out
	}
	const rootARN = "arn:aws:iam::123456789012:root"
	for _, tc := range []struct {
		name, user, arn string
		root            bool
	}{
		{"<root_account> as AWS writes it", "<root_account>", rootARN, true},
		{"<ROOT_ACCOUNT>", "<ROOT_ACCOUNT>", rootARN, true},
		{"<root>", "<root>", rootARN, true},
		{"root", "root", rootARN, true},
		{"Root", "Root", rootARN, true},
		{"<root_account>, China partition", "<root_account>", "arn:aws-cn:iam::123456789012:root", true},
		{"<root_account>, GovCloud partition", "<root_account>", "arn:aws-us-gov:iam::123456789012:root", true},
		{"<root_account> with no ARN", "<root_account>", "", true},
		{"root's ARN whatever the user column says", "account", "arn:aws-us-gov:iam::123456789012:root", true},
		{"an IAM user named root", "root", "arn:aws:iam::123456789012:user/root", false},
		{"an IAM user named Root under a path", "Root", "arn:aws:iam::123456789012:user/ops/Root", false},
		{"rooted is a user", "rooted", "arn:aws:iam::123456789012:user/rooted", false},
		{"root_account without brackets is a user", "root_account", "arn:aws:iam::123456789012:user/root_account", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Parse(report(t, nil, row(tc.user, with(map[string]string{"arn": tc.arn}))), generated)
			if err != nil {
				t.Fatal(err)
			}
			if tc.root {
				if !rep.RootHasKeys || rep.Users != 0 || len(rep.Keys) != 0 {
					t.Errorf("root row read as %+v", rep)
				}
				return
			}
			if rep.RootHasKeys || rep.Users != 1 || len(rep.Keys) != 1 || rep.Keys[0].User != tc.user {
				t.Errorf("user row read as %+v", rep)
			}
		})
	}
}
