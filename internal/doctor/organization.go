package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/settings"
)

// Organization mode: a hub stack names its mode, scope, StackSet and bus
// in outputs (infra/organization.go, newOrganizationOutputs); a
// per-account stack has none of them, and these checks do not run there.
const (
	outMode                = "Mode"
	outOrganizationID      = "OrganizationId"
	outOrganizationalUnits = "OrganizationalUnits"
	outExcludedAccounts    = "ExcludedAccounts"
	outOptOutTag           = "OptOutTag"
	outStackSetName        = "StackSetName"
	outStackSetCallAs      = "StackSetCallAs"
	outOrganizationBus     = "OrganizationBusName"
	noExcludedAccounts     = "none"
	outputListSeparator    = ","
	// maxInstancePages bounds ListStackInstances (100 instances a page).
	maxInstancePages = 100
	// stackSetsPrincipal is StackSets' service principal in Organizations.
	stackSetsPrincipal = "member.org.stacksets.cloudformation.amazonaws.com"
)

var organizationOutputs = []string{outMode, outOrganizationID, outOrganizationalUnits, outExcludedAccounts, outOptOutTag,
	outStackSetName, outStackSetCallAs, outOrganizationBus}

// organizationActions are the Organizations reads of the inventory
// (internal/inventory), which only the management account and a delegated
// administrator for Organizations may make.
const organizationActions = "organizations:DescribeOrganization, ListAccounts, ListRoots, ListAccountsForParent, " +
	"ListOrganizationalUnitsForParent and ListTagsForResource (allowed only in the management account or a delegated administrator for Organizations)"

// hub is what a hub stack's outputs say about the organization.
type hub struct {
	account  string
	scope    settings.Scope
	stackSet string
	callAs   cfntypes.CallAs
	bus      string
}

func (s *stack) organizationMode() bool { return s.output(outMode) == settings.ModeOrganization }

// hubOf reads the hub's outputs; missing names the first one absent.
func hubOf(s *stack) (h hub, missing string) {
	for _, k := range organizationOutputs {
		if s.output(k) == "" {
			return h, k
		}
	}
	split := func(v string) []string {
		if v == "" || v == noExcludedAccounts {
			return nil
		}
		return strings.Split(v, outputListSeparator)
	}
	return hub{
		account: s.account,
		scope: settings.Scope{OrganizationID: s.output(outOrganizationID), OrganizationalUnits: split(s.output(outOrganizationalUnits)),
			ExcludedAccounts: split(s.output(outExcludedAccounts)), OptOutTag: s.output(outOptOutTag)},
		stackSet: s.output(outStackSetName),
		callAs:   cfntypes.CallAs(s.output(outStackSetCallAs)),
		bus:      s.output(outOrganizationBus),
	}, ""
}

// cli is the AWS CLI's arguments naming the StackSet as the hub calls it.
func (h hub) cli() string {
	return fmt.Sprintf("--stack-set-name %s --call-as %s", h.stackSet, h.callAs)
}

// targets is --deployment-targets for accounts under ous.
func targets(ous, accounts []string) string {
	return fmt.Sprintf("--regions %s --deployment-targets OrganizationalUnitIds=%s,Accounts=%s,AccountFilterType=INTERSECTION",
		requiredRegion, strings.Join(ous, ","), strings.Join(accounts, ","))
}

// checkOrganization runs the organization checks, in a fixed order.
func (d Doctor) checkOrganization(ctx context.Context, s *stack, now func() time.Time, add func(Result)) {
	ids := []struct{ id, title string }{
		{"stackset", "Member StackSet"}, {"stack-instances", "Member stack instances"},
		{"member-accounts", "In-scope accounts' member stacks"}, {"organization-bus", "Organization bus"},
		{"organization-trail", "Organization trail"},
	}
	if mode := s.output(outMode); mode != settings.ModeOrganization {
		add(Result{ID: "mode", Title: "Deployment mode", Status: Fail,
			Detail: fmt.Sprintf("unknown %s %q: doctor knows %s (no output) and %s", outMode, mode, settings.ModeAccount, settings.ModeOrganization),
			Fix:    "deploy the current keywarden (cdk deploy)"})
		return
	}
	h, missing := hubOf(s)
	if missing != "" {
		for _, c := range ids {
			add(notChecked(c.id, c.title, missing))
		}
		return
	}
	setResult, found := checkStackSet(ctx, d.Clients.CloudFormation, h)
	add(setResult)
	if !found {
		for _, c := range ids[1:3] {
			add(Result{ID: c.id, Title: c.title, Status: Fail, Detail: "not checked: the StackSet could not be read",
				Fix: "fix the StackSet (above), then run doctor again"})
		}
	} else {
		instances, err := listStackInstances(ctx, d.Clients.CloudFormation, h)
		add(checkStackInstances(instances, err, h))
		add(checkMemberAccounts(ctx, d.Clients.Organizations, instances, err, h, now))
	}
	add(checkOrganizationBus(ctx, d.Clients.EventBridge, h))
	add(checkOrganizationTrail(ctx, d.Clients.CloudTrail))
}

