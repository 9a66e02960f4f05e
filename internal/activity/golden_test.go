package activity

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/golden"
)

// fixture is testdata/events.json: the CloudTrail answers of one incident.
type fixture struct {
	Now         time.Time      `json:"now"`
	WindowHours int            `json:"windowHours"`
	MaxEvents   int            `json:"maxEvents"`
	Finding     event.Exposure `json:"finding"`
	Regions     []struct {
		Region  string `json:"region"`
		Lookups []struct {
			Attribute types.LookupAttributeKey `json:"attribute"`
			Value     string                   `json:"value"`
			Pages     []struct {
				Token     string         `json:"token"`
				NextToken string         `json:"nextToken"`
				Events    []fixtureEvent `json:"events"`
			} `json:"pages"`
		} `json:"lookups"`
	} `json:"regions"`
}

// fixtureEvent is a types.Event whose CloudTrailEvent may be written out as
// an object rather than as the JSON string CloudTrail returns.
type fixtureEvent struct {
	EventID         string           `json:"EventId"`
	EventName       string           `json:"EventName"`
	EventSource     string           `json:"EventSource"`
	EventTime       time.Time        `json:"EventTime"`
	Username        string           `json:"Username"`
	AccessKeyID     string           `json:"AccessKeyId"`
	ReadOnly        string           `json:"ReadOnly"`
	Resources       []types.Resource `json:"Resources"`
	CloudTrailEvent json.RawMessage  `json:"CloudTrailEvent"`
}

func (f fixtureEvent) event(t *testing.T) types.Event {
	record := string(f.CloudTrailEvent)
	if strings.HasPrefix(record, `"`) {
		if err := json.Unmarshal(f.CloudTrailEvent, &record); err != nil {
			t.Fatalf("event %s: CloudTrailEvent: %v", f.EventID, err)
		}
	}
	return types.Event{
		EventId: aws.String(f.EventID), EventName: aws.String(f.EventName), EventSource: aws.String(f.EventSource),
		EventTime: aws.Time(f.EventTime), Username: aws.String(f.Username), AccessKeyId: aws.String(f.AccessKeyID),
		ReadOnly: aws.String(f.ReadOnly), Resources: f.Resources, CloudTrailEvent: aws.String(record),
	}
}

func TestGoldenSummary(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx fixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatalf("testdata/events.json: %v", err)
	}
	window := time.Duration(fx.WindowHours) * time.Hour
	end := fx.Now.Truncate(time.Second)
	var fakes []*fakeTrail
	for _, r := range fx.Regions {
		var stubs []stub
		for _, l := range r.Lookups {
			for _, p := range l.Pages {
				var evs []types.Event
				for _, e := range p.Events {
					evs = append(evs, e.event(t))
				}
				stubs = append(stubs, page(l.Attribute, l.Value, p.Token, p.NextToken, evs...))
			}
		}
		f := newFakeTrail(t, r.Region, window, stubs...)
		f.start, f.end = end.Add(-window), end
		fakes = append(fakes, f)
	}
	clock := &fakeClock{t: fx.Now}
	h := testHandler(t, fx.MaxEvents, clock, nil, fakes...)
	h.Window = window
	s, err := h.Handle(context.Background(), Input{Finding: fx.Finding})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if bytes.Contains(got, []byte("MUST-NOT-LEAK")) {
		t.Errorf("the summary holds request or response parameters:\n%s", got)
	}
	if len(got) > MaxSummaryBytes {
		t.Errorf("summary is %d bytes", len(got))
	}

	path := filepath.Join("testdata", "summary.json")
	golden.Check(t, path, got)

	// The golden file is the documented shape: it must read back unchanged.
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Summary
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatalf("%s does not read back: %v", path, err)
	}
	again, _ := json.MarshalIndent(back, "", "  ")
	if !bytes.Equal(append(again, '\n'), want) {
		t.Errorf("%s does not round-trip", path)
	}
}
