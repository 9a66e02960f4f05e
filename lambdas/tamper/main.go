// Command tamper is keywarden's tamper Lambda. Its handler is built by
// internal/lambdafn/tamper, which links only the AWS clients this function calls.
package main

import (
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/tamper"
)

func main() { lambdafn.Main(lambdafn.Tamper, tamper.New) }
