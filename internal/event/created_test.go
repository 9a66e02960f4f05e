package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/golden"
)

const (
	sampleCreated           = "cloudtrail-create-access-key.json"
	sampleCreatedSelf       = "cloudtrail-create-access-key-self.json"
	sampleCreatedFailed     = "cloudtrail-create-access-key-failed.json"
	sampleCreatedUnreadable = "cloudtrail-create-access-key-unreadable-date.json"
	sampleCreatedRoot       = "cloudtrail-create-access-key-root.json"
)

func creationSample(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "samples", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// mutateCreation returns a CloudTrail sample with its envelope and detail
// changed by f.
func mutateCreation(t *testing.T, sample string, f func(env, detail map[string]any)) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(creationSample(t, sample), &env); err != nil {
		t.Fatal(err)
	}
	f(env, env["detail"].(map[string]any))
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// accessKey is the sample's responseElements.accessKey.
func accessKey(detail map[string]any) map[string]any {
	return detail["responseElements"].(map[string]any)["accessKey"].(map[string]any)
}

func TestKeyCreationSamples(t *testing.T) {
	for _, tc := range []struct {
		sample, golden string
		failed         bool
	}{
		{sampleCreated, "created-key.json", false},
		{sampleCreatedSelf, "created-self.json", false},
		{sampleCreatedFailed, "created-failed.json", true},
		{sampleCreatedUnreadable, "created-unreadable-date.json", false},
		{sampleCreatedRoot, "created-root.json", false},
	} {
		t.Run(tc.sample, func(t *testing.T) {
			c, err := ParseKeyCreation(creationSample(t, tc.sample))
			if err != nil {
				t.Fatal(err)
			}
			if c.Failed != tc.failed {
				t.Errorf("Failed = %v, want %v", c.Failed, tc.failed)
			}
			got, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tc.golden), append(got, '\n'))
		})
	}
}

func TestKeyCreationFields(t *testing.T) {
	c, err := ParseKeyCreation(creationSample(t, sampleCreated))
	if err != nil {
		t.Fatal(err)
	}
	want := KeyCreation{
		KeyID: "AKIAKEYWARDENBOB0001", User: "bob",
		CreatorARN: "arn:aws:iam::123456789012:user/admin-alice", CreatorType: "IAMUser",
		SourceIP:  "192.0.2.10",
		UserAgent: "aws-cli/2.17.42 md/awscrt#0.21.2 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/command#iam.create-access-key",
		CreatedAt: time.Date(2024, 9, 5, 18, 4, 50, 0, time.UTC),
		EventID:   "5d0f3a8e-7c21-4b9a-b6e4-2f18c9d07a55", EventTime: time.Date(2024, 9, 5, 18, 4, 50, 0, time.UTC),
		Account: "123456789012", Region: "us-east-1",
	}
	if c != want {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}

	c, err = ParseKeyCreation(creationSample(t, sampleCreatedFailed))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Failed || c.ErrorCode != "LimitExceeded" || c.KeyID != "" || c.User != "bob" || !c.CreatedAt.IsZero() ||
		c.EventTime != time.Date(2024, 9, 5, 18, 6, 12, 0, time.UTC) || c.CreatorARN != "arn:aws:iam::123456789012:user/admin-alice" {
		t.Errorf("failed call = %+v", c)
	}
}

