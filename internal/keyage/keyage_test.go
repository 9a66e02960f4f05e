package keyage

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/credreport"
	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/policy"
)

var now = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

func check(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), []byte(got))
}

func decision(user, key string, age int, stage, notice policy.Stage, action policy.Action) policy.Decision {
	created := now.AddDate(0, 0, -age)
	return policy.Decision{KeyID: key, User: user, AgeDays: age, Stage: stage, Notice: notice, Action: action,
		Deadline: created.AddDate(0, 0, 90), Contact: user + "@example.com", Reasons: []string{"test reason"}}
}

func TestNoticesGolden(t *testing.T) {
	machine := decision("ci-deployer", "AKIAKEYWARDENDRILL01", 200, policy.StageFinal, policy.StageFinal, policy.ActionNotify)
	machine.NotifyOnly = true
	unused := decision("henry", "AKIAKEYWARDENHENRY01", 45, policy.StageDeactivate, policy.StageFinal, policy.ActionDeactivate)
	unused.Unused = true
	expired := decision("frank", "AKIAKEYWARDENFRANK01", 100, policy.StageDeactivate, policy.StageFinal, policy.ActionDeactivate)
	expired.ExemptionProblem = "the exemption ended on 2026-11-26"
	creator := Creator{ARN: "arn:aws:iam::123456789012:user/admin", SourceIP: "192.0.2.10", CreatedAt: now.AddDate(0, 0, -70)}
	const secretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:keywarden/access-key/svc-reports-Ab12Cd"
	rotateDry := decision("svc-reports", "AKIAKEYWARDENSVCR001", 61, policy.StageRotate, policy.StageRotate, policy.ActionRotate)
	rotateDry.Rotation, rotateDry.Deadline = true, now.AddDate(0, 0, 7)
	rotated := rotateDry
	rotated.ReplacedBy, rotated.SecretARN = "AKIAKEYWARDENSVCR002", secretARN
	retired := decision("svc-reports", "AKIAKEYWARDENSVCR001", 68, policy.StageDeactivate, policy.StageDeactivate, policy.ActionDeactivate)
	retired.Rotation, retired.ReplacedBy, retired.SecretARN = true, "AKIAKEYWARDENSVCR002", secretARN
	for _, tc := range []struct {
		name    string
		d       policy.Decision
		dryRun  bool
		creator Creator
	}{
		{"warning.txt", decision("bob", "AKIAKEYWARDENBOB0001", 70, policy.WarningStage(70), policy.WarningStage(70), policy.ActionNotify), false, creator},
		{"warning-dry-run.txt", decision("bob", "AKIAKEYWARDENBOB0001", 70, policy.WarningStage(70), policy.WarningStage(70), policy.ActionNotify), true, Creator{}},
		{"final-and-deactivate.txt", decision("dave", "AKIAKEYWARDENDAVE001", 95, policy.StageDeactivate, policy.StageFinal, policy.ActionDeactivate), false, Creator{}},
		{"final-with-grace.txt", decision("dave", "AKIAKEYWARDENDAVE001", 90, policy.StageFinal, policy.StageFinal, policy.ActionNotify), false, Creator{}},
		{"deactivated.txt", decision("dave", "AKIAKEYWARDENDAVE001", 93, policy.StageDeactivate, policy.StageDeactivate, policy.ActionDeactivate), false, Creator{}},
		{"notify-only.txt", machine, false, Creator{}},
		{"unused.txt", unused, false, Creator{}},
		{"exemption-expired.txt", expired, false, Creator{}},
		{"deleted.txt", decision("ivan", "AKIAKEYWARDENIVAN001", 200, policy.StageDelete, policy.StageDelete, policy.ActionDelete), false, Creator{}},
		{"rotated.txt", rotated, false, creator},
		{"rotated-dry-run.txt", rotateDry, true, Creator{}},
		{"retired.txt", retired, false, Creator{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := ComposeNotice(tc.d, "123456789012", tc.dryRun, tc.creator)
			if len(n.Subject) >= 100 || strings.ContainsAny(n.Subject, "\r\n") {
				t.Errorf("subject %q", n.Subject)
			}
			if !strings.Contains(n.Body, tc.d.KeyID) {
				t.Error("the notice must name the key")
			}
			check(t, "notice-"+tc.name, "Subject: "+n.Subject+"\n\n"+n.Body)
		})
	}
}

