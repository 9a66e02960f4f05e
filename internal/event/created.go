package event

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Source, detail-type and record names of the CloudTrail events that tell
// keywarden an access key was created.
const (
	SourceIAM = "aws.iam"
	// SourceIAMDrill is the drill's stand-in, since put-events cannot use an
	// aws.* source.
	SourceIAMDrill       = "awsmock.iam"
	DetailTypeCloudTrail = "AWS API Call via CloudTrail"

	// EventSourceIAM and EventNameCreateAccessKey are the detail's eventSource
	// and eventName of the record keywarden tracks.
	EventSourceIAM           = "iam.amazonaws.com"
	EventNameCreateAccessKey = "CreateAccessKey"
)

// KeyCreation is what keywarden keeps of a CloudTrail CreateAccessKey record:
// which key was made for whom, by whom, when and from where. It never holds
// the secret access key: of the response only the key's id, user name and
// creation date are read.
type KeyCreation struct {
	// KeyID is empty when the call failed.
	KeyID string `json:"keyId,omitempty"`
	// User is the IAM user the key is for; RootUserName ("root") when Root,
	// however the record spells it. A failed call may name no user.
	User string `json:"user,omitempty"`
	// Root is true for a key of the account's root user, made by the root
	// user for itself.
	Root bool `json:"root"`
	// CreatorARN and CreatorType are the caller's userIdentity arn and type.
	CreatorARN  string `json:"creatorArn"`
	CreatorType string `json:"creatorType,omitempty"`
	// SourceIP is the record's sourceIPAddress: an address, or a service name
	// such as "AWS Internal".
	SourceIP  string `json:"sourceIp,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
	// CreatedAt is responseElements.accessKey.createDate, or eventTime when the
	// record has no createDate or one that cannot be read (IAM sets the date
	// as it answers the call, so the two agree to the second). Zero when the
	// call failed.
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// CreatedAtSource says where CreatedAt came from when it is not the
	// createDate: "eventTime (no createDate)" or "eventTime (createDate
	// unreadable: "<the text>")". Empty when createDate was read.
	CreatedAtSource string    `json:"createdAtSource,omitempty"`
	EventID         string    `json:"eventId,omitempty"`
	EventTime       time.Time `json:"eventTime"`
	Account         string    `json:"account"`
	Region          string    `json:"region,omitempty"`
	// Failed is true when IAM refused the call (ErrorCode says why): no key
	// exists, but someone tried to make one.
	Failed    bool   `json:"failed"`
	ErrorCode string `json:"errorCode,omitempty"`
}

// cloudTrailRecord is the part of a CloudTrail record keywarden reads.
type cloudTrailRecord struct {
	UserIdentity struct {
		Type     string `json:"type"`
		ARN      string `json:"arn"`
		UserName string `json:"userName"`
	} `json:"userIdentity"`
	EventTime         string `json:"eventTime"`
	EventSource       string `json:"eventSource"`
	EventName         string `json:"eventName"`
	AWSRegion         string `json:"awsRegion"`
	SourceIPAddress   string `json:"sourceIPAddress"`
	UserAgent         string `json:"userAgent"`
	RequestParameters *struct {
		UserName string `json:"userName"`
	} `json:"requestParameters"`
	ResponseElements *struct {
		AccessKey *createdAccessKey `json:"accessKey"`
	} `json:"responseElements"`
	ErrorCode          string `json:"errorCode"`
	EventID            string `json:"eventID"`
	RecipientAccountID string `json:"recipientAccountId"`
}

// createdAccessKey declares only what keywarden may keep of the response's
// access key. Some records and tools put the secret access key beside these
// fields; having no field for it, the decoder never copies it.
type createdAccessKey struct {
	AccessKeyID string `json:"accessKeyId"`
	UserName    string `json:"userName"`
	CreateDate  string `json:"createDate"`
}

// Bounds on the free texts copied from a record. The caller chooses its user
// agent, so these texts are cleaned before they reach a log line or a mail.
const (
	maxUserAgent = 1024
	maxShortText = 128
)

// Callers of CreateAccessKey act through IAM (users, root) or STS (role
// sessions, federated users). Role paths may hold any printable ASCII; ARNs
// are at most 2048 characters.
var creatorARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:[!-~]+$`)

const maxARN = 2048

