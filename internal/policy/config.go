package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Config is the key-age policy. The JSON names are the ones Validate's
// messages use.
type Config struct {
	// WarnDays are the ages that start a warning stage, ascending; each is
	// at least 1 and below LimitDays.
	WarnDays []int `json:"warnDays"`
	// LimitDays is the age from which a key is past the limit.
	LimitDays int `json:"limitDays"`
	// GraceDays is the UTC calendar days from the final notice to the
	// deactivation; 0 deactivates in the run that sends the final notice.
	GraceDays int `json:"graceDays"`
	// DeleteAfterDays deletes keys inactive for this many UTC calendar
	// days; 0 never deletes.
	DeleteAfterDays int `json:"deleteAfterDays"`
	// UserTypeTag names the user tag that holds the user type.
	UserTypeTag string `json:"userTypeTag"`
	// EnforcedUserTypes are the user types whose keys are deactivated;
	// "*" is every user, tagged or not.
	EnforcedUserTypes []string `json:"enforcedUserTypes"`
	// NotifyOnlyUserTypes are only ever notified (machine users whose keys
	// feed other systems); it wins over EnforcedUserTypes. "*" is everyone.
	NotifyOnlyUserTypes []string `json:"notifyOnlyUserTypes"`
	// ContactTags name the user tags that may hold the owner's address; the
	// first present and not blank wins. Empty sends everything to the
	// security topic.
	ContactTags []string `json:"contactTags"`
	// ExemptionTag names the user tag whose value "YYYY-MM-DD reason"
	// exempts the user's keys until the end of that UTC day.
	ExemptionTag string `json:"exemptionTag"`
	// MaxExemptionDays caps how far ahead an exemption may end, so that an
	// exemption cannot quietly become permanent ("9999-12-31"); 0 = no cap.
	MaxExemptionDays int `json:"maxExemptionDays"`
	// UnusedDays, when above 0, treats an active key never used, or not used
	// for this many days, as past the limit.
	UnusedDays int `json:"unusedDays"`
	// NewKeyGraceDays: keys younger than this are never deactivated or
	// deleted, so a key just issued cannot be lost to the unused rule
	// before its owner deploys it.
	NewKeyGraceDays int `json:"newKeyGraceDays"`

	// RotationTag names the user tag whose value "true" opts the user into
	// automatic rotation (machine users whose key feeds another system).
	RotationTag string `json:"rotationTag"`
	// RotationDays is the age at which an opted-in user's active key is
	// replaced by a new one kept in Secrets Manager; 0 turns rotation off.
	RotationDays int `json:"rotationDays"`
	// RetireAfterDays is the UTC calendar days from a rotation to the
	// deactivation of the replaced key: the time the key's consumers have
	// to switch to the new one.
	RetireAfterDays int `json:"retireAfterDays"`
	// DeleteRetiredAfterDays is the UTC calendar days from the replaced
	// key's deactivation to its deletion.
	DeleteRetiredAfterDays int `json:"deleteRetiredAfterDays"`
}

// DefaultConfig is the policy used where the settings say nothing: warnings
// at 70 and 80 days, deactivation at 90 in the same run as the final notice,
// no deletion, machine users notified only, exemptions up to a year ahead;
// users tagged for rotation get a new key at 60 days, and the old one is
// deactivated 7 days later and deleted 7 days after that.
func DefaultConfig() Config {
	return Config{
		WarnDays:            []int{70, 80},
		LimitDays:           90,
		GraceDays:           0,
		DeleteAfterDays:     0,
		UserTypeTag:         "UserType",
		EnforcedUserTypes:   []string{"*"},
		NotifyOnlyUserTypes: []string{"machine"},
		ContactTags:         []string{"Contact", "email"},
		ExemptionTag:        "keywarden:exempt",
		MaxExemptionDays:    365,
		UnusedDays:          0,
		NewKeyGraceDays:     7,

		RotationTag:            "keywarden:rotate",
		RotationDays:           60,
		RetireAfterDays:        7,
		DeleteRetiredAfterDays: 7,
	}
}

// ErrInvalidConfig is wrapped by every problem Validate reports.
var ErrInvalidConfig = errors.New("invalid key-age policy")

// AllUserTypes in EnforcedUserTypes or NotifyOnlyUserTypes matches every
// user, tagged or not.
const AllUserTypes = "*"

// tagKeyPattern is what IAM accepts as a tag key.
var tagKeyPattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)

