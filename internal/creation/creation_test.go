package creation

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/member/membertest"
	"github.com/keywarden/keywarden/internal/step"
)

type fakeLedger struct {
	creations []ledger.Creation
	flags     []ledger.Flag
}

func (f *fakeLedger) RecordCreation(_ context.Context, c ledger.Creation) error {
	f.creations = append(f.creations, c)
	return nil
}

func (f *fakeLedger) RecordFlag(_ context.Context, fl ledger.Flag) error {
	f.flags = append(f.flags, fl)
	return nil
}

type tags map[string]map[string]string

func (t tags) ListUserTags(_ context.Context, in *iam.ListUserTagsInput, _ ...func(*iam.Options)) (*iam.ListUserTagsOutput, error) {
	user, ok := t[aws.ToString(in.UserName)]
	if !ok {
		return nil, &iamtypes.NoSuchEntityException{Message: aws.String("no user")}
	}
	out := &iam.ListUserTagsOutput{}
	for k, v := range user {
		out.Tags = append(out.Tags, iamtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out, nil
}

type fakeSNS struct{ published []*sns.PublishInput }

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.published = append(f.published, in)
	return &sns.PublishOutput{MessageId: aws.String("m")}, nil
}

func sample(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("../../events/samples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const noKeys = "keywarden:no-access-keys"

func TestRecord(t *testing.T) {
	l, s := &fakeLedger{}, &fakeSNS{}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	h := Handler{IAM: tags{"bob": {"UserType": "Employee"}}, Ledger: l, SNS: s, Topic: "t", NoKeysTag: noKeys, Now: func() time.Time { return now }}
	res, err := h.Handle(context.Background(), Input{Event: sample(t, "cloudtrail-create-access-key.json")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "recorded" || res.AgainstPolicy || len(l.creations) != 1 || len(s.published) != 0 {
		t.Fatalf("%+v, creations %d, published %d", res, len(l.creations), len(s.published))
	}
	c := l.creations[0]
	if c.KeyID != "AKIAKEYWARDENBOB0001" || c.User != "bob" || c.CreatorARN != "arn:aws:iam::123456789012:user/admin-alice" ||
		c.SourceIP != "192.0.2.10" || c.EventID == "" || !c.CreatedAt.Equal(time.Date(2024, 9, 5, 18, 4, 50, 0, time.UTC)) {
		t.Errorf("creation %+v", c)
	}

	// The same user tagged as not allowed keys: flagged and alerted.
	h.IAM = tags{"bob": {noKeys: "true"}}
	res, err = h.Handle(context.Background(), Input{Event: sample(t, "cloudtrail-create-access-key.json")})
	if err != nil || !res.AgainstPolicy || len(l.flags) != 1 || len(s.published) != 1 {
		t.Fatalf("against policy: %+v, %v, flags %d, published %d", res, err, len(l.flags), len(s.published))
	}
	if f := l.flags[0]; f.KeyID != "AKIAKEYWARDENBOB0001" || !f.At.Equal(now) || !strings.Contains(f.Detail, noKeys) {
		t.Errorf("flag %+v", f)
	}
	if subj := aws.ToString(s.published[0].Subject); !strings.Contains(subj, "Created Against Policy For User bob") {
		t.Errorf("subject %q", subj)
	}

	// A user deleted since: recorded, nothing to check.
	h.IAM = tags{}
	if res, err := h.Handle(context.Background(), Input{Event: sample(t, "cloudtrail-create-access-key.json")}); err != nil || res.AgainstPolicy {
		t.Errorf("gone user: %+v, %v", res, err)
	}
}

func TestFailedCallsAndBadInput(t *testing.T) {
	l := &fakeLedger{}
	h := Handler{IAM: tags{}, Ledger: l, SNS: &fakeSNS{}, Topic: "t", NoKeysTag: noKeys}
	res, err := h.Handle(context.Background(), Input{Event: sample(t, "cloudtrail-create-access-key-failed.json")})
	if err != nil || res.Status != "not-created" || len(l.creations) != 0 {
		t.Errorf("failed call: %+v, %v", res, err)
	}
	for name, raw := range map[string]string{
		"not json":     `{`,
		"other source": string(sample(t, "unsupported-event.json")),
		"no detail":    `{"source":"aws.iam","detail-type":"AWS API Call via CloudTrail","account":"123456789012"}`,
	} {
		_, err := h.Handle(context.Background(), Input{Event: json.RawMessage(raw)})
		if n := step.Name(err); n != step.InvalidEvent && n != step.UnsupportedEvent {
			t.Errorf("%s: %v (%s), want a named error", name, err, n)
		}
	}
	if len(l.creations) != 0 {
		t.Error("bad input was recorded")
	}
}

// The no-access-keys flag is read as people write it: true in any case,
// with spaces around it; any other value forbids nothing.
func TestNoKeysTagAsWritten(t *testing.T) {
	for _, tc := range []struct {
		value     string
		forbidden bool
	}{
		{"true", true}, {"TRUE", true}, {" True ", true}, {"true\n", true},
		{"false", false}, {" FALSE ", false}, {"yes", false}, {"", false},
	} {
		t.Run(tc.value, func(t *testing.T) {
			l, s := &fakeLedger{}, &fakeSNS{}
			h := Handler{IAM: tags{"bob": {noKeys: tc.value}}, Ledger: l, SNS: s, Topic: "t", NoKeysTag: noKeys}
			res, err := h.Handle(context.Background(), Input{Event: sample(t, "cloudtrail-create-access-key.json")})
			if err != nil {
				t.Fatal(err)
			}
			if res.AgainstPolicy != tc.forbidden || len(l.flags) != len(s.published) || (len(l.flags) == 1) != tc.forbidden {
				t.Errorf("against policy %v, flags %d, published %d; want %v", res.AgainstPolicy, len(l.flags), len(s.published), tc.forbidden)
			}
		})
	}
}

// A createDate that cannot be read no longer rejects the record: the time
// is the event's, and the record and the alert say so.
func TestRecordUnreadableCreateDate(t *testing.T) {
	l, s := &fakeLedger{}, &fakeSNS{}
	h := Handler{IAM: tags{"bob": {noKeys: "true"}}, Ledger: l, SNS: s, Topic: "t", NoKeysTag: noKeys}
	res, err := h.Handle(context.Background(), Input{Event: sample(t, "cloudtrail-create-access-key-unreadable-date.json")})
	if err != nil {
		t.Fatal(err)
	}
	const source = `eventTime (createDate unreadable: "05.09.2024, 18:04:50")`
	if res.Status != "recorded" || len(l.creations) != 1 {
		t.Fatalf("%+v, creations %d", res, len(l.creations))
	}
	if c := l.creations[0]; c.KeyID != "AKIAKEYWARDENBOB0002" || c.CreatedAtSource != source || !c.CreatedAt.Equal(time.Date(2024, 9, 5, 18, 4, 50, 0, time.UTC)) {
		t.Errorf("creation %+v", c)
	}
	if len(s.published) != 1 || !strings.Contains(aws.ToString(s.published[0].Message), "Created:      2024-09-05 18:04:50 UTC ("+source+")") {
		t.Errorf("the alert does not say where the time came from: %+v", s.published)
	}
}

// In organization mode a creation in an account out of scope is refused
// before anything is written, and the no-keys tag is read in the key's
// account through the read member role.
func TestRecordInOrganizationMode(t *testing.T) {
	ctx := context.Background()
	srv := membertest.NewMember(t, localaws.Fixture{Users: []localaws.FixtureUser{{Name: "bob", Tags: map[string]string{noKeys: "true"}}}})
	const exec = "created-bob-AKIAKEYWARDENBOB0001"
	l, s := &fakeLedger{}, &fakeSNS{}
	h := Handler{Ledger: l, SNS: s, Topic: "t", NoKeysTag: noKeys, Organization: &membertest.Accounts{Reason: inventory.ReasonOptedOut, Member: srv}}
	if _, err := h.Handle(ctx, Input{Event: sample(t, "cloudtrail-create-access-key.json"), Execution: exec}); step.Name(err) != step.AccountOutOfScope ||
		!strings.Contains(err.Error(), "opted out") || len(l.creations) != 0 {
		t.Errorf("out of scope: %v, %d recorded", err, len(l.creations))
	}
	accounts := &membertest.Accounts{InScope: map[string]string{"123456789012": "payments-prod"}, Member: srv}
	h.Organization = accounts
	res, err := h.Handle(ctx, Input{Event: sample(t, "cloudtrail-create-access-key.json"), Execution: exec})
	if err != nil || !res.AgainstPolicy || len(l.creations) != 1 || len(s.published) != 1 {
		t.Fatalf("in scope: %+v, %v", res, err)
	}
	if got := accounts.Configs(); len(got) != 1 || got[0] != "123456789012 read "+exec {
		t.Errorf("sessions %q", got)
	}
}
