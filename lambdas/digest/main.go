// Command digest is keywarden's digest Lambda. Its handler is built by
// internal/lambdafn/digest, which links only the AWS clients this function calls.
package main

import (
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/digest"
)

func main() { lambdafn.Main(lambdafn.Digest, digest.New) }
