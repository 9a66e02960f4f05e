package lambdafn

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// clients are the AWS service clients each function calls (each
// internal/lambdafn/<name> package builds exactly these). A function that
// starts calling another service must say so here, and its role in infra
// must grant it.
var clients = map[string][]string{
	// Organizations: the functions that act in member accounts read the
	// organization's inventory in organization mode (member.Acting).
	Intake:   {"iam", "organizations", "sfn"},
	Finding:  {"iam", "organizations"},
	Contain:  {"dynamodb", "iam", "organizations"},
	Revoke:   {"dynamodb", "iam", "organizations"},
	Activity: {"cloudtrail", "organizations"},
	Remove:   {"iam", "organizations"},
	Alert:    {"dynamodb", "sns"},
	Scan:     {"dynamodb", "iam", "organizations"},
	Act:      {"dynamodb", "iam", "organizations", "secretsmanager", "sesv2", "sns"},
	// DynamoDB: in organization mode the digest records each account's
	// part of the daily run in the ledger and reads them back.
	Digest: {"dynamodb", "sns"},
	Record: {"dynamodb", "iam", "organizations", "sns"},
	Tamper: {"dynamodb", "iam", "organizations"},
}

// credentialChain are the clients the SDK's default configuration links into
// every binary for its credential providers (web identity, SSO, login).
var credentialChain = []string{"signin", "sso", "ssooidc", "sts"}

// clientSymbol matches a service client's constructor or methods in a
// binary's symbol table: code the linker kept because something can call it.
// (Importing a service package only for its types links none of these.)
var clientSymbol = regexp.MustCompile(`github\.com/aws/aws-sdk-go-v2/service/([a-z0-9]+)\.(?:NewFromConfig|\(\*Client\)\.)`)

// Each function's binary, built as the Makefile and infra build it (less the
// symbol stripping), links the clients of the services that function calls
// and no other: a change to one step's client cannot redeploy the others.
func TestEachBinaryLinksOnlyItsClients(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the functions: %v", err)
	}
	dirs, err := os.ReadDir("../../lambdas")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		if d.IsDir() {
			names = append(names, d.Name())
		}
	}
	if want := slices.Sorted(slices.Values(Names)); !slices.Equal(names, want) {
		t.Fatalf("lambdas/ holds %v, lambdafn.Names lists %v", names, want)
	}
	out := t.TempDir()
	for _, name := range Names {
		bin := filepath.Join(out, name)
		build := exec.Command(goTool, "build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-o", bin, "../../lambdas/"+name)
		build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		if msg, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, msg)
		}
		syms, err := exec.Command(goTool, "tool", "nm", bin).Output()
		if err != nil {
			t.Fatalf("nm %s: %v", name, err)
		}
		linked := map[string]bool{}
		for _, m := range clientSymbol.FindAllSubmatch(syms, -1) {
			linked[string(m[1])] = true
		}
		for _, c := range credentialChain {
			delete(linked, c)
		}
		got := slices.Sorted(func(yield func(string) bool) {
			for c := range linked {
				if !yield(c) {
					return
				}
			}
		})
		if want := clients[name]; !slices.Equal(got, want) {
			t.Errorf("%s links the clients %v, want %v", name, got, want)
		}
	}
}