// checkStackSet: the StackSet that deploys the member template exists as
// the hub calls it, is active, and deploys to accounts that join the OUs.
func checkStackSet(ctx context.Context, cfn CloudFormation, h hub) (Result, bool) {
	r := Result{ID: "stackset", Title: "Member StackSet"}
	out, err := cfn.DescribeStackSet(ctx, &cloudformation.DescribeStackSetInput{StackSetName: aws.String(h.stackSet), CallAs: h.callAs})
	var notFound *cfntypes.StackSetNotFoundException
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &notFound):
		r.Status = Fail
		r.Detail = fmt.Sprintf("no StackSet %s (called as %s): no member account receives keywarden's roles and forwarding rules", h.stackSet, h.callAs)
		r.Fix = "deploy the hub (cdk deploy), which creates it; if the hub is deployed, its MemberStackSet resource failed: read the stack's events"
		return r, false
	case errors.As(err, &apiErr) && strings.Contains(apiErr.ErrorMessage(), "not a delegated administrator"):
		r.Status = Fail
		r.Detail = fmt.Sprintf("called as DELEGATED_ADMIN, CloudFormation answers %q: the hub account %s is not a delegated administrator for StackSets, "+
			"or the credentials running doctor may not call organizations:ListDelegatedAdministrators (AWS says the same for both)", apiErr.ErrorMessage(), orNone(h.account))
		r.Fix = fmt.Sprintf("allow organizations:ListDelegatedAdministrators to doctor's credentials; if it is allowed, register the hub from the management account: "+
			"aws organizations register-delegated-administrator --service-principal %s --account-id %s", stackSetsPrincipal, orNone(h.account))
		return r, false
	case err != nil:
		return callFailed(r.ID, r.Title, "cloudformation:DescribeStackSet", err), false
	}
	set := out.StackSet
	if set == nil {
		set = &cfntypes.StackSet{}
	}
	var problems []string
	if set.Status != cfntypes.StackSetStatusActive {
		problems = append(problems, fmt.Sprintf("its status is %s, not ACTIVE", set.Status))
	}
	if set.PermissionModel != cfntypes.PermissionModelsServiceManaged {
		problems = append(problems, fmt.Sprintf("its permission model is %s, not SERVICE_MANAGED: it is not the hub's", set.PermissionModel))
	}
	if set.AutoDeployment == nil || !aws.ToBool(set.AutoDeployment.Enabled) {
		problems = append(problems, "automatic deployment is off: an account that joins the OUs gets no member stack")
	}
	if len(problems) > 0 {
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s: %s", h.stackSet, strings.Join(problems, "; "))
		r.Fix = fmt.Sprintf("deploy the hub (cdk deploy): its StackSet is SERVICE_MANAGED with automatic deployment on; or at once: "+
			"aws cloudformation update-stack-set %s --use-previous-template --capabilities CAPABILITY_NAMED_IAM "+
			"--auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false", h.cli())
		return r, true
	}
	r.Status = Pass
	r.Detail = fmt.Sprintf("%s is ACTIVE, SERVICE_MANAGED, with automatic deployment (called as %s)", h.stackSet, h.callAs)
	return r, true
}

// listStackInstances reads every instance of the StackSet.
func listStackInstances(ctx context.Context, cfn CloudFormation, h hub) ([]cfntypes.StackInstanceSummary, error) {
	var all []cfntypes.StackInstanceSummary
	in := &cloudformation.ListStackInstancesInput{StackSetName: aws.String(h.stackSet), CallAs: h.callAs, MaxResults: aws.Int32(100)}
	for range maxInstancePages {
		out, err := cfn.ListStackInstances(ctx, in)
		if err != nil {
			return nil, err
		}
		all = append(all, out.Summaries...)
		if aws.ToString(out.NextToken) == "" {
			return all, nil
		}
		in.NextToken = out.NextToken
	}
	return nil, fmt.Errorf("more than %d pages of stack instances", maxInstancePages)
}

func instanceOU(in cfntypes.StackInstanceSummary) string {
	if ou := aws.ToString(in.OrganizationalUnitId); ou != "" {
		return ou
	}
	return "OU_ID"
}

