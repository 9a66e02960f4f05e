package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/keywarden/keywarden/internal/exposure"
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/member"
	"github.com/keywarden/keywarden/internal/settings"
)

const testOrganizationID = "o-a1b2c3d4e5"

var organizationSettings = map[string]any{
	"mode": "organization", "organizationId": testOrganizationID,
	"organizationalUnits": []any{"ou-ab12-cd34ef56", "r-ab12"}, "excludedAccounts": []any{"111111111111"},
	"stackSetCallAs": "SELF", "revokeWith": "attachedPolicy",
	// keyAge is cdk.json's, rotation on: the hub rotates through each
	// member's rotate role.
}

// The organization variant: the hub, and the member stack synthesized
// into its StackSet.
var (
	orgOnce                sync.Once
	orgStack, orgMember    awscdk.Stack
	orgTmpl, orgMemberTmpl *cfnTemplate
	orgErr                 error
)

func organizationVariant(t *testing.T) (awscdk.Stack, *cfnTemplate, awscdk.Stack, *cfnTemplate) {
	t.Helper()
	orgOnce.Do(func() {
		defer func() {
			if r := recover(); r != nil {
				orgErr, _ = r.(error)
				if orgErr == nil {
					t.Errorf("synthesis failed: %v", r)
				}
			}
		}()
		ctx := maps.Clone(cdkContext)
		ctx["aws:cdk:enable-path-metadata"] = true
		maps.Copy(ctx, organizationSettings)
		if _, orgStack, orgMember, orgErr = newApps(repoRoot, ctx); orgErr != nil {
			return
		}
		if orgTmpl, orgErr = parseTemplate(assertions.Template_FromStack(orgStack, nil)); orgErr != nil {
			return
		}
		orgMemberTmpl, orgErr = parseTemplate(assertions.Template_FromStack(orgMember, nil))
	})
	if orgErr != nil || orgTmpl == nil {
		t.Fatal(orgErr)
	}
	return orgStack, orgTmpl, orgMember, orgMemberTmpl
}

// memberID is the logical id of the member resource at KeywardenMember/<path>.
func memberID(t *testing.T, tmpl *cfnTemplate, path string) string {
	t.Helper()
	id, _ := memberAt(t, tmpl, path)
	return id
}

// memberAt is the member resource at construct path KeywardenMember/<path>.
func memberAt(t *testing.T, tmpl *cfnTemplate, path string) (string, cfnResource) {
	t.Helper()
	for id, r := range tmpl.Resources {
		if r.Metadata["aws:cdk:path"] == memberStackName+"/"+path {
			return id, r
		}
	}
	t.Fatalf("no member resource at %s", path)
	return "", cfnResource{}
}

func sub(s string) any { return map[string]any{"Fn::Sub": s} }

