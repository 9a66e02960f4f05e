package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
)

// cdk-nag gate: no unsuppressed AwsSolutions error or warning. (With
// cdk.json's feature flags an unsuppressed error already fails synthesis,
// in TestMain; this names the findings should that change.)
func TestNagClean(t *testing.T) {
	check := func(t *testing.T, stack awscdk.Stack) {
		a := assertions.Annotations_FromStack(stack)
		match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
		//lint:ignore SA1019 FindError and FindWarning return this type; the CDK Go module offers no other.
		for level, found := range map[string]*[]*cxapi.SynthesisMessage{
			"cdk-nag error":   a.FindError(jsii.String("*"), match),
			"cdk-nag warning": a.FindWarning(jsii.String("*"), match),
			// Any other warning, too, is fixed or acknowledged with its
			// reason (Annotations.AcknowledgeWarning).
			"warning": a.FindWarning(jsii.String("*"), assertions.Match_AnyValue()),
		} {
			if found == nil || len(*found) == 0 {
				continue
			}
			var lines []string
			for _, m := range *found {
				//lint:ignore SA1019 the fields of the type above.
				lines = append(lines, fmt.Sprintf("  %s: %v", *m.Id, m.Entry.Data))
			}
			t.Errorf("%d %ss:\n%s", len(lines), level, strings.Join(lines, "\n"))
		}
	}
	t.Run("default", func(t *testing.T) { check(t, defaultStack) })
	t.Run("variant", func(t *testing.T) {
		stack, _ := variant(t)
		check(t, stack)
	})
	t.Run("attached", func(t *testing.T) {
		stack, _ := attachedVariant(t)
		check(t, stack)
	})
	t.Run("organization", func(t *testing.T) {
		stack, _, _, _ := organizationVariant(t)
		check(t, stack)
	})
}

// Each role policy's IAM5 suppressions name exactly the wildcards it
// grants: none is unsuppressed, none covers nothing. Every suppression
// carries its reason.
func TestNagSuppressionsExact(t *testing.T) {
	check := func(t *testing.T, tmpl *cfnTemplate) {
		wildcard := func(res any) (string, bool) {
			switch {
			case res == "*":
				return nagAnyResource, true
			case reflect.DeepEqual(res, usersArn):
				return nagUsersWildcard, true
			case strings.Contains(toJSON(res), `":execution:",{"Fn::GetAtt":["StateMachine2E01A3A5","Name"]},":*"`):
				return "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<StateMachine2E01A3A5.Name>:*", true
			case strings.Contains(toJSON(res), `":execution:",{"Fn::GetAtt":["StateMachine2E01A3A5","Name"]},"/*"`):
				return nagMapRunChildren, true // organization mode's Distributed Map children
			case reflect.DeepEqual(res, secretsArnPattern):
				return "Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:keywarden/access-key/*", true
			case memberActingWildcard(res) != "":
				return memberActingWildcard(res), true
			case strings.Contains(toJSON(res), "*"):
				t.Errorf("unexpected wildcard resource %s", toJSON(res))
			}
			return "", false
		}
		for id, p := range tmpl.ofType("AWS::IAM::Policy") {
			var granted, suppressed []string
			for _, s := range list(p.Properties["PolicyDocument"].(map[string]any)["Statement"]) {
				for _, res := range list(s.(map[string]any)["Resource"]) {
					if w, ok := wildcard(res); ok {
						granted = append(granted, w)
					}
				}
			}
			nag, _ := p.Metadata["cdk_nag"].(map[string]any)
			for _, sup := range list(nag["rules_to_suppress"]) {
				sup := sup.(map[string]any)
				if reason, _ := sup["reason"].(string); len(reason) < 40 {
					t.Errorf("%s: suppression %v has no real reason: %q", id, sup["id"], reason)
				}
				if sup["id"] != "AwsSolutions-IAM5" {
					continue
				}
				applies := list(sup["applies_to"])
				if len(applies) == 0 {
					t.Errorf("%s: IAM5 suppressed without applies_to", id)
				}
				for _, a := range applies {
					suppressed = append(suppressed, a.(string))
				}
			}
			slices.Sort(granted)
			slices.Sort(suppressed)
			if granted, suppressed = slices.Compact(granted), slices.Compact(suppressed); !slices.Equal(granted, suppressed) {
				t.Errorf("%s grants wildcards %v, IAM5 suppressions apply to %v", id, granted, suppressed)
			}
		}
	}
	t.Run("default", func(t *testing.T) { check(t, defaultTmpl) })
	t.Run("variant", func(t *testing.T) {
		_, tmpl := variant(t)
		check(t, tmpl)
	})
	t.Run("attached", func(t *testing.T) {
		_, tmpl := attachedVariant(t)
		check(t, tmpl)
	})
	t.Run("organization", func(t *testing.T) {
		_, tmpl, _, _ := organizationVariant(t)
		check(t, tmpl)
	})
}

