// Package settings holds keywarden's deployment settings: read from cdk.json
// context and validated at synth time, then handed to each Lambda through
// environment variables and validated again at cold start. One type serves
// both ends so the two cannot drift apart.
package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/keywarden/keywarden/internal/policy"
)

// Values of ExposedKeyAction.
const (
	ActionDelete     = "delete"
	ActionDeactivate = "deactivate"
)

// Values of RevokeWith: how the revoke step denies the exposed key's
// user its sessions.
const (
	// RevokeInlinePolicy writes an inline deny on sessions issued before
	// the incident (iam:PutUserPolicy, administrator-equivalent).
	RevokeInlinePolicy = "inlinePolicy"
	// RevokeAttachedPolicy attaches the stack's fixed deny on every
	// temporary session (iam:AttachUserPolicy of that one policy only).
	RevokeAttachedPolicy = "attachedPolicy"
)

// Environment variable names read by the Lambdas.
const (
	EnvStateMachineArn   = "KEYWARDEN_STATE_MACHINE_ARN"
	EnvAlertTopicArn     = "KEYWARDEN_ALERT_TOPIC_ARN"
	EnvExposedKeyAction  = "KEYWARDEN_EXPOSED_KEY_ACTION"
	EnvActivityWindow    = "KEYWARDEN_ACTIVITY_WINDOW_HOURS"
	EnvActivityRegions   = "KEYWARDEN_ACTIVITY_REGIONS"
	EnvActivityMaxEvents = "KEYWARDEN_ACTIVITY_MAX_EVENTS"
	EnvConsoleRegion     = "KEYWARDEN_CONSOLE_REGION"
	EnvKeyAgePolicy      = "KEYWARDEN_KEY_AGE_POLICY" // policy.Config as JSON
	EnvDryRun            = "KEYWARDEN_DRY_RUN"
	EnvLedgerTable       = "KEYWARDEN_LEDGER_TABLE"
	EnvNoticeSender      = "KEYWARDEN_NOTICE_SENDER"
	EnvAccount           = "KEYWARDEN_ACCOUNT"
	EnvNoKeysTag         = "KEYWARDEN_NO_KEYS_TAG"
	// Rotation (the act function, when keyAge.rotationDays is above 0).
	EnvRotationKMSKey  = "KEYWARDEN_ROTATION_KMS_KEY"     // ARN of the key encrypting rotated keys' secrets
	EnvRotationWriter  = "KEYWARDEN_ROTATION_WRITER_ROLE" // ARN of the act function's role
	EnvSecurityRoleArn = "KEYWARDEN_SECURITY_ROLE_ARN"
	EnvPartition       = "KEYWARDEN_PARTITION"
	// Tamper watch (the tamper function; the intake reads the roles too).
	EnvOwnRoleArns      = "KEYWARDEN_OWN_ROLE_ARNS" // comma-separated ARNs of keywarden's roles that write to IAM
	EnvWatchedTags      = "KEYWARDEN_WATCHED_TAGS"  // comma-separated user tag keys the key-age policy reads
	EnvTamperUndo       = "KEYWARDEN_TAMPER_UNDO"
	EnvIncidentOpenDays = "KEYWARDEN_INCIDENT_OPEN_DAYS"
	// Revocation (the revoke and tamper functions).
	EnvRevokeWith      = "KEYWARDEN_REVOKE_WITH"       // RevokeWith; unset means inlinePolicy
	EnvRevokePolicyArn = "KEYWARDEN_REVOKE_POLICY_ARN" // the stack's deny policy, with attachedPolicy
	// Organization mode (the functions that act in member accounts).
	EnvMode         = "KEYWARDEN_MODE"         // ModeAccount or ModeOrganization; unset means ModeAccount
	EnvOrganization = "KEYWARDEN_ORGANIZATION" // Scope as JSON, with ModeOrganization
)

