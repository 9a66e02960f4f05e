package keyage

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/rotation"
	"github.com/keywarden/keywarden/internal/step"
)

// memStore is an in-memory Store: conditional records, like the ledger.
type memStore struct {
	chunks  map[string][]byte
	notices map[string]NoticeRecord // key id + "/" + stage
	actions map[string]ActionRecord // key id + "/" + action
	order   []string                // "notice <stage>" and "action <action>", in order
}

func newMemStore() *memStore {
	return &memStore{chunks: map[string][]byte{}, notices: map[string]NoticeRecord{}, actions: map[string]ActionRecord{}}
}

func (m *memStore) Histories(_ context.Context, ids []string) (map[string]policy.History, error) {
	out := map[string]policy.History{}
	for _, id := range ids {
		if r, ok := m.actions[id+"/"+ledger.ActionRotated]; ok {
			out[id] = policy.History{RotatedAt: r.At, ReplacedBy: r.NewKeyID, SecretARN: r.SecretARN}
		}
	}
	return out, nil
}
func (m *memStore) PutChunk(_ context.Context, run string, n int, data []byte) error {
	m.chunks[fmt.Sprint(run, n)] = data
	return nil
}
func (m *memStore) GetChunk(_ context.Context, run string, n int) ([]byte, error) {
	return m.chunks[fmt.Sprint(run, n)], nil
}
func (m *memStore) RecordNotice(_ context.Context, key, stage string, r NoticeRecord) (bool, error) {
	if _, ok := m.notices[key+"/"+stage]; ok {
		return false, nil
	}
	m.notices[key+"/"+stage] = r
	m.order = append(m.order, "notice "+stage)
	return true, nil
}
func (m *memStore) ConfirmNotice(context.Context, string, string, time.Time, string) error {
	return nil
}
func (m *memStore) RecordAction(_ context.Context, key, action string, r ActionRecord) (bool, error) {
	if _, ok := m.actions[key+"/"+action]; ok {
		return false, nil
	}
	m.actions[key+"/"+action] = r
	m.order = append(m.order, "action "+action)
	return true, nil
}
func (m *memStore) Creator(context.Context, string) (Creator, bool, error) {
	return Creator{}, false, nil
}
func (m *memStore) CreatedAgainstPolicy(context.Context, time.Time, time.Time) ([]UserKey, error) {
	return nil, nil
}
func (m *memStore) Tampering(context.Context, time.Time, time.Time) (tags, undone []UserKey, err error) {
	return nil, nil, nil
}

// fakeRotator returns res and err, and counts its calls.
type fakeRotator struct {
	res   rotation.Result
	err   error
	calls int
}

func (f *fakeRotator) Rotate(context.Context, string, string) (rotation.Result, error) {
	f.calls++
	return f.res, f.err
}

// topic records what is published to it.
type topic struct{ messages []string }

func (tp *topic) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	tp.messages = append(tp.messages, aws.ToString(in.Subject)+"\n"+aws.ToString(in.Message))
	return &sns.PublishOutput{MessageId: aws.String(fmt.Sprint("msg-", len(tp.messages)))}, nil
}

const secretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:keywarden/access-key/svc-reports-Ab12Cd"

func actOnRotation(t *testing.T, rot Rotator, dryRun bool) (ChunkResult, *memStore, *topic) {
	t.Helper()
	d := decision("svc-reports", "AKIAKEYWARDENSVCR001", 61, policy.StageRotate, policy.StageRotate, policy.ActionRotate)
	d.Rotation, d.Deadline = true, now.AddDate(0, 0, 7)
	store, tp := newMemStore(), &topic{}
	data, _ := json.Marshal([]policy.Decision{d})
	_ = store.PutChunk(context.Background(), "run", 0, data)
	h := ActHandler{Store: store, Notifier: Notifier{SNS: tp, Topic: "arn:aws:sns:us-east-1:123456789012:alerts"}, Rotator: rot,
		Account: "123456789012", Now: func() time.Time { return now }}
	res, err := h.Handle(context.Background(), ActInput{RunID: "run", Chunk: 0, DryRun: dryRun})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	return res, store, tp
}

