package activity

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

func TestNewHandler(t *testing.T) {
	clients := func(string) LookupAPI { return nil }
	tests := []struct {
		name          string
		env           map[string]string
		defaultRegion string
		noClients     bool

		wantErr     string // text the InvalidSetting error must hold
		wantRegions []string
		wantWindow  time.Duration
		wantMax     int
	}{
		{
			name: "defaults", defaultRegion: "us-east-1",
			wantRegions: []string{"us-east-1"}, wantWindow: 24 * time.Hour, wantMax: 500,
		},
		{
			name: "configured",
			env: map[string]string{
				settings.EnvActivityWindow: "72", settings.EnvActivityMaxEvents: "1000",
				settings.EnvActivityRegions: " us-east-1, eu-west-1 ,,us-east-1",
			},
			defaultRegion: "ap-southeast-2",
			wantRegions:   []string{"us-east-1", "eu-west-1"}, wantWindow: 72 * time.Hour, wantMax: 1000,
		},
		{
			name: "boundaries", defaultRegion: "us-gov-west-1",
			env:         map[string]string{settings.EnvActivityWindow: "2160", settings.EnvActivityMaxEvents: "50"},
			wantRegions: []string{"us-gov-west-1"}, wantWindow: 2160 * time.Hour, wantMax: 50,
		},
		{name: "window zero", env: map[string]string{settings.EnvActivityWindow: "0"}, defaultRegion: "us-east-1", wantErr: settings.EnvActivityWindow + " is 0"},
		{name: "window past 90 days", env: map[string]string{settings.EnvActivityWindow: "2161"}, defaultRegion: "us-east-1", wantErr: "use 1 to 2160 hours"},
		{name: "window not a number", env: map[string]string{settings.EnvActivityWindow: "1d"}, defaultRegion: "us-east-1", wantErr: "not a whole number"},
		{name: "bound too small", env: map[string]string{settings.EnvActivityMaxEvents: "49"}, defaultRegion: "us-east-1", wantErr: "use 50 to 5000"},
		{name: "bound too large", env: map[string]string{settings.EnvActivityMaxEvents: "5001"}, defaultRegion: "us-east-1", wantErr: "use 50 to 5000"},
		{name: "bad region", env: map[string]string{settings.EnvActivityRegions: "us-east-1,Ireland"}, defaultRegion: "us-east-1", wantErr: `"Ireland", which is not a region name`},
		{name: "no region at all", wantErr: "neither " + settings.EnvActivityRegions + " nor AWS_REGION"},
		{name: "no clients", defaultRegion: "us-east-1", noClients: true, wantErr: "no CloudTrail clients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			c := clients
			if tt.noClients {
				c = nil
			}
			h, err := NewHandler(env, tt.defaultRegion, c)
			if tt.wantErr != "" {
				if step.Name(err) != step.InvalidSetting || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewHandler error = %v (%s), want InvalidSetting saying %q", err, step.Name(err), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewHandler: %v", err)
			}
			if !slices.Equal(h.Regions, tt.wantRegions) || h.Window != tt.wantWindow || h.MaxEvents != tt.wantMax {
				t.Errorf("regions %v, window %v, max %d; want %v, %v, %d",
					h.Regions, h.Window, h.MaxEvents, tt.wantRegions, tt.wantWindow, tt.wantMax)
			}
			if h.Now == nil || h.Clients == nil {
				t.Error("clock or clients not set")
			}
		})
	}
}
