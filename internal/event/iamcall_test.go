package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/keywarden/keywarden/internal/golden"
)

// The tamper watch's CloudTrail samples, one per call it reads.
var iamCallSamples = []string{
	"cloudtrail-update-access-key.json",
	"cloudtrail-delete-user-policy.json",
	"cloudtrail-put-user-policy.json",
	"cloudtrail-put-user-policy-keywarden.json",
	"cloudtrail-tag-user.json",
	"cloudtrail-untag-user.json",
	"cloudtrail-detach-user-policy.json",
	sampleCreated,
}

func TestIAMCallSamples(t *testing.T) {
	for _, name := range iamCallSamples {
		t.Run(name, func(t *testing.T) {
			c, err := ParseIAMCall(creationSample(t, name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "iamcall-"+strings.TrimPrefix(name, "cloudtrail-")), append(got, '\n'))
		})
	}
}

// mutateCall returns a sample with its envelope and detail changed by f.
func mutateCall(t *testing.T, sample string, f func(env, detail, params map[string]any)) []byte {
	t.Helper()
	return mutateCreation(t, sample, func(env, d map[string]any) {
		params, _ := d["requestParameters"].(map[string]any)
		f(env, d, params)
	})
}

func TestIAMCallFields(t *testing.T) {
	// The session's role, with its path, is read from sessionIssuer.
	c, err := ParseIAMCall(creationSample(t, "cloudtrail-put-user-policy-keywarden.json"))
	if err != nil || c.Caller.RoleARN != "arn:aws:iam::123456789012:role/keywarden-RevokeFunctionRole" || c.Caller.Type != "AssumedRole" {
		t.Errorf("keywarden's own write: %+v, %v", c.Caller, err)
	}
	c, err = ParseIAMCall(creationSample(t, "cloudtrail-delete-user-policy.json"))
	if err != nil || !strings.HasSuffix(c.Caller.RoleARN, ":role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b") {
		t.Errorf("an SSO session: %+v, %v", c.Caller, err)
	}
	// An IAM user acting on its own key names no user: the caller is it.
	c, err = ParseIAMCall(mutateCall(t, "cloudtrail-update-access-key.json", func(_, _, p map[string]any) { delete(p, "userName") }))
	if err != nil || c.User != "admin-mallory" {
		t.Errorf("own key: user %q, %v", c.User, err)
	}
	// Root acting on its own key.
	c, err = ParseIAMCall(mutateCall(t, "cloudtrail-update-access-key.json", func(_, d, p map[string]any) {
		delete(p, "userName")
		d["userIdentity"] = map[string]any{"type": "Root", "arn": "arn:aws:iam::123456789012:root", "accountId": "123456789012"}
	}))
	if err != nil || c.User != RootUserName {
		t.Errorf("root's own key: user %q, %v", c.User, err)
	}
	// A refused call is read, with its error code.
	c, err = ParseIAMCall(mutateCall(t, "cloudtrail-update-access-key.json", func(_, d, _ map[string]any) { d["errorCode"] = "NoSuchEntity" }))
	if err != nil || c.ErrorCode != "NoSuchEntity" {
		t.Errorf("refused call: %+v, %v", c, err)
	}
	// A record with no eventID takes the envelope's id.
	c, err = ParseIAMCall(mutateCall(t, "cloudtrail-untag-user.json", func(_, d, _ map[string]any) { delete(d, "eventID") }))
	if err != nil || c.EventID != "d5f7a9b1-0e2a-4f3b-b4c5-d6e7f8a9b0c6" {
		t.Errorf("event id: %q, %v", c.EventID, err)
	}
	// The policy document is never kept.
	c, err = ParseIAMCall(creationSample(t, "cloudtrail-put-user-policy.json"))
	if out, _ := json.Marshal(c); err != nil || bytes.Contains(out, []byte(`Allow`)) {
		t.Errorf("the policy document came out: %s, %v", out, err)
	}
	// Free text is cleaned.
	c, err = ParseIAMCall(mutateCall(t, "cloudtrail-tag-user.json", func(_, d, p map[string]any) {
		d["userAgent"] = "curl\r\nX-Injected: 1"
		p["tags"] = []any{map[string]any{"key": "keywarden:exempt", "value": "2027-01-01\nSubject: all clear"}}
	}))
	if err != nil || strings.ContainsAny(c.UserAgent+c.Tags[0].Value, "\r\n") {
		t.Errorf("free text: %+v, %v", c, err)
	}
}

func TestIAMCallRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sample string
		f      func(env, detail, params map[string]any)
		want   error
		says   string
	}{
		{"another service", "cloudtrail-tag-user.json", func(_, d, _ map[string]any) { d["eventSource"] = "s3.amazonaws.com" }, ErrUnsupported, "s3.amazonaws.com"},
		{"another call", "cloudtrail-tag-user.json", func(_, d, _ map[string]any) { d["eventName"] = "DeleteUser" }, ErrUnsupported, `"DeleteUser"`},
		{"another source", "cloudtrail-tag-user.json", func(env, _, _ map[string]any) { env["source"] = "aws.ec2" }, ErrUnsupported, "aws.ec2"},
		{"another account's record", "cloudtrail-tag-user.json", func(_, d, _ map[string]any) { d["recipientAccountId"] = "210987654321" }, ErrInvalid, "210987654321"},
		{"no eventTime", "cloudtrail-tag-user.json", func(_, d, _ map[string]any) { delete(d, "eventTime") }, ErrInvalid, "no eventTime"},
		{"caller not an ARN", "cloudtrail-tag-user.json", func(_, d, _ map[string]any) { d["userIdentity"].(map[string]any)["arn"] = "mallory" }, ErrInvalid, "not an IAM or STS ARN"},
		{"status neither", "cloudtrail-update-access-key.json", func(_, _, p map[string]any) { p["status"] = "active" }, ErrInvalid, "neither Active nor Inactive"},
		{"key id malformed", "cloudtrail-update-access-key.json", func(_, _, p map[string]any) { p["accessKeyId"] = "akia-1" }, ErrInvalid, "not an access key id"},
		{"role session on no user", "cloudtrail-update-access-key.json", func(_, d, p map[string]any) {
			delete(p, "userName")
			d["userIdentity"] = map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/admin/s"}
		}, ErrInvalid, "names no user"},
		{"hostile user name", "cloudtrail-delete-user-policy.json", func(_, _, p map[string]any) { p["userName"] = "bob\nSubject: x" }, ErrInvalid, "not a valid IAM user name"},
		{"policy on no user", "cloudtrail-delete-user-policy.json", func(_, _, p map[string]any) { delete(p, "userName") }, ErrInvalid, "names no user"},
		{"policy name malformed", "cloudtrail-put-user-policy.json", func(_, _, p map[string]any) { p["policyName"] = "a b" }, ErrInvalid, "not a valid inline policy name"},
		{"detach on no user", "cloudtrail-detach-user-policy.json", func(_, _, p map[string]any) { delete(p, "userName") }, ErrInvalid, "names no user"},
		{"detach of a policy name", "cloudtrail-detach-user-policy.json", func(_, _, p map[string]any) { p["policyArn"] = "keywarden-deny" }, ErrInvalid, "not a managed policy's ARN"},
		{"detach of a role ARN", "cloudtrail-detach-user-policy.json", func(_, _, p map[string]any) {
			p["policyArn"] = "arn:aws:iam::123456789012:role/keywarden-deny"
		}, ErrInvalid, "not a managed policy's ARN"},
		{"detach of an ARN with a line break", "cloudtrail-detach-user-policy.json", func(_, _, p map[string]any) {
			p["policyArn"] = "arn:aws:iam::123456789012:policy/a\nSubject: x"
		}, ErrInvalid, "not a managed policy's ARN"},
		{"no tags", "cloudtrail-tag-user.json", func(_, _, p map[string]any) { p["tags"] = []any{} }, ErrInvalid, "carries 0 tags"},
		{"a blank tag key", "cloudtrail-tag-user.json", func(_, _, p map[string]any) { p["tags"] = []any{map[string]any{"key": "", "value": "x"}} }, ErrInvalid, "tag key"},
		{"a tag key with a line break", "cloudtrail-tag-user.json", func(_, _, p map[string]any) {
			p["tags"] = []any{map[string]any{"key": "UserType\n", "value": "x"}}
		}, ErrInvalid, "tag key"},
		{"a tag value too long", "cloudtrail-tag-user.json", func(_, _, p map[string]any) {
			p["tags"] = []any{map[string]any{"key": "UserType", "value": strings.Repeat("é", 257)}}
		}, ErrInvalid, "257 characters"},
		{"tag keys not strings", "cloudtrail-untag-user.json", func(_, _, p map[string]any) { p["tagKeys"] = []any{1} }, ErrInvalid, "detail"},
		{"session issuer not an ARN", "cloudtrail-delete-user-policy.json", func(_, d, _ map[string]any) {
			d["userIdentity"].(map[string]any)["sessionContext"].(map[string]any)["sessionIssuer"].(map[string]any)["arn"] = "admin"
		}, ErrInvalid, "sessionIssuer"},
		{"no request parameters", "cloudtrail-untag-user.json", func(_, d, _ map[string]any) { d["requestParameters"] = nil }, ErrInvalid, "no requestParameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseIAMCall(mutateCall(t, tc.sample, tc.f))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("err = %v, want %v saying %q", err, tc.want, tc.says)
			}
			if c.EventName != "" {
				t.Errorf("an error came with a result: %+v", c)
			}
		})
	}
}

