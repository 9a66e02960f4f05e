package exposure

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

var t0 = time.Date(2026, 11, 20, 9, 15, 0, 0, time.UTC)

func now() time.Time { return t0 }

// fakeIAM records calls and answers from its fields.
type fakeIAM struct {
	calls     []string
	owner     map[string]string // key id -> user
	ownerErr  error
	updateErr error
	listed    []string // statuses returned by successive ListAccessKeys calls; "" = key absent
	listErr   error
	putErr    error
	attachErr error
	deleteErr error
	policy    string
}

func (f *fakeIAM) GetAccessKeyLastUsed(_ context.Context, in *iam.GetAccessKeyLastUsedInput, _ ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	f.calls = append(f.calls, "GetAccessKeyLastUsed "+aws.ToString(in.AccessKeyId))
	if f.ownerErr != nil {
		return nil, f.ownerErr
	}
	u, ok := f.owner[aws.ToString(in.AccessKeyId)]
	if !ok {
		return nil, &types.NoSuchEntityException{Message: aws.String("no such key")}
	}
	return &iam.GetAccessKeyLastUsedOutput{UserName: aws.String(u)}, nil
}

func (f *fakeIAM) UpdateAccessKey(_ context.Context, in *iam.UpdateAccessKeyInput, _ ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	f.calls = append(f.calls, "UpdateAccessKey "+aws.ToString(in.UserName)+" "+aws.ToString(in.AccessKeyId)+" "+string(in.Status))
	return &iam.UpdateAccessKeyOutput{}, f.updateErr
}

func (f *fakeIAM) ListAccessKeys(_ context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	f.calls = append(f.calls, "ListAccessKeys "+aws.ToString(in.UserName))
	if f.listErr != nil {
		return nil, f.listErr
	}
	status := ""
	if len(f.listed) > 0 {
		status, f.listed = f.listed[0], f.listed[1:]
	}
	out := &iam.ListAccessKeysOutput{AccessKeyMetadata: []types.AccessKeyMetadata{
		{AccessKeyId: aws.String("AKIAOTHERKEY00000001"), Status: types.StatusTypeActive},
	}}
	if status != "" {
		out.AccessKeyMetadata = append(out.AccessKeyMetadata, types.AccessKeyMetadata{AccessKeyId: aws.String(key), Status: types.StatusType(status)})
	}
	return out, nil
}

func (f *fakeIAM) PutUserPolicy(_ context.Context, in *iam.PutUserPolicyInput, _ ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error) {
	f.calls = append(f.calls, "PutUserPolicy "+aws.ToString(in.UserName)+" "+aws.ToString(in.PolicyName))
	f.policy = aws.ToString(in.PolicyDocument)
	return &iam.PutUserPolicyOutput{}, f.putErr
}

func (f *fakeIAM) AttachUserPolicy(_ context.Context, in *iam.AttachUserPolicyInput, _ ...func(*iam.Options)) (*iam.AttachUserPolicyOutput, error) {
	f.calls = append(f.calls, "AttachUserPolicy "+aws.ToString(in.UserName)+" "+aws.ToString(in.PolicyArn))
	return &iam.AttachUserPolicyOutput{}, f.attachErr
}

func (f *fakeIAM) DeleteAccessKey(_ context.Context, in *iam.DeleteAccessKeyInput, _ ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error) {
	f.calls = append(f.calls, "DeleteAccessKey "+aws.ToString(in.UserName)+" "+aws.ToString(in.AccessKeyId))
	return &iam.DeleteAccessKeyOutput{}, f.deleteErr
}

const (
	key         = "AKIAKEYWARDENDRILL01"
	thisAccount = "123456789012"
)

var (
	finding   = event.Exposure{AccessKeyID: key, UserName: "ci-deployer", Account: "123456789012"}
	noSuch    = &types.NoSuchEntityException{Message: aws.String("gone")}
	throttled = &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	denied    = &smithy.GenericAPIError{Code: "AccessDenied", Message: "not allowed"}
)

