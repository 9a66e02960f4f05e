package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/all"
	"github.com/keywarden/keywarden/internal/localaws"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/sfnlocal"
	"github.com/keywarden/keywarden/statemachine"
)

// intakeAttempts is Lambda's asynchronous invocation: the first attempt
// and the two retries infra configures.
const intakeAttempts = 3

// Names used in the drill account.
const (
	stateMachineName = "Keywarden"
	topicName        = "keywarden-alerts"
	ledgerTable      = "keywarden-ledger"
	// revokePolicyName is the drill's name for the stack's deny policy
	// (CloudFormation names the deployed one), as the CloudTrail sample
	// of its detach names it.
	revokePolicyName = "keywarden-DenyTemporarySessionsPolicy"
)

// stack is one scenario's private AWS: a fresh account, so scenarios do not
// see each other's changes.
type stack struct {
	// aws is the account keywarden is deployed in: the hub in
	// organization mode.
	aws *localaws.Server
	// org is the drill organization (stack_org.go), nil in account mode;
	// hub is what the hub template adds there.
	org *localaws.Organization
	hub hubOrganization
	// roleArns and credentials are each function's execution role and
	// its credentials, in organization mode (empty otherwise: functions
	// run as the account).
	roleArns    map[string]string
	credentials map[string]aws.CredentialsProvider
	sfn         *sfnlocal.Service
	front       *httptest.Server
	cfg         aws.Config
	topic       string
	machine     string
	// revokePolicy is the stack's deny policy (revokeWith attachedPolicy),
	// or "".
	revokePolicy string
	rules        []Rule
	targets      map[string]func(ctx context.Context, ev []byte) error
	intake       lambda.Handler
	// matched records, per event delivered, the rules it matched.
	matched []matchRecord
}

type matchRecord struct {
	Rule      string
	Execution string
	Duplicate bool
	Error     string
	// Ignored says why the intake started nothing: keywarden's own write
	// (Execution is the name it would have had).
	Ignored string `json:",omitempty"`
}

// newStack seeds a fresh account and deploys keywarden into it as the
// template does: the alert topic and ledger table, every handler with the
// template's environment, the state machine definition in the local
// interpreter, the template's rules in front of the intake. Faults go in
// last. Whatever step fails, what was already started is closed.
func newStack(ctx context.Context, o Options, faults map[string]localaws.Fault, overrides map[string]string) (_ *stack, err error) {
	tools, err := sfnlocal.FindTools(o.Root)
	if err != nil {
		return nil, err
	}
	template := o.path(o.Template, "cdk.out/Keywarden.template.json")
	rules, err := RulesFromTemplate(template)
	if err != nil {
		return nil, err
	}
	envs, err := FunctionEnvironments(template)
	if err != nil {
		return nil, err
	}
	policies, err := ManagedPolicies(template)
	if err != nil {
		return nil, err
	}
	st, fixture, err := newAccounts(o, template)
	if err != nil {
		return nil, err
	}
	st.rules = rules
	srv, org := st.aws, st.org
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	st.serve()
	if err := st.provision(ctx, len(policies) > 0); err != nil {
		return nil, err
	}
	if org != nil {
		if err := st.provisionHub(); err != nil {
			return nil, err
		}
	}
	// The rules name the stack's deny policy by reference: the drill's.
	for i := range st.rules {
		if st.rules[i].Pattern, err = resolveRefs(st.rules[i].Pattern, policies, st.revokePolicy); err != nil {
			return nil, fmt.Errorf("rule %s: %w", st.rules[i].LogicalID, err)
		}
	}
	placeholders, intakeEnv, err := st.hostFunctions(envs, st.localValues(fixture), overrides)
	if err != nil {
		return nil, err
	}
	if err := st.startStateMachine(tools, placeholders); err != nil {
		return nil, err
	}
	if st.intake, err = all.New(lambdafn.Intake, st.functionConfig(lambdafn.Intake), intakeEnv, srv.Now); err != nil {
		return nil, err
	}
	if err := st.routeRules(); err != nil {
		return nil, err
	}
	// Faults start after set-up, so only the scenario meets them; in
	// organization mode, in every account.
	for key, f := range faults {
		set := srv.SetFault
		if org != nil {
			set = org.SetFault
		}
		if err := set(key, f); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// serve puts one endpoint in front of everything: Step Functions calls go
// to the local interpreter's API, the rest to localaws.
func (st *stack) serve() {
	st.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Authorization"), "/states/aws4_request") {
			st.sfn.ServeHTTP(w, r)
			return
		}
		if st.org != nil {
			st.org.ServeHTTP(w, r)
			return
		}
		st.aws.ServeHTTP(w, r)
	}))
	st.cfg = st.aws.SDKConfig()
	st.cfg.BaseEndpoint = aws.String(st.front.URL)
	st.machine = fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", st.aws.Region(), st.aws.AccountID(), stateMachineName)
}

