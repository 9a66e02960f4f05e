// Package exposure holds the steps of the exposed-key branch that touch IAM:
// read the finding and resolve the key's owner, contain the key, revoke the
// user's older sessions, and remove the key. Each step is idempotent: a
// retried or redelivered step that finds its work already done succeeds.
package exposure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/clock"
	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/ledger"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

// Outcomes recorded by the steps, quoted in the alert.
const (
	// Containment.
	StatusDeactivated = "deactivated" // set Inactive and read back as Inactive
	StatusAlreadyGone = "already-gone"
	// Revocation.
	StatusRevoked  = "revoked"
	StatusUserGone = "user-gone"
	// Removal.
	StatusDeleted      = "deleted"
	StatusKeptInactive = "kept-inactive"
	StatusSkipped      = "skipped"
)

// ErrContainmentUnverified: the key still read back as Active after it was
// set Inactive. Named so the state machine alerts for manual action.
const ErrContainmentUnverified = "ContainmentUnverified"

// RevokePolicyName is the inline policy that denies older sessions.
const RevokePolicyName = "keywarden-revoke-older-sessions"

// Input is what each IAM step receives from the state machine.
type Input struct {
	Finding     event.Exposure `json:"finding"`
	Containment *Containment   `json:"containment,omitempty"`
	// Execution is the execution's name, recorded in the ledger with the
	// containment and the revocation.
	Execution string `json:"execution,omitempty"`
}

// Target is the account the step acts in, and the execution's name.
func (in Input) Target() (account, execution string) { return in.Finding.Account, in.Execution }

// Containment is the outcome of ContainKey.
type Containment struct {
	Status      string    `json:"status"`
	AccessKeyID string    `json:"accessKeyId"`
	UserName    string    `json:"userName"`
	KeyStatus   string    `json:"keyStatus,omitempty"`
	At          time.Time `json:"at"`
	// Recorded is true once the ledger holds the containment, so that the
	// tamper watch knows the key; LedgerError says why it does not.
	Recorded    bool   `json:"recorded"`
	LedgerError string `json:"ledgerError,omitempty"`
}

// Revocation is the outcome of RevokeSessions.
type Revocation struct {
	Status   string `json:"status"`
	UserName string `json:"userName"`
	// Method says which way: revokedWith, and policyArn when attached.
	Method
	PolicyName   string    `json:"policyName,omitempty"`
	IssuedBefore time.Time `json:"issuedBefore"`
	// Holds says which sessions are denied and until when; for an
	// attached policy, with the command that lifts it.
	Holds string `json:"holds,omitempty"`
	// Recorded and LedgerError: as for Containment; the tamper watch puts
	// the policy back from the ledger's record.
	Recorded    bool   `json:"recorded"`
	LedgerError string `json:"ledgerError,omitempty"`
}

// ContainLedger records a containment (the ledger's RecordAction).
type ContainLedger interface {
	RecordAction(ctx context.Context, keyID, action string, a ledger.Action) (bool, error)
}

// RevokeLedger records a revocation (the ledger's RecordRevocation).
type RevokeLedger interface {
	RecordRevocation(ctx context.Context, r ledger.Revocation) (bool, error)
}

var (
	_ ContainLedger = (*ledger.Ledger)(nil)
	_ RevokeLedger  = (*ledger.Ledger)(nil)
)

// Removal is the outcome of RemoveKey.
type Removal struct {
	Status      string    `json:"status"`
	Action      string    `json:"action"`
	AccessKeyID string    `json:"accessKeyId"`
	At          time.Time `json:"at"`
}

// OwnerAPI finds which user owns a key.
type OwnerAPI interface {
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
}

// ContainAPI is what ContainKey calls.
type ContainAPI interface {
	UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
}

// RevokeAPI is what RevokeSessions calls: one of the two, per Method.
type RevokeAPI interface {
	PutUserPolicy(ctx context.Context, in *iam.PutUserPolicyInput, optFns ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error)
	AttachUserPolicy(ctx context.Context, in *iam.AttachUserPolicyInput, optFns ...func(*iam.Options)) (*iam.AttachUserPolicyOutput, error)
}

