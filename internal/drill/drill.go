// Package drill runs keywarden's drill scenarios: mock events sent through
// the EventBridge rule patterns of the synthesized template, the executions
// they start followed as the Step Functions console shows them, and each
// scenario's expected outcome checked.
//
// Offline (Run), everything runs on this machine: internal/localaws plays
// the AWS account, hosting the real Lambda handlers behind its Invoke API,
// and internal/sfnlocal runs the statemachine/ definition in
// aws-local-stepfunctions. Against a real account (RunAWS), the same payloads
// go to EventBridge and the same timeline is read from the execution history.
package drill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/all"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/sfnlocal"
	"github.com/keywarden/keywarden/statemachine"
)

// Options configure an offline drill.
type Options struct {
	// Root is the keywarden checkout: events/, .tools/ and cdk.out/ are
	// found under it.
	Root string
	// Template is the synthesized template whose rule patterns are used;
	// default cdk.out/Keywarden.template.json under Root.
	Template string
	// Fixture seeds the demo account; default events/demo-account.json.
	Fixture string
	// Only runs the named scenarios; all when empty.
	Only []string
	// Faults are injected into every scenario, keyed as localaws.SetFault.
	Faults map[string]localaws.Fault
	// Seed makes fault injection repeatable.
	Seed uint64
	// Audit, when set, is called at the end of each scenario with the
	// secret access keys the account ever held and everything the scenario
	// produced, by kind: for the test that no secret leaks. Nothing else
	// should set it.
	Audit func(scenario string, secrets []string, produced map[string][]byte)
}

