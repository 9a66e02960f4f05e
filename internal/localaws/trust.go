package localaws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Role trust policies, evaluated for sts:AssumeRole.
//
// localaws evaluates exactly the trust policies keywarden's member roles
// use, and refuses every other form when the role is created, so that a
// policy it does not understand can never be silently allowed:
//   - Effect Allow or Deny; an explicit Deny wins.
//   - Principal {"AWS": ...}: an account ("123456789012" or
//     "arn:aws:iam::123456789012:root", any principal of that account), a
//     role ARN (its sessions) or a user ARN; or {"Service": ...}, a service
//     such as lambda.amazonaws.com, which no AssumeRole call matches: only
//     ServiceCredentials assumes such a role, as Lambda assumes a
//     function's execution role.
//   - Action sts:AssumeRole and sts:SetSourceIdentity.
//   - Condition operators ArnLike, ArnEquals, StringEquals, StringLike and
//     Null on aws:PrincipalArn, aws:PrincipalOrgID, aws:PrincipalAccount,
//     sts:SourceIdentity and sts:ExternalId.
//
// Identity policies of the caller are not evaluated: a caller is assumed
// allowed to call sts:AssumeRole by its own account.

// trustPolicy is a parsed role trust policy.
type trustPolicy struct {
	statements []trustStatement
}

type trustStatement struct {
	deny       bool
	principals []string // account ids (12 digits) or role/user ARNs
	services   []string // service principals (lambda.amazonaws.com)
	actions    []string // lower case
	conditions []trustCondition
}

type trustCondition struct {
	op     string
	key    string // lower case
	values []string
}

// trustContext is what a trust policy is evaluated against.
type trustContext struct {
	callerAccount  string
	principalARN   string // aws:PrincipalArn: a role session's role ARN
	orgID          string // aws:PrincipalOrgID; empty outside an organization
	sourceIdentity string // sts:SourceIdentity; empty when not set
	externalID     string // sts:ExternalId; empty when not given
	// service is the service principal assuming the role (ServiceCredentials);
	// empty for an AssumeRole call, which no Service principal matches.
	service string
}

