package event

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/golden"
)

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseExposureSamples(t *testing.T) {
	for _, tc := range []struct {
		sample, golden string
		root           bool
	}{
		{"trusted-advisor-exposed-key.json", "trusted-advisor-exposure.json", false},
		{"health-credentials-exposed.json", "health-exposure.json", false},
		{"trusted-advisor-root-key.json", "root-exposure.json", true},
	} {
		t.Run(tc.sample, func(t *testing.T) {
			x, err := ParseExposure(readSample(t, tc.sample))
			if err != nil {
				t.Fatal(err)
			}
			if x.Root != tc.root {
				t.Errorf("Root = %v, want %v", x.Root, tc.root)
			}
			got, _ := json.MarshalIndent(x, "", "  ")
			golden.Check(t, filepath.Join("testdata", tc.golden), append(got, '\n'))
		})
	}
}

func TestParseExposureTrustedAdvisorFields(t *testing.T) {
	x, err := ParseExposure(readSample(t, "trusted-advisor-exposed-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := Exposure{
		Signal: "trusted-advisor", Source: SourceTrustedAdvisor, EventID: "7bf73129-1428-4cd3-a780-95db273d1602",
		Account: "123456789012", Region: "us-east-1", ReportedAt: time.Date(2026, 11, 20, 9, 12, 45, 0, time.UTC),
		AccessKeyID: "AKIAKEYWARDENDRILL01", UserName: "ci-deployer",
		Location: "https://github.com/example-org/deploy-scripts/blob/main/config.env",
		CaseID:   "02648f3b-e962-4a6c-8e55-3d4c5b6a7f80", FraudType: "Exposed", TimeUpdated: "1795251165000",
		Deadline: "1440", UsagePerDay: "0",
	}
	if x != want {
		t.Errorf("got  %+v\nwant %+v", x, want)
	}
}

// mutate returns the TA sample with its detail changed by f.
func mutate(t *testing.T, f func(env, detail, item map[string]any)) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(readSample(t, "trusted-advisor-exposed-key.json"), &env); err != nil {
		t.Fatal(err)
	}
	detail := env["detail"].(map[string]any)
	f(env, detail, detail["check-item-detail"].(map[string]any))
	b, _ := json.Marshal(env)
	return b
}

func TestParseExposureRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		raw     []byte
		want    error
		message string
	}{
		{"not json", []byte("{"), ErrInvalid, "not an EventBridge event"},
		{"empty object", []byte("{}"), ErrInvalid, "source or detail-type is missing"},
		{"oversized", []byte(`{"pad":"` + strings.Repeat("x", MaxSize) + `"}`), ErrInvalid, "more than the"},
		{"detail missing", mutate(t, func(env, _, _ map[string]any) { delete(env, "detail") }), ErrInvalid, "detail is missing"},
		{"detail wrong type", mutate(t, func(env, _, _ map[string]any) { env["detail"] = "text" }), ErrInvalid, "detail:"},
		{"key id missing", mutate(t, func(_, _, item map[string]any) { delete(item, "Access Key ID") }), ErrInvalid, "no access key id"},
		{"key id malformed", mutate(t, func(_, _, item map[string]any) { item["Access Key ID"] = "AKIA'; DROP" }), ErrInvalid, "is not an access key id"},
		{"user missing", mutate(t, func(_, _, item map[string]any) { delete(item, "User Name (IAM or Root)") }), ErrInvalid, "has no \"User Name (IAM or Root)\""},
		{"hostile user", mutate(t, func(_, _, item map[string]any) { item["User Name (IAM or Root)"] = "bob\nSubject: pwned" }), ErrInvalid, "not a valid IAM user name"},
		{"bad account", mutate(t, func(env, _, _ map[string]any) { env["account"] = "12345" }), ErrInvalid, "12-digit account"},
		{"other check", readSample(t, "trusted-advisor-other-check.json"), ErrUnsupported, "is not \"Exposed Access Keys\""},
		{"status ok", mutate(t, func(_, d, _ map[string]any) { d["status"] = "OK" }), ErrUnsupported, "status \"OK\""},
		{"unknown source", readSample(t, "unsupported-event.json"), ErrUnsupported, "source \"aws.ec2\""},
		{"wrong field type", mutate(t, func(_, _, item map[string]any) { item["Access Key ID"] = 42 }), ErrInvalid, "detail:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseExposure(tc.raw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("err = %q, want it to say %q", err, tc.message)
			}
		})
	}
}

func TestHealthRiskCodes(t *testing.T) {
	for _, code := range append(HealthRiskCodes, "AWS_EC2_INSTANCE_RETIREMENT") {
		var env map[string]any
		_ = json.Unmarshal(readSample(t, "health-credentials-exposed.json"), &env)
		env["detail"].(map[string]any)["eventTypeCode"] = code
		b, _ := json.Marshal(env)
		x, err := ParseExposure(b)
		known := code != "AWS_EC2_INSTANCE_RETIREMENT"
		if known && (err != nil || x.HealthEventType != code || x.AccessKeyID != "AKIAKEYWARDENDRILL01" || x.UserName != "") {
			t.Errorf("%s: got %+v, %v", code, x, err)
		}
		if !known && !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: err = %v, want ErrUnsupported", code, err)
		}
	}
}

