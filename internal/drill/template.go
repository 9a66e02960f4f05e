package drill

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Rule is an EventBridge rule of the synthesized template.
type Rule struct {
	LogicalID string
	Pattern   string // the EventPattern as JSON
}

// RulesFromTemplate reads the EventBridge rules from a synthesized
// CloudFormation template, so the drill matches events with the patterns
// that deploy rather than with a copy of them.
func RulesFromTemplate(path string) ([]Rule, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the synthesized template (run `make synth` first): %w", err)
	}
	var tpl struct {
		Resources map[string]struct {
			Type       string `json:"Type"`
			Properties struct {
				EventPattern json.RawMessage `json:"EventPattern"`
				State        string          `json:"State"`
				Targets      []struct {
					Arn json.RawMessage `json:"Arn"`
				} `json:"Targets"`
			} `json:"Properties"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(raw, &tpl); err != nil {
		return nil, fmt.Errorf("%s is not a CloudFormation template: %w", path, err)
	}
	var rules []Rule
	for id, r := range tpl.Resources {
		if r.Type != "AWS::Events::Rule" || len(r.Properties.EventPattern) == 0 || r.Properties.State == "DISABLED" {
			continue
		}
		if !targetsIntake(r.Properties.Targets) {
			continue // e.g. the failed-execution alert rule
		}
		rules = append(rules, Rule{LogicalID: id, Pattern: string(r.Properties.EventPattern)})
	}
	if len(rules) == 0 {
		return nil, fmt.Errorf("%s has no enabled EventBridge rule targeting the intake function", path)
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].LogicalID < rules[j].LogicalID })
	return rules, nil
}

// targetsIntake reports whether a rule's target is the intake function:
// {"Fn::GetAtt": ["IntakeFunction…", "Arn"]}.
func targetsIntake(targets []struct {
	Arn json.RawMessage `json:"Arn"`
}) bool {
	for _, t := range targets {
		var ref struct {
			GetAtt []string `json:"Fn::GetAtt"`
		}
		if json.Unmarshal(t.Arn, &ref) == nil && len(ref.GetAtt) == 2 && strings.HasPrefix(ref.GetAtt[0], "IntakeFunction") {
			return true
		}
	}
	return false
}

// Ref stands, in FunctionEnvironments, for a value the template gives as a
// CloudFormation reference (an ARN, a name); the drill fills its own.
const Ref = "<cloudformation reference>"

// FunctionEnvironments reads each function's environment from the template,
// by function name ("scan" for the ScanFunction…): the literal values, so
// the drill runs the settings that deploy, and Ref for each value that is a
// CloudFormation reference.
func FunctionEnvironments(path string) (map[string]map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the synthesized template (run `make synth` first): %w", err)
	}
	var tpl struct {
		Resources map[string]struct {
			Type       string `json:"Type"`
			Properties struct {
				Environment struct {
					Variables map[string]json.RawMessage `json:"Variables"`
				} `json:"Environment"`
			} `json:"Properties"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(raw, &tpl); err != nil {
		return nil, fmt.Errorf("%s is not a CloudFormation template: %w", path, err)
	}
	out := map[string]map[string]string{}
	for id, r := range tpl.Resources {
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		i := strings.Index(id, "Function")
		if i <= 0 {
			continue
		}
		name := strings.ToLower(id[:1]) + id[1:i]
		env := map[string]string{}
		for k, v := range r.Properties.Environment.Variables {
			var s string
			if json.Unmarshal(v, &s) == nil {
				env[k] = s
			} else {
				env[k] = Ref
			}
		}
		out[name] = env
	}
	return out, nil
}