func TestDigestGolden(t *testing.T) {
	scan := ScanResult{RunID: "daily-2026-12-01", Now: now, ReportGenerated: now.Add(-time.Minute), Users: 9, Keys: 10, Exempt: 1, Flagged: 7,
		Counts:    []StageCount{{"ok", 3}, {"warning-70", 2}, {"warning-80", 1}, {"final", 1}, {"deactivate", 2}},
		NoContact: []UserKey{{User: "gina"}}, NoContactTotal: 1,
		ExpiringExemptions: []UserKey{{User: "erin", KeyID: "AKIAKEYWARDENERIN001", Detail: "until 2026-12-11: vendor migration"}},
		ExemptionProblems:  []UserKey{{User: "frank", KeyID: "AKIAKEYWARDENFRANK01", Detail: "the exemption ended on 2026-11-26"}},
		TagProblems: []UserKey{{User: "svc-etl", KeyID: "AKIAKEYWARDENSVCE001",
			Detail: `tag keywarden:rotate is "yes", neither true nor false: not rotated; only "true" opts in`}},
		Problems: []UserKey{}, RootHasKeys: true,
		CreatedAgainstPolicy: []UserKey{{User: "ivan", KeyID: "AKIAKEYWARDENIVAN001", Detail: "created 2026-11-30 10:00 UTC by arn:aws:iam::123456789012:user/admin-alice from 192.0.2.10 although tag keywarden:no-access-keys is true"}},
		PolicyTagChanges:     []UserKey{{User: "erin", Detail: `tags of erin the key-age policy reads were changed: keywarden:exempt set to "2027-06-30 vendor migration" by arn:aws:iam::123456789012:user/admin-mallory from 203.0.113.50 at 2026-11-30 10:11 UTC; not undone`}},
		Tampered:             []UserKey{{User: "ci-deployer", KeyID: "AKIAKEYWARDENDRILL01", Detail: "key AKIAKEYWARDENDRILL01 of ci-deployer was contained as exposed on 2026-11-20 and has been set Active again by arn:aws:iam::123456789012:user/admin-mallory from 203.0.113.50 at 2026-11-30 10:02 UTC; undone: deactivated"}}}
	results := []ChunkResult{{Chunk: 0, Decisions: 7, Notices: 6, AlreadyNotified: 1,
		Deactivated: []UserKey{{User: "dave", KeyID: "AKIAKEYWARDENDAVE001", Detail: "deactivated"}},
		Rotated: []UserKey{{User: "svc-reports", KeyID: "AKIAKEYWARDENSVCR001",
			Detail: "replaced by AKIAKEYWARDENSVCR002, kept in secret arn:aws:secretsmanager:us-east-1:123456789012:secret:keywarden/access-key/svc-reports-Ab12Cd; deactivation on 2026-12-08"}},
		Failures: []Failure{{KeyID: "AKIAKEYWARDENHENRY01", User: "henry", What: "deactivate", Error: "AccessDenied", Cause: "deactivate key AKIAKEYWARDENHENRY01 of henry: AccessDenied"}}}}
	exec := "arn:aws:states:us-east-1:123456789012:execution:Keywarden:daily-2026-12-01"
	m := ComposeDigest(DigestInput{Scan: scan, Results: results, Execution: exec}, "us-east-1")
	check(t, "digest.txt", "Subject: "+m.Subject+"\n\n"+m.Body)
	if !strings.Contains(m.Subject, "1 KEYS NOT HANDLED") {
		t.Errorf("a failure must show in the subject: %q", m.Subject)
	}
	scan.DryRun = true
	dry := ComposeDigest(DigestInput{Scan: scan, Results: []ChunkResult{{Notices: 6, WouldDeactivate: []UserKey{{User: "dave", KeyID: "AKIAKEYWARDENDAVE001"}}}}, Execution: exec}, "us-east-1")
	check(t, "digest-dry-run.txt", "Subject: "+dry.Subject+"\n\n"+dry.Body)
}

// Tag values the policy could not read reach the digest, one line per key,
// as exemption tags that do not apply do.
func TestSummariseListsUnreadableTagValues(t *testing.T) {
	cfg := policy.DefaultConfig()
	key := func(user, id string) policy.Key {
		return policy.Key{ID: id, User: user, Active: true, Created: now.AddDate(0, 0, -75)}
	}
	decide := func(user, id string, tags map[string]string) policy.Decision {
		return policy.Decide(cfg, now, policy.User{Name: user, Tags: tags}, key(user, id), policy.History{})
	}
	ev := Evaluation{Now: now, Users: 4, Keys: 4, Decisions: []policy.Decision{
		decide("alice", "AKIAKEYWARDENALICE01", map[string]string{"UserType": " Human ", "keywarden:rotate": "FALSE"}),
		decide("svc-etl", "AKIAKEYWARDENSVCE001", map[string]string{"UserType": "Machine", "keywarden:rotate": "yes"}),
		decide("bob", "AKIAKEYWARDENBOB0001", map[string]string{"UserType": " ", "keywarden:rotate": "1"}),
		decide("carol", "AKIAKEYWARDENCAROL01", map[string]string{"keywarden:exempt": "next week"}),
	}}
	res := Summarise(ev, cfg)
	want := []UserKey{
		{User: "svc-etl", KeyID: "AKIAKEYWARDENSVCE001", Detail: `tag keywarden:rotate is "yes", neither true nor false: not rotated; only "true" opts in`},
		{User: "bob", KeyID: "AKIAKEYWARDENBOB0001", Detail: `tag UserType is " ", which names no user type; tag keywarden:rotate is "1", neither true nor false: not rotated; only "true" opts in`},
	}
	if len(res.TagProblems) != len(want) {
		t.Fatalf("tag problems %+v, want %+v", res.TagProblems, want)
	}
	for i := range want {
		if res.TagProblems[i] != want[i] {
			t.Errorf("tag problem %d: %+v, want %+v", i, res.TagProblems[i], want[i])
		}
	}
	// The unreadable exemption is where it was: with the exemptions.
	if len(res.ExemptionProblems) != 1 || res.ExemptionProblems[0].User != "carol" {
		t.Errorf("exemption problems %+v", res.ExemptionProblems)
	}
	body := ComposeDigest(DigestInput{Scan: res}, "").Body
	if !strings.Contains(body, "Tag values that could not be read, judged as if absent (2)\n  svc-etl  AKIAKEYWARDENSVCE001  tag keywarden:rotate is \"yes\"") {
		t.Errorf("the digest does not list the tag values:\n%s", body)
	}
}

