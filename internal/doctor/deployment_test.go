package doctor

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keywarden/keywarden/internal/localaws"
)

// testNow is the clock of every deployment here: a day after a daily run.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	testSender    = "keywarden@example.com"
	testTopicName = "Keywarden-AlertTopic"
	testQueueName = "Keywarden-DeadLetterQueue"
)

// deployment is a keywarden stack deployed into localaws, reached through
// the real SDK clients. Its parts are named so a test can break one.
type deployment struct {
	t        *testing.T
	srv      *localaws.Server
	stack    localaws.Stack
	machine  string
	topic    string
	queueURL string
	rules    []string // physical names
	alarms   []string
	// org is the organization around a hub (organization_test.go); nil
	// for a per-account deployment.
	org *orgFixture
}

// rule is an EventBridge rule of the stack: its logical id and what
// DescribeRule shows.
type rule struct {
	logicalID string
	def       localaws.RuleDefinition
	// bus is the custom bus the rule is on; "" for the default bus.
	bus string
}

// fixedRules are a small stand-in for the template's rules.
var fixedRules = []rule{
	{"ScheduleRuleDA5BD877", localaws.RuleDefinition{ScheduleExpression: "cron(0 8 * * ? *)"}, ""},
	{"KeyCreationRule189F8933", localaws.RuleDefinition{EventPattern: `{"source":["aws.iam"],"detail":{"eventName":["CreateAccessKey"]}}`}, ""},
}

// newDeployment deploys a healthy keywarden: enforcing, notices from a
// verified sender, one confirmed subscription, a logging multi-region
// trail, enabled rules, an empty dead-letter queue, yesterday's and
// today's daily runs succeeded, the alarms OK.
func newDeployment(t *testing.T, rules []rule, outputs []localaws.StackOutput) *deployment {
	t.Helper()
	srv, err := localaws.New(localaws.Options{Now: func() time.Time { return testNow }})
	must(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return deployOn(t, srv, rules, outputs)
}

// deployOn deploys the healthy keywarden of newDeployment into srv, an
// account of its own or of an organization.
func deployOn(t *testing.T, srv *localaws.Server, rules []rule, outputs []localaws.StackOutput) *deployment {
	t.Helper()
	d := &deployment{t: t, srv: srv}
	ctx := context.Background()

	topic, err := sns.NewFromConfig(srv.SDKConfig()).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(testTopicName)})
	must(t, err)
	d.topic = aws.ToString(topic.TopicArn)
	_, err = srv.AddSubscription(d.topic, localaws.Subscription{Protocol: "email", Endpoint: "security@example.com"})
	must(t, err)
	d.queueURL, err = srv.AddQueue(testQueueName)
	must(t, err)
	d.machine, err = srv.AddStateMachine("KeywardenStateMachine")
	must(t, err)
	for _, name := range []string{"DailyRunMissing", "DeadLetterQueue", "FailedExecutions"} {
		d.alarms = append(d.alarms, "Keywarden-"+name)
		must(t, srv.SetAlarm(localaws.Alarm{Name: "Keywarden-" + name, State: localaws.AlarmOK, Reason: "Threshold Crossed: no datapoint was breaching"}))
	}
	must(t, srv.AddTrail(localaws.Trail{Name: "management-events", MultiRegion: true, Logging: true}))
	must(t, srv.AddEmailIdentity(testSender, true))
	for _, day := range []time.Time{testNow.Add(-28 * time.Hour), testNow.Add(-4 * time.Hour)} {
		d.addExecution("daily-"+day.Format("2006-01-02"), localaws.ExecutionSucceeded, day, 2*time.Minute)
	}
	d.addExecution("exposed-alice-AKIAEXAMPLEALICE0001", localaws.ExecutionSucceeded, testNow.Add(-50*time.Hour), time.Minute)

	var resources []localaws.StackResource
	buses := map[string]bool{}
	for _, r := range rules {
		name := "Keywarden-" + r.logicalID
		if len(name) > 64 {
			name = name[:64]
		}
		r.def.Name = name
		physical := name
		if r.bus != "" {
			// A rule on another bus: CloudFormation's physical id is
			// "bus|name". The bus's policy is the organization's to set.
			if !buses[r.bus] {
				_, err := srv.AddEventBus(localaws.EventBus{Name: r.bus})
				must(t, err)
				buses[r.bus] = true
			}
			r.def.EventBusName = r.bus
			physical = r.bus + "|" + name
		}
		must(t, srv.DefineRule(r.def))
		d.rules = append(d.rules, physical)
		resources = append(resources, localaws.StackResource{LogicalID: r.logicalID, PhysicalID: physical, Type: "AWS::Events::Rule"})
	}
	resources = append(resources, localaws.StackResource{LogicalID: "DeadLetterQueue9F481546", PhysicalID: d.queueURL, Type: "AWS::SQS::Queue"})

	known := map[string]string{
		outStateMachine: d.machine, outAlertTopic: d.topic, outDeadLetterQueue: d.queueURL,
		outDailyRunAlarm: d.alarms[0], outDeadLetterAlarm: d.alarms[1], outFailedExecsAlarm: d.alarms[2],
		outKeyAgeMode: keyAgeModeEnforcing, outNoticeSender: testSender,
	}
	if outputs == nil {
		for _, k := range requiredOutputs {
			outputs = append(outputs, localaws.StackOutput{Key: k})
		}
	}
	for i, o := range outputs {
		if v, ok := known[o.Key]; ok && o.Value == "" {
			outputs[i].Value = v
		}
	}
	d.stack = localaws.Stack{Name: DefaultStack, Created: testNow.Add(-30 * 24 * time.Hour), Outputs: outputs, Resources: resources}
	d.redeploy()
	return d
}