// Settings are keywarden's deployment settings (cdk.json "context").
type Settings struct {
	// ExposedKeyAction is what happens to an exposed key after containment:
	// "delete" (default) or "deactivate" (kept inactive for forensics).
	ExposedKeyAction string `json:"exposedKeyAction"`
	// DrillSources adds a rule for source awsmock.trustedadvisor so drills
	// can run with put-events in a real account.
	DrillSources bool `json:"drillSources"`
	// ActivityWindowHours is how far back CloudTrail is searched.
	ActivityWindowHours int `json:"activityWindowHours"`
	// ActivityRegions are the regions searched; empty means the stack's.
	ActivityRegions []string `json:"activityRegions"`
	// ActivityMaxEvents bounds the events read per lookup (by key, by user)
	// and region; CloudTrail returns at most 50 per page.
	ActivityMaxEvents int `json:"activityMaxEvents"`
	// AlertEmails are subscribed to the alert topic (each must confirm).
	AlertEmails []string `json:"alertEmails"`
	// LogRetentionDays for every function's and the state machine's logs.
	LogRetentionDays int `json:"logRetentionDays"`

	// KeyAge is the daily key-age policy (cdk.json "keyAge", an object
	// with policy.Config's fields; unset fields keep their defaults).
	KeyAge policy.Config `json:"keyAge"`
	// DryRun makes the daily run decide and notify ("would be
	// deactivated on …") without any IAM write. Default true.
	DryRun bool `json:"dryRun"`
	// Schedule is the daily run's EventBridge schedule expression.
	Schedule string `json:"schedule"`
	// NoticeSender, when set, is the SES identity owner notices are
	// e-mailed from; otherwise notices go to the alert topic with the
	// owner as a message attribute.
	NoticeSender string `json:"noticeSender"`
	// NoAccessKeysTag names the user tag whose value "true" forbids
	// long-term access keys: a key created for such a user is flagged (an
	// alert and the digest). Empty turns the check off.
	NoAccessKeysTag string `json:"noAccessKeysTag"`
	// SecurityRoleArn, when set, is the IAM role that may read the secrets
	// rotation writes, besides each secret's own user (break-glass for the
	// security team). Empty: only the user.
	SecurityRoleArn string `json:"securityRoleArn"`
	// TamperUndo makes the tamper watch set a re-activated exposed key
	// Inactive again and put a deleted or changed revoke policy back while
	// its incident is open; false alerts only. Default true.
	TamperUndo bool `json:"tamperUndo"`
	// IncidentOpenDays is how long after keywarden revoked a user's
	// sessions (an exposed key's containment) the incident is open: the
	// revoke policy is put back, and a new key for the user alerts.
	IncidentOpenDays int `json:"incidentOpenDays"`
	// RevokeWith is how the revoke step denies the exposed key's user its
	// sessions: RevokeInlinePolicy (default) or RevokeAttachedPolicy.
	RevokeWith string `json:"revokeWith"`

	// Organization holds organization mode's settings (organization.go).
	Organization
}

// Default returns the settings used where cdk.json says nothing.
func Default() Settings {
	return Settings{
		ExposedKeyAction:    ActionDelete,
		DrillSources:        true,
		ActivityWindowHours: 24,
		ActivityMaxEvents:   500,
		LogRetentionDays:    365,
		KeyAge:              policy.DefaultConfig(),
		DryRun:              true,
		Schedule:            "cron(0 8 * * ? *)",
		NoAccessKeysTag:     "keywarden:no-access-keys",
		TamperUndo:          true,
		IncidentOpenDays:    30,
		RevokeWith:          RevokeInlinePolicy,
		Organization:        defaultOrganization(),
	}
}

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid setting")

var (
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	emailPattern  = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	// roleArnPattern is an IAM role ARN, path allowed.
	roleArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
	// schedulePattern accepts cron(…) and rate(…) expressions; EventBridge
	// checks the fields themselves at deploy time.
	schedulePattern = regexp.MustCompile(`^(cron\([^()]+\)|rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\))$`)
)

// Valid CloudWatch Logs retention values, in days.
var retentionDays = map[int]bool{1: true, 3: true, 5: true, 7: true, 14: true, 30: true, 60: true,
	90: true, 120: true, 150: true, 180: true, 365: true, 400: true, 545: true, 731: true,
	1096: true, 1827: true, 2192: true, 2557: true, 2922: true, 3288: true, 3653: true}

