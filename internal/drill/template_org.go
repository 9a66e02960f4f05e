package drill

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/keywarden/keywarden/internal/localaws"
)

// hubOrganization is what organization mode's hub template adds to the
// stack the drill deploys: the bus the members forward to, the
// organization its policy admits, the OUs the member StackSet deploys to,
// and each function's execution role (with its path, which member trusts
// match).
type hubOrganization struct {
	Bus string
	// BusPolicy is the bus's resource policy statement as the template
	// writes it (intrinsics unresolved); OrganizationID the organization
	// it admits.
	BusPolicy           json.RawMessage
	OrganizationID      string
	OrganizationalUnits []string
	// Roles are the functions' roles, by function name ("contain").
	Roles map[string]functionRole
	// busIDs are the bus's logical ids (one), which its policy refers to.
	busIDs []string
	// Definition is the state machine's definition as the hub template
	// deploys it (statemachine.DefinitionFor organization mode), and
	// Settings the substitutions the template fills with literal values
	// (the daily run's concurrency and tolerated failures); the drill
	// fills the function ARNs.
	Definition string
	Settings   map[string]string
}

// functionRole is a function's execution role in the template.
type functionRole struct {
	LogicalID string
	Path      string // "/" when the template gives none
	Trust     json.RawMessage
}

// readHubOrganization reads the organization parts of a hub template; ok
// is false for a template without the member StackSet (account mode).
func readHubOrganization(path string) (_ hubOrganization, ok bool, _ error) {
	var tpl struct {
		Resources map[string]struct {
			Type       string          `json:"Type"`
			Properties json.RawMessage `json:"Properties"`
		} `json:"Resources"`
	}
	if err := readTemplate(path, &tpl); err != nil {
		return hubOrganization{}, false, err
	}
	hub := hubOrganization{Roles: map[string]functionRole{}}
	type role struct {
		Path                     string          `json:"Path"`
		AssumeRolePolicyDocument json.RawMessage `json:"AssumeRolePolicyDocument"`
	}
	roles := map[string]role{}
	functionRoles := map[string]string{} // function name → role logical id
	for _, id := range sortedKeys(tpl.Resources) {
		r := tpl.Resources[id]
		switch r.Type {
		case "AWS::CloudFormation::StackSet":
			var p struct {
				StackInstancesGroup []struct {
					DeploymentTargets struct {
						OrganizationalUnitIds []string `json:"OrganizationalUnitIds"`
					} `json:"DeploymentTargets"`
				} `json:"StackInstancesGroup"`
			}
			if err := json.Unmarshal(r.Properties, &p); err != nil {
				return hub, false, fmt.Errorf("%s: StackSet %s: %w", path, id, err)
			}
			for _, g := range p.StackInstancesGroup {
				hub.OrganizationalUnits = append(hub.OrganizationalUnits, g.DeploymentTargets.OrganizationalUnitIds...)
			}
			ok = true
		case "AWS::Events::EventBus":
			var p struct {
				Name string `json:"Name"`
			}
			_ = json.Unmarshal(r.Properties, &p)
			hub.Bus = p.Name
			hub.busIDs = append(hub.busIDs, id)
		case "AWS::Events::EventBusPolicy":
			var p struct {
				Statement json.RawMessage `json:"Statement"`
			}
			var st struct {
				Condition struct {
					StringEquals struct {
						OrgID string `json:"aws:PrincipalOrgID"`
					} `json:"StringEquals"`
				} `json:"Condition"`
			}
			_ = json.Unmarshal(r.Properties, &p)
			_ = json.Unmarshal(p.Statement, &st)
			hub.BusPolicy, hub.OrganizationID = p.Statement, st.Condition.StringEquals.OrgID
		case "AWS::IAM::Role":
			var p role
			if err := json.Unmarshal(r.Properties, &p); err != nil {
				return hub, false, fmt.Errorf("%s: role %s: %w", path, id, err)
			}
			roles[id] = p
		case "AWS::StepFunctions::StateMachine":
			var p struct {
				DefinitionString        string         `json:"DefinitionString"`
				DefinitionSubstitutions map[string]any `json:"DefinitionSubstitutions"`
			}
			if err := json.Unmarshal(r.Properties, &p); err != nil {
				return hub, false, fmt.Errorf("%s: state machine %s: %w", path, id, err)
			}
			hub.Definition, hub.Settings = p.DefinitionString, map[string]string{}
			for k, v := range p.DefinitionSubstitutions {
				if lit, isString := v.(string); isString {
					hub.Settings[k] = lit
				}
			}
		case "AWS::Lambda::Function":
			var p struct {
				Role struct {
					GetAtt []string `json:"Fn::GetAtt"`
				} `json:"Role"`
			}
			i := strings.Index(id, "Function")
			if json.Unmarshal(r.Properties, &p) == nil && i > 0 && len(p.Role.GetAtt) == 2 {
				functionRoles[strings.ToLower(id[:1])+id[1:i]] = p.Role.GetAtt[0]
			}
		}
	}
	if !ok {
		return hub, false, nil
	}
	if hub.Bus == "" || hub.OrganizationID == "" {
		return hub, false, fmt.Errorf("%s: the member StackSet is there but not the hub bus and its organization policy", path)
	}
	if hub.Definition == "" {
		return hub, false, fmt.Errorf("%s: the hub template has no state machine definition", path)
	}
	for fn, id := range functionRoles {
		r, found := roles[id]
		if !found {
			return hub, false, fmt.Errorf("%s: the %s function's role %s is not a role of the template", path, fn, id)
		}
		if r.Path == "" {
			r.Path = "/"
		}
		hub.Roles[fn] = functionRole{LogicalID: id, Path: r.Path, Trust: r.AssumeRolePolicyDocument}
	}
	return hub, true, nil
}

