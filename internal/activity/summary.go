package activity

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// recordFields are the only fields read from an event's CloudTrailEvent JSON.
// Everything else in it — requestParameters and responseElements above all —
// is skipped by the decoder and never held.
type recordFields struct {
	SourceIPAddress string `json:"sourceIPAddress"`
	AWSRegion       string `json:"awsRegion"`
	ErrorCode       string `json:"errorCode"`
}

// tally aggregates events as pages arrive, so a search holds counters and the
// high-risk calls, not thousands of raw events. Regions are searched
// concurrently, hence the mutex.
type tally struct {
	mu        sync.Mutex
	seen      map[string]bool
	total     int
	malformed int
	first     time.Time
	last      time.Time
	names     map[string]int
	resNames  map[string]int
	resTypes  map[string]int
	ips       map[string]int
	regions   map[string]int
	errors    map[string]int
	riskNames map[string]int
	risky     []Call
}

func newTally() *tally {
	return &tally{
		seen: map[string]bool{}, names: map[string]int{}, resNames: map[string]int{},
		resTypes: map[string]int{}, ips: map[string]int{}, regions: map[string]int{},
		errors: map[string]int{}, riskNames: map[string]int{},
	}
}

// add counts events read in region, once each by EventId: the key lookup
// and the user lookup return the same event when the user used the key.
func (t *tally) add(region string, events []types.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range events {
		id := deref(e.EventId)
		if id != "" {
			if t.seen[id] {
				continue
			}
			t.seen[id] = true
		}
		t.addOne(region, e)
	}
}

func (t *tally) addOne(region string, e types.Event) {
	t.total++
	var rec recordFields
	if e.CloudTrailEvent == nil || json.Unmarshal([]byte(*e.CloudTrailEvent), &rec) != nil {
		t.malformed++
		rec = recordFields{}
	}
	if rec.AWSRegion == "" {
		rec.AWSRegion = region
	}
	name := clip(deref(e.EventName))
	ip, awsRegion, errCode := clip(rec.SourceIPAddress), clip(rec.AWSRegion), clip(rec.ErrorCode)

	var when time.Time
	if e.EventTime != nil {
		when = e.EventTime.UTC()
		if t.first.IsZero() || when.Before(t.first) {
			t.first = when
		}
		if when.After(t.last) {
			t.last = when
		}
	}
	inc(t.names, name)
	inc(t.ips, ip)
	inc(t.regions, awsRegion)
	inc(t.errors, errCode)

	// A resource is counted once per event even if listed twice.
	var resources []Resource
	seenRes := map[Resource]bool{}
	for _, r := range e.Resources {
		res := Resource{Type: clip(deref(r.ResourceType)), Name: clip(deref(r.ResourceName))}
		if seenRes[res] || (res.Name == "" && res.Type == "") {
			continue
		}
		seenRes[res] = true
		inc(t.resNames, res.Name)
		inc(t.resTypes, res.Type)
		if len(resources) < MaxResourcesPerCall && res.Name != "" {
			resources = append(resources, res)
		}
	}

	if !IsHighRisk(name) {
		return
	}
	inc(t.riskNames, name)
	t.risky = append(t.risky, Call{
		Time: when, EventName: name, EventSource: clip(deref(e.EventSource)),
		Region: awsRegion, SourceIP: ip, Resources: resources, ErrorCode: errCode,
		User: clip(deref(e.Username)), AccessKeyID: clip(deref(e.AccessKeyId)),
		EventID: clip(deref(e.EventId)),
	})
}

// fill writes the tally into s.
func (t *tally) fill(s *Summary) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.TotalEvents = t.total
	s.MalformedEvents = t.malformed
	s.FirstSeen, s.LastSeen = t.first, t.last
	s.EventNames = top(t.names, TopN)
	s.ResourceNames = top(t.resNames, TopN)
	s.ResourceTypes = top(t.resTypes, TopN)
	s.SourceIPs = top(t.ips, TopN)
	s.AWSRegions = top(t.regions, TopN)
	s.ErrorCodes = top(t.errors, TopN)
	s.HighRiskNames = top(t.riskNames, len(t.riskNames))
	s.HighRiskTotal = len(t.risky)
	s.HighRisk = newestHighRisk(t.risky)
}

// fit drops the oldest high-risk calls until s's JSON is at most
// MaxSummaryBytes; HighRiskTotal still counts them.
func fit(s *Summary) {
	for len(s.HighRisk) > 0 {
		b, err := json.Marshal(s)
		if err != nil || len(b) <= MaxSummaryBytes {
			return
		}
		s.HighRisk = s.HighRisk[:len(s.HighRisk)-1]
	}
}

// newestHighRisk picks the calls a Summary lists: newest first (ties by
// event id, so the order does not depend on which region answered first),
// at most MaxHighRiskPerName per name and MaxHighRisk in all.
func newestHighRisk(calls []Call) []Call {
	sorted := slices.Clone(calls)
	slices.SortFunc(sorted, func(a, b Call) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(a.EventID, b.EventID)
	})
	out := []Call{}
	perName := map[string]int{}
	for _, c := range sorted {
		if len(out) == MaxHighRisk {
			break
		}
		if perName[c.EventName] == MaxHighRiskPerName {
			continue
		}
		perName[c.EventName]++
		out = append(out, c)
	}
	return out
}

// top returns the n most frequent values, by count descending then name, so
// equal counts list in a stable order.
func top(counts map[string]int, n int) []Count {
	out := make([]Count, 0, len(counts))
	for name, c := range counts {
		out = append(out, Count{Name: name, Count: c})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// inc counts v unless it is empty: an event without an error code has no
// error code to rank.
func inc(m map[string]int, v string) {
	if v != "" {
		m[v]++
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// clip makes s valid UTF-8 of at most MaxStringLen runes.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= MaxStringLen {
		return s
	}
	r := []rune(s)
	return string(r[:MaxStringLen-1]) + "…"
}
