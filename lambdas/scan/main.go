// Command scan is keywarden's scan Lambda; see internal/lambdafn for its wiring.
package main

import "github.com/keywarden/keywarden/internal/lambdafn"

func main() { lambdafn.Main(lambdafn.Scan) }