// RemoveAPI is what RemoveKey calls.
type RemoveAPI interface {
	DeleteAccessKey(ctx context.Context, in *iam.DeleteAccessKeyInput, optFns ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
}

var (
	_ OwnerAPI   = (*iam.Client)(nil)
	_ ContainAPI = (*iam.Client)(nil)
	_ RevokeAPI  = (*iam.Client)(nil)
	_ RemoveAPI  = (*iam.Client)(nil)
)

func isAccessDenied(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDenied"
}

// ResolveOwner returns the IAM user that owns the key, or "" when IAM does
// not know the key (deleted, or not of this account). For a key it does not
// know, IAM answers GetAccessKeyLastUsed with AccessDenied ("not authorized
// to perform iam:GetAccessKeyLastUsed on resource: access key …"), not
// NoSuchEntity; both mean unknown here. Were the role itself missing the
// permission, every key would read as unknown: the steps that follow then
// act on the reported user or alert that no owner was found. An owner
// spelt as the root user (event.IsRootName) is returned as
// event.RootUserName, so that every report of a root key reads alike.
func ResolveOwner(ctx context.Context, api OwnerAPI, keyID string) (string, error) {
	out, err := api.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(keyID)})
	if step.IsNoSuchEntity(err) || isAccessDenied(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find the owner of key %s: %w", keyID, err)
	}
	owner := aws.ToString(out.UserName)
	if event.IsRootName(owner) {
		return event.RootUserName, nil
	}
	return owner, nil
}

// FindingHandler reads the event into a finding and makes sure the owner is
// the one IAM knows: Health events do not name the user, and a Trusted
// Advisor report could name one IAM no longer agrees with.
type FindingHandler struct {
	// IAM is the deployment's own IAM, in account mode.
	IAM OwnerAPI
	// Account is the account this deployment acts in (the hub in
	// organization mode). In account mode a finding of another account
	// (Health's organizational view) is returned with ForeignAccount set
	// and no IAM call: this account's IAM cannot answer for it, and the
	// state machine alerts it.
	Account string
	// Organization, when set, is organization mode: the finding's account
	// is judged against the organization's inventory, and the owner is
	// asked of that account's IAM through its read member role.
	Organization member.Accounts
}

// FindingInput is the finding step's input: the execution's event, and
// the execution's name (the member session's name in organization mode).
type FindingInput struct {
	Event     json.RawMessage `json:"event"`
	Execution string          `json:"execution"`
}

// Handle parses the raw EventBridge event (the execution's input).
func (h FindingHandler) Handle(ctx context.Context, in FindingInput) (event.Exposure, error) {
	x, err := event.ParseExposure(in.Event)
	switch {
	case errors.Is(err, event.ErrUnsupported):
		return x, &step.Error{Name: step.UnsupportedEvent, Err: err}
	case err != nil:
		return x, &step.Error{Name: step.InvalidEvent, Err: err}
	}
	owners := h.IAM
	if h.Organization != nil {
		ok, err := h.inScope(ctx, &x)
		if err != nil || !ok {
			return x, err
		}
		if !x.Root {
			cfg, err := h.Organization.Config(ctx, x.Account, member.Read, in.Execution)
			if err != nil {
				return x, err
			}
			owners = iam.NewFromConfig(cfg)
		}
	} else if x.Account != h.Account {
		slog.WarnContext(ctx, "key of another account reported; no IAM call", "accessKeyId", x.AccessKeyID, "account", x.Account,
			"actsIn", h.Account, "receivedIn", x.ReceivedIn, "signal", x.Signal)
		x.ForeignAccount, x.ActsIn = true, h.Account
		return x, nil
	}
	if x.Root {
		slog.InfoContext(ctx, "root key reported", "accessKeyId", x.AccessKeyID, "account", x.Account, "signal", x.Signal)
		return x, nil
	}
	return resolveFindingOwner(ctx, owners, x)
}