// Validate reports every problem at once, each saying what to fix.
func (s Settings) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if s.ExposedKeyAction != ActionDelete && s.ExposedKeyAction != ActionDeactivate {
		bad("exposedKeyAction is %q; use %q or %q", s.ExposedKeyAction, ActionDelete, ActionDeactivate)
	}
	// CloudTrail's event history covers the last 90 days.
	if s.ActivityWindowHours < 1 || s.ActivityWindowHours > 90*24 {
		bad("activityWindowHours is %d; use 1 to 2160 (CloudTrail keeps 90 days)", s.ActivityWindowHours)
	}
	if s.ActivityMaxEvents < 50 || s.ActivityMaxEvents > 5000 {
		bad("activityMaxEvents is %d; use 50 to 5000", s.ActivityMaxEvents)
	}
	for _, r := range s.ActivityRegions {
		if !regionPattern.MatchString(r) {
			bad("activityRegions has %q, which is not a region name such as us-east-1", r)
		}
	}
	for _, e := range s.AlertEmails {
		if !emailPattern.MatchString(e) {
			bad("alertEmails has %q, which is not an e-mail address", e)
		}
	}
	if err := s.KeyAge.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: keyAge: %w", ErrInvalid, err))
	}
	if !schedulePattern.MatchString(s.Schedule) {
		bad("schedule is %q; use an EventBridge schedule expression such as \"cron(0 8 * * ? *)\" or \"rate(1 day)\"", s.Schedule)
	}
	if s.NoticeSender != "" && !emailPattern.MatchString(s.NoticeSender) {
		bad("noticeSender is %q; use the e-mail address of a verified SES identity, or leave it empty", s.NoticeSender)
	}
	if len(s.NoAccessKeysTag) > 128 || strings.HasPrefix(strings.ToLower(s.NoAccessKeysTag), "aws:") {
		bad("noAccessKeysTag is %q; use a tag key of at most 128 characters not starting with aws:", s.NoAccessKeysTag)
	}
	if s.SecurityRoleArn != "" && !roleArnPattern.MatchString(s.SecurityRoleArn) {
		bad("securityRoleArn is %q; use an IAM role ARN such as arn:aws:iam::123456789012:role/security-responder, or leave it empty", s.SecurityRoleArn)
	}
	// The ledger keeps a revocation 400 days; an incident open longer
	// would outlive its record.
	if s.IncidentOpenDays < 1 || s.IncidentOpenDays > 365 {
		bad("incidentOpenDays is %d; use 1 to 365 (days after an exposed key's containment that its incident stays open)", s.IncidentOpenDays)
	}
	if s.RevokeWith != RevokeInlinePolicy && s.RevokeWith != RevokeAttachedPolicy {
		bad("revokeWith is %q; use %q (an inline deny of sessions issued before the incident; the revoke role may write any inline policy) "+
			"or %q (attach the stack's fixed deny of every temporary session; the revoke role may attach only that policy)",
			s.RevokeWith, RevokeInlinePolicy, RevokeAttachedPolicy)
	}
	if !retentionDays[s.LogRetentionDays] {
		bad("logRetentionDays is %d; use a CloudWatch Logs retention such as 90, 365 or 3653", s.LogRetentionDays)
	}
	s.validateOrganization(bad)
	return errors.Join(errs...)
}

// FromContext reads settings from CDK context values (cdk.json "context" or
// -c key=value). Values given on the command line arrive as strings, so each
// reader accepts a string form too. Unset keys keep their defaults.
func FromContext(get func(key string) any) (Settings, error) {
	s := Default()
	var errs []error
	read := func(key string, into func(v any) error) {
		v := get(key)
		if v == nil {
			return
		}
		if err := into(v); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %v", ErrInvalid, key, err))
		}
	}
	read("exposedKeyAction", func(v any) error { return asString(v, &s.ExposedKeyAction) })
	read("drillSources", func(v any) error { return asBool(v, &s.DrillSources) })
	read("activityWindowHours", func(v any) error { return asInt(v, &s.ActivityWindowHours) })
	read("activityRegions", func(v any) error { return asStrings(v, &s.ActivityRegions) })
	read("activityMaxEvents", func(v any) error { return asInt(v, &s.ActivityMaxEvents) })
	read("alertEmails", func(v any) error { return asStrings(v, &s.AlertEmails) })
	read("logRetentionDays", func(v any) error { return asInt(v, &s.LogRetentionDays) })
	read("keyAge", func(v any) error { return asKeyAge(v, &s.KeyAge) })
	read("dryRun", func(v any) error { return asBool(v, &s.DryRun) })
	read("schedule", func(v any) error { return asString(v, &s.Schedule) })
	read("noticeSender", func(v any) error { return asString(v, &s.NoticeSender) })
	read("noAccessKeysTag", func(v any) error { return asString(v, &s.NoAccessKeysTag) })
	read("securityRoleArn", func(v any) error { return asString(v, &s.SecurityRoleArn) })
	read("tamperUndo", func(v any) error { return asBool(v, &s.TamperUndo) })
	read("incidentOpenDays", func(v any) error { return asInt(v, &s.IncidentOpenDays) })
	read("revokeWith", func(v any) error { return asString(v, &s.RevokeWith) })
	errs = append(errs, s.readOrganization(get, read)...)
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	return s, s.Validate()
}

