package event

import (
	"fmt"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"
)

// Names of the CloudTrail IAM records the tamper watch reads, besides
// CreateAccessKey (EventNameCreateAccessKey).
const (
	EventNameUpdateAccessKey  = "UpdateAccessKey"
	EventNamePutUserPolicy    = "PutUserPolicy"
	EventNameDeleteUserPolicy = "DeleteUserPolicy"
	EventNameTagUser          = "TagUser"
	EventNameUntagUser        = "UntagUser"
	EventNameDetachUserPolicy = "DetachUserPolicy"
)

// TamperEventNames are the IAM calls that can undo or bend a keywarden
// response, each delivered to the tamper branch by its own rule.
// CreateAccessKey is checked too, after its creation record.
var TamperEventNames = []string{
	EventNameUpdateAccessKey, EventNamePutUserPolicy, EventNameDeleteUserPolicy, EventNameTagUser, EventNameUntagUser,
	EventNameDetachUserPolicy,
}

// IsTamperEventName reports whether name is one of TamperEventNames.
func IsTamperEventName(name string) bool {
	return slices.Contains(TamperEventNames, name)
}

// Access key statuses as UpdateAccessKey's request names them.
const (
	KeyStatusActive   = "Active"
	KeyStatusInactive = "Inactive"
)

// Caller is who made an IAM call: the record's userIdentity, as far as
// keywarden reads it. It holds no credential: the caller's access key id
// names the key used, it is not a secret.
type Caller struct {
	// Type is userIdentity.type: IAMUser, AssumedRole, Root,
	// FederatedUser, …
	Type string `json:"type"`
	// ARN is userIdentity.arn: an IAM user, root, or an STS session
	// (arn:aws:sts::<account>:assumed-role/<role>/<session>).
	ARN string `json:"arn"`
	// UserName is userIdentity.userName, for an IAM user caller.
	UserName string `json:"userName,omitempty"`
	// RoleARN is the role a session was issued from
	// (sessionContext.sessionIssuer.arn), for AssumedRole callers: the
	// IAM ARN, with the role's path, that keywarden recognises its own
	// functions' roles by.
	RoleARN     string `json:"roleArn,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	// InvokedBy is the AWS service that made the call for the caller, if
	// any (e.g. cloudformation.amazonaws.com).
	InvokedBy string `json:"invokedBy,omitempty"`
}

// Tag is one tag of a TagUser request.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// IAMCall is a CloudTrail record of an IAM call the tamper watch reads:
// who did what to which user, key, policy or tag, when and from where. It
// is pure data from the record; the policy document of PutUserPolicy and
// any secret of a response are never read.
type IAMCall struct {
	EventName string    `json:"eventName"`
	EventID   string    `json:"eventId"`
	EventTime time.Time `json:"eventTime"`
	Account   string    `json:"account"`
	Region    string    `json:"region,omitempty"`
	// Source is the envelope's source: aws.iam, or awsmock.iam in drills.
	Source    string `json:"source"`
	Caller    Caller `json:"caller"`
	SourceIP  string `json:"sourceIp,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
	// ErrorCode is set when IAM refused the call: nothing changed.
	ErrorCode string `json:"errorCode,omitempty"`

	// User is the IAM user acted on: requestParameters.userName, or the
	// caller itself when an IAM user acts on its own key.
	User string `json:"user,omitempty"`
	// AccessKeyID is the key of UpdateAccessKey, or the key
	// CreateAccessKey made.
	AccessKeyID string `json:"accessKeyId,omitempty"`
	// Status is the status UpdateAccessKey set: Active or Inactive.
	Status string `json:"status,omitempty"`
	// PolicyName is the inline policy PutUserPolicy or DeleteUserPolicy
	// wrote or deleted.
	PolicyName string `json:"policyName,omitempty"`
	// PolicyArn is the managed policy DetachUserPolicy detached.
	PolicyArn string `json:"policyArn,omitempty"`
	// Tags are the tags TagUser set; TagKeys the keys UntagUser removed.
	Tags    []Tag    `json:"tags,omitempty"`
	TagKeys []string `json:"tagKeys,omitempty"`
}

