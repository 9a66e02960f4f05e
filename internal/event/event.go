// Package event holds the typed EventBridge payloads keywarden reacts to and
// turns them into findings. It is pure: no AWS calls.
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Sources and detail-types keywarden routes on.
const (
	SourceTrustedAdvisor     = "aws.trustedadvisor"
	SourceTrustedAdvisorMock = "awsmock.trustedadvisor"
	SourceHealth             = "aws.health"

	DetailTypeTrustedAdvisor = "Trusted Advisor Check Item Refresh Notification"
	DetailTypeHealth         = "AWS Health Event"

	// SourceSchedule and DetailTypeSchedule are what an EventBridge schedule
	// rule delivers; SourceScheduleDrill is the drill's stand-in, since
	// put-events cannot use an aws.* source.
	SourceSchedule      = "aws.events"
	SourceScheduleDrill = "awsmock.keywarden"
	DetailTypeSchedule  = "Scheduled Event"

	// CheckExposedAccessKeys is the Trusted Advisor check that reports keys
	// found in public places.
	CheckExposedAccessKeys = "Exposed Access Keys"
)

// HealthRiskCodes are the AWS Health event type codes that mean a key leaked.
var HealthRiskCodes = []string{
	"AWS_RISK_CREDENTIALS_EXPOSED",
	"AWS_RISK_CREDENTIALS_COMPROMISED",
	"AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
}

// ErrInvalid is wrapped by every parse error: the event is malformed or is
// missing what keywarden needs from it.
var ErrInvalid = errors.New("invalid event")

// ErrUnsupported is wrapped when the event is well formed but is not a kind
// keywarden handles.
var ErrUnsupported = errors.New("unsupported event")

// MaxSize bounds an event keywarden will parse. EventBridge entries are at
// most 256 KB; anything larger did not come from EventBridge.
const MaxSize = 256 * 1024

// Envelope is an EventBridge event. Detail stays raw until a typed struct
// takes it.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       time.Time       `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// TrustedAdvisorDetail is the detail of a Trusted Advisor check item refresh.
type TrustedAdvisorDetail struct {
	CheckName       string            `json:"check-name"`
	CheckItemDetail map[string]string `json:"check-item-detail"`
	Status          string            `json:"status"`
	ResourceID      string            `json:"resource_id"`
	UUID            string            `json:"uuid"`
}

// Field names inside a Trusted Advisor "Exposed Access Keys" check item.
const (
	taCaseID    = "Case ID"
	taUsage     = "Usage (USD per Day)"
	taUserName  = "User Name (IAM or Root)"
	taDeadline  = "Deadline"
	taKeyID     = "Access Key ID"
	taUpdated   = "Time Updated"
	taFraudType = "Fraud Type"
	taLocation  = "Location"
)

// HealthDetail is the detail of an AWS Health event.
type HealthDetail struct {
	EventArn          string `json:"eventArn"`
	Service           string `json:"service"`
	EventTypeCode     string `json:"eventTypeCode"`
	EventTypeCategory string `json:"eventTypeCategory"`
	StartTime         string `json:"startTime"`
	EventDescription  []struct {
		Language          string `json:"language"`
		LatestDescription string `json:"latestDescription"`
	} `json:"eventDescription"`
	AffectedEntities []struct {
		EntityValue string `json:"entityValue"`
	} `json:"affectedEntities"`
}

