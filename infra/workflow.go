package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"

	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/statemachine"
)

// checkPlaceholders reports a ${Name} placeholder of the state machine
// definition that no function fills, so a renamed or added task fails
// synthesis instead of deploying a definition CloudFormation rejects.
func checkPlaceholders() error {
	have := map[string]bool{}
	for _, f := range functionSpecs {
		have[f.placeholder()] = true
	}
	for p := range settingPlaceholders(settings.Default()) {
		have[p] = true
	}
	var missing []string
	for _, mode := range []string{settings.ModeAccount, settings.ModeOrganization} {
		for _, p := range statemachine.PlaceholdersOf(statemachine.DefinitionFor(mode)) {
			if !have[p] && !slices.Contains(missing, "${"+p+"}") {
				missing = append(missing, "${"+p+"}")
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("statemachine/keywarden.asl.json or organization.asl.json uses %s, which no function in infra/functions.go "+
			"nor a setting (settingPlaceholders) fills; function placeholders are named <Name>FunctionArn after lambdas/<name>", strings.Join(missing, ", "))
	}
	return nil
}

// settingPlaceholders are the definition's placeholders filled from the
// settings rather than with a function's ARN: organization mode's daily
// run reads its concurrency and tolerated failures from them (numbers,
// which the definition turns from these strings with States.StringToJson).
func settingPlaceholders(s settings.Settings) map[string]*string {
	return map[string]*string{
		"MaxConcurrency":             jsii.String(strconv.Itoa(s.MaxConcurrency)),
		"ToleratedFailurePercentage": jsii.String(strconv.Itoa(s.ToleratedFailurePercentage)),
	}
}

// newStateMachine deploys statemachine/keywarden.asl.json itself, its
// placeholders filled by CloudFormation (DefinitionSubstitutions) with the
// task functions' ARNs: the template carries the file byte for byte, the
// same file the offline drill runs. In organization mode it is that file
// with organization.asl.json merged in (statemachine.DefinitionFor), and
// the daily run's concurrency and tolerance filled from the settings.
func newStateMachine(stack awscdk.Stack, s settings.Settings, fns map[string]*function) awsstepfunctions.StateMachine {
	byPlaceholder := map[string]*function{}
	for _, f := range fns {
		byPlaceholder[f.spec.placeholder()] = f
	}
	definition := statemachine.DefinitionFor(s.Mode)
	fromSettings := settingPlaceholders(s)
	substitutions := map[string]*string{}
	var invoked []*string
	for _, p := range statemachine.PlaceholdersOf(definition) {
		if v, ok := fromSettings[p]; ok {
			substitutions[p] = v
			continue
		}
		f, ok := byPlaceholder[p]
		if !ok {
			awscdk.Annotations_Of(stack).AddError(jsii.String(fmt.Sprintf(
				"state machine definition: no function fills ${%s}", p)))
			continue
		}
		substitutions[p] = f.fn.FunctionArn()
		invoked = append(invoked, f.fn.FunctionArn())
	}

	role := awsiam.NewRole(stack, jsii.String("StateMachineRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("states.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			// Confused-deputy guard: only this account's state machines.
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
		}),
		Description: jsii.String("Role of keywarden's state machine: invokes its task functions"),
	})
	// Exactly the task functions' unqualified ARNs: no versions or aliases
	// (":*"), no other function.
	role.AddToPrincipalPolicy(allow("InvokeTaskFunctions", []string{"lambda:InvokeFunction"}, invoked...))

	logs := awslogs.NewLogGroup(stack, jsii.String("StateMachineLogs"), &awslogs.LogGroupProps{
		// Under /aws/vendedlogs/ CloudWatch Logs covers the delivery with
		// one resource-policy entry for all such groups, instead of one
		// per group that counts against the policy's size limit. The
		// stack id's UUID keeps the name free after a destroy (the
		// group itself is retained).
		LogGroupName: awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String("/aws/vendedlogs/states/keywarden-"),
			awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), awscdk.Aws_STACK_ID(), nil)),
		}),
		Retention: retention(s.LogRetentionDays),
	})

	machine := awsstepfunctions.NewStateMachine(stack, jsii.String("StateMachine"), &awsstepfunctions.StateMachineProps{
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(definition)),
		DefinitionSubstitutions: &substitutions,
		StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
		Role:                    role,
		TracingEnabled:          jsii.Bool(true),
		Logs: &awsstepfunctions.LogOptions{
			Destination: logs,
			Level:       awsstepfunctions.LogLevel_ALL,
			// Execution input and output hold the event and the
			// finding; they stay in the execution history, readable by
			// those with access to it, and out of CloudWatch Logs.
			IncludeExecutionData: jsii.Bool(false),
		},
	})
	if s.Mode == settings.ModeOrganization {
		distributedMapPolicy(stack, role, machine)
	}
	return machine
}

// distributedMapPolicy lets the state machine run organization mode's
// Distributed Map, whose children are executions of the state machine
// itself: start them, read and stop them (AWS's "IAM policies for using
// Distributed Map states"). A policy of its own, not the role's default
// policy: the state machine depends on that one, and naming the state
// machine's ARN there would make a cycle.
func distributedMapPolicy(stack awscdk.Stack, role awsiam.Role, machine awsstepfunctions.StateMachine) {
	children := stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("states"),
		Resource:     jsii.String("execution"),
		ResourceName: jsii.String(*machine.StateMachineName() + "/*"),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
	policy := awsiam.NewPolicy(stack, jsii.String("StateMachineDistributedMapPolicy"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{role},
		Statements: &[]awsiam.PolicyStatement{
			allow("StartMapRunChildren", []string{"states:StartExecution"}, machine.StateMachineArn()),
			allow("ReadAndStopMapRunChildren", []string{"states:DescribeExecution", "states:StopExecution"}, children),
		},
	})
	suppress(policy, "AwsSolutions-IAM5",
		"A Distributed Map's child executions are named <state machine>/<Map Run label>:<id> at run time; the wildcard is limited "+
			"to this state machine's children, for the DescribeExecution and StopExecution the Map Run makes.",
		nagMapRunChildren)
	suppress(policy, nistRule("IAMNoInlinePolicy"),
		"The state machine role's policy for its Distributed Map: states:StartExecution on this state machine and DescribeExecution "+
			"and StopExecution on its own children, created and deleted with the role. Apart from the role's default policy only "+
			"because the state machine depends on that one and this names the state machine; a managed policy would add reuse "+
			"that no other principal should have.")
}

// nagMapRunChildren is the child executions' wildcard as cdk-nag renders it.
const nagMapRunChildren = "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<StateMachine2E01A3A5.Name>/*"
