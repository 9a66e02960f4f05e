package drill

import "slices"

// Path is what a scenario's executions did on the graph, as the console
// colours an execution's graph: the states entered (green), the state an
// execution failed in (red), the states whose error a Catch caught
// (orange), and the transitions taken.
type Path struct {
	// Entered counts how often each state was entered, across executions
	// (a Map's inner states once per item).
	Entered map[string]int `json:"entered"`
	Failed  []string       `json:"failed"`
	Caught  []string       `json:"caught"`
	// Edges are the IDs of the graph edges taken.
	Edges []string `json:"edges"`
}

// PathOf reads the path of executions on g from their histories.
//
// A state failed when its execution did not succeed and it is the last
// state the execution entered (a Fail state, or a task whose error no Catch
// caught), and so did the Map or Parallel holding it; an inner state whose
// last attempt failed failed its item. A state's error was caught when its
// last attempt failed (more errors than retries), it has a Catch and the
// execution went on, or when it went on to a state only a Catch of it
// leads to (a Map whose item failed).
func PathOf(g Graph, executions []ExecutionView) Path {
	p := Path{Entered: map[string]int{}, Failed: []string{}, Caught: []string{}, Edges: []string{}}
	nodes := map[string]GraphNode{}
	for _, n := range g.Nodes {
		nodes[n.ID] = n
	}
	from := map[string][]GraphEdge{}
	for _, e := range g.Edges {
		from[e.From] = append(from[e.From], e)
	}
	taken := map[string]bool{}
	take := func(e GraphEdge, ok bool) {
		if ok {
			taken[e.ID] = true
		}
	}
	failed, caught := map[string]bool{}, map[string]bool{}
	for _, x := range executions {
		if len(x.States) == 0 {
			continue
		}
		last := len(x.States) - 1
		ended := x.Status == "SUCCEEDED" || x.Status == "FAILED"
		if x.Status != "SUCCEEDED" && x.Status != "RUNNING" && x.Status != "" {
			name := x.States[last].Name
			failed[name] = true
			if parent := nodes[stateID(name)].Parent; parent != "" {
				failed[nodes[parent].State] = true
			}
		}
		take(edgeTo(from[startID], stateID(x.States[0].Name), false))
		// Transitions are between consecutive states of one scope: the top
		// level, or the inside of one Map (its items in turn).
		scopes := map[string][]int{}
		for i, s := range x.States {
			p.Entered[s.Name]++
			parent := nodes[stateID(s.Name)].Parent
			scopes[parent] = append(scopes[parent], i)
			errored := len(s.Errors) > s.Retries
			switch {
			case !errored || i == last:
			case slices.ContainsFunc(from[stateID(s.Name)], func(e GraphEdge) bool { return e.Kind == EdgeCatch }):
				caught[s.Name] = true
			default:
				failed[s.Name] = true // an item of a Map failed; the Map's Catch says what followed
			}
			if parent != "" {
				take(edgeTo(from[parent], stateID(s.Name), false))
				if !errored {
					take(edgeTo(from[stateID(s.Name)], exitID(nodes[parent].State), false))
				}
			}
		}
		for parent, idx := range scopes {
			for k, i := range idx {
				s := x.States[i]
				if k == len(idx)-1 {
					if parent == "" && i == last && ended {
						take(edgeTo(from[stateID(s.Name)], endID, false))
					}
					continue
				}
				next := x.States[idx[k+1]]
				if next.Name == s.Name {
					continue // the next item of a Map
				}
				out := stateID(s.Name)
				if _, ok := nodes[exitID(s.Name)]; ok {
					out = exitID(s.Name) // a Map's transitions leave its box
				}
				e, ok := edgeTo(from[out], stateID(next.Name), caught[s.Name])
				take(e, ok)
				if ok && e.Kind == EdgeCatch {
					caught[s.Name] = true
				}
			}
		}
	}
	for _, e := range g.Edges {
		if taken[e.ID] {
			p.Edges = append(p.Edges, e.ID)
		}
	}
	p.Failed = sortedKeys(failed)
	for _, name := range sortedKeys(caught) {
		if !failed[name] {
			p.Caught = append(p.Caught, name)
		}
	}
	return p
}

// edgeTo picks the edge among out that leads to the node to: a Catch
// edge when the state's error was caught, else a Next, Choice or Default
// edge (LookUpActivity's Next and Catch both lead to RemoveKey), else
// whatever leads there.
func edgeTo(out []GraphEdge, to string, caught bool) (GraphEdge, bool) {
	var cands []GraphEdge
	for _, e := range out {
		if e.To == to {
			cands = append(cands, e)
		}
	}
	if len(cands) == 0 {
		return GraphEdge{}, false
	}
	i := slices.IndexFunc(cands, func(e GraphEdge) bool { return (e.Kind == EdgeCatch) == caught })
	if i < 0 {
		i = 0
	}
	return cands[i], true
}
