package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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
	if !reflect.DeepEqual(x, want) {
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
	if len(HealthRiskCodes) != len(HealthKeyCodes)+len(HealthNoticeCodes) {
		t.Errorf("HealthRiskCodes %v is not the key and the notice codes", HealthRiskCodes)
	}
	for _, code := range append(slices.Clone(HealthRiskCodes), "AWS_EC2_INSTANCE_RETIREMENT") {
		var env map[string]any
		_ = json.Unmarshal(readSample(t, "health-credentials-exposed.json"), &env)
		env["detail"].(map[string]any)["eventTypeCode"] = code
		b, _ := json.Marshal(env)
		x, err := ParseExposure(b)
		switch {
		case slices.Contains(HealthKeyCodes, code):
			if err != nil || x.HealthEventType != code || x.AccessKeyID != "AKIAKEYWARDENDRILL01" || x.UserName != "" {
				t.Errorf("%s: got %+v, %v", code, x, err)
			}
		case slices.Contains(HealthNoticeCodes, code):
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "alerted as a notice") {
				t.Errorf("%s: err = %v, want ErrUnsupported saying it is a notice", code, err)
			}
		default:
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("%s: err = %v, want ErrUnsupported", code, err)
			}
		}
	}
}

// healthSample returns a Health sample changed by f (nil: as is).
func healthSample(t *testing.T, name string, f func(env, detail map[string]any)) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(readSample(t, name), &env); err != nil {
		t.Fatal(err)
	}
	if f != nil {
		f(env, env["detail"].(map[string]any))
	}
	b, _ := json.Marshal(env)
	return b
}

func withEntity(t *testing.T, raw []byte, entity string) []byte {
	t.Helper()
	b, err := WithEntity(raw, entity)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseHealthShapesGolden(t *testing.T) {
	for _, tc := range []struct{ sample, entity, golden string }{
		{"health-organizational-view.json", "", "health-organizational-view.json"},
		{"health-credentials-exposed-metadata.json", "", "health-exposure-metadata.json"},
		{"health-credentials-compromise-suspected.json", "", "health-compromise-suspected.json"},
		{"health-credentials-exposed-two-keys.json", "AKIAKEYWARDENBOB0001", "health-two-keys-second.json"},
	} {
		t.Run(tc.sample, func(t *testing.T) {
			raw := readSample(t, tc.sample)
			if tc.entity != "" {
				raw = withEntity(t, raw, tc.entity)
			}
			x, err := ParseExposure(raw)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.MarshalIndent(x, "", "  ")
			golden.Check(t, filepath.Join("testdata", tc.golden), append(got, '\n'))
		})
	}
}

// Health's organizational view: the event is received in the management
// (or delegated administrator) account and names the member account in
// detail.affectedAccount; that is the key's account.
func TestHealthAffectedAccount(t *testing.T) {
	x, err := ParseExposure(readSample(t, "health-organizational-view.json"))
	if err != nil || x.Account != "111122223333" || x.ReceivedIn != "123456789012" {
		t.Errorf("organizational view: account %q received in %q, %v; want 111122223333 received in 123456789012", x.Account, x.ReceivedIn, err)
	}
	same, err := ParseExposure(readSample(t, "health-credentials-compromise-suspected.json"))
	if err != nil || same.Account != "123456789012" || same.ReceivedIn != "" {
		t.Errorf("affectedAccount equal to account: %q received in %q, %v", same.Account, same.ReceivedIn, err)
	}
	for name, v := range map[string]any{"eleven digits": "11112222333", "letters": "11112222333x", "a number": 111122223333.0} {
		_, err := ParseExposure(healthSample(t, "health-organizational-view.json", func(_, d map[string]any) { d["affectedAccount"] = v }))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("affectedAccount %s: err = %v, want ErrInvalid", name, err)
		}
	}
}

