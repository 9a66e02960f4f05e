package inventory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/step"
)

func TestAccountsUnderNestedOUs(t *testing.T) {
	ctx := context.Background()
	to := newTestOrg(t)
	inv := mustNew(t, to, to.settings(to.workloads), Options{})

	s, err := inv.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// prod 20 + dev 15 + sandbox 5, less two opted out, one suspended, one excluded.
	if len(s.Accounts) != 36 {
		t.Errorf("%d accounts in scope, want 36: %v", len(s.Accounts), s.Accounts)
	}
	// The management account, the hub and the root's 4 are outside the OUs.
	if len(s.Excluded) != 10 {
		t.Errorf("%d excluded, want 10: %v", len(s.Excluded), s.Excluded)
	}
	if s.OrganizationID != to.org.ID() || s.ManagementAccount != management {
		t.Errorf("organization %s, management %s", s.OrganizationID, s.ManagementAccount)
	}

	for _, tc := range []struct {
		account, name string
		in            bool
		reason        Reason
	}{
		{prodID(0), "prod-00", false, ReasonOptedOut},       // "true"
		{prodID(1), "prod-01", false, ReasonOptedOut},       // " TRUE "
		{prodID(2), "prod-02", true, ""},                    // "false"
		{prodID(3), "prod-03", true, ""},                    // no opt-out tag
		{prodID(4), "prod-04", true, ""},                    // "yes" is not true
		{prodID(19), "prod-19", true, ""},                   // last of a full page
		{devID(0), "dev-00", false, ReasonSuspended},        // SUSPENDED
		{devID(1), "dev-01", true, ""},                      // dev is under workloads
		{sandboxID(0), "sandbox-00", false, ReasonExcluded}, // excludedAccounts
		{sandboxID(4), "sandbox-04", true, ""},              // two levels down
		{management, "management", false, ReasonManagement},
		{hubAccount, "security", false, ReasonOutsideOUs},
		{rootID(2), "root-02", false, ReasonOutsideOUs},
		{outsideAcct, "", false, ReasonNotInOrganization},
		{"999999999999", "", false, ReasonNotInOrganization},
		{"not-an-id", "", false, ReasonNotInOrganization},
	} {
		d, err := inv.InScope(ctx, tc.account)
		if err != nil {
			t.Fatalf("InScope(%s): %v", tc.account, err)
		}
		want := Decision{ID: tc.account, Name: tc.name, InScope: tc.in, Reason: tc.reason}
		if d != want {
			t.Errorf("InScope(%s) = %+v, want %+v", tc.account, d, want)
		}
	}
}

// TestCallsPerRead pins the Organizations calls of one read of 45 members
// in nested OUs with pages of 20, as the hub's server logged them.
func TestCallsPerRead(t *testing.T) {
	to := newTestOrg(t)
	inv := mustNew(t, to, to.settings(to.workloads), Options{PageSize: 20})
	s, err := inv.Accounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := callCounts(to.hub, 0)
	want := map[string]int{
		"DescribeOrganization": 1,
		"ListAccounts":         3, // 46 accounts: 20, 20, 6
		// workloads, prod (exactly 20: one page), dev, sandbox.
		"ListAccountsForParent":            4,
		"ListOrganizationalUnitsForParent": 4,
		// Every account in the OUs but the suspended and the excluded one.
		"ListTagsForResource": 38,
	}
	if !maps.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	if s.Calls != 50 {
		t.Errorf("Snapshot.Calls = %d, want 50", s.Calls)
	}
}

func TestAccountsUnderOneOU(t *testing.T) {
	to := newTestOrg(t)
	inv := mustNew(t, to, to.settings(to.dev), Options{PageSize: 7})
	s, err := inv.Accounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// dev 15 + sandbox 5, less dev-00 (suspended) and sandbox-00 (excluded).
	if len(s.Accounts) != 18 || s.Accounts[0].ID != devID(1) || s.Accounts[17].ID != sandboxID(4) {
		t.Errorf("accounts in scope: %v", s.Accounts)
	}
	if d := s.Decide(prodID(3)); d.InScope || d.Reason != ReasonOutsideOUs {
		t.Errorf("a prod account with only dev configured: %v", d)
	}
	got, _ := callCounts(to.hub, 0)
	// Pages of 7: 46 accounts in 7 pages, dev's 15 in 3, sandbox's 5 in 1.
	if got["ListAccounts"] != 7 || got["ListAccountsForParent"] != 4 || got["ListOrganizationalUnitsForParent"] != 2 {
		t.Errorf("calls %v", got)
	}
}

