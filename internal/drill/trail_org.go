package drill

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// A member's CloudTrail events in the drill organization: a person acts in
// the member through the SDK, localaws records the call in the member's
// CloudTrail as AWS does, and the scenario delivers that record as
// EventBridge delivers CloudTrail management events: source aws.iam, on
// the member's default bus, whose forwarding rules take it to the hub.

// trailRecord is what the drill reads of a CloudTrail record to pick it.
type trailRecord struct {
	EventSource  string `json:"eventSource"`
	EventName    string `json:"eventName"`
	EventTime    string `json:"eventTime"`
	EventID      string `json:"eventID"`
	ReadOnly     bool   `json:"readOnly"`
	UserIdentity struct {
		Arn            string `json:"arn"`
		SessionContext *struct {
			SourceIdentity string `json:"sourceIdentity"`
			SessionIssuer  struct {
				Arn string `json:"arn"`
			} `json:"sessionIssuer"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
}

// issuer is the role whose session made the call, "" for a user or root.
func (r trailRecord) issuer() string {
	if r.UserIdentity.SessionContext == nil {
		return ""
	}
	return r.UserIdentity.SessionContext.SessionIssuer.Arn
}

// readTrail reads an account's CloudTrail records, oldest first, with the
// raw record beside each.
func (st *stack) readTrail(account string) ([]trailRecord, []string, error) {
	srv := st.account(account)
	if srv == nil {
		return nil, nil, fmt.Errorf("the drill has no account %s", account)
	}
	raws := srv.CloudTrailRecords()
	recs := make([]trailRecord, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal([]byte(raw), &recs[i]); err != nil {
			return nil, nil, fmt.Errorf("account %s: CloudTrail record %d: %w", account, i, err)
		}
	}
	return recs, raws, nil
}

// memberAdmin is an IAM client of a member's administrator (its root user,
// as localaws signs for an account of the organization): the person whose
// calls the scenarios deliver. Given room to get through injected
// throttling, like the set-up.
func (d *Driver) memberAdmin(account string) (*iam.Client, error) {
	srv := d.st.account(account)
	if srv == nil {
		return nil, fmt.Errorf("the drill has no account %s", account)
	}
	cfg := srv.SDKConfig()
	cfg.RetryMaxAttempts = 10
	return iam.NewFromConfig(cfg), nil
}

// AsMemberAdmin makes calls as a member's administrator.
func (d *Driver) AsMemberAdmin(ctx context.Context, account string, calls func(ctx context.Context, c *iam.Client) error) error {
	c, err := d.memberAdmin(account)
	if err != nil {
		return err
	}
	if err := calls(ctx, c); err != nil {
		return fmt.Errorf("as the administrator of %s: %w", account, err)
	}
	return nil
}

// DeliverLastCall delivers the member's newest CloudTrail record of
// eventName made by someone other than keywarden's roles, as EventBridge
// delivers it.
func (d *Driver) DeliverLastCall(ctx context.Context, account, eventName string) error {
	recs, raws, err := d.st.readTrail(account)
	if err != nil {
		return err
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].EventName == eventName && !strings.Contains(recs[i].issuer(), ":role/keywarden-member-") {
			return d.deliverRecords(ctx, account, fmt.Sprintf("account %s's CloudTrail record of %s by %s", account, eventName, recs[i].UserIdentity.Arn), raws[i])
		}
	}
	return fmt.Errorf("account %s's CloudTrail holds no %s", account, eventName)
}

// DeliverWritesOf delivers, in order, every CloudTrail record of an IAM
// write made in the member by a session of one of its roles: keywarden's
// own writes, as the member's default bus receives them.
func (d *Driver) DeliverWritesOf(ctx context.Context, account, role string) error {
	recs, raws, err := d.st.readTrail(account)
	if err != nil {
		return err
	}
	arn := "arn:aws:iam::" + account + ":role/" + role
	var picked []string
	var names []string
	for i, r := range recs {
		if !r.ReadOnly && r.issuer() == arn {
			picked, names = append(picked, raws[i]), append(names, r.EventName)
		}
	}
	if len(picked) == 0 {
		return fmt.Errorf("account %s's CloudTrail holds no write by %s", account, role)
	}
	return d.deliverRecords(ctx, account, fmt.Sprintf("account %s's CloudTrail records of %s's writes (%s)", account, role, strings.Join(names, ", ")), picked...)
}

// deliverRecords delivers CloudTrail records as one step of the scenario.
func (d *Driver) deliverRecords(ctx context.Context, account, what string, records ...string) error {
	res := PutResult{File: what + " (delivered as from AWS)"}
	defer func() { d.outcome.Puts = append(d.outcome.Puts, res) }()
	for _, rec := range records {
		raw, err := cloudTrailEnvelope(account, rec)
		if err != nil {
			return err
		}
		m, err := d.st.deliver(ctx, raw)
		res.Matches = append(res.Matches, m...)
		if err != nil {
			return err
		}
	}
	return nil
}

// cloudTrailEnvelope wraps a CloudTrail record as EventBridge delivers an
// IAM management event: "AWS API Call via CloudTrail" from aws.iam in
// us-east-1, of the account that recorded it, at the call's time. The
// envelope's id is derived from the record's event id, so a redelivery is
// the same event.
func cloudTrailEnvelope(account, record string) ([]byte, error) {
	var r trailRecord
	if err := json.Unmarshal([]byte(record), &r); err != nil {
		return nil, fmt.Errorf("CloudTrail record: %w", err)
	}
	h := sha256.Sum256([]byte(r.EventID))
	id := fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	return json.Marshal(map[string]any{
		"version": "0", "id": id, "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
		"account": account, "time": r.EventTime, "region": "us-east-1", "resources": []string{},
		"detail": json.RawMessage(record),
	})
}

// createTaggedUser creates a user with tags, as a member's administrator.
func createTaggedUser(ctx context.Context, c *iam.Client, user string, tags map[string]string) error {
	in := &iam.CreateUserInput{UserName: aws.String(user)}
	for _, k := range sortedKeys(tags) {
		in.Tags = append(in.Tags, iamtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	_, err := c.CreateUser(ctx, in)
	return err
}
