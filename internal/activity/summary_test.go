package activity

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

func TestTop(t *testing.T) {
	tests := []struct {
		name   string
		counts map[string]int
		n      int
		want   []Count
	}{
		{"empty is an empty list, not null", map[string]int{}, TopN, []Count{}},
		{"count descending", map[string]int{"a": 1, "b": 3, "c": 2}, TopN, []Count{{"b", 3}, {"c", 2}, {"a", 1}}},
		{"ties by name", map[string]int{"z": 2, "a": 2, "m": 5, "b": 2}, TopN, []Count{{"m", 5}, {"a", 2}, {"b", 2}, {"z", 2}}},
		{"capped at n", map[string]int{"a": 1, "b": 2, "c": 3, "d": 4}, 2, []Count{{"d", 4}, {"c", 3}}},
		{"cap keeps the tie order", map[string]int{"b": 1, "a": 1, "c": 1}, 2, []Count{{"a", 1}, {"b", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := top(tt.counts, tt.n)
			if got == nil || !slices.Equal(got, tt.want) {
				t.Errorf("top = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestSummaryListsAreCapped(t *testing.T) {
	tl := newTally()
	var evs []types.Event
	for i := range 30 {
		// Name i occurs i+1 times, so the ranking is known.
		for j := range i + 1 {
			e := ev(fmt.Sprintf("e%d-%d", i, j), fmt.Sprintf("Call%02d", i), i, fmt.Sprintf("198.51.100.%d", i), "us-east-1",
				res(fmt.Sprintf("Type%02d", i), fmt.Sprintf("name-%02d", i)))
			evs = append(evs, withError(e, fmt.Sprintf("Error%02d", i)))
		}
	}
	tl.add("us-east-1", evs)
	var s Summary
	tl.fill(&s)
	for _, l := range []struct {
		what   string
		got    []Count
		prefix string
	}{
		{"event names", s.EventNames, "Call"}, {"resource names", s.ResourceNames, "name-"},
		{"resource types", s.ResourceTypes, "Type"}, {"source IPs", s.SourceIPs, "198.51.100."},
		{"error codes", s.ErrorCodes, "Error"},
	} {
		if len(l.got) != TopN {
			t.Errorf("%s: %d entries, want %d", l.what, len(l.got), TopN)
			continue
		}
		for k, c := range l.got {
			i := 29 - k
			if c.Count != i+1 || !strings.HasPrefix(c.Name, l.prefix) || !strings.HasSuffix(c.Name, fmt.Sprint(i)) {
				t.Errorf("%s[%d] = %v, want the value with %d", l.what, k, c, i+1)
			}
		}
	}
	if s.TotalEvents != 465 {
		t.Errorf("total %d, want 465", s.TotalEvents)
	}
}

func TestHighRisk(t *testing.T) {
	tests := []struct {
		name      string
		events    []types.Event
		wantCalls []string // name@minutes-ago
		wantTotal int
		wantNames []Count
	}{
		{
			name: "only high-risk names, newest first, failed attempts included",
			events: []types.Event{
				ev("1", "ListBuckets", 1, "203.0.113.7", "us-east-1"),
				ev("2", "CreateUser", 5, "203.0.113.7", "us-east-1"),
				withError(ev("3", "StopLogging", 2, "203.0.113.7", "us-east-1"), "AccessDenied"),
				ev("4", "RunInstances", 9, "203.0.113.7", "eu-west-1"),
			},
			wantCalls: []string{"StopLogging@2", "CreateUser@5", "RunInstances@9"}, wantTotal: 3,
			wantNames: []Count{{"CreateUser", 1}, {"RunInstances", 1}, {"StopLogging", 1}},
		},
		{
			name: "a routine call does not crowd out the rest",
			events: append(events("r", "AssumeRole", 40),
				ev("u", "CreateUser", 100, "203.0.113.7", "us-east-1")),
			wantCalls: []string{"AssumeRole@1", "AssumeRole@2", "AssumeRole@3", "AssumeRole@4", "AssumeRole@5", "CreateUser@100"},
			wantTotal: 41, wantNames: []Count{{"AssumeRole", 40}, {"CreateUser", 1}},
		},
		{
			name: "at most MaxHighRisk in all",
			events: func() []types.Event {
				var out []types.Event
				for i, name := range HighRiskEventNames()[:8] {
					for j := range 4 {
						out = append(out, ev(fmt.Sprintf("%s-%d", name, j), name, i*4+j+1, "203.0.113.7", "us-east-1"))
					}
				}
				return out
			}(),
			wantCalls: func() []string {
				var out []string
				for i, name := range HighRiskEventNames()[:8] {
					for j := range 4 {
						if i*4+j < MaxHighRisk {
							out = append(out, fmt.Sprintf("%s@%d", name, i*4+j+1))
						}
					}
				}
				return out
			}(),
			wantTotal: 32,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTally()
			tl.add("us-east-1", tt.events)
			var s Summary
			tl.fill(&s)
			var got []string
			for _, c := range s.HighRisk {
				got = append(got, fmt.Sprintf("%s@%d", c.EventName, int(windowEnd.Sub(c.Time)/time.Minute)))
			}
			if !slices.Equal(got, tt.wantCalls) {
				t.Errorf("high-risk calls\n got  %v\n want %v", got, tt.wantCalls)
			}
			if s.HighRiskTotal != tt.wantTotal {
				t.Errorf("high-risk total %d, want %d", s.HighRiskTotal, tt.wantTotal)
			}
			if tt.wantNames != nil && !slices.Equal(s.HighRiskNames, tt.wantNames) {
				t.Errorf("high-risk names %v, want %v", s.HighRiskNames, tt.wantNames)
			}
		})
	}
}

func TestHighRiskCallFields(t *testing.T) {
	e := withError(ev("id-1", "AttachUserPolicy", 3, "203.0.113.7", "us-east-1",
		res("AWS::IAM::Policy", "arn:aws:iam::aws:policy/AdministratorAccess"),
		res("AWS::IAM::User", "backup-admin"),
		res("AWS::IAM::User", "backup-admin"), // listed twice by CloudTrail: once here
	), "AccessDenied")
	e.EventSource = aws.String("iam.amazonaws.com")
	tl := newTally()
	tl.add("us-east-1", []types.Event{e})
	var s Summary
	tl.fill(&s)
	want := Call{
		Time: windowEnd.Add(-3 * time.Minute), EventName: "AttachUserPolicy", EventSource: "iam.amazonaws.com",
		Region: "us-east-1", SourceIP: "203.0.113.7", ErrorCode: "AccessDenied", User: user,
		AccessKeyID: keyID, EventID: "id-1",
		Resources: []Resource{
			{Type: "AWS::IAM::Policy", Name: "arn:aws:iam::aws:policy/AdministratorAccess"},
			{Type: "AWS::IAM::User", Name: "backup-admin"},
		},
	}
	if len(s.HighRisk) != 1 {
		t.Fatalf("high risk %v, want one call", s.HighRisk)
	}
	got, _ := json.Marshal(s.HighRisk[0])
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Errorf("call\n got  %s\n want %s", got, wantJSON)
	}
	if c := s.ResourceNames; len(c) != 2 || c[1] != (Count{"backup-admin", 1}) {
		t.Errorf("resource names %v: a resource listed twice in one event counts once", c)
	}
}

func TestHighRiskNamesAreDocumented(t *testing.T) {
	// The brief's list, which the set must keep.
	for _, name := range []string{
		"CreateUser", "CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "AttachUserPolicy",
		"AttachRolePolicy", "PutUserPolicy", "PutRolePolicy", "CreatePolicyVersion", "AddUserToGroup",
		"UpdateAssumeRolePolicy", "CreateRole", "RunInstances", "StopLogging", "DeleteTrail",
		"PutBucketPolicy", "DeactivateMFADevice", "DeleteAccessKey",
	} {
		if !IsHighRisk(name) {
			t.Errorf("%s is not high risk", name)
		}
	}
	for _, name := range []string{"ListBuckets", "GetCallerIdentity", "DescribeInstances", "ConsoleLogin", ""} {
		if IsHighRisk(name) {
			t.Errorf("%s is high risk", name)
		}
	}
	names := HighRiskEventNames()
	if !slices.IsSorted(names) || len(names) != len(highRisk) {
		t.Errorf("HighRiskEventNames = %v", names)
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("é", MaxStringLen+10)
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/alice"},
		{strings.Repeat("a", MaxStringLen), strings.Repeat("a", MaxStringLen)},
		{long, strings.Repeat("é", MaxStringLen-1) + "…"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
	}
	for _, tt := range tests {
		got := clip(tt.in)
		if got != tt.want {
			t.Errorf("clip(%.20q…) = %.20q…, want %.20q…", tt.in, got, tt.want)
		}
		if utf8.RuneCountInString(got) > MaxStringLen || !utf8.ValidString(got) {
			t.Errorf("clip(%.20q…) is %d runes or invalid", tt.in, utf8.RuneCountInString(got))
		}
	}
}

// The worst an attacker can make a summary: every list full, every string
// as long as allowed and made of characters JSON escapes to 6 bytes.
func TestWorstCaseSummaryFits(t *testing.T) {
	worst := func(i int) string { return fmt.Sprintf("%03d", i) + strings.Repeat("<", MaxStringLen) }
	tl := newTally()
	var evs []types.Event
	names := HighRiskEventNames()
	for i := range 200 {
		e := types.Event{
			EventId: aws.String(worst(i)), EventName: aws.String(names[i%len(names)]),
			EventSource: aws.String(worst(i)), Username: aws.String(worst(i)), AccessKeyId: aws.String(worst(i)),
			EventTime:       aws.Time(windowEnd.Add(-time.Duration(i) * time.Second)),
			CloudTrailEvent: aws.String(fmt.Sprintf(`{"sourceIPAddress":%q,"awsRegion":%q,"errorCode":%q}`, worst(i), worst(i), worst(i))),
		}
		for j := range MaxResourcesPerCall + 3 {
			e.Resources = append(e.Resources, res(worst(i*10+j), worst(i*10+j)))
		}
		evs = append(evs, e)
	}
	tl.add("us-east-1", evs)
	s := Summary{FailedRegions: []FailedRegion{{Region: "eu-west-1", Error: "Throttled", Message: clip(worst(0))}}}
	tl.fill(&s)
	for _, c := range s.HighRisk {
		if len(c.Resources) > MaxResourcesPerCall {
			t.Fatalf("a call lists %d resources", len(c.Resources))
		}
	}
	full, _ := json.Marshal(s)
	fit(&s)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("worst case: %d bytes before fit, %d after, %d of %d high-risk calls kept", len(full), len(b), len(s.HighRisk), s.HighRiskTotal)
	if len(b) > MaxSummaryBytes {
		t.Errorf("worst-case summary is %d bytes, more than %d", len(b), MaxSummaryBytes)
	}
	if len(s.HighRisk) == 0 {
		t.Error("fit dropped every high-risk call")
	}
	if s.HighRiskTotal != 200 {
		t.Errorf("high-risk total %d, want 200", s.HighRiskTotal)
	}
}
