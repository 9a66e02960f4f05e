package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/step"
)

// reader is one read of the organization.
type reader struct {
	inv   *Inventory
	calls atomic.Int64
}

// read reads the organization once, without the cache.
//
// Calls: DescribeOrganization; ListAccounts (one per page); ListRoots if a
// root is configured, else for every OU under the configured ones
// ListAccountsForParent and ListOrganizationalUnitsForParent (one per
// page each); then ListTagsForResource for each account still in scope
// before its tags, since Organizations reads one account's tags per call.
func (inv *Inventory) read(ctx context.Context) (*Snapshot, error) {
	start := inv.opts.Now()
	r := &reader{inv: inv}

	var org *types.Organization
	err := r.call(ctx, "DescribeOrganization", func(ctx context.Context) error {
		out, err := inv.api.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
		if err == nil {
			org = out.Organization
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if org == nil {
		org = &types.Organization{}
	}
	if got := aws.ToString(org.Id); got != inv.scope.organizationID {
		return nil, step.Errorf(step.InvalidSetting, "%w: organizationId is %s, but the hub's organization is %q; the hub acts in no other organization",
			ErrWrongOrganization, inv.scope.organizationID, got)
	}
	management := aws.ToString(org.MasterAccountId)

	all, err := r.accounts(ctx, "ListAccounts", func(ctx context.Context, token *string) ([]types.Account, *string, error) {
		out, err := inv.api.ListAccounts(ctx, &organizations.ListAccountsInput{NextToken: token, MaxResults: aws.Int32(inv.opts.PageSize)})
		if err != nil {
			return nil, nil, err
		}
		return out.Accounts, out.NextToken, nil
	})
	if err != nil {
		return nil, err
	}
	inUnits, everyAccount, err := r.underUnits(ctx)
	if err != nil {
		return nil, err
	}

	s := &Snapshot{OrganizationID: inv.scope.organizationID, ManagementAccount: management, ReadAt: start}
	var candidates []Account
	for _, a := range all {
		id, name := aws.ToString(a.Id), aws.ToString(a.Name)
		reason := Reason("")
		switch {
		case id == management:
			reason = ReasonManagement
		case !active(a):
			reason = ReasonSuspended
		case inv.scope.excluded[id]:
			reason = ReasonExcluded
		case !everyAccount && !inUnits[id]:
			reason = ReasonOutsideOUs
		}
		if reason != "" {
			s.Excluded = append(s.Excluded, Excluded{ID: id, Name: name, Reason: reason})
			continue
		}
		candidates = append(candidates, Account{ID: id, Name: name})
	}
	optedOut, err := r.optedOut(ctx, candidates)
	if err != nil {
		return nil, err
	}
	for i, a := range candidates {
		if optedOut[i] {
			s.Excluded = append(s.Excluded, Excluded{ID: a.ID, Name: a.Name, Reason: ReasonOptedOut})
		} else {
			s.Accounts = append(s.Accounts, a)
		}
	}
	slices.SortFunc(s.Accounts, func(a, b Account) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(s.Excluded, func(a, b Excluded) int { return strings.Compare(a.ID, b.ID) })
	s.Calls = int(r.calls.Load())
	s.index()
	slog.InfoContext(ctx, "organization inventory read", "organization", s.OrganizationID,
		"inScope", len(s.Accounts), "excluded", len(s.Excluded), "calls", s.Calls,
		"duration", inv.opts.Now().Sub(start).String())
	return s, nil
}

// active reads an account's lifecycle State, or the deprecated Status
// where State is absent.
func active(a types.Account) bool {
	if a.State != "" {
		return a.State == types.AccountStateActive
	}
	return a.Status == types.AccountStatusActive
}

// underUnits lists the accounts under the configured OUs, through nested
// OUs; everyAccount is true when the organization's root is configured.
func (r *reader) underUnits(ctx context.Context) (ids map[string]bool, everyAccount bool, err error) {
	inv := r.inv
	var units []string
	var roots []string
	for _, u := range inv.scope.units {
		if strings.HasPrefix(u, "r-") {
			roots = append(roots, u)
		} else {
			units = append(units, u)
		}
	}
	if len(roots) > 0 {
		var actual []types.Root
		err := r.pages(ctx, "ListRoots", func(ctx context.Context, token *string) (*string, error) {
			out, err := inv.api.ListRoots(ctx, &organizations.ListRootsInput{NextToken: token, MaxResults: aws.Int32(inv.opts.PageSize)})
			if err != nil {
				return nil, err
			}
			actual = append(actual, out.Roots...)
			return out.NextToken, nil
		})
		if err != nil {
			return nil, false, err
		}
		for _, want := range roots {
			if !slices.ContainsFunc(actual, func(root types.Root) bool { return aws.ToString(root.Id) == want }) {
				return nil, false, step.Errorf(step.InvalidSetting, "%w: organizationalUnits has %s, which is not the organization's root", ErrUnknownOU, want)
			}
		}
		return nil, true, nil
	}

	ids = map[string]bool{}
	seen := map[string]bool{}
	for len(units) > 0 {
		unit := units[0]
		units = units[1:]
		if seen[unit] {
			continue // configured twice, or nested in another configured OU
		}
		seen[unit] = true
		accounts, err := r.accounts(ctx, "ListAccountsForParent", func(ctx context.Context, token *string) ([]types.Account, *string, error) {
			out, err := inv.api.ListAccountsForParent(ctx, &organizations.ListAccountsForParentInput{
				ParentId: aws.String(unit), NextToken: token, MaxResults: aws.Int32(inv.opts.PageSize)})
			if err != nil {
				return nil, nil, err
			}
			return out.Accounts, out.NextToken, nil
		})
		if err != nil {
			return nil, false, unknownUnit(unit, err)
		}
		for _, a := range accounts {
			ids[aws.ToString(a.Id)] = true
		}
		err = r.pages(ctx, "ListOrganizationalUnitsForParent", func(ctx context.Context, token *string) (*string, error) {
			out, err := inv.api.ListOrganizationalUnitsForParent(ctx, &organizations.ListOrganizationalUnitsForParentInput{
				ParentId: aws.String(unit), NextToken: token, MaxResults: aws.Int32(inv.opts.PageSize)})
			if err != nil {
				return nil, err
			}
			for _, child := range out.OrganizationalUnits {
				units = append(units, aws.ToString(child.Id))
			}
			return out.NextToken, nil
		})
		if err != nil {
			return nil, false, unknownUnit(unit, err)
		}
	}
	return ids, false, nil
}

// unknownUnit names a configured OU that Organizations does not know.
func unknownUnit(unit string, err error) error {
	var notFound *types.ParentNotFoundException
	if errors.As(err, &notFound) {
		return step.Errorf(step.InvalidSetting, "%w: organizationalUnits has %s, which is not an OU of the organization: %w", ErrUnknownOU, unit, err)
	}
	return err
}

// optedOut reads each candidate's tags, TagReaders at a time, and reports
// which carry optOutTag = true.
func (r *reader) optedOut(ctx context.Context, candidates []Account) ([]bool, error) {
	out := make([]bool, len(candidates))
	if r.inv.scope.optOutTag == "" || len(candidates) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(r.inv.opts.TagReaders, len(candidates)) {
		wg.Go(func() {
			for i := range next {
				on, err := r.optOutTag(ctx, candidates[i].ID)
				if err != nil {
					cancel(err)
					continue
				}
				out[i] = on
			}
		})
	}
feed:
	for i := range candidates {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// optOutTag reports whether account's optOutTag tag is true, as
// policy.TagValue reads a tag value.
func (r *reader) optOutTag(ctx context.Context, account string) (bool, error) {
	on := false
	err := r.pages(ctx, "ListTagsForResource", func(ctx context.Context, token *string) (*string, error) {
		out, err := r.inv.api.ListTagsForResource(ctx, &organizations.ListTagsForResourceInput{ResourceId: aws.String(account), NextToken: token})
		if err != nil {
			return nil, err
		}
		for _, t := range out.Tags {
			if aws.ToString(t.Key) == r.inv.scope.optOutTag && policy.TagValue(aws.ToString(t.Value)) == "true" {
				on = true
			}
		}
		return out.NextToken, nil
	})
	if err != nil {
		return false, fmt.Errorf("tags of account %s: %w", account, err)
	}
	return on, nil
}

// accounts collects every page of an account listing.
func (r *reader) accounts(ctx context.Context, action string,
	page func(ctx context.Context, token *string) ([]types.Account, *string, error)) ([]types.Account, error) {
	var all []types.Account
	err := r.pages(ctx, action, func(ctx context.Context, token *string) (*string, error) {
		accounts, next, err := page(ctx, token)
		all = append(all, accounts...)
		return next, err
	})
	return all, err
}

// pages calls page until it returns no next token, each page with retries.
func (r *reader) pages(ctx context.Context, action string, page func(ctx context.Context, token *string) (*string, error)) error {
	var token *string
	for {
		var next *string
		err := r.call(ctx, action, func(ctx context.Context) error {
			var err error
			next, err = page(ctx, token)
			return err
		})
		if err != nil {
			return err
		}
		if aws.ToString(next) == "" {
			return nil
		}
		token = next
	}
}

// call runs one Organizations operation, again after a capped, jittered
// exponential wait while it is throttled or fails transiently, up to
// MaxAttempts attempts. The SDK has already retried inside each attempt;
// these waits are longer, for an organization-wide rate limit that a few
// hundred milliseconds do not clear.
func (r *reader) call(ctx context.Context, action string, fn func(ctx context.Context) error) error {
	opts := r.inv.opts
	delay := opts.FirstDelay
	for attempt := 1; ; attempt++ {
		r.calls.Add(1)
		err := fn(ctx)
		if err == nil {
			return nil
		}
		var denied *types.AccessDeniedException
		var notInUse *types.AWSOrganizationsNotInUseException
		switch name := step.Name(err); {
		case ctx.Err() != nil:
			return step.Classify(fmt.Errorf("organizations:%s: %w", action, err))
		case errors.As(err, &denied):
			return step.Errorf(step.AccessDenied, "%w: organizations:%s was refused; the hub must be the organization's management account "+
				"or a delegated administrator for AWS Organizations, with organizations:%s allowed: %w", ErrAccessDenied, action, action, err)
		case errors.As(err, &notInUse):
			return step.Errorf(step.InvalidSetting, "%w: organizations:%s: the hub's account is in no organization, but organizationId is %s: %w",
				ErrWrongOrganization, action, r.inv.scope.organizationID, err)
		case name != step.Throttled && name != step.Transient:
			return step.Classify(fmt.Errorf("organizations:%s: %w", action, err))
		case attempt >= opts.MaxAttempts:
			return step.Errorf(name, "%w: organizations:%s failed %d times (%s, each after the SDK's own retries): %w",
				ErrUnavailable, action, attempt, strings.ToLower(name), err)
		}
		wait := jitter(delay)
		slog.DebugContext(ctx, "organizations call failed; waiting", "action", action, "attempt", attempt, "wait", wait.String(), "error", err.Error())
		if err := opts.Sleep(ctx, wait); err != nil {
			return step.Classify(fmt.Errorf("wait to retry organizations:%s: %w", action, err))
		}
		delay = min(2*delay, opts.MaxDelay)
	}
}

// jitter draws a wait in the upper half of d, so that Lambdas throttled
// together do not all come back at once, and none comes back too soon.
func jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + rand.N(d-half+1)
}