// inScope judges the finding's account in organization mode: in scope,
// or marked ForeignAccount with the reason, no role assumed. An event
// delivered in a member account speaks for that account only: the hub
// takes another account from detail.affectedAccount only from its own
// account's AWS Health (the organizational view), so a member cannot
// point the hub at a third account.
func (h FindingHandler) inScope(ctx context.Context, x *event.Exposure) (bool, error) {
	if x.ReceivedIn != "" && x.ReceivedIn != h.Account {
		x.ForeignAccount, x.ActsIn = true, h.Account
		x.OutOfScope = fmt.Sprintf("named by an event from account %s, which may report its own keys only", x.ReceivedIn)
		slog.WarnContext(ctx, "member event names another account; no call made", "accessKeyId", x.AccessKeyID,
			"account", x.Account, "receivedIn", x.ReceivedIn, "signal", x.Signal)
		return false, nil
	}
	d, err := h.Organization.Scope(ctx, x.Account)
	if err != nil {
		return false, err
	}
	x.AccountName = d.Name
	if !d.InScope {
		x.ForeignAccount, x.ActsIn, x.OutOfScope = true, h.Account, string(d.Reason)
		slog.WarnContext(ctx, "key of an account out of scope; no call made", "accessKeyId", x.AccessKeyID,
			"account", x.Account, "reason", d.Reason, "signal", x.Signal)
		return false, nil
	}
	return true, nil
}

// resolveFindingOwner asks IAM (the key's account's) who owns the key,
// and sets the finding's user from the answer.
func resolveFindingOwner(ctx context.Context, owners OwnerAPI, x event.Exposure) (event.Exposure, error) {
	owner, err := ResolveOwner(ctx, owners, x.AccessKeyID)
	if err != nil {
		return x, step.Classify(err)
	}
	if owner == event.RootUserName {
		// A Health report names no user: IAM's answer is the only sign of
		// a root key, and no IAM call can contain one. The root escalation
		// it is, not a containment that would find no such user.
		slog.WarnContext(ctx, "IAM names the root user as the key's owner", "accessKeyId", x.AccessKeyID, "account", x.Account,
			"signal", x.Signal, "reported", x.UserName)
		if x.UserName != "" {
			x.ReportedUserName = x.UserName
		}
		x.Root, x.UserName, x.OwnerVerified = true, event.RootUserName, true
		return x, nil
	}
	switch {
	case owner == "" && x.UserName == "":
		return x, step.Errorf(step.InvalidEvent, "key %s is not known to IAM in account %s and the event names no user", x.AccessKeyID, x.Account)
	case owner != "" && x.UserName != "" && owner != x.UserName:
		slog.WarnContext(ctx, "event names another owner than IAM", "accessKeyId", x.AccessKeyID, "reported", x.UserName, "owner", owner)
		x.ReportedUserName = x.UserName
		x.UserName = owner
	case owner != "":
		x.UserName = owner
	}
	x.OwnerVerified = owner != ""
	slog.InfoContext(ctx, "finding read", "accessKeyId", x.AccessKeyID, "user", x.UserName, "signal", x.Signal, "ownerVerified", x.OwnerVerified)
	return x, nil
}

// ContainHandler deactivates the key, then reads it back. It is the first
// write of the branch; nothing slow runs before it.
type ContainHandler struct {
	IAM ContainAPI
	// Ledger, when set, records the containment (ledger.ActionContain)
	// once the key reads back Inactive: the tamper watch sets the key
	// Inactive again if anyone re-activates it.
	Ledger ContainLedger
	Now    func() time.Time
	// ReadBackAttempts and ReadBackDelay cover IAM's eventual consistency.
	ReadBackAttempts int
	ReadBackDelay    time.Duration
}

// NewContainHandler returns a handler with production read-back timing.
func NewContainHandler(api ContainAPI) ContainHandler {
	return ContainHandler{IAM: api, Now: time.Now, ReadBackAttempts: 5, ReadBackDelay: time.Second}
}

// Handle contains the finding's key, then records the containment. The
// record comes after the deactivation, not before as the ledger's other
// actions do: containment is the branch's first write, and a ledger that
// cannot be written must not keep the key active. A record that fails
// after the SDK's retries is reported in the outcome (and the alert), not
// thrown: the response goes on.
func (h ContainHandler) Handle(ctx context.Context, in Input) (Containment, error) {
	x := in.Finding
	if err := requireUserKey(x); err != nil {
		return Containment{}, err
	}
	c := Containment{AccessKeyID: x.AccessKeyID, UserName: x.UserName}
	var err error
	c.Status, c.KeyStatus, err = Deactivate(ctx, h.IAM, x.UserName, x.AccessKeyID, h.ReadBackAttempts, h.ReadBackDelay)
	c.At = h.Now().UTC()
	if err != nil || c.Status != StatusDeactivated || h.Ledger == nil {
		return c, err
	}
	_, lerr := h.Ledger.RecordAction(ctx, x.AccessKeyID, ledger.ActionContain, ledger.Action{
		User: x.UserName, At: c.At, RunID: in.Execution, Reason: "reported exposed by " + x.Signal,
	})
	if lerr != nil {
		c.LedgerError = lerr.Error()
		slog.ErrorContext(ctx, "containment not recorded in the ledger", "accessKeyId", x.AccessKeyID, "user", x.UserName, "error", lerr.Error())
		return c, nil
	}
	c.Recorded = true
	return c, nil
}

