// Package intake is the EventBridge rules' target. It names an execution
// after what the event is about — exposed-<user>-<key> (in organization
// mode exposed-<account>-<user>-<key>), daily-<date>,
// created-<user>-<key>, foreign-<account>-<key>, notice-<code>-<account>-…
// — and starts it; a Health event listing several keys starts one per key. Step Functions refuses a
// second execution of the same name for 90 days after the first closes
// (ExecutionAlreadyExists), so a key reported twice - by Trusted Advisor and
// by Health, or by one event delivered twice - gets one response: the name
// is the deduplication key, and the console list reads as kind, user, key.
package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/step"
)

// StartAPI is what intake calls on Step Functions.
type StartAPI interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, optFns ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// RecentExecutions bounds how many of the newest executions intake reads
// when it must find an earlier response to a key by its id alone.
const RecentExecutions = 1000

var _ StartAPI = (*sfn.Client)(nil)

// Handler starts one execution per incident.
type Handler struct {
	SFN             StartAPI
	IAM             exposure.OwnerAPI
	StateMachineArn string
	// Account is the account this deployment acts in. A key an event puts
	// in another account (Health's organizational view) is never looked up
	// in this account's IAM: its execution is named foreign-<account>-<key>
	// and alerts.
	Account string
	// OwnRoles are keywarden's roles that write to IAM: their writes of
	// calls the tamper branch answers start no execution (OwnWrite).
	OwnRoles []string
	// Organization, when set, is organization mode: an exposure is named
	// exposed-<account>-<user>-<key>, its owner asked of the account's
	// IAM through the read member role, and an account out of scope gets
	// foreign-<account>-<key> with no role assumed. IAM is then unused.
	Organization member.Accounts
}

// Execution is one execution an event started, or found already started.
type Execution struct {
	Name         string `json:"name"`
	ExecutionArn string `json:"executionArn,omitempty"`
	Duplicate    bool   `json:"duplicate"`
	// Taken is the execution that held the name without being a response
	// to this key (see Handle); the response then runs under Name.
	Taken string `json:"taken,omitempty"`
}

// Result says which executions the event started, or that they were
// duplicates. Most events start one: its fields are the first execution's,
// and Duplicate is true only when every execution was a duplicate. A Health
// event listing several keys starts one per key: Executions lists them all.
type Result struct {
	Execution
	Executions []Execution `json:"executions"`
	// Ignored says why no execution was started: keywarden's own write of
	// a call the tamper branch answers (Name is the one it would have had).
	Ignored string `json:"ignored,omitempty"`
}

// Handle names and starts the executions for an EventBridge event. Events
// intake cannot read still start an execution, which fails with a named
// error and alerts: nothing delivered is dropped silently. If starting one
// of several fails, Handle returns the error: Lambda's retry starts the
// rest, and those already started are duplicates.
func (h Handler) Handle(ctx context.Context, raw json.RawMessage) (Result, error) {
	if res, own := h.ignoreOwnWrite(ctx, raw); own {
		return res, nil
	}
	plans, err := h.plan(ctx, raw)
	if err != nil {
		return Result{}, err
	}
	var res Result
	for _, p := range plans {
		ex, err := h.startOne(ctx, p)
		if err != nil {
			return res, err
		}
		res.Executions = append(res.Executions, ex)
	}
	res.Execution = res.Executions[0]
	for _, ex := range res.Executions {
		res.Duplicate = res.Duplicate && ex.Duplicate
	}
	return res, nil
}

// planned is one execution to start: its name and input.
type planned struct {
	name  string
	input json.RawMessage
}

// startOne starts one planned execution. When the name is taken by an
// exposure report's execution, it makes sure what holds it is a response to
// the same key: anyone allowed to start executions could otherwise take
// exposed-<user>-<key> first, with a harmless input, and the real report
// would be dropped as its duplicate.
func (h Handler) startOne(ctx context.Context, p planned) (Execution, error) {
	name, input := p.name, p.input
	res, exists, err := h.start(ctx, name, input)
	if err != nil || !exists {
		return res, err
	}
	x, isExposure := exposureOf(input)
	same := true
	if isExposure {
		if same, err = h.respondsTo(ctx, name, x.AccessKeyID); err != nil {
			return res, err
		}
	}
	if same {
		res.Duplicate = true
		slog.InfoContext(ctx, "duplicate event: execution exists", "execution", name)
		return res, nil
	}
	// Deterministic, so a redelivery of this event is still a duplicate.
	sum := sha256.Sum256(input)
	alt := name
	if len(alt) > maxName-9 {
		alt = alt[:maxName-9]
	}
	alt += "-" + hex.EncodeToString(sum[:4])
	slog.WarnContext(ctx, "execution name taken by an execution that is not a response to this key; responding under another name",
		"taken", name, "execution", alt, "accessKeyId", x.AccessKeyID)
	res, exists, err = h.start(ctx, alt, input)
	res.Taken = name
	if exists {
		res.Duplicate = true
	}
	return res, err
}

