package settings

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Values of Mode.
const (
	// ModeAccount deploys keywarden in one account, acting in that
	// account only (the default).
	ModeAccount = "account"
	// ModeOrganization deploys a hub in a security account and a member
	// template to every account of the settings' OUs, and acts in them
	// through the member roles.
	ModeOrganization = "organization"
)

// Values of StackSetCallAs: who creates the member StackSet.
const (
	CallAsSelf           = "SELF"            // the hub is the management account
	CallAsDelegatedAdmin = "DELEGATED_ADMIN" // the hub is a delegated administrator for StackSets
)

// DefaultOptOutTag is the account tag whose value "true" leaves an account
// out of organization mode.
const DefaultOptOutTag = "keywarden:opt-out"

// MaxConcurrencyLimit bounds maxConcurrency. A Distributed Map accepts up
// to 10,000 concurrent child executions (Step Functions, "Map state in
// Distributed mode", MaxConcurrency); each of keywarden's children runs
// Lambdas, and Lambda's default quota of concurrent executions is 1,000
// per Region: a higher value would only turn into throttling.
const MaxConcurrencyLimit = 1000

// Organization are organization mode's settings. Every field but Mode
// means something in organization mode only; FromContext refuses them in
// account mode.
type Organization struct {
	// Mode is ModeAccount (default) or ModeOrganization.
	Mode string `json:"mode"`
	// OrganizationID is the organization (o-…) whose principals may put
	// events on the hub bus and assume the member roles.
	OrganizationID string `json:"organizationId"`
	// OrganizationalUnits are the OUs (ou-…) or the root (r-…) the member
	// template is deployed to, and kept deployed to as accounts join.
	OrganizationalUnits []string `json:"organizationalUnits"`
	// ExcludedAccounts are left out: no member stack, no action.
	ExcludedAccounts []string `json:"excludedAccounts"`
	// OptOutTag is the account tag whose value "true" leaves an account out.
	OptOutTag string `json:"optOutTag"`
	// MaxConcurrency is how many accounts are acted on in parallel.
	MaxConcurrency int `json:"maxConcurrency"`
	// ToleratedFailurePercentage is the share of accounts whose run may
	// fail before the daily organization run fails.
	ToleratedFailurePercentage int `json:"toleratedFailurePercentage"`
	// StackSetCallAs is CallAsSelf or CallAsDelegatedAdmin.
	StackSetCallAs string `json:"stackSetCallAs"`
}

func defaultOrganization() Organization {
	return Organization{
		Mode:                       ModeAccount,
		OptOutTag:                  DefaultOptOutTag,
		MaxConcurrency:             10,
		ToleratedFailurePercentage: 10,
		// The hub is meant to be a security account, not the
		// management account.
		StackSetCallAs: CallAsDelegatedAdmin,
	}
}

// organizationKeys are the cdk.json keys that mean something in
// organization mode only.
var organizationKeys = []string{"organizationId", "organizationalUnits", "excludedAccounts",
	"optOutTag", "maxConcurrency", "toleratedFailurePercentage", "stackSetCallAs"}

var (
	organizationIDPattern = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	// An OU id, or the organization's root.
	ouPattern      = regexp.MustCompile(`^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$`)
	accountPattern = regexp.MustCompile(`^\d{12}$`)
)

// previewKey was the preview's gate, set while organization mode was not
// finished (issue 12); a setting that still has it is told to drop it.
const previewKey = "organizationPreview"

// readOrganization reads the organization keys; in account mode, any of
// them given is an error saying so.
func (s *Settings) readOrganization(get func(key string) any, read func(key string, into func(v any) error)) []error {
	read("mode", func(v any) error { return asString(v, &s.Mode) })
	if get(previewKey) != nil {
		return []error{fmt.Errorf("%w: %s is set, but organization mode is no longer a preview: remove it", ErrInvalid, previewKey)}
	}
	if s.Mode != ModeAccount && s.Mode != ModeOrganization {
		return nil // Validate names the mode
	}
	if s.Mode == ModeAccount {
		var errs []error
		for _, k := range organizationKeys {
			if get(k) != nil {
				errs = append(errs, fmt.Errorf("%w: %s is set, but mode is %q: %s means something in organization mode only; "+
					"remove it, or set mode to %q", ErrInvalid, k, s.Mode, k, ModeOrganization))
			}
		}
		return errs
	}
	read("organizationId", func(v any) error { return asString(v, &s.OrganizationID) })
	read("organizationalUnits", func(v any) error { return asStrings(v, &s.OrganizationalUnits) })
	read("excludedAccounts", func(v any) error { return asStrings(v, &s.ExcludedAccounts) })
	read("optOutTag", func(v any) error { return asString(v, &s.OptOutTag) })
	read("maxConcurrency", func(v any) error { return asInt(v, &s.MaxConcurrency) })
	read("toleratedFailurePercentage", func(v any) error { return asInt(v, &s.ToleratedFailurePercentage) })
	read("stackSetCallAs", func(v any) error { return asString(v, &s.StackSetCallAs) })
	return nil
}