// provision creates the resources the stack declares besides functions and
// rules: the alert topic, the ledger table and, when the template has it
// (revokeWith attachedPolicy), the deny policy.
func (st *stack) provision(ctx context.Context, revokePolicy bool) error {
	topic, err := sns.NewFromConfig(st.cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(topicName)})
	if err != nil {
		return fmt.Errorf("create the alert topic: %w", err)
	}
	st.topic = aws.ToString(topic.TopicArn)
	if revokePolicy {
		if st.revokePolicy, err = st.aws.CreateManagedPolicy(revokePolicyName, exposure.AttachedRevokePolicy()); err != nil {
			return fmt.Errorf("create the deny policy: %w", err)
		}
	}
	return st.aws.CreateDynamoDBTable(localaws.DynamoDBTable{Name: ledgerTable, PartitionKey: "pk", SortKey: "sk"})
}

// references are the drill's own values for what the template gives as
// CloudFormation references.
func (st *stack) references(fixture localaws.Fixture) map[string]string {
	region, account := st.aws.Region(), st.aws.AccountID()
	return map[string]string{
		settings.EnvStateMachineArn: st.machine,
		settings.EnvAlertTopicArn:   st.topic,
		settings.EnvActivityRegions: strings.Join(fixture.ActivityRegions(), ","),
		settings.EnvLedgerTable:     ledgerTable,
		settings.EnvAccount:         account,
		settings.EnvConsoleRegion:   region,
		settings.EnvPartition:       "aws",
		// localaws does not emulate KMS; the secret records the key's ARN.
		settings.EnvRotationKMSKey: fmt.Sprintf("arn:aws:kms:%s:%s:key/00000000-0000-4000-8000-000000000001", region, account),
		settings.EnvRotationWriter: fmt.Sprintf("arn:aws:iam::%s:role/keywarden-ActFunctionRole", account),
		settings.EnvOwnRoleArns:    ownRoleArns(account),
		// The deny policy, with revokeWith attachedPolicy.
		settings.EnvRevokePolicyArn: st.revokePolicy,
	}
}

// localValues are references() with organization mode's own.
func (st *stack) localValues(fixture localaws.Fixture) map[string]string {
	local := st.references(fixture)
	if st.org != nil {
		st.orgReferences(local)
	}
	return local
}

// hostFunctions builds every function's handler, as all.New builds it in
// Lambda, and hosts it behind localaws's Invoke API. It returns the
// definition's placeholders (each function's ARN) and the intake's
// environment.
func (st *stack) hostFunctions(envs map[string]map[string]string, local, overrides map[string]string) (map[string]string, settings.Lookup, error) {
	placeholders := map[string]string{}
	var intakeEnv settings.Lookup
	for _, name := range lambdafn.Names {
		lookup, err := functionEnv(name, envs[name], local, overrides)
		if err != nil {
			return nil, nil, err
		}
		if name == lambdafn.Intake {
			intakeEnv = lookup
		}
		h, err := all.New(name, st.functionConfig(name), lookup, st.aws.Now)
		if err != nil {
			return nil, nil, fmt.Errorf("build the %s handler: %w", name, err)
		}
		fn := "keywarden-" + name
		if err := st.aws.RegisterFunction(fn, h.Invoke); err != nil {
			return nil, nil, err
		}
		id := strings.ToUpper(name[:1]) + name[1:] + "FunctionArn"
		placeholders[id] = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", st.aws.Region(), st.aws.AccountID(), fn)
	}
	return placeholders, intakeEnv, nil
}

// functionEnv is a function's environment: the template's literal values,
// the drill's own for the template's references, then the scenario's
// overrides.
func functionEnv(name string, template, local, overrides map[string]string) (settings.Lookup, error) {
	env := map[string]string{}
	for k, v := range template {
		if v == Ref {
			lv, ok := local[k]
			if !ok {
				return nil, fmt.Errorf("the template gives the %s function's %s as a reference, and the drill has no local value for it", name, k)
			}
			v = lv
		}
		env[k] = v
	}
	for k, v := range overrides {
		env[k] = v
	}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil
}