// start starts the execution; exists reports that the name was taken.
func (h Handler) start(ctx context.Context, name string, input json.RawMessage) (res Execution, exists bool, err error) {
	res = Execution{Name: name}
	out, err := h.SFN.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(h.StateMachineArn), Name: aws.String(name), Input: aws.String(string(input)),
	})
	var taken *sfntypes.ExecutionAlreadyExists
	if errors.As(err, &taken) {
		return res, true, nil
	}
	if err != nil {
		return res, false, step.Classify(fmt.Errorf("start execution %s: %w", name, err))
	}
	res.ExecutionArn = aws.ToString(out.ExecutionArn)
	slog.InfoContext(ctx, "execution started", "execution", name, "executionArn", res.ExecutionArn)
	return res, false, nil
}

// exposureOf reads an exposure report (Trusted Advisor or Health, root
// included); false for every other event.
func exposureOf(raw json.RawMessage) (event.Exposure, bool) {
	env, err := event.ParseEnvelope(raw)
	if err != nil || env.IsScheduled() || env.IsKeyCreation() {
		return event.Exposure{}, false
	}
	x, err := env.Exposure()
	if err != nil || x.AccessKeyID == "" {
		return event.Exposure{}, false
	}
	return x, true
}

// respondsTo tells whether execution name's input is an exposure report of
// keyID, i.e. whether it is this report's response.
func (h Handler) respondsTo(ctx context.Context, name, keyID string) (bool, error) {
	arn := strings.Replace(h.StateMachineArn, ":stateMachine:", ":execution:", 1) + ":" + name
	out, err := h.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return false, step.Classify(fmt.Errorf("read execution %s, which holds this report's name: %w", name, err))
	}
	x, ok := exposureOf(json.RawMessage(aws.ToString(out.Input)))
	return ok && x.AccessKeyID == keyID, nil
}

// plan names the executions an event starts, with their inputs.
func (h Handler) plan(ctx context.Context, raw json.RawMessage) ([]planned, error) {
	one := func(name string) []planned { return []planned{{name, executionInput(raw)}} }
	env, err := event.ParseEnvelope(raw)
	if err != nil {
		return one(OtherName("invalid", "", raw)), nil
	}
	if env.IsScheduled() {
		if env.Time.IsZero() {
			return one(OtherName("invalid", env.ID, raw)), nil
		}
		// One run per day: the schedule firing twice starts one execution.
		return one("daily-" + env.Time.UTC().Format("2006-01-02")), nil
	}
	if name, ok := tamperPlan(env, raw); ok {
		// One response per CloudTrail event (tamper-…).
		return one(name), nil
	}
	if env.IsKeyCreation() {
		kc, err := env.KeyCreation()
		switch {
		case err != nil:
			return one(OtherName("invalid", env.ID, raw)), nil
		case kc.Failed || kc.KeyID == "":
			return one(OtherName("created-failed", env.ID, raw)), nil
		}
		// One record per key: a redelivered event is a duplicate.
		return one(kindName("created", kc.User, kc.KeyID)), nil
	}
	if env.IsHealthNotice() {
		// Named after the event, not the delivery: the same notice from
		// the backup region is a duplicate.
		return one(noticeName(env)), nil
	}
	if keys, ok := env.HealthKeys(); ok && len(keys) > 0 {
		return h.planHealthKeys(ctx, env, raw, keys)
	}
	x, err := env.Exposure()
	if err != nil {
		return one(OtherName("invalid", env.ID, raw)), nil
	}
	name, err := h.exposureName(ctx, x)
	if err != nil {
		return nil, err
	}
	return one(name), nil
}

