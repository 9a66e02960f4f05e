// Command remove is keywarden's remove Lambda. Its handler is built by
// internal/lambdafn/remove, which links only the AWS clients this function calls.
package main

import (
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/remove"
)

func main() { lambdafn.Main(lambdafn.Remove, remove.New) }