// memberActingWildcard is IAM5's rendering of the wildcards a function
// acting through member roles is granted (memberStatements): a member
// role in any account, the organization's OUs and accounts; "" for any
// other resource.
func memberActingWildcard(res any) string {
	for _, tail := range []string{":iam::*:role/keywarden-member-read", ":iam::*:role/keywarden-member-respond", ":iam::*:role/keywarden-member-rotate",
		":organizations::*:ou/" + testOrganizationID + "/ou-*", ":organizations::*:account/" + testOrganizationID + "/*"} {
		if reflect.DeepEqual(res, partitionArn(tail)) {
			return "Resource::arn:<AWS::Partition>" + tail
		}
	}
	return ""
}

// nagReport reads the compliance report a cdk-nag pack wrote for the stack
// while it was synthesized (<outdir>/<pack>--<stack>-NagReport.csv): one row
// per rule and resource it checked, "Compliant", "Non-Compliant",
// "Suppressed" (with the reason) or "UNKNOWN" (the rule failed to run).
func nagReport(t *testing.T, stack awscdk.Stack, pack string) []map[string]string {
	t.Helper()
	path := filepath.Join(*awscdk.Stage_Of(stack).Outdir(), pack+"--"+*stack.StackName()+"-NagReport.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no %s report: the pack did not run on this stack (%v)", pack, err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("%s report: %d rows, %v", pack, len(rows), err)
	}
	var out []map[string]string
	for _, r := range rows[1:] {
		row := map[string]string{}
		for i, h := range rows[0] {
			row[h] = r[i]
		}
		out = append(out, row)
	}
	return out
}

// nistPack is the NIST 800-53 rev 5 pack's name, the prefix of its rule ids.
const nistPack = "NIST.800.53.R5"

// Both packs ran on the synthesized template, and NIST 800-53 rev 5 has no
// unsuppressed finding: none in the report, no cdk-nag error or warning.
// Every NIST suppression covers a finding on the resource it is on and
// gives its reason, and SECURITY-NIST.md's table lists exactly the rules
// suppressed.
func TestNISTNagClean(t *testing.T) {
	check := func(t *testing.T, stack awscdk.Stack, tmpl *cfnTemplate) {
		if rows := nagReport(t, stack, "AwsSolutions"); len(rows) == 0 {
			t.Error("the AwsSolutions pack checked nothing")
		}
		suppressed := map[string]bool{} // rule + " " + resource path
		for _, r := range nagReport(t, stack, nistPack) {
			switch r["Compliance"] {
			case "Compliant":
			case "Suppressed":
				suppressed[r["Rule ID"]+" "+r["Resource ID"]] = true
			default:
				t.Errorf("%s on %s: %s", r["Rule ID"], r["Resource ID"], r["Compliance"])
			}
		}

		a := assertions.Annotations_FromStack(stack)
		match := assertions.Match_StringLikeRegexp(jsii.String(strings.ReplaceAll(nistPack, ".", `\.`) + "-.*"))
		//lint:ignore SA1019 FindError and FindWarning return this type; the CDK Go module offers no other.
		for level, found := range map[string]*[]*cxapi.SynthesisMessage{
			"error":   a.FindError(jsii.String("*"), match),
			"warning": a.FindWarning(jsii.String("*"), match),
		} {
			if found != nil {
				for _, m := range *found {
					//lint:ignore SA1019 the fields of the type above.
					t.Errorf("NIST %s at %s: %v", level, *m.Id, m.Entry.Data)
				}
			}
		}

		for id, r := range tmpl.Resources {
			nag, _ := r.Metadata["cdk_nag"].(map[string]any)
			for _, sup := range list(nag["rules_to_suppress"]) {
				sup := sup.(map[string]any)
				rule, _ := sup["id"].(string)
				if !strings.HasPrefix(rule, nistPack+"-") {
					continue
				}
				if reason, _ := sup["reason"].(string); len(reason) < 100 {
					t.Errorf("%s: %s suppressed without a specific reason: %q", id, rule, reason)
				}
				if !suppressed[rule+" "+r.Metadata["aws:cdk:path"].(string)] {
					t.Errorf("%s: %s suppressed, but it reports nothing there", id, rule)
				}
			}
		}

		rules := map[string]bool{}
		for k := range suppressed {
			rules[strings.Fields(k)[0]] = true
		}
		if got, want := slices.Sorted(maps.Keys(rules)), securityNISTSuppressed(t); !slices.Equal(got, want) {
			t.Errorf("NIST rules suppressed %v; SECURITY-NIST.md's table lists as suppressed %v", got, want)
		}
	}
	t.Run("default", func(t *testing.T) { check(t, defaultStack, defaultTmpl) })
	t.Run("variant", func(t *testing.T) {
		stack, tmpl := variant(t)
		check(t, stack, tmpl)
	})
	t.Run("attached", func(t *testing.T) {
		stack, tmpl := attachedVariant(t)
		check(t, stack, tmpl)
	})
	t.Run("organization", func(t *testing.T) {
		stack, tmpl, _, _ := organizationVariant(t)
		check(t, stack, tmpl)
	})
	// The member stack: both packs ran, nothing unsuppressed, and only
	// rules SECURITY-NIST.md's table lists are suppressed.
	t.Run("member", func(t *testing.T) {
		_, _, member, _ := organizationVariant(t)
		listed := securityNISTSuppressed(t)
		for _, pack := range []string{"AwsSolutions", nistPack} {
			for _, r := range nagReport(t, member, pack) {
				switch r["Compliance"] {
				case "Compliant":
				case "Suppressed":
					if pack == nistPack && !slices.Contains(listed, r["Rule ID"]) {
						t.Errorf("%s suppressed on %s; SECURITY-NIST.md does not list it", r["Rule ID"], r["Resource ID"])
					}
				default:
					t.Errorf("%s on %s: %s", r["Rule ID"], r["Resource ID"], r["Compliance"])
				}
			}
		}
	})
}