func sample(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("../../events/samples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func equalCalls(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFindingHandler(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sample    string
		iam       *fakeIAM
		wantUser  string
		wantErr   string
		reported  string
		verified  bool
		wantRoot  bool
		wantCalls int
	}{
		{name: "ta owner confirmed", sample: "trusted-advisor-exposed-key.json", iam: &fakeIAM{owner: map[string]string{key: "ci-deployer"}}, wantUser: "ci-deployer", verified: true, wantCalls: 1},
		{name: "ta owner differs", sample: "trusted-advisor-exposed-key.json", iam: &fakeIAM{owner: map[string]string{key: "build-bot"}}, wantUser: "build-bot", reported: "ci-deployer", verified: true, wantCalls: 1},
		{name: "ta key unknown keeps reported user", sample: "trusted-advisor-exposed-key.json", iam: &fakeIAM{}, wantUser: "ci-deployer", wantCalls: 1},
		{name: "health resolves user", sample: "health-credentials-exposed.json", iam: &fakeIAM{owner: map[string]string{key: "ci-deployer"}}, wantUser: "ci-deployer", verified: true, wantCalls: 1},
		{name: "health key unknown", sample: "health-credentials-exposed.json", iam: &fakeIAM{}, wantErr: step.InvalidEvent, wantCalls: 1},
		{name: "root makes no IAM call", sample: "trusted-advisor-root-key.json", iam: &fakeIAM{}, wantUser: "root", wantRoot: true},
		{name: "unsupported", sample: "unsupported-event.json", iam: &fakeIAM{}, wantErr: step.UnsupportedEvent},
		{name: "owner lookup throttled", sample: "health-credentials-exposed.json", iam: &fakeIAM{ownerErr: throttled}, wantErr: step.Throttled, wantCalls: 1},
		// eventMetadata names the user: IAM's owner still wins when IAM
		// knows the key; when it does not, the reported user is acted on.
		{name: "health metadata user confirmed", sample: "health-credentials-exposed-metadata.json", iam: &fakeIAM{owner: map[string]string{key: "ci-deployer"}}, wantUser: "ci-deployer", verified: true, wantCalls: 1},
		{name: "health metadata user differs", sample: "health-credentials-exposed-metadata.json", iam: &fakeIAM{owner: map[string]string{key: "build-bot"}}, wantUser: "build-bot", reported: "ci-deployer", verified: true, wantCalls: 1},
		{name: "health metadata user, key unknown", sample: "health-credentials-exposed-metadata.json", iam: &fakeIAM{}, wantUser: "ci-deployer", wantCalls: 1},
		{name: "health compromise suspected", sample: "health-credentials-compromise-suspected.json", iam: &fakeIAM{owner: map[string]string{key: "ci-deployer"}}, wantUser: "ci-deployer", verified: true, wantCalls: 1},
		{name: "health notice is not a finding", sample: "health-iam-quarantine.json", iam: &fakeIAM{}, wantErr: step.UnsupportedEvent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := FindingHandler{IAM: tc.iam, Account: thisAccount}.Handle(context.Background(), FindingInput{Event: sample(t, tc.sample)})
			if got := step.Name(err); got != tc.wantErr {
				t.Fatalf("error %q (%v), want %q", got, err, tc.wantErr)
			}
			if len(tc.iam.calls) != tc.wantCalls {
				t.Errorf("IAM calls %v, want %d", tc.iam.calls, tc.wantCalls)
			}
			if err != nil {
				return
			}
			if x.UserName != tc.wantUser || x.ReportedUserName != tc.reported || x.OwnerVerified != tc.verified || x.Root != tc.wantRoot {
				t.Errorf("finding %+v", x)
			}
		})
	}
	_, err := FindingHandler{IAM: &fakeIAM{}, Account: thisAccount}.Handle(context.Background(), FindingInput{Event: json.RawMessage(`{"source":"aws.trustedadvisor"}`)})
	if step.Name(err) != step.InvalidEvent {
		t.Errorf("malformed event: %v", err)
	}
}

// Health's organizational view names a member account: the finding says
// so, and this account's IAM is not asked about the key.
func TestFindingOfAnotherAccount(t *testing.T) {
	api := &fakeIAM{owner: map[string]string{"AKIAMEMBERACCOUNT001": "someone-here"}}
	x, err := FindingHandler{IAM: api, Account: thisAccount}.Handle(context.Background(), FindingInput{Event: sample(t, "health-organizational-view.json")})
	if err != nil {
		t.Fatal(err)
	}
	if !x.ForeignAccount || x.Account != "111122223333" || x.ActsIn != thisAccount || x.ReceivedIn != thisAccount || x.OwnerVerified || x.UserName != "" {
		t.Errorf("finding %+v", x)
	}
	equalCalls(t, api.calls)
	if x, err := (FindingHandler{IAM: api, Account: "111122223333"}).Handle(context.Background(), FindingInput{Event: sample(t, "health-organizational-view.json")}); err != nil || x.ForeignAccount {
		t.Errorf("deployed in the member account itself: %+v, %v", x, err)
	}
}