// startStateMachine runs the statemachine/ definition, its placeholders
// filled, in the local interpreter: in organization mode the hub
// template's (the organization's daily run merged in), with the values the
// template fills from the settings.
func (st *stack) startStateMachine(tools sfnlocal.Tools, placeholders map[string]string) error {
	// The definition names only the step functions, not intake.
	delete(placeholders, "IntakeFunctionArn")
	def, err := statemachine.Render(placeholders)
	if st.org != nil {
		for k, v := range st.hub.Settings {
			placeholders[k] = v
		}
		def, err = statemachine.RenderOf(st.hub.Definition, placeholders)
	}
	if err != nil {
		return err
	}
	st.sfn = &sfnlocal.Service{
		StateMachineArn: st.machine,
		Runner: sfnlocal.Runner{Node: tools.Node, Module: tools.Module, Definition: def,
			Region: st.aws.Region(), LambdaEndpoint: st.front.URL,
			AccessKeyID: st.rootKeyID(), SecretAccessKey: localaws.TestSecretAccessKey},
	}
	return nil
}

// rootKeyID is the key id the account's own clients sign with (the
// interpreter's Lambda calls): in an organization, the hub's, which its
// front routes to the hub.
func (st *stack) rootKeyID() string {
	creds, err := st.aws.SDKConfig().Credentials.Retrieve(context.Background())
	if err != nil {
		return localaws.TestAccessKeyID
	}
	return creds.AccessKeyID
}

// routeRules puts the template's rules in EventBridge, each delivering to
// the intake.
func (st *stack) routeRules() error {
	st.targets = map[string]func(ctx context.Context, ev []byte) error{}
	for _, rule := range st.rules {
		target := st.intakeTarget(rule.LogicalID)
		st.targets[rule.LogicalID] = target
		bus := rule.Bus
		if bus == "" {
			bus = "default"
		}
		if err := st.aws.AddBusRule(bus, rule.LogicalID, rule.Pattern, target); err != nil {
			return fmt.Errorf("rule %s: %w", rule.LogicalID, err)
		}
	}
	return nil
}

// intakeTarget invokes the intake as EventBridge does, asynchronously:
// Lambda retries a failed invocation twice (retryAttempts in infra), then
// sends the event to the dead-letter queue. Each execution a delivery
// started or found (a Health event of several keys starts one per key) is
// recorded in st.matched; a delivery that failed, once.
func (st *stack) intakeTarget(rule string) func(ctx context.Context, ev []byte) error {
	return func(ctx context.Context, ev []byte) error {
		var out []byte
		var err error
		for attempt := 1; attempt <= intakeAttempts; attempt++ {
			if out, err = st.intake.Invoke(ctx, ev); err == nil {
				break
			}
		}
		if err != nil {
			st.matched = append(st.matched, matchRecord{Rule: rule,
				Error: fmt.Sprintf("%s after %d attempts, sent to the dead-letter queue: %v", lambdafn.ErrorType(err), intakeAttempts, err)})
			return err
		}
		type execution struct {
			Name      string `json:"name"`
			Duplicate bool   `json:"duplicate"`
		}
		var res struct {
			execution
			Executions []execution `json:"executions"`
			Ignored    string      `json:"ignored"`
		}
		_ = json.Unmarshal(out, &res)
		if res.Ignored != "" {
			st.matched = append(st.matched, matchRecord{Rule: rule, Execution: res.Name, Ignored: res.Ignored})
			return nil
		}
		if len(res.Executions) == 0 {
			res.Executions = []execution{res.execution}
		}
		for _, x := range res.Executions {
			st.matched = append(st.matched, matchRecord{Rule: rule, Execution: x.Name, Duplicate: x.Duplicate})
		}
		return nil
	}
}

func (st *stack) Close() {
	if st.front != nil {
		st.front.Close()
	}
	if st.org != nil {
		_ = st.org.Close()
		return
	}
	_ = st.aws.Close()
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
	k, ok := st.accountOf(id).AccessKey(id)
	switch {
	case !ok:
		return KeyView{AccessKeyID: id, Status: "absent"}
	case k.Deleted:
		return KeyView{AccessKeyID: id, UserName: k.User, Status: "deleted"}
	}
	return KeyView{AccessKeyID: id, UserName: k.User, Status: k.Status}
}