func TestActRotates(t *testing.T) {
	rot := &fakeRotator{res: rotation.Result{NewKeyID: "AKIAKEYWARDENSVCR002", SecretARN: secretARN, RetiredKeyID: "AKIAKEYWARDENSVCR000"}}
	res, store, tp := actOnRotation(t, rot, false)
	if len(res.Rotated) != 1 || !strings.Contains(res.Rotated[0].Detail, "AKIAKEYWARDENSVCR002") || len(res.Failures) != 0 {
		t.Fatalf("result %+v", res)
	}
	if len(res.Deleted) != 1 || res.Deleted[0].KeyID != "AKIAKEYWARDENSVCR000" {
		t.Errorf("the inactive key deleted to make room is not reported: %+v", res.Deleted)
	}
	// Recorded before, confirmed after, then the owner hears of it.
	if got, want := strings.Join(store.order, ", "), "action rotate, action delete, action rotated, notice rotate"; got != want {
		t.Errorf("ledger order %q, want %q", got, want)
	}
	if r := store.actions["AKIAKEYWARDENSVCR001/"+ledger.ActionRotated]; r.NewKeyID != "AKIAKEYWARDENSVCR002" || r.SecretARN != secretARN {
		t.Errorf("rotated record %+v", r)
	}
	if len(tp.messages) != 1 || !strings.Contains(tp.messages[0], secretARN) || !strings.Contains(tp.messages[0], "AKIAKEYWARDENSVCR002") {
		t.Errorf("owner notice %q must name the new key and its secret", tp.messages)
	}
}

// A chunk retried after its rotation was recorded does not rotate again,
// and the owner is not told twice.
func TestActRetriedChunkDoesNotRotateTwice(t *testing.T) {
	rot := &fakeRotator{res: rotation.Result{NewKeyID: "AKIAKEYWARDENSVCR002", SecretARN: secretARN}}
	_, store, tp := actOnRotation(t, rot, false)
	h := ActHandler{Store: store, Notifier: Notifier{SNS: tp, Topic: "arn:topic"}, Rotator: rot, Now: func() time.Time { return now }}
	res, err := h.Handle(context.Background(), ActInput{RunID: "run", Chunk: 0})
	if err != nil {
		t.Fatal(err)
	}
	if rot.calls != 1 || len(res.Rotated) != 1 || len(res.Failures) != 0 || len(tp.messages) != 1 {
		t.Errorf("retry: %d rotations, result %+v, %d messages; want 1 rotation in all, reported done, 1 notice", rot.calls, res, len(tp.messages))
	}
}

func TestActRotationFailureIsNamedAndNotAnnounced(t *testing.T) {
	rot := &fakeRotator{res: rotation.Result{NewKeyID: "AKIAKEYWARDENSVCR002"},
		err: &step.Error{Name: step.Failed, Err: fmt.Errorf("%w: the old key still works", rotation.ErrRolledBack)}}
	res, store, tp := actOnRotation(t, rot, false)
	if len(res.Failures) != 1 || res.Failures[0].What != "rotate" || !strings.Contains(res.Failures[0].Cause, "rolled back") {
		t.Fatalf("failures %+v", res.Failures)
	}
	if len(res.Rotated) != 0 || len(tp.messages) != 0 {
		t.Errorf("a failed rotation was announced: rotated %v, messages %v", res.Rotated, tp.messages)
	}
	if _, ok := store.actions["AKIAKEYWARDENSVCR001/"+ledger.ActionRotated]; ok {
		t.Error("a failed rotation was recorded as done, so the old key would be retired")
	}
	digest := ComposeDigest(DigestInput{Scan: ScanResult{Now: now}, Results: []ChunkResult{res}}, "")
	if !strings.Contains(digest.Subject, "1 KEYS NOT HANDLED") || !strings.Contains(digest.Body, "rotate failed") {
		t.Errorf("digest does not alert on the failed rotation:\n%s\n%s", digest.Subject, digest.Body)
	}
}

