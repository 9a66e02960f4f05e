package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/drill"
)

func TestDrillJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"drill", "--root", "../..", "--json", "--only", "root-key", "--report", ""}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var outcomes []drill.Outcome
	if err := json.Unmarshal(out.Bytes(), &outcomes); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out.String())
	}
	if len(outcomes) != 1 || !outcomes[0].Passed || len(outcomes[0].Executions) != 1 || len(outcomes[0].Alerts) != 1 {
		t.Errorf("outcome %+v", outcomes)
	}
}

// The report is written where --report says, its path told on stderr when
// stdout carries the JSON.
func TestDrillReportFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r", "report.html")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"drill", "--root", "../..", "--json", "--only", "root-key", "--report", path}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !json.Valid(out.Bytes()) {
		t.Errorf("stdout is not only the JSON: %s", out.String())
	}
	if want := "drill report: " + path; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q does not say %q", errOut.String(), want)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<!DOCTYPE html>", `data-scenario="root-key"`, "AlertRootKey"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the report has no %q", want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{nil, 2, "usage"},
		{[]string{"deploy"}, 2, "usage"},
		{[]string{"drill", "--no-such-flag"}, 2, "no-such-flag"},
		{[]string{"drill", "--root", "../..", "--only", "nope"}, 1, "no scenario named nope"},
		{[]string{"drill", "--fault", "iam"}, 2, "service:Operation"},
		{[]string{"drill", "--aws", "--root", "../.."}, 1, ""},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(errOut.String(), tc.says) {
			t.Errorf("%v: exit %d, stderr %q; want %d saying %q", tc.args, code, errOut.String(), tc.code, tc.says)
		}
	}
}

func TestFaultFlag(t *testing.T) {
	f := faultFlag{}
	if err := f.Set("iam:*=throttle:0.2,5xx:0.05,latency:20ms"); err != nil {
		t.Fatal(err)
	}
	got := f["iam:*"]
	if got.ThrottleRate != 0.2 || got.ServerErrorRate != 0.05 || got.Latency != 20*time.Millisecond {
		t.Errorf("%+v", got)
	}
	if err := f.Set("sns:Publish=error:AccessDenied"); err != nil || f["sns:Publish"].ErrorCode != "AccessDenied" {
		t.Errorf("%v %+v", err, f["sns:Publish"])
	}
	for _, bad := range []string{"iam:*=throttle", "iam:*=melt:1", "iam:*=throttle:lots", "iam"} {
		if err := f.Set(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