// Deactivate sets a key Inactive and reads it back until it says so: it
// returns StatusDeactivated, or StatusAlreadyGone when IAM has no such key
// (deleted before or between the calls). Used by the exposed-key branch and
// by the daily key-age run.
func Deactivate(ctx context.Context, api ContainAPI, user, keyID string, attempts int, delay time.Duration) (status, readBack string, err error) {
	_, err = api.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String(user), AccessKeyId: aws.String(keyID), Status: types.StatusTypeInactive,
	})
	if step.IsNoSuchEntity(err) {
		slog.InfoContext(ctx, "key already gone", "accessKeyId", keyID, "user", user)
		return StatusAlreadyGone, "", nil
	}
	if err != nil {
		return "", "", step.Classify(fmt.Errorf("deactivate key %s of %s: %w", keyID, user, err))
	}
	for attempt := 1; ; attempt++ {
		ks, err := keyStatus(ctx, api, user, keyID)
		if err != nil {
			return "", "", step.Classify(fmt.Errorf("read back key %s of %s: %w", keyID, user, err))
		}
		switch ks {
		case "":
			// Deleted between the two calls: it cannot be used either way.
			return StatusAlreadyGone, "", nil
		case string(types.StatusTypeInactive):
			slog.InfoContext(ctx, "key deactivated", "accessKeyId", keyID, "user", user, "readBacks", attempt)
			return StatusDeactivated, ks, nil
		}
		if attempt >= attempts {
			return "", ks, step.Errorf(ErrContainmentUnverified, "key %s of %s still reads %s after being set Inactive (%d reads)", keyID, user, ks, attempt)
		}
		if err := clock.Sleep(ctx, delay); err != nil {
			return "", ks, step.Classify(err)
		}
	}
}

// keyStatus returns the key's status, or "" when the user has no such key.
func keyStatus(ctx context.Context, api ContainAPI, user, keyID string) (string, error) {
	p := iam.NewListAccessKeysPaginator(api, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if step.IsNoSuchEntity(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		for _, k := range page.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) == keyID {
				return string(k.Status), nil
			}
		}
	}
	return "", nil
}

// RevokeHandler denies the exposed key's user its sessions, the way
// Method says: an inline deny of sessions issued before now (requests
// signed with long-term keys carry no aws:TokenIssueTime, so the user's
// other keys keep working; temporary credentials the attacker minted with
// the exposed key, GetSessionToken or GetFederationToken, stop), or the
// stack's fixed deny of every temporary session, attached.
type RevokeHandler struct {
	IAM RevokeAPI
	// Method is how to revoke; the zero value is the inline policy.
	Method Method
	// Ledger, when set, records the revocation and its cut-off, from which
	// the tamper watch puts a deleted, changed or detached policy back.
	Ledger RevokeLedger
	Now    func() time.Time
}

// Method is how sessions are revoked: settings.RevokeInlinePolicy (With
// empty means it too) or settings.RevokeAttachedPolicy with PolicyArn.
type Method struct {
	With      string `json:"revokedWith,omitempty"`
	PolicyArn string `json:"policyArn,omitempty"`
}

// Attached reports whether the method attaches the stack's policy.
func (m Method) Attached() bool { return m.With == settings.RevokeAttachedPolicy }

// PolicyName is the name of the policy the method writes or attaches.
func (m Method) PolicyName() string {
	if m.Attached() {
		return m.PolicyArn[strings.LastIndex(m.PolicyArn, "/")+1:]
	}
	return RevokePolicyName
}

