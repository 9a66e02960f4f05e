package policy

import "strings"

// TagValue is a tag value as keywarden compares it: without the white space
// around it and in lower case. People write "machine", "Machine", "MACHINE"
// and " machine " for one user type, and IAM keeps each as written. Every
// comparison of a user type, a yes/no flag or an exemption goes through
// TagValue, on both sides: the tag and the setting it is matched against.
func TagValue(v string) string {
	return strings.ToLower(strings.TrimSpace(v))
}

// TagFlag reads a yes/no tag value such as the rotation flag: on for
// "true", off for "false", as TagValue reads them. ok is false for any
// other value, which the caller reports as unreadable.
func TagFlag(v string) (on, ok bool) {
	switch TagValue(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// hasType reports whether a settings list of user types holds userType
// (already read with TagValue).
func hasType(list []string, userType string) bool {
	for _, t := range list {
		if TagValue(t) == userType {
			return true
		}
	}
	return false
}