// Each member role: its fixed name, exactly its actions, statement by
// statement, and exactly its trust: the hub account's root, conditioned on
// a keywarden role of the hub (by path), of the organization, with a
// source identity; for AssumeRole and SetSourceIdentity alike.
func TestMemberRoles(t *testing.T) {
	_, _, _, tmpl := organizationVariant(t)
	_, policy := memberAt(t, tmpl, revokePolicyID+"/Resource")
	policyID, _ := memberAt(t, tmpl, revokePolicyID+"/Resource")
	users := usersArn
	conditions := map[string]any{
		"ArnLike":      map[string]any{"aws:PrincipalArn": sub("arn:${AWS::Partition}:iam::${HubAccountId}:role/keywarden/*")},
		"StringEquals": map[string]any{"aws:PrincipalOrgID": testOrganizationID},
		"Null":         map[string]any{"sts:SourceIdentity": "false"},
	}
	hubRoot := map[string]any{"AWS": map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":iam::", ref("HubAccountId"), ":root"}}}}
	trust := map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": hubRoot, "Condition": conditions},
		map[string]any{"Action": "sts:SetSourceIdentity", "Effect": "Allow", "Principal": hubRoot, "Condition": conditions},
	}}
	stmt := func(sid string, actions []string, resource any, condition map[string]any) map[string]any {
		s := map[string]any{"Sid": sid, "Effect": "Allow", "Resource": resource}
		if len(actions) == 1 {
			s["Action"] = actions[0]
		} else {
			a := make([]any, len(actions))
			for i, x := range actions {
				a[i] = x
			}
			s["Action"] = a
		}
		if condition != nil {
			s["Condition"] = condition
		}
		return s
	}
	for _, tc := range []struct {
		id, name string
		want     []map[string]any
	}{
		{"ReadRole", memberReadRole, []map[string]any{
			stmt("ReadCredentialReport", []string{"iam:GenerateCredentialReport", "iam:GetCredentialReport"}, "*", nil),
			stmt("LookupCloudTrailEvents", []string{"cloudtrail:LookupEvents"}, "*", nil),
			stmt("ReadUsersAndKeys", []string{"iam:GetAccessKeyLastUsed", "iam:ListAccessKeys", "iam:ListUserTags"}, users, nil),
		}},
		{"RespondRole", memberRespondRole, []map[string]any{
			stmt("DeactivateDeleteAndReadKeys", []string{"iam:DeleteAccessKey", "iam:ListAccessKeys", "iam:UpdateAccessKey"}, users, nil),
			stmt("AttachDenyTemporarySessions", []string{"iam:AttachUserPolicy"}, users,
				map[string]any{"ArnEquals": map[string]any{"iam:PolicyARN": ref(policyID)}}),
		}},
		// rotate (rotation on): a key for a user carrying the rotation
		// tag, its secret under the member's own key, and the deletion of
		// the key a rotation makes room for or rolls back.
		{"RotateRole", memberRotateRole, []map[string]any{
			stmt("ReplaceKeys", []string{"iam:DeleteAccessKey", "iam:ListAccessKeys"}, users, nil),
			stmt("CreateKeysForRotationUsers", []string{"iam:CreateAccessKey"}, users,
				map[string]any{"StringEqualsIgnoreCase": map[string]any{"aws:ResourceTag/keywarden:rotate": "true"}}),
			stmt("WriteRotatedKeySecrets", []string{"secretsmanager:CreateSecret", "secretsmanager:DescribeSecret", "secretsmanager:PutResourcePolicy",
				"secretsmanager:PutSecretValue"}, map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":secretsmanager:",
				ref("AWS::Region"), ":", ref("AWS::AccountId"), ":secret:keywarden/access-key/*"}}}, nil),
			stmt("EncryptRotatedKeySecrets", []string{"kms:Decrypt", "kms:GenerateDataKey"}, getAtt(memberID(t, tmpl, "RotationSecretsKey/Resource"), "Arn"),
				map[string]any{"StringEquals": map[string]any{"kms:ViaService": map[string]any{"Fn::Join": []any{"", []any{"secretsmanager.", ref("AWS::Region"), ".amazonaws.com"}}}}}),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, role := memberAt(t, tmpl, tc.id+"/Resource")
			p := role.Properties
			if p["RoleName"] != tc.name || p["ManagedPolicyArns"] != nil || p["Policies"] != nil || p["PermissionsBoundary"] != nil {
				t.Errorf("role %s", toJSON(p))
			}
			if !reflect.DeepEqual(p["AssumeRolePolicyDocument"], trust) {
				t.Errorf("trust\n got %s\nwant %s", toJSON(p["AssumeRolePolicyDocument"]), toJSON(trust))
			}
			got := tmpl.statements(id)
			if len(got) != len(tc.want) {
				t.Fatalf("statements %s, want %s", toJSON(got), toJSON(tc.want))
			}
			for i := range got {
				if !reflect.DeepEqual(got[i], tc.want[i]) {
					t.Errorf("statement %d\n got %s\nwant %s", i, toJSON(got[i]), toJSON(tc.want[i]))
				}
			}
			for _, a := range actionsOf(got) {
				if strings.HasPrefix(a, "iam:Put") || a == "iam:CreateRole" || a == "iam:PassRole" || a == "iam:UpdateAssumeRolePolicy" ||
					strings.Contains(a, "*") {
					t.Errorf("administrator-equivalent action %s", a)
				}
			}
		})
	}
	// The deny policy is exposure.AttachedRevokePolicy, under a fixed
	// name the hub can build; no role names any ARN of the hub's.
	var want any
	_ = json.Unmarshal([]byte(exposure.AttachedRevokePolicy()), &want)
	if p := policy.Properties; !reflect.DeepEqual(p["PolicyDocument"], want) || p["ManagedPolicyName"] != memberDenyPolicyName || p["Path"] != "/keywarden/" {
		t.Errorf("deny policy %s", toJSON(p))
	}
	// Rotation is on: the rotate role and the member's own secrets key,
	// under the alias the hub builds (member.RotationKeyARN).
	if roles := tmpl.ofType("AWS::IAM::Role"); len(roles) != 4 {
		t.Errorf("member roles %v, want read, respond, rotate and forward", slices.Collect(maps.Keys(roles)))
	}
	if keys := tmpl.ofType("AWS::KMS::Key"); len(keys) != 1 {
		t.Errorf("member KMS keys %v, want the rotation key", slices.Collect(maps.Keys(keys)))
	}
	keyID, _ := memberAt(t, tmpl, "RotationSecretsKey/Resource")
	aliases := tmpl.ofType("AWS::KMS::Alias")
	if len(aliases) != 1 {
		t.Fatalf("member KMS aliases %v, want one", slices.Collect(maps.Keys(aliases)))
	}
	for _, alias := range aliases {
		if alias.Properties["AliasName"] == member.RotationKeyAlias && reflect.DeepEqual(alias.Properties["TargetKeyId"], getAtt(keyID, "Arn")) {
			continue
		}
		t.Errorf("rotation key alias %s", toJSON(alias.Properties))
	}
}