// redeploy registers d.stack again, after a test changed it.
func (d *deployment) redeploy() {
	_, err := d.srv.AddStack(d.stack)
	must(d.t, err)
}

// setOutput changes (or, with "", removes) a stack output.
func (d *deployment) setOutput(key, value string) {
	var outs []localaws.StackOutput
	for _, o := range d.stack.Outputs {
		if o.Key != key {
			outs = append(outs, o)
		}
	}
	if value != "" {
		outs = append(outs, localaws.StackOutput{Key: key, Value: value})
	}
	d.stack.Outputs = outs
	d.redeploy()
}

func (d *deployment) addExecution(name, status string, start time.Time, took time.Duration) {
	e := localaws.StateMachineExecution{StateMachineArn: d.machine, Name: name, Status: status, Start: start}
	if status != localaws.ExecutionRunning {
		e.Stop = start.Add(took)
	}
	_, err := d.srv.AddExecution(e)
	must(d.t, err)
}

func (d *deployment) doctor() Doctor {
	return Doctor{Clients: NewClients(d.srv.SDKConfig()), Stack: DefaultStack, Region: localaws.DefaultRegion, Now: d.srv.Now}
}

func (d *deployment) run() Report { return d.doctor().Run(context.Background()) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// templateRules and templateOutputs read the synthesized template
// (cdk.out/Keywarden.template.json, written by make synth): the rules and
// outputs a real deployment has. Outputs whose value is a literal (the
// settings) keep it.
func fromTemplate(t *testing.T) ([]rule, []localaws.StackOutput) {
	t.Helper()
	return fromTemplateFile(t, filepath.Join("..", "..", "cdk.out", "Keywarden.template.json"))
}

// fromTemplateFile reads the rules and outputs of the template at path.
// A rule on a bus of the stack (organization mode) keeps that bus.
func fromTemplateFile(t *testing.T, path string) ([]rule, []localaws.StackOutput) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("doctor's whole-deployment test needs the synthesized template: run `make synth` (or `make test`, which does): %v", err)
	}
	var tmpl struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				EventPattern       json.RawMessage
				ScheduleExpression string
				Description        string
				EventBusName       struct{ Ref string }
				Name               string
			}
		}
		Outputs map[string]struct{ Value any }
	}
	must(t, json.Unmarshal(raw, &tmpl))
	var rules []rule
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::Events::Rule" {
			continue
		}
		def := localaws.RuleDefinition{ScheduleExpression: r.Properties.ScheduleExpression, Description: r.Properties.Description}
		if len(r.Properties.EventPattern) > 0 {
			def.EventPattern = string(r.Properties.EventPattern)
			if strings.Contains(def.EventPattern, `"Ref"`) || strings.Contains(def.EventPattern, `"Fn::`) {
				// CloudFormation resolves these at deploy time; DescribeRule
				// only needs a pattern, not this one.
				def.EventPattern = `{"source":["aws.states"]}`
			}
		}
		bus := ""
		if ref := r.Properties.EventBusName.Ref; ref != "" {
			bus = tmpl.Resources[ref].Properties.Name
		}
		rules = append(rules, rule{id, def, bus})
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].logicalID < rules[j].logicalID })
	var outputs []localaws.StackOutput
	for k, o := range tmpl.Outputs {
		v, _ := o.Value.(string)
		if v == "" {
			v = "local-" + k
		}
		outputs = append(outputs, localaws.StackOutput{Key: k, Value: v})
	}
	sort.Slice(outputs, func(i, j int) bool { return outputs[i].Key < outputs[j].Key })
	for i, o := range outputs {
		if _, read := map[string]bool{outStateMachine: true, outAlertTopic: true, outDeadLetterQueue: true,
			outDailyRunAlarm: true, outDeadLetterAlarm: true, outFailedExecsAlarm: true}[o.Key]; read {
			outputs[i].Value = "" // filled by newDeployment
		}
	}
	return rules, outputs
}

// freshMachine points the stack at a state machine with no executions.
func (d *deployment) freshMachine() {
	arn, err := d.srv.AddStateMachine("StateMachine2E01C7F5-k3yw4rd3n")
	must(d.t, err)
	d.machine = arn
	d.setOutput(outStateMachine, arn)
}

func createTopic(t *testing.T, d *deployment, name string) string {
	t.Helper()
	out, err := sns.NewFromConfig(d.srv.SDKConfig()).CreateTopic(t.Context(), &sns.CreateTopicInput{Name: aws.String(name)})
	must(t, err)
	return aws.ToString(out.TopicArn)
}
