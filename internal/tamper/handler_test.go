package tamper

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

// fakeLedger answers from maps and records what was read and written.
type fakeLedger struct {
	actions     map[string]ledger.Action // by key id + "/" + action
	revocations map[string]ledger.Revocation
	reads       []string
	flags       []ledger.Flag
	readErr     error
	flagErr     error
}

func (l *fakeLedger) Action(_ context.Context, keyID, action string) (ledger.Action, bool, error) {
	l.reads = append(l.reads, "action "+action+" of "+keyID)
	if l.readErr != nil {
		return ledger.Action{}, false, l.readErr
	}
	a, ok := l.actions[keyID+"/"+action]
	return a, ok, nil
}

func (l *fakeLedger) Revocation(_ context.Context, _, user string) (ledger.Revocation, bool, error) {
	l.reads = append(l.reads, "revocation of "+user)
	if l.readErr != nil {
		return ledger.Revocation{}, false, l.readErr
	}
	r, ok := l.revocations[user]
	return r, ok, nil
}

func (l *fakeLedger) RecordFlag(_ context.Context, f ledger.Flag) error {
	if l.flagErr != nil {
		return l.flagErr
	}
	l.flags = append(l.flags, f)
	return nil
}

// fakeIAM keeps one key's status and the user's inline policies.
type fakeIAM struct {
	status   types.StatusType
	policies map[string]string
	attached []string
	calls    []string
	putErr   error
}

func (f *fakeIAM) AttachUserPolicy(_ context.Context, in *iam.AttachUserPolicyInput, _ ...func(*iam.Options)) (*iam.AttachUserPolicyOutput, error) {
	f.calls = append(f.calls, "AttachUserPolicy "+aws.ToString(in.UserName)+" "+aws.ToString(in.PolicyArn))
	if f.putErr != nil {
		return nil, f.putErr
	}
	f.attached = append(f.attached, aws.ToString(in.PolicyArn))
	return &iam.AttachUserPolicyOutput{}, nil
}

func (f *fakeIAM) UpdateAccessKey(_ context.Context, in *iam.UpdateAccessKeyInput, _ ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	f.calls = append(f.calls, "UpdateAccessKey "+aws.ToString(in.UserName)+" "+aws.ToString(in.AccessKeyId)+" "+string(in.Status))
	f.status = in.Status
	return &iam.UpdateAccessKeyOutput{}, nil
}

func (f *fakeIAM) ListAccessKeys(_ context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	f.calls = append(f.calls, "ListAccessKeys "+aws.ToString(in.UserName))
	return &iam.ListAccessKeysOutput{AccessKeyMetadata: []types.AccessKeyMetadata{{AccessKeyId: aws.String(keyID), Status: f.status}}}, nil
}

func (f *fakeIAM) PutUserPolicy(_ context.Context, in *iam.PutUserPolicyInput, _ ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error) {
	f.calls = append(f.calls, "PutUserPolicy "+aws.ToString(in.UserName)+" "+aws.ToString(in.PolicyName))
	if f.putErr != nil {
		return nil, f.putErr
	}
	f.policies[aws.ToString(in.PolicyName)] = aws.ToString(in.PolicyDocument)
	return &iam.PutUserPolicyOutput{}, nil
}

var now = t0.Add(2 * time.Hour)

func newFakes() (*fakeIAM, *fakeLedger, Handler) {
	api := &fakeIAM{status: types.StatusTypeActive, policies: map[string]string{}}
	l := &fakeLedger{
		actions:     map[string]ledger.Action{keyID + "/" + ledger.ActionContain: *contained},
		revocations: map[string]ledger.Revocation{user: *revocation},
	}
	h := Handler{IAM: api, Ledger: l, Config: cfg, Now: func() time.Time { return now }, ReadBackAttempts: 3}
	return api, l, h
}