// A Health report names no user, so IAM's answer is what says a key is
// root's: every spelling of root ends as the root escalation, with no IAM
// write, never as InvalidEvent or a containment of a user named "root".
func TestFindingHandlerRootOwnerSpellings(t *testing.T) {
	for _, owner := range []string{"root", "Root", "<root>", "<root_account>", "arn:aws:iam::123456789012:root", "arn:aws-us-gov:iam::123456789012:root"} {
		for _, name := range []string{"health-credentials-exposed.json", "trusted-advisor-exposed-key.json"} {
			t.Run(name+" "+owner, func(t *testing.T) {
				api := &fakeIAM{owner: map[string]string{key: owner}}
				x, err := FindingHandler{IAM: api, Account: thisAccount}.Handle(context.Background(), FindingInput{Event: sample(t, name)})
				if err != nil {
					t.Fatal(err)
				}
				if !x.Root || x.UserName != event.RootUserName || !x.OwnerVerified {
					t.Errorf("finding %+v", x)
				}
				if strings.HasPrefix(name, "trusted-advisor") && x.ReportedUserName != "ci-deployer" {
					t.Errorf("the reported user is lost: %+v", x)
				}
				equalCalls(t, api.calls, "GetAccessKeyLastUsed "+key)
				if err := requireUserKey(x); step.Name(err) != step.InvalidEvent {
					t.Errorf("an IAM step would act on the root key: %v", err)
				}
			})
			owner, err := ResolveOwner(context.Background(), &fakeIAM{owner: map[string]string{key: owner}}, key)
			if err != nil || owner != event.RootUserName {
				t.Errorf("ResolveOwner = %q, %v; want %q", owner, err, event.RootUserName)
			}
		}
	}
	// An IAM user's name that merely starts like root is a user.
	x, err := FindingHandler{IAM: &fakeIAM{owner: map[string]string{key: "rooted"}}, Account: thisAccount}.Handle(context.Background(), FindingInput{Event: sample(t, "health-credentials-exposed.json")})
	if err != nil || x.Root || x.UserName != "rooted" {
		t.Errorf("finding %+v, %v", x, err)
	}
}

func TestContain(t *testing.T) {
	for _, tc := range []struct {
		name       string
		iam        *fakeIAM
		wantStatus string
		wantErr    string
		wantCalls  []string
	}{
		{"deactivated and verified", &fakeIAM{listed: []string{"Inactive"}}, StatusDeactivated, "",
			[]string{"UpdateAccessKey ci-deployer " + key + " Inactive", "ListAccessKeys ci-deployer"}},
		{"eventually consistent read-back", &fakeIAM{listed: []string{"Active", "Active", "Inactive"}}, StatusDeactivated, "",
			[]string{"UpdateAccessKey ci-deployer " + key + " Inactive", "ListAccessKeys ci-deployer", "ListAccessKeys ci-deployer", "ListAccessKeys ci-deployer"}},
		{"never reads inactive", &fakeIAM{listed: []string{"Active", "Active", "Active"}}, "", ErrContainmentUnverified,
			[]string{"UpdateAccessKey ci-deployer " + key + " Inactive", "ListAccessKeys ci-deployer", "ListAccessKeys ci-deployer", "ListAccessKeys ci-deployer"}},
		{"already gone", &fakeIAM{updateErr: noSuch}, StatusAlreadyGone, "",
			[]string{"UpdateAccessKey ci-deployer " + key + " Inactive"}},
		{"deleted between calls", &fakeIAM{listed: []string{""}}, StatusAlreadyGone, "",
			[]string{"UpdateAccessKey ci-deployer " + key + " Inactive", "ListAccessKeys ci-deployer"}},
		{"throttled", &fakeIAM{updateErr: throttled}, "", step.Throttled,
			[]string{"UpdateAccessKey ci-deployer " + key + " Inactive"}},
		{"access denied", &fakeIAM{updateErr: denied}, "", step.AccessDenied,
			[]string{"UpdateAccessKey ci-deployer " + key + " Inactive"}},
		{"read-back fails", &fakeIAM{listErr: throttled}, "", step.Throttled,
			[]string{"UpdateAccessKey ci-deployer " + key + " Inactive", "ListAccessKeys ci-deployer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := ContainHandler{IAM: tc.iam, Now: now, ReadBackAttempts: 3}
			c, err := h.Handle(context.Background(), Input{Finding: finding})
			if step.Name(err) != tc.wantErr {
				t.Fatalf("error %q (%v), want %q", step.Name(err), err, tc.wantErr)
			}
			if c.Status != tc.wantStatus {
				t.Errorf("status %q, want %q", c.Status, tc.wantStatus)
			}
			equalCalls(t, tc.iam.calls, tc.wantCalls...)
		})
	}
}