// checkIAMSource refuses a CloudTrail record that is not IAM's.
func checkIAMSource(eventSource string) error {
	switch {
	case eventSource == "":
		return fmt.Errorf("%w: CloudTrail record has no eventSource", ErrInvalid)
	case eventSource != EventSourceIAM:
		return fmt.Errorf("%w: CloudTrail eventSource %q is not %s", ErrUnsupported, truncate(eventSource, 64), EventSourceIAM)
	}
	return nil
}

// checkOrigin checks what every IAM record keywarden reads must say of where
// it comes from and who called: a valid account it was delivered as, the
// same account in the record (real events only), and an IAM or STS caller.
func (e Envelope) checkOrigin(recipientAccountID, callerARN, eventName string) error {
	if err := checkAccount(e.Account); err != nil {
		return err
	}
	// A drill replays a sample into whichever account runs it, so only a
	// real event must agree with the account its record names.
	if e.Source == SourceIAM && recipientAccountID != "" && recipientAccountID != e.Account {
		return fmt.Errorf("%w: record of account %q delivered as account %s", ErrInvalid, truncate(recipientAccountID, 40), e.Account)
	}
	if callerARN == "" {
		return fmt.Errorf("%w: userIdentity has no arn, so nothing names who called %s", ErrInvalid, eventName)
	}
	if len(callerARN) > maxARN || !creatorARNPattern.MatchString(callerARN) {
		return fmt.Errorf("%w: userIdentity arn %q is not an IAM or STS ARN", ErrInvalid, truncate(callerARN, 80))
	}
	return nil
}

// recordRegion is the record's awsRegion, else the region it was delivered in.
func (e Envelope) recordRegion(awsRegion string) string {
	if awsRegion == "" {
		return e.Region
	}
	return awsRegion
}

// ParseKeyCreation reads a CloudTrail CreateAccessKey event (real or drill).
func ParseKeyCreation(raw []byte) (KeyCreation, error) {
	env, err := ParseEnvelope(raw)
	if err != nil {
		return KeyCreation{}, err
	}
	return env.KeyCreation()
}

// IsKeyCreation reports whether the envelope is a CloudTrail IAM API call
// (real or drill). Whether the call is CreateAccessKey is in the detail, which
// KeyCreation checks.
func (e Envelope) IsKeyCreation() bool {
	return (e.Source == SourceIAM || e.Source == SourceIAMDrill) && e.DetailType == DetailTypeCloudTrail
}

// KeyCreation reads the envelope's detail as a CreateAccessKey record. A
// failed call is no error: it is returned with Failed set. Errors wrap
// ErrUnsupported for another kind of event and ErrInvalid for a record
// keywarden cannot trust.
func (e Envelope) KeyCreation() (KeyCreation, error) {
	if !e.IsKeyCreation() {
		return KeyCreation{}, fmt.Errorf("%w: source %q detail-type %q", ErrUnsupported, e.Source, e.DetailType)
	}
	var r cloudTrailRecord
	if err := unmarshalDetail(e.Detail, &r); err != nil {
		return KeyCreation{}, err
	}
	if err := checkIAMSource(r.EventSource); err != nil {
		return KeyCreation{}, err
	}
	if r.EventName != EventNameCreateAccessKey {
		return KeyCreation{}, fmt.Errorf("%w: CloudTrail event %q is not %s", ErrUnsupported, truncate(r.EventName, 64), EventNameCreateAccessKey)
	}
	if err := e.checkOrigin(r.RecipientAccountID, r.UserIdentity.ARN, r.EventName); err != nil {
		return KeyCreation{}, err
	}
	eventTime, err := timeField("eventTime", r.EventTime)
	if err != nil {
		return KeyCreation{}, err
	}
	region := e.recordRegion(r.AWSRegion)
	c := KeyCreation{
		CreatorARN:  r.UserIdentity.ARN,
		CreatorType: printable(r.UserIdentity.Type, maxShortText),
		SourceIP:    printable(r.SourceIPAddress, maxShortText),
		UserAgent:   printable(r.UserAgent, maxUserAgent),
		EventID:     printable(r.EventID, maxShortText),
		EventTime:   eventTime,
		Account:     e.Account,
		Region:      printable(region, maxShortText),
	}

	var key *createdAccessKey
	if r.ResponseElements != nil {
		key = r.ResponseElements.AccessKey
	}
	if r.ErrorCode != "" {
		if key != nil {
			return KeyCreation{}, fmt.Errorf("%w: record has errorCode %q and also a created key", ErrInvalid, truncate(r.ErrorCode, 64))
		}
		c.Failed = true
		c.ErrorCode = printable(r.ErrorCode, maxShortText)
		// A refused call may name no user (a role session asking for a key
		// for itself); what it names must still be a user name.
		if c.User, c.Root, err = r.keyUser(nil); err != nil {
			return KeyCreation{}, err
		}
		return c, nil
	}
	if key == nil {
		return KeyCreation{}, fmt.Errorf("%w: record has no errorCode and no responseElements.accessKey", ErrInvalid)
	}
	if err := checkKeyID(key.AccessKeyID); err != nil {
		return KeyCreation{}, err
	}
	c.KeyID = key.AccessKeyID
	if c.User, c.Root, err = r.keyUser(key); err != nil {
		return KeyCreation{}, err
	}
	if c.User == "" {
		return KeyCreation{}, fmt.Errorf("%w: key %s names no user (no userName in the response or request, and the %q caller is not a user)", ErrInvalid, c.KeyID, truncate(r.UserIdentity.Type, 40))
	}
	c.CreatedAt, c.CreatedAtSource = createdAt(key.CreateDate, eventTime)
	return c, nil
}