// The forwarding role may put events on the hub bus alone; each member
// rule forwards the hub's default-bus pattern there with that role.
func TestMemberForwarding(t *testing.T) {
	_, hub, _, tmpl := organizationVariant(t)
	bus := sub("arn:${AWS::Partition}:events:${AWS::Region}:${HubAccountId}:event-bus/keywarden-organization")
	id, role := memberAt(t, tmpl, "ForwardRole/Resource")
	if want := []any{map[string]any{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "events.amazonaws.com"}}}; !reflect.DeepEqual(role.Properties["AssumeRolePolicyDocument"].(map[string]any)["Statement"], want) || role.Properties["RoleName"] != memberForwardRole {
		t.Errorf("forward role %s", toJSON(role.Properties))
	}
	if got, want := tmpl.statements(id), []map[string]any{{"Action": "events:PutEvents", "Effect": "Allow", "Resource": bus}}; !reflect.DeepEqual(got, want) {
		t.Errorf("forward role statements %s, want %s", toJSON(got), toJSON(want))
	}
	policyID, _ := memberAt(t, tmpl, revokePolicyID+"/Resource")
	hubPolicy := hub.id(t, revokePolicyID+"/Resource")
	n := 0
	for _, tr := range signalTriggers(settings.Default(), []any{"x"}) {
		n++
		_, rule := memberAt(t, tmpl, "Forward"+tr.id+"/Resource")
		want := strings.ReplaceAll(toJSON(hub.at(t, tr.id+"/Resource").Properties["EventPattern"]), toJSON(ref(hubPolicy)), toJSON(ref(policyID)))
		if got := toJSON(rule.Properties["EventPattern"]); got != want {
			t.Errorf("Forward%s pattern\n got %s\nwant %s", tr.id, got, want)
		}
		targets := list(rule.Properties["Targets"])
		if len(targets) != 1 || !reflect.DeepEqual(targets[0].(map[string]any)["Arn"], bus) ||
			!reflect.DeepEqual(targets[0].(map[string]any)["RoleArn"], getAtt(id, "Arn")) {
			t.Errorf("Forward%s targets %s", tr.id, toJSON(targets))
		}
	}
	if rules := tmpl.ofType("AWS::Events::Rule"); len(rules) != n {
		t.Errorf("%d member rules, want %d", len(rules), n)
	}
}

