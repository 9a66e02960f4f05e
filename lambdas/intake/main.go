// Command intake is keywarden's intake Lambda. Its handler is built by
// internal/lambdafn/intake, which links only the AWS clients this function calls.
package main

import (
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/intake"
)

func main() { lambdafn.Main(lambdafn.Intake, intake.New) }
