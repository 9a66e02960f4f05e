package credreport

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: whatever GetCredentialReport hands over, Parse never panics;
// it either fails with ErrMalformedReport or returns keys that make sense.
// Seeds: f.Add below and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "report.csv"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add([]byte(strings.Join(header, ",")))
	f.Add(report(f, nil, row(RootUser, map[string]string{
		"access_key_1_active": "true", "access_key_1_last_rotated": "2019-03-11T09:12:40+00:00",
		"access_key_1_last_used_date": "2026-02-01T00:00:00+00:00", "access_key_1_last_used_region": "us-east-1",
		"access_key_1_last_used_service": "sts"})))
	f.Add(report(f, []string{"access_key_2_last_used_date", "access_key_2_last_rotated", "access_key_2_active",
		"access_key_1_last_used_date", "access_key_1_last_rotated", "access_key_1_active", "arn", "user"},
		row("reordered", map[string]string{"access_key_2_active": "false", "access_key_2_last_rotated": "2025-02-28T23:59:59+00:00"})))
	f.Add([]byte("\xef\xbb\xbf" + strings.Join(header, ",") + "\r\n"))
	f.Add([]byte("user,arn\n\"a\"\"b\",\"x,y\""))

	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Parse(data, generated)
		if err != nil {
			if !errors.Is(err, ErrMalformedReport) {
				t.Fatalf("error %q does not wrap ErrMalformedReport", err)
			}
			return
		}
		if !rep.Generated.Equal(generated) || rep.Users < 0 || rep.Keys == nil {
			t.Fatalf("report %+v", rep)
		}
		slotsOf := map[string]int{}
		for _, k := range rep.Keys {
			switch {
			// The root row's keys are not listed; a row is root's by its
			// ARN, or by its user column when the ARN is no IAM user's.
			case k.User == "" || isRootRow(k.User, k.ARN):
				t.Fatalf("key of user %q (%s)", k.User, k.ARN)
			case k.Slot != 1 && k.Slot != 2:
				t.Fatalf("key in slot %d", k.Slot)
			case k.LastRotated.IsZero():
				t.Fatalf("key without a date: %+v", k)
			case k.LastRotated.Location().String() != "UTC":
				t.Fatalf("date not in UTC: %+v", k)
			}
			slotsOf[k.User] |= k.Slot
		}
		if len(slotsOf) > rep.Users {
			t.Fatalf("%d users with keys, %d users", len(slotsOf), rep.Users)
		}
	})
}
