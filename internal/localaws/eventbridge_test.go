package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

const exposedKeyPattern = `{"source": ["keywarden.test"], "detail-type": ["Exposed Access Key"], "detail": {"keyId": [{"prefix": "AKIA"}]}}`

func TestPutEventsMatchesRules(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	var got [][]byte
	mustOK(t, "AddRule", s.AddRule("exposed-key", exposedKeyPattern, func(_ context.Context, event []byte) error {
		got = append(got, event)
		return nil
	}))
	mustOK(t, "AddRule", s.AddRule("failing", `{"source": ["keywarden.test"]}`, func(context.Context, []byte) error {
		return errors.New("target unavailable")
	}))
	c := eventbridge.NewFromConfig(s.SDKConfig())

	out, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("keywarden.test"), DetailType: aws.String("Exposed Access Key"), Detail: aws.String(`{"keyId": "AKIAEXPOSEDEXPOSED01", "user": "alice"}`),
			Resources: []string{"arn:aws:iam::123456789012:user/alice"}, Time: aws.Time(testNow.Add(-time.Minute))},
		{Source: aws.String("keywarden.test"), DetailType: aws.String("Other"), Detail: aws.String(`{}`)},
		{Source: aws.String("keywarden.test"), DetailType: aws.String("Exposed Access Key"), Detail: aws.String(`{not json`)},
		{Source: aws.String("aws.iam"), DetailType: aws.String("Exposed Access Key"), Detail: aws.String(`{}`)},
		{Source: aws.String("keywarden.test"), DetailType: aws.String("Exposed Access Key"), Detail: aws.String(`[1]`)},
	}})
	mustOK(t, "PutEvents", err)
	if out.FailedEntryCount != 3 || len(out.Entries) != 5 {
		t.Fatalf("FailedEntryCount = %d, entries %d", out.FailedEntryCount, len(out.Entries))
	}
	wantCodes := []string{"", "", "MalformedDetail", "NotAuthorizedForSourceException", "MalformedDetail"}
	for i, e := range out.Entries {
		if aws.ToString(e.ErrorCode) != wantCodes[i] || (wantCodes[i] == "") != (aws.ToString(e.EventId) != "") {
			t.Errorf("entry %d = %s %s %s, want code %q", i, aws.ToString(e.EventId), aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage), wantCodes[i])
		}
	}

	if len(got) != 1 {
		t.Fatalf("exposed-key target got %d events, want 1", len(got))
	}
	var env struct {
		Version    string         `json:"version"`
		ID         string         `json:"id"`
		DetailType string         `json:"detail-type"`
		Source     string         `json:"source"`
		Account    string         `json:"account"`
		Time       string         `json:"time"`
		Region     string         `json:"region"`
		Resources  []string       `json:"resources"`
		Detail     map[string]any `json:"detail"`
	}
	if err := json.Unmarshal(got[0], &env); err != nil {
		t.Fatalf("envelope: %v", err)
	}
	if env.Version != "0" || env.ID != aws.ToString(out.Entries[0].EventId) || env.DetailType != "Exposed Access Key" ||
		env.Account != "123456789012" || env.Region != "us-east-1" || env.Time != "2026-03-01T11:59:00Z" ||
		env.Detail["keyId"] != "AKIAEXPOSEDEXPOSED01" || len(env.Resources) != 1 {
		t.Errorf("envelope = %s", got[0])
	}

	deliveries := s.Deliveries()
	if len(deliveries) != 3 { // exposed-key once, failing twice
		t.Fatalf("deliveries = %+v", deliveries)
	}
	failures := 0
	for _, d := range deliveries {
		if d.Err != "" {
			failures++
		}
	}
	if failures != 2 {
		t.Errorf("failed deliveries = %d, want 2", failures)
	}

	_, err = c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("keywarden.test"), DetailType: aws.String("x"), Detail: aws.String(`{}`), EventBusName: aws.String("other-bus")},
	}})
	var notFound *ebtypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("PutEvents to a missing bus: %v, want ResourceNotFoundException", err)
	}
	_, err = c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: make([]ebtypes.PutEventsRequestEntry, 11)})
	wantCode(t, err, "ValidationException", 400)
}

func TestAddRuleRejectsBadPatterns(t *testing.T) {
	s := newTestServer(t, Options{})
	target := func(context.Context, []byte) error { return nil }
	for _, p := range []string{``, `[]`, `{}`, `{"source": "not-an-array"}`} {
		if err := s.AddRule("r", p, target); err == nil {
			t.Errorf("AddRule(%q) succeeded", p)
		}
	}
	if err := s.AddRule("bad name!", exposedKeyPattern, target); err == nil {
		t.Error("AddRule with a bad name succeeded")
	}
}

func TestMatchesPattern(t *testing.T) {
	event := []byte(`{"version":"0","id":"1","detail-type":"Exposed Access Key","source":"keywarden.test","account":"123456789012",
		"time":"2026-03-01T12:00:00Z","region":"us-east-1","resources":[],"detail":{"keyId":"AKIAEXPOSEDEXPOSED01","severity":7}}`)
	tests := []struct {
		name    string
		pattern string
		want    bool
		wantErr bool
	}{
		{"exact and prefix", exposedKeyPattern, true, false},
		{"other source", `{"source": ["aws.health"]}`, false, false},
		{"anything-but", `{"detail": {"keyId": [{"anything-but": "AKIAOTHER"}]}}`, true, false},
		{"anything-but list", `{"detail": {"keyId": [{"anything-but": ["AKIAEXPOSEDEXPOSED01"]}]}}`, false, false},
		{"numeric (unsupported by quamina)", `{"detail": {"severity": [{"numeric": [">", 5]}]}}`, false, true},
		{"exists", `{"detail": {"user": [{"exists": true}]}}`, false, false},
		{"exists false", `{"detail": {"user": [{"exists": false}]}}`, true, false},
		{"value list", `{"detail-type": ["Foo", "Exposed Access Key"]}`, true, false},
		{"not an array", `{"source": "keywarden.test"}`, false, true},
		{"not JSON", `{`, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MatchesPattern(tt.pattern, event)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("MatchesPattern = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
