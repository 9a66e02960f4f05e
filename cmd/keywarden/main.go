// Command keywarden runs keywarden's drills: offline against an emulated
// account (the default), or against a deployed stack with --aws.
//
//	keywarden drill [--json] [--only a,b] [--fault 'iam:*=throttle:0.2,5xx:0.05'] [--seed N] [--report PATH]
//	keywarden drill --aws --state-machine-arn ARN [--report PATH] [events/exposed-key.json …]
//	keywarden report [--format table|csv|json] [--at TIME] [--cdk-json cdk.json]
//	keywarden doctor [--stack Keywarden] [--region us-east-1] [--json]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/keywarden/keywarden/internal/drill"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/settings"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  keywarden drill [flags]          run the drill scenarios offline (no AWS account)
  keywarden report [flags]         the daily key-age run's decisions, without acting (your AWS credentials)
  keywarden reliability [--seeds N] [--only a,b] the offline fault matrix: scenarios × faults × seeds, invariants checked
  keywarden doctor [--stack S] [--region R] [--json]
                                   check a deployed stack for silent misconfigurations (your AWS credentials)
  keywarden drill --aws [flags] [events/FILE.json ...]
                                   send the payloads to a deployed keywarden and follow its executions
run 'keywarden drill -h' for the flags`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "report" {
		return report(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "reliability" {
		return reliability(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "doctor" {
		return doctor(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "drill" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("drill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		asJSON   = fs.Bool("json", false, "print machine-readable JSON instead of the timeline")
		only     = fs.String("only", "", "comma-separated scenarios to run (default all: "+strings.Join(drill.ScenarioNames(), ", ")+")")
		root     = fs.String("root", ".", "the keywarden checkout (events/, .tools/, cdk.out/)")
		template = fs.String("template", "", "synthesized template whose rule patterns are used (default cdk.out/Keywarden.template.json)")
		seed     = fs.Uint64("seed", 1, "seed for injected faults, so a run repeats")
		onAWS    = fs.Bool("aws", false, "drill a deployed stack with your AWS credentials instead of offline")
		machine  = fs.String("state-machine-arn", "", "with --aws: the stack's StateMachineArn output")
		wait     = fs.Duration("wait", 5*time.Minute, "with --aws: how long to wait for each payload's executions")
		logs     = fs.Bool("logs", false, "offline: show the handlers' JSON logs on stderr")
		report   = fs.String("report", "build/drill-report.html", "also write the HTML report (graph, timeline, inputs and outputs) here, under --root unless absolute; '' for none")
	)
	faults := faultFlag{}
	fs.Var(faults, "fault", "inject a fault into every scenario, repeatable: 'service:Operation=throttle:0.2,5xx:0.05,latency:20ms,error:AccessDenied' (service:* for all operations)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	// The handlers log with slog; offline they run in this process.
	logTo := io.Discard
	if *logs {
		logTo = stderr
	}
	slog.SetDefault(slog.New(slog.NewJSONHandler(logTo, nil)))
	var (
		outcomes []drill.Outcome
		err      error
	)
	if *onAWS {
		files := fs.Args()
		if len(files) == 0 {
			files = []string{"events/exposed-key.json"}
		}
		cfg, cerr := config.LoadDefaultConfig(ctx)
		if cerr != nil {
			fmt.Fprintf(stderr, "keywarden: AWS configuration: %v\n", cerr)
			return 1
		}
		outcomes, err = drill.RunAWS(ctx, cfg, drill.AWSOptions{Root: *root, StateMachineArn: *machine, Files: files, Wait: *wait})
	} else {
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "keywarden: unexpected arguments %v (offline scenarios are chosen with --only)\n", fs.Args())
			return 2
		}
		outcomes, err = drill.Run(ctx, drill.Options{Root: *root, Template: *template, Only: settings.SplitList(*only), Faults: faults, Seed: *seed})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(outcomes)
	} else {
		drill.WriteText(stdout, outcomes)
	}
	if *report != "" && len(outcomes) > 0 {
		path := *report
		if !filepath.IsAbs(path) {
			path = filepath.Join(*root, path)
		}
		// Written whatever the outcome: a failed drill is when it is read.
		if rerr := writeReport(path, *root, outcomes); rerr != nil {
			fmt.Fprintf(stderr, "keywarden: drill report: %v\n", rerr)
			return 1
		}
		// stdout stays pure JSON with --json.
		to := stdout
		if *asJSON {
			to = stderr
		}
		fmt.Fprintf(to, "drill report: %s\n", path)
	}
	if err != nil {
		fmt.Fprintf(stderr, "keywarden: drill: %v\n", err)
		return 1
	}
	for _, oc := range outcomes {
		if !oc.Passed {
			fmt.Fprintf(stderr, "keywarden: %v: %s\n", drill.ErrFailed, oc.Scenario)
			return 1
		}
	}
	return 0
}

// writeReport writes the drill's HTML report to path.
func writeReport(path, root string, outcomes []drill.Outcome) error {
	r, err := drill.LoadReport(root, "keywarden drill", outcomes, time.Now())
	if err != nil {
		return err
	}
	return drill.WriteReportFile(path, r)
}

// faultFlag parses --fault service:Op=throttle:0.2,5xx:0.05,latency:20ms,error:Code.
type faultFlag map[string]localaws.Fault

func (f faultFlag) String() string { return "" }

func (f faultFlag) Set(v string) error {
	key, spec, ok := strings.Cut(v, "=")
	if !ok || !strings.Contains(key, ":") {
		return errors.New("want service:Operation=kind:value,… e.g. iam:*=throttle:0.2")
	}
	var fault localaws.Fault
	for _, part := range strings.Split(spec, ",") {
		kind, val, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return fmt.Errorf("%q: want kind:value", part)
		}
		var err error
		switch kind {
		case "throttle":
			fault.ThrottleRate, err = strconv.ParseFloat(val, 64)
		case "5xx":
			fault.ServerErrorRate, err = strconv.ParseFloat(val, 64)
		case "latency":
			fault.Latency, err = time.ParseDuration(val)
		case "error":
			fault.ErrorCode = val
		default:
			return fmt.Errorf("%q: kind is one of throttle, 5xx, latency, error", kind)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", part, err)
		}
	}
	f[key] = fault
	return nil
}

// reliability runs the fault matrix and prints it as Markdown; it fails when
// an invariant did not hold on some run.
func reliability(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reliability", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seeds := fs.Int("seeds", 50, "seeds per scenario under transient faults")
	root := fs.String("root", ".", "the keywarden checkout")
	only := fs.String("only", "", "comma-separated scenarios of the matrix to run (default all)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	start := time.Now()
	rows, err := drill.Reliability(ctx, drill.Options{Root: *root, Only: settings.SplitList(*only)}, *seeds, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "keywarden: reliability: %v\n", err)
		return 1
	}
	drill.WriteMatrix(stdout, rows)
	fmt.Fprintf(stdout, "\n%d seeds, %s\n", *seeds, time.Since(start).Round(time.Second))
	for _, r := range rows {
		if r.Held != r.Runs {
			return 1
		}
	}
	return 0
}
