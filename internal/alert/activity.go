package alert

import (
	"fmt"
	"strings"

	"github.com/keywarden/keywarden/internal/activity"
)

func activityHeadline(a *activity.Summary) string {
	hours := a.WindowEnd.Sub(a.WindowStart).Hours()
	s := fmt.Sprintf("%d events in the %.0f h before %s in %s", a.TotalEvents, hours, stamp(a.WindowEnd), strings.Join(a.Regions, ", "))
	if a.HighRiskTotal > 0 {
		s += fmt.Sprintf(", %d high-risk", a.HighRiskTotal)
	}
	return s
}

// writeActivity renders the CloudTrail summary. Every string in it came from
// CloudTrail events an attacker could shape, so each is cleaned.
func writeActivity(b *strings.Builder, a *activity.Summary) {
	b.WriteString("What the key and its user did (CloudTrail)\n")
	fmt.Fprintf(b, "  Searched:       %s to %s, regions %s, by %s\n",
		stamp(a.WindowStart), stamp(a.WindowEnd), strings.Join(a.Regions, ", "), strings.Join(a.LookedUpBy, " and "))
	fmt.Fprintf(b, "  Events:         %d", a.TotalEvents)
	if a.TotalEvents > 0 {
		fmt.Fprintf(b, " (first %s, last %s)", stamp(a.FirstSeen), stamp(a.LastSeen))
	}
	b.WriteString("\n")
	if a.Truncated {
		b.WriteString("  NOTE:           the search stopped at its bound; there were more events. Search CloudTrail for the rest.\n")
	}
	for _, f := range a.FailedRegions {
		fmt.Fprintf(b, "  NOTE:           region %s could not be searched (%s: %s); search it by hand.\n", clean(f.Region, 30), clean(f.Error, 40), clean(f.Message, 300))
	}
	counts := []struct {
		label string
		list  []activity.Count
	}{
		{"Event names", a.EventNames}, {"Resources", a.ResourceNames}, {"Resource types", a.ResourceTypes},
		{"Source IPs", a.SourceIPs}, {"Regions", a.AWSRegions}, {"Error codes", a.ErrorCodes},
	}
	for _, c := range counts {
		if len(c.list) == 0 {
			continue
		}
		fmt.Fprintf(b, "  %-15s %s\n", c.label+":", countList(c.list))
	}
	if a.HighRiskTotal == 0 {
		b.WriteString("  High-risk calls: none seen\n")
		return
	}
	fmt.Fprintf(b, "  High-risk calls: %d (%s)\n", a.HighRiskTotal, countList(a.HighRiskNames))
	for _, c := range a.HighRisk {
		fmt.Fprintf(b, "    %s  %-22s %-12s from %s", stamp(c.Time), clean(c.EventName, 60), clean(c.Region, 20), orUnknown(clean(c.SourceIP, 60)))
		if len(c.Resources) > 0 {
			names := make([]string, 0, len(c.Resources))
			for _, r := range c.Resources {
				names = append(names, clean(r.Name, 100))
			}
			fmt.Fprintf(b, " on %s", strings.Join(names, ", "))
		}
		if c.ErrorCode != "" {
			fmt.Fprintf(b, " [failed: %s]", clean(c.ErrorCode, 60))
		}
		b.WriteString("\n")
	}
	if len(a.HighRisk) < a.HighRiskTotal {
		fmt.Fprintf(b, "    … %d more not listed\n", a.HighRiskTotal-len(a.HighRisk))
	}
}

func countList(list []activity.Count) string {
	parts := make([]string, 0, len(list))
	for _, c := range list {
		parts = append(parts, fmt.Sprintf("%s (%d)", clean(c.Name, 100), c.Count))
	}
	return strings.Join(parts, ", ")
}
