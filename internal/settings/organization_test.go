package settings

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// orgContext is a complete organization-mode context; each case changes it.
func orgContext() map[string]any {
	return map[string]any{
		"mode": "organization", "organizationId": "o-a1b2c3d4e5",
		"organizationalUnits": []any{"ou-ab12-cd34ef56", "r-ab12"}, "revokeWith": "attachedPolicy",
	}
}

func fromMap(ctx map[string]any) (Settings, error) {
	return FromContext(func(k string) any { return ctx[k] })
}

func TestOrganizationDefaults(t *testing.T) {
	d := Default()
	if d.Mode != ModeAccount || d.OptOutTag != "keywarden:opt-out" || d.MaxConcurrency != 10 || d.ToleratedFailurePercentage != 10 ||
		d.StackSetCallAs != CallAsDelegatedAdmin {
		t.Errorf("defaults %+v", d.Organization)
	}
	s, err := fromMap(orgContext())
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode != ModeOrganization || s.OrganizationID != "o-a1b2c3d4e5" || !slices.Equal(s.OrganizationalUnits, []string{"ou-ab12-cd34ef56", "r-ab12"}) ||
		s.MaxConcurrency != 10 || s.OptOutTag != DefaultOptOutTag {
		t.Errorf("organization settings %+v", s.Organization)
	}
	// Rotation works across accounts: the default rotationDays stands.
	if s.KeyAge.RotationDays != d.KeyAge.RotationDays || s.KeyAge.RotationDays == 0 {
		t.Errorf("organization mode's rotationDays %d, want the default %d", s.KeyAge.RotationDays, d.KeyAge.RotationDays)
	}
	ctx := orgContext()
	ctx["excludedAccounts"] = "111111111111, 222222222222"
	ctx["maxConcurrency"] = "1000"
	ctx["toleratedFailurePercentage"] = 0.0
	ctx["stackSetCallAs"] = "SELF"
	ctx["optOutTag"] = "security:skip"
	if s, err = fromMap(ctx); err != nil || len(s.ExcludedAccounts) != 2 || s.MaxConcurrency != 1000 || s.ToleratedFailurePercentage != 0 ||
		s.StackSetCallAs != CallAsSelf || s.OptOutTag != "security:skip" {
		t.Errorf("%+v, %v", s.Organization, err)
	}
}

// Each bad organization setting stops synthesis with what to fix.
func TestOrganizationSettingsSayWhatToFix(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]any
		drop []string
		want string
	}{
		{"unknown mode", map[string]any{"mode": "org"}, nil, `mode is "org"; use "account" (one account, the default) or "organization"`},
		{"the preview's gate left in", map[string]any{"organizationPreview": true}, nil, "organizationPreview is set, but organization mode is no longer a preview: remove it"},
		{"no organization", nil, []string{"organizationId"}, `organizationId is ""; organization mode needs the organization's id`},
		{"bad organization", map[string]any{"organizationId": "123456789012"}, nil, `organizationId is "123456789012"`},
		{"no OUs", nil, []string{"organizationalUnits"}, "organizationalUnits is empty; organization mode needs at least one OU id"},
		{"bad OU", map[string]any{"organizationalUnits": []any{"Security"}}, nil, `organizationalUnits has "Security", which is neither an OU id`},
		{"bad account", map[string]any{"excludedAccounts": []any{"1234"}}, nil, `excludedAccounts has "1234", which is not a 12-digit account id`},
		{"aws tag", map[string]any{"optOutTag": "aws:skip"}, nil, `optOutTag is "aws:skip"; use an account tag key`},
		{"empty tag", map[string]any{"optOutTag": ""}, nil, `optOutTag is ""`},
		{"no concurrency", map[string]any{"maxConcurrency": 0.0}, nil, "maxConcurrency is 0; use 1 to 1000"},
		{"too much concurrency", map[string]any{"maxConcurrency": 1001.0}, nil, "maxConcurrency is 1001; use 1 to 1000"},
		{"negative tolerance", map[string]any{"toleratedFailurePercentage": -1.0}, nil, "toleratedFailurePercentage is -1; use 0 to 100"},
		{"tolerance over 100", map[string]any{"toleratedFailurePercentage": 101.0}, nil, "toleratedFailurePercentage is 101"},
		{"call as", map[string]any{"stackSetCallAs": "ADMIN"}, nil, `stackSetCallAs is "ADMIN"; use "SELF"`},
		{"inline revoke", map[string]any{"revokeWith": "inlinePolicy"}, nil,
			`revokeWith is "inlinePolicy", but organization mode needs "attachedPolicy": "inlinePolicy" lets the revoke role write any inline policy, which is administrator-equivalent`},
		{"inline revoke by default", nil, []string{"revokeWith"}, `organization mode needs "attachedPolicy"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := orgContext()
			for k, v := range tc.set {
				ctx[k] = v
			}
			for _, k := range tc.drop {
				delete(ctx, k)
			}
			_, err := fromMap(ctx)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// Organization settings in account mode are an error naming the setting;
// account mode with none of them is today's settings.
func TestOrganizationSettingsInAccountMode(t *testing.T) {
	for _, k := range organizationKeys {
		for _, mode := range []any{nil, "account"} {
			ctx := orgContext()
			ctx["mode"] = mode
			_, err := fromMap(map[string]any{"mode": mode, k: ctx[k]})
			if ctx[k] == nil {
				_, err = fromMap(map[string]any{"mode": mode, k: "x"})
			}
			want := k + ` is set, but mode is "account": ` + k + " means something in organization mode only; remove it, or set mode to \"organization\""
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s in mode %v: err %v, want it to say %q", k, mode, err, want)
			}
		}
	}
	// The preview's gate, left in a setting from before, is named in
	// either mode.
	for _, mode := range []string{ModeAccount, ModeOrganization} {
		if _, err := fromMap(map[string]any{"mode": mode, previewKey: true}); !errors.Is(err, ErrInvalid) ||
			!strings.Contains(err.Error(), "organizationPreview is set, but organization mode is no longer a preview") {
			t.Errorf("organizationPreview in mode %s: %v", mode, err)
		}
	}
	s, err := fromMap(map[string]any{"mode": "account"})
	if err != nil || !reflect.DeepEqual(s.Organization, defaultOrganization()) {
		t.Errorf("%+v, %v", s.Organization, err)
	}
	s = Default()
	s.OrganizationID = "o-a1b2c3d4e5"
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), `mode is "account", but organization settings are set`) {
		t.Errorf("account mode with an organization id: %v", err)
	}
}