// Validate reports every problem at once, each saying what to fix.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}

	if c.LimitDays < 1 {
		bad("limitDays is %d; use the age in days from which keys are past the limit, e.g. 90", c.LimitDays)
	}
	c.validateWarnDays(bad)
	for _, n := range []struct {
		name, zero string
		v          int
	}{
		{"graceDays", "deactivate in the same run as the final notice", c.GraceDays},
		{"deleteAfterDays", "never delete", c.DeleteAfterDays},
		{"maxExemptionDays", "no cap", c.MaxExemptionDays},
		{"unusedDays", "off", c.UnusedDays},
		{"newKeyGraceDays", "no grace for new keys", c.NewKeyGraceDays},
		{"rotationDays", "rotation off", c.RotationDays},
		{"retireAfterDays", "deactivate the replaced key in the run after the rotation", c.RetireAfterDays},
	} {
		if n.v < 0 {
			bad("%s is %d; use 0 (%s) or more", n.name, n.v, n.zero)
		}
	}
	if c.LimitDays >= 1 && c.NewKeyGraceDays >= c.LimitDays {
		bad("newKeyGraceDays %d is not below limitDays %d; keys past the limit would never be deactivated, use e.g. 7", c.NewKeyGraceDays, c.LimitDays)
	}

	if c.RotationDays > 0 {
		if c.LimitDays >= 1 && c.RotationDays >= c.LimitDays {
			bad("rotationDays %d is not below limitDays %d; rotate before the limit (e.g. %d), or set rotationDays to 0 to turn rotation off", c.RotationDays, c.LimitDays, max(c.LimitDays*2/3, 1))
		}
		if c.RotationDays < c.NewKeyGraceDays {
			bad("rotationDays %d is below newKeyGraceDays %d; a new key would be replaced before its owner could deploy it", c.RotationDays, c.NewKeyGraceDays)
		}
		if c.DeleteRetiredAfterDays < 1 {
			bad("deleteRetiredAfterDays is %d; use 1 or more, so a replaced key stays restorable for at least a day after its deactivation", c.DeleteRetiredAfterDays)
		}
	}
	c.validateTags(bad)
	c.validateUserTypes(bad)
	return errors.Join(errs...)
}

func (c Config) validateWarnDays(bad func(string, ...any)) {
	if len(c.WarnDays) == 0 {
		bad("warnDays is empty; give at least one warning day below limitDays, e.g. [70, 80], so owners hear before the final notice")
		return
	}
	seen := map[int]bool{}
	unsorted := false
	for i, w := range c.WarnDays {
		switch {
		case w < 1:
			bad("warnDays has %d; each warning day must be 1 or more", w)
		case c.LimitDays >= 1 && w >= c.LimitDays:
			bad("warnDays has %d, which is not below limitDays %d; warnings must come before the limit", w, c.LimitDays)
		}
		if seen[w] {
			bad("warnDays lists %d more than once; list each day once", w)
		}
		seen[w] = true
		if i > 0 && w < c.WarnDays[i-1] {
			unsorted = true
		}
	}
	if unsorted {
		fixed := slices.Clone(c.WarnDays)
		slices.Sort(fixed)
		bad("warnDays %v is not in ascending order; list the days ascending, e.g. %v", c.WarnDays, slices.Compact(fixed))
	}
}

func (c Config) validateTags(bad func(string, ...any)) {
	uses := map[string][]string{} // tag name -> settings naming it
	tag := func(setting, name, example string, inList bool) {
		switch {
		case name == "" && inList:
			bad("%s has an empty tag name; remove it or name a user tag, e.g. %q", setting, example)
			return
		case name == "":
			bad("%s is empty; name a user tag, e.g. %q", setting, example)
			return
		case utf8.RuneCountInString(name) > 128:
			bad("%s %q is longer than the 128 characters IAM allows in a tag key", setting, name)
		case !tagKeyPattern.MatchString(name):
			bad("%s %q has characters IAM does not allow in a tag key; use letters, digits, spaces and _ . : / = + - @", setting, name)
		case strings.HasPrefix(strings.ToLower(name), "aws:"):
			bad("%s %q starts with the reserved prefix \"aws:\", which users cannot be tagged with", setting, name)
		}
		uses[name] = append(uses[name], setting)
	}
	tag("userTypeTag", c.UserTypeTag, "UserType", false)
	tag("exemptionTag", c.ExemptionTag, "keywarden:exempt", false)
	if c.RotationDays > 0 {
		tag("rotationTag", c.RotationTag, "keywarden:rotate", false)
	}
	for _, ct := range c.ContactTags {
		tag("contactTags", ct, "Contact", true)
	}
	for _, name := range sortedKeys(uses) {
		if s := slices.Compact(slices.Clone(uses[name])); len(uses[name]) > 1 {
			if len(s) == 1 {
				bad("%s lists %q more than once; list each tag once", s[0], name)
			} else {
				bad("tag %q is used for %s; give each purpose its own tag", name, strings.Join(s, " and "))
			}
		}
	}
}