func TestIsKeyCreation(t *testing.T) {
	for _, tc := range []struct {
		source, detailType string
		want               bool
	}{
		{SourceIAM, DetailTypeCloudTrail, true},
		{SourceIAMDrill, DetailTypeCloudTrail, true},
		{"aws.ec2", DetailTypeCloudTrail, false},
		{"awsmock.trustedadvisor", DetailTypeCloudTrail, false},
		{SourceIAM, "AWS Console Sign In via CloudTrail", false},
		{SourceIAM, "", false},
	} {
		if got := (Envelope{Source: tc.source, DetailType: tc.detailType}).IsKeyCreation(); got != tc.want {
			t.Errorf("IsKeyCreation(%q, %q) = %v, want %v", tc.source, tc.detailType, got, tc.want)
		}
	}
	for _, name := range []string{"trusted-advisor-exposed-key.json", "health-credentials-exposed.json", "unsupported-event.json"} {
		env, err := ParseEnvelope(creationSample(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if env.IsKeyCreation() {
			t.Errorf("%s is not a key creation", name)
		}
	}
}

func TestKeyCreationUser(t *testing.T) {
	for _, tc := range []struct {
		name   string
		raw    []byte
		user   string
		root   bool
		failed bool
	}{
		{"from the response", creationSample(t, sampleCreated), "bob", false, false},
		{"from the request", mutateCreation(t, sampleCreated, func(_, d map[string]any) {
			delete(accessKey(d), "userName")
		}), "bob", false, false},
		{"response spelling wins", mutateCreation(t, sampleCreated, func(_, d map[string]any) {
			d["requestParameters"] = map[string]any{"userName": "BOB"}
		}), "bob", false, false},
		{"self-service, named in the response", creationSample(t, sampleCreatedSelf), "carol", false, false},
		{"self-service, from the caller", mutateCreation(t, sampleCreatedSelf, func(_, d map[string]any) {
			delete(accessKey(d), "userName")
		}), "carol", false, false},
		{"self-service, requestParameters absent", mutateCreation(t, sampleCreatedSelf, func(_, d map[string]any) {
			delete(d, "requestParameters")
			delete(accessKey(d), "userName")
		}), "carol", false, false},
		{"root for itself", mutateCreation(t, sampleCreatedSelf, func(_, d map[string]any) {
			d["userIdentity"] = map[string]any{"type": "Root", "principalId": "123456789012", "arn": "arn:aws:iam::123456789012:root", "accountId": "123456789012"}
			delete(accessKey(d), "userName")
		}), "root", true, false},
		{"root for a user", mutateCreation(t, sampleCreated, func(_, d map[string]any) {
			d["userIdentity"] = map[string]any{"type": "Root", "arn": "arn:aws:iam::123456789012:root"}
		}), "bob", false, false},
		{"role session for a user", mutateCreation(t, sampleCreated, func(_, d map[string]any) {
			d["userIdentity"] = map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com"}
			delete(accessKey(d), "userName")
		}), "bob", false, false},
		{"failed, request names the user", creationSample(t, sampleCreatedFailed), "bob", false, true},
		{"failed, role session names no user", mutateCreation(t, sampleCreatedFailed, func(_, d map[string]any) {
			d["userIdentity"] = map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/deployer/ci"}
			d["requestParameters"] = nil
			d["errorCode"] = "ValidationError"
		}), "", false, true},
		{"failed, root for itself", mutateCreation(t, sampleCreatedFailed, func(_, d map[string]any) {
			d["userIdentity"] = map[string]any{"type": "Root", "arn": "arn:aws:iam::123456789012:root"}
			d["requestParameters"] = nil
		}), "root", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseKeyCreation(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if c.User != tc.user || c.Root != tc.root || c.Failed != tc.failed {
				t.Errorf("user %q root %v failed %v, want %q %v %v", c.User, c.Root, c.Failed, tc.user, tc.root, tc.failed)
			}
		})
	}
}

// A root caller making a key for itself makes a root key, however the
// response and the request spell the user; a key it makes for a named IAM
// user is that user's, and a key made for an IAM user named Root by anyone
// else is that user's.
func TestKeyCreationRootSpellings(t *testing.T) {
	rootCaller := func(arn string) map[string]any {
		return map[string]any{"type": "Root", "principalId": "123456789012", "arn": arn, "accountId": "123456789012"}
	}
	const rootARN = "arn:aws:iam::123456789012:root"
	// root builds a record from the root sample: caller, response user ("-"
	// leaves it out) and request user (nil: requestParameters null).
	root := func(caller map[string]any, response string, request any) []byte {
		return mutateCreation(t, sampleCreatedRoot, func(_, d map[string]any) {
			d["userIdentity"] = caller
			if response == "-" {
				delete(accessKey(d), "userName")
			} else {
				accessKey(d)["userName"] = response
			}
			switch request := request.(type) {
			case nil:
				d["requestParameters"] = nil
			case string:
				d["requestParameters"] = map[string]any{"userName": request}
			default:
				d["requestParameters"] = request
			}
		})
	}
	for _, tc := range []struct {
		name string
		raw  []byte
		user string
		root bool
	}{
		{"sample: response Root, no request", creationSample(t, sampleCreatedRoot), RootUserName, true},
		{"response root", root(rootCaller(rootARN), "root", nil), RootUserName, true},
		{"response ROOT", root(rootCaller(rootARN), "ROOT", nil), RootUserName, true},
		{"response <root_account>", root(rootCaller(rootARN), "<root_account>", nil), RootUserName, true},
		{"response root's ARN", root(rootCaller(rootARN), rootARN, nil), RootUserName, true},
		{"no user in the response", root(rootCaller(rootARN), "-", nil), RootUserName, true},
		{"empty requestParameters", root(rootCaller(rootARN), "Root", map[string]any{}), RootUserName, true},
		{"request names root", root(rootCaller(rootARN), "Root", "root"), RootUserName, true},
		{"request names Root, response root", root(rootCaller(rootARN), "root", "Root"), RootUserName, true},
		{"GovCloud root", root(rootCaller("arn:aws-us-gov:iam::123456789012:root"), "Root", nil), RootUserName, true},
		{"China root", root(rootCaller("arn:aws-cn:iam::123456789012:root"), "Root", nil), RootUserName, true},
		{"caller known by its ARN alone", root(map[string]any{"arn": rootARN}, "Root", nil), RootUserName, true},
		{"caller type spelt root", root(map[string]any{"type": "root", "arn": rootARN}, "Root", nil), RootUserName, true},
		{"root for an IAM user", root(rootCaller(rootARN), "bob", "bob"), "bob", false},
		{"an IAM user named Root, made by an admin", root(map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/admin-alice", "userName": "admin-alice"}, "Root", "Root"),
			"Root", false},
		{"a role session for an IAM user named root", root(map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/admin/alice"}, "root", "root"),
			"root", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseKeyCreation(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if c.User != tc.user || c.Root != tc.root {
				t.Errorf("user %q root %v, want %q %v", c.User, c.Root, tc.user, tc.root)
			}
		})
	}
	t.Run("root caller, request and response disagree", func(t *testing.T) {
		_, err := ParseKeyCreation(root(rootCaller(rootARN), "bob", "root"))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("err = %v, want ErrInvalid", err)
		}
	})
	t.Run("failed call by root for itself", func(t *testing.T) {
		c, err := ParseKeyCreation(mutateCreation(t, sampleCreatedFailed, func(_, d map[string]any) {
			d["userIdentity"] = rootCaller(rootARN)
			d["requestParameters"] = map[string]any{"userName": "Root"}
		}))
		if err != nil || !c.Failed || !c.Root || c.User != RootUserName {
			t.Errorf("%+v, %v", c, err)
		}
	})
}

func TestKeyCreationCreatedAt(t *testing.T) {
	at := func(d string) func(_, detail map[string]any) {
		return func(_, detail map[string]any) { accessKey(detail)["createDate"] = d }
	}
	eventTime := time.Date(2024, 9, 5, 18, 4, 50, 0, time.UTC) // the sample's
	for _, tc := range []struct {
		name   string
		raw    []byte
		want   time.Time
		source string
	}{
		{"text createDate", creationSample(t, sampleCreated), time.Date(2024, 9, 5, 18, 4, 50, 0, time.UTC), ""},
		{"older text createDate", creationSample(t, sampleCreatedSelf), time.Date(2024, 9, 6, 9, 15, 2, 0, time.UTC), ""},
		// createDate wins over eventTime when both are there.
		{"createDate differs from eventTime", mutateCreation(t, sampleCreated, at("2024-09-05T18:04:49.512Z")), time.Date(2024, 9, 5, 18, 4, 49, 512e6, time.UTC), ""},
		{"no createDate: eventTime", mutateCreation(t, sampleCreated, func(_, d map[string]any) {
			delete(accessKey(d), "createDate")
			d["eventTime"] = "2024-09-05T18:04:51Z"
		}), time.Date(2024, 9, 5, 18, 4, 51, 0, time.UTC), "eventTime (no createDate)"},
		// An unreadable createDate falls back to eventTime, and the record
		// says so, quoting the text.
		{"no such day: eventTime", mutateCreation(t, sampleCreated, at("Feb 30, 2024, 1:00:00 PM")), eventTime,
			`eventTime (createDate unreadable: "Feb 30, 2024, 1:00:00 PM")`},
		{"free text: eventTime", mutateCreation(t, sampleCreated, at("sometime last week")), eventTime,
			`eventTime (createDate unreadable: "sometime last week")`},
		{"epoch milliseconds: eventTime", mutateCreation(t, sampleCreated, at("1725559490000")), eventTime,
			`eventTime (createDate unreadable: "1725559490000")`},
		{"24-hour text: eventTime", mutateCreation(t, sampleCreated, at("Sep 5, 2024, 18:04:50")), eventTime,
			`eventTime (createDate unreadable: "Sep 5, 2024, 18:04:50")`},
		{"blank: eventTime", mutateCreation(t, sampleCreated, at("   ")), eventTime, `eventTime (createDate unreadable: "   ")`},
		{"control characters are not copied", mutateCreation(t, sampleCreated, at("Sep 5\r\nBcc: x@example.com")), eventTime,
			"eventTime (createDate unreadable: \"Sep 5\ufffd\ufffdBcc: x@example.com\")"},
		{"a long text is cut", mutateCreation(t, sampleCreated, at(strings.Repeat("9", 300))), eventTime,
			`eventTime (createDate unreadable: "` + strings.Repeat("9", maxQuotedDate-len("…")) + `…")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseKeyCreation(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if !c.CreatedAt.Equal(tc.want) || c.CreatedAt.Location() != time.UTC {
				t.Errorf("CreatedAt = %v, want %v", c.CreatedAt, tc.want)
			}
			if c.CreatedAtSource != tc.source {
				t.Errorf("CreatedAtSource = %q, want %q", c.CreatedAtSource, tc.source)
			}
		})
	}
}

func TestKeyCreationRejects(t *testing.T) {
	created := func(f func(env, detail map[string]any)) []byte { return mutateCreation(t, sampleCreated, f) }
	for _, tc := range []struct {
		name    string
		raw     []byte
		want    error
		message string
	}{
		{"wrong eventName", created(func(_, d map[string]any) { d["eventName"] = "DeleteAccessKey" }), ErrUnsupported, `CloudTrail event "DeleteAccessKey" is not CreateAccessKey`},
		{"no eventName", created(func(_, d map[string]any) { delete(d, "eventName") }), ErrUnsupported, `CloudTrail event "" is not CreateAccessKey`},
		{"other eventSource", created(func(_, d map[string]any) { d["eventSource"] = "lightsail.amazonaws.com" }), ErrUnsupported, `eventSource "lightsail.amazonaws.com"`},
		{"no eventSource", created(func(_, d map[string]any) { delete(d, "eventSource") }), ErrInvalid, "no eventSource"},
		{"other source", created(func(env, _ map[string]any) { env["source"] = "aws.ec2" }), ErrUnsupported, `source "aws.ec2"`},
		{"other detail-type", created(func(env, _ map[string]any) { env["detail-type"] = "AWS Console Sign In via CloudTrail" }), ErrUnsupported, "AWS Console Sign In via CloudTrail"},
		{"detail missing", created(func(env, _ map[string]any) { delete(env, "detail") }), ErrInvalid, "detail is missing"},
		{"detail wrong type", created(func(env, _ map[string]any) { env["detail"] = []any{1} }), ErrInvalid, "detail:"},
		{"field wrong type", created(func(_, d map[string]any) { accessKey(d)["accessKeyId"] = 42 }), ErrInvalid, "detail:"},
		{"missing arn", created(func(_, d map[string]any) { delete(d["userIdentity"].(map[string]any), "arn") }), ErrInvalid, "userIdentity has no arn"},
		{"malformed arn", created(func(_, d map[string]any) {
			d["userIdentity"].(map[string]any)["arn"] = "arn:aws:iam::123456789012:user/alice\nBcc: x@example.com"
		}), ErrInvalid, "is not an IAM or STS ARN"},
		{"not an iam arn", created(func(_, d map[string]any) { d["userIdentity"].(map[string]any)["arn"] = "arn:aws:s3:::bucket" }), ErrInvalid, "is not an IAM or STS ARN"},
		{"key id missing", created(func(_, d map[string]any) { delete(accessKey(d), "accessKeyId") }), ErrInvalid, "no access key id"},
		{"malformed key id", created(func(_, d map[string]any) { accessKey(d)["accessKeyId"] = "AKIA'; DROP TABLE keys" }), ErrInvalid, "is not an access key id"},
		{"short key id", created(func(_, d map[string]any) { accessKey(d)["accessKeyId"] = "AKIA1234" }), ErrInvalid, "is not an access key id"},
		{"hostile user in response", created(func(_, d map[string]any) { accessKey(d)["userName"] = "bob\nSubject: pwned" }), ErrInvalid, "not a valid IAM user name"},
		{"hostile user in request", created(func(_, d map[string]any) {
			delete(accessKey(d), "userName")
			d["requestParameters"] = map[string]any{"userName": "<script>alert(1)</script>"}
		}), ErrInvalid, "not a valid IAM user name"},
		{"hostile user failed call", mutateCreation(t, sampleCreatedFailed, func(_, d map[string]any) {
			d["requestParameters"] = map[string]any{"userName": "bob\r\nBcc: x@example.com"}
		}), ErrInvalid, "not a valid IAM user name"},
		{"user name too long", created(func(_, d map[string]any) { accessKey(d)["userName"] = strings.Repeat("b", 65) }), ErrInvalid, "not a valid IAM user name"},
		{"response and request disagree", created(func(_, d map[string]any) { d["requestParameters"] = map[string]any{"userName": "mallory"} }), ErrInvalid, `names user "bob" but the request "mallory"`},
		{"no user anywhere", created(func(_, d map[string]any) {
			d["userIdentity"] = map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/deployer/ci"}
			d["requestParameters"] = nil
			delete(accessKey(d), "userName")
		}), ErrInvalid, "names no user"},
		{"bad account", created(func(env, _ map[string]any) { env["account"] = "12345" }), ErrInvalid, "12-digit account"},
		{"recipient account differs", created(func(_, d map[string]any) { d["recipientAccountId"] = "210987654321" }), ErrInvalid, `record of account "210987654321" delivered as account 123456789012`},
		{"no eventTime", created(func(_, d map[string]any) { delete(d, "eventTime") }), ErrInvalid, "no eventTime"},
		{"bad eventTime", created(func(_, d map[string]any) { d["eventTime"] = "yesterday" }), ErrInvalid, `eventTime "yesterday"`},
		{"createDate and eventTime both unreadable", created(func(_, d map[string]any) {
			accessKey(d)["createDate"] = "Feb 30, 2024, 1:00:00 PM"
			d["eventTime"] = "yesterday"
		}), ErrInvalid, `eventTime "yesterday"`},
		{"eventTime unreadable, createDate fine", created(func(_, d map[string]any) { d["eventTime"] = "Sep 31, 2024 1:00:00 PM" }), ErrInvalid, "eventTime"},
		{"createDate and eventTime both missing", created(func(_, d map[string]any) {
			delete(accessKey(d), "createDate")
			delete(d, "eventTime")
		}), ErrInvalid, "no eventTime"},
		{"no response, no error", created(func(_, d map[string]any) { d["responseElements"] = nil }), ErrInvalid, "no errorCode and no responseElements.accessKey"},
		{"response without key", created(func(_, d map[string]any) { d["responseElements"] = map[string]any{} }), ErrInvalid, "no errorCode and no responseElements.accessKey"},
		{"error and a key", created(func(_, d map[string]any) { d["errorCode"] = "AccessDenied" }), ErrInvalid, `errorCode "AccessDenied" and also a created key`},
		{"failed call without arn", mutateCreation(t, sampleCreatedFailed, func(_, d map[string]any) {
			d["userIdentity"].(map[string]any)["arn"] = ""
		}), ErrInvalid, "userIdentity has no arn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseKeyCreation(tc.raw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v (result %+v), want %v", err, c, tc.want)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("err = %q, want it to say %q", err, tc.message)
			}
			if c != (KeyCreation{}) {
				t.Errorf("an error came with a result: %+v", c)
			}
		})
	}
}

// badCreations are the CloudTrail cases of the bad-input corpus.
func badCreations(tb testing.TB) []string {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join("..", "..", "events", "bad", "created-*.json"))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no created-*.json in events/bad: %v", err)
	}
	return names
}

// Every CloudTrail sample parses; every CloudTrail case of the bad-input
// corpus is refused with a named error.
func TestKeyCreationCorpus(t *testing.T) {
	samples, _ := filepath.Glob(filepath.Join("..", "..", "events", "samples", "cloudtrail-create-access-key*.json"))
	for _, name := range samples {
		t.Run(filepath.Base(name), func(t *testing.T) {
			raw, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseKeyCreation(raw); err != nil {
				t.Errorf("a sample is refused: %v", err)
			}
		})
	}
	for _, name := range badCreations(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			raw, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseKeyCreation(raw); !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Errorf("err = %v, want a named error", err)
			}
		})
	}
}

// The drill's stand-in source carries no account of its own: a sample
// replayed into another account is that account's event.
func TestKeyCreationDrillAccount(t *testing.T) {
	raw := mutateCreation(t, sampleCreated, func(env, _ map[string]any) {
		env["source"] = SourceIAMDrill
		env["account"] = "210987654321"
	})
	c, err := ParseKeyCreation(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.Account != "210987654321" {
		t.Errorf("Account = %q", c.Account)
	}
}

func TestKeyCreationCleansFreeText(t *testing.T) {
	raw := mutateCreation(t, sampleCreated, func(_, d map[string]any) {
		d["userAgent"] = "curl/8.0\r\nX-Injected: 1\u2028" + strings.Repeat("a", 2000)
		d["sourceIPAddress"] = "192.0.2.10\n"
		d["eventID"] = "5d0f3a8e\x00"
	})
	c, err := ParseKeyCreation(raw)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"userAgent": c.UserAgent, "sourceIp": c.SourceIP, "eventId": c.EventID} {
		if strings.ContainsAny(v, "\r\n\x00\u2028") {
			t.Errorf("%s keeps control characters: %q", name, v)
		}
	}
	if len(c.UserAgent) > maxUserAgent || !strings.HasPrefix(c.UserAgent, "curl/8.0\uFFFD\uFFFDX-Injected: 1\uFFFD") || !strings.HasSuffix(c.UserAgent, "…") {
		t.Errorf("user agent = %q (%d bytes)", c.UserAgent[:40], len(c.UserAgent))
	}
}

// secretCanary stands for a secret access key in a record; it is no real
// key's secret.
const secretCanary = "KeywardenCanaryNotARealSecret/0000000000"

func TestKeyCreationDropsSecret(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  []byte
		fail bool
	}{
		{"secretAccessKey", mutateCreation(t, sampleCreated, func(_, d map[string]any) {
			accessKey(d)["secretAccessKey"] = secretCanary
		}), false},
		{"SecretAccessKey, as the SDKs spell it", mutateCreation(t, sampleCreated, func(_, d map[string]any) {
			accessKey(d)["SecretAccessKey"] = secretCanary
		}), false},
		{"secret beside the key in the response", mutateCreation(t, sampleCreated, func(_, d map[string]any) {
			d["responseElements"].(map[string]any)["secretAccessKey"] = secretCanary
		}), false},
		{"secret in a record rejected for its key id", mutateCreation(t, sampleCreated, func(_, d map[string]any) {
			accessKey(d)["secretAccessKey"] = secretCanary
			accessKey(d)["accessKeyId"] = "not a key"
		}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(tc.raw, []byte(secretCanary)) {
				t.Fatal("the sample does not carry the canary")
			}
			c, err := ParseKeyCreation(tc.raw)
			if tc.fail {
				if err == nil || strings.Contains(err.Error(), secretCanary) {
					t.Fatalf("err = %v; want an error without the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out, _ := json.Marshal(c)
			text := strings.ToLower(string(out) + " " + c.KeyID + c.User + c.UserAgent)
			if strings.Contains(text, strings.ToLower(secretCanary)) || strings.Contains(text, "secret") {
				t.Errorf("the output carries the secret: %s", out)
			}
			if c.KeyID != "AKIAKEYWARDENBOB0001" {
				t.Errorf("KeyID = %q", c.KeyID)
			}
		})
	}
}

func TestKeyCreatedEntriesFile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "key-created.json"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ReadEntries(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Source != SourceIAMDrill || entries[0].DetailType != DetailTypeCloudTrail || entries[0].Resources == nil {
		t.Fatalf("entries = %+v", entries)
	}
	// The drill carries the sample's record unchanged.
	var sample struct {
		Detail any `json:"detail"`
	}
	var detail any
	if err := json.Unmarshal(creationSample(t, sampleCreated), &sample); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(entries[0].Detail), &detail); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(detail, sample.Detail) {
		t.Error("events/key-created.json's Detail differs from the detail of " + sampleCreated)
	}

	ev, err := entries[0].Event("123456789012", "us-east-1", time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	env, err := ParseEnvelope(ev)
	if err != nil {
		t.Fatal(err)
	}
	if !env.IsKeyCreation() || env.Source != SourceIAMDrill {
		t.Fatalf("drill envelope: source %q detail-type %q", env.Source, env.DetailType)
	}
	got, err := env.KeyCreation()
	if err != nil {
		t.Fatalf("the drill payload does not parse as a key creation: %v", err)
	}
	want, _ := ParseKeyCreation(creationSample(t, sampleCreated))
	if got != want {
		t.Errorf("drill gives  %+v\nsample gives %+v", got, want)
	}
}

func TestParseCloudTrailTime(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	sep5 := utc(2024, 9, 5, 18, 4, 50, 0)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		// RFC 3339 / ISO 8601.
		{"2024-09-05T18:04:50Z", sep5},
		{"2024-09-05T18:04:50.123Z", utc(2024, 9, 5, 18, 4, 50, 123e6)},
		{"2024-09-05T18:04:50.123456789Z", utc(2024, 9, 5, 18, 4, 50, 123456789)},
		{"2024-09-05T18:04:50,5Z", utc(2024, 9, 5, 18, 4, 50, 5e8)},
		{"2024-09-05T18:04:50+00:00", sep5},
		{"2024-09-05T20:04:50+02:00", sep5},
		{"2024-09-05T13:04:50-0500", sep5},
		{"2024-09-05T18:04:50", sep5},
		{"2024-09-05T18:04:50.250", utc(2024, 9, 5, 18, 4, 50, 25e7)},
		{"2024-09-05 18:04:50.411000+00:00", utc(2024, 9, 5, 18, 4, 50, 411e6)},
		{"2024-09-06T00:30:00+06:30", utc(2024, 9, 5, 18, 0, 0, 0)},
		{"2024-02-29T12:00:00Z", utc(2024, 2, 29, 12, 0, 0, 0)},
		{" 2024-09-05T18:04:50Z\n", sep5},
		// CloudTrail's text forms, UTC.
		{"Sep 5, 2024, 6:04:50 PM", sep5},
		{"Sep 5, 2024 6:04:50 PM", sep5},
		{"Sep 05, 2024, 06:04:50 PM", sep5},
		{"Sept 5, 2024, 6:04:50 PM", sep5},
		{"SEP 5, 2024, 6:04:50 pm", sep5},
		{"Sep 5, 2024, 6:04:50\u202fPM", sep5},
		{"Sep 5, 2024, 6:04:50\u00a0PM", sep5},
		{"Jan 1, 2025, 12:00:00 AM", utc(2025, 1, 1, 0, 0, 0, 0)},
		{"Jan 1, 2025, 12:00:01 PM", utc(2025, 1, 1, 12, 0, 1, 0)},
		{"Dec 31, 2024, 11:59:59 PM", utc(2024, 12, 31, 23, 59, 59, 0)},
		{"Feb 29, 2024, 1:00:00 PM", utc(2024, 2, 29, 13, 0, 0, 0)},
		{"May 3, 2024 9:05:07 AM", utc(2024, 5, 3, 9, 5, 7, 0)},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseCloudTrailTime(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseCloudTrailTimeRejects(t *testing.T) {
	for _, in := range []string{
		"", "   ", "yesterday", "now", "1725559490", "1725559490000",
		"Feb 30, 2024, 1:00:00 PM", // no such day: never rolled into March
		"Feb 29, 2023, 1:00:00 PM", // not a leap year
		"Apr 31, 2024, 1:00:00 PM",
		"Sep 5, 2024, 0:04:50 PM", // a 12-hour clock has no hour 0
		"Sep 5, 2024, 13:04:50 PM",
		"Sep 5, 2024, 6:04:50",  // no AM/PM: 6 or 18?
		"Sep 5, 2024, 18:04:50", // 24-hour text is no form CloudTrail writes
		"Sep 5, 2024, 6:04 PM",  // no seconds
		"Sep 5, 24, 6:04:50 PM", // two-digit year
		"Sep 5 2024 6:04:50 PM", // no comma after the day
		"Sep 5, 2024,  6:04:50 PM",
		"September 5, 2024, 6:04:50 PM",
		"Sep 5, 2024, 6:04:50 PM UTC",
		"5 Sept 2024, 18:04:50",
		"Sep 0, 2024, 6:04:50 PM",
		"Sep 32, 2024, 6:04:50 PM",
		"Sep 5, 2024, 6:60:50 PM",
		"Sep 5, 2024, 6:04:60 PM",
		"2024-02-30T12:00:00Z",
		"2024-13-01T12:00:00Z",
		"2024-09-05T24:00:00Z",
		"2024-09-05T18:04:60Z",
		"2024-09-05T8:04:50Z",
		"2024-09-05",
		"2024-09-05T18:04Z",
		"2024-09-05T18:04:50+24:00",
		"2024-09-05T18:04:50+0",
		"2024-09-05t18:04:50z",
		"2024-09-05T18:04:50.Z",
		"2024-09-05T18:04:50.1234567890Z",
		"2024-09-05T18:04:50Z extra",
		"0000-01-01T00:00:00+01:00",                         // before year 0 once in UTC
		"9999-12-31T23:30:00-01:00",                         // after year 9999 once in UTC
		"Sep 5, 2024, 6:04:50 PM" + strings.Repeat(" ", 60), // longer than any form
		strings.Repeat("9", 100),
	} {
		t.Run(in, func(t *testing.T) {
			got, err := ParseCloudTrailTime(in)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, %v; want an error wrapping ErrInvalid", got, err)
			}
			if !got.IsZero() {
				t.Errorf("an error came with a time: %v", got)
			}
			if in != "" && !strings.Contains(err.Error(), fmt.Sprintf("%q", truncate(in, maxTimeText))) {
				t.Errorf("err = %q does not name the text", err)
			}
		})
	}
}

func FuzzKeyCreation(f *testing.F) {
	for _, name := range []string{sampleCreated, sampleCreatedSelf, sampleCreatedFailed, sampleCreatedUnreadable, sampleCreatedRoot, "trusted-advisor-exposed-key.json"} {
		f.Add(creationSample(f, name))
	}
	for _, name := range badCreations(f) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := ParseKeyCreation(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("unnamed error: %v", err)
			}
			if c != (KeyCreation{}) {
				t.Fatalf("an error came with a result: %+v", c)
			}
		} else {
			checkAccepted(t, c, raw)
		}

		// Plant a secret in the record's access key: whatever the outcome,
		// it must not come out.
		planted, ok := plantSecret(raw)
		if !ok {
			return
		}
		c, err = ParseKeyCreation(planted)
		if err != nil {
			if strings.Contains(err.Error(), secretCanary) {
				t.Fatalf("an error carries the secret: %v", err)
			}
			return
		}
		out, _ := json.Marshal(c)
		if bytes.Contains(out, []byte(secretCanary)) {
			t.Fatalf("the output carries the secret: %s", out)
		}
	})
}

// checkAccepted checks what holds for every accepted record.
func checkAccepted(t *testing.T, c KeyCreation, raw []byte) {
	t.Helper()
	if c.Failed == (c.ErrorCode == "") {
		t.Fatalf("Failed %v with error code %q", c.Failed, c.ErrorCode)
	}
	if !c.Failed && !keyIDPattern.MatchString(c.KeyID) {
		t.Fatalf("accepted key id %q", c.KeyID)
	}
	if c.Failed && (c.KeyID != "" || !c.CreatedAt.IsZero()) {
		t.Fatalf("a failed call with a key: %+v", c)
	}
	if (c.Root && c.User != RootUserName) || (!c.Root && c.User != "" && !userNamePattern.MatchString(c.User)) {
		t.Fatalf("accepted user %q (root %v)", c.User, c.Root)
	}
	if !c.Failed && c.User == "" {
		t.Fatal("a created key with no user")
	}
	// CreatedAt is the createDate, or eventTime and the record says so.
	switch {
	case c.Failed && c.CreatedAtSource != "":
		t.Fatalf("a failed call with a creation time source %q", c.CreatedAtSource)
	case c.CreatedAtSource != "" && (!c.CreatedAt.Equal(c.EventTime) || !strings.HasPrefix(c.CreatedAtSource, "eventTime (")):
		t.Fatalf("CreatedAt %v from %q, eventTime %v", c.CreatedAt, c.CreatedAtSource, c.EventTime)
	case !c.Failed && c.CreatedAt.IsZero():
		t.Fatal("a created key without a creation time")
	case len(c.CreatedAtSource) > len("eventTime (createDate unreadable: )")+2*maxQuotedDate:
		t.Fatalf("CreatedAtSource is %d bytes", len(c.CreatedAtSource))
	}
	if !creatorARNPattern.MatchString(c.CreatorARN) || !accountPattern.MatchString(c.Account) {
		t.Fatalf("accepted creator %q account %q", c.CreatorARN, c.Account)
	}
	for _, s := range []string{c.UserAgent, c.SourceIP, c.CreatorType, c.EventID, c.Region, c.ErrorCode, c.CreatedAtSource} {
		if strings.ContainsAny(s, "\r\n\x00") {
			t.Fatalf("accepted control characters: %q", s)
		}
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("an accepted record does not marshal: %v", err)
	}
	// No "secret" comes out unless the record holds one outside a
	// secret-access-key field (a user may be called secret-svc).
	if bytes.Contains(bytes.ToLower(out), []byte("secret")) {
		if rest, ok := withoutSecretFields(raw); !ok || !bytes.Contains(bytes.ToLower(rest), []byte("secret")) {
			t.Fatalf("the output says secret and the record does so only in a secret field: %s", out)
		}
	}
}

// plantSecret returns raw with a secret access key added to the detail's
// response access key, when raw has one.
func plantSecret(raw []byte) ([]byte, bool) {
	var env map[string]any
	if json.Unmarshal(raw, &env) != nil || bytes.Contains(raw, []byte(secretCanary)) {
		return nil, false
	}
	detail, _ := env["detail"].(map[string]any)
	response, _ := detail["responseElements"].(map[string]any)
	key, _ := response["accessKey"].(map[string]any)
	if key == nil {
		return nil, false
	}
	key["secretAccessKey"] = secretCanary
	b, err := json.Marshal(env)
	return b, err == nil
}

// withoutSecretFields returns raw re-encoded without any field named like
// secretAccessKey, at any depth.
func withoutSecretFields(raw []byte) ([]byte, bool) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil, false
	}
	var strip func(any)
	strip = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if strings.EqualFold(k, "secretAccessKey") {
					delete(v, k)
					continue
				}
				strip(x)
			}
		case []any:
			for _, x := range v {
				strip(x)
			}
		}
	}
	strip(v)
	b, err := json.Marshal(v)
	return b, err == nil
}

func FuzzParseCloudTrailTime(f *testing.F) {
	for _, s := range []string{
		"2024-09-05T18:04:50Z", "2024-09-05T18:04:50.123Z", "2024-09-05T18:04:50+00:00", "2024-09-05T18:04:50-0500",
		"2024-09-05 18:04:50.411000+00:00", "Sep 5, 2024, 6:04:50 PM", "Sep 5, 2024 6:04:50 PM", "Sept 5, 2024, 6:04:50\u202fPM",
		"Feb 30, 2024, 1:00:00 PM", "yesterday", "", "0000-01-01T00:00:00+01:00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseCloudTrailTime(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("unnamed error: %v", err)
			}
			if !got.IsZero() {
				t.Fatalf("an error came with a time: %v", got)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("%q gave %v, not in UTC", s, got)
		}
		// What is accepted can be written back and reads the same.
		text, err := got.MarshalText()
		if err != nil {
			t.Fatalf("%q gave %v, which cannot be written: %v", s, got, err)
		}
		again, err := ParseCloudTrailTime(string(text))
		if err != nil || !again.Equal(got) {
			t.Fatalf("%q gave %v; written back as %s it reads %v, %v", s, got, text, again, err)
		}
		if got.Nanosecond() == 0 {
			asText := got.Format("Jan 2, 2006, 3:04:05 PM")
			if again, err := ParseCloudTrailTime(asText); err != nil || !again.Equal(got) {
				t.Fatalf("%q gave %v; as %q it reads %v, %v", s, got, asText, again, err)
			}
		}
	})
}
