// Package statemachine embeds keywarden's workflow definition: Amazon States
// Language JSON with ${Name} placeholders. The CDK stack fills them with the
// deployed functions' ARNs and the offline drill with local ones, so both run
// this one file.
//
// Organization mode adds its daily run across accounts
// (organization.asl.json, only the new states): DefinitionFor merges them
// into the one definition and routes the scheduled event to them. Account
// mode's definition is keywarden.asl.json byte for byte.
package statemachine

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

//go:embed keywarden.asl.json
var definition string

//go:embed organization.asl.json
var organizationFragment string

// Modes, as settings name them.
const (
	ModeAccount      = "account"
	ModeOrganization = "organization"
)

// scheduledRoute is the state the scheduled event goes to in account mode;
// in organization mode the fragment's StartAt takes its place.
const scheduledRoute = "ScanKeyAges"

// organizationDefinition is the merged definition, built once.
var organizationDefinition = mustMerge(definition, organizationFragment, false)

// drawnDefinition holds both modes, for drawing only.
var drawnDefinition = mustMerge(definition, organizationFragment, true)

// Drawn returns a definition holding both modes' states, for a picture of
// every branch (the drill report): the scheduled event's route goes to
// account mode's ScanKeyAges and, by a copy of its Choice rule, to the
// organization's run. It is never deployed.
func Drawn() string { return drawnDefinition }

// Definition returns the account mode's ASL JSON with its placeholders
// unfilled: keywarden.asl.json itself.
func Definition() string { return definition }