// Every key of a Health event is answered by its own execution, whose
// input names the key in EntityField; read without it, an event of several
// keys is an error that names them, never a silent choice of one.
func TestHealthSeveralKeys(t *testing.T) {
	raw := readSample(t, "health-credentials-exposed-two-keys.json")
	env, err := ParseEnvelope(raw)
	if err != nil {
		t.Fatal(err)
	}
	keys, ok := env.HealthKeys()
	if !ok || !slices.Equal(keys, []string{"AKIAKEYWARDENDRILL01", "AKIAKEYWARDENBOB0001"}) {
		t.Fatalf("HealthKeys = %v, %v", keys, ok)
	}
	for _, k := range keys {
		x, err := ParseExposure(withEntity(t, raw, k))
		if err != nil || x.AccessKeyID != k || x.KeysInEvent != 2 {
			t.Errorf("entity %s: %+v, %v", k, x, err)
		}
	}
	if _, err := ParseExposure(raw); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "lists 2 keys (AKIAKEYWARDENDRILL01, AKIAKEYWARDENBOB0001)") {
		t.Errorf("without %s: err = %v", EntityField, err)
	}
	if _, err := ParseExposure(withEntity(t, raw, "AKIANOTINTHEEVENT001")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "is not one of the event's affected entities") {
		t.Errorf("an entity the event does not list: err = %v", err)
	}
	// Repeats and blanks are not keys; surrounding space is not part of one.
	dup := healthSample(t, "health-credentials-exposed-two-keys.json", func(_, d map[string]any) {
		d["affectedEntities"] = []any{map[string]any{"entityValue": " AKIAKEYWARDENDRILL01 "}, map[string]any{"entityValue": "AKIAKEYWARDENDRILL01"}, map[string]any{"entityValue": ""}}
	})
	if x, err := ParseExposure(dup); err != nil || x.AccessKeyID != "AKIAKEYWARDENDRILL01" || x.KeysInEvent != 0 {
		t.Errorf("one key listed twice: %+v, %v", x, err)
	}
	var many []any
	var ids []string
	for i := range MaxKeysPerEvent + 3 {
		id := fmt.Sprintf("AKIAKEYWARDENMANY%03d", i)
		ids = append(ids, id)
		many = append(many, map[string]any{"entityValue": id})
	}
	tooMany := healthSample(t, "health-credentials-exposed-two-keys.json", func(_, d map[string]any) { d["affectedEntities"] = many })
	_, err = ParseExposure(tooMany)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "these 3 have none and need containing by hand: "+strings.Join(ids[MaxKeysPerEvent:], ", ")) {
		t.Errorf("more keys than the bound: err = %v", err)
	}
}

// The same event from its backup region has another envelope id, time and
// region, and the same identity.
func TestHealthIdentity(t *testing.T) {
	a, _ := ParseEnvelope(readSample(t, "health-credentials-exposed-two-keys.json"))
	b, _ := ParseEnvelope(readSample(t, "health-credentials-exposed-two-keys-backup-region.json"))
	if a.ID == b.ID || a.Region == b.Region || a.HealthIdentity() != b.HealthIdentity() {
		t.Errorf("identities %q and %q (ids %s %s, regions %s %s)", a.HealthIdentity(), b.HealthIdentity(), a.ID, b.ID, a.Region, b.Region)
	}
	org, _ := ParseEnvelope(readSample(t, "health-organizational-view.json"))
	if org.HealthIdentity() == a.HealthIdentity() || !strings.Contains(org.HealthIdentity(), "111122223333") {
		t.Errorf("the identity names the affected account: %q", org.HealthIdentity())
	}
}

// eventMetadata flows into the finding; a user it names is the reported
// user (IAM's owner still wins later), and root by any spelling is the
// root escalation. A name that is no IAM user name is not used, and an
// unexpected shape does not stop the response.
func TestHealthMetadata(t *testing.T) {
	x, err := ParseExposure(readSample(t, "health-credentials-exposed-metadata.json"))
	if err != nil || x.UserName != "ci-deployer" || x.Root || x.Location != "https://github.com/example-org/deploy-scripts/blob/main/config.env" ||
		x.HealthMetadata["userName"] != "ci-deployer" {
		t.Fatalf("metadata sample: %+v, %v", x, err)
	}
	meta := func(m any) []byte {
		return healthSample(t, "health-credentials-exposed-metadata.json", func(_, d map[string]any) { d["eventMetadata"] = m })
	}
	for _, root := range []string{"root", "Root", "<root>", "<root_account>", "arn:aws:iam::123456789012:root"} {
		x, err := ParseExposure(meta(map[string]any{"user_name": root}))
		if err != nil || !x.Root || x.UserName != RootUserName {
			t.Errorf("metadata user %q: root %v user %q, %v; want the root escalation", root, x.Root, x.UserName, err)
		}
	}
	x, err = ParseExposure(meta(map[string]any{"userName": "bob\nSubject: all clear", "count": 3, "nested": map[string]any{"a": 1}}))
	if err != nil || x.UserName != "" || x.HealthMetadata["count"] != "3" || x.HealthMetadata["nested"] != `{"a":1}` {
		t.Errorf("hostile user and other types: %+v, %v", x, err)
	}
	x, err = ParseExposure(meta("not an object"))
	if err != nil || x.HealthMetadata["(eventMetadata)"] != `"not an object"` {
		t.Errorf("metadata not an object: %+v, %v", x, err)
	}
	big := map[string]any{}
	for i := range 30 {
		big[fmt.Sprintf("k%02d", i)] = strings.Repeat("v", 2000)
	}
	x, err = ParseExposure(meta(big))
	if err != nil || len(x.HealthMetadata) != maxMetadataEntries || len(x.HealthMetadata["k00"]) > maxMetadataValue+len("…") {
		t.Errorf("metadata is bounded: %d entries, %v", len(x.HealthMetadata), err)
	}
}