// The hub bus accepts PutEvents from the organization alone; its rules
// are the default bus's signal rules (the detach rule: any member's deny
// policy), with the same target, retries and dead-letter queue.
func TestOrganizationBus(t *testing.T) {
	_, tmpl, _, _ := organizationVariant(t)
	busID := tmpl.id(t, "OrganizationBus/Resource")
	if p := tmpl.Resources[busID].Properties; p["Name"] != organizationBusName {
		t.Errorf("bus %s", toJSON(p))
	}
	policies := tmpl.ofType("AWS::Events::EventBusPolicy")
	want := map[string]any{"Sid": "cdk-PutEventsFromTheOrganizationOnly", "Action": "events:PutEvents", "Effect": "Allow",
		"Principal": map[string]any{"AWS": "*"}, "Resource": getAtt(busID, "Arn"),
		"Condition": map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": testOrganizationID}}}
	if len(policies) != 1 {
		t.Fatalf("bus policies %d, want 1", len(policies))
	}
	for _, p := range policies {
		if !reflect.DeepEqual(p.Properties["Statement"], want) || !reflect.DeepEqual(p.Properties["EventBusName"], ref(busID)) {
			t.Errorf("bus policy %s, want statement %s", toJSON(p.Properties), toJSON(want))
		}
	}
	policy := toJSON(ref(tmpl.id(t, revokePolicyID+"/Resource")))
	for _, tr := range signalTriggers(settings.Default(), []any{"x"}) {
		def := tmpl.at(t, tr.id+"/Resource").Properties
		org := tmpl.at(t, "Organization"+tr.id+"/Resource").Properties
		wantPattern := strings.ReplaceAll(toJSON(def["EventPattern"]), policy, toJSON(memberDenyPolicyMatch[0]))
		if got := toJSON(org["EventPattern"]); got != wantPattern {
			t.Errorf("Organization%s pattern\n got %s\nwant %s", tr.id, got, wantPattern)
		}
		if !reflect.DeepEqual(org["EventBusName"], ref(busID)) || def["EventBusName"] != nil {
			t.Errorf("%s buses: %v and %v", tr.id, org["EventBusName"], def["EventBusName"])
		}
		if !reflect.DeepEqual(org["Targets"], def["Targets"]) {
			t.Errorf("Organization%s targets %s, want the default bus's %s", tr.id, toJSON(org["Targets"]), toJSON(def["Targets"]))
		}
	}
	if !strings.Contains(toJSON(memberDenyPolicyMatch), "policy/keywarden/"+memberDenyPolicyName) {
		t.Errorf("detach match %s does not name the member's deny policy", toJSON(memberDenyPolicyMatch))
	}
}

// Hub roles that will act in members are under /keywarden/ (the members'
// trust names that path); the others, and every role of a per-account
// stack, have no path.
func TestHubRolePaths(t *testing.T) {
	_, tmpl, _, _ := organizationVariant(t)
	for _, spec := range functionSpecs {
		var want any
		if slices.Contains(memberActors, spec.name) {
			want = hubRolePath
		}
		if got := tmpl.at(t, spec.constructID()+"Role/Resource").Properties["Path"]; got != want {
			t.Errorf("%s role path %v, want %v", spec.name, got, want)
		}
		if got := defaultTmpl.at(t, spec.constructID()+"Role/Resource").Properties["Path"]; got != nil {
			t.Errorf("%s role path %v in the per-account stack", spec.name, got)
		}
	}
	if slices.Contains(memberActors, lambdafn.Alert) || slices.Contains(memberActors, lambdafn.Digest) {
		t.Error("alert and digest only publish")
	}
}

// The StackSet: service-managed, auto-deployed to the settings' OUs in
// us-east-1 without the excluded accounts, called as the settings say,
// with the member template as its body, within CloudFormation's limit.
func TestMemberStackSet(t *testing.T) {
	stack, tmpl, member, _ := organizationVariant(t)
	sets := tmpl.ofType("AWS::CloudFormation::StackSet")
	if len(sets) != 1 {
		t.Fatalf("stack sets %d", len(sets))
	}
	var p map[string]any
	for _, s := range sets {
		p = maps.Clone(s.Properties)
	}
	body, _ := p["TemplateBody"].(string)
	delete(p, "TemplateBody")
	want := map[string]any{
		"StackSetName": memberStackSetName, "PermissionModel": "SERVICE_MANAGED", "CallAs": "SELF",
		"Description":      "keywarden member accounts: forwarding rules to the hub bus, the deny policy and the hub's roles by duty",
		"AutoDeployment":   map[string]any{"Enabled": true, "RetainStacksOnAccountRemoval": false},
		"ManagedExecution": map[string]any{"Active": true},
		"Capabilities":     []any{"CAPABILITY_NAMED_IAM"},
		"OperationPreferences": map[string]any{"FailureTolerancePercentage": 10.0, "MaxConcurrentPercentage": 10.0,
			"RegionConcurrencyType": "PARALLEL"},
		"Parameters": []any{map[string]any{"ParameterKey": "HubAccountId", "ParameterValue": ref("AWS::AccountId")}},
		"StackInstancesGroup": []any{map[string]any{
			"DeploymentTargets": map[string]any{"OrganizationalUnitIds": []any{"ou-ab12-cd34ef56", "r-ab12"},
				"AccountFilterType": "DIFFERENCE", "Accounts": []any{"111111111111"}},
			"Regions": []any{"us-east-1"},
		}},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("stack set\n got %s\nwant %s", toJSON(p), toJSON(want))
	}
	if len(body) == 0 || len(body) > memberTemplateBodyLimit {
		t.Errorf("template body %d bytes, want 1 to %d", len(body), memberTemplateBodyLimit)
	}
	t.Logf("member template body: %d bytes of %d", len(body), memberTemplateBodyLimit)
	// The body is the member stack as synthesized, and holds no asset or
	// Lambda and no bootstrap check.
	raw, err := os.ReadFile(filepath.Join(*awscdk.Stage_Of(member).Outdir(), memberStackName+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(raw, &a); err != nil || json.Unmarshal([]byte(body), &b) != nil || !reflect.DeepEqual(a, b) {
		t.Errorf("template body is not the member template (%v)", err)
	}
	for _, bad := range []string{"AWS::Lambda::Function", "BootstrapVersion", "cdk-hnb659fds", "AWS::CDK::Metadata"} {
		if strings.Contains(body, bad) {
			t.Errorf("member template holds %s", bad)
		}
	}
	// The member stack is not in the hub's assembly: cdk deploy cannot
	// pick it up.
	if _, err := os.Stat(filepath.Join(*awscdk.Stage_Of(stack).Outdir(), memberStackName+".template.json")); err == nil {
		t.Error("the member template is a stack of the hub's assembly")
	}
	// The preview's rule, which made a deployment fail, is gone.
	raw, _ = json.Marshal(assertions.Template_FromStack(stack, nil).ToJSON())
	if strings.Contains(string(raw), "OrganizationPreview") {
		t.Error("the hub template still has the preview's rule")
	}
}

// policies/member-roles-scp.json is a valid service control policy naming
// every member role and the deny policy, with the StackSets execution role
// exempt.
func TestMemberRolesSCP(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "policies", "member-roles-scp.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Version != "2012-10-17" || len(doc.Statement) == 0 {
		t.Fatalf("%v %+v", err, doc)
	}
	if len(raw) > 5120 {
		t.Errorf("%d bytes: an SCP is at most 5,120 characters", len(raw))
	}
	text := string(raw)
	for _, name := range []string{memberReadRole, memberRespondRole, memberRotateRole, memberForwardRole, memberDenyPolicyName, "stacksets-exec-"} {
		if !strings.Contains(text, name) {
			t.Errorf("the SCP does not name %s", name)
		}
	}
	for _, s := range doc.Statement {
		if s["Effect"] != "Deny" {
			t.Errorf("statement %s: an SCP protecting roles denies", toJSON(s))
		}
	}
}

// partitionArn is arn:${Partition}<tail> as the CDK renders FormatArn with
// no token but the partition.
func partitionArn(tail string) any {
	return map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), tail}}}
}

