package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// modulePath identifies keywarden's go.mod when looking for the repository
// root.
const modulePath = "github.com/keywarden/keywarden"

// findRepoRoot walks up from dir to the directory whose go.mod declares
// keywarden's module. The CDK CLI runs the app from the repository root
// (cdk.json), `go test` runs it from infra/; both must bundle lambdas/<name>.
func findRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if declaresModule(filepath.Join(d, "go.mod")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod declaring module %s in %s or above", modulePath, dir)
		}
	}
}

func declaresModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); strings.HasPrefix(line, "module ") {
			return strings.Trim(strings.TrimSpace(strings.TrimPrefix(line, "module")), `"`) == modulePath
		}
	}
	return false
}

// readCDKContext returns the "context" object of root/cdk.json: the default
// settings and the CDK feature flags. The CLI hands it to the app itself;
// tests and a bare `go run ./infra` read it here so they build the same
// template as `cdk synth`.
func readCDKContext(root string) (map[string]any, error) {
	raw, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	if err != nil {
		return nil, err
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("cdk.json: %w", err)
	}
	if doc.Context == nil {
		return nil, errors.New("cdk.json has no context object")
	}
	return doc.Context, nil
}
