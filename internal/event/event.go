// Package event holds the typed EventBridge payloads keywarden reacts to and
// turns them into findings. It is pure: no AWS calls.
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
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

// AWS Health event type codes about IAM credentials. docs/exposed-key.md
// gives the source of each and what keywarden does with it.
const (
	HealthCredentialsExposed             = "AWS_RISK_CREDENTIALS_EXPOSED"
	HealthCredentialsExposureSuspected   = "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED"
	HealthCredentialsCompromised         = "AWS_RISK_CREDENTIALS_COMPROMISED"
	HealthCredentialsCompromiseSuspected = "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED"
	HealthIAMQuarantine                  = "AWS_RISK_IAM_QUARANTINE"
	HealthConsoleCompromise              = "AWS_RISK_ACCOUNT_CONSOLE_COMPROMISE"
)

// HealthKeyCodes are the Health codes whose affected entities are access
// key ids: each key gets the exposed-key response.
var HealthKeyCodes = []string{
	HealthCredentialsExposed,
	HealthCredentialsExposureSuspected,
	HealthCredentialsCompromised,
	HealthCredentialsCompromiseSuspected,
}

// HealthNoticeCodes are the Health codes about IAM credentials that name no
// key to contain: they are alerted (what AWS reported, what to check).
var HealthNoticeCodes = []string{
	HealthIAMQuarantine,
	HealthConsoleCompromise,
}

// HealthRiskCodes are every Health code keywarden routes: the Health rule
// matches exactly these.
var HealthRiskCodes = slices.Concat(HealthKeyCodes, HealthNoticeCodes)

// MaxKeysPerEvent bounds the keys of one Health event that get a response
// each. A Health event is at most 256 KB, room for thousands of entities;
// the intake starts one execution per key within its 30 s, so beyond the
// bound it starts one more execution that fails with InvalidEvent and
// alerts, naming the keys left without a response.
const MaxKeysPerEvent = 50

// EntityField is the top-level field the intake adds to a Health event's
// execution input: the affected entity (key id) that execution handles.
const EntityField = "keywardenEntity"

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
	// Entity is the affected entity this execution handles, when the
	// intake split a Health event listing several (EntityField).
	Entity string `json:"keywardenEntity,omitempty"`
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

// HealthDetail is the detail of an AWS Health event, as the AWS Health
// User Guide's "AWS Health events Amazon EventBridge schema" describes it.
type HealthDetail struct {
	EventArn          string `json:"eventArn"`
	Service           string `json:"service"`
	EventTypeCode     string `json:"eventTypeCode"`
	EventTypeCategory string `json:"eventTypeCategory"`
	StatusCode        string `json:"statusCode"`
	// EventRegion is the region the event is about ("global" for IAM);
	// the envelope's region is where it was delivered.
	EventRegion      string `json:"eventRegion"`
	StartTime        string `json:"startTime"`
	EventDescription []struct {
		Language          string `json:"language"`
		LatestDescription string `json:"latestDescription"`
	} `json:"eventDescription"`
	AffectedEntities []HealthEntity `json:"affectedEntities"`
	// AffectedAccount is the account the event is about. Through the
	// organizational view (received in the management or delegated
	// administrator account) it differs from the envelope's account.
	AffectedAccount string `json:"affectedAccount"`
	// EventMetadata is documented as a string map, without its keys per
	// event type. It is kept raw: an optional field of an unexpected shape
	// must not stop a key's response (see metadata).
	EventMetadata json.RawMessage `json:"eventMetadata"`
}

