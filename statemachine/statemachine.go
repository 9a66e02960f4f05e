// Package statemachine embeds keywarden's workflow definition: Amazon States
// Language JSON with ${Name} placeholders. The CDK stack fills them with the
// deployed functions' ARNs and the offline drill with local ones, so both run
// this one file.
package statemachine

import (
	_ "embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

//go:embed keywarden.asl.json
var definition string

// Definition returns the ASL JSON with its placeholders unfilled.
func Definition() string { return definition }

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9]+)\}`)

// Placeholders lists the names of the ${Name} placeholders, sorted.
func Placeholders() []string {
	seen := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(definition, -1) {
		seen[m[1]] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Render fills every placeholder; a missing or unknown name is an error, so
// a renamed placeholder cannot deploy half-filled.
func Render(values map[string]string) (string, error) {
	want := Placeholders()
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
		if !strings.Contains(definition, "${"+n+"}") {
			return "", fmt.Errorf("state machine definition: no placeholder ${%s}", n)
		}
	}
	return placeholder.ReplaceAllStringFunc(definition, func(m string) string {
		return values[m[2:len(m)-1]]
	}), nil
}
