package inventory

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/settings"
)

// BenchmarkInventory1000Accounts reads, without the cache, an organization
// of 1,000 members in ten OUs under one configured OU, through the real SDK
// client, with no latency and with 20 ms per Organizations call. It reports
// the Organizations calls of one read (calls/op); ns/op is the read's time.
// Run it with `go test -run '^$' -bench Inventory1000 ./internal/inventory/`.
func BenchmarkInventory1000Accounts(b *testing.B) {
	// One log line per read would drown the results.
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.DiscardHandler))
	o, err := localaws.NewOrganization(localaws.OrganizationOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = o.Close() })
	parent, err := o.AddOU(o.RootID(), "workloads")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := o.AddAccount(localaws.MemberAccount{ID: hubAccount}); err != nil {
		b.Fatal(err)
	}
	if err := o.RegisterDelegatedAdministrator(hubAccount); err != nil {
		b.Fatal(err)
	}
	for u := range 10 {
		unit, err := o.AddOU(parent, fmt.Sprintf("team-%d", u))
		if err != nil {
			b.Fatal(err)
		}
		for i := range 100 {
			a := localaws.MemberAccount{ID: fmt.Sprintf("5%03d%08d", u, i), Parent: unit}
			if i%50 == 0 {
				a.Tags = map[string]string{settings.DefaultOptOutTag: "true"}
			}
			if _, err := o.AddAccount(a); err != nil {
				b.Fatal(err)
			}
		}
	}
	org := settings.Organization{OrganizationID: o.ID(), OrganizationalUnits: []string{parent}, OptOutTag: settings.DefaultOptOutTag}
	client := organizations.NewFromConfig(o.Account(hubAccount).SDKConfig())

	for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%s", latency), func(b *testing.B) {
			if err := o.Account(hubAccount).SetFault("organizations:*", localaws.Fault{Latency: latency}); err != nil {
				b.Fatal(err)
			}
			calls := 0
			for b.Loop() {
				inv, err := New(client, org, Options{})
				if err != nil {
					b.Fatal(err)
				}
				s, err := inv.Accounts(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if len(s.Accounts) != 980 {
					b.Fatalf("%d accounts in scope, want 980", len(s.Accounts))
				}
				calls = s.Calls
			}
			b.ReportMetric(float64(calls), "calls/op")
		})
	}
}
