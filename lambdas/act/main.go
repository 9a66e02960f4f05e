// Command act is keywarden's act Lambda. Its handler is built by
// internal/lambdafn/act, which links only the AWS clients this function calls.
package main

import (
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/act"
)

func main() { lambdafn.Main(lambdafn.Act, act.New) }
