package member

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

// ReasonNotThisAccount is why an account is out of scope in account mode.
const ReasonNotThisAccount inventory.Reason = "not the account this deployment acts in"

// Accounts is how a step of organization mode judges and reaches an
// account: Acting, or a test's stand-in.
type Accounts interface {
	Scope(ctx context.Context, account string) (inventory.Decision, error)
	Config(ctx context.Context, account string, duty Duty, execution string) (aws.Config, error)
}

var _ Accounts = (*Acting)(nil)

// Acting is how a step reaches the account an event names. In account
// mode that is the function's own account, with the function's own
// config. In organization mode it is a member account that the
// organization's inventory puts in scope, through the member role of the
// step's duty; an account out of scope gets no AssumeRole.
//
// Build one per function at cold start (the inventory's cache lives in
// it); Config assumes anew on every call, so call it once per step.
type Acting struct {
	// Base is the function's own config.
	Base aws.Config
	// Own is the account the deployment runs in (the hub in organization
	// mode). Empty in account mode for functions that are not told it:
	// they act in their own account whatever an event says, as before.
	Own string
	// Inventory is nil in account mode.
	Inventory *inventory.Inventory
}

// NewActing reads the function's mode and scope from env (settings.
// EnvMode, EnvOrganization, EnvAccount). Organization mode needs
// EnvAccount, and reads the organization with base's credentials.
func NewActing(base aws.Config, env settings.Lookup) (*Acting, error) {
	scope, org, err := env.OrganizationScope()
	if err != nil {
		return nil, err
	}
	own, _ := env(settings.EnvAccount)
	a := &Acting{Base: base, Own: own}
	if !org {
		return a, nil
	}
	if !accountPattern.MatchString(own) {
		return nil, fmt.Errorf("%w: organization mode needs environment variable %s, the hub's account id; it is %q",
			settings.ErrInvalid, settings.EnvAccount, own)
	}
	a.Inventory, err = inventory.New(organizations.NewFromConfig(base), scope.Organization(), inventory.Options{})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Organization reports whether the function runs in organization mode.
func (a *Acting) Organization() bool { return a.Inventory != nil }

// Scope says whether a step may act in account, and names the account as
// the organization does. In account mode the only account in scope is
// Own (every account when Own is unset). Errors are the inventory's,
// named for the state machine (Throttled, AccessDenied, …).
func (a *Acting) Scope(ctx context.Context, account string) (inventory.Decision, error) {
	if a.Inventory == nil {
		if a.Own == "" || account == a.Own {
			return inventory.Decision{ID: account, InScope: true}, nil
		}
		return inventory.Decision{ID: account, Reason: ReasonNotThisAccount}, nil
	}
	d, err := a.Inventory.InScope(ctx, account)
	if err != nil {
		return d, step.Classify(fmt.Errorf("check account %s against the organization: %w", account, err))
	}
	return d, nil
}

// Config returns a config whose clients act in account as the member role
// of duty, its session named after execution (see Config): after Scope
// puts the account in scope, never before. An account out of scope is the
// step error AccountOutOfScope, with the reason. In account mode it is
// Base, for Own (or any account when Own is unset).
func (a *Acting) Config(ctx context.Context, account string, duty Duty, execution string) (aws.Config, error) {
	d, err := a.Scope(ctx, account)
	if err != nil {
		return aws.Config{}, err
	}
	if !d.InScope {
		return aws.Config{}, OutOfScope(d)
	}
	if a.Inventory == nil {
		return a.Base, nil
	}
	return Config(ctx, a.Base, account, duty, execution)
}

// Listed is the Accounts of a daily run's child: its account is an item
// of this execution's ListAccounts, which read the inventory moments
// before, so the child assumes its role without reading the organization
// again. Each new Lambda instance would otherwise read the whole
// inventory: 1,103 Organizations calls for 1,000 accounts, some 442,000 a
// run at a parallelism of 200 (BENCHMARKS.md), which Organizations would
// throttle. The items cannot be forged: they are ListAccounts' result,
// and an execution's input only ever reaches RouteEvent.
func (a *Acting) Listed() Accounts { return listed{a} }

type listed struct{ a *Acting }

func (l listed) Scope(_ context.Context, account string) (inventory.Decision, error) {
	return inventory.Decision{ID: account, InScope: true}, nil
}

func (l listed) Config(ctx context.Context, account string, duty Duty, execution string) (aws.Config, error) {
	return Config(ctx, l.a.Base, account, duty, execution)
}

// RequireInScope is nil when account is in scope, else the step error
// AccountOutOfScope (or the inventory's error): for a step that writes
// something about an account (a record, a verdict) before, or without,
// acting in it.
func RequireInScope(ctx context.Context, a Accounts, account string) error {
	d, err := a.Scope(ctx, account)
	if err != nil {
		return err
	}
	if !d.InScope {
		return OutOfScope(d)
	}
	return nil
}

// OutOfScope is the step error for an account a step may not act in.
func OutOfScope(d inventory.Decision) error {
	return step.Errorf(step.AccountOutOfScope, "%s: keywarden made no call in it", d)
}

// Step makes a step's handler from handle, which gets a client of duty
// acting in the account target names for each input. In account mode that
// is one client, built here from Base, for every input: the finding step
// has already refused another account's key. In organization mode each
// input gets a client of its own session, assumed after the scope check
// (Config), so one invocation is one AssumeRole.
func Step[In, Out, C, O any](a *Acting, duty Duty, newClient func(aws.Config, ...func(*O)) C,
	target func(In) (account, execution string), handle func(context.Context, C, In) (Out, error)) func(context.Context, In) (Out, error) {
	if !a.Organization() {
		c := newClient(a.Base)
		return func(ctx context.Context, in In) (Out, error) { return handle(ctx, c, in) }
	}
	return StepIn(a, duty, newClient, target, handle)
}

// StepIn is Step's organization mode over any Accounts (Acting, or a
// test's stand-in): each input gets a client of its own session in the
// account target names, assumed after the scope check.
func StepIn[In, Out, C, O any](a Accounts, duty Duty, newClient func(aws.Config, ...func(*O)) C,
	target func(In) (account, execution string), handle func(context.Context, C, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		account, execution := target(in)
		cfg, err := a.Config(ctx, account, duty, execution)
		if err != nil {
			var zero Out
			return zero, err
		}
		return handle(ctx, newClient(cfg), in)
	}
}