// A session issued by a user (federation) is no role: read, but no
// RoleARN.
func TestIAMCallUserSessionIssuer(t *testing.T) {
	c, err := ParseIAMCall(mutateCall(t, "cloudtrail-tag-user.json", func(_, d, _ map[string]any) {
		d["userIdentity"] = map[string]any{"type": "FederatedUser", "arn": "arn:aws:sts::123456789012:federated-user/bob",
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/bob"}}}
	}))
	if err != nil || c.Caller.RoleARN != "" || c.Caller.Type != "FederatedUser" {
		t.Errorf("federated user: %+v, %v", c.Caller, err)
	}
}

// Every tamper sample parses; every tamper case of the bad-input corpus is
// refused with a named error.
func TestIAMCallCorpus(t *testing.T) {
	for _, name := range iamCallSamples {
		if _, err := ParseIAMCall(creationSample(t, name)); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
	bad, _ := filepath.Glob(filepath.Join("..", "..", "events", "bad", "tamper-*.json"))
	if len(bad) < 10 {
		t.Fatalf("%d tamper cases in events/bad, want at least 10", len(bad))
	}
	for _, path := range bad {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseIAMCall(raw); !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: err = %v, want a named error", filepath.Base(path), err)
		}
	}
}

const policyCanary = "KEYWARDEN-POLICY-DOCUMENT-CANARY"

func FuzzParseIAMCall(f *testing.F) {
	for _, name := range append(iamCallSamples, "trusted-advisor-exposed-key.json") {
		f.Add(creationSample(f, name))
	}
	bad, _ := filepath.Glob(filepath.Join("..", "..", "events", "bad", "tamper-*.json"))
	for _, path := range bad {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := ParseIAMCall(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("unnamed error: %v", err)
			}
			if c.EventName != "" || c.User != "" || len(c.Tags) > 0 {
				t.Fatalf("an error came with a result: %+v", c)
			}
			return
		}
		checkCall(t, c)
		// A policy document is never kept, whatever it holds.
		if planted, ok := plantPolicy(raw); ok {
			if c, err := ParseIAMCall(planted); err == nil {
				if out, _ := json.Marshal(c); bytes.Contains(out, []byte(policyCanary)) {
					t.Fatalf("the output carries the policy document: %s", out)
				}
			}
		}
	})
}

// checkCall is what every accepted call holds.
func checkCall(t *testing.T, c IAMCall) {
	t.Helper()
	if !accountPattern.MatchString(c.Account) {
		t.Fatalf("account %q", c.Account)
	}
	if !IsTamperEventName(c.EventName) && c.EventName != EventNameCreateAccessKey {
		t.Fatalf("event %q", c.EventName)
	}
	if c.EventTime.IsZero() || c.Caller.ARN == "" {
		t.Fatalf("no time or caller: %+v", c)
	}
	if c.User != "" && c.User != RootUserName && !userNamePattern.MatchString(c.User) {
		t.Fatalf("user %q", c.User)
	}
	switch c.EventName {
	case EventNameUpdateAccessKey:
		if !keyIDPattern.MatchString(c.AccessKeyID) || (c.Status != KeyStatusActive && c.Status != KeyStatusInactive) || c.User == "" {
			t.Fatalf("key update %+v", c)
		}
	case EventNamePutUserPolicy, EventNameDeleteUserPolicy:
		if c.User == "" || !policyNamePattern.MatchString(c.PolicyName) {
			t.Fatalf("policy call %+v", c)
		}
	case EventNameDetachUserPolicy:
		if c.User == "" || !policyARNPattern.MatchString(c.PolicyArn) {
			t.Fatalf("detach call %+v", c)
		}
	case EventNameTagUser:
		if c.User == "" || len(c.Tags) == 0 {
			t.Fatalf("tag call %+v", c)
		}
	case EventNameUntagUser:
		if c.User == "" || len(c.TagKeys) == 0 {
			t.Fatalf("untag call %+v", c)
		}
	}
	for _, s := range []string{c.Caller.Type, c.Caller.UserName, c.SourceIP, c.UserAgent, c.EventID, c.Region, c.ErrorCode} {
		for _, r := range s {
			if unicode.IsControl(r) || r == '\u2028' {
				t.Fatalf("a control character reached the call: %q", s)
			}
		}
	}
}

// plantPolicy puts the canary in the record's policy document.
func plantPolicy(raw []byte) ([]byte, bool) {
	var env map[string]any
	if json.Unmarshal(raw, &env) != nil {
		return nil, false
	}
	d, _ := env["detail"].(map[string]any)
	p, _ := d["requestParameters"].(map[string]any)
	if p == nil {
		return nil, false
	}
	p["policyDocument"] = `{"Statement":[{"Sid":"` + policyCanary + `"}]}`
	b, err := json.Marshal(env)
	return b, err == nil
}
