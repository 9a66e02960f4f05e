package tamper

import (
	"fmt"
	"regexp"

	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/settings"
)

// WatchedTags are the user tag keys the key-age policy reads and the tamper
// watch reports changes to: the user type, the exemption, the rotation
// flag and the no-access-keys flag (when set). Contact tags only route
// notices and are not watched.
func WatchedTags(cfg policy.Config, noAccessKeysTag string) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range []string{cfg.UserTypeTag, cfg.ExemptionTag, cfg.RotationTag, noAccessKeysTag} {
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// roleARN is an IAM role ARN, with its path, in any partition.
var roleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)

// ConfigFromEnv reads the tamper function's configuration. The roles are
// required: without them keywarden's own writes would read as tampering,
// and the watch's own restore of a policy would start it again.
func ConfigFromEnv(env settings.Lookup) (Config, error) {
	raw, err := env.Required(settings.EnvOwnRoleArns)
	if err != nil {
		return Config{}, err
	}
	c := Config{OwnRoles: settings.SplitList(raw)}
	for _, r := range c.OwnRoles {
		if !roleARN.MatchString(r) {
			return Config{}, fmt.Errorf("%w: environment variable %s holds %q, which is not an IAM role ARN", settings.ErrInvalid, settings.EnvOwnRoleArns, r)
		}
	}
	c.OwnRoles = append(c.OwnRoles, memberWriters(env)...)
	if tags, ok := env(settings.EnvWatchedTags); ok {
		c.WatchedTags = settings.SplitList(tags)
	}
	if c.Undo, err = env.Bool(settings.EnvTamperUndo, true); err != nil {
		return Config{}, err
	}
	if c.OpenDays, err = env.Int(settings.EnvIncidentOpenDays, DefaultOpenDays); err != nil {
		return Config{}, err
	}
	if c.OpenDays < 1 || c.OpenDays > 365 {
		return Config{}, fmt.Errorf("%w: environment variable %s is %d; want 1 to 365", settings.ErrInvalid, settings.EnvIncidentOpenDays, c.OpenDays)
	}
	return c, nil
}

// OwnRolesFromEnv reads keywarden's own roles for the intake, which skips
// their writes without starting an execution; unset, it skips nothing and
// the tamper function, which requires them, decides.
func OwnRolesFromEnv(env settings.Lookup) []string {
	raw, _ := env(settings.EnvOwnRoleArns)
	return append(settings.SplitList(raw), memberWriters(env)...)
}

// memberWriters are, in organization mode, the member roles through which
// the hub writes to a member's IAM (respond and rotate), in any account
// and partition: the hub's writes in a member are made by sessions of
// those roles, not of the hub's own. A member's administrator who makes a
// role of that name (the recommended SCP forbids it) could pass a write
// of theirs as keywarden's in their own account only.
func memberWriters(env settings.Lookup) []string {
	if mode, _ := env(settings.EnvMode); mode != settings.ModeOrganization {
		return nil
	}
	return []string{"arn:*:iam::*:role/" + member.RespondRole, "arn:*:iam::*:role/" + member.RotateRole}
}
