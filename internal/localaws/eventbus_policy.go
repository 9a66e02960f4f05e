package localaws

import (
	"encoding/json"
	"fmt"
	"strings"
)

// busAdmits returns nil when account may put events on the account's bus
// (the default bus or a custom one): always its own account; another when
// the bus's resource policy has an Allow statement for events:PutEvents
// that names it — Principal "*", {"AWS": "*"}, its id or its root ARN —
// and whose conditions hold. Conditions evaluated: StringEquals on
// aws:PrincipalOrgID and aws:PrincipalAccount. A statement with anything
// else does not apply, so a policy localaws does not understand refuses
// rather than admits; a Deny statement that applies refuses.
func (s *Server) busAdmits(bus, account string) error {
	s.mu.Lock()
	name, aerr := s.busNamed(bus)
	var policy string
	if b := s.events.buses[name]; aerr == nil && b != nil {
		policy = b.Policy
	}
	own := s.account
	s.mu.Unlock()
	if aerr != nil {
		return fmt.Errorf("%s", aerr.Message)
	}
	if account == own {
		return nil
	}
	orgID := ""
	if s.org != nil {
		orgID = s.org.orgIDOf(account)
	}
	allowed := false
	for _, st := range busPolicyStatements(policy) {
		if !st.applies(account, orgID) {
			continue
		}
		if st.Effect == "Deny" {
			allowed = false
			break
		}
		allowed = allowed || st.Effect == "Allow"
	}
	if !allowed {
		return fmt.Errorf("AccessDeniedException: account %s is not authorized to perform events:PutEvents on event bus %s of account %s", account, name, own)
	}
	return nil
}

type busStatement struct {
	Effect    string
	Principal json.RawMessage
	Action    json.RawMessage
	Condition map[string]map[string]json.RawMessage
	extra     bool // an element localaws does not evaluate
}

// busPolicyStatements reads a bus policy's statements (one or a list).
func busPolicyStatements(policy string) []busStatement {
	if policy == "" {
		return nil
	}
	var doc struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(policy), &doc) != nil {
		return nil
	}
	raws, err := oneOrMany[json.RawMessage](doc.Statement)
	if err != nil {
		return nil
	}
	var out []busStatement
	for _, raw := range raws {
		var fields map[string]json.RawMessage
		var st busStatement
		if json.Unmarshal(raw, &fields) != nil || json.Unmarshal(raw, &st) != nil {
			continue
		}
		for k := range fields {
			switch k {
			case "Sid", "Effect", "Principal", "Action", "Resource", "Condition":
			default:
				st.extra = true
			}
		}
		out = append(out, st)
	}
	return out
}

func (st busStatement) applies(account, orgID string) bool {
	if st.extra {
		return false
	}
	actions, err := oneOrMany[string](st.Action)
	if err != nil {
		return false
	}
	actionOK := false
	for _, a := range actions {
		actionOK = actionOK || strings.EqualFold(a, "events:PutEvents") || a == "events:*"
	}
	if !actionOK || !busPrincipalNames(st.Principal, account) {
		return false
	}
	for op, byKey := range st.Condition {
		if op != "StringEquals" {
			return false
		}
		for key, raw := range byKey {
			values, err := oneOrMany[string](raw)
			if err != nil {
				return false
			}
			var got string
			switch strings.ToLower(key) {
			case "aws:principalorgid":
				got = orgID
			case "aws:principalaccount":
				got = account
			default:
				return false
			}
			match := false
			for _, v := range values {
				match = match || (got != "" && v == got)
			}
			if !match {
				return false
			}
		}
	}
	return true
}

// busPrincipalNames reports whether a statement's Principal covers account.
func busPrincipalNames(raw json.RawMessage, account string) bool {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		return star == "*"
	}
	var byKind map[string]json.RawMessage
	if json.Unmarshal(raw, &byKind) != nil {
		return false
	}
	values, err := oneOrMany[string](byKind["AWS"])
	if err != nil {
		return false
	}
	for _, v := range values {
		if v == "*" || v == account || v == "arn:aws:iam::"+account+":root" {
			return true
		}
	}
	return false
}
