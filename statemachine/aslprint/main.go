// Command aslprint writes a mode's state machine definition, placeholders
// unfilled, to stdout: `make asl-lint` validates organization mode's merged
// definition with it.
package main

import (
	"fmt"
	"os"

	"github.com/keywarden/keywarden/statemachine"
)

func main() {
	if len(os.Args) != 2 || (os.Args[1] != statemachine.ModeAccount && os.Args[1] != statemachine.ModeOrganization) {
		fmt.Fprintln(os.Stderr, "usage: aslprint account|organization")
		os.Exit(2)
	}
	fmt.Print(statemachine.DefinitionFor(os.Args[1]))
}