func TestIsRootName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"root", true},
		{"Root", true},
		{"ROOT", true},
		{" root ", true},
		{"<root>", true},
		{"<ROOT>", true},
		{"<root_account>", true},
		{"<Root_Account>", true},
		{"\t<root_account>\n", true},
		{"arn:aws:iam::123456789012:root", true},
		{"arn:aws-cn:iam::123456789012:root", true},
		{"arn:aws-us-gov:iam::123456789012:root", true},
		{" arn:aws:iam::210987654321:root ", true},
		// IAM user names, or nothing of root's.
		{"", false},
		{"rooted", false},
		{"root_account", false},
		{"root-admin", false},
		{"alice", false},
		{"<root", false},
		{"root>", false},
		{"<<root>>", false},
		{"< root >", false},
		// Not root's ARN.
		{"arn:aws:iam::123456789012:user/root", false},
		{"arn:aws:iam::123456789012:root/extra", false},
		{"arn:aws:iam::12345678901:root", false},
		{"arn:aws:iam::1234567890123:root", false},
		{"arn:aws:sts::123456789012:root", false},
		{"arn:azure:iam::123456789012:root", false},
		{"arn:aws:iam:us-east-1:123456789012:root", false},
		{"ARN:AWS:IAM::123456789012:ROOT", false}, // ARNs are written in lower case
		{"arn:aws:iam::123456789012:root\nSubject: x", false},
	} {
		if got := IsRootName(tc.name); got != tc.want {
			t.Errorf("IsRootName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A Trusted Advisor report of a root key is the root escalation whatever
// spelling names the user; an IAM user's name is not root.
func TestParseExposureTrustedAdvisorRootSpellings(t *testing.T) {
	for _, tc := range []struct {
		user string
		root bool
	}{
		{"<root>", true},
		{"root", true},
		{"Root", true},
		{"<root_account>", true},
		{" <ROOT_ACCOUNT> ", true},
		{"arn:aws:iam::123456789012:root", true},
		{"arn:aws-cn:iam::123456789012:root", true},
		{"arn:aws-us-gov:iam::123456789012:root", true},
		{"rooted", false},
		{"root_account", false},
	} {
		t.Run(tc.user, func(t *testing.T) {
			x, err := ParseExposure(mutate(t, func(_, _, item map[string]any) { item["User Name (IAM or Root)"] = tc.user }))
			if err != nil {
				t.Fatalf("err = %v, want the finding", err)
			}
			want := tc.user
			if tc.root {
				want = RootUserName
			}
			if x.Root != tc.root || x.UserName != want {
				t.Errorf("root %v user %q, want root %v user %q", x.Root, x.UserName, tc.root, want)
			}
		})
	}
	t.Run("an ARN that is not root's", func(t *testing.T) {
		_, err := ParseExposure(mutate(t, func(_, _, item map[string]any) {
			item["User Name (IAM or Root)"] = "arn:aws:iam::123456789012:user/root"
		}))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("err = %v, want ErrInvalid", err)
		}
	})
}

func TestEntriesFiles(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	raw, err := os.ReadFile("../../events/exposed-key.json")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ReadEntries(raw)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := entries[0].Event("123456789012", "us-east-1", now)
	if err != nil {
		t.Fatal(err)
	}
	x, err := ParseExposure(ev)
	if err != nil {
		t.Fatalf("the drill payload does not parse as an exposure: %v", err)
	}
	if x.Source != SourceTrustedAdvisorMock || x.AccessKeyID != "AKIAKEYWARDENDRILL01" || x.UserName != "ci-deployer" {
		t.Errorf("drill exposure = %+v", x)
	}
	again, _ := entries[0].Event("123456789012", "us-east-1", now.Add(time.Hour))
	if string(again) != string(ev) {
		t.Error("the same entry must give the same event (a replay is a redelivery)")
	}

	raw, err = os.ReadFile("../../events/exposed-key-malformed.json")
	if err != nil {
		t.Fatal(err)
	}
	entries, err = ReadEntries(raw)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ = entries[0].Event("123456789012", "us-east-1", now)
	if _, err := ParseExposure(ev); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "no access key id") {
		t.Errorf("malformed drill payload: err = %v, want ErrInvalid naming the missing key id", err)
	}
}

func TestReadEntriesRejects(t *testing.T) {
	for name, raw := range map[string]string{
		"not a list":       `{"Source":"x"}`,
		"empty":            `[]`,
		"no source":        `[{"DetailType":"d","Detail":"{}"}]`,
		"detail not json":  `[{"Source":"s","DetailType":"d","Detail":"{oops"}]`,
		"detail not obj":   `[{"Source":"s","DetailType":"d","Detail":"[1]"}]`,
		"bad time":         `[{"Source":"s","DetailType":"d","Detail":"{}","Time":"yesterday"}]`,
		"too many entries": "[" + strings.Repeat(`{"Source":"s","DetailType":"d","Detail":"{}"},`, 10) + `{"Source":"s","DetailType":"d","Detail":"{}"}]`,
	} {
		if _, err := ReadEntries([]byte(raw)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func FuzzParseExposure(f *testing.F) {
	for _, name := range []string{"trusted-advisor-exposed-key.json", "health-credentials-exposed.json", "trusted-advisor-root-key.json", "unsupported-event.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "events", "samples", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		x, err := ParseExposure(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("unnamed error: %v", err)
			}
			return
		}
		if !x.Root && !userNamePattern.MatchString(x.UserName) && x.UserName != "" {
			t.Fatalf("accepted user name %q", x.UserName)
		}
		if x.Root && x.UserName != RootUserName {
			t.Fatalf("a root key of user %q", x.UserName)
		}
		if !keyIDPattern.MatchString(x.AccessKeyID) {
			t.Fatalf("accepted key id %q", x.AccessKeyID)
		}
	})
}
