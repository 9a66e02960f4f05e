package member

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// STS's limits on RoleSessionName and SourceIdentity: 2 to 64 characters
// of [\w+=,.@-].
const (
	minSessionName = 2
	maxSessionName = 64
	// hashLength hex characters of SHA-256 (48 bits) keep altered names
	// apart: two executions collide by chance once in about 10^14 pairs.
	hashLength = 12
)

// ErrNoExecution: an empty execution name, from which no session can be
// named.
var ErrNoExecution = errors.New("no execution name for the member session")

// SessionName is the session name and source identity of an execution's
// member sessions, which the member's CloudTrail shows on every call:
//
//   - the execution name itself when STS accepts it as is, which is the
//     usual case (exposed-<account>-<user>-<key> holds only [\w+=,.@-]
//     when the user name is an IAM user name), so a person searching the
//     member's CloudTrail for the execution finds it;
//   - otherwise the name with each other character replaced by "-", cut
//     to leave room, then "-" and 12 hex characters of the SHA-256 of the
//     whole execution name. The hash keeps names distinct that the
//     replacement or the cut would merge (two long names with the same
//     first 51 characters; "a b" and "a:b"), so one session in CloudTrail
//     still means one execution. The result never starts with "aws:",
//     which STS refuses in a source identity, since ":" is replaced.
//
// The same execution always gives the same name.
func SessionName(execution string) (string, error) {
	if execution == "" {
		return "", ErrNoExecution
	}
	var b strings.Builder
	for _, r := range execution {
		if sessionChar(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := b.String()
	if name == execution && len(name) >= minSessionName && len(name) <= maxSessionName {
		return name, nil
	}
	sum := sha256.Sum256([]byte(execution))
	suffix := "-" + hex.EncodeToString(sum[:])[:hashLength]
	if keep := maxSessionName - len(suffix); len(name) > keep {
		name = name[:keep] // only ASCII is left, so bytes are characters
	}
	return name + suffix, nil
}

// sessionChar reports whether STS accepts r in a session name: \w (ASCII
// letters, digits, _) and +=,.@-.
func sessionChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("_+=,.@-", r)
}
