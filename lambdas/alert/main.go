// Command alert is keywarden's alert Lambda. Its handler is built by
// internal/lambdafn/alert, which links only the AWS clients this function calls.
package main

import (
	"github.com/keywarden/keywarden/internal/lambdafn"
	"github.com/keywarden/keywarden/internal/lambdafn/alert"
)

func main() { lambdafn.Main(lambdafn.Alert, alert.New) }