func (c Config) validateUserTypes(bad func(string, ...any)) {
	if len(c.EnforcedUserTypes) == 0 {
		bad("enforcedUserTypes is empty; list the user types whose keys are deactivated, or [\"*\"] for every user (to only notify, set notifyOnlyUserTypes to [\"*\"])")
	}
	for _, l := range []struct {
		name  string
		types []string
	}{{"enforcedUserTypes", c.EnforcedUserTypes}, {"notifyOnlyUserTypes", c.NotifyOnlyUserTypes}} {
		for _, t := range l.types {
			if TagValue(t) == "" {
				bad("%s has an empty user type; name a %s tag value, or use \"*\" to include untagged users", l.name, c.UserTypeTag)
			}
		}
	}
	// Types match without regard to case or surrounding spaces, so
	// "Machine" and "machine" are one type.
	for _, t := range c.NotifyOnlyUserTypes {
		if v := TagValue(t); v != "" && v != AllUserTypes && hasType(c.EnforcedUserTypes, v) {
			bad("user type %q is in both enforcedUserTypes and notifyOnlyUserTypes; remove it from one", t)
		}
	}
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// notifyOnly says whether keys of the given user type (read with TagValue;
// "" when untagged or blank) are only notified, and why, for the decision's
// reasons. shown is how the reasons name the type.
func (c Config) notifyOnly(userType, shown string) (bool, string) {
	switch {
	case hasType(c.NotifyOnlyUserTypes, AllUserTypes):
		return true, "notify only: notifyOnlyUserTypes is \"*\", keys are never deactivated or deleted"
	case userType != "" && hasType(c.NotifyOnlyUserTypes, userType):
		return true, fmt.Sprintf("notify only (machine user): user type %s is never deactivated or deleted", shown)
	case hasType(c.EnforcedUserTypes, AllUserTypes):
		return false, ""
	case userType != "" && hasType(c.EnforcedUserTypes, userType):
		return false, ""
	}
	return true, fmt.Sprintf("notify only: user type %s is not in enforcedUserTypes %v, keys are never deactivated or deleted", shown, c.EnforcedUserTypes)
}

// userType reads the user's type tag: the type as matched (TagValue), how
// the reasons show it, and a problem when the tag is there but blank.
func (c Config) userType(tags map[string]string) (userType, shown, problem string) {
	v, ok := tags[c.UserTypeTag]
	userType = TagValue(v)
	switch {
	case !ok:
		return "", "untagged (no " + c.UserTypeTag + " tag)", ""
	case userType == "":
		problem = fmt.Sprintf("tag %s is %q, which names no user type", c.UserTypeTag, v)
		return "", "blank (" + c.UserTypeTag + " tag with no value)", problem
	}
	return userType, fmt.Sprintf("%q", v), ""
}

// contact is the first ContactTags tag present and not blank, as is.
func (c Config) contact(tags map[string]string) string {
	for _, name := range c.ContactTags {
		if v := tags[name]; strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// warningStage is the highest warning stage reached at age, or StageOK.
// It takes the highest warning day ≤ age, so even unsorted WarnDays in an
// invalid config give the stage a sorted list would.
func (c Config) warningStage(age int) Stage {
	best := 0
	for _, w := range c.WarnDays {
		if w > 0 && w <= age && w > best {
			best = w
		}
	}
	if best == 0 {
		return StageOK
	}
	return WarningStage(best)
}

// rotates says whether the user opted into rotation; why not, when the tag
// is there; or, with rotation on, the problem when the tag's value is
// neither true nor false.
func (c Config) rotates(tags map[string]string) (rotates bool, why, problem string) {
	v, ok := tags[c.RotationTag]
	if c.RotationTag == "" || !ok {
		return false, "", ""
	}
	on, readable := TagFlag(v)
	switch {
	case !readable && c.RotationDays > 0:
		return false, "", fmt.Sprintf("tag %s is %q, neither true nor false: not rotated; only \"true\" opts in", c.RotationTag, v)
	case !readable:
		return false, fmt.Sprintf("not rotated: tag %s is %q; only \"true\" opts in", c.RotationTag, v), ""
	case on && c.RotationDays <= 0:
		return false, fmt.Sprintf("not rotated: tag %s is \"true\" but rotationDays is 0 (rotation off)", c.RotationTag), ""
	}
	return on, "", ""
}