func (o Options) path(p, def string) string {
	if p == "" {
		p = def
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(o.Root, p)
}

// intakeAttempts is Lambda's asynchronous invocation: the first attempt
// and the two retries infra configures.
const intakeAttempts = 3

// Names used in the drill account.
const (
	stateMachineName = "Keywarden"
	topicName        = "keywarden-alerts"
	ledgerTable      = "keywarden-ledger"
)

// stack is one scenario's private AWS: a fresh account, so scenarios do not
// see each other's changes.
type stack struct {
	aws     *localaws.Server
	sfn     *sfnlocal.Service
	front   *httptest.Server
	cfg     aws.Config
	topic   string
	machine string
	rules   []Rule
	targets map[string]func(ctx context.Context, ev []byte) error
	intake  lambda.Handler
	// matched records, per event delivered, the rules it matched.
	matched []matchRecord
}

type matchRecord struct {
	Rule      string
	Execution string
	Duplicate bool
	Error     string
}

func newStack(ctx context.Context, o Options, faults map[string]localaws.Fault, overrides map[string]string) (*stack, error) {
	tools, err := sfnlocal.FindTools(o.Root)
	if err != nil {
		return nil, err
	}
	rules, err := RulesFromTemplate(o.path(o.Template, "cdk.out/Keywarden.template.json"))
	if err != nil {
		return nil, err
	}
	srv, fixture, err := localaws.NewSeeded(o.path(o.Fixture, "events/demo-account.json"), localaws.Options{Seed: o.Seed})
	if err != nil {
		return nil, fmt.Errorf("the demo account: %w", err)
	}
	st := &stack{aws: srv, rules: rules}
	// One endpoint for everything: Step Functions calls go to the local
	// interpreter's API, the rest to localaws.
	st.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Authorization"), "/states/aws4_request") {
			st.sfn.ServeHTTP(w, r)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	st.cfg = srv.SDKConfig()
	st.cfg.BaseEndpoint = aws.String(st.front.URL)

	st.machine = fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", srv.Region(), srv.AccountID(), stateMachineName)
	topic, err := sns.NewFromConfig(st.cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(topicName)})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("create the alert topic: %w", err)
	}
	st.topic = aws.ToString(topic.TopicArn)

	// The ledger table as the stack declares it.
	if err := srv.CreateDynamoDBTable(localaws.DynamoDBTable{Name: ledgerTable, PartitionKey: "pk", SortKey: "sk"}); err != nil {
		st.Close()
		return nil, err
	}
	envs, err := FunctionEnvironments(o.path(o.Template, "cdk.out/Keywarden.template.json"))
	if err != nil {
		st.Close()
		return nil, err
	}
	// What the template gives as references, the drill gives as its own.
	local := map[string]string{
		settings.EnvStateMachineArn: st.machine,
		settings.EnvAlertTopicArn:   st.topic,
		settings.EnvActivityRegions: strings.Join(fixture.ActivityRegions(), ","),
		settings.EnvLedgerTable:     ledgerTable,
		settings.EnvAccount:         srv.AccountID(),
		settings.EnvConsoleRegion:   srv.Region(),
		settings.EnvPartition:       "aws",
		// localaws does not emulate KMS; the secret records the key's ARN.
		settings.EnvRotationKMSKey: fmt.Sprintf("arn:aws:kms:%s:%s:key/00000000-0000-4000-8000-000000000001", srv.Region(), srv.AccountID()),
		settings.EnvRotationWriter: fmt.Sprintf("arn:aws:iam::%s:role/keywarden-ActFunctionRole", srv.AccountID()),
	}
	placeholders := map[string]string{}
	var intakeEnv settings.Lookup
	for _, name := range lambdafn.Names {
		env := map[string]string{}
		for k, v := range envs[name] {
			if v == Ref {
				lv, ok := local[k]
				if !ok {
					st.Close()
					return nil, fmt.Errorf("the template gives the %s function's %s as a reference, and the drill has no local value for it", name, k)
				}
				v = lv
			}
			env[k] = v
		}
		for k, v := range overrides {
			env[k] = v
		}
		lookup := settings.Lookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if name == lambdafn.Intake {
			intakeEnv = lookup
		}
		h, err := all.New(name, st.cfg, lookup, srv.Now)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("build the %s handler: %w", name, err)
		}
		fn := "keywarden-" + name
		if err := srv.RegisterFunction(fn, h.Invoke); err != nil {
			st.Close()
			return nil, err
		}
		id := strings.ToUpper(name[:1]) + name[1:] + "FunctionArn"
		placeholders[id] = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", srv.Region(), srv.AccountID(), fn)
	}
	// The definition names only the step functions, not intake.
	delete(placeholders, "IntakeFunctionArn")
	def, err := statemachine.Render(placeholders)
	if err != nil {
		st.Close()
		return nil, err
	}
	st.sfn = &sfnlocal.Service{
		StateMachineArn: st.machine,
		Runner: sfnlocal.Runner{Node: tools.Node, Module: tools.Module, Definition: def,
			Region: srv.Region(), LambdaEndpoint: st.front.URL,
			AccessKeyID: localaws.TestAccessKeyID, SecretAccessKey: localaws.TestSecretAccessKey},
	}
	intake, err := all.New(lambdafn.Intake, st.cfg, intakeEnv, srv.Now)
	if err != nil {
		st.Close()
		return nil, err
	}
	st.intake = intake
	st.targets = map[string]func(ctx context.Context, ev []byte) error{}
	for _, r := range rules {
		rule := r
		target := func(ctx context.Context, ev []byte) error {
			// EventBridge invokes the intake asynchronously; Lambda retries
			// a failed invocation twice (retryAttempts in infra), then sends
			// the event to the dead-letter queue.
			rec := matchRecord{Rule: rule.LogicalID}
			var out []byte
			var err error
			for attempt := 1; attempt <= intakeAttempts; attempt++ {
				if out, err = intake.Invoke(ctx, ev); err == nil {
					break
				}
			}
			var res struct {
				Name      string `json:"name"`
				Duplicate bool   `json:"duplicate"`
			}
			if err != nil {
				rec.Error = fmt.Sprintf("%s after %d attempts, sent to the dead-letter queue: %v", lambdafn.ErrorType(err), intakeAttempts, err)
			} else if json.Unmarshal(out, &res) == nil {
				rec.Execution, rec.Duplicate = res.Name, res.Duplicate
			}
			st.matched = append(st.matched, rec)
			return err
		}
		st.targets[rule.LogicalID] = target
		if err := srv.AddRule(rule.LogicalID, rule.Pattern, target); err != nil {
			st.Close()
			return nil, fmt.Errorf("rule %s: %w", rule.LogicalID, err)
		}
	}
	// Faults start after set-up, so only the scenario meets them.
	for key, f := range faults {
		if err := srv.SetFault(key, f); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}

