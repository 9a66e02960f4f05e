// Command record is keywarden's record Lambda; see internal/lambdafn for its wiring.
package main

import "github.com/keywarden/keywarden/internal/lambdafn"

func main() { lambdafn.Main(lambdafn.Record) }
