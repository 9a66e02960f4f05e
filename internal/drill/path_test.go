package drill

import (
	"slices"
	"testing"
)

// states builds a history's rows: "Name" entered cleanly, "Name!" with its
// last attempt failed, "Name~" failed once then retried successfully.
func states(names ...string) []StateView {
	var out []StateView
	for _, n := range names {
		s := StateView{Name: n}
		switch n[len(n)-1] {
		case '!':
			s.Name, s.Errors = n[:len(n)-1], []string{"AccessDenied"}
		case '~':
			s.Name, s.Errors, s.Retries = n[:len(n)-1], []string{"Throttled"}, 1
		}
		out = append(out, s)
	}
	return out
}

// takenEdges renders a path's edges as "from -kind-> to".
func takenEdges(g Graph, p Path) []string {
	var out []string
	for _, e := range g.Edges {
		if slices.Contains(p.Edges, e.ID) {
			out = append(out, e.From+" -"+e.Kind+"-> "+e.To)
		}
	}
	slices.Sort(out)
	return out
}

func TestPathOf(t *testing.T) {
	g, err := ParseGraph([]byte(graphFixture))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		x              []ExecutionView
		failed, caught []string
		edges          []string
	}{{
		name:   "straight through, a retry is not a catch",
		x:      []ExecutionView{{Status: "SUCCEEDED", States: states("Route", "Work~", "Done")}},
		failed: nil, caught: nil,
		edges: []string{"start -next-> state:Route", "state:Done -next-> end", "state:Route -choice-> state:Work", "state:Work -next-> state:Done"},
	}, {
		name:   "caught, then failed in a Fail state",
		x:      []ExecutionView{{Status: "FAILED", States: states("Route", "Work!", "Alert", "Failed")}},
		failed: []string{"Failed"}, caught: []string{"Work"},
		edges: []string{"start -next-> state:Route", "state:Alert -next-> state:Failed", "state:Failed -next-> end", "state:Route -choice-> state:Work", "state:Work -catch-> state:Alert"},
	}, {
		name:   "a task error no Catch took: the task failed",
		x:      []ExecutionView{{Status: "FAILED", States: states("Route", "Alert!")}},
		failed: []string{"Alert"}, caught: nil,
		edges: []string{"start -next-> state:Route"},
	}, {
		name:   "a Map: iterate, each item, leave by the exit",
		x:      []ExecutionView{{Status: "SUCCEEDED", States: states("Route", "Each", "Item", "Item", "ItemDone", "ItemDone", "Done")}},
		failed: nil, caught: nil,
		edges: []string{
			"exit:Each -next-> state:Done", "start -next-> state:Route", "state:Done -next-> end", "state:Each -iterate-> state:Item",
			"state:Item -next-> state:ItemDone", "state:ItemDone -next-> exit:Each", "state:Route -choice-> state:Each",
		},
	}, {
		name:   "a Map whose item failed: the item failed, the Map's Catch was taken",
		x:      []ExecutionView{{Status: "FAILED", States: states("Route", "Each", "Item!", "Alert", "Failed")}},
		failed: []string{"Failed", "Item"}, caught: []string{"Each"},
		edges: []string{
			"exit:Each -catch-> state:Alert", "start -next-> state:Route", "state:Alert -next-> state:Failed", "state:Each -iterate-> state:Item",
			"state:Failed -next-> end", "state:Route -choice-> state:Each",
		},
	}, {
		name:   "two executions: the union",
		x:      []ExecutionView{{Status: "SUCCEEDED", States: states("Route", "Work", "Done")}, {Status: "FAILED", States: states("Route", "Unknown")}},
		failed: []string{"Unknown"}, caught: nil,
		edges: []string{"start -next-> state:Route", "state:Done -next-> end", "state:Route -choice-> state:Work", "state:Route -default-> state:Unknown", "state:Unknown -next-> end", "state:Work -next-> state:Done"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := PathOf(g, tc.x)
			if !slices.Equal(p.Failed, orEmpty(tc.failed)) || !slices.Equal(p.Caught, orEmpty(tc.caught)) {
				t.Errorf("failed %v caught %v, want failed %v caught %v", p.Failed, p.Caught, tc.failed, tc.caught)
			}
			if got := takenEdges(g, p); !slices.Equal(got, tc.edges) {
				t.Errorf("edges:\n got %v\nwant %v", got, tc.edges)
			}
			for _, x := range tc.x {
				for _, s := range x.States {
					if p.Entered[s.Name] == 0 {
						t.Errorf("%s not entered", s.Name)
					}
				}
			}
		})
	}
	if p := PathOf(g, []ExecutionView{{Status: "SUCCEEDED", States: states("Route", "Each", "Item", "Item", "Item", "ItemDone", "Done")}}); p.Entered["Item"] != 3 || p.Entered["Work"] != 0 {
		t.Errorf("entered %v: want Item 3 times, Work never", p.Entered)
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
