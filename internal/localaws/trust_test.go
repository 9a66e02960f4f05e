package localaws

import (
	"strings"
	"testing"
)

// Every form of trust policy localaws does not evaluate is refused at
// CreateRole, naming what it cannot evaluate.
func TestTrustPolicyRefusesWhatItDoesNotEvaluate(t *testing.T) {
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":[` + s + `]}` }
	const p = `"Principal":{"AWS":"111111111111"}`
	for _, tc := range []struct{ name, doc, says string }{
		{"not JSON", `{`, "trust policy"},
		{"no statement", `{"Version":"2012-10-17"}`, "no Statement"},
		{"old version", `{"Version":"2001-01-01","Statement":[]}`, "Version"},
		{"unknown top element", `{"Statement":[],"Foo":1}`, `"Foo"`},
		{"service principal not a service", stmt(`{"Effect":"Allow","Principal":{"Service":"lambda"},"Action":"sts:AssumeRole"}`), "service principal"},
		{"federated principal", stmt(`{"Effect":"Allow","Principal":{"Federated":"x"},"Action":"sts:AssumeRole"}`), `"Federated"`},
		{"wildcard principal", stmt(`{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}`), "Principal"},
		{"AWS wildcard principal", stmt(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}`), `"*"`},
		{"session principal", stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111111111111:assumed-role/r/s"},"Action":"sts:AssumeRole"}`), "assumed-role"},
		{"NotPrincipal", stmt(`{"Effect":"Deny","NotPrincipal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}`), `"NotPrincipal"`},
		{"NotAction", stmt(`{"Effect":"Allow",` + p + `,"NotAction":"sts:TagSession"}`), `"NotAction"`},
		{"Resource", stmt(`{"Effect":"Allow",` + p + `,"Action":"sts:AssumeRole","Resource":"*"}`), `"Resource"`},
		{"TagSession", stmt(`{"Effect":"Allow",` + p + `,"Action":["sts:AssumeRole","sts:TagSession"]}`), "sts:TagSession"},
		{"action wildcard", stmt(`{"Effect":"Allow",` + p + `,"Action":"sts:*"}`), "sts:*"},
		{"no action", stmt(`{"Effect":"Allow",` + p + `}`), "needs Effect, Principal and Action"},
		{"bad effect", stmt(`{"Effect":"Maybe",` + p + `,"Action":"sts:AssumeRole"}`), "Effect"},
		{"negated operator", stmt(`{"Effect":"Allow",` + p + `,"Action":"sts:AssumeRole","Condition":{"StringNotEquals":{"sts:ExternalId":"x"}}}`), "StringNotEquals"},
		{"IfExists", stmt(`{"Effect":"Allow",` + p + `,"Action":"sts:AssumeRole","Condition":{"StringEqualsIfExists":{"sts:ExternalId":"x"}}}`), "StringEqualsIfExists"},
		{"set operator", stmt(`{"Effect":"Allow",` + p + `,"Action":"sts:AssumeRole","Condition":{"ForAnyValue:StringLike":{"aws:PrincipalArn":"x"}}}`), "ForAnyValue:StringLike"},
		{"other key", stmt(`{"Effect":"Allow",` + p + `,"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceIp":"10.0.0.1"}}}`), "aws:SourceIp"},
		{"Null not boolean", stmt(`{"Effect":"Allow",` + p + `,"Action":"sts:AssumeRole","Condition":{"Null":{"sts:SourceIdentity":"maybe"}}}`), "Null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, Options{})
			_, err := s.CreateRole(Role{Name: "r", TrustPolicy: tc.doc})
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("CreateRole error = %v; want one naming %s", err, tc.says)
			}
		})
	}
}

func TestTrustConditionMatching(t *testing.T) {
	ctx := trustContext{callerAccount: "111111111111", principalARN: "arn:aws:iam::111111111111:role/keywarden/hub-respond", orgID: "o-abc", sourceIdentity: "exec-1"}
	for _, tc := range []struct {
		op, key string
		values  []string
		want    bool
	}{
		{"ArnLike", "aws:principalarn", []string{"arn:aws:iam::111111111111:role/keywarden/*"}, true},
		{"ArnLike", "aws:principalarn", []string{"arn:aws:iam::*:role/keywarden/hub-*"}, true},
		{"ArnLike", "aws:principalarn", []string{"arn:aws:iam::111111111111:role/hub-respond"}, false},
		{"ArnLike", "aws:principalarn", []string{"arn:aws:iam::222222222222:role/*", "arn:aws:iam::111111111111:role/*"}, true},
		{"ArnLike", "aws:principalarn", []string{"arn:aws:iam::11111111111?:role/keywarden/hub-respond"}, true},
		{"ArnLike", "aws:principalarn", []string{"arn:aws:iam::111111111111"}, false},
		{"ArnEquals", "aws:principalarn", []string{"arn:aws:iam::111111111111:role/keywarden/hub-respond"}, true},
		{"ArnEquals", "aws:principalarn", []string{"arn:aws:iam::111111111111:role/keywarden/HUB-RESPOND"}, false},
		{"StringEquals", "aws:principalorgid", []string{"o-abc"}, true},
		{"StringEquals", "aws:principalorgid", []string{"o-ABC"}, false},
		{"StringEquals", "aws:principalaccount", []string{"111111111111"}, true},
		{"StringLike", "sts:sourceidentity", []string{"exec-*"}, true},
		{"StringLike", "sts:sourceidentity", []string{"exec-?"}, true},
		{"StringLike", "sts:sourceidentity", []string{"exec-??"}, false},
		{"StringEquals", "sts:externalid", []string{""}, false}, // absent key matches nothing
		{"Null", "sts:externalid", []string{"true"}, true},
		{"Null", "sts:sourceidentity", []string{"true"}, false},
		{"Null", "sts:sourceidentity", []string{"false"}, true},
		{"Null", "aws:principalorgid", []string{"false"}, true},
	} {
		c := trustCondition{op: tc.op, key: tc.key, values: tc.values}
		if got := c.holds(ctx); got != tc.want {
			t.Errorf("%s %s %v = %v, want %v", tc.op, tc.key, tc.values, got, tc.want)
		}
	}
	outside := ctx
	outside.orgID = ""
	if (trustCondition{op: "Null", key: "aws:principalorgid", values: []string{"true"}}).holds(outside) != true {
		t.Error("Null true on aws:PrincipalOrgID outside an organization should hold")
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true}, {"*", "a/b:c", true}, {"a*c", "abbbc", true}, {"a*c", "abcd", false},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"*b*", "aaabaaa", true}, {"a[b]c", "a[b]c", true},
		{"a[b]c", "abc", false}, {"**x", "yx", true}, {"", "", true}, {"", "a", false},
	} {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}
