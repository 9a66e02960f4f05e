package drill

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
)

// readTemplate decodes the synthesized template at path into tpl, a struct
// naming just the parts its caller reads.
func readTemplate(path string, tpl any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the synthesized template (run `make synth` first): %w", err)
	}
	if err := json.Unmarshal(raw, tpl); err != nil {
		return fmt.Errorf("%s is not a CloudFormation template: %w", path, err)
	}
	return nil
}

// Rule is an EventBridge rule of the synthesized template.
type Rule struct {
	LogicalID string
	Pattern   string // the EventPattern as JSON
	// Bus is the name of the custom event bus the rule is on (organization
	// mode's hub bus), "" for the account's default bus.
	Bus string
}

// RulesFromTemplate reads the EventBridge rules from a synthesized
// CloudFormation template, so the drill matches events with the patterns
// that deploy rather than with a copy of them.
func RulesFromTemplate(path string) ([]Rule, error) {
	var tpl struct {
		Resources map[string]struct {
			Type       string `json:"Type"`
			Properties struct {
				Name         string          `json:"Name"`
				EventBusName json.RawMessage `json:"EventBusName"`
				EventPattern json.RawMessage `json:"EventPattern"`
				State        string          `json:"State"`
				Targets      []struct {
					Arn json.RawMessage `json:"Arn"`
				} `json:"Targets"`
			} `json:"Properties"`
		} `json:"Resources"`
	}
	if err := readTemplate(path, &tpl); err != nil {
		return nil, err
	}
	var rules []Rule
	for id, r := range tpl.Resources {
		if r.Type != "AWS::Events::Rule" || len(r.Properties.EventPattern) == 0 || r.Properties.State == "DISABLED" {
			continue
		}
		if !targetsIntake(r.Properties.Targets) {
			continue // e.g. the failed-execution alert rule
		}
		rule := Rule{LogicalID: id, Pattern: string(r.Properties.EventPattern)}
		if len(r.Properties.EventBusName) > 0 {
			var ref struct {
				Ref string `json:"Ref"`
			}
			_ = json.Unmarshal(r.Properties.EventBusName, &ref)
			bus, ok := tpl.Resources[ref.Ref]
			if !ok || bus.Type != "AWS::Events::EventBus" || bus.Properties.Name == "" {
				return nil, fmt.Errorf("%s: rule %s is on event bus %s, which is not a named bus of the template", path, id, r.Properties.EventBusName)
			}
			rule.Bus = bus.Properties.Name
		}
		rules = append(rules, rule)
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
	if err := readTemplate(path, &tpl); err != nil {
		return nil, err
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

// ManagedPolicies returns the logical ids of the template's customer
// managed policies: the deny policy of revokeWith attachedPolicy, or none.
func ManagedPolicies(path string) ([]string, error) {
	var tpl struct {
		Resources map[string]struct {
			Type string `json:"Type"`
		} `json:"Resources"`
	}
	if err := readTemplate(path, &tpl); err != nil {
		return nil, err
	}
	var ids []string
	for id, r := range tpl.Resources {
		if r.Type == "AWS::IAM::ManagedPolicy" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// resolveRefs replaces in a rule pattern each {"Ref": id} of one of ids
// with value, the drill's own resource: the tamper watch's detach rule
// names the stack's deny policy so. Any other reference is an error: the
// drill could not match it.
func resolveRefs(pattern string, ids []string, value string) (string, error) {
	if !strings.Contains(pattern, `"Ref"`) {
		return pattern, nil
	}
	var v any
	if err := json.Unmarshal([]byte(pattern), &v); err != nil {
		return "", err
	}
	var walk func(v any) (any, error)
	walk = func(v any) (any, error) {
		switch x := v.(type) {
		case map[string]any:
			if id, ok := x["Ref"].(string); ok && len(x) == 1 {
				if value == "" || !slices.Contains(ids, id) {
					return nil, fmt.Errorf("the pattern refers to %s, which the drill has no value for", id)
				}
				return value, nil
			}
			for k, e := range x {
				r, err := walk(e)
				if err != nil {
					return nil, err
				}
				x[k] = r
			}
		case []any:
			for i, e := range x {
				r, err := walk(e)
				if err != nil {
					return nil, err
				}
				x[i] = r
			}
		}
		return v, nil
	}
	v, err := walk(v)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	return string(b), err
}
