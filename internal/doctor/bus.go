package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// checkOrganizationBus: the hub bus exists and its policy lets the
// organization's accounts, and only them, put events on it. Without it
// every member's forwarded signal is refused.
func checkOrganizationBus(ctx context.Context, client EventBridge, h hub) Result {
	r := Result{ID: "organization-bus", Title: "Organization bus"}
	out, err := client.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String(h.bus)})
	var notFound *ebtypes.ResourceNotFoundException
	if errors.As(err, &notFound) {
		r.Status = Fail
		r.Detail = fmt.Sprintf("no event bus %s: every member's forwarded signal is refused", h.bus)
		r.Fix = "deploy the hub (cdk deploy), which creates it"
		return r
	}
	if err != nil {
		return callFailed(r.ID, r.Title, "events:DescribeEventBus", err)
	}
	fix := fmt.Sprintf("deploy the hub (cdk deploy): its bus policy allows events:PutEvents to principals whose aws:PrincipalOrgID is %s, and to no one else", h.scope.OrganizationID)
	policy := aws.ToString(out.Policy)
	if policy == "" {
		r.Status, r.Fix = Fail, fix
		r.Detail = fmt.Sprintf("%s has no policy: only the hub account may put events on it, so every member's forwarded signal is refused", h.bus)
		return r
	}
	allowsOrg, open, others, err := readBusPolicy(policy, h.scope.OrganizationID)
	switch {
	case err != nil:
		r.Status, r.Fix = Fail, fix
		r.Detail = fmt.Sprintf("%s's policy cannot be read: %v", h.bus, err)
	case open:
		r.Status, r.Fix = Fail, fix
		r.Detail = fmt.Sprintf("%s's policy lets any AWS account put events on it, not only the organization's: anyone could start a response", h.bus)
	case !allowsOrg && len(others) > 0:
		r.Status, r.Fix = Fail, fix
		r.Detail = fmt.Sprintf("%s's policy names the organization %s, not %s: every member's forwarded signal is refused", h.bus, strings.Join(others, ", "), h.scope.OrganizationID)
	case !allowsOrg:
		r.Status, r.Fix = Fail, fix
		r.Detail = fmt.Sprintf("%s's policy does not allow events:PutEvents to the organization %s: every member's forwarded signal is refused", h.bus, h.scope.OrganizationID)
	default:
		r.Status = Pass
		r.Detail = fmt.Sprintf("%s accepts events:PutEvents from the organization %s only", h.bus, h.scope.OrganizationID)
	}
	return r
}

type policyStatement struct {
	Effect    string
	Principal any
	Action    any
	Condition map[string]map[string]any
}

// readBusPolicy: does an Allow statement for events:PutEvents require
// aws:PrincipalOrgID = org; does one allow any principal without naming
// an organization; which other organizations do statements name.
func readBusPolicy(policy, org string) (allowsOrg, open bool, others []string, err error) {
	var doc struct{ Statement json.RawMessage }
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return false, false, nil, err
	}
	var stmts []policyStatement
	if err := json.Unmarshal(doc.Statement, &stmts); err != nil {
		var one policyStatement
		if err := json.Unmarshal(doc.Statement, &one); err != nil {
			return false, false, nil, fmt.Errorf("no statement: %w", err)
		}
		stmts = []policyStatement{one}
	}
	for _, s := range stmts {
		if s.Effect != "Allow" || !anyOf(s.Action, "events:PutEvents", "events:*", "*") {
			continue
		}
		var orgs []string
		for op, cond := range s.Condition {
			if !strings.HasPrefix(op, "StringEquals") && !strings.HasPrefix(op, "StringLike") {
				continue
			}
			for key, v := range cond {
				if strings.EqualFold(key, "aws:PrincipalOrgID") {
					orgs = append(orgs, strings.Fields(strings.Trim(fmt.Sprint(v), "[]"))...)
				}
			}
		}
		switch {
		case containsString(orgs, org):
			allowsOrg = true
		case len(orgs) > 0:
			others = append(others, orgs...)
		case anyPrincipal(s.Principal):
			open = true
		}
	}
	return allowsOrg, open, others, nil
}

// anyOf: an IAM field (a string or a list) holds one of the values.
func anyOf(field any, values ...string) bool {
	switch f := field.(type) {
	case string:
		return containsString(values, f)
	case []any:
		for _, v := range f {
			if s, ok := v.(string); ok && containsString(values, s) {
				return true
			}
		}
	}
	return false
}

func anyPrincipal(p any) bool {
	if s, ok := p.(string); ok {
		return s == "*"
	}
	if m, ok := p.(map[string]any); ok {
		return anyOf(m["AWS"], "*")
	}
	return false
}