// Bound on the unreadable createDate quoted in CreatedAtSource.
const maxQuotedDate = 64

// createdAt is the key's creation time and, unless it is the createDate,
// where it came from. An unreadable createDate does not reject the record:
// the record is still who made which key, and eventTime, which every
// accepted record has, says when to the second.
func createdAt(createDate string, eventTime time.Time) (time.Time, string) {
	if createDate == "" {
		return eventTime, "eventTime (no createDate)"
	}
	if t, ok := parseTime(createDate); ok {
		return t, ""
	}
	return eventTime, fmt.Sprintf("eventTime (createDate unreadable: %q)", printable(createDate, maxQuotedDate))
}

// keyUser names the user a key is (or was to be) made for: the response's
// userName, else the request's, else, when a caller made a key for itself,
// the caller. It returns "" when none applies.
//
// A root caller that names no user, or names root (any spelling), makes a
// key of the root user, whatever the response calls the user (CloudTrail
// has written it Root); root keys are RootUserName, with root set.
func (r cloudTrailRecord) keyUser(key *createdAccessKey) (user string, root bool, err error) {
	var fromResponse, fromRequest string
	if key != nil {
		fromResponse = key.UserName
	}
	if r.RequestParameters != nil {
		fromRequest = r.RequestParameters.UserName
	}
	callerRoot := IsRootName(r.UserIdentity.Type) || IsRootName(r.UserIdentity.ARN)
	forItself := fromRequest == "" || IsRootName(fromRequest)
	if callerRoot && forItself && (fromResponse == "" || IsRootName(fromResponse)) {
		return RootUserName, true, nil
	}
	switch {
	case fromResponse != "":
		user = fromResponse
	case fromRequest != "":
		user = fromRequest
	case r.UserIdentity.Type == "IAMUser":
		// Only an IAM user's own name can be implied; a role session's
		// identity names no user.
		user = r.UserIdentity.UserName
	}
	if user == "" {
		return "", false, nil
	}
	if !userNamePattern.MatchString(user) {
		return "", false, fmt.Errorf("%w: %q is not a valid IAM user name", ErrInvalid, truncate(user, 80))
	}
	// IAM user names are unique ignoring case and the response spells the
	// stored name; any other difference means the record was not written by
	// IAM.
	if fromResponse != "" && fromRequest != "" && !strings.EqualFold(fromResponse, fromRequest) {
		return "", false, fmt.Errorf("%w: the response names user %q but the request %q", ErrInvalid, fromResponse, truncate(fromRequest, 80))
	}
	return user, false, nil
}