func TestHealthNotice(t *testing.T) {
	env, err := ParseEnvelope(readSample(t, "health-iam-quarantine.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !env.IsHealthNotice() {
		t.Error("a quarantine event is a notice")
	}
	if _, ok := env.HealthKeys(); ok {
		t.Error("a notice has no keys to answer")
	}
	n, err := env.HealthNotice()
	if err != nil || n.EventTypeCode != HealthIAMQuarantine || n.Account != "123456789012" || len(n.Entities) != 1 ||
		n.Entities[0].EntityValue != "arn:aws:iam::123456789012:user/ci-deployer" || !strings.Contains(n.Description, "AWSCompromisedKeyQuarantineV2") {
		t.Errorf("notice %+v, %v", n, err)
	}
	key, _ := ParseEnvelope(readSample(t, "health-credentials-exposed.json"))
	if key.IsHealthNotice() {
		t.Error("an exposed-key event is not a notice")
	}
}

func TestWithEntity(t *testing.T) {
	raw := []byte(`{"source":"aws.health","keywardenEntity":"AKIAFORGED0000000001","detail":{"a":1}}`)
	b, err := WithEntity(raw, "AKIAKEYWARDENDRILL01")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m[EntityField] != "AKIAKEYWARDENDRILL01" || m["source"] != "aws.health" {
		t.Errorf("WithEntity = %s, %v", b, err)
	}
	if _, err := WithEntity([]byte(`[1]`), "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("not an object: %v", err)
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
	samples, _ := filepath.Glob(filepath.Join("..", "..", "events", "samples", "*.json"))
	bad, _ := filepath.Glob(filepath.Join("..", "..", "events", "bad", "health-*.json"))
	for _, path := range append(samples, bad...) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkExposure(t, raw)
		// The intake's split: one input per key, each naming its entity.
		env, err := ParseEnvelope(raw)
		if err != nil {
			return
		}
		keys, _ := env.HealthKeys()
		for _, k := range keys[:min(len(keys), 3)] {
			in, err := WithEntity(raw, k)
			if err != nil {
				t.Fatalf("WithEntity of a parsed event: %v", err)
			}
			if x, ok := checkExposure(t, in); ok && x.AccessKeyID != k {
				t.Fatalf("the execution for entity %q answered key %q", k, x.AccessKeyID)
			}
		}
	})
}

// checkExposure parses raw and checks what every finding must hold: named
// errors only, a key id that is one of the event's entities (Health), a
// 12-digit account, a user name IAM allows or root.
func checkExposure(t *testing.T, raw []byte) (Exposure, bool) {
	x, err := ParseExposure(raw)
	if err != nil {
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("unnamed error: %v", err)
		}
		return x, false
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
	if !accountPattern.MatchString(x.Account) || (x.ReceivedIn != "" && !accountPattern.MatchString(x.ReceivedIn)) {
		t.Fatalf("accepted account %q (received in %q)", x.Account, x.ReceivedIn)
	}
	if x.Signal == "health" {
		env, _ := ParseEnvelope(raw)
		var d HealthDetail
		_ = json.Unmarshal(env.Detail, &d)
		if !slices.Contains(d.entityValues(), x.AccessKeyID) {
			t.Fatalf("key %q is not one of the event's entities %v", x.AccessKeyID, d.entityValues())
		}
	}
	if len(x.HealthMetadata) > maxMetadataEntries {
		t.Fatalf("%d metadata entries kept", len(x.HealthMetadata))
	}
	return x, true
}
