package main

import (
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/statemachine"
)

// The template carries statemachine/keywarden.asl.json byte for byte;
// CloudFormation fills each placeholder with a task function's ARN.
func TestDefinitionIsTheFile(t *testing.T) {
	p := defaultTmpl.at(t, "StateMachine/Resource").Properties
	if got := p["DefinitionString"]; got != statemachine.Definition() {
		t.Errorf("DefinitionString differs from statemachine/keywarden.asl.json:\n%v", got)
	}
	subs, _ := p["DefinitionSubstitutions"].(map[string]any)
	keys := slices.Sorted(maps.Keys(subs))
	if want := statemachine.Placeholders(); !slices.Equal(keys, want) {
		t.Fatalf("DefinitionSubstitutions keys %v, want the definition's placeholders %v", keys, want)
	}
	// Every function but the intake is a task.
	if len(keys) != len(functionSpecs)-1 {
		t.Errorf("%d placeholders filled, want %d: every function but the intake", len(keys), len(functionSpecs)-1)
	}
	for _, placeholder := range keys {
		id := strings.TrimSuffix(placeholder, "Arn") // ActivityFunctionArn → ActivityFunction
		want := getAtt(defaultTmpl.id(t, id+"/Resource"), "Arn")
		if !reflect.DeepEqual(subs[placeholder], want) {
			t.Errorf("${%s} = %s, want %s", placeholder, toJSON(subs[placeholder]), toJSON(want))
		}
	}
}

func TestCheckPlaceholders(t *testing.T) {
	if err := checkPlaceholders(); err != nil {
		t.Fatal(err)
	}
	saved := functionSpecs
	defer func() { functionSpecs = saved }()
	functionSpecs = slices.DeleteFunc(slices.Clone(saved), func(f functionSpec) bool { return f.name == lambdafn.Activity })
	err := checkPlaceholders()
	if err == nil || !strings.Contains(err.Error(), "${ActivityFunctionArn}") {
		t.Errorf("without the activity function: %v, want an error naming ${ActivityFunctionArn}", err)
	}
}

func TestStateMachineConfiguration(t *testing.T) {
	p := defaultTmpl.at(t, "StateMachine/Resource").Properties
	if p["StateMachineType"] != "STANDARD" {
		t.Errorf("StateMachineType %v, want STANDARD", p["StateMachineType"])
	}
	if want := map[string]any{"Enabled": true}; !reflect.DeepEqual(p["TracingConfiguration"], want) {
		t.Errorf("TracingConfiguration %s, want enabled", toJSON(p["TracingConfiguration"]))
	}
	logs := p["LoggingConfiguration"].(map[string]any)
	if logs["IncludeExecutionData"] != false {
		t.Errorf("IncludeExecutionData %v: execution data must not reach the logs", logs["IncludeExecutionData"])
	}
	if logs["Level"] != "ALL" {
		t.Errorf("log Level %v, want ALL", logs["Level"])
	}
	group := defaultTmpl.id(t, "StateMachineLogs/Resource")
	want := []any{map[string]any{"CloudWatchLogsLogGroup": map[string]any{"LogGroupArn": getAtt(group, "Arn")}}}
	if !reflect.DeepEqual(logs["Destinations"], want) {
		t.Errorf("log Destinations %s, want the StateMachineLogs group", toJSON(logs["Destinations"]))
	}
}