// validateOrganization checks the mode and, in organization mode, every
// organization setting and the gate.
func (s Settings) validateOrganization(bad func(format string, args ...any)) {
	switch s.Mode {
	case ModeAccount:
		// Values set on the struct (not through FromContext, which
		// reports the keys) that mean nothing in this mode.
		if s.OrganizationID != "" || len(s.OrganizationalUnits) > 0 || len(s.ExcludedAccounts) > 0 {
			bad("mode is %q, but organization settings are set; remove them, or set mode to %q", ModeAccount, ModeOrganization)
		}
		return
	case ModeOrganization:
	default:
		bad("mode is %q; use %q (one account, the default) or %q (a hub for an AWS Organization)", s.Mode, ModeAccount, ModeOrganization)
		return
	}
	if !organizationIDPattern.MatchString(s.OrganizationID) {
		bad("organizationId is %q; organization mode needs the organization's id, such as o-a1b2c3d4e5 (aws organizations describe-organization)", s.OrganizationID)
	}
	if len(s.OrganizationalUnits) == 0 {
		bad("organizationalUnits is empty; organization mode needs at least one OU id (ou-…) or the root id (r-…) to deploy the member template to")
	}
	for _, ou := range s.OrganizationalUnits {
		if !ouPattern.MatchString(ou) {
			bad("organizationalUnits has %q, which is neither an OU id such as ou-ab12-cd34ef56 nor a root id such as r-ab12", ou)
		}
	}
	for _, a := range s.ExcludedAccounts {
		if !accountPattern.MatchString(a) {
			bad("excludedAccounts has %q, which is not a 12-digit account id", a)
		}
	}
	if s.OptOutTag == "" || len(s.OptOutTag) > 128 || strings.HasPrefix(strings.ToLower(s.OptOutTag), "aws:") {
		bad("optOutTag is %q; use an account tag key of 1 to 128 characters not starting with aws:, such as %q", s.OptOutTag, DefaultOptOutTag)
	}
	if s.MaxConcurrency < 1 || s.MaxConcurrency > MaxConcurrencyLimit {
		bad("maxConcurrency is %d; use 1 to %d accounts acted on in parallel (Lambda's default concurrency quota is 1,000 per Region)",
			s.MaxConcurrency, MaxConcurrencyLimit)
	}
	if s.ToleratedFailurePercentage < 0 || s.ToleratedFailurePercentage > 100 {
		bad("toleratedFailurePercentage is %d; use 0 to 100 (the share of accounts whose daily run may fail before the organization run fails)",
			s.ToleratedFailurePercentage)
	}
	if s.StackSetCallAs != CallAsSelf && s.StackSetCallAs != CallAsDelegatedAdmin {
		bad("stackSetCallAs is %q; use %q (the hub is the management account) or %q (the hub is a delegated administrator for StackSets)",
			s.StackSetCallAs, CallAsSelf, CallAsDelegatedAdmin)
	}
	if s.RevokeWith != RevokeAttachedPolicy {
		bad("revokeWith is %q, but organization mode needs %q: %q lets the revoke role write any inline policy, which is "+
			"administrator-equivalent, and across an organization would make the hub an administrator of every member account",
			s.RevokeWith, RevokeAttachedPolicy, s.RevokeWith)
	}
}

// Scope is what a hub function needs to judge whether it may act in an
// account: the organization and the settings that leave accounts out. The
// stack hands it to the functions as JSON in EnvOrganization.
type Scope struct {
	OrganizationID      string   `json:"organizationId"`
	OrganizationalUnits []string `json:"organizationalUnits"`
	ExcludedAccounts    []string `json:"excludedAccounts,omitempty"`
	OptOutTag           string   `json:"optOutTag"`
}

// Scope returns the settings' scope.
func (o Organization) Scope() Scope {
	return Scope{OrganizationID: o.OrganizationID, OrganizationalUnits: o.OrganizationalUnits,
		ExcludedAccounts: o.ExcludedAccounts, OptOutTag: o.OptOutTag}
}

// Organization is the scope as Organization settings, for the inventory.
func (s Scope) Organization() Organization {
	return Organization{Mode: ModeOrganization, OrganizationID: s.OrganizationID, OrganizationalUnits: s.OrganizationalUnits,
		ExcludedAccounts: s.ExcludedAccounts, OptOutTag: s.OptOutTag}
}

// OrganizationScope reads the function's mode (EnvMode) and, in
// organization mode, its scope (EnvOrganization), checked as synth checks
// it. ok is false in account mode: unset EnvMode is account mode, so a
// function deployed before the setting keeps its behaviour.
func (l Lookup) OrganizationScope() (scope Scope, ok bool, err error) {
	mode, _ := l(EnvMode)
	switch mode = strings.TrimSpace(mode); mode {
	case "", ModeAccount:
		return Scope{}, false, nil
	case ModeOrganization:
	default:
		return Scope{}, false, fmt.Errorf("%w: environment variable %s is %q; want %s or %s", ErrInvalid, EnvMode, mode, ModeAccount, ModeOrganization)
	}
	raw, err := l.Required(EnvOrganization)
	if err != nil {
		return Scope{}, false, err
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&scope); err != nil {
		return Scope{}, false, fmt.Errorf("%w: environment variable %s is not the organization scope as JSON: %v", ErrInvalid, EnvOrganization, err)
	}
	var bad []string
	if !organizationIDPattern.MatchString(scope.OrganizationID) {
		bad = append(bad, fmt.Sprintf("organizationId %q is not an organization id", scope.OrganizationID))
	}
	if len(scope.OrganizationalUnits) == 0 {
		bad = append(bad, "organizationalUnits is empty")
	}
	for _, ou := range scope.OrganizationalUnits {
		if !ouPattern.MatchString(ou) {
			bad = append(bad, fmt.Sprintf("organizationalUnits has %q, not an OU or root id", ou))
		}
	}
	for _, a := range scope.ExcludedAccounts {
		if !accountPattern.MatchString(a) {
			bad = append(bad, fmt.Sprintf("excludedAccounts has %q, not a 12-digit account id", a))
		}
	}
	if scope.OptOutTag == "" {
		bad = append(bad, "optOutTag is empty")
	}
	if len(bad) > 0 {
		return Scope{}, false, fmt.Errorf("%w: environment variable %s: %s", ErrInvalid, EnvOrganization, strings.Join(bad, "; "))
	}
	return scope, true, nil
}
