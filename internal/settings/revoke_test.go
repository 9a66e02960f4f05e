package settings

import (
	"errors"
	"strings"
	"testing"
)

// revokeWith defaults to today's inline policy, so that an existing stack
// upgrades unchanged; a bad value says both choices.
func TestRevokeWithSetting(t *testing.T) {
	if d := Default(); d.RevokeWith != RevokeInlinePolicy {
		t.Errorf("default revokeWith %q, want %q", d.RevokeWith, RevokeInlinePolicy)
	}
	ctx := map[string]any{"revokeWith": " attachedPolicy "}
	s, err := FromContext(func(k string) any { return ctx[k] })
	if err != nil || s.RevokeWith != RevokeAttachedPolicy {
		t.Errorf("got %q, %v", s.RevokeWith, err)
	}
	wantInvalid(t, "revokeWith", "attached", `revokeWith is "attached"; use "inlinePolicy"`)
	wantInvalid(t, "revokeWith", "AttachedPolicy", `or "attachedPolicy"`)
	wantInvalid(t, "revokeWith", true, "revokeWith: want a string")
}

func TestRevokeWithEnvironment(t *testing.T) {
	const arn = "arn:aws:iam::123456789012:policy/Keywarden-RevokeSessionsPolicy-1A2B3C"
	for _, tc := range []struct {
		name      string
		env       map[string]string
		with, pol string
		err       string
	}{
		{"unset is inline", nil, RevokeInlinePolicy, "", ""},
		{"inline", map[string]string{EnvRevokeWith: "inlinePolicy"}, RevokeInlinePolicy, "", ""},
		{"attached", map[string]string{EnvRevokeWith: "attachedPolicy", EnvRevokePolicyArn: arn}, RevokeAttachedPolicy, arn, ""},
		{"attached without policy", map[string]string{EnvRevokeWith: "attachedPolicy"}, "", "", EnvRevokePolicyArn + " is not set"},
		{"attached with an AWS managed policy", map[string]string{EnvRevokeWith: "attachedPolicy", EnvRevokePolicyArn: "arn:aws:iam::aws:policy/AWSDenyAll"}, "", "", "not a customer managed policy ARN"},
		{"unknown", map[string]string{EnvRevokeWith: "scp"}, "", "", `is "scp"; want inlinePolicy or attachedPolicy`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := Lookup(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			with, pol, err := env.RevokeWith()
			if tc.err != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err %v, want it to say %q", err, tc.err)
				}
				return
			}
			if err != nil || with != tc.with || pol != tc.pol {
				t.Errorf("got %q, %q, %v; want %q, %q", with, pol, err, tc.with, tc.pol)
			}
		})
	}
}