// checkStackInstances: every instance is CURRENT; an OUTDATED one missed
// the last update (or failed to deploy), an INOPERABLE one is stuck.
func checkStackInstances(instances []cfntypes.StackInstanceSummary, err error, h hub) Result {
	r := Result{ID: "stack-instances", Title: "Member stack instances"}
	if err != nil {
		return callFailed(r.ID, r.Title, "cloudformation:ListStackInstances", err)
	}
	if len(instances) == 0 {
		r.Status = Fail
		r.Detail = "the StackSet has no stack instance: no member account has keywarden's roles or forwarding rules"
		r.Fix = fmt.Sprintf("check that organizationalUnits (%s) hold accounts, and the StackSet's operations: aws cloudformation list-stack-set-operations %s",
			strings.Join(h.scope.OrganizationalUnits, ", "), h.cli())
		return r
	}
	var bad, fixes []string
	for _, in := range instances {
		if in.Status == cfntypes.StackInstanceStatusCurrent {
			continue
		}
		account, detailed := aws.ToString(in.Account), ""
		if in.StackInstanceStatus != nil && in.StackInstanceStatus.DetailedStatus != "" {
			detailed = " (" + string(in.StackInstanceStatus.DetailedStatus) + ")"
		}
		reason := aws.ToString(in.StatusReason)
		if reason == "" {
			reason = "no reason given"
		}
		bad = append(bad, fmt.Sprintf("%s %s %s%s: %s", account, aws.ToString(in.Region), in.Status, detailed, reason))
		ous, accounts := []string{instanceOU(in)}, []string{account}
		if in.Status == cfntypes.StackInstanceStatusInoperable {
			fixes = append(fixes, fmt.Sprintf("%s: aws cloudformation delete-stack-instances %s %s --retain-stacks, delete its stack in the account, then "+
				"aws cloudformation create-stack-instances %s %s", account, h.cli(), targets(ous, accounts), h.cli(), targets(ous, accounts)))
		} else {
			fixes = append(fixes, fmt.Sprintf("%s: aws cloudformation update-stack-instances %s %s", account, h.cli(), targets(ous, accounts)))
		}
	}
	if len(bad) == 0 {
		r.Status, r.Detail = Pass, fmt.Sprintf("all %d CURRENT", len(instances))
		return r
	}
	r.Status = Fail
	r.Detail = fmt.Sprintf("%d of %d not CURRENT: the member stack there is missing or older than the hub's template\n%s",
		len(bad), len(instances), strings.Join(bad, "\n"))
	r.Fix = "fix each cause (the reason above), then deploy again:\n" + strings.Join(fixes, "\n")
	return r
}

