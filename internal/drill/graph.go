package drill

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Graph is a state machine definition as the Step Functions console's graph
// view draws it: a Start and an End, every state (the states inside a Map's
// item processor or a Parallel's branches too), and an edge for every Next,
// Choice rule, Default and Catch. The drill report lays it out and marks the
// path each scenario took.
//
// A Map or Parallel is drawn as a box holding its inner states: the state
// itself is the box's heading node, an "iterate" edge leads from it to each
// inner StartAt, the inner End states lead to the box's exit node, and the
// state's own Next and Catch edges leave from that exit node, as the
// console draws edges leaving the bottom of the box.
type Graph struct {
	Nodes []GraphNode `json:"nodes"`
	Edges []GraphEdge `json:"edges"`
}

// Node kinds besides the ASL state types.
const (
	NodeStart = "Start" // the execution starts here
	NodeEnd   = "End"   // terminal states lead here
	NodeExit  = "Exit"  // a Map's or Parallel's exit, at the bottom of its box
)

// Edge kinds.
const (
	EdgeNext    = "next"
	EdgeChoice  = "choice"
	EdgeDefault = "default"
	EdgeCatch   = "catch"
	EdgeIterate = "iterate" // a Map or Parallel to its inner StartAt
)

// GraphNode is a state or one of the drawn extras (NodeStart, NodeEnd,
// NodeExit).
type GraphNode struct {
	ID string `json:"id"`
	// State is the state's name; empty for Start and End, the Map's or
	// Parallel's name for its exit node.
	State string `json:"state,omitempty"`
	// Kind is the state's Type (Task, Choice, Map, …) or a node kind.
	Kind string `json:"kind"`
	// Parent is the node ID of the Map or Parallel whose box holds it.
	Parent  string `json:"parent,omitempty"`
	Comment string `json:"comment,omitempty"`
}

// GraphEdge is a transition the definition allows.
type GraphEdge struct {
	ID   string `json:"id"`
	From string `json:"from"`
	To   string `json:"to"`
	Kind string `json:"kind"`
	// Label says which rule or catcher: "Rule #2: $.creation is present",
	// "Catch #1: States.ALL".
	Label string `json:"label,omitempty"`
}

// Node IDs: states by name, the extras by a prefix no state name can clash
// with once checked.
const (
	startID = "start"
	endID   = "end"
)

func stateID(name string) string { return "state:" + name }
func exitID(name string) string  { return "exit:" + name }

// aslStates is the part of a states object the graph reads.
type aslStates struct {
	StartAt string              `json:"StartAt"`
	States  map[string]aslState `json:"States"`
	// Order is the states' names as the definition lists them: the layout
	// keeps sibling branches in that order, as the author wrote them.
	Order []string `json:"-"`
}