// planHealthKeys plans one execution per key of a Health event, up to
// event.MaxKeysPerEvent, each input naming its key (event.EntityField).
// Past the bound, one more execution with the event as delivered fails
// with InvalidEvent and alerts, naming the keys left without a response.
// An entity that is no key id gets its own execution too, which fails and
// alerts: none is dropped.
func (h Handler) planHealthKeys(ctx context.Context, env event.Envelope, raw json.RawMessage, keys []string) ([]planned, error) {
	var plans []planned
	for _, key := range keys[:min(len(keys), event.MaxKeysPerEvent)] {
		input, err := event.WithEntity(raw, key)
		if err != nil {
			return nil, fmt.Errorf("name the execution for entity %s: %w", key, err)
		}
		x, err := event.ParseExposure(input)
		if err != nil {
			// Named after the event and entity, not the delivery.
			plans = append(plans, planned{OtherName("invalid", "", []byte(env.HealthIdentity()+"|"+key)), input})
			continue
		}
		name, err := h.exposureName(ctx, x)
		if err != nil {
			return nil, err
		}
		plans = append(plans, planned{name, input})
	}
	if len(keys) > event.MaxKeysPerEvent {
		slog.WarnContext(ctx, "Health event lists more keys than answered per event", "keys", len(keys), "bound", event.MaxKeysPerEvent)
		plans = append(plans, planned{OtherName("too-many-keys", "", []byte(env.HealthIdentity())), executionInput(raw)})
	}
	return plans, nil
}

// exposureName names the execution for an exposure report.
func (h Handler) exposureName(ctx context.Context, x event.Exposure) (string, error) {
	if h.Organization != nil {
		return h.memberExposureName(ctx, x)
	}
	if h.Account != "" && x.Account != h.Account {
		// Not this deployment's account: no IAM call here can be about
		// the key. One execution per account and key.
		return kindName("foreign", x.Account, x.AccessKeyID), nil
	}
	if x.Root {
		return ExposedName("root", x.AccessKeyID), nil
	}
	return h.ownerName(ctx, h.IAM, "", x)
}

// memberExposureName names an exposure in organization mode:
// exposed-<account>-<user>-<key>, with the owner as the account's IAM
// knows it (asked through the read member role, the session named
// intake-<account>-<key>), or foreign-<account>-<key> for an account the
// hub may not act in. When the owner cannot be asked (the role is not
// deployed, Organizations cannot be read) the execution still starts,
// named after the reported user, and its finding step fails with the
// named error and alerts: the report is not lost.
func (h Handler) memberExposureName(ctx context.Context, x event.Exposure) (string, error) {
	if x.ReceivedIn != "" && x.ReceivedIn != h.Account {
		// A member's event speaks for its own account only (see
		// exposure.FindingHandler): refused by the execution.
		return kindName("foreign", x.Account, x.AccessKeyID), nil
	}
	d, err := h.Organization.Scope(ctx, x.Account)
	switch {
	case err != nil:
		return h.reportedName(ctx, x, "the organization could not be read", err), nil
	case !d.InScope:
		return kindName("foreign", x.Account, x.AccessKeyID), nil
	case x.Root:
		return ExposedName(x.Account+"-root", x.AccessKeyID), nil
	}
	cfg, err := h.Organization.Config(ctx, x.Account, member.Read, kindName("intake", x.Account, x.AccessKeyID))
	if err != nil {
		return h.reportedName(ctx, x, "the owner could not be asked in the member account", err), nil
	}
	return h.ownerName(ctx, iam.NewFromConfig(cfg), x.Account+"-", x)
}

// reportedName is exposed-<account>-<reported user or unknown>-<key>,
// for a report whose owner could not be asked.
func (h Handler) reportedName(ctx context.Context, x event.Exposure, why string, err error) string {
	user := x.UserName
	if user == "" {
		user = "unknown"
	}
	slog.WarnContext(ctx, why+"; the execution is named after the reported user and will fail with the cause",
		"accessKeyId", x.AccessKeyID, "account", x.Account, "error", err.Error())
	return ExposedName(x.Account+"-"+user, x.AccessKeyID)
}