func TestCandidate(t *testing.T) {
	cfg := policy.DefaultConfig()
	cfg.RotationDays = 0
	unusedCfg := cfg
	unusedCfg.UnusedDays = 30
	deleteCfg := cfg
	deleteCfg.DeleteAfterDays = 30
	rotateCfg := cfg
	rotateCfg.RotationDays = 60
	key := func(age int, active bool, usedDaysAgo int) credreport.Key {
		k := credreport.Key{User: "u", Active: active, LastRotated: now.AddDate(0, 0, -age)}
		if usedDaysAgo >= 0 {
			k.LastUsed = now.AddDate(0, 0, -usedDaysAgo)
		}
		return k
	}
	for _, tc := range []struct {
		name string
		cfg  policy.Config
		k    credreport.Key
		want bool
	}{
		{"young active", cfg, key(69, true, 1), false},
		{"at first warning", cfg, key(70, true, 1), true},
		{"past limit", cfg, key(200, true, 1), true},
		{"inactive, no deletion", cfg, key(200, false, 1), false},
		{"inactive, deletion on", deleteCfg, key(200, false, 1), true},
		{"inactive, rotation on (rotated keys retire)", rotateCfg, key(200, false, 1), true},
		{"rotation on, below rotationDays", rotateCfg, key(59, true, 1), false},
		{"rotation on, at rotationDays", rotateCfg, key(60, true, 1), true},
		{"inactive but new", deleteCfg, key(3, false, -1), false},
		{"unused rule off", cfg, key(45, true, -1), false},
		{"never used, 45 days", unusedCfg, key(45, true, -1), true},
		{"never used, 20 days", unusedCfg, key(20, true, -1), false},
		{"last used 31 days ago", unusedCfg, key(40, true, 31), true},
		{"recently used", unusedCfg, key(40, true, 2), false},
		{"new key grace", unusedCfg, key(5, true, -1), false},
	} {
		if got := Candidate(tc.cfg, tc.k, now); got != tc.want {
			t.Errorf("%s: Candidate = %v, want %v", tc.name, got, tc.want)
		}
	}
}

type snsFake struct{ subjects []string }

func (f *snsFake) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.subjects = append(f.subjects, aws.ToString(in.Subject))
	return &sns.PublishOutput{MessageId: aws.String("m")}, nil
}

// The digest, once published, writes the EMF line the dead-man's switch
// alarm counts.
func TestDigestEmitsRunSucceeded(t *testing.T) {
	var metrics bytes.Buffer
	f := &snsFake{}
	h := DigestHandler{SNS: f, Topic: "t", Logger: slog.New(slog.NewJSONHandler(&metrics, nil)), Now: func() time.Time { return now }}
	if _, err := h.Handle(context.Background(), DigestInput{Scan: ScanResult{Now: now}}); err != nil {
		t.Fatal(err)
	}
	var emf struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace string
				Metrics   []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Value float64 `json:"KeyAgeRunSucceeded"`
	}
	if err := json.Unmarshal(metrics.Bytes(), &emf); err != nil {
		t.Fatalf("%v: %s", err, metrics.String())
	}
	m := emf.AWS.CloudWatchMetrics
	if emf.Value != 1 || emf.AWS.Timestamp != now.UnixMilli() || len(m) != 1 || m[0].Namespace != "keywarden" || m[0].Metrics[0].Name != RunSucceededMetric {
		t.Errorf("EMF line %s", metrics.String())
	}
	if len(f.subjects) != 1 {
		t.Errorf("published %d", len(f.subjects))
	}
}
