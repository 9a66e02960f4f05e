package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/config"

	checkup "github.com/keywarden/keywarden/internal/doctor"
)

// doctor checks a deployed stack for silent misconfigurations, with the
// caller's AWS credentials (the SDK's default chain; AWS_ENDPOINT_URL is
// honoured as the SDK honours it). Exit 0 when nothing fails (warnings
// allowed), 1 when a check fails or AWS cannot be reached, 2 for bad flags.
func doctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		stack  = fs.String("stack", checkup.DefaultStack, "the deployed stack's name")
		region = fs.String("region", "", "the stack's region (default: the AWS SDK's, e.g. AWS_REGION)")
		asJSON = fs.Bool("json", false, "print the results as JSON")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "keywarden doctor: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var opts []func(*config.LoadOptions) error
	if *region != "" {
		opts = append(opts, config.WithRegion(*region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "keywarden doctor: load AWS configuration: %v\n", err)
		return 1
	}
	if cfg.Region == "" {
		fmt.Fprintln(stderr, "keywarden doctor: no region: pass --region us-east-1 or set AWS_REGION")
		return 2
	}
	// A hub's check reads the organization through internal/inventory,
	// which logs each read; the report already says what it found.
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	rep := checkup.Doctor{Clients: checkup.NewClients(cfg), Stack: *stack, Region: cfg.Region}.Run(ctx)
	write := checkup.WriteText
	if *asJSON {
		write = checkup.WriteJSON
	}
	if err := write(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "keywarden doctor: write the report: %v\n", err)
		return 1
	}
	if rep.Failed() {
		return 1
	}
	return 0
}
