package drill

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/statemachine"
)

// A small definition with every kind of transition the graph draws.
const graphFixture = `{
  "StartAt": "Route",
  "States": {
    "Route": {"Type": "Choice",
      "Choices": [{"Variable": "$.kind", "StringEquals": "a", "Next": "Work"},
                  {"And": [{"Variable": "$.x", "IsPresent": true}, {"Variable": "$.y", "IsPresent": true}], "Next": "Each"}],
      "Default": "Unknown"},
    "Work": {"Type": "Task", "Resource": "arn", "Next": "Done",
      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Alert"}]},
    "Each": {"Type": "Map", "Next": "Done",
      "Catch": [{"ErrorEquals": ["Throttled", "States.Timeout"], "Next": "Alert"}],
      "ItemProcessor": {"StartAt": "Item", "States": {
        "Item": {"Type": "Task", "Resource": "arn", "Next": "ItemDone"},
        "ItemDone": {"Type": "Pass", "End": true}}}},
    "Alert": {"Type": "Task", "Resource": "arn", "Next": "Failed"},
    "Done": {"Type": "Succeed"},
    "Failed": {"Type": "Fail"},
    "Unknown": {"Type": "Fail"}
  }
}`

// edgeSet renders edges as "from -kind-> to" for comparison.
func edgeSet(g Graph) []string {
	var out []string
	for _, e := range g.Edges {
		out = append(out, e.From+" -"+e.Kind+"-> "+e.To)
	}
	slices.Sort(out)
	return out
}

func TestParseGraph(t *testing.T) {
	g, err := ParseGraph([]byte(graphFixture))
	if err != nil {
		t.Fatal(err)
	}
	var nodes []string
	for _, n := range g.Nodes {
		nodes = append(nodes, n.ID+"/"+n.Kind+"/"+n.Parent)
	}
	wantNodes := []string{
		"start/Start/",
		// In the definition's order, not alphabetical.
		"state:Route/Choice/", "state:Work/Task/", "state:Each/Map/", "exit:Each/Exit/state:Each",
		"state:Item/Task/state:Each", "state:ItemDone/Pass/state:Each",
		"state:Alert/Task/", "state:Done/Succeed/", "state:Failed/Fail/", "state:Unknown/Fail/",
		"end/End/",
	}
	if !slices.Equal(nodes, wantNodes) {
		t.Errorf("nodes:\n got %v\nwant %v", nodes, wantNodes)
	}
	want := []string{
		"exit:Each -catch-> state:Alert",
		"exit:Each -next-> state:Done",
		"start -next-> state:Route",
		"state:Alert -next-> state:Failed",
		"state:Done -next-> end",
		"state:Each -iterate-> state:Item",
		"state:Failed -next-> end",
		"state:Item -next-> state:ItemDone",
		"state:ItemDone -next-> exit:Each", // an inner End leads to the Map's exit, not the End
		"state:Route -choice-> state:Each",
		"state:Route -choice-> state:Work",
		"state:Route -default-> state:Unknown",
		"state:Unknown -next-> end",
		"state:Work -catch-> state:Alert",
		"state:Work -next-> state:Done",
	}
	if got := edgeSet(g); !slices.Equal(got, want) {
		t.Errorf("edges:\n got %v\nwant %v", got, want)
	}
	labels := map[string]string{}
	for _, e := range g.Edges {
		labels[e.From+">"+e.To] = e.Label
	}
	for edge, label := range map[string]string{
		"state:Route>state:Work":    `Rule #1: $.kind StringEquals "a"`,
		"state:Route>state:Each":    "Rule #2: all of 2 conditions",
		"state:Route>state:Unknown": "Default",
		"exit:Each>state:Alert":     "Catch #1: Throttled, States.Timeout",
	} {
		if labels[edge] != label {
			t.Errorf("%s labelled %q, want %q", edge, labels[edge], label)
		}
	}
}

func TestParseGraphErrors(t *testing.T) {
	for _, tc := range []struct{ name, def, says string }{
		{"not JSON", `{`, "not JSON"},
		{"no StartAt", `{"States": {"A": {"Type": "Succeed"}}}`, "without StartAt"},
		{"unknown Next", `{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}`, "leads to B"},
		{"unknown StartAt", `{"StartAt": "B", "States": {"A": {"Type": "Succeed"}}}`, "leads to B"},
		{"duplicate across scopes", `{"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
			"ItemProcessor": {"StartAt": "M", "States": {"M": {"Type": "Succeed"}}}}}}`, "defined twice"},
	} {
		_, err := ParseGraph([]byte(tc.def))
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.says)
		}
	}
}

// The real definition: every state, inner ones too, is a node; every
// Next, Choice, Default and Catch is an edge; every terminal state leads to
// End.
func TestParseGraphOfTheDefinition(t *testing.T) {
	raw := []byte(statemachine.Drawn())
	g, err := ParseGraph(raw)
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		States map[string]json.RawMessage
	}
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	states := map[string]bool{}
	for _, n := range g.Nodes {
		if n.Kind != NodeStart && n.Kind != NodeEnd && n.Kind != NodeExit {
			states[n.State] = true
		}
	}
	for name := range def.States {
		if !states[name] {
			t.Errorf("state %s is not in the graph", name)
		}
	}
	// Inner states: account mode's ActOnChunk; the organization's child
	// (ScanAccount, ActOnAccount and its ActOnAccountChunk, RecordAccount,
	// RecordAccountFailure, AccountDone, AccountNotRecorded).
	inner := []string{"ActOnChunk", "ScanAccount", "ActOnAccount", "ActOnAccountChunk", "RecordAccount", "RecordAccountFailure", "AccountDone", "AccountNotRecorded"}
	for _, n := range inner {
		if !states[n] {
			t.Errorf("inner state %s is not in the graph", n)
		}
	}
	if len(states) != len(def.States)+len(inner) {
		t.Errorf("the graph has %d states; want the %d top-level ones and the %d inner ones", len(states), len(def.States), len(inner))
	}
	edges := edgeSet(g)
	for _, want := range []string{
		"start -next-> state:RouteEvent",
		"state:RouteEvent -default-> state:AlertUnsupportedEvent",
		"state:RouteEvent -choice-> state:ScanKeyAges",
		"state:ContainKey -catch-> state:AlertManualAction",
		"state:LookUpActivity -catch-> state:RemoveKey",
		"state:LookUpActivity -next-> state:RemoveKey",
		"state:ActOnDecisions -iterate-> state:ActOnChunk",
		"state:ActOnChunk -next-> exit:ActOnDecisions",
		"exit:ActOnDecisions -next-> state:PublishDigest",
		"exit:ActOnDecisions -catch-> state:AlertManualAction",
		"state:ManualActionNeeded -next-> end",
		"state:RouteEvent -choice-> state:StartOrganizationRun",
		"state:ScanAccounts -iterate-> state:ScanAccount",
		"state:ScanAccount -catch-> state:RecordAccountFailure",
		"exit:ScanAccounts -next-> state:PublishOrganizationDigest",
		"state:Contained -next-> end",
	} {
		if !slices.Contains(edges, want) {
			t.Errorf("no edge %s", want)
		}
	}
	ends := 0
	for _, e := range g.Edges {
		if e.To == endID {
			ends++
		}
	}
	terminals := 0
	for _, raw := range def.States {
		var s struct{ Type string }
		_ = json.Unmarshal(raw, &s)
		if s.Type == "Succeed" || s.Type == "Fail" {
			terminals++
		}
	}
	if ends != terminals {
		t.Errorf("%d edges lead to End, want one per Succeed or Fail state (%d)", ends, terminals)
	}
}