// Exposure is what keywarden knows about an exposed key once the event is
// read: the finding every later step works from. It holds no secret.
type Exposure struct {
	// Signal names what reported it: "trusted-advisor" or "health".
	Signal  string `json:"signal"`
	Source  string `json:"source"`
	EventID string `json:"eventId,omitempty"`
	Account string `json:"account"`
	Region  string `json:"region,omitempty"`
	// ReportedAt is the event's time: when AWS reported the exposure.
	ReportedAt  time.Time `json:"reportedAt"`
	AccessKeyID string    `json:"accessKeyId"`
	// UserName is the IAM user owning the key; empty when the event does not
	// say (Health) until the finding step resolves it.
	UserName string `json:"userName,omitempty"`
	// ReportedUserName is the user the event named when IAM says the key
	// belongs to another; UserName then holds IAM's answer.
	ReportedUserName string `json:"reportedUserName,omitempty"`
	// OwnerVerified is true when IAM confirmed UserName owns the key.
	OwnerVerified bool `json:"ownerVerified"`
	// Root is true for a root-account key: no IAM call can contain it.
	Root bool `json:"root"`
	// Location is where the key was found (a URL), when reported.
	Location    string `json:"location,omitempty"`
	CaseID      string `json:"caseId,omitempty"`
	FraudType   string `json:"fraudType,omitempty"`
	TimeUpdated string `json:"timeUpdated,omitempty"`
	Deadline    string `json:"deadline,omitempty"`
	UsagePerDay string `json:"usagePerDay,omitempty"`
	// HealthEventType is the AWS Health event type code, for Health signals.
	HealthEventType string `json:"healthEventType,omitempty"`
	Description     string `json:"description,omitempty"`
}

// Access key ids are 16 to 128 word characters (IAM's documented limits);
// keys of IAM users and root start with AKIA.
var keyIDPattern = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)

// IAM user names: 1 to 64 of letters, digits and +=,.@_-.
var userNamePattern = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

// ParseEnvelope reads an EventBridge event.
func ParseEnvelope(raw []byte) (Envelope, error) {
	var env Envelope
	if len(raw) > MaxSize {
		return env, fmt.Errorf("%w: %d bytes, more than the %d an EventBridge event can hold", ErrInvalid, len(raw), MaxSize)
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return env, fmt.Errorf("%w: not an EventBridge event: %v", ErrInvalid, err)
	}
	if env.Source == "" || env.DetailType == "" {
		return env, fmt.Errorf("%w: source or detail-type is missing", ErrInvalid)
	}
	return env, nil
}

// ParseExposure reads an exposed-key event of either signal.
func ParseExposure(raw []byte) (Exposure, error) {
	env, err := ParseEnvelope(raw)
	if err != nil {
		return Exposure{}, err
	}
	return env.Exposure()
}

// IsTrustedAdvisor reports whether the envelope is a Trusted Advisor check
// refresh (real or drill).
func (e Envelope) IsTrustedAdvisor() bool {
	return (e.Source == SourceTrustedAdvisor || e.Source == SourceTrustedAdvisorMock) &&
		e.DetailType == DetailTypeTrustedAdvisor
}

// IsScheduled reports whether the envelope is the daily schedule (real or
// drill).
func (e Envelope) IsScheduled() bool {
	return (e.Source == SourceSchedule || e.Source == SourceScheduleDrill) && e.DetailType == DetailTypeSchedule
}

// IsHealth reports whether the envelope is an AWS Health event.
func (e Envelope) IsHealth() bool {
	return e.Source == SourceHealth && e.DetailType == DetailTypeHealth
}

// Exposure reads the envelope's detail as an exposed-key finding.
func (e Envelope) Exposure() (Exposure, error) {
	switch {
	case e.IsTrustedAdvisor():
		return e.trustedAdvisorExposure()
	case e.IsHealth():
		return e.healthExposure()
	}
	return Exposure{}, fmt.Errorf("%w: source %q detail-type %q", ErrUnsupported, e.Source, e.DetailType)
}

func (e Envelope) base(signal string) Exposure {
	return Exposure{
		Signal: signal, Source: e.Source, EventID: e.ID, Account: e.Account,
		Region: e.Region, ReportedAt: e.Time,
	}
}