// CloudTrail writes eventTime in RFC 3339 and an access key's createDate in
// the text of Java's US date format: "Sep 5, 2024, 6:04:50 PM" since Java 9,
// "Sep 5, 2024 6:04:50 PM" before. The text has no zone; it is UTC.
var (
	isoTimePattern = regexp.MustCompile(
		`^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})([.,]\d{1,9})?(Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?$`)
	textTimePattern = regexp.MustCompile(
		`^(?i:(jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)) ([1-9]|0[1-9]|[12]\d|3[01]), (\d{4}),? ([1-9]|0[1-9]|1[0-2]):([0-5]\d):([0-5]\d) (?i:(am|pm))$`)
)

var monthAbbreviations = map[string]time.Month{
	"jan": time.January, "feb": time.February, "mar": time.March, "apr": time.April,
	"may": time.May, "jun": time.June, "jul": time.July, "aug": time.August,
	"sep": time.September, "sept": time.September, "oct": time.October, "nov": time.November,
	"dec": time.December,
}

// maxTimeText bounds a time's text; the longest accepted form is 35 bytes.
const maxTimeText = 64

// ParseCloudTrailTime reads a time as CloudTrail writes it, in UTC:
//
//   - RFC 3339 / ISO 8601: 2024-09-05T18:04:50Z, with optional fractional
//     seconds (.123 or ,123, up to nanoseconds), a zone of Z, ±hh:mm or ±hhmm,
//     or no zone (UTC, like every time CloudTrail writes); a space may
//     replace the T.
//   - Java's US medium date-time text, always UTC: Sep 5, 2024, 6:04:50 PM and
//     Sep 5, 2024 6:04:50 PM. Month and AM/PM in any case; "Sept" is taken
//     too (Java's other English locales abbreviate September so, and it can
//     mean nothing else); a day of 05 or hour of 06 is taken; the space
//     before AM/PM may be a no-break space (U+00A0 or U+202F, as newer Java
//     writes).
//
// Anything else, or a date that does not exist (Feb 30, hour 0 PM, 24:00),
// is an error wrapping ErrInvalid that names the text: never a guess.
func ParseCloudTrailTime(s string) (time.Time, error) {
	return timeField("time", s)
}

// timeField parses s as ParseCloudTrailTime does, naming the field in errors.
func timeField(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("%w: no %s", ErrInvalid, field)
	}
	if t, ok := parseTime(s); ok {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: %s %q is neither RFC 3339 nor a date like %q in UTC",
		ErrInvalid, field, truncate(s, maxTimeText), "Sep 5, 2024, 6:04:50 PM")
}

func parseTime(s string) (time.Time, bool) {
	if len(s) > maxTimeText {
		return time.Time{}, false
	}
	s = strings.NewReplacer("\u00a0", " ", "\u202f", " ").Replace(strings.TrimSpace(s))
	if m := isoTimePattern.FindStringSubmatch(s); m != nil {
		zone := m[4]
		switch {
		case zone == "":
			zone = "Z"
		case len(zone) == 5: // ±hhmm
			zone = zone[:3] + ":" + zone[3:]
		}
		t, err := time.Parse(time.RFC3339Nano, m[1]+"T"+m[2]+strings.ReplaceAll(m[3], ",", ".")+zone)
		if err != nil {
			return time.Time{}, false
		}
		t = t.UTC()
		// An offset can carry year 0000 or 9999 out of the range a time can
		// be written back in.
		if t.Year() < 0 || t.Year() > 9999 {
			return time.Time{}, false
		}
		return t, true
	}
	if m := textTimePattern.FindStringSubmatch(s); m != nil {
		month := monthAbbreviations[strings.ToLower(m[1])]
		day, _ := strconv.Atoi(m[2])
		year, _ := strconv.Atoi(m[3])
		hour, _ := strconv.Atoi(m[4])
		minute, _ := strconv.Atoi(m[5])
		second, _ := strconv.Atoi(m[6])
		// time.Date would roll Feb 30 over into March: check the day first.
		if day > time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day() {
			return time.Time{}, false
		}
		hour %= 12
		if strings.EqualFold(m[7], "pm") {
			hour += 12
		}
		return time.Date(year, month, day, hour, minute, second, 0, time.UTC), true
	}
	return time.Time{}, false
}

// printable returns s with characters that are not graphic (controls, line
// separators, invalid UTF-8) replaced by U+FFFD and, when longer than n bytes,
// cut to fit n with an ellipsis, so a caller-chosen text cannot break a log
// line or a mail header.
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if !unicode.IsGraphic(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) <= n {
		return out
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut] + ellipsis
}