// UnmarshalJSON reads the states and the order they are written in.
func (s *aslStates) UnmarshalJSON(data []byte) error {
	type plain aslStates
	var p struct {
		plain
		Raw json.RawMessage `json:"States"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*s = aslStates(p.plain)
	if len(p.Raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(p.Raw, &s.States); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(p.Raw))
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		s.Order = append(s.Order, key.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

type aslState struct {
	Type    string      `json:"Type"`
	Comment string      `json:"Comment"`
	Next    string      `json:"Next"`
	End     bool        `json:"End"`
	Default string      `json:"Default"`
	Choices []aslChoice `json:"Choices"`
	Catch   []struct {
		ErrorEquals []string `json:"ErrorEquals"`
		Next        string   `json:"Next"`
	} `json:"Catch"`
	ItemProcessor *aslStates  `json:"ItemProcessor"`
	Iterator      *aslStates  `json:"Iterator"` // the older name of ItemProcessor
	Branches      []aslStates `json:"Branches"`
}

// aslChoice is a Choice rule: where it leads, and enough of it to name it.
type aslChoice struct {
	Next string
	rule map[string]json.RawMessage
}

// UnmarshalJSON keeps the whole rule: its comparison's name varies
// (StringEquals, IsPresent, …).
func (c *aslChoice) UnmarshalJSON(data []byte) error {
	if err := json.Unmarshal(data, &c.rule); err != nil {
		return err
	}
	return json.Unmarshal(data, &struct{ Next *string }{&c.Next})
}

// ParseGraph reads an ASL definition into the graph the report draws.
func ParseGraph(definition []byte) (Graph, error) {
	var top aslStates
	if err := json.Unmarshal(definition, &top); err != nil {
		return Graph{}, fmt.Errorf("the state machine definition is not JSON: %w", err)
	}
	b := graphBuilder{seen: map[string]bool{}}
	b.node(GraphNode{ID: startID, Kind: NodeStart})
	if err := b.states(top, "", ""); err != nil {
		return Graph{}, err
	}
	b.edge(startID, stateID(top.StartAt), EdgeNext, "")
	b.node(GraphNode{ID: endID, Kind: NodeEnd})
	for _, e := range b.g.Edges {
		if !b.seen[e.To] {
			return Graph{}, fmt.Errorf("an edge from %s leads to %s, which is not a state of its scope", e.From, strings.TrimPrefix(e.To, "state:"))
		}
	}
	return b.g, nil
}

type graphBuilder struct {
	g    Graph
	seen map[string]bool
}

func (b *graphBuilder) node(n GraphNode) {
	b.seen[n.ID] = true
	b.g.Nodes = append(b.g.Nodes, n)
}

func (b *graphBuilder) edge(from, to, kind, label string) {
	id := fmt.Sprintf("e%d", len(b.g.Edges))
	b.g.Edges = append(b.g.Edges, GraphEdge{ID: id, From: from, To: to, Kind: kind, Label: label})
}

// states adds one states object: the top level (parent "") or a Map's or
// Parallel's inner states, whose End leads to that state's exit node.
func (b *graphBuilder) states(s aslStates, parent, exit string) error {
	if s.StartAt == "" || len(s.States) == 0 {
		return fmt.Errorf("a states object without StartAt or States (in %q)", strings.TrimPrefix(parent, "state:"))
	}
	end := endID
	if exit != "" {
		end = exit
	}
	for _, name := range s.Order {
		if b.seen[stateID(name)] || b.seen[exitID(name)] {
			return fmt.Errorf("state %q is defined twice", name)
		}
		st := s.States[name]
		id := stateID(name)
		b.node(GraphNode{ID: id, State: name, Kind: st.Type, Parent: parent, Comment: st.Comment})
		from := id // where the state's own transitions leave
		if inner := innerStates(st); len(inner) > 0 {
			from = exitID(name)
			b.node(GraphNode{ID: from, State: name, Kind: NodeExit, Parent: id})
			for _, in := range inner {
				b.edge(id, stateID(in.StartAt), EdgeIterate, "")
				if err := b.states(in, id, from); err != nil {
					return err
				}
			}
		}
		for i, c := range st.Choices {
			b.edge(from, stateID(c.Next), EdgeChoice, fmt.Sprintf("Rule #%d: %s", i+1, c.describe()))
		}
		if st.Default != "" {
			b.edge(from, stateID(st.Default), EdgeDefault, "Default")
		}
		if st.Next != "" {
			b.edge(from, stateID(st.Next), EdgeNext, "")
		}
		for i, c := range st.Catch {
			b.edge(from, stateID(c.Next), EdgeCatch, fmt.Sprintf("Catch #%d: %s", i+1, strings.Join(c.ErrorEquals, ", ")))
		}
		if st.End || st.Type == "Succeed" || st.Type == "Fail" {
			b.edge(from, end, EdgeNext, "")
		}
	}
	return nil
}

func innerStates(st aslState) []aslStates {
	switch {
	case st.ItemProcessor != nil:
		return []aslStates{*st.ItemProcessor}
	case st.Iterator != nil:
		return []aslStates{*st.Iterator}
	}
	return st.Branches
}

// describe names a Choice rule briefly: the comparison for a simple rule,
// the number of conditions for a compound one.
func (c aslChoice) describe() string {
	var list []json.RawMessage
	for _, op := range []string{"And", "Or"} {
		if json.Unmarshal(c.rule[op], &list) == nil && len(list) > 0 {
			return fmt.Sprintf("%s of %d conditions", map[string]string{"And": "all", "Or": "any"}[op], len(list))
		}
	}
	if _, ok := c.rule["Not"]; ok {
		return "not (…)"
	}
	var variable string
	_ = json.Unmarshal(c.rule["Variable"], &variable)
	for _, op := range sortedKeys(c.rule) {
		switch op {
		case "Variable", "Next", "Comment":
			continue
		}
		return fmt.Sprintf("%s %s %s", variable, op, string(c.rule[op]))
	}
	return variable
}
