package statemachine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/sfnlocal"
	"github.com/keywarden/keywarden/statemachine"
)

// stubs stands in for the task functions of the organization's daily run
// (by the function name in the Invoke path): three accounts, the third
// without its member role.
type stubs struct {
	mu       sync.Mutex
	recorded map[string]json.RawMessage // account → its record step's input
	acts     []string
	digest   json.RawMessage
	alert    json.RawMessage
	tooMany  bool
}

func (s *stubs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var in struct {
		Step, Account, Execution string
		Chunk                    int
	}
	_ = json.Unmarshal(body, &in)
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(typ, msg string) {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		_, _ = fmt.Fprintf(w, `{"errorType":%q,"errorMessage":%q}`, typ, msg)
	}
	switch fn := r.URL.Path; {
	case strings.Contains(fn, "ScanFunction") && in.Step == "accounts":
		_, _ = io.WriteString(w, `{"runId":"daily-1","dryRun":true,"outOfScope":1,"accounts":[{"account":"111111111111","name":"prod"},{"account":"222222222222","name":"staging"},{"account":"333333333333","name":"sandbox"}]}`)
	case strings.Contains(fn, "ScanFunction"):
		if !strings.HasSuffix(in.Execution, ":daily-1") {
			fail("InvalidEvent", "the child got execution "+in.Execution+", not the parent's")
			return
		}
		if in.Account == "333333333333" {
			fail("MemberRoleNotDeployed", "member role keywarden-member-read not deployed in account 333333333333")
			return
		}
		_, _ = fmt.Fprintf(w, `{"runId":"daily-1-%s","dryRun":true,"account":%q,"chunks":[0,1]}`, in.Account, in.Account)
	case strings.Contains(fn, "ActFunction"):
		s.acts = append(s.acts, fmt.Sprintf("%s/%d", in.Account, in.Chunk))
		_, _ = fmt.Fprintf(w, `{"chunk":%d,"notices":1}`, in.Chunk)
	case strings.Contains(fn, "DigestFunction") && in.Step == "account":
		s.recorded[in.Account] = body
		_, _ = io.WriteString(w, `{}`)
	case strings.Contains(fn, "DigestFunction"):
		s.digest = body
		if s.tooMany {
			_, _ = io.WriteString(w, `{"accounts":3,"scanned":2,"failed":1,"tooManyFailed":true,"error":{"Error":"AccountsFailed","Cause":"1 of 3 accounts were not scanned"}}`)
			return
		}
		_, _ = io.WriteString(w, `{"accounts":3,"scanned":2,"failed":1,"tooManyFailed":false}`)
	case strings.Contains(fn, "AlertFunction"):
		s.alert = body
		_, _ = io.WriteString(w, `{"messageId":"m","subject":"s"}`)
	default:
		fail("Unexpected", "no stub for "+fn)
	}
}

// The organization definition, as deployed, runs in the offline
// interpreter: the settings' numbers reach the Map Run, one child per
// account, a failed account recorded rather than lost, the parent state
// small, and the digest's verdict deciding the end.
func TestOrganizationRunsInTheInterpreter(t *testing.T) {
	tools, err := sfnlocal.FindTools(filepath.Join(".."))
	if err != nil {
		t.Skipf("needs the pinned npm tools: %v", err)
	}
	def := statemachine.DefinitionFor(statemachine.ModeOrganization)
	run := func(t *testing.T, tooMany bool) (sfnlocal.Execution, *stubs) {
		s := &stubs{recorded: map[string]json.RawMessage{}, tooMany: tooMany}
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		values := map[string]string{"MaxConcurrency": "2", "ToleratedFailurePercentage": "50"}
		for _, p := range statemachine.PlaceholdersOf(def) {
			if _, ok := values[p]; !ok {
				values[p] = "arn:aws:lambda:us-east-1:123456789012:function:" + strings.TrimSuffix(p, "Arn")
			}
		}
		rendered, err := statemachine.RenderOf(def, values)
		if err != nil {
			t.Fatal(err)
		}
		r := sfnlocal.Runner{Node: tools.Node, Module: tools.Module, Definition: rendered, Region: "us-east-1", LambdaEndpoint: srv.URL}
		ev := fmt.Sprintf(`{"version":"0","id":"e","source":"aws.events","detail-type":"Scheduled Event","account":"123456789012","time":%q,"region":"us-east-1","resources":[],"detail":{}}`,
			time.Now().UTC().Format(time.RFC3339))
		exe, err := r.Run(context.Background(), "arn:aws:states:us-east-1:123456789012:execution:Keywarden:daily-1", "daily-1", json.RawMessage(ev), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return exe, s
	}

	t.Run("within tolerance", func(t *testing.T) {
		exe, s := run(t, false)
		if exe.Status != "SUCCEEDED" {
			t.Fatalf("status %s %s %s", exe.Status, exe.Error, exe.Cause)
		}
		if len(exe.MapRuns) != 1 || exe.MapRuns[0].MaxConcurrency != 2 || exe.MapRuns[0].ToleratedFailurePercentage != 50 ||
			exe.MapRuns[0].ItemTotal != 3 || exe.MapRuns[0].ItemFailed != 0 || exe.MapRuns[0].Status != "SUCCEEDED" {
			t.Errorf("map runs %+v", exe.MapRuns)
		}
		if len(exe.Children) != 3 {
			t.Errorf("%d children, want one per account", len(exe.Children))
		}
		for _, c := range exe.Children {
			if c.Status != "SUCCEEDED" || string(c.Output) != "{}" {
				t.Errorf("child %s: %s, output %s", c.Name, c.Status, c.Output)
			}
		}
		slices.Sort(s.acts)
		if want := []string{"111111111111/0", "111111111111/1", "222222222222/0", "222222222222/1"}; !slices.Equal(s.acts, want) {
			t.Errorf("acted on %v, want %v", s.acts, want)
		}
		if len(s.recorded) != 3 || !strings.Contains(string(s.recorded["333333333333"]), `"Error":"MemberRoleNotDeployed"`) ||
			!strings.Contains(string(s.recorded["111111111111"]), `"results":[{"chunk":0`) {
			t.Errorf("recorded %s", s.recorded)
		}
		var digest map[string]any
		_ = json.Unmarshal(s.digest, &digest)
		if digest["step"] != "organization" || digest["toleratedFailurePercentage"] != 50.0 || digest["fanOutError"] != nil {
			t.Errorf("digest input %s", s.digest)
		}
		var out map[string]any
		_ = json.Unmarshal(exe.Output, &out)
		if _, ok := out["accounts"]; !ok || len(exe.Output) > 4096 {
			t.Errorf("the parent's output is %d bytes: %s", len(exe.Output), exe.Output)
		}
	})
	t.Run("past the tolerance", func(t *testing.T) {
		exe, s := run(t, true)
		if exe.Status != "FAILED" || exe.Error != "AccountsFailed" {
			t.Errorf("status %s %s %s, want FAILED AccountsFailed", exe.Status, exe.Error, exe.Cause)
		}
		// The manual-action alert reads the event at the top of the state,
		// as in account mode, and the digest's verdict as the error.
		var req struct {
			Kind     string
			Incident struct {
				DetailType string `json:"detail-type"`
				Error      struct{ Error, Cause string }
			}
		}
		_ = json.Unmarshal(s.alert, &req)
		if req.Kind != "manual-action" || req.Incident.DetailType != "Scheduled Event" || req.Incident.Error.Error != "AccountsFailed" {
			t.Errorf("alert request %s", s.alert)
		}
	})
}
