// Package golden compares test output with files under testdata/, for the
// packages whose tests pin texts and JSON shapes (alerts, notices, parsed
// events, summaries). `go test ./... -update` rewrites the files; review the
// diff before committing it.
package golden

import (
	"flag"
	"os"
	"testing"
)

// Update, set by -update, rewrites golden files instead of comparing.
var Update = flag.Bool("update", false, "rewrite golden files under testdata/")

// Check compares got with the file at path (rewriting it under -update) and
// fails the test on a difference.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from what the test produced (go test -update if the change is meant):\n%s", path, got)
	}
}