func TestStepsRefuseRootAndEmptyUser(t *testing.T) {
	for _, x := range []event.Exposure{{AccessKeyID: key, Root: true, UserName: "root"}, {AccessKeyID: key}} {
		f := &fakeIAM{}
		in := Input{Finding: x}
		_, e1 := ContainHandler{IAM: f, Now: now, ReadBackAttempts: 1}.Handle(context.Background(), in)
		_, e2 := RevokeHandler{IAM: f, Now: now}.Handle(context.Background(), in)
		_, e3 := RemoveHandler{IAM: f, Now: now, Action: settings.ActionDelete}.Handle(context.Background(), in)
		for _, err := range []error{e1, e2, e3} {
			if step.Name(err) != step.InvalidEvent {
				t.Errorf("%+v: err %v, want InvalidEvent", x, err)
			}
		}
		if len(f.calls) != 0 {
			t.Errorf("IAM was called: %v", f.calls)
		}
	}
}

func TestRevoke(t *testing.T) {
	f := &fakeIAM{}
	r, err := RevokeHandler{IAM: f, Now: now}.Handle(context.Background(), Input{Finding: finding})
	if err != nil || r.Status != StatusRevoked || !r.IssuedBefore.Equal(t0) {
		t.Fatalf("%+v, %v", r, err)
	}
	equalCalls(t, f.calls, "PutUserPolicy ci-deployer "+RevokePolicyName)
	want := `{"Statement":[{"Action":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-20T09:15:00Z"}},"Effect":"Deny","Resource":"*","Sid":"KeywardenDenySessionsIssuedBefore"}],"Version":"2012-10-17"}`
	if f.policy != want {
		t.Errorf("policy\n%s\nwant\n%s", f.policy, want)
	}

	r, err = RevokeHandler{IAM: &fakeIAM{putErr: noSuch}, Now: now}.Handle(context.Background(), Input{Finding: finding})
	if err != nil || r.Status != StatusUserGone {
		t.Errorf("user gone: %+v, %v", r, err)
	}
	_, err = RevokeHandler{IAM: &fakeIAM{putErr: throttled}, Now: now}.Handle(context.Background(), Input{Finding: finding})
	if step.Name(err) != step.Throttled {
		t.Errorf("throttled: %v", err)
	}
}

func TestRemove(t *testing.T) {
	gone := &Containment{Status: StatusAlreadyGone}
	for _, tc := range []struct {
		name      string
		action    string
		cont      *Containment
		iam       *fakeIAM
		want      string
		wantErr   string
		wantCalls []string
	}{
		{"delete", settings.ActionDelete, &Containment{Status: StatusDeactivated}, &fakeIAM{}, StatusDeleted, "", []string{"DeleteAccessKey ci-deployer " + key}},
		{"delete twice is success", settings.ActionDelete, nil, &fakeIAM{deleteErr: noSuch}, StatusAlreadyGone, "", []string{"DeleteAccessKey ci-deployer " + key}},
		{"contained as gone", settings.ActionDelete, gone, &fakeIAM{}, StatusAlreadyGone, "", nil},
		{"deactivate keeps key", settings.ActionDeactivate, &Containment{Status: StatusDeactivated}, &fakeIAM{}, StatusKeptInactive, "", nil},
		{"throttled", settings.ActionDelete, nil, &fakeIAM{deleteErr: throttled}, "", step.Throttled, []string{"DeleteAccessKey ci-deployer " + key}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := RemoveHandler{IAM: tc.iam, Action: tc.action, Now: now}.Handle(context.Background(), Input{Finding: finding, Containment: tc.cont})
			if step.Name(err) != tc.wantErr {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if r.Status != tc.want {
				t.Errorf("status %q, want %q", r.Status, tc.want)
			}
			equalCalls(t, tc.iam.calls, tc.wantCalls...)
		})
	}
}

func TestResolveOwnerErrors(t *testing.T) {
	// IAM answers AccessDenied for a key it does not know.
	owner, err := ResolveOwner(context.Background(), &fakeIAM{ownerErr: denied}, key)
	if err != nil || owner != "" {
		t.Errorf("unknown key: %q, %v", owner, err)
	}
	_, err = ResolveOwner(context.Background(), &fakeIAM{ownerErr: throttled}, key)
	if err == nil || !errors.As(err, new(smithy.APIError)) {
		t.Errorf("throttling must surface: %v", err)
	}
}
