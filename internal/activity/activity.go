// Package activity looks up in CloudTrail what an exposed access key — and the
// IAM user owning it — did, and summarises it for the alert.
//
// The summary travels in the Step Functions state (at most 256 KB for the
// whole execution state), so every list in it is capped and every string is
// clipped. It holds names, counts, times, source IPs and error codes only:
// CloudTrail's requestParameters and responseElements are never read into it,
// because they can hold secrets (passwords, policy documents, user data).
//
// Where the events come from: CloudTrail event history (LookupEvents), which
// is regional and covers the last 90 days of management events. IAM and STS
// calls made through the global endpoint are recorded in us-east-1, so that
// region should be among the searched ones.
//
// keywarden's own containment calls (UpdateAccessKey, PutUserPolicy,
// DeleteAccessKey on the exposed key and its user) are made by keywarden's
// Lambda roles: they are signed neither with the exposed key nor by the IAM
// user, so neither lookup returns them and nothing has to be excluded. Every
// call in the summary was made with the exposed key or by the key's user.
package activity

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
)

// LookupAPI is the one CloudTrail call this package makes.
type LookupAPI interface {
	LookupEvents(ctx context.Context, in *cloudtrail.LookupEventsInput, opts ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error)
}

var _ LookupAPI = (*cloudtrail.Client)(nil)

// Limits that keep a Summary small; see the package comment.
const (
	// TopN is how many entries each ranked list holds.
	TopN = 10
	// MaxHighRisk is how many high-risk calls a Summary lists.
	MaxHighRisk = 25
	// MaxHighRiskPerName keeps one routine call (AssumeRole every five
	// minutes by a machine user) from crowding the rest out of HighRisk.
	MaxHighRiskPerName = 5
	// MaxResourcesPerCall bounds the resources listed with one call.
	MaxResourcesPerCall = 5
	// MaxStringLen clips every string taken from an event, in runes:
	// resource names can be long, and attacker-chosen.
	MaxStringLen = 160
	// MaxSummaryBytes bounds a Summary's JSON, leaving most of the 256 KB
	// execution state to the rest. The caps above keep real summaries far
	// below it; strings full of characters that JSON escapes (<, >, &,
	// control characters take 6 bytes each) could still exceed it, and then
	// the oldest high-risk calls are dropped until it fits.
	MaxSummaryBytes = 96 << 10
)

// Summary is what the key and its user did in the window, as the alert shows
// it. Its JSON shape is stable: lists are never null, times are RFC 3339 UTC,
// and testdata/summary.json is an example.
type Summary struct {
	// AccessKeyID and UserName say whose activity this is. UserName is empty
	// for a root key or when the finding did not name a user.
	AccessKeyID string `json:"accessKeyId"`
	UserName    string `json:"userName,omitempty"`
	// LookedUpBy are the CloudTrail lookup attributes used: "AccessKeyId",
	// and "Username" unless the key is root's or the user is unknown.
	LookedUpBy []string `json:"lookedUpBy"`
	// WindowStart and WindowEnd bound the search; WindowEnd is when the
	// lookup ran.
	WindowStart time.Time `json:"windowStart"`
	WindowEnd   time.Time `json:"windowEnd"`
	// Regions are the regions searched, in the configured order, including
	// any that failed.
	Regions []string `json:"regions"`
	// FailedRegions are regions whose search failed part way or entirely;
	// events read there before the failure are still counted.
	FailedRegions []FailedRegion `json:"failedRegions,omitempty"`
	// Requests is the number of LookupEvents requests made.
	Requests int `json:"requests"`
	// Truncated is true when a lookup stopped at the configured bound of
	// events (per lookup and region) while CloudTrail had more.
	Truncated bool `json:"truncated"`
	// TotalEvents counts distinct events (by EventId) across lookups and
	// regions.
	TotalEvents int `json:"totalEvents"`
	// MalformedEvents counts events whose CloudTrailEvent JSON was missing or
	// unreadable; they are counted everywhere except source IPs and error
	// codes, and their region is the region searched.
	MalformedEvents int `json:"malformedEvents"`
	// FirstSeen and LastSeen are the times of the oldest and newest event;
	// omitted when there are none.
	FirstSeen time.Time `json:"firstSeen,omitzero"`
	LastSeen  time.Time `json:"lastSeen,omitzero"`

	// The TopN most frequent values, by count descending then name.
	EventNames    []Count `json:"eventNames"`
	ResourceNames []Count `json:"resourceNames"`
	ResourceTypes []Count `json:"resourceTypes"`
	SourceIPs     []Count `json:"sourceIps"`
	// AWSRegions are the events' awsRegion values.
	AWSRegions []Count `json:"awsRegions"`
	ErrorCodes []Count `json:"errorCodes"`

	// HighRiskNames counts every high-risk call by event name (see
	// IsHighRisk); the set is small, so this list is not capped at TopN.
	HighRiskNames []Count `json:"highRiskNames"`
	// HighRisk lists high-risk calls newest first: at most MaxHighRisk, and
	// at most MaxHighRiskPerName of each event name. Failed attempts
	// (errorCode set) are listed too: they show intent.
	HighRisk []Call `json:"highRisk"`
	// HighRiskTotal is the number of high-risk calls before the caps.
	HighRiskTotal int `json:"highRiskTotal"`
}

// Count is how often a value occurred.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// FailedRegion is a region whose search failed.
type FailedRegion struct {
	Region string `json:"region"`
	// Error is the state-machine error name (step.Name): Throttled,
	// AccessDenied, Transient, StepFailed.
	Error   string `json:"error"`
	Message string `json:"message"`
}

// Call is one high-risk call. It carries no request or response parameters.
type Call struct {
	Time      time.Time `json:"time"`
	EventName string    `json:"eventName"`
	// EventSource is the service, e.g. iam.amazonaws.com.
	EventSource string `json:"eventSource,omitempty"`
	// Region is the event's awsRegion.
	Region    string     `json:"region"`
	SourceIP  string     `json:"sourceIp,omitempty"`
	Resources []Resource `json:"resources,omitempty"`
	ErrorCode string     `json:"errorCode,omitempty"`
	// User is the requester as CloudTrail names it.
	User string `json:"user,omitempty"`
	// AccessKeyID signed the call: the exposed key, another key of the user,
	// or temporary credentials (ASIA…) minted with it.
	AccessKeyID string `json:"accessKeyId,omitempty"`
	// EventID finds the full event in the CloudTrail console.
	EventID string `json:"eventId,omitempty"`
}

// Resource is a resource a call referred to.
type Resource struct {
	Type string `json:"type,omitempty"`
	Name string `json:"name"`
}
