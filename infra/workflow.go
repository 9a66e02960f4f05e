package main

import (
	"fmt"
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
	var missing []string
	for _, p := range statemachine.Placeholders() {
		if !have[p] {
			missing = append(missing, "${"+p+"}")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("statemachine/keywarden.asl.json uses %s, which no function in infra/functions.go fills; "+
			"placeholders are named <Name>FunctionArn after lambdas/<name>", strings.Join(missing, ", "))
	}
	return nil
}

// newStateMachine deploys statemachine/keywarden.asl.json itself, its
// placeholders filled by CloudFormation (DefinitionSubstitutions) with the
// task functions' ARNs: the template carries the file byte for byte, the
// same file the offline drill runs.
func newStateMachine(stack awscdk.Stack, s settings.Settings, fns map[string]*function) awsstepfunctions.StateMachine {
	byPlaceholder := map[string]*function{}
	for _, f := range fns {
		byPlaceholder[f.spec.placeholder()] = f
	}
	substitutions := map[string]*string{}
	var invoked []*string
	for _, p := range statemachine.Placeholders() {
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

	return awsstepfunctions.NewStateMachine(stack, jsii.String("StateMachine"), &awsstepfunctions.StateMachineProps{
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(statemachine.Definition())),
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
}
