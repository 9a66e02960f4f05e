package localaws

import (
	"maps"
	"slices"
	"time"
)

// Call is one request the server answered, for assertions such as "no IAM
// write happened" or "the throttled attempts were retried".
type Call struct {
	Time        time.Time
	Service     string // signing name: iam, sts, sns, cloudtrail, events, ses, lambda, dynamodb, secretsmanager
	Operation   string // e.g. UpdateAccessKey; empty if the request named none
	ErrorCode   string // empty on success
	Status      int    // HTTP status answered
	AccessKeyID string // access key id that signed the call (an id, not a secret)
	Injected    bool   // the error came from an injected Fault
	// Caller is who signed the call: a user's or the root's ARN, or a role
	// session's (arn:aws:sts::<account>:assumed-role/<role>/<session>);
	// empty when the signature named no one the account admits.
	Caller string
	// SourceIdentity is a role session's source identity, as the account's
	// CloudTrail records it on every call of the session.
	SourceIdentity string
	// RoleArn is the role an sts:AssumeRole call asked for, whichever
	// account it is in and whether or not STS granted it.
	RoleArn string
}

// AccessKeyState is what the emulator knows of an access key, without its
// secret.
type AccessKeyState struct {
	ID              string
	User            string
	Status          string // Active or Inactive
	Created         time.Time
	Deleted         bool
	LastUsed        time.Time // zero if never used
	LastUsedRegion  string
	LastUsedService string
}

// Calls returns every request answered so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CloudTrailRecords returns the account's CloudTrail records (the
// CloudTrailEvent documents LookupEvents returns), in the order recorded.
func (s *Server) CloudTrailRecords() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.trail.events))
	for _, e := range s.trail.events {
		out = append(out, e.record)
	}
	return out
}

// Published returns the SNS messages published so far, oldest first.
func (s *Server) Published() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.sns.published)
	for i := range out {
		out[i].Attributes = maps.Clone(out[i].Attributes)
	}
	return out
}

// Emails returns the messages sent with SES v2 so far, oldest first.
func (s *Server) Emails() []Email {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.ses.emails)
	for i := range out {
		e := &out[i]
		e.To, e.Cc, e.Bcc, e.ReplyTo = slices.Clone(e.To), slices.Clone(e.Cc), slices.Clone(e.Bcc), slices.Clone(e.ReplyTo)
		e.Raw, e.Tags = slices.Clone(e.Raw), maps.Clone(e.Tags)
	}
	return out
}

// Deliveries returns the events handed to rule targets so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.events.deliveries)
	for i := range out {
		out[i].Event = slices.Clone(out[i].Event)
	}
	return out
}

// Invocations returns the Lambda invocations so far, oldest first.
func (s *Server) Invocations() []Invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lambda.invocations)
}

// AccessKey returns the state of key id; a deleted key is still found, with
// Deleted set.
func (s *Server) AccessKey(id string) (AccessKeyState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.iam.keys[id]
	if !ok {
		return AccessKeyState{}, false
	}
	return k.state(), true
}

// AccessKeys returns the keys user ever had, deleted ones included, oldest
// first; nil if there is no such user.
func (s *Server) AccessKeys(user string) []AccessKeyState {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.iam.users[user]
	if !ok {
		return nil
	}
	out := make([]AccessKeyState, 0, len(u.keyIDs))
	for _, id := range u.keyIDs {
		out = append(out, s.iam.keys[id].state())
	}
	return out
}

func (k *accessKey) state() AccessKeyState {
	st := AccessKeyState{ID: k.id, User: k.user, Status: k.status, Created: k.created, Deleted: k.deleted}
	if k.lastUsed != nil {
		st.LastUsed, st.LastUsedRegion, st.LastUsedService = k.lastUsed.date, k.lastUsed.region, k.lastUsed.service
	}
	return st
}

// UserPolicies returns user's inline policies, name to document; nil if
// there is no such user.
func (s *Server) UserPolicies(user string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.iam.users[user]
	if !ok {
		return nil
	}
	return maps.Clone(u.policies)
}

// UserTags returns user's tags, key to value; nil if there is no such user.
func (s *Server) UserTags(user string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.iam.users[user]
	if !ok {
		return nil
	}
	out := make(map[string]string, len(u.tags))
	for _, t := range u.tags {
		out[t.Key] = t.Value
	}
	return out
}

// IssuedSecrets returns the secret access key of every key the account
// ever had, deleted ones included. Like SecretFor, it exists only for the
// test that proves secrets never reach logs, alerts or outputs.
func (s *Server) IssuedSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.iam.keys))
	for _, k := range s.iam.keys {
		out = append(out, k.secret)
	}
	return out
}

// SecretFor returns the secret access key of key id. It exists only for the
// test that proves secrets never reach logs, alerts or outputs; nothing
// else should call it.
func (s *Server) SecretFor(keyID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.iam.keys[keyID]
	if !ok {
		return "", false
	}
	return k.secret, true
}