func TestAccountsUnderRoot(t *testing.T) {
	to := newTestOrg(t)
	inv := mustNew(t, to, to.settings(to.org.RootID()), Options{})
	s, err := inv.Accounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 45 members, less two opted out, one suspended, one excluded; the
	// management account is out, the hub and the root's accounts in.
	if len(s.Accounts) != 41 || len(s.Excluded) != 5 {
		t.Errorf("%d in scope, %d excluded: %v", len(s.Accounts), len(s.Excluded), s.Excluded)
	}
	for _, id := range []string{hubAccount, rootID(0), prodID(2), sandboxID(1)} {
		if d := s.Decide(id); !d.InScope {
			t.Errorf("under the root: %v", d)
		}
	}
	if d := s.Decide(management); d.Reason != ReasonManagement || d.Name != "management" {
		t.Errorf("management account: %v", d)
	}
	got, _ := callCounts(to.hub, 0)
	// The root needs no walk: ListAccounts has every account.
	if got["ListRoots"] != 1 || got["ListAccountsForParent"] != 0 || got["ListOrganizationalUnitsForParent"] != 0 {
		t.Errorf("calls %v", got)
	}
}

func TestUnknownOU(t *testing.T) {
	to := newTestOrg(t)
	for _, unit := range []string{"ou-zzzz-zzzzzzzz", "r-zzzz"} {
		inv := mustNew(t, to, to.settings(to.prod, unit), Options{})
		_, err := inv.Accounts(context.Background())
		if !errors.Is(err, ErrUnknownOU) || step.Name(err) != step.InvalidSetting || !strings.Contains(err.Error(), unit) {
			t.Errorf("%s: %v (%s), want ErrUnknownOU naming it", unit, err, step.Name(err))
		}
	}
}

func TestWrongOrganization(t *testing.T) {
	to := newTestOrg(t)
	org := to.settings(to.workloads)
	org.OrganizationID = "o-aaaaaaaaaa"
	inv := mustNew(t, to, org, Options{})
	_, err := inv.InScope(context.Background(), prodID(3))
	if !errors.Is(err, ErrWrongOrganization) || step.Name(err) != step.InvalidSetting ||
		!strings.Contains(err.Error(), to.org.ID()) || !strings.Contains(err.Error(), "o-aaaaaaaaaa") {
		t.Fatalf("got %v (%s), want ErrWrongOrganization naming both ids", err, step.Name(err))
	}
	got, _ := callCounts(to.hub, 0)
	if len(got) != 1 || got["DescribeOrganization"] != 1 {
		t.Errorf("calls %v: nothing but DescribeOrganization before the check", got)
	}

	// A hub outside any organization is in the wrong one too.
	inv, err = New(to.client(outsideAcct), to.settings(to.workloads), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inv.Accounts(context.Background()); !errors.Is(err, ErrWrongOrganization) {
		t.Errorf("hub outside the organization: %v", err)
	}
}

func TestAccessDeniedFromPlainMember(t *testing.T) {
	to := newTestOrg(t)
	var sl sleeps
	inv, err := New(to.client(prodID(7)), to.settings(to.workloads), Options{Sleep: sl.sleep})
	if err != nil {
		t.Fatal(err)
	}
	_, err = inv.Accounts(context.Background())
	if !errors.Is(err, ErrAccessDenied) || step.Name(err) != step.AccessDenied {
		t.Fatalf("got %v (%s), want ErrAccessDenied", err, step.Name(err))
	}
	// Any member may describe the organization; listing is refused.
	for _, want := range []string{"organizations:ListAccounts", "management account", "delegated administrator"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if len(sl.all()) != 0 {
		t.Errorf("waited %v before a refusal; it is not retried", sl.all())
	}
}

func TestNewRefusesEmptyScope(t *testing.T) {
	to := newTestOrg(t)
	org := to.settings()
	if _, err := New(to.client(hubAccount), org, Options{}); step.Name(err) != step.InvalidSetting {
		t.Errorf("no OUs: %v", err)
	}
}

func TestDecisionString(t *testing.T) {
	for _, tc := range []struct {
		d    Decision
		want string
	}{
		{Decision{ID: "1", Name: "a", InScope: true}, "account 1 (a) is in scope"},
		{Decision{ID: "1", Name: "a", Reason: ReasonOptedOut}, "account 1 (a) is out of scope: " + string(ReasonOptedOut)},
		{Decision{ID: "1", Reason: ReasonNotInOrganization}, "account 1 is out of scope: " + string(ReasonNotInOrganization)},
	} {
		if got := fmt.Sprint(tc.d); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.d, got, tc.want)
		}
	}
}