// ownerName is exposed-<prefix><owner>-<key>: by the key's owner as IAM
// knows it, so that Health (which names no user) and Trusted Advisor
// reports of one key share a name.
func (h Handler) ownerName(ctx context.Context, owners exposure.OwnerAPI, prefix string, x event.Exposure) (string, error) {
	owner, err := exposure.ResolveOwner(ctx, owners, x.AccessKeyID)
	if err != nil {
		return "", step.Classify(err)
	}
	if owner == "" {
		owner = x.UserName
	}
	if owner == "" {
		// IAM no longer knows the key and the event (Health) names no
		// user: most likely an earlier execution already deleted it. Reuse
		// that execution's name so this report is its duplicate.
		earlier, err := h.earlierExecution(ctx, x.AccessKeyID)
		if err != nil {
			return "", err
		}
		if earlier != "" {
			return earlier, nil
		}
		owner = "unknown"
	}
	return ExposedName(prefix+owner, x.AccessKeyID), nil
}

// noticeName is notice-<code>-<account>-<hash of the event's identity>.
func noticeName(env event.Envelope) string {
	n, _ := env.HealthNotice()
	code := strings.TrimPrefix(n.EventTypeCode, "AWS_RISK_")
	if len(code) > 30 {
		code = code[:30]
	}
	sum := sha256.Sum256([]byte(env.HealthIdentity()))
	return "notice-" + sanitize(code) + "-" + sanitize(truncate(n.Account, 12)) + "-" + hex.EncodeToString(sum[:4])
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// earlierExecution returns the name of a recent exposed-key execution for
// the key, or "".
func (h Handler) earlierExecution(ctx context.Context, keyID string) (string, error) {
	suffix := "-" + sanitize(keyID)
	p := sfn.NewListExecutionsPaginator(h.SFN, &sfn.ListExecutionsInput{StateMachineArn: aws.String(h.StateMachineArn), MaxResults: 100})
	for read := 0; p.HasMorePages() && read < RecentExecutions; {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", step.Classify(fmt.Errorf("list executions to find an earlier response to key %s: %w", keyID, err))
		}
		for _, e := range page.Executions {
			name := aws.ToString(e.Name)
			if strings.HasPrefix(name, "exposed-") && strings.HasSuffix(name, suffix) {
				return name, nil
			}
		}
		read += len(page.Executions)
	}
	return "", nil
}

// maxInvalidInput bounds how much of an unreadable payload is kept.
const maxInvalidInput = 4096

// executionInput is the event as delivered when it is a JSON object, as
// EventBridge always delivers. Anything else (a hand-made payload) is kept,
// cut short, as a string in an object, so the state machine's paths work
// and the Choice routes it to the unsupported-event alert.
func executionInput(raw json.RawMessage) json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil && obj != nil {
		return raw
	}
	kept := string(raw)
	if len(kept) > maxInvalidInput {
		kept = kept[:maxInvalidInput]
	}
	b, _ := json.Marshal(map[string]string{"detail-type": "(not a JSON object)", "invalidInput": kept})
	return b
}

// maxName is Step Functions' limit on execution names.
const maxName = 80

// ExposedName is the execution name for an exposed key:
// exposed-<user>-<key id>, the user shortened so the key id always fits.
func ExposedName(user, keyID string) string { return kindName("exposed", user, keyID) }

// kindName is <kind>-<user>-<key id> within Step Functions' 80 characters.
func kindName(kind, user, keyID string) string {
	keyID = sanitize(keyID)
	if len(keyID) > 40 {
		keyID = keyID[:40]
	}
	room := maxName - len(kind) - 2 - len(keyID)
	user = sanitize(user)
	if len(user) > room {
		user = user[:room]
	}
	return kind + "-" + user + "-" + keyID
}

// OtherName names an execution for an event intake could not read:
// <kind>-<event id>, or a hash of the payload when there is no id, so the
// same payload delivered twice still gets one execution.
func OtherName(kind, eventID string, raw []byte) string {
	id := sanitize(eventID)
	if id == "" {
		sum := sha256.Sum256(raw)
		id = hex.EncodeToString(sum[:16])
	}
	name := kind + "-" + id
	if len(name) > maxName {
		name = name[:maxName]
	}
	return name
}

// sanitize keeps the characters execution names may hold and that read
// well: letters, digits and - _ . + = @. IAM user names may also hold a
// comma, which execution names may not.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		case strings.ContainsRune("-_.+=@", r):
			return r
		}
		return '_'
	}, s)
}
