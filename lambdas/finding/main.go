// Command finding is keywarden's finding Lambda. Its handler is built by
// internal/lambdafn/finding, which links only the AWS clients this function calls.
package main

import (
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/finding"
)

func main() { lambdafn.Main(lambdafn.Finding, finding.New) }