// HealthEntity is one affected entity: for the credential codes, a key id.
type HealthEntity struct {
	EntityValue string `json:"entityValue"`
	Status      string `json:"status,omitempty"`
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
	// ReceivedIn is the account the event was delivered to when it names
	// another as the key's (Health's organizational view reports the
	// member account in detail.affectedAccount); Account is then the
	// affected account.
	ReceivedIn string `json:"receivedIn,omitempty"`
	// KeysInEvent is how many keys the Health event listed, when more than
	// one: each has its own execution.
	KeysInEvent int `json:"keysInEvent,omitempty"`
	// HealthMetadata is the event's detail.eventMetadata, bounded.
	HealthMetadata map[string]string `json:"healthMetadata,omitempty"`
	// ForeignAccount is set by the finding step when Account is not the
	// account this deployment acts in (ActsIn): no IAM call is made for
	// the key, and the state machine alerts it.
	ForeignAccount bool   `json:"foreignAccount,omitempty"`
	ActsIn         string `json:"actsIn,omitempty"`
	// OutOfScope is why, in organization mode, the hub may not act in
	// Account (set with ForeignAccount): outside the organization,
	// excluded, the management account, … (inventory.Reason).
	OutOfScope string `json:"outOfScope,omitempty"`
	// AccountName is the account's name as AWS Organizations has it, set
	// by the finding step in organization mode.
	AccountName string `json:"accountName,omitempty"`
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
	d, err := e.healthDetail()
	if err != nil {
		return Exposure{}, err
	}
	if slices.Contains(HealthNoticeCodes, d.EventTypeCode) {
		return Exposure{}, fmt.Errorf("%w: Health event type %q names no key to contain: it is alerted as a notice", ErrUnsupported, d.EventTypeCode)
	}
	if !slices.Contains(HealthKeyCodes, d.EventTypeCode) {
		return Exposure{}, fmt.Errorf("%w: Health event type %q is not a credential risk", ErrUnsupported, truncate(d.EventTypeCode, 80))
	}
	keys := d.entityValues()
	var key string
	switch chosen := strings.TrimSpace(e.Entity); {
	case chosen != "":
		if !slices.Contains(keys, chosen) {
			return Exposure{}, fmt.Errorf("%w: %s %q is not one of the event's affected entities", ErrInvalid, EntityField, truncate(chosen, 40))
		}
		key = chosen
	case len(keys) == 0:
		return Exposure{}, fmt.Errorf("%w: Health event has no affected entity (the key id)", ErrInvalid)
	case len(keys) == 1:
		key = keys[0]
	default:
		return Exposure{}, manyKeys(keys)
	}
	x := e.base("health")
	if d.AffectedAccount != "" && d.AffectedAccount != e.Account {
		x.Account, x.ReceivedIn = d.AffectedAccount, e.Account
	}
	x.HealthEventType = d.EventTypeCode
	x.AccessKeyID = key
	x.CaseID = d.EventArn
	if len(keys) > 1 {
		x.KeysInEvent = len(keys)
	}
	for _, desc := range d.EventDescription {
		if desc.Language == "" || desc.Language == "en_US" {
			x.Description = desc.LatestDescription
			break
		}
	}
	x.HealthMetadata = metadata(d.EventMetadata)
	x.Location = metadataValue(x.HealthMetadata, metadataLocationKeys)
	if err := checkKeyID(x.AccessKeyID); err != nil {
		return Exposure{}, err
	}
	// The user the metadata names, if any, is the reported user: IAM's
	// owner still wins in the finding step. A name that is no IAM user
	// name is not used (it stays quoted in HealthMetadata): the key's
	// response does not depend on an optional field.
	switch user := metadataValue(x.HealthMetadata, metadataUserKeys); {
	case IsRootName(user):
		x.Root, x.UserName = true, RootUserName
	case userNamePattern.MatchString(user):
		x.UserName = user
	}
	if x.ReceivedIn != "" {
		if err := checkAccount(x.ReceivedIn); err != nil {
			return Exposure{}, err
		}
	}
	return x, checkAccount(x.Account)
}

// manyKeys is the error for a Health event of several keys read without
// EntityField: the intake starts one execution per key, so this one is
// either started by hand or the execution for the keys past
// MaxKeysPerEvent, which it names.
func manyKeys(keys []string) error {
	if len(keys) <= MaxKeysPerEvent {
		return fmt.Errorf("%w: the Health event lists %d keys (%s); each is answered by its own execution, whose input names it in %s",
			ErrInvalid, len(keys), listed(keys, 10), EntityField)
	}
	rest := keys[MaxKeysPerEvent:]
	return fmt.Errorf("%w: the Health event lists %d keys, more than the %d keywarden answers per event; the first %d each have an execution, "+
		"these %d have none and need containing by hand: %s", ErrInvalid, len(keys), MaxKeysPerEvent, MaxKeysPerEvent, len(rest), listed(rest, 30))
}

func listed(keys []string, n int) string {
	if len(keys) <= n {
		return strings.Join(keys, ", ")
	}
	return strings.Join(keys[:n], ", ") + fmt.Sprintf(" and %d more (see the execution input)", len(keys)-n)
}

func (e Envelope) healthDetail() (HealthDetail, error) {
	var d HealthDetail
	err := unmarshalDetail(e.Detail, &d)
	return d, err
}