// DefinitionFor returns the definition of a mode ("" is account mode).
// It panics on another mode: the settings validate it first.
func DefinitionFor(mode string) string {
	switch mode {
	case "", ModeAccount:
		return definition
	case ModeOrganization:
		return organizationDefinition
	}
	panic(fmt.Sprintf("statemachine: no definition for mode %q", mode))
}

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9]+)\}`)

// Placeholders lists the names of account mode's ${Name} placeholders,
// sorted.
func Placeholders() []string { return PlaceholdersOf(definition) }

// PlaceholdersOf lists the names of a definition's ${Name} placeholders,
// sorted.
func PlaceholdersOf(def string) []string {
	seen := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(def, -1) {
		seen[m[1]] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Render fills every placeholder of account mode's definition.
func Render(values map[string]string) (string, error) { return RenderOf(definition, values) }

// RenderOf fills every placeholder of def; a missing or unknown name is an
// error, so a renamed placeholder cannot deploy half-filled.
func RenderOf(def string, values map[string]string) (string, error) {
	want := PlaceholdersOf(def)
	var missing []string
	for _, n := range want {
		if _, ok := values[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("state machine definition: no value for %s", strings.Join(missing, ", "))
	}
	for n := range values {
		if !strings.Contains(def, "${"+n+"}") {
			return "", fmt.Errorf("state machine definition: no placeholder ${%s}", n)
		}
	}
	return placeholder.ReplaceAllStringFunc(def, func(m string) string {
		return values[m[2:len(m)-1]]
	}), nil
}

// member is one member of a JSON object, kept in the file's order.
type member struct {
	name  string
	value json.RawMessage
}

func mustMerge(base, fragment string, both bool) string {
	out, err := merge(base, fragment, both)
	if err != nil {
		panic("statemachine: merge organization.asl.json: " + err.Error())
	}
	return out
}

// merge adds the fragment's states to base's, after them and in the
// fragment's order, and sends the Choice routes of RouteEvent that went to
// scheduledRoute to the fragment's StartAt instead, leaving out the states
// no longer reachable; with both, it keeps every state and adds a copy of
// each such route to the fragment's StartAt instead (for drawing). A state
// name the two share is an error. The result is indented as the files
// are.
func merge(base, fragment string, both bool) (string, error) {
	top, err := members([]byte(base))
	if err != nil {
		return "", err
	}
	var frag struct {
		StartAt string
		States  json.RawMessage
	}
	if err := json.Unmarshal([]byte(fragment), &frag); err != nil {
		return "", err
	}
	fragStates, err := members(frag.States)
	if err != nil {
		return "", err
	}
	for i, m := range top {
		if m.name != "States" {
			continue
		}
		states, err := members(m.value)
		if err != nil {
			return "", err
		}
		names := map[string]bool{}
		routed := false
		for j, s := range states {
			names[s.name] = true
			if s.name == "RouteEvent" {
				v, n, err := reroute(s.value, scheduledRoute, frag.StartAt, both)
				if err != nil {
					return "", err
				}
				states[j].value, routed = v, n > 0
			}
		}
		if !routed {
			return "", fmt.Errorf("RouteEvent has no route to %s", scheduledRoute)
		}
		for _, s := range fragStates {
			if names[s.name] {
				return "", fmt.Errorf("state %s is in both definitions", s.name)
			}
			states = append(states, s)
		}
		if !both {
			if states, err = reachable(states, startAt(top)); err != nil {
				return "", err
			}
		}
		top[i].value = object(states)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, object(top), "", "  "); err != nil {
		return "", err
	}
	out.WriteString("\n")
	return out.String(), nil
}

// members reads a JSON object's members in order.
func members(obj []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("want a JSON object")
	}
	var out []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{name: t.(string), value: v})
	}
	return out, nil
}

// reroute replaces, in a Choice state, each top-level Choices rule's Next
// from with to, keeping the rest of the state as it is (with both, it
// keeps the rule and adds a copy going to to after it); n counts them.
func reroute(state json.RawMessage, from, to string, both bool) (json.RawMessage, int, error) {
	fields, err := members(state)
	if err != nil {
		return nil, 0, err
	}
	n := 0
	for i, f := range fields {
		if f.name != "Choices" {
			continue
		}
		var rules []json.RawMessage
		if err := json.Unmarshal(f.value, &rules); err != nil {
			return nil, 0, err
		}
		var out []json.RawMessage
		for _, r := range rules {
			var rule struct{ Next string }
			if err := json.Unmarshal(r, &rule); err != nil {
				return nil, 0, err
			}
			if rule.Next != from {
				out = append(out, r)
				continue
			}
			n++
			if both {
				out = append(out, r)
			}
			rerouted, err := withNext(r, to)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, rerouted)
		}
		if fields[i].value, err = json.Marshal(out); err != nil {
			return nil, 0, err
		}
	}
	return object(fields), n, nil
}

// withNext is a Choice rule with its Next replaced by to.
func withNext(rule json.RawMessage, to string) (json.RawMessage, error) {
	fields, err := members(rule)
	if err != nil {
		return nil, err
	}
	for i, m := range fields {
		if m.name == "Next" {
			fields[i].value, _ = json.Marshal(to) // a string always encodes
		}
	}
	return object(fields), nil
}

// object writes members as one JSON object, in their order (which
// encoding/json's maps would not keep).
func object(ms []member) json.RawMessage {
	var b bytes.Buffer
	b.WriteString("{")
	for i, m := range ms {
		if i > 0 {
			b.WriteString(",")
		}
		key, _ := json.Marshal(m.name) // a string always encodes
		b.Write(key)
		b.WriteString(":")
		b.Write(m.value)
	}
	b.WriteString("}")
	return b.Bytes()
}

// startAt is the definition's StartAt.
func startAt(top []member) string {
	for _, m := range top {
		if m.name == "StartAt" {
			var s string
			_ = json.Unmarshal(m.value, &s)
			return s
		}
	}
	return ""
}

// reachable keeps the states reachable from start, in order: the states
// only the scheduled route reached (account mode's daily run) leave the
// organization's definition.
func reachable(states []member, start string) ([]member, error) {
	type transitions struct {
		Next, Default string
		Choices       []struct{ Next string }
		Catch         []struct{ Next string }
	}
	next := map[string][]string{}
	for _, s := range states {
		var t transitions
		if err := json.Unmarshal(s.value, &t); err != nil {
			return nil, fmt.Errorf("state %s: %w", s.name, err)
		}
		n := []string{t.Next, t.Default}
		for _, c := range t.Choices {
			n = append(n, c.Next)
		}
		for _, c := range t.Catch {
			n = append(n, c.Next)
		}
		next[s.name] = n
	}
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		if n == "" || seen[n] {
			return
		}
		seen[n] = true
		for _, x := range next[n] {
			walk(x)
		}
	}
	walk(start)
	kept := states[:0:0]
	for _, s := range states {
		if seen[s.name] {
			kept = append(kept, s)
		}
	}
	return kept, nil
}