// The state machine may invoke exactly its task functions (no ":*", no
// intake); the rest is what the CDK adds for logging and tracing.
func TestStateMachineRole(t *testing.T) {
	tmpl := defaultTmpl
	roleID := tmpl.id(t, "StateMachineRole/Resource")
	stmts := tmpl.statements(roleID)
	want := []string{
		"lambda:InvokeFunction",
		"logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
		"logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
		"xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
	}
	if got := actionsOf(stmts); !slices.Equal(got, want) {
		t.Errorf("actions %v, want exactly %v", got, want)
	}
	var fns []any
	for _, p := range statemachine.Placeholders() {
		fns = append(fns, getAtt(tmpl.id(t, strings.TrimSuffix(p, "Arn")+"/Resource"), "Arn"))
	}
	wantFns := sortedJSON(fns)
	for _, s := range stmts {
		if !slices.Contains(list(s["Action"]), any("lambda:InvokeFunction")) {
			continue
		}
		if len(list(s["Action"])) != 1 {
			t.Errorf("lambda:InvokeFunction shares a statement: %s", toJSON(s))
		}
		if got := sortedJSON(list(s["Resource"])); !slices.Equal(got, wantFns) {
			t.Errorf("lambda:InvokeFunction on %v, want exactly %v", got, wantFns)
		}
	}
	if tmpl.Resources[roleID].Properties["ManagedPolicyArns"] != nil {
		t.Error("state machine role has managed policies")
	}
}

// Organization mode deploys the merged definition (statemachine.
// DefinitionFor) byte for byte, its Distributed Map's concurrency and
// tolerance filled from the settings, and lets the state machine start,
// read and stop its own Map Run children, no more.
func TestOrganizationDefinition(t *testing.T) {
	_, org, _, _ := organizationVariant(t)
	p := org.at(t, "StateMachine/Resource").Properties
	def := statemachine.DefinitionFor(statemachine.ModeOrganization)
	if p["DefinitionString"] != def {
		t.Error("DefinitionString differs from statemachine.DefinitionFor(organization)")
	}
	subs, _ := p["DefinitionSubstitutions"].(map[string]any)
	if keys := slices.Sorted(maps.Keys(subs)); !slices.Equal(keys, statemachine.PlaceholdersOf(def)) {
		t.Errorf("DefinitionSubstitutions keys %v, want %v", keys, statemachine.PlaceholdersOf(def))
	}
	d := settings.Default()
	if subs["MaxConcurrency"] != strconv.Itoa(d.MaxConcurrency) || subs["ToleratedFailurePercentage"] != strconv.Itoa(d.ToleratedFailurePercentage) {
		t.Errorf("MaxConcurrency %v, ToleratedFailurePercentage %v: want the settings' %d and %d", subs["MaxConcurrency"], subs["ToleratedFailurePercentage"],
			d.MaxConcurrency, d.ToleratedFailurePercentage)
	}
	machine := org.id(t, "StateMachine/Resource")
	var got []any
	for _, r := range org.ofType("AWS::IAM::Policy") {
		if reflect.DeepEqual(list(r.Properties["Roles"]), []any{ref(org.id(t, "StateMachineRole/Resource"))}) &&
			strings.Contains(toJSON(r.Properties), "MapRunChildren") {
			got = append(got, list(r.Properties["PolicyDocument"].(map[string]any)["Statement"])...)
		}
	}
	want := []any{
		map[string]any{"Sid": "StartMapRunChildren", "Effect": "Allow", "Action": "states:StartExecution", "Resource": ref(machine)},
		map[string]any{"Sid": "ReadAndStopMapRunChildren", "Effect": "Allow", "Action": []any{"states:DescribeExecution", "states:StopExecution"},
			"Resource": map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":states:", ref("AWS::Region"), ":", ref("AWS::AccountId"),
				":execution:", getAtt(machine, "Name"), "/*"}}}},
	}
	if g, w := sortedJSON(got), sortedJSON(want); !slices.Equal(g, w) {
		t.Errorf("Distributed Map policy\n got %s\nwant %s", strings.Join(g, "\n     "), strings.Join(w, "\n     "))
	}
	// The per-account state machine has no such policy.
	for _, r := range defaultTmpl.ofType("AWS::IAM::Policy") {
		if strings.Contains(toJSON(r.Properties), "states:StartExecution") && strings.Contains(toJSON(r.Properties["Roles"]), "StateMachineRole") {
			t.Error("the per-account state machine may start executions")
		}
	}
}