func raw(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The check reads only what its kind of call needs, and nothing for
// keywarden's own writes.
func TestCheckReadsOnlyWhatItNeeds(t *testing.T) {
	for _, tc := range []struct {
		sample string
		tamper bool
		reads  []string
	}{
		{"cloudtrail-update-access-key.json", true, []string{"action contain of " + keyID, "action deactivate of " + keyID}},
		{"cloudtrail-delete-user-policy.json", true, []string{"revocation of " + user}},
		{"cloudtrail-put-user-policy.json", true, []string{"revocation of " + user}},
		{"cloudtrail-put-user-policy-keywarden.json", false, nil},
		{"cloudtrail-tag-user.json", true, nil},
		{"cloudtrail-untag-user.json", true, nil},
		{"cloudtrail-create-access-key.json", false, []string{"revocation of bob"}},
	} {
		t.Run(tc.sample, func(t *testing.T) {
			api, l, h := newFakes()
			a, err := h.Handle(context.Background(), Input{Step: StepCheck, Event: raw(t, tc.sample)})
			if err != nil {
				t.Fatal(err)
			}
			if got := a.(Assessment); got.Tamper != tc.tamper {
				t.Errorf("tamper %v (%s), want %v", got.Tamper, got.Reason, tc.tamper)
			}
			if !slices.Equal(l.reads, tc.reads) {
				t.Errorf("ledger reads %q, want %q", l.reads, tc.reads)
			}
			if len(api.calls) != 0 || len(l.flags) != 0 {
				t.Errorf("the check wrote: IAM %v, flags %v", api.calls, l.flags)
			}
		})
	}
}

func TestCheckErrorsAreNamed(t *testing.T) {
	_, l, h := newFakes()
	for name, tc := range map[string]struct {
		raw  string
		want string
	}{
		"not JSON":        {"{", step.InvalidEvent},
		"another service": {`{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}`, step.UnsupportedEvent},
		"another call":    {strings.Replace(string(raw(t, "cloudtrail-untag-user.json")), `"UntagUser"`, `"DeleteUser"`, 1), step.UnsupportedEvent},
		"no key id":       {strings.Replace(string(raw(t, "cloudtrail-update-access-key.json")), `"accessKeyId": "AKIAKEYWARDENDRILL01"`, `"accessKeyId": ""`, 1), step.InvalidEvent},
	} {
		if _, err := h.Check(context.Background(), json.RawMessage(tc.raw)); step.Name(err) != tc.want {
			t.Errorf("%s: %v (%s), want %s", name, err, step.Name(err), tc.want)
		}
	}
	l.readErr = errors.New("dynamodb is down")
	if _, err := h.Check(context.Background(), raw(t, "cloudtrail-update-access-key.json")); err == nil || step.Name(err) != step.Failed {
		t.Errorf("a ledger failure: %v (%s)", err, step.Name(err))
	}
	if _, err := h.Handle(context.Background(), Input{Step: "undo"}); step.Name(err) != step.InvalidEvent {
		t.Errorf("unknown step: %v", err)
	}
	if _, err := h.Handle(context.Background(), Input{Step: StepRespond}); step.Name(err) != step.InvalidEvent {
		t.Errorf("respond without an assessment: %v", err)
	}
}

// A re-activated exposed key is set Inactive again and read back, then
// listed for the digest under the CloudTrail event's id.
func TestRespondDeactivatesTheKeyAgain(t *testing.T) {
	api, l, h := newFakes()
	a, err := h.Check(context.Background(), raw(t, "cloudtrail-update-access-key.json"))
	if err != nil || a.Undo != UndoDeactivateKey {
		t.Fatalf("check: %+v, %v", a, err)
	}
	r, err := h.Respond(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusDeactivated || !r.Flagged || !r.At.Equal(now) || api.status != types.StatusTypeInactive {
		t.Errorf("response %+v, key %s", r, api.status)
	}
	if want := []string{"UpdateAccessKey ci-deployer " + keyID + " Inactive", "ListAccessKeys ci-deployer"}; !slices.Equal(api.calls, want) {
		t.Errorf("IAM calls %q, want %q", api.calls, want)
	}
	if len(l.flags) != 1 {
		t.Fatalf("flags %+v", l.flags)
	}
	f := l.flags[0]
	if f.Kind != ledger.FlagTampered || f.KeyID != keyID || f.User != user || f.Ref != a.Call.EventID || !f.At.Equal(a.Call.EventTime) ||
		!strings.Contains(f.Detail, "arn:aws:iam::123456789012:user/admin-mallory from 203.0.113.50") || !strings.Contains(f.Detail, "undone: deactivated") {
		t.Errorf("flag %+v", f)
	}
}

// A deleted revoke policy is put back with its original cut-off: exactly
// what the revoke step wrote.
func TestRespondPutsThePolicyBack(t *testing.T) {
	api, _, h := newFakes()
	a, err := h.Check(context.Background(), raw(t, "cloudtrail-delete-user-policy.json"))
	if err != nil || a.Undo != UndoRestorePolicy {
		t.Fatalf("check: %+v, %v", a, err)
	}
	r, err := h.Respond(context.Background(), a)
	if err != nil || r.Status != StatusRestored {
		t.Fatalf("response %+v, %v", r, err)
	}
	if got := api.policies[exposure.RevokePolicyName]; got != exposure.RevokePolicy(t0) {
		t.Errorf("policy put back:\n%s\nwant\n%s", got, exposure.RevokePolicy(t0))
	}

	api.putErr = &types.NoSuchEntityException{Message: aws.String("The user with name ci-deployer cannot be found.")}
	if r, err := h.Respond(context.Background(), a); err != nil || r.Status != StatusUserGone {
		t.Errorf("user gone: %+v, %v", r, err)
	}
	api.putErr = &types.ServiceFailureException{Message: aws.String("boom")}
	if _, err := h.Respond(context.Background(), a); step.Name(err) != step.Transient {
		t.Errorf("IAM failure: %v (%s), want Transient", err, step.Name(err))
	}
}

// A tag change undoes nothing and is listed as a user's flag; a ledger
// that cannot be written is said, not thrown.
func TestRespondListsTagChanges(t *testing.T) {
	api, l, h := newFakes()
	a, err := h.Check(context.Background(), raw(t, "cloudtrail-tag-user.json"))
	if err != nil || a.Kind != KindPolicyTag || len(a.TagChanges) != 1 || a.TagChanges[0].Key != "keywarden:exempt" {
		t.Fatalf("check: %+v, %v", a, err)
	}
	r, err := h.Respond(context.Background(), a)
	if err != nil || r.Status != "" || !r.Flagged || len(api.calls) != 0 {
		t.Fatalf("response %+v, %v, IAM %v", r, err, api.calls)
	}
	if f := l.flags[0]; f.Kind != ledger.FlagPolicyTagChanged || f.KeyID != "" || f.User != "erin" || !strings.Contains(f.Detail, "not undone") {
		t.Errorf("flag %+v", f)
	}
	l.flagErr = errors.New("throttled")
	if r, err := h.Respond(context.Background(), a); err != nil || r.Flagged || r.LedgerError == "" {
		t.Errorf("flag failure: %+v, %v", r, err)
	}
	if _, err := h.Respond(context.Background(), Assessment{Reason: "keywarden's own write"}); step.Name(err) != step.InvalidEvent {
		t.Errorf("responding to no tampering: %v", err)
	}
	a.Undo = "shred"
	if _, err := h.Respond(context.Background(), a); step.Name(err) != step.InvalidEvent {
		t.Errorf("unknown undo: %v", err)
	}
}

func TestFlagDetailIsBounded(t *testing.T) {
	a := Decide(call(event.EventNameTagUser, now, func(c *event.IAMCall) {
		c.Tags = []event.Tag{{Key: "keywarden:exempt", Value: strings.Repeat("é", 250)}}
	}), Facts{}, cfg)
	if f := Flag(a, Response{}); len(f.Detail) > maxFlagDetail || !strings.HasSuffix(f.Detail, "...") {
		t.Errorf("detail of %d bytes: %q", len(f.Detail), f.Detail)
	}
}

func TestOwnWrite(t *testing.T) {
	roles := []string{revoker, tamperer}
	for _, tc := range []struct {
		name   string
		caller event.Caller
		own    bool
	}{
		{"session issuer", event.Caller{RoleARN: revoker, ARN: "arn:aws:sts::123456789012:assumed-role/x/y"}, true},
		{"session ARN, role without a path", event.Caller{ARN: "arn:aws:sts::123456789012:assumed-role/keywarden-RevokeFunctionRole/s"}, true},
		{"session ARN, role with a path", event.Caller{ARN: "arn:aws:sts::123456789012:assumed-role/keywarden-TamperFunctionRole/s"}, true},
		{"same role name, another account", event.Caller{ARN: "arn:aws:sts::210987654321:assumed-role/keywarden-RevokeFunctionRole/s"}, false},
		{"same role name, another partition", event.Caller{ARN: "arn:aws-cn:sts::123456789012:assumed-role/keywarden-RevokeFunctionRole/s"}, false},
		{"another role", event.Caller{ARN: "arn:aws:sts::123456789012:assumed-role/admin/s", RoleARN: "arn:aws:iam::123456789012:role/admin"}, false},
		{"a role name's prefix", event.Caller{ARN: "arn:aws:sts::123456789012:assumed-role/keywarden-RevokeFunctionRoleX/s"}, false},
		{"no session name", event.Caller{ARN: "arn:aws:sts::123456789012:assumed-role/keywarden-RevokeFunctionRole"}, false},
		{"an IAM user named like the role", event.Caller{ARN: "arn:aws:iam::123456789012:user/keywarden-RevokeFunctionRole"}, false},
		{"nothing", event.Caller{}, false},
	} {
		if _, own := OwnWrite(tc.caller, roles); own != tc.own {
			t.Errorf("%s: own %v, want %v", tc.name, own, tc.own)
		}
	}
	if _, own := OwnWrite(event.Caller{RoleARN: ""}, []string{""}); own {
		t.Error("an empty role list entry matched an empty issuer")
	}
}

func TestWatchedTags(t *testing.T) {
	c := policy.DefaultConfig()
	if got := WatchedTags(c, "keywarden:no-access-keys"); !slices.Equal(got, []string{"UserType", "keywarden:exempt", "keywarden:rotate", "keywarden:no-access-keys"}) {
		t.Errorf("defaults: %v", got)
	}
	c.RotationTag, c.ExemptionTag = "", "UserType"
	if got := WatchedTags(c, ""); !slices.Equal(got, []string{"UserType"}) {
		t.Errorf("empty and repeated tags: %v", got)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) settings.Lookup {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	c, err := ConfigFromEnv(env(map[string]string{settings.EnvOwnRoleArns: revoker + ", " + tamperer, settings.EnvWatchedTags: "UserType,keywarden:exempt"}))
	if err != nil || !slices.Equal(c.OwnRoles, []string{revoker, tamperer}) || !c.Undo || c.OpenDays != DefaultOpenDays || len(c.WatchedTags) != 2 {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	c, err = ConfigFromEnv(env(map[string]string{settings.EnvOwnRoleArns: revoker, settings.EnvTamperUndo: "false", settings.EnvIncidentOpenDays: "7"}))
	if err != nil || c.Undo || c.OpenDays != 7 {
		t.Errorf("set: %+v, %v", c, err)
	}
	for name, m := range map[string]map[string]string{
		"no roles":     {},
		"not a role":   {settings.EnvOwnRoleArns: "arn:aws:iam::123456789012:user/alice"},
		"bad undo":     {settings.EnvOwnRoleArns: revoker, settings.EnvTamperUndo: "maybe"},
		"zero days":    {settings.EnvOwnRoleArns: revoker, settings.EnvIncidentOpenDays: "0"},
		"a year+ days": {settings.EnvOwnRoleArns: revoker, settings.EnvIncidentOpenDays: "366"},
	} {
		if _, err := ConfigFromEnv(env(m)); !errors.Is(err, settings.ErrInvalid) {
			t.Errorf("%s: %v, want settings.ErrInvalid", name, err)
		}
	}
	if got := OwnRolesFromEnv(env(map[string]string{})); len(got) != 0 {
		t.Errorf("intake without roles: %v", got)
	}
}
