package event

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"
)

// Entry is one PutEvents request entry, the format of
// `aws events put-events --entries file://events/<scenario>.json`: Detail is
// a JSON string holding an object.
type Entry struct {
	Source       string   `json:"Source"`
	DetailType   string   `json:"DetailType"`
	Detail       string   `json:"Detail"`
	Time         string   `json:"Time,omitempty"`
	Resources    []string `json:"Resources,omitempty"`
	EventBusName string   `json:"EventBusName,omitempty"`
}

// MaxEntries is PutEvents' limit on entries per request.
const MaxEntries = 10

// ReadEntries parses a put-events entries file, checking what PutEvents
// would reject.
func ReadEntries(raw []byte) ([]Entry, error) {
	var entries []Entry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("%w: not a put-events entries list: %v", ErrInvalid, err)
	}
	if len(entries) == 0 || len(entries) > MaxEntries {
		return nil, fmt.Errorf("%w: %d entries; put-events takes 1 to %d", ErrInvalid, len(entries), MaxEntries)
	}
	for i, e := range entries {
		if e.Source == "" || e.DetailType == "" {
			return nil, fmt.Errorf("%w: entry %d: Source and DetailType are required", ErrInvalid, i)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(e.Detail), &obj); err != nil {
			return nil, fmt.Errorf("%w: entry %d: MalformedDetail: Detail must be a JSON object in a string: %v", ErrInvalid, i, err)
		}
		if e.Time != "" {
			if _, err := time.Parse(time.RFC3339, e.Time); err != nil {
				return nil, fmt.Errorf("%w: entry %d: Time %q is not RFC 3339", ErrInvalid, i, e.Time)
			}
		}
	}
	return entries, nil
}

// Event returns the event EventBridge would deliver for the entry, in the
// given account and region, received at now (used when Time is empty). The
// id is derived from the entry so a replay of the same file is the same
// event, as a redelivery would be.
func (e Entry) Event(account, region string, now time.Time) ([]byte, error) {
	t := now.UTC()
	if e.Time != "" {
		parsed, err := time.Parse(time.RFC3339, e.Time)
		if err != nil {
			return nil, fmt.Errorf("%w: Time %q is not RFC 3339", ErrInvalid, e.Time)
		}
		t = parsed.UTC()
	}
	resources := e.Resources
	if resources == nil {
		resources = []string{}
	}
	sum := sha256.Sum256([]byte(e.Source + "\x00" + e.DetailType + "\x00" + e.Detail + "\x00" + t.Format(time.RFC3339)))
	id := fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	env := map[string]any{
		"version": "0", "id": id, "detail-type": e.DetailType, "source": e.Source,
		"account": account, "time": t.Format(time.RFC3339), "region": region,
		"resources": resources, "detail": json.RawMessage(e.Detail),
	}
	return json.Marshal(env)
}