func TestActDryRunDoesNotRotate(t *testing.T) {
	rot := &fakeRotator{}
	res, _, tp := actOnRotation(t, rot, true)
	if rot.calls != 0 || len(res.WouldRotate) != 1 || len(res.Rotated) != 0 {
		t.Errorf("dry run: %d rotations, result %+v", rot.calls, res)
	}
	if len(tp.messages) != 1 || !strings.Contains(tp.messages[0], "[DRY RUN]") {
		t.Errorf("dry-run notice %q", tp.messages)
	}
}

func TestActWithoutRotatorSaysRotationIsOff(t *testing.T) {
	res, _, _ := actOnRotation(t, nil, false)
	if len(res.Failures) != 1 || res.Failures[0].Error != step.InvalidSetting || !strings.Contains(res.Failures[0].Cause, "rotationDays") {
		t.Errorf("failures %+v", res.Failures)
	}
}

// keysIAM is a user's keys as IAM lists them; it records updates.
type keysIAM struct {
	keys    map[string]iamtypes.StatusType
	updated []string
}

func (k *keysIAM) ListAccessKeys(_ context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	out := &iam.ListAccessKeysOutput{}
	for id, st := range k.keys {
		out.AccessKeyMetadata = append(out.AccessKeyMetadata, iamtypes.AccessKeyMetadata{AccessKeyId: aws.String(id), UserName: in.UserName, Status: st})
	}
	return out, nil
}

func (k *keysIAM) UpdateAccessKey(_ context.Context, in *iam.UpdateAccessKeyInput, _ ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	k.keys[aws.ToString(in.AccessKeyId)] = in.Status
	k.updated = append(k.updated, aws.ToString(in.AccessKeyId))
	return &iam.UpdateAccessKeyOutput{}, nil
}

func (k *keysIAM) DeleteAccessKey(_ context.Context, in *iam.DeleteAccessKeyInput, _ ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error) {
	delete(k.keys, aws.ToString(in.AccessKeyId))
	return &iam.DeleteAccessKeyOutput{}, nil
}

// A replaced key is deactivated only while its replacement is active.
func TestRetiringAReplacedKeyNeedsAWorkingReplacement(t *testing.T) {
	for _, tc := range []struct {
		name        string
		replacement iamtypes.StatusType // "" = gone
		retired     bool
	}{
		{"replacement active: retire", iamtypes.StatusTypeActive, true},
		{"replacement deactivated by someone: keep", iamtypes.StatusTypeInactive, false},
		{"replacement deleted by someone: keep", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &keysIAM{keys: map[string]iamtypes.StatusType{"AKIAKEYWARDENSVCR001": iamtypes.StatusTypeActive}}
			if tc.replacement != "" {
				fake.keys["AKIAKEYWARDENSVCR002"] = tc.replacement
			}
			d := decision("svc-reports", "AKIAKEYWARDENSVCR001", 68, policy.StageDeactivate, policy.StageDeactivate, policy.ActionDeactivate)
			d.Rotation, d.ReplacedBy, d.SecretARN = true, "AKIAKEYWARDENSVCR002", secretARN
			store, tp := newMemStore(), &topic{}
			data, _ := json.Marshal([]policy.Decision{d})
			_ = store.PutChunk(context.Background(), "run", 0, data)
			h := ActHandler{IAM: fake, Store: store, Notifier: Notifier{SNS: tp, Topic: "arn:topic"}, Now: func() time.Time { return now }, ReadBackAttempts: 1}
			res, err := h.Handle(context.Background(), ActInput{RunID: "run"})
			if err != nil {
				t.Fatal(err)
			}
			if got := fake.keys["AKIAKEYWARDENSVCR001"] == iamtypes.StatusTypeInactive; got != tc.retired {
				t.Errorf("old key retired %t, want %t (updates %v)", got, tc.retired, fake.updated)
			}
			if !tc.retired && (len(res.Failures) != 1 || !strings.Contains(res.Failures[0].Cause, "is kept active") || len(tp.messages) != 0) {
				t.Errorf("failures %+v, messages %d: want one failure saying the old key is kept, and no notice", res.Failures, len(tp.messages))
			}
		})
	}
}
