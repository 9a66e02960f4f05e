package localaws

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"
)

// base32Upper is the alphabet of AWS's unique ids (AKIA…, AIDA…).
const base32Upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

// newID returns prefix followed by n characters of base32Upper, drawn from
// the seeded generator so reruns produce the same ids. Callers hold s.mu.
func (s *Server) newID(prefix string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = base32Upper[s.idRand.IntN(len(base32Upper))]
	}
	return prefix + string(b)
}

// newAccessKeyID returns an unused key id shaped like AWS's: AKIA + 16.
// Callers hold s.mu.
func (s *Server) newAccessKeyID() string {
	for {
		id := s.newID("AKIA", 16)
		if _, taken := s.iam.keys[id]; !taken && s.keyIDFree(id) {
			return id
		}
	}
}

// keyIDFree reports whether no other account of s's Organization holds id:
// its front routes requests by key id, so ids are unique across accounts.
// Callers hold s.mu.
func (s *Server) keyIDFree(id string) bool {
	if _, taken := s.sessions[id]; taken || id == s.rootKeyID {
		return false
	}
	return s.org == nil || s.org.keyOwner(id) == nil
}

// claimKeyID routes id to s at the Organization's front. Callers hold s.mu.
func (s *Server) claimKeyID(id string) {
	if s.org != nil {
		s.org.claimKey(id, s)
	}
}

// newUUID returns a version 4 UUID from the seeded generator, for request,
// message and event ids. Callers hold s.mu.
func (s *Server) newUUID() string {
	hi, lo := s.idRand.Uint64(), s.idRand.Uint64()
	hi = hi&^0xf000 | 0x4000     // version 4
	lo = lo&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

// newSecretAccessKey returns 40 random characters. Secrets come from
// crypto/rand, never from the seeded generator: a reproducible secret would
// be a known secret.
func newSecretAccessKey() (string, error) {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate secret access key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
