package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/settings"
)

// ownRoleArnsJoin is settings.EnvOwnRoleArns as the template gives it: the
// IAM writers' role ARNs, comma-separated.
func ownRoleArnsJoin(t *testing.T, tmpl *cfnTemplate) any {
	t.Helper()
	var arns []any
	for _, name := range []string{lambdafn.Contain, lambdafn.Revoke, lambdafn.Remove, lambdafn.Act, lambdafn.Tamper} {
		arns = append(arns, getAtt(tmpl.id(t, specNamed(name).constructID()+"Role/Resource"), "Arn"))
	}
	return map[string]any{"Fn::Join": []any{",", arns}}
}

// tamperEnv is the tamper function's whole environment.
func tamperEnv(t *testing.T, tmpl *cfnTemplate, tags, undo, days string) map[string]any {
	t.Helper()
	return map[string]any{
		settings.EnvLedgerTable:      ref(tmpl.id(t, "LedgerTable/Resource")),
		settings.EnvWatchedTags:      tags,
		settings.EnvTamperUndo:       undo,
		settings.EnvIncidentOpenDays: days,
		settings.EnvOwnRoleArns:      ownRoleArnsJoin(t, tmpl),
	}
}

// tamperPatterns are the tamper watch's four rules for one source, with
// prefix "" or "Drill".
func tamperPatterns(prefix, source, tags string) map[string]string {
	quoted := `"` + strings.ReplaceAll(tags, ",", `","`) + `"`
	call := func(names, params string) string {
		return fmt.Sprintf(`{"source":[%q],"detail-type":["AWS API Call via CloudTrail"],
			"detail":{"eventSource":["iam.amazonaws.com"],"eventName":[%s],"errorCode":[{"exists":false}],"requestParameters":%s}}`,
			source, names, params)
	}
	return map[string]string{
		prefix + "TamperKeyRule":    call(`"UpdateAccessKey"`, `{"status":["Active"]}`),
		prefix + "TamperPolicyRule": call(`"PutUserPolicy","DeleteUserPolicy"`, `{"policyName":[{"equals-ignore-case":"keywarden-revoke-older-sessions"}]}`),
		prefix + "TamperTagRule":    call(`"TagUser"`, `{"tags":{"key":[`+quoted+`]}}`),
		prefix + "TamperUntagRule":  call(`"UntagUser"`, `{"tagKeys":[`+quoted+`]}`),
	}
}

const defaultWatchedTags = "UserType,keywarden:exempt,keywarden:rotate,keywarden:no-access-keys"

// The default stack: the tamper rules for aws.iam and the drill source,
// each to the intake; the tags are the policy's. The variant (drill
// sources off, no noAccessKeysTag): the aws.iam rules only, without the
// no-access-keys tag.
func TestTamperRules(t *testing.T) {
	check := func(t *testing.T, tmpl *cfnTemplate, want map[string]string) {
		intake := getAtt(tmpl.id(t, "IntakeFunction/Resource"), "Arn")
		for name, pattern := range want {
			var w any
			if err := json.Unmarshal([]byte(pattern), &w); err != nil {
				t.Fatal(err)
			}
			rule := tmpl.at(t, name+"/Resource").Properties
			if !reflect.DeepEqual(rule["EventPattern"], w) {
				t.Errorf("%s EventPattern\n got %s\nwant %s", name, toJSON(rule["EventPattern"]), toJSON(w))
			}
			if targets := list(rule["Targets"]); len(targets) != 1 || !reflect.DeepEqual(targets[0].(map[string]any)["Arn"], intake) {
				t.Errorf("%s targets %s, want the intake", name, toJSON(targets))
			}
		}
	}
	t.Run("default", func(t *testing.T) {
		want := tamperPatterns("", "aws.iam", defaultWatchedTags)
		for k, v := range tamperPatterns("Drill", "awsmock.iam", defaultWatchedTags) {
			want[k] = v
		}
		check(t, defaultTmpl, want)
	})
	t.Run("variant", func(t *testing.T) {
		// revokeWith attachedPolicy: the detach rule instead of the
		// inline policy's.
		_, tmpl := variant(t)
		want := tamperPatterns("", "aws.iam", "UserType,keywarden:exempt,keywarden:rotate")
		delete(want, "TamperPolicyRule")
		want["TamperDetachRule"] = detachPattern(t, tmpl, "aws.iam")
		check(t, tmpl, want)
		for id := range tmpl.ofType("AWS::Events::Rule") {
			if strings.HasPrefix(id, "TamperPolicyRule") {
				t.Error("with revokeWith attachedPolicy the inline policy's rule is still there")
			}
		}
	})
}

// With tamperUndo off the tamper function reports only: its role reads and
// writes the ledger and holds no IAM action; the settings reach it.
func TestTamperReportsOnly(t *testing.T) {
	_, tmpl := variant(t)
	spec := specNamed(lambdafn.Tamper)
	checkRole(t, tmpl, spec, []string{"dynamodb:GetItem", "dynamodb:PutItem"}, resourcesOf(t, tmpl, ""))
	if got, want := functionEnv(t, tmpl, lambdafn.Tamper), tamperEnv(t, tmpl, "UserType,keywarden:exempt,keywarden:rotate", "false", "14"); !reflect.DeepEqual(got, want) {
		t.Errorf("tamper environment = %s, want %s", toJSON(got), toJSON(want))
	}
}

// keywarden's own writes are told by their roles: the roles the intake and
// the tamper function are given are exactly those of the functions whose
// role may write to IAM.
func TestOwnRolesAreTheIAMWriters(t *testing.T) {
	reads := func(action string) bool {
		name := strings.TrimPrefix(action, "iam:")
		return strings.HasPrefix(name, "Get") || strings.HasPrefix(name, "List") || strings.HasPrefix(name, "Generate")
	}
	var writers []string
	for _, spec := range functionSpecs {
		for _, a := range actionsOf(defaultTmpl.statements(defaultTmpl.id(t, spec.constructID()+"Role/Resource"))) {
			if strings.HasPrefix(a, "iam:") && !reads(a) {
				writers = append(writers, spec.name)
				break
			}
		}
	}
	if want := slices.Sorted(slices.Values(iamWriters)); !slices.Equal(slices.Sorted(slices.Values(writers)), want) {
		t.Errorf("roles writing to IAM %v, own roles given %v", writers, want)
	}
	for _, name := range []string{lambdafn.Intake, lambdafn.Tamper} {
		if got := functionEnv(t, defaultTmpl, name)[settings.EnvOwnRoleArns]; !reflect.DeepEqual(got, ownRoleArnsJoin(t, defaultTmpl)) {
			t.Errorf("%s %s = %s", name, settings.EnvOwnRoleArns, toJSON(got))
		}
	}
}
