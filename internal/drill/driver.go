package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/localaws"
)

// Driver is what a scenario uses to act.
type Driver struct {
	st      *stack
	root    string
	outcome *Outcome
	marks   map[string]mark
}

// mark is what had happened at a point of the scenario.
type mark struct{ published, emails, iamWrites int }

// Mark remembers what has happened so far, for NothingNewSince.
func (d *Driver) Mark(name string) {
	if d.marks == nil {
		d.marks = map[string]mark{}
	}
	d.marks[name] = d.st.counts()
}

func (st *stack) counts() mark {
	m := mark{published: len(st.aws.Published()), emails: len(st.aws.Emails())}
	for _, c := range st.aws.Calls() {
		if c.Service == "iam" && iamWrites[c.Operation] {
			m.iamWrites++
		}
	}
	return m
}

// Tag sets a tag on a user, as an administrator would: for values that
// depend on the drill's date, such as an exemption's end.
func (d *Driver) Tag(ctx context.Context, user, key, value string) error {
	// The administrator's set-up is not under test: give it room to get
	// through injected throttling.
	cfg := d.st.cfg.Copy()
	cfg.RetryMaxAttempts = 10
	_, err := iam.NewFromConfig(cfg).TagUser(ctx, &iam.TagUserInput{UserName: aws.String(user), Tags: []iamtypes.Tag{{Key: aws.String(key), Value: aws.String(value)}}})
	return err
}

// Advance moves the emulated account's clock, and with it every handler's,
// forward: "seven days later" in a drill.
func (d *Driver) Advance(by time.Duration) { d.st.aws.Advance(by) }

// Now is the emulated account's clock.
func (d *Driver) Now() time.Time { return d.st.aws.Now() }

// Put sends a put-events file.
func (d *Driver) Put(ctx context.Context, file string) error {
	res, err := d.st.put(ctx, d.root, file)
	d.outcome.Puts = append(d.outcome.Puts, res)
	return err
}

// Deliver sends a raw event file (an AWS service's event) through the rules.
func (d *Driver) Deliver(ctx context.Context, file string) error {
	raw, err := os.ReadFile(filepath.Join(d.root, file))
	if err != nil {
		return err
	}
	matches, err := d.st.deliver(ctx, raw)
	d.outcome.Puts = append(d.outcome.Puts, PutResult{File: file + " (delivered as from AWS)", Matches: matches})
	return err
}

// StartDirect starts an execution with a raw event file, bypassing the
// rules, as an operator would from the console; with no file, with the
// input of the first execution.
func (d *Driver) StartDirect(ctx context.Context, name, file string) error {
	var raw []byte
	var err error
	if file == "" {
		raw, err = d.st.firstInput()
		file = "the first execution's input"
	} else {
		raw, err = os.ReadFile(filepath.Join(d.root, file))
	}
	if err != nil {
		return err
	}
	d.outcome.Puts = append(d.outcome.Puts, PutResult{File: file + " (StartExecution " + name + ", no rule)"})
	return d.st.startDirect(ctx, name, raw)
}

// put sends a put-events entries file through EventBridge and waits for the
// executions it started.
func (st *stack) put(ctx context.Context, root, file string) (PutResult, error) {
	res := PutResult{File: file}
	raw, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		return res, err
	}
	entries, err := event.ReadEntries(raw)
	if err != nil {
		return res, fmt.Errorf("%s: %w", file, err)
	}
	return st.putEntries(ctx, file, entries)
}

// putEntries sends put-events entries through EventBridge and waits for the
// executions they started; file names them in the result.
func (st *stack) putEntries(ctx context.Context, file string, entries []event.Entry) (PutResult, error) {
	res := PutResult{File: file}
	in := &eventbridge.PutEventsInput{}
	for _, e := range entries {
		entry := ebtypes.PutEventsRequestEntry{Source: aws.String(e.Source), DetailType: aws.String(e.DetailType), Detail: aws.String(e.Detail), Resources: e.Resources}
		if e.Time != "" {
			t, _ := time.Parse(time.RFC3339, e.Time)
			entry.Time = aws.Time(t)
		}
		in.Entries = append(in.Entries, entry)
	}
	before := len(st.matched)
	out, err := eventbridge.NewFromConfig(st.cfg).PutEvents(ctx, in)
	if err != nil {
		return res, fmt.Errorf("put-events %s: %w", file, err)
	}
	res.FailedEntries = int(out.FailedEntryCount)
	res.EntryErrors = entryErrors(out.Entries)
	if err := st.sfn.Wait(); err != nil {
		return res, err
	}
	res.Matches = append(res.Matches, st.matched[before:]...)
	return res, nil
}

// entryErrors are the put-events entries EventBridge rejected, as
// "code: message".
func entryErrors(entries []ebtypes.PutEventsResultEntry) []string {
	var out []string
	for _, e := range entries {
		if e.ErrorCode != nil {
			out = append(out, aws.ToString(e.ErrorCode)+": "+aws.ToString(e.ErrorMessage))
		}
	}
	return out
}

// deliver hands a raw event to the rules as EventBridge delivers an AWS
// service's event: AWS's own sources (aws.health, aws.trustedadvisor) cannot
// be sent with PutEvents, in AWS or in localaws.
//
// In organization mode the event arrives, as in AWS, on the default bus of
// the account its envelope names, whose rules (a member's forwarding
// rules, the hub's own) take it from there.
func (st *stack) deliver(ctx context.Context, raw []byte) ([]matchRecord, error) {
	before := len(st.matched)
	if st.org != nil {
		var env struct {
			Account string `json:"account"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			return nil, fmt.Errorf("the event is not a JSON envelope: %w", err)
		}
		srv := st.account(env.Account)
		if srv == nil {
			return nil, fmt.Errorf("the event is of account %q, which the drill organization does not hold", env.Account)
		}
		seen := len(srv.Deliveries())
		if err := srv.DeliverEvent(ctx, "default", raw); err != nil {
			return nil, err
		}
		if srv != st.aws {
			// A member's rules only forward: a refused forward is the
			// drill's set-up failing, not keywarden.
			for _, d := range srv.Deliveries()[seen:] {
				if d.Err != "" {
					return nil, fmt.Errorf("rule %s of account %s: %s", d.Rule, env.Account, d.Err)
				}
			}
		}
		if err := st.sfn.Wait(); err != nil {
			return nil, err
		}
		return st.matched[before:], nil
	}
	for _, r := range st.rules {
		ok, err := localaws.MatchesPattern(r.Pattern, raw)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.LogicalID, err)
		}
		if ok {
			_ = st.targets[r.LogicalID](ctx, raw) // recorded in st.matched
		}
	}
	if err := st.sfn.Wait(); err != nil {
		return nil, err
	}
	return st.matched[before:], nil
}

// startDirect starts an execution without EventBridge, as an operator
// would from the console, for input no rule would deliver.
func (st *stack) startDirect(ctx context.Context, name string, input []byte) error {
	_, err := sfn.NewFromConfig(st.cfg).StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(st.machine), Name: aws.String(name), Input: aws.String(string(input)),
	})
	if err != nil {
		return err
	}
	return st.sfn.Wait()
}

func (st *stack) firstInput() ([]byte, error) {
	execs := st.sfn.Executions()
	if len(execs) == 0 {
		return nil, fmt.Errorf("no execution to take the input from")
	}
	return execs[0].Input, nil
}