func (st *stack) Close() {
	if st.front != nil {
		st.front.Close()
	}
	_ = st.aws.Close()
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
	for _, e := range out.Entries {
		if e.ErrorCode != nil {
			res.EntryErrors = append(res.EntryErrors, aws.ToString(e.ErrorCode)+": "+aws.ToString(e.ErrorMessage))
		}
	}
	if err := st.sfn.Wait(); err != nil {
		return res, err
	}
	res.Matches = append(res.Matches, st.matched[before:]...)
	return res, nil
}

// deliver hands a raw event to the rules as EventBridge delivers an AWS
// service's event: AWS's own sources (aws.health, aws.trustedadvisor) cannot
// be sent with PutEvents, in AWS or in localaws.
func (st *stack) deliver(ctx context.Context, raw []byte) ([]matchRecord, error) {
	before := len(st.matched)
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

// PutResult is what one put-events file did.
type PutResult struct {
	File          string        `json:"file"`
	FailedEntries int           `json:"failedEntries"`
	EntryErrors   []string      `json:"entryErrors,omitempty"`
	Matches       []matchRecord `json:"matches"`
}

// Outcome is one scenario's result.
type Outcome struct {
	Scenario   string          `json:"scenario"`
	Title      string          `json:"title"`
	Puts       []PutResult     `json:"puts"`
	Executions []ExecutionView `json:"executions"`
	Alerts     []Alert         `json:"alerts"`
	Emails     []Email         `json:"emails"`
	Keys       []KeyView       `json:"keys"`
	Checks     []Check         `json:"checks"`
	Passed     bool            `json:"passed"`
	Error      string          `json:"error,omitempty"`
}

// Alert is a message published to the alert topic.
type Alert struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// Email is a message sent through SES (owner notices).
type Email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// KeyView is an access key's state after the scenario.
type KeyView struct {
	AccessKeyID string `json:"accessKeyId"`
	UserName    string `json:"userName"`
	Status      string `json:"status"` // Active, Inactive, deleted, absent
}

// Check is one expectation and whether it held.
type Check struct {
	What   string `json:"what"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail,omitempty"`
}

// Run runs the offline drill scenarios.
func Run(ctx context.Context, o Options) ([]Outcome, error) {
	var out []Outcome
	for _, sc := range Scenarios() {
		if len(o.Only) > 0 && !contains(o.Only, sc.Name) {
			continue
		}
		faults := o.Faults
		if len(sc.Faults) > 0 && len(faults) == 0 {
			faults = sc.Faults
		}
		oc, err := runScenario(ctx, o, sc, faults)
		if err != nil {
			return out, fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		out = append(out, oc)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenario named %s; known: %s", strings.Join(o.Only, ", "), strings.Join(ScenarioNames(), ", "))
	}
	return out, nil
}

func runScenario(ctx context.Context, o Options, sc Scenario, faults map[string]localaws.Fault) (Outcome, error) {
	st, err := newStack(ctx, o, faults, sc.Env)
	if err != nil {
		return Outcome{}, err
	}
	defer st.Close()
	oc := Outcome{Scenario: sc.Name, Title: sc.Title}
	d := &Driver{st: st, root: o.Root, outcome: &oc}
	d.Mark("start")
	if err := sc.Run(ctx, d); err != nil {
		oc.Error = err.Error()
	}
	views, err := Follow(ctx, sfn.NewFromConfig(st.cfg), st.machine, time.Time{}, nil)
	if err != nil {
		return oc, err
	}
	oc.Executions = views
	for _, m := range st.aws.Published() {
		oc.Alerts = append(oc.Alerts, Alert{Subject: m.Subject, Body: m.Message})
	}
	for _, e := range st.aws.Emails() {
		oc.Emails = append(oc.Emails, Email{To: strings.Join(e.To, ", "), Subject: e.Subject, Body: e.Text})
	}
	for _, id := range sc.Keys {
		oc.Keys = append(oc.Keys, st.keyView(id))
	}
	sc.Expect(&Expectations{outcome: &oc, st: st, marks: d.marks})
	if o.Audit != nil {
		produced, err := st.produced(ctx, oc)
		if err != nil {
			return oc, err
		}
		o.Audit(sc.Name, st.aws.IssuedSecrets(), produced)
	}
	oc.Passed = oc.Error == ""
	for _, c := range oc.Checks {
		oc.Passed = oc.Passed && c.Passed
	}
	return oc, nil
}

// produced is everything a scenario left behind, by kind: what the drill
// shows, every message and event, every execution's full history (each
// Lambda's input and output), the ledger, the API call log. The handlers'
// logs go to slog's default logger, which the caller captures.
func (st *stack) produced(ctx context.Context, oc Outcome) (map[string][]byte, error) {
	out := map[string][]byte{}
	// As text, not base64: a secret in them must be findable.
	var deliveries []string
	for _, d := range st.aws.Deliveries() {
		deliveries = append(deliveries, d.Rule+" "+string(d.Event)+" "+d.Err)
	}
	for kind, v := range map[string]any{
		"drill outcome": oc, "alerts": st.aws.Published(), "emails": st.aws.Emails(), "eventbridge deliveries": deliveries,
		"lambda invocations": st.aws.Invocations(), "ledger items": st.aws.Items(ledgerTable), "api calls": st.aws.Calls(),
		"intake results": st.matched,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode the %s: %w", kind, err)
		}
		out[kind] = b
	}
	api := sfn.NewFromConfig(st.cfg)
	for _, x := range oc.Executions {
		var events []sfntypes.HistoryEvent
		p := sfn.NewGetExecutionHistoryPaginator(api, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(x.Arn), IncludeExecutionData: aws.Bool(true)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("history of %s: %w", x.Name, err)
			}
			events = append(events, page.Events...)
		}
		b, err := json.Marshal(events)
		if err != nil {
			return nil, err
		}
		out["execution history "+x.Name] = b
	}
	return out, nil
}

// liveKeys are user's keys that are not deleted, oldest first.
func (st *stack) liveKeys(user string) []localaws.AccessKeyState {
	var out []localaws.AccessKeyState
	for _, k := range st.aws.AccessKeys(user) {
		if !k.Deleted {
			out = append(out, k)
		}
	}
	return out
}

func (st *stack) keyView(id string) KeyView {
	k, ok := st.aws.AccessKey(id)
	switch {
	case !ok:
		return KeyView{AccessKeyID: id, Status: "absent"}
	case k.Deleted:
		return KeyView{AccessKeyID: id, UserName: k.User, Status: "deleted"}
	}
	return KeyView{AccessKeyID: id, UserName: k.User, Status: k.Status}
}

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

func (st *stack) firstInput() ([]byte, error) {
	execs := st.sfn.Executions()
	if len(execs) == 0 {
		return nil, fmt.Errorf("no execution to take the input from")
	}
	return execs[0].Input, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ErrFailed is returned by the command when a scenario's expectations fail.
var ErrFailed = errors.New("drill: a scenario did not end as expected")

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