// iamCallRecord is the part of a CloudTrail record ParseIAMCall reads.
type iamCallRecord struct {
	UserIdentity struct {
		Type           string `json:"type"`
		ARN            string `json:"arn"`
		UserName       string `json:"userName"`
		AccessKeyID    string `json:"accessKeyId"`
		InvokedBy      string `json:"invokedBy"`
		SessionContext *struct {
			SessionIssuer *struct {
				ARN string `json:"arn"`
			} `json:"sessionIssuer"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	EventTime         string `json:"eventTime"`
	EventSource       string `json:"eventSource"`
	EventName         string `json:"eventName"`
	AWSRegion         string `json:"awsRegion"`
	SourceIPAddress   string `json:"sourceIPAddress"`
	UserAgent         string `json:"userAgent"`
	RequestParameters *struct {
		UserName    string   `json:"userName"`
		AccessKeyID string   `json:"accessKeyId"`
		Status      string   `json:"status"`
		PolicyName  string   `json:"policyName"`
		PolicyArn   string   `json:"policyArn"`
		Tags        []Tag    `json:"tags"`
		TagKeys     []string `json:"tagKeys"`
	} `json:"requestParameters"`
	ErrorCode          string `json:"errorCode"`
	EventID            string `json:"eventID"`
	RecipientAccountID string `json:"recipientAccountId"`
}

// IAM's limits on the names a record carries.
var (
	// Inline policy names: 1 to 128 of letters, digits and +=,.@_-.
	policyNamePattern = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	// A managed policy's ARN, with its path, in any partition: a customer
	// managed policy (account id) or an AWS managed one ("aws").
	policyARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/[\w+=,.@/-]{1,700}$`)
	// A role ARN, with its path, in any partition.
	roleARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[!-~]{1,1000}$`)
)

// Bounds on tag keys and values (IAM: 128 and 256 characters) and on how
// many tags one call carries (IAM: 50 per user).
const (
	maxTagKey   = 128
	maxTagValue = 256
	maxTags     = 50
)

// ParseIAMCall reads a CloudTrail record of one of the IAM calls the tamper
// watch reads (TamperEventNames, and CreateAccessKey), real or drill.
func ParseIAMCall(raw []byte) (IAMCall, error) {
	env, err := ParseEnvelope(raw)
	if err != nil {
		return IAMCall{}, err
	}
	return env.IAMCall()
}

// IAMCall reads the envelope's detail as an IAM call the tamper watch
// reads. A refused call is no error: ErrorCode says why. Errors wrap
// ErrUnsupported for another kind of event or call, and ErrInvalid for a
// record keywarden cannot trust.
func (e Envelope) IAMCall() (IAMCall, error) {
	if !e.IsKeyCreation() {
		return IAMCall{}, fmt.Errorf("%w: source %q detail-type %q", ErrUnsupported, e.Source, e.DetailType)
	}
	var r iamCallRecord
	if err := unmarshalDetail(e.Detail, &r); err != nil {
		return IAMCall{}, err
	}
	if err := checkIAMSource(r.EventSource); err != nil {
		return IAMCall{}, err
	}
	switch {
	case r.EventName == EventNameCreateAccessKey:
		return e.createdKeyCall()
	case !IsTamperEventName(r.EventName):
		return IAMCall{}, fmt.Errorf("%w: CloudTrail event %q is not one the tamper watch reads (%v, %s)",
			ErrUnsupported, truncate(r.EventName, 64), TamperEventNames, EventNameCreateAccessKey)
	}
	c, err := e.callHeader(r)
	if err != nil {
		return IAMCall{}, err
	}
	if r.RequestParameters == nil {
		return IAMCall{}, fmt.Errorf("%w: %s record has no requestParameters", ErrInvalid, r.EventName)
	}
	p := r.RequestParameters
	if p.UserName != "" && !userNamePattern.MatchString(p.UserName) {
		return IAMCall{}, fmt.Errorf("%w: %q is not a valid IAM user name", ErrInvalid, truncate(p.UserName, 80))
	}
	c.User = p.UserName
	switch r.EventName {
	case EventNameUpdateAccessKey:
		err = c.readKeyUpdate(p.AccessKeyID, p.Status)
	case EventNamePutUserPolicy, EventNameDeleteUserPolicy:
		err = c.readPolicy(p.PolicyName)
	case EventNameDetachUserPolicy:
		err = c.readPolicyArn(p.PolicyArn)
	case EventNameTagUser:
		err = c.readTags(p.Tags)
	case EventNameUntagUser:
		err = c.readTagKeys(p.TagKeys)
	}
	if err != nil {
		return IAMCall{}, err
	}
	return c, nil
}

// callHeader reads what every record carries: account, caller, time,
// addresses.
func (e Envelope) callHeader(r iamCallRecord) (IAMCall, error) {
	id := r.UserIdentity
	if err := e.checkOrigin(r.RecipientAccountID, id.ARN, r.EventName); err != nil {
		return IAMCall{}, err
	}
	caller := Caller{
		Type: printable(id.Type, maxShortText), ARN: id.ARN, UserName: printable(id.UserName, maxShortText),
		AccessKeyID: printable(id.AccessKeyID, maxShortText), InvokedBy: printable(id.InvokedBy, maxShortText),
	}
	if id.SessionContext != nil && id.SessionContext.SessionIssuer != nil && id.SessionContext.SessionIssuer.ARN != "" {
		issuer := id.SessionContext.SessionIssuer.ARN
		// Sessions are issued by roles, and by IAM users for federation
		// tokens; only a role can be keywarden's.
		if roleARNPattern.MatchString(issuer) {
			caller.RoleARN = issuer
		} else if len(issuer) > maxARN || !creatorARNPattern.MatchString(issuer) {
			return IAMCall{}, fmt.Errorf("%w: sessionIssuer arn %q is not an IAM ARN", ErrInvalid, truncate(issuer, 80))
		}
	}
	eventTime, err := timeField("eventTime", r.EventTime)
	if err != nil {
		return IAMCall{}, err
	}
	region := e.recordRegion(r.AWSRegion)
	eventID := r.EventID
	if eventID == "" {
		eventID = e.ID
	}
	return IAMCall{
		EventName: r.EventName, EventID: printable(eventID, maxShortText), EventTime: eventTime,
		Account: e.Account, Region: printable(region, maxShortText), Source: e.Source, Caller: caller,
		SourceIP: printable(r.SourceIPAddress, maxShortText), UserAgent: printable(r.UserAgent, maxUserAgent),
		ErrorCode: printable(r.ErrorCode, maxShortText),
	}, nil
}

// readKeyUpdate reads UpdateAccessKey: which key, which status, whose. An
// IAM user may name no user to act on its own key.
func (c *IAMCall) readKeyUpdate(keyID, status string) error {
	if err := checkKeyID(keyID); err != nil {
		return err
	}
	c.AccessKeyID = keyID
	if status != KeyStatusActive && status != KeyStatusInactive {
		return fmt.Errorf("%w: UpdateAccessKey status %q is neither %s nor %s", ErrInvalid, truncate(status, 40), KeyStatusActive, KeyStatusInactive)
	}
	c.Status = status
	switch {
	case c.User != "":
	case c.Caller.Type == "IAMUser" && userNamePattern.MatchString(c.Caller.UserName):
		c.User = c.Caller.UserName
	case IsRootName(c.Caller.Type) || IsRootName(c.Caller.ARN):
		// Root acting on its own key; keywarden never contains those.
		c.User = RootUserName
	}
	if c.User == "" {
		return fmt.Errorf("%w: UpdateAccessKey of key %s names no user, and the %q caller is not an IAM user", ErrInvalid, keyID, truncate(c.Caller.Type, 40))
	}
	return nil
}

func (c *IAMCall) readPolicy(name string) error {
	if c.User == "" {
		return fmt.Errorf("%w: %s names no user", ErrInvalid, c.EventName)
	}
	if !policyNamePattern.MatchString(name) {
		return fmt.Errorf("%w: %s policy name %q is not a valid inline policy name", ErrInvalid, c.EventName, truncate(name, 80))
	}
	c.PolicyName = name
	return nil
}

func (c *IAMCall) readPolicyArn(arn string) error {
	if c.User == "" {
		return fmt.Errorf("%w: %s names no user", ErrInvalid, c.EventName)
	}
	if !policyARNPattern.MatchString(arn) {
		return fmt.Errorf("%w: %s policy ARN %q is not a managed policy's ARN", ErrInvalid, c.EventName, truncate(arn, 120))
	}
	c.PolicyArn = arn
	return nil
}

func (c *IAMCall) readTags(tags []Tag) error {
	if c.User == "" {
		return fmt.Errorf("%w: TagUser names no user", ErrInvalid)
	}
	if len(tags) == 0 || len(tags) > maxTags {
		return fmt.Errorf("%w: TagUser carries %d tags; IAM takes 1 to %d", ErrInvalid, len(tags), maxTags)
	}
	for _, t := range tags {
		if err := checkTagKey(t.Key); err != nil {
			return err
		}
		if n := utf8.RuneCountInString(t.Value); n > maxTagValue {
			return fmt.Errorf("%w: tag %s has a value of %d characters; IAM takes at most %d", ErrInvalid, t.Key, n, maxTagValue)
		}
		// A value may hold any text; kept printable for logs and mails.
		c.Tags = append(c.Tags, Tag{Key: t.Key, Value: printable(t.Value, 4*maxTagValue)})
	}
	return nil
}

func (c *IAMCall) readTagKeys(keys []string) error {
	if c.User == "" {
		return fmt.Errorf("%w: UntagUser names no user", ErrInvalid)
	}
	if len(keys) == 0 || len(keys) > maxTags {
		return fmt.Errorf("%w: UntagUser carries %d tag keys; IAM takes 1 to %d", ErrInvalid, len(keys), maxTags)
	}
	for _, k := range keys {
		if err := checkTagKey(k); err != nil {
			return err
		}
	}
	c.TagKeys = append([]string(nil), keys...)
	return nil
}

// checkTagKey accepts a tag key of 1 to 128 characters, none of them a
// control character or invalid UTF-8 (IAM accepts fewer still).
func checkTagKey(k string) error {
	if k == "" || utf8.RuneCountInString(k) > maxTagKey || printable(k, 4*maxTagKey) != k {
		return fmt.Errorf("%w: tag key %q is not a tag key IAM accepts", ErrInvalid, truncate(k, 80))
	}
	return nil
}

// createdKeyCall reads CreateAccessKey as KeyCreation does and keeps what
// the tamper watch needs: who made which key for whom.
func (e Envelope) createdKeyCall() (IAMCall, error) {
	kc, err := e.KeyCreation()
	if err != nil {
		return IAMCall{}, err
	}
	var r iamCallRecord
	if err := unmarshalDetail(e.Detail, &r); err != nil {
		return IAMCall{}, err
	}
	c, err := e.callHeader(r)
	if err != nil {
		return IAMCall{}, err
	}
	c.User, c.AccessKeyID = kc.User, kc.KeyID
	return c, nil
}