// checkMemberAccounts: each account the hub may act in (internal/inventory
// over the stack's scope) has a CURRENT member stack in us-east-1, or a
// response there ends in "member role not deployed"; and no account out
// of scope has one, except those opted out by tag (the StackSet deploys
// by OU; the tag only stops the hub from acting).
func checkMemberAccounts(ctx context.Context, orgs Organizations, instances []cfntypes.StackInstanceSummary, listErr error, h hub, now func() time.Time) Result {
	r := Result{ID: "member-accounts", Title: "In-scope accounts' member stacks"}
	if listErr != nil {
		return callFailed(r.ID, r.Title, "cloudformation:ListStackInstances", listErr)
	}
	inv, err := inventory.New(orgs, h.scope.Organization(), inventory.Options{Now: now})
	var snap *inventory.Snapshot
	if err == nil {
		snap, err = inv.Accounts(ctx)
	}
	switch {
	case errors.Is(err, inventory.ErrWrongOrganization), errors.Is(err, inventory.ErrUnknownOU):
		r.Status, r.Detail = Fail, err.Error()
		r.Fix = "run doctor with credentials of the hub's organization; if they are, correct organizationId or organizationalUnits in cdk.json and cdk deploy"
		return r
	case err != nil:
		return callFailed(r.ID, r.Title, organizationActions, err)
	}
	status := map[string]cfntypes.StackInstanceStatus{}
	ouOf := map[string]string{}
	for _, in := range instances {
		if aws.ToString(in.Region) == requiredRegion {
			status[aws.ToString(in.Account)] = in.Status
			ouOf[aws.ToString(in.Account)] = instanceOU(in)
		}
	}
	var missing, missingIDs, outside, outsideIDs, outsideOUs []string
	for _, a := range snap.Accounts {
		switch st, ok := status[a.ID]; {
		case !ok:
			missing = append(missing, fmt.Sprintf("%s (%s): no stack instance", a.ID, a.Name))
			missingIDs = append(missingIDs, a.ID)
		case st != cfntypes.StackInstanceStatusCurrent:
			missing = append(missing, fmt.Sprintf("%s (%s): its instance is %s", a.ID, a.Name, st))
		}
	}
	optedOut := 0
	for _, in := range instances {
		account := aws.ToString(in.Account)
		d := snap.Decide(account)
		switch {
		case d.InScope || aws.ToString(in.Region) != requiredRegion:
		case d.Reason == inventory.ReasonOptedOut:
			optedOut++
		default:
			name := ""
			if d.Name != "" {
				name = " (" + d.Name + ")"
			}
			outside = append(outside, fmt.Sprintf("%s%s: %s", account, name, d.Reason))
			outsideIDs = append(outsideIDs, account)
			if ou := ouOf[account]; !containsString(outsideOUs, ou) {
				outsideOUs = append(outsideOUs, ou)
			}
		}
	}
	var details, fixes []string
	if len(missing) > 0 {
		details = append(details, fmt.Sprintf("%d of %d in-scope accounts %s no CURRENT member stack: a response there ends in \"member role not deployed\"\n%s",
			len(missing), len(snap.Accounts), plural(len(missing), "has", "have"), strings.Join(missing, "\n")))
		if len(missingIDs) > 0 {
			fixes = append(fixes, fmt.Sprintf("find why the StackSet skipped %s (aws cloudformation list-stack-set-operations %s), then deploy there: aws cloudformation create-stack-instances %s %s",
				strings.Join(missingIDs, ", "), h.cli(), h.cli(), targets(h.scope.OrganizationalUnits, missingIDs)))
		}
		if len(missingIDs) < len(missing) {
			fixes = append(fixes, "an OUTDATED or INOPERABLE instance: see Member stack instances")
		}
	}
	if len(outside) > 0 {
		details = append(details, fmt.Sprintf("%d out-of-scope %s a member stack: the hub never acts there, but its roles trust the hub\n%s",
			len(outside), plural(len(outside), "account has", "accounts have"), strings.Join(outside, "\n")))
		fixes = append(fixes, fmt.Sprintf("if the settings changed since the last deploy, deploy the hub (cdk deploy); else remove them: aws cloudformation delete-stack-instances %s %s --no-retain-stacks",
			h.cli(), targets(outsideOUs, outsideIDs)))
	}
	if optedOut > 0 {
		details = append(details, fmt.Sprintf("%d opted-out %s one too, as expected: the StackSet deploys by OU, the %s tag stops the hub from acting",
			optedOut, plural(optedOut, "account has", "accounts have"), h.scope.OptOutTag))
	}
	switch {
	case len(missing) > 0:
		r.Status = Fail
	case len(outside) > 0:
		r.Status = Warn
	default:
		r.Status = Pass
		details = append([]string{fmt.Sprintf("all %d in-scope accounts of %s have a CURRENT member stack in %s", len(snap.Accounts), h.scope.OrganizationID, requiredRegion)}, details...)
		r.Detail = strings.Join(details, "; ")
		return r
	}
	r.Detail = strings.Join(details, "\n")
	r.Fix = strings.Join(fixes, "\n")
	return r
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func containsString(list []string, s string) bool { return slices.Contains(list, s) }

// checkOrganizationTrail: members' IAM calls reach their own EventBridge,
// and so the forwarding rules, only while a trail logs them; an
// organization trail logs every member.
func checkOrganizationTrail(ctx context.Context, client CloudTrail) Result {
	r := Result{ID: "organization-trail", Title: "Organization trail"}
	out, err := client.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		return callFailed(r.ID, r.Title, "cloudtrail:DescribeTrails", err)
	}
	var problems []string
	for _, t := range out.TrailList {
		if !aws.ToBool(t.IsOrganizationTrail) {
			continue
		}
		problem, action, err := trailProblem(ctx, client, t)
		if err != nil {
			return callFailed(r.ID, r.Title, action, err)
		}
		if problem != "" {
			problems = append(problems, problem)
			continue
		}
		r.Status = Pass
		r.Detail = fmt.Sprintf("%s logs every member's write management events (%s)", aws.ToString(t.Name), scope(t))
		return r
	}
	r.Status = Warn
	consequence := "members' IAM calls (key creation, the calls the tamper watch reads) never reach their EventBridge, so none is forwarded to the hub; " +
		"exposed-key signals (Trusted Advisor, Health) still are"
	if len(problems) == 0 {
		r.Detail = "no organization trail: " + consequence
	} else {
		r.Detail = "no organization trail logs write management events in us-east-1 (" + strings.Join(problems, "; ") + "): " + consequence
	}
	r.Fix = fmt.Sprintf("from the management account (or CloudTrail's delegated administrator): aws cloudtrail create-trail --region %s --name keywarden-organization-trail "+
		"--s3-bucket-name BUCKET --is-organization-trail --is-multi-region-trail && aws cloudtrail start-logging --region %s --name keywarden-organization-trail "+
		"(or start logging the existing one)", requiredRegion, requiredRegion)
	return r
}
