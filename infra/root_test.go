package main

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/keywarden/keywarden/internal/settings"
)

// cdk.json's settings are the defaults settings documents.
func TestCDKJSONDefaults(t *testing.T) {
	s, err := settings.FromContext(func(key string) any { return cdkContext[key] })
	if err != nil {
		t.Fatal(err)
	}
	d := settings.Default()
	// An empty list in cdk.json reads as an empty, non-nil slice.
	if len(s.ActivityRegions) == 0 && len(s.AlertEmails) == 0 {
		s.ActivityRegions, s.AlertEmails = nil, nil
	}
	if !reflect.DeepEqual(s, d) {
		t.Errorf("cdk.json context %+v, want settings.Default() %+v", s, d)
	}
	// keyAge spells out every field of the policy, so cdk.json documents
	// them all; noticeSender stays unset (no SES).
	raw, err := json.Marshal(d.KeyAge)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	keyAge, _ := cdkContext["keyAge"].(map[string]any)
	if got, want := slices.Sorted(maps.Keys(keyAge)), slices.Sorted(maps.Keys(fields)); !slices.Equal(got, want) {
		t.Errorf("cdk.json keyAge has %v, want every policy field %v", got, want)
	}
	for _, key := range []string{"dryRun", "schedule", "noAccessKeysTag"} {
		if _, ok := cdkContext[key]; !ok {
			t.Errorf("cdk.json context lacks %s", key)
		}
	}
	if _, ok := cdkContext["noticeSender"]; ok {
		t.Error("cdk.json sets noticeSender; the default is none")
	}
}

func TestFindRepoRoot(t *testing.T) {
	if got, err := findRepoRoot(filepath.Join(repoRoot, "infra")); err != nil || got != repoRoot {
		t.Errorf("from infra/: %q, %v; want %q", got, err, repoRoot)
	}
	if _, err := findRepoRoot(t.TempDir()); err == nil {
		t.Error("outside the repository: no error")
	}
}
