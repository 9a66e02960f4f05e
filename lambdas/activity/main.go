// Command activity is keywarden's activity Lambda. Its handler is built by
// internal/lambdafn/activity, which links only the AWS clients this function calls.
package main

import (
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/activity"
)

func main() { lambdafn.Main(lambdafn.Activity, activity.New) }