// memberResource is one resource of the member template.
type memberResource struct {
	id         string
	Type       string          `json:"Type"`
	Properties json.RawMessage `json:"Properties"`
}

// memberResourcesSkipped are the member template's resource types the
// drill does not deploy, and why: localaws does not evaluate identity
// policies, and does not emulate KMS.
var memberResourcesSkipped = map[string]string{
	"AWS::IAM::Policy": "identity policies are not evaluated by localaws",
	"AWS::KMS::Key":    "KMS is not emulated",
	"AWS::KMS::Alias":  "KMS is not emulated",
}

// deployMember "deploys" the member template into a member account as
// CloudFormation would, in dependency order: its managed policies, its
// roles with their trust policies as written (intrinsics resolved with the
// hub account as HubAccountId), then its rules on the default bus, each
// forwarding to the hub bus. It returns the ARNs it created by logical id.
func deployMember(path string, member *localaws.Server, hub string) (map[string]string, error) {
	var tpl struct {
		Parameters map[string]json.RawMessage `json:"Parameters"`
		Resources  map[string]memberResource  `json:"Resources"`
	}
	if err := readTemplate(path, &tpl); err != nil {
		return nil, err
	}
	account := member.AccountID()
	values := intrinsics{
		"AWS::AccountId": account, "AWS::Partition": "aws", "AWS::Region": member.Region(), "AWS::URLSuffix": "amazonaws.com",
		"HubAccountId": hub,
	}
	for p := range tpl.Parameters {
		if _, ok := values[p]; !ok {
			return nil, fmt.Errorf("%s: parameter %s has no drill value", path, p)
		}
	}
	byType := map[string][]memberResource{}
	for _, id := range sortedKeys(tpl.Resources) {
		r := tpl.Resources[id]
		r.id = id
		byType[r.Type] = append(byType[r.Type], r)
	}
	for t := range byType {
		switch t {
		case "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::Events::Rule":
		default:
			if _, ok := memberResourcesSkipped[t]; !ok {
				return nil, fmt.Errorf("%s: the drill does not deploy %s resources", path, t)
			}
		}
	}
	created := map[string]string{}
	for _, r := range byType["AWS::IAM::ManagedPolicy"] {
		var p struct {
			Name     string          `json:"ManagedPolicyName"`
			Path     string          `json:"Path"`
			Document json.RawMessage `json:"PolicyDocument"`
		}
		if err := json.Unmarshal(r.Properties, &p); err != nil {
			return nil, fmt.Errorf("%s: policy %s: %w", path, r.id, err)
		}
		doc, err := values.resolveJSON(p.Document)
		if err != nil {
			return nil, fmt.Errorf("%s: policy %s: %w", path, r.id, err)
		}
		if p.Path == "" {
			p.Path = "/"
		}
		arn, err := member.CreateManagedPolicyAt(p.Path, p.Name, doc)
		if err != nil {
			return nil, err
		}
		values[r.id], created[r.id] = arn, arn
	}
	for _, r := range byType["AWS::IAM::Role"] {
		var p struct {
			Name  string          `json:"RoleName"`
			Path  string          `json:"Path"`
			Trust json.RawMessage `json:"AssumeRolePolicyDocument"`
		}
		if err := json.Unmarshal(r.Properties, &p); err != nil {
			return nil, fmt.Errorf("%s: role %s: %w", path, r.id, err)
		}
		trust, err := values.resolveJSON(p.Trust)
		if err != nil {
			return nil, fmt.Errorf("%s: role %s: %w", path, r.id, err)
		}
		arn, err := member.CreateRole(localaws.Role{Name: p.Name, Path: p.Path, TrustPolicy: trust})
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", account, err)
		}
		values[r.id], values[r.id+".Arn"], created[r.id] = p.Name, arn, arn
	}
	for _, r := range byType["AWS::Events::Rule"] {
		var p struct {
			EventPattern json.RawMessage `json:"EventPattern"`
			State        string          `json:"State"`
			Targets      []struct {
				Arn json.RawMessage `json:"Arn"`
			} `json:"Targets"`
		}
		if err := json.Unmarshal(r.Properties, &p); err != nil {
			return nil, fmt.Errorf("%s: rule %s: %w", path, r.id, err)
		}
		if p.State == "DISABLED" {
			continue
		}
		pattern, err := values.resolveJSON(p.EventPattern)
		if err != nil {
			return nil, fmt.Errorf("%s: rule %s: %w", path, r.id, err)
		}
		if len(p.Targets) != 1 {
			return nil, fmt.Errorf("%s: rule %s has %d targets; the drill forwards to one bus", path, r.id, len(p.Targets))
		}
		target, err := values.resolveString(p.Targets[0].Arn)
		if err != nil {
			return nil, fmt.Errorf("%s: rule %s: %w", path, r.id, err)
		}
		if err := member.AddForwardRule("default", r.id, pattern, target); err != nil {
			return nil, err
		}
	}
	return created, nil
}

// memberTemplate is the member template synthesized with a hub template:
// <dir>/member/KeywardenMember.template.json.
func memberTemplate(hubTemplate string) string {
	return filepath.Join(filepath.Dir(hubTemplate), "member", "KeywardenMember.template.json")
}

// sortedRoleFunctions lists hub.Roles' function names in order.
func (h hubOrganization) sortedRoleFunctions() []string {
	names := make([]string, 0, len(h.Roles))
	for n := range h.Roles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