// entityValues are the event's affected entities, trimmed, without empty
// values and repeats, in the event's order.
func (d HealthDetail) entityValues() []string {
	var out []string
	for _, en := range d.AffectedEntities {
		v := strings.TrimSpace(en.EntityValue)
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// HealthKeys returns the affected entities of a Health event whose code
// names keys (HealthKeyCodes): trimmed, without empty values and repeats.
// They are not checked as key ids: the execution for each does that, so a
// bad entity is alerted, not dropped. ok is false for every other event.
func (e Envelope) HealthKeys() (keys []string, ok bool) {
	if !e.IsHealth() {
		return nil, false
	}
	d, err := e.healthDetail()
	if err != nil || !slices.Contains(HealthKeyCodes, d.EventTypeCode) {
		return nil, false
	}
	return d.entityValues(), true
}

// IsHealthNotice reports whether the envelope is a Health event whose code
// is one of HealthNoticeCodes.
func (e Envelope) IsHealthNotice() bool {
	if !e.IsHealth() {
		return false
	}
	d, err := e.healthDetail()
	return err == nil && slices.Contains(HealthNoticeCodes, d.EventTypeCode)
}

// HealthIdentity identifies a Health event across its deliveries: the same
// event delivered twice, or once more from its backup region, has another
// envelope id and region but the same event ARN and affected account.
// (An event ARN alone is not unique to an account.)
func (e Envelope) HealthIdentity() string {
	d, _ := e.healthDetail()
	account := d.AffectedAccount
	if account == "" {
		account = e.Account
	}
	return d.EventArn + "|" + account + "|" + d.EventTypeCode
}

// HealthNotice is what a Health notice (or any Health event) reported, for
// the alert.
type HealthNotice struct {
	EventTypeCode string
	Category      string
	StatusCode    string
	EventArn      string
	// Account is the affected account; ReceivedIn the account the event
	// was delivered to, when another (organizational view).
	Account     string
	ReceivedIn  string
	EventRegion string
	Region      string
	StartTime   string
	ReportedAt  time.Time
	Description string
	Entities    []HealthEntity
	Metadata    map[string]string
}

// HealthNotice reads a Health event for the notice alert. With an
// unreadable detail it returns the envelope's fields and the error.
func (e Envelope) HealthNotice() (HealthNotice, error) {
	if !e.IsHealth() {
		return HealthNotice{}, fmt.Errorf("%w: source %q detail-type %q is not AWS Health", ErrUnsupported, e.Source, e.DetailType)
	}
	n := HealthNotice{Account: e.Account, Region: e.Region, ReportedAt: e.Time}
	d, err := e.healthDetail()
	if err != nil {
		// What the envelope says is still worth quoting.
		return n, err
	}
	n.EventTypeCode, n.Category, n.StatusCode, n.EventArn = d.EventTypeCode, d.EventTypeCategory, d.StatusCode, d.EventArn
	n.EventRegion, n.StartTime, n.Metadata = d.EventRegion, d.StartTime, metadata(d.EventMetadata)
	if d.AffectedAccount != "" && d.AffectedAccount != e.Account {
		n.Account, n.ReceivedIn = d.AffectedAccount, e.Account
	}
	for _, desc := range d.EventDescription {
		if desc.Language == "" || desc.Language == "en_US" {
			n.Description = desc.LatestDescription
			break
		}
	}
	for _, en := range d.AffectedEntities {
		if strings.TrimSpace(en.EntityValue) != "" {
			n.Entities = append(n.Entities, HealthEntity{EntityValue: strings.TrimSpace(en.EntityValue), Status: en.Status})
		}
	}
	return n, nil
}

// Bounds on the metadata kept from an event.
const (
	maxMetadataEntries = 20
	maxMetadataKey     = 100
	maxMetadataValue   = 1000
)

// metadata turns detail.eventMetadata into strings, bounded: the first
// entries by key, keys and values cut; values of other JSON types are kept
// as their JSON text, and metadata that is not an object as one entry.
func metadata(doc json.RawMessage) map[string]string {
	if len(doc) == 0 || string(doc) == "null" {
		return nil
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(doc, &raw) != nil {
		return map[string]string{"(eventMetadata)": truncate(string(doc), maxMetadataValue)}
	}
	if len(raw) == 0 {
		return nil
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := map[string]string{}
	for _, k := range keys {
		if len(out) == maxMetadataEntries {
			break
		}
		v := raw[k]
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v)
		}
		out[truncate(k, maxMetadataKey)] = truncate(s, maxMetadataValue)
	}
	return out
}

// AWS documents eventMetadata as a string map without naming its keys for
// the credential risk events. These are the keys read as the user and as
// where the key was exposed, compared without regard to case, "_" or "-";
// every entry is quoted in the finding and the alert either way.
var (
	metadataUserKeys     = []string{"username", "iamusername", "user"}
	metadataLocationKeys = []string{"exposurelocation", "exposedlocation", "exposureurl", "exposedurl", "location", "url"}
)

func metadataValue(m map[string]string, names []string) string {
	norm := func(k string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "", " ", "").Replace(k))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, name := range names {
		for _, k := range keys {
			if v := strings.TrimSpace(m[k]); norm(k) == name && v != "" {
				return v
			}
		}
	}
	return ""
}

// WithEntity returns the event with EntityField set to entity: the input of
// the execution that handles that one affected entity. A field of that
// name the event already had is replaced, so the input names exactly one.
func WithEntity(raw []byte, entity string) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	v, err := json.Marshal(entity)
	if err != nil {
		return nil, err
	}
	obj[EntityField] = v
	return json.Marshal(obj)
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
