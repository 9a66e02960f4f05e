package intake

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/tamper"
)

// What a tamper execution's name says the call touched, besides a key id.
const (
	tamperWhatPolicy = "revoke-policy"
	tamperWhatTags   = "tags"
)

// Bounds of the parts of a tamper execution's name: the event id is a
// CloudTrail UUID (36 characters), the subject a key id (20) or one of
// the words above.
const (
	maxTamperEventID = 36
	maxTamperWhat    = 24
)

// TamperName names the execution for a tamper-watch call:
// tamper-<user>-<key id, revoke-policy or tags>-<event id>, the user
// shortened so that the rest fits in Step Functions' 80 characters. Named
// after the CloudTrail event, so a redelivered event is a duplicate, and
// two calls on one key are two responses.
func TamperName(c event.IAMCall) string {
	what := c.AccessKeyID
	switch c.EventName {
	case event.EventNamePutUserPolicy, event.EventNameDeleteUserPolicy, event.EventNameDetachUserPolicy:
		what = tamperWhatPolicy
	case event.EventNameTagUser, event.EventNameUntagUser:
		what = tamperWhatTags
	}
	what, id := sanitize(what), sanitize(c.EventID)
	if len(what) > maxTamperWhat {
		what = what[:maxTamperWhat]
	}
	if len(id) > maxTamperEventID {
		id = id[:maxTamperEventID]
	}
	user := sanitize(c.User)
	room := maxName - len("tamper-") - len(what) - len(id) - 2
	if len(user) > room {
		user = user[:room]
	}
	return "tamper-" + user + "-" + what + "-" + id
}

// tamperCall reads a CloudTrail event of a call the tamper branch answers
// (event.TamperEventNames; CreateAccessKey goes to the creation record,
// which checks it after recording). ok is false for any other event.
func tamperCall(env event.Envelope) (c event.IAMCall, ok bool, err error) {
	if !env.IsKeyCreation() {
		return c, false, nil
	}
	var d struct {
		EventName string `json:"eventName"`
	}
	if json.Unmarshal(env.Detail, &d) != nil || !event.IsTamperEventName(d.EventName) {
		return c, false, nil
	}
	c, err = env.IAMCall()
	return c, true, err
}

// tamperPlan names the execution of a tamper-watch event: tamper-…, or
// invalid-<event id> for a record the tamper branch will refuse (with an
// alert). ok is false for any other event.
func tamperPlan(env event.Envelope, raw json.RawMessage) (name string, ok bool) {
	c, ok, err := tamperCall(env)
	switch {
	case !ok:
		return "", false
	case err != nil:
		return OtherName("invalid", env.ID, raw), true
	}
	return TamperName(c), true
}

// ownWrite tells whether raw is keywarden's own write of a call the tamper
// branch answers (its revoke step's policy, the tamper branch putting it
// back): no execution is started for it, and name is the one it would
// have had. keywarden's roles come from the environment; without them
// nothing is skipped here, and the tamper function, which requires them,
// decides.
func (h Handler) ownWrite(raw json.RawMessage) (name, role string, own bool) {
	if len(h.OwnRoles) == 0 {
		return "", "", false
	}
	env, err := event.ParseEnvelope(raw)
	if err != nil {
		return "", "", false
	}
	c, ok, err := tamperCall(env)
	if !ok || err != nil {
		return "", "", false
	}
	if role, own = tamper.OwnWrite(c.Caller, h.OwnRoles); !own {
		return "", "", false
	}
	return TamperName(c), role, true
}

// ignoreOwnWrite answers keywarden's own writes without an execution.
func (h Handler) ignoreOwnWrite(ctx context.Context, raw json.RawMessage) (Result, bool) {
	name, role, own := h.ownWrite(raw)
	if !own {
		return Result{}, false
	}
	slog.InfoContext(ctx, "keywarden's own write: no tamper execution", "execution", name, "role", role)
	return Result{Execution: Execution{Name: name}, Ignored: "keywarden's own write, from its role " + role}, true
}
