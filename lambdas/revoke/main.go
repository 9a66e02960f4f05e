// Command revoke is keywarden's revoke Lambda. Its handler is built by
// internal/lambdafn/revoke, which links only the AWS clients this function calls.
package main

import (
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/revoke"
)

func main() { lambdafn.Main(lambdafn.Revoke, revoke.New) }
