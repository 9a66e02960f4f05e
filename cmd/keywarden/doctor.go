package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// errDoctorNotBuilt is returned until `keywarden doctor` is built (issue 13).
var errDoctorNotBuilt = errors.New("keywarden doctor is not built yet")

// doctor checks a deployed stack for silent misconfigurations.
func doctor(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintf(stderr, "keywarden: %v\n", errDoctorNotBuilt)
	return 1
}
