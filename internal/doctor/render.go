package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for a terminal: one block per check, the
// fix under each warning and failure, and a count.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "keywarden doctor: stack %s in %s\n\n", r.Stack, orNone(r.Region))
	counts := map[Status]int{}
	for _, res := range r.Results {
		counts[res.Status]++
		fmt.Fprintf(&b, "%-4s  %s: %s\n", strings.ToUpper(string(res.Status)), res.Title, indent(res.Detail))
		if res.Fix != "" && res.Status != Pass {
			fmt.Fprintf(&b, "      fix: %s\n", indent(res.Fix))
		}
	}
	if r.NotChecked != "" {
		fmt.Fprintf(&b, "\nnot checked: %s\n", r.NotChecked)
	}
	fmt.Fprintf(&b, "\n%d checks: %d pass, %d warn, %d fail\n", len(r.Results), counts[Pass], counts[Warn], counts[Fail])
	_, err := io.WriteString(w, b.String())
	return err
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n        ") }

// WriteJSON writes the report as one indented JSON document.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
