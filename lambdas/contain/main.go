// Command contain is keywarden's contain Lambda. Its handler is built by
// internal/lambdafn/contain, which links only the AWS clients this function calls.
package main

import (
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/contain"
)

func main() { lambdafn.Main(lambdafn.Contain, contain.New) }