// memberActingWant is what memberStatements grants for these member
// roles, in the test organization.
func memberActingWant(roles ...string) []map[string]any {
	arns := make([]any, len(roles))
	for i, r := range roles {
		arns[i] = partitionArn(":iam::*:role/" + r)
	}
	var resource any = arns
	if len(arns) == 1 {
		resource = arns[0]
	}
	return []map[string]any{
		{"Sid": "AssumeMemberRoles", "Effect": "Allow", "Action": []any{"sts:AssumeRole", "sts:SetSourceIdentity"}, "Resource": resource,
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": testOrganizationID}}},
		{"Sid": "ReadOrganization", "Effect": "Allow", "Resource": "*",
			"Action": []any{"organizations:DescribeOrganization", "organizations:ListAccounts", "organizations:ListRoots"}},
		{"Sid": "ListOrganizationalUnits", "Effect": "Allow", "Resource": partitionArn(":organizations::*:ou/" + testOrganizationID + "/ou-*"),
			"Action": []any{"organizations:ListAccountsForParent", "organizations:ListOrganizationalUnitsForParent"}},
		{"Sid": "ReadAccountTags", "Effect": "Allow", "Resource": partitionArn(":organizations::*:account/" + testOrganizationID + "/*"),
			"Action": "organizations:ListTagsForResource"},
	}
}

// In organization mode each function that answers an event acts through
// the member roles of its duties and nothing else: exactly its
// per-account statements (the same settings in account mode: the
// attached variant) without any IAM or CloudTrail action, plus AssumeRole
// and SetSourceIdentity on its duties' roles in accounts of the
// organization and the inventory's Organizations reads. Its environment
// is its per-account one plus the mode, the scope (which reads back as the
// settings' scope) and the hub's account.
func TestMemberActingFunctions(t *testing.T) {
	_, org, _, _ := organizationVariant(t)
	_, acct := attachedVariant(t)
	for _, tc := range []struct {
		name  string
		roles []string
		// kept are the Sids of the per-account statements that remain
		// ("" is the dead-letter queue's, added by the CDK).
		kept []string
	}{
		{lambdafn.Intake, []string{"keywarden-member-read"}, []string{"WriteOwnLogs", "StartExecution", "ReadOwnExecutions", ""}},
		{lambdafn.Finding, []string{"keywarden-member-read"}, []string{"WriteOwnLogs"}},
		{lambdafn.Contain, []string{"keywarden-member-respond"}, []string{"WriteOwnLogs", "RecordContainment"}},
		{lambdafn.Revoke, []string{"keywarden-member-respond"}, []string{"WriteOwnLogs", "RecordRevocation"}},
		{lambdafn.Activity, []string{"keywarden-member-read"}, []string{"WriteOwnLogs"}},
		{lambdafn.Remove, []string{"keywarden-member-respond"}, []string{"WriteOwnLogs"}},
		{lambdafn.Record, []string{"keywarden-member-read"}, []string{"WriteOwnLogs", "RecordCreation", "PublishAlert", "UseAlertKey"}},
		{lambdafn.Tamper, []string{"keywarden-member-read", "keywarden-member-respond"}, []string{"WriteOwnLogs", "ReadLedgerRecordDigestLine"}},
		// The daily run across accounts: scan reads each account, act
		// notifies, deactivates and rotates there; their ledger and topic
		// grants stay. (The account variant's rotation grants and
		// settings, in the hub's own account, are left out below.)
		{lambdafn.Scan, []string{"keywarden-member-read"}, []string{"WriteOwnLogs", "UseLedger"}},
		{lambdafn.Act, []string{"keywarden-member-respond", "keywarden-member-rotate"}, []string{"WriteOwnLogs", "UseLedger", "PublishAlert", "UseAlertKey"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := specNamed(tc.name)
			got := org.statements(org.id(t, spec.constructID()+"Role/Resource"))
			var want []any
			var kept []string
			for _, s := range acct.statements(acct.id(t, spec.constructID()+"Role/Resource")) {
				if a := toJSON(s["Action"]); strings.Contains(a, `"iam:`) || strings.Contains(a, `"cloudtrail:`) {
					continue
				}
				if sid, _ := s["Sid"].(string); slices.Contains(rotationSids, sid) || strings.Contains(toJSON(s["Action"]), `"secretsmanager:`) {
					continue
				}
				sid, _ := s["Sid"].(string)
				kept = append(kept, sid)
				want = append(want, s)
			}
			if !slices.Equal(kept, tc.kept) {
				t.Errorf("per-account statements kept %q, want %q", kept, tc.kept)
			}
			for _, s := range memberActingWant(tc.roles...) {
				want = append(want, s)
			}
			gotAny := make([]any, len(got))
			for i, s := range got {
				gotAny[i] = s
			}
			if g := sortedJSON(gotAny); !slices.Equal(g, sortedJSON(want)) {
				t.Errorf("statements\n got %s\nwant %s", strings.Join(g, "\n     "), strings.Join(sortedJSON(want), "\n     "))
			}
			for _, a := range actionsOf(got) {
				if strings.HasPrefix(a, "iam:") || strings.HasPrefix(a, "cloudtrail:") {
					t.Errorf("%s: the function acts on the hub's own account", a)
				}
			}

			env := functionEnv(t, org, tc.name)
			wantEnv := maps.Clone(functionEnv(t, acct, tc.name))
			if wantEnv == nil {
				wantEnv = map[string]any{}
			}
			for _, k := range []string{settings.EnvRotationKMSKey, settings.EnvPartition, settings.EnvRotationWriter, settings.EnvSecurityRoleArn} {
				delete(wantEnv, k)
			}
			if tc.name == lambdafn.Act {
				// Each member's key, by its alias; no hub key, no hub writer.
				wantEnv[settings.EnvRotationKMSKey] = member.RotationKeyAlias
			}
			wantEnv[settings.EnvMode] = settings.ModeOrganization
			wantEnv[settings.EnvAccount] = ref("AWS::AccountId")
			wantEnv[settings.EnvOrganization] = env[settings.EnvOrganization]
			if !reflect.DeepEqual(env, wantEnv) {
				t.Errorf("environment\n got %s\nwant %s", toJSON(env), toJSON(wantEnv))
			}
			lookup := settings.Lookup(func(k string) (string, bool) { v, ok := env[k].(string); return v, ok })
			scope, ok, err := lookup.OrganizationScope()
			wantScope := settings.Scope{OrganizationID: testOrganizationID, OrganizationalUnits: []string{"ou-ab12-cd34ef56", "r-ab12"},
				ExcludedAccounts: []string{"111111111111"}, OptOutTag: settings.DefaultOptOutTag}
			if err != nil || !ok || !reflect.DeepEqual(scope, wantScope) {
				t.Errorf("%s %v reads back as %+v, %v, %v; want %+v", settings.EnvOrganization, env[settings.EnvOrganization], scope, ok, err, wantScope)
			}
		})
	}
	if len(memberDuties) != 10 {
		t.Errorf("memberDuties has %d functions, the test %d", len(memberDuties), 10)
	}
}

// The alert function is in organization mode what it is in account mode:
// the same statements and environment.
func TestOrganizationLeavesOthersUnchanged(t *testing.T) {
	_, org, _, _ := organizationVariant(t)
	_, acct := attachedVariant(t)
	for _, name := range []string{lambdafn.Alert} {
		t.Run(name, func(t *testing.T) {
			role := specNamed(name).constructID() + "Role/Resource"
			if got, want := org.statements(org.id(t, role)), acct.statements(acct.id(t, role)); !reflect.DeepEqual(got, want) {
				t.Errorf("statements\n got %s\nwant %s", toJSON(got), toJSON(want))
			}
			if got, want := functionEnv(t, org, name), functionEnv(t, acct, name); !reflect.DeepEqual(got, want) {
				t.Errorf("environment\n got %s\nwant %s", toJSON(got), toJSON(want))
			}
		})
	}
}

// Which member roles a function assumes: only in organization mode, only
// the eight that answer events and the daily run's scan and act, each under the path member roles trust,
// and none where the settings leave it no call to make (its role holds no
// IAM action in account mode then either).
func TestMemberDutiesOf(t *testing.T) {
	org := settings.Default()
	org.Mode = settings.ModeOrganization
	for name := range memberDuties {
		if !slices.Contains(memberActors, name) {
			t.Errorf("%s assumes member roles, but its role is not under %s, which member roles trust", name, hubRolePath)
		}
		if got := memberDutiesOf(settings.Default(), name); got != nil {
			t.Errorf("account mode: %s assumes %v", name, got)
		}
		if got := memberDutiesOf(org, name); !slices.Equal(got, memberDuties[name]) {
			t.Errorf("%s assumes %v, want %v", name, got, memberDuties[name])
		}
	}
	for _, name := range []string{lambdafn.Alert, lambdafn.Digest} {
		if got := memberDutiesOf(org, name); got != nil || actsThroughMembers(org, name) {
			t.Errorf("%s assumes %v", name, got)
		}
	}
	if got := memberDuties[lambdafn.Tamper]; !slices.Equal(got, []member.Duty{member.Read, member.Respond}) {
		t.Errorf("tamper duties %v", got)
	}
	for _, tc := range []struct {
		name string
		set  func(*settings.Settings)
	}{
		{lambdafn.Remove, func(s *settings.Settings) { s.ExposedKeyAction = settings.ActionDeactivate }},
		{lambdafn.Record, func(s *settings.Settings) { s.NoAccessKeysTag = "" }},
		{lambdafn.Tamper, func(s *settings.Settings) { s.TamperUndo = false }},
	} {
		s := org
		tc.set(&s)
		if got := memberDutiesOf(s, tc.name); got != nil {
			t.Errorf("%s with nothing to do in an account assumes %v", tc.name, got)
		}
	}
	// act rotates only with rotation on: with rotationDays 0 the member
	// template has no rotate role to assume.
	if got := memberDuties[lambdafn.Act]; !slices.Equal(got, []member.Duty{member.Respond, member.Rotate}) {
		t.Errorf("act duties %v", got)
	}
	noRotation := org
	noRotation.KeyAge.RotationDays = 0
	if got := memberDutiesOf(noRotation, lambdafn.Act); !slices.Equal(got, []member.Duty{member.Respond}) {
		t.Errorf("act with rotationDays 0 assumes %v, want respond only", got)
	}
	if got := memberDuties[lambdafn.Act]; len(got) != 2 {
		t.Errorf("memberDutiesOf changed memberDuties: act %v", got)
	}
}

// A hub tells doctor its mode, StackSet and scope in outputs, all
// literals of the settings; a per-account stack has none of them.
func TestOrganizationOutputs(t *testing.T) {
	_, tmpl, _, _ := organizationVariant(t)
	want := map[string]any{
		outMode: "organization", outOrganizationID: testOrganizationID, outOrganizationalUnits: "ou-ab12-cd34ef56,r-ab12",
		outExcludedAccounts: "111111111111", outOptOutTag: settings.DefaultOptOutTag, outStackSetName: memberStackSetName,
		outStackSetCallAs: "SELF", outOrganizationBus: organizationBusName,
	}
	for k, v := range want {
		if got, ok := tmpl.Outputs[k]; !ok || !reflect.DeepEqual(got.Value, v) {
			t.Errorf("output %s = %v, want %v", k, got.Value, v)
		}
		if _, ok := defaultTmpl.Outputs[k]; ok {
			t.Errorf("the per-account stack has the organization output %s", k)
		}
	}
	if got, more := len(tmpl.Outputs), len(want); got != len(defaultTmpl.Outputs)+more {
		t.Errorf("%d hub outputs, want the per-account stack's and %d more", got, more)
	}
}

// The digest of the organization's daily run records each account's
// summary in the ledger and reads them back: in organization mode only, it
// gains PutItem and Query on the ledger, the ledger's table and the mode;
// it assumes no member role.
func TestOrganizationDigestFunction(t *testing.T) {
	_, org, _, _ := organizationVariant(t)
	_, acct := attachedVariant(t)
	role := specNamed(lambdafn.Digest).constructID() + "Role/Resource"
	want := []any{}
	for _, s := range acct.statements(acct.id(t, role)) {
		want = append(want, s)
	}
	want = append(want, map[string]any{"Sid": "UseLedger", "Effect": "Allow", "Action": []any{"dynamodb:PutItem", "dynamodb:Query"},
		"Resource": getAtt(org.id(t, "LedgerTable/Resource"), "Arn")})
	got := []any{}
	for _, s := range org.statements(org.id(t, role)) {
		got = append(got, s)
	}
	if g, w := sortedJSON(got), sortedJSON(want); !slices.Equal(g, w) {
		t.Errorf("statements\n got %s\nwant %s", strings.Join(g, "\n     "), strings.Join(w, "\n     "))
	}
	env := functionEnv(t, org, lambdafn.Digest)
	wantEnv := maps.Clone(functionEnv(t, acct, lambdafn.Digest))
	wantEnv[settings.EnvLedgerTable] = ref(org.id(t, "LedgerTable/Resource"))
	wantEnv[settings.EnvMode] = settings.ModeOrganization
	wantEnv[settings.EnvAccount] = ref("AWS::AccountId")
	wantEnv[settings.EnvOrganization] = env[settings.EnvOrganization]
	if !reflect.DeepEqual(env, wantEnv) {
		t.Errorf("environment\n got %s\nwant %s", toJSON(env), toJSON(wantEnv))
	}
	if p := org.Resources[org.id(t, role)].Properties["Path"]; p != nil {
		t.Errorf("the digest role is under %v; it assumes no member role", p)
	}
}