// securityNISTSuppressed returns the rules of SECURITY-NIST.md's table
// (rows "| NIST.800.53.R5-<Rule> | resources | decision | why |") whose
// decision is "Suppressed", sorted.
func securityNISTSuppressed(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "SECURITY-NIST.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, line := range strings.Split(string(raw), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			continue
		}
		rule := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if strings.HasPrefix(rule, nistPack+"-") && strings.EqualFold(strings.TrimSpace(cells[3]), "suppressed") {
			rules = append(rules, rule)
		}
	}
	slices.Sort(rules)
	return rules
}

// The NIST pack, as newApp applies it, makes an unsuppressed finding an
// error that fails synthesis (synthesize, as `cdk synth` runs the app):
// here an unencrypted log group. (Its finding is printed above.)
func TestNISTFindingFailsSynthesis(t *testing.T) {
	ctx := maps.Clone(cdkContext)
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("Canary"), nil)
	awslogs.NewLogGroup(stack, jsii.String("Logs"), &awslogs.LogGroupProps{Retention: awslogs.RetentionDays_ONE_YEAR})
	for _, pack := range nagPacks() {
		awscdk.Aspects_Of(app).Add(pack, nil)
	}
	if err := synthesize(app); err == nil {
		t.Fatal("synthesis with an unsuppressed NIST finding succeeded")
	}
	raw, err := os.ReadFile(filepath.Join(*app.Outdir(), "validation-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var report struct {
		PluginReports []struct {
			Violations []struct {
				Description        string `json:"description"`
				Severity           string `json:"severity"`
				ViolatingConstruct []struct {
					ConstructPath string `json:"constructPath"`
				} `json:"violatingConstructs"`
			} `json:"violations"`
		} `json:"pluginReports"`
	}
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, p := range report.PluginReports {
		for _, v := range p.Violations {
			for _, c := range v.ViolatingConstruct {
				found = append(found, fmt.Sprintf("%s %s %s", v.Severity, c.ConstructPath, strings.SplitN(v.Description, ":", 2)[0]))
			}
		}
	}
	want := []string{"error Canary/Logs/Resource " + nistPack + "-CloudWatchLogGroupEncrypted"}
	if !slices.Equal(found, want) {
		t.Errorf("violations %q, want %q", found, want)
	}
}