// asKeyAge reads the "keyAge" object (or its JSON text, from -c) over the
// defaults; an unknown field is an error, so a typo cannot pass unnoticed.
func asKeyAge(v any, into *policy.Config) error {
	raw, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		raw = string(b)
	}
	cfg, err := ParseKeyAge(raw)
	if err != nil {
		return err
	}
	*into = cfg
	return nil
}

// ParseKeyAge reads a key-age policy from JSON over policy.DefaultConfig,
// refusing unknown fields. The Lambdas read KEYWARDEN_KEY_AGE_POLICY with it.
func ParseKeyAge(raw string) (policy.Config, error) {
	cfg := policy.DefaultConfig()
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("want an object with policy fields (warnDays, limitDays, …): %v", err)
	}
	return cfg, nil
}

func asString(v any, into *string) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("want a string, got %T", v)
	}
	*into = strings.TrimSpace(s)
	return nil
}

func asBool(v any, into *bool) error {
	switch b := v.(type) {
	case bool:
		*into = b
		return nil
	case string:
		p, err := strconv.ParseBool(b)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", b)
		}
		*into = p
		return nil
	}
	return fmt.Errorf("want true or false, got %T", v)
}

func asInt(v any, into *int) error {
	switch n := v.(type) {
	case float64:
		if n != float64(int(n)) {
			return fmt.Errorf("want a whole number, got %v", n)
		}
		*into = int(n)
		return nil
	case int:
		*into = n
		return nil
	case string:
		p, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil {
			return fmt.Errorf("want a whole number, got %q", n)
		}
		*into = p
		return nil
	}
	return fmt.Errorf("want a whole number, got %T", v)
}

func asStrings(v any, into *[]string) error {
	switch l := v.(type) {
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			s, ok := x.(string)
			if !ok {
				return fmt.Errorf("want a list of strings, found %T", x)
			}
			out = append(out, strings.TrimSpace(s))
		}
		*into = out
		return nil
	case []string:
		*into = l
		return nil
	case string:
		*into = SplitList(l)
		return nil
	}
	return fmt.Errorf("want a list of strings, got %T", v)
}

// SplitList splits a comma-separated list, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Lookup is how a Lambda reads its environment; os.LookupEnv in production.
type Lookup func(key string) (string, bool)

// Env is the real environment.
var Env Lookup = os.LookupEnv

// Required returns the value of an environment variable that must be set.
func (l Lookup) Required(key string) (string, error) {
	v, ok := l(key)
	if !ok || strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("%w: environment variable %s is not set", ErrInvalid, key)
	}
	return strings.TrimSpace(v), nil
}

// Bool returns a true/false environment variable, or def when it is unset.
func (l Lookup) Bool(key string, def bool) (bool, error) {
	v, ok := l(key)
	if !ok || strings.TrimSpace(v) == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, fmt.Errorf("%w: environment variable %s is %q, not true or false", ErrInvalid, key, v)
	}
	return b, nil
}

// RevokeWith reads how the revoke step revokes (EnvRevokeWith; unset means
// inlinePolicy, so that a function deployed before the setting keeps its
// behaviour) and, for attachedPolicy, the policy to attach
// (EnvRevokePolicyArn, required then).
func (l Lookup) RevokeWith() (with, policyArn string, err error) {
	with = RevokeInlinePolicy
	if v, ok := l(EnvRevokeWith); ok && strings.TrimSpace(v) != "" {
		with = strings.TrimSpace(v)
	}
	switch with {
	case RevokeInlinePolicy:
		return with, "", nil
	case RevokeAttachedPolicy:
		arn, err := l.Required(EnvRevokePolicyArn)
		if err != nil {
			return "", "", err
		}
		if !managedPolicyArnPattern.MatchString(arn) {
			return "", "", fmt.Errorf("%w: environment variable %s is %q, not a customer managed policy ARN", ErrInvalid, EnvRevokePolicyArn, arn)
		}
		return with, arn, nil
	}
	return "", "", fmt.Errorf("%w: environment variable %s is %q; want %s or %s", ErrInvalid, EnvRevokeWith, with, RevokeInlinePolicy, RevokeAttachedPolicy)
}

// managedPolicyArnPattern is a customer managed policy's ARN, path allowed.
var managedPolicyArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:policy/[\w+=,.@/-]{1,640}$`)

// Int returns an integer environment variable, or def when it is unset.
func (l Lookup) Int(key string, def int) (int, error) {
	v, ok := l(key)
	if !ok || strings.TrimSpace(v) == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%w: environment variable %s is %q, not a whole number", ErrInvalid, key, v)
	}
	return n, nil
}