func (e Envelope) trustedAdvisorExposure() (Exposure, error) {
	var d TrustedAdvisorDetail
	if err := unmarshalDetail(e.Detail, &d); err != nil {
		return Exposure{}, err
	}
	if d.CheckName != CheckExposedAccessKeys {
		return Exposure{}, fmt.Errorf("%w: Trusted Advisor check %q is not %q", ErrUnsupported, d.CheckName, CheckExposedAccessKeys)
	}
	if d.Status != "ERROR" {
		return Exposure{}, fmt.Errorf("%w: Trusted Advisor status %q is not ERROR", ErrUnsupported, d.Status)
	}
	item := d.CheckItemDetail
	x := e.base("trusted-advisor")
	x.AccessKeyID = strings.TrimSpace(item[taKeyID])
	user := strings.TrimSpace(item[taUserName])
	x.Location = item[taLocation]
	x.CaseID = item[taCaseID]
	x.FraudType = item[taFraudType]
	x.TimeUpdated = item[taUpdated]
	x.Deadline = item[taDeadline]
	x.UsagePerDay = item[taUsage]
	if err := checkKeyID(x.AccessKeyID); err != nil {
		return Exposure{}, err
	}
	if user == "" {
		return Exposure{}, fmt.Errorf("%w: check item has no %q", ErrInvalid, taUserName)
	}
	if IsRootName(user) {
		x.Root = true
		x.UserName = RootUserName
		return x, checkAccount(x.Account)
	}
	if !userNamePattern.MatchString(user) {
		return Exposure{}, fmt.Errorf("%w: %q is not a valid IAM user name", ErrInvalid, user)
	}
	x.UserName = user
	return x, checkAccount(x.Account)
}

func (e Envelope) healthExposure() (Exposure, error) {
	var d HealthDetail
	if err := unmarshalDetail(e.Detail, &d); err != nil {
		return Exposure{}, err
	}
	known := false
	for _, c := range HealthRiskCodes {
		known = known || d.EventTypeCode == c
	}
	if !known {
		return Exposure{}, fmt.Errorf("%w: Health event type %q is not a credential risk", ErrUnsupported, d.EventTypeCode)
	}
	if len(d.AffectedEntities) == 0 {
		return Exposure{}, fmt.Errorf("%w: Health event has no affected entity (the key id)", ErrInvalid)
	}
	x := e.base("health")
	x.HealthEventType = d.EventTypeCode
	x.AccessKeyID = strings.TrimSpace(d.AffectedEntities[0].EntityValue)
	x.CaseID = d.EventArn
	for _, desc := range d.EventDescription {
		if desc.Language == "" || desc.Language == "en_US" {
			x.Description = desc.LatestDescription
			break
		}
	}
	if err := checkKeyID(x.AccessKeyID); err != nil {
		return Exposure{}, err
	}
	return x, checkAccount(x.Account)
}

// RootUserName is how keywarden names the root user in findings, records
// and execution names, whichever spelling the source used.
const RootUserName = "root"

// rootARNPattern is the root user's ARN in any partition (aws, aws-cn,
// aws-us-gov, …) and account.
var rootARNPattern = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:root$`)

// IsRootName reports whether name is one of the ways AWS sources spell the
// account's root user:
//
//   - root and Root (CloudTrail's userIdentity type), in any case;
//   - <root>, in any case;
//   - <root_account> (the credential report's user column), in any case;
//   - arn:aws:iam::123456789012:root, root's ARN, in any partition
//     (arn:aws-cn:…, arn:aws-us-gov:…) and for any 12-digit account.
//
// White space around the name is ignored. Every decision "is this the root
// user" goes through it. "root" and "Root" are also names an IAM user may
// have; where a source can tell the two apart (an IAM user's ARN beside the
// name), the caller asks that first.
func IsRootName(name string) bool {
	n := strings.TrimSpace(name)
	switch strings.ToLower(n) {
	case "root", "<root>", "<root_account>":
		return true
	}
	return rootARNPattern.MatchString(n)
}

func unmarshalDetail(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return fmt.Errorf("%w: detail is missing", ErrInvalid)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: detail: %v", ErrInvalid, err)
	}
	return nil
}

func checkKeyID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: no access key id", ErrInvalid)
	}
	if !keyIDPattern.MatchString(id) {
		return fmt.Errorf("%w: %q is not an access key id", ErrInvalid, truncate(id, 40))
	}
	return nil
}

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

func checkAccount(id string) error {
	if !accountPattern.MatchString(id) {
		return fmt.Errorf("%w: account %q is not a 12-digit account id", ErrInvalid, truncate(id, 40))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