// Holds says in one line which sessions the method denies, and until when.
func (m Method) Holds(user string, issuedBefore time.Time) string {
	if m.Attached() {
		return fmt.Sprintf("every temporary session of %s, issued before or after now, is denied until a person detaches the policy: %s",
			user, DetachCommand(user, m.PolicyArn))
	}
	return fmt.Sprintf("sessions of %s issued before %s are denied; sessions issued later work", user, issuedBefore.UTC().Format(time.RFC3339))
}

// DetachCommand is the command that lifts an attached revocation.
func DetachCommand(user, policyArn string) string {
	return fmt.Sprintf("aws iam detach-user-policy --user-name %s --policy-arn %s", user, policyArn)
}

// ErrRevokePolicyLimitExceeded: the user already has as many managed
// policies attached as IAM allows (10 by default), so the deny could not be
// attached. Named so the manual-action alert can say what to do.
const ErrRevokePolicyLimitExceeded = "RevokePolicyLimitExceeded"

// ErrRevokePolicyMissing: IAM has no policy of the configured ARN (deleted
// by hand, or a stack from another account): nothing can be attached.
const ErrRevokePolicyMissing = "RevokePolicyMissing"

// Handle writes or attaches the deny policy. A newer incident overwrites
// the inline policy with a later cut-off, which only denies more; an
// attached policy is attached once, and attaching it again changes
// nothing.
func (h RevokeHandler) Handle(ctx context.Context, in Input) (Revocation, error) {
	x := in.Finding
	if err := requireUserKey(x); err != nil {
		return Revocation{}, err
	}
	now := h.Now().UTC().Truncate(time.Second)
	m := h.Method
	if m.With == "" {
		m.With = settings.RevokeInlinePolicy
	}
	r := Revocation{UserName: x.UserName, Method: m, PolicyName: m.PolicyName(), IssuedBefore: now}
	var err error
	r.Status, err = Revoke(ctx, h.IAM, x.UserName, m, now)
	if err != nil {
		return r, err
	}
	if r.Status == StatusUserGone {
		r.PolicyName, r.PolicyArn = "", ""
		slog.InfoContext(ctx, "user already gone", "user", x.UserName, "accessKeyId", x.AccessKeyID)
		return r, nil
	}
	r.Holds = m.Holds(x.UserName, now)
	slog.InfoContext(ctx, "sessions revoked", "user", x.UserName, "accessKeyId", x.AccessKeyID, "with", m.With,
		"policy", r.PolicyName, "issuedBefore", now)
	if h.Ledger == nil {
		return r, nil
	}
	// As for the containment: recorded after the write, a failure
	// reported rather than thrown.
	if _, err := h.Ledger.RecordRevocation(ctx, ledger.Revocation{
		Account: x.Account, User: x.UserName, KeyID: x.AccessKeyID, IssuedBefore: now, At: h.Now().UTC(), Execution: in.Execution,
		With: m.With, PolicyArn: m.PolicyArn,
	}); err != nil {
		r.LedgerError = err.Error()
		slog.ErrorContext(ctx, "revocation not recorded in the ledger", "user", x.UserName, "accessKeyId", x.AccessKeyID, "error", err.Error())
		return r, nil
	}
	r.Recorded = true
	return r, nil
}

// Revoke denies user's sessions the way m says: it writes the inline
// policy with the cut-off issuedBefore, or attaches m.PolicyArn. It
// returns StatusRevoked, or StatusUserGone when IAM has no such user. The
// revoke step and the tamper watch's restore both call it, so the two
// cannot differ.
func Revoke(ctx context.Context, api RevokeAPI, user string, m Method, issuedBefore time.Time) (string, error) {
	var err error
	if m.Attached() {
		_, err = api.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String(m.PolicyArn)})
	} else {
		_, err = api.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
			UserName: aws.String(user), PolicyName: aws.String(RevokePolicyName),
			PolicyDocument: aws.String(RevokePolicy(issuedBefore)),
		})
	}
	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	switch {
	case err == nil:
		return StatusRevoked, nil
	case code == "NoSuchEntity" && m.Attached() && strings.Contains(apiErr.ErrorMessage(), m.PolicyArn):
		// IAM answers NoSuchEntity for a missing policy too, naming it
		// ("Policy arn:… does not exist or is not attachable."); a
		// missing user is named by name.
		return "", step.Errorf(ErrRevokePolicyMissing, "attach %s to %s: IAM has no such policy (deleted outside the stack?): %w", m.PolicyArn, user, err)
	case code == "NoSuchEntity":
		return StatusUserGone, nil
	case code == "LimitExceeded" && m.Attached():
		return "", step.Errorf(ErrRevokePolicyLimitExceeded,
			"attach %s to %s: the user has as many managed policies attached as IAM allows (10 by default): %w", m.PolicyArn, user, err)
	}
	return "", step.Classify(fmt.Errorf("revoke sessions of %s with %s: %w", user, m.PolicyName(), err))
}

