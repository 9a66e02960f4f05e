// Command scan is keywarden's scan Lambda. Its handler is built by
// internal/lambdafn/scan, which links only the AWS clients this function calls.
package main

import (
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/scan"
)

func main() { lambdafn.Main(lambdafn.Scan, scan.New) }