var (
	trustActions         = map[string]bool{"sts:assumerole": true, "sts:setsourceidentity": true}
	trustOperators       = map[string]bool{"ArnLike": true, "ArnEquals": true, "StringEquals": true, "StringLike": true, "Null": true}
	trustConditionKey    = map[string]bool{"aws:principalarn": true, "aws:principalorgid": true, "aws:principalaccount": true, "sts:sourceidentity": true, "sts:externalid": true}
	servicePrincipalForm = regexp.MustCompile(`^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com$`)
	principalARNForm     = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}):(root|(role|user)(/|/[\x21-\x7E]+/)[\w+=,.@-]+)$`)
)

// parseTrustPolicy reads doc strictly: any element localaws does not
// evaluate is an error naming it.
func parseTrustPolicy(doc string) (*trustPolicy, error) {
	var top map[string]json.RawMessage
	if err := strictJSON(doc, &top); err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	var rawStatements []json.RawMessage
	for k, v := range top {
		switch k {
		case "Version":
			var version string
			if err := json.Unmarshal(v, &version); err != nil || (version != "2012-10-17" && version != "2008-10-17") {
				return nil, fmt.Errorf("trust policy: Version %s: want 2012-10-17", v)
			}
		case "Id":
		case "Statement":
			list, err := oneOrMany[json.RawMessage](v)
			if err != nil {
				return nil, fmt.Errorf("trust policy: Statement: %w", err)
			}
			rawStatements = list
		default:
			return nil, fmt.Errorf("trust policy: element %q is not emulated by localaws", k)
		}
	}
	if len(rawStatements) == 0 {
		return nil, fmt.Errorf("trust policy: no Statement")
	}
	p := &trustPolicy{}
	for i, raw := range rawStatements {
		st, err := parseTrustStatement(raw)
		if err != nil {
			return nil, fmt.Errorf("trust policy: statement %d: %w", i+1, err)
		}
		p.statements = append(p.statements, st)
	}
	return p, nil
}

func parseTrustStatement(raw json.RawMessage) (trustStatement, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return trustStatement{}, fmt.Errorf("not an object: %w", err)
	}
	var st trustStatement
	var haveEffect, havePrincipal, haveAction bool
	for k, v := range fields {
		switch k {
		case "Sid":
		case "Effect":
			var effect string
			if err := json.Unmarshal(v, &effect); err != nil || (effect != "Allow" && effect != "Deny") {
				return st, fmt.Errorf("element Effect %s: want Allow or Deny", v)
			}
			st.deny, haveEffect = effect == "Deny", true
		case "Principal":
			var p map[string]json.RawMessage
			if err := json.Unmarshal(v, &p); err != nil {
				return st, fmt.Errorf("element Principal %s: localaws emulates only {\"AWS\": ...} and {\"Service\": ...}", v)
			}
			for kind, list := range p {
				if kind != "AWS" && kind != "Service" {
					return st, fmt.Errorf("element Principal %q is not emulated by localaws (only AWS and Service)", kind)
				}
				values, err := oneOrMany[string](list)
				if err != nil {
					return st, fmt.Errorf("element Principal %s: %w", kind, err)
				}
				if kind == "Service" {
					for _, v := range values {
						if !servicePrincipalForm.MatchString(v) {
							return st, fmt.Errorf("element Principal Service %q is not a service principal", v)
						}
					}
					st.services = append(st.services, values...)
					continue
				}
				for _, v := range values {
					id, err := trustPrincipal(v)
					if err != nil {
						return st, err
					}
					st.principals = append(st.principals, id)
				}
			}
			havePrincipal = len(st.principals)+len(st.services) > 0
		case "Action":
			values, err := oneOrMany[string](v)
			if err != nil {
				return st, fmt.Errorf("element Action: %w", err)
			}
			for _, a := range values {
				if !trustActions[strings.ToLower(a)] {
					return st, fmt.Errorf("element Action %q is not emulated by localaws (only sts:AssumeRole, sts:SetSourceIdentity)", a)
				}
				st.actions = append(st.actions, strings.ToLower(a))
			}
			haveAction = len(st.actions) > 0
		case "Condition":
			conds, err := parseTrustConditions(v)
			if err != nil {
				return st, err
			}
			st.conditions = conds
		default:
			return st, fmt.Errorf("element %q is not emulated by localaws", k)
		}
	}
	if !haveEffect || !havePrincipal || !haveAction {
		return st, fmt.Errorf("a trust policy statement needs Effect, Principal and Action")
	}
	return st, nil
}

// trustPrincipal normalizes an AWS principal: an account (by id or root ARN)
// becomes its id, a role or user ARN stays as written.
func trustPrincipal(v string) (string, error) {
	if accountIDPattern.MatchString(v) {
		return v, nil
	}
	m := principalARNForm.FindStringSubmatch(v)
	if m == nil {
		return "", fmt.Errorf("element Principal AWS %q is not emulated by localaws (an account id, or an arn:aws:iam:: root, role or user ARN)", v)
	}
	if m[2] == "root" {
		return m[1], nil
	}
	return v, nil
}

func parseTrustConditions(raw json.RawMessage) ([]trustCondition, error) {
	var byOp map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &byOp); err != nil {
		return nil, fmt.Errorf("element Condition: %w", err)
	}
	var out []trustCondition
	for op, byKey := range byOp {
		if !trustOperators[op] {
			return nil, fmt.Errorf("element Condition operator %q is not emulated by localaws (ArnLike, ArnEquals, StringEquals, StringLike, Null)", op)
		}
		for key, v := range byKey {
			if !trustConditionKey[strings.ToLower(key)] {
				return nil, fmt.Errorf("element Condition key %q is not emulated by localaws (aws:PrincipalArn, aws:PrincipalOrgID, aws:PrincipalAccount, sts:SourceIdentity, sts:ExternalId)", key)
			}
			var values []string
			if op == "Null" {
				var b bool
				if err := json.Unmarshal(v, &b); err == nil {
					values = []string{fmt.Sprint(b)}
				}
			}
			if values == nil {
				list, err := oneOrMany[string](v)
				if err != nil {
					return nil, fmt.Errorf("element Condition %s %s: %w", op, key, err)
				}
				values = list
			}
			if op == "Null" && (len(values) != 1 || (values[0] != "true" && values[0] != "false")) {
				return nil, fmt.Errorf("element Condition Null %s: want true or false", key)
			}
			out = append(out, trustCondition{op: op, key: strings.ToLower(key), values: values})
		}
	}
	return out, nil
}

// allows decides action (lower case) for ctx: false when a matching Deny
// statement exists or no Allow statement matches.
func (p *trustPolicy) allows(action string, ctx trustContext) bool {
	allowed := false
	for _, st := range p.statements {
		if !st.matches(action, ctx) {
			continue
		}
		if st.deny {
			return false
		}
		allowed = true
	}
	return allowed
}

func (st trustStatement) matches(action string, ctx trustContext) bool {
	actionOK := false
	for _, a := range st.actions {
		actionOK = actionOK || a == action
	}
	principalOK := false
	for _, pr := range st.principals {
		principalOK = principalOK || (ctx.service == "" && (pr == ctx.callerAccount || pr == ctx.principalARN))
	}
	for _, svc := range st.services {
		principalOK = principalOK || (ctx.service != "" && svc == ctx.service)
	}
	if !actionOK || !principalOK {
		return false
	}
	for _, c := range st.conditions {
		if !c.holds(ctx) {
			return false
		}
	}
	return true
}

// value is the condition key's value in ctx and whether it is present.
func (c trustCondition) value(ctx trustContext) (string, bool) {
	var v string
	switch c.key {
	case "aws:principalarn":
		v = ctx.principalARN
	case "aws:principalaccount":
		v = ctx.callerAccount
	case "aws:principalorgid":
		v = ctx.orgID
	case "sts:sourceidentity":
		v = ctx.sourceIdentity
	case "sts:externalid":
		v = ctx.externalID
	}
	return v, v != ""
}

// holds evaluates the condition: any of its values may match; a key absent
// from the request matches nothing but Null true.
func (c trustCondition) holds(ctx trustContext) bool {
	v, present := c.value(ctx)
	if c.op == "Null" {
		return (c.values[0] == "true") == !present
	}
	if !present {
		return false
	}
	for _, want := range c.values {
		switch c.op {
		case "StringEquals":
			if v == want {
				return true
			}
		case "StringLike":
			if globMatch(want, v) {
				return true
			}
		case "ArnLike", "ArnEquals":
			if arnMatch(want, v) {
				return true
			}
		}
	}
	return false
}

// arnMatch matches an ARN against a pattern part by part (the six
// colon-separated parts), each with * and ? wildcards, as IAM's ArnLike and
// ArnEquals do.
func arnMatch(pattern, arn string) bool {
	pp, ap := strings.SplitN(pattern, ":", 6), strings.SplitN(arn, ":", 6)
	if len(pp) != 6 || len(ap) != 6 {
		return false
	}
	for i := range pp {
		if !globMatch(pp[i], ap[i]) {
			return false
		}
	}
	return true
}

// globMatch matches s against a pattern where * is any run of characters
// (slashes included, unlike path.Match) and ? any one byte; nothing else is
// syntax.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// oneOrMany decodes a JSON value that IAM accepts as one item or a list.
func oneOrMany[T any](raw json.RawMessage) ([]T, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var list []T
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, err
		}
		return list, nil
	}
	var one T
	if err := json.Unmarshal(raw, &one); err != nil {
		return nil, err
	}
	return []T{one}, nil
}

// strictJSON decodes one JSON document and nothing after it.
func strictJSON(doc string, v any) error {
	dec := json.NewDecoder(strings.NewReader(doc))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON document")
	}
	return nil
}
