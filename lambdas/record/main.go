// Command record is keywarden's record Lambda. Its handler is built by
// internal/lambdafn/record, which links only the AWS clients this function calls.
package main

import (
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/record"
)

func main() { lambdafn.Main(lambdafn.Record, record.New) }