// RevokePolicy is the inline policy document denying sessions issued before t.
func RevokePolicy(t time.Time) string {
	return denyAll("KeywardenDenySessionsIssuedBefore", "DateLessThan", t.UTC().Format(time.RFC3339))
}

// denyAll is a policy document of one statement denying every action on
// every resource when aws:TokenIssueTime meets the condition operator and
// value: the two revoke policies differ only there.
func denyAll(sid, operator, tokenIssueTime string) string {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       sid,
			"Effect":    "Deny",
			"Action":    "*",
			"Resource":  "*",
			"Condition": map[string]any{operator: map[string]string{"aws:TokenIssueTime": tokenIssueTime}},
		}},
	}
	b, _ := json.Marshal(doc) // a map of strings cannot fail to marshal
	return string(b)
}

// AttachedRevokePolicy is the document of the stack's managed deny
// policy: every action of every request signed with temporary credentials
// (aws:TokenIssueTime is present in those alone). IAM accepts no policy
// variable in a date condition, so a fixed document cannot carry an
// incident's time: it denies the user's sessions issued after the
// incident too, until a person detaches it. That includes the user's
// console sign-ins: IAM documents console users among those signing with
// temporary credentials (aws:MultiFactorAuthPresent). Requests signed with
// a long-term access key carry no aws:TokenIssueTime and are not denied;
// role sessions are the role's, not the user's.
func AttachedRevokePolicy() string {
	return denyAll("KeywardenDenyTemporarySessions", "Null", "false")
}

// RemoveHandler deletes the key, or keeps it inactive, per exposedKeyAction.
type RemoveHandler struct {
	IAM    RemoveAPI
	Action string // settings.ActionDelete or settings.ActionDeactivate
	Now    func() time.Time
}

// Handle removes the contained key.
func (h RemoveHandler) Handle(ctx context.Context, in Input) (Removal, error) {
	x := in.Finding
	if err := requireUserKey(x); err != nil {
		return Removal{}, err
	}
	r := Removal{Action: h.Action, AccessKeyID: x.AccessKeyID, At: h.Now().UTC()}
	switch {
	case in.Containment != nil && in.Containment.Status == StatusAlreadyGone:
		r.Status = StatusAlreadyGone
		return r, nil
	case h.Action != settings.ActionDelete:
		r.Status = StatusKeptInactive
		slog.InfoContext(ctx, "key kept inactive", "accessKeyId", x.AccessKeyID, "user", x.UserName)
		return r, nil
	}
	status, err := DeleteKey(ctx, h.IAM, x.UserName, x.AccessKeyID)
	r.Status = status
	return r, err
}

// DeleteKey deletes a key: StatusDeleted, or StatusAlreadyGone when IAM has
// no such key, which is success too.
func DeleteKey(ctx context.Context, api RemoveAPI, user, keyID string) (string, error) {
	_, err := api.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(keyID)})
	if step.IsNoSuchEntity(err) {
		return StatusAlreadyGone, nil
	}
	if err != nil {
		return "", step.Classify(fmt.Errorf("delete key %s of %s: %w", keyID, user, err))
	}
	slog.InfoContext(ctx, "key deleted", "accessKeyId", keyID, "user", user)
	return StatusDeleted, nil
}

// requireUserKey guards the IAM steps against a finding they cannot act on:
// without a user name IAM would act on the caller's own user.
func requireUserKey(x event.Exposure) error {
	switch {
	case x.Root:
		return step.Errorf(step.InvalidEvent, "key %s belongs to the root user; IAM cannot act on it", x.AccessKeyID)
	case x.UserName == "" || x.AccessKeyID == "":
		return step.Errorf(step.InvalidEvent, "finding lacks a user name or key id (user %q, key %q)", x.UserName, x.AccessKeyID)
	}
	return nil
}
