package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/credreport"
	"github.com/keywarden/keywarden/internal/keyage"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/settings"
)

// report prints the daily run's decisions without acting: the credential
// report and the per-user calls, with the caller's credentials (or
// AWS_ENDPOINT_URL's emulator), judged by the policy in cdk.json.
func report(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "table", "table, csv or json")
	cdkJSON := fs.String("cdk-json", "cdk.json", "where the keyAge policy is read from (its context)")
	at := fs.String("at", "", "judge ages as of this RFC 3339 time instead of now, e.g. to see a run 90 days ahead")
	table := fs.String("ledger", "", "the deployed ledger table (the stack's LedgerTableName output): judge with the notices, "+
		"deactivations and rotations it recorded; without it every key is judged as if nothing had been sent or done")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *format != "table" && *format != "csv" && *format != "json" {
		fmt.Fprintf(stderr, "keywarden: report: --format %q: want table, csv or json\n", *format)
		return 2
	}
	now := time.Now().UTC()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			fmt.Fprintf(stderr, "keywarden: report: --at %q is not an RFC 3339 time\n", *at)
			return 2
		}
		now = t
	}
	s, err := settingsFrom(*cdkJSON)
	if err != nil {
		fmt.Fprintf(stderr, "keywarden: report: %v\n", err)
		return 1
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "keywarden: report: AWS configuration: %v\n", err)
		return 1
	}
	var hist keyage.Store
	if *table != "" {
		l, err := ledger.New(dynamodb.NewFromConfig(cfg), *table, ledger.Options{})
		if err != nil {
			fmt.Fprintf(stderr, "keywarden: report: --ledger: %v\n", err)
			return 2
		}
		// Real notices' history, as an enforcing run judges.
		hist = keyage.LedgerStore{L: l}
	}
	ev, err := keyage.Evaluate(ctx, iam.NewFromConfig(cfg), hist, s.KeyAge, now, credreport.FetchOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "keywarden: report: %v\n", err)
		return 1
	}
	sum := keyage.Summarise(ev, s.KeyAge)
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			Summary   keyage.ScanResult `json:"summary"`
			Decisions []policy.Decision `json:"decisions"`
		}{sum, ev.Decisions})
	case "csv":
		w := csv.NewWriter(stdout)
		_ = w.Write([]string{"user", "key_id", "age_days", "stage", "action", "notice", "deadline", "user_type", "notify_only", "contact", "exempt", "problem", "reasons"})
		for _, d := range ev.Decisions {
			_ = w.Write([]string{d.User, d.KeyID, strconv.Itoa(d.AgeDays), string(d.Stage), string(d.Action), string(d.Notice), date(d.Deadline),
				d.UserType, strconv.FormatBool(d.NotifyOnly), d.Contact, strconv.FormatBool(d.Exempt), problem(d), strings.Join(d.Reasons, "; ")})
		}
		w.Flush()
	default:
		fmt.Fprintf(stdout, "key ages as of %s: %d users, %d keys; policy from %s (no key is changed)\n", now.Format("2006-01-02 15:04 UTC"), ev.Users, ev.Keys, *cdkJSON)
		for _, c := range sum.Counts {
			fmt.Fprintf(stdout, "  %-12s %d\n", c.Stage, c.Count)
		}
		fmt.Fprintf(stdout, "  %-12s %d\n\n", "exempt", sum.Exempt)
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tKEY\tAGE\tSTAGE\tTHIS RUN\tDEADLINE\tCONTACT\tNOTE")
		for _, d := range ev.Decisions {
			run := string(d.Action)
			if d.Notice != "" {
				run += " + notice " + string(d.Notice)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", d.User, d.KeyID, d.AgeDays, d.Stage, run, date(d.Deadline), orDash(d.Contact), problem(d))
		}
		_ = tw.Flush()
	}
	return 0
}

func problem(d policy.Decision) string {
	switch {
	case d.Problem != "":
		return d.Problem
	case d.ExemptionProblem != "":
		return "exemption: " + d.ExemptionProblem
	case d.Exempt:
		return "exempt until " + date(d.ExemptUntil) + ": " + d.ExemptReason
	case d.NotifyOnly:
		return "notify only"
	}
	return ""
}

func date(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// settingsFrom reads the settings from a cdk.json's context, validated as
// at synth time.
func settingsFrom(path string) (settings.Settings, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return settings.Settings{}, fmt.Errorf("read the settings: %w", err)
	}
	var file struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		return settings.Settings{}, fmt.Errorf("%s: %w", path, err)
	}
	return settings.FromContext(func(k string) any { return file.Context[k] })
}
