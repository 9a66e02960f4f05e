package localaws

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

var trailNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$`)

// Trail is a CloudTrail trail, as DescribeTrails, GetTrailStatus and
// GetEventSelectors show it. localaws records events for LookupEvents
// whether or not a trail exists (as CloudTrail's event history does); a
// trail here is configuration to inspect.
type Trail struct {
	Name string
	// HomeRegion is where the trail was created; default the server's.
	HomeRegion  string
	MultiRegion bool
	// Organization: an organization trail (created in the management
	// account or by a delegated administrator), logging every member.
	Organization bool
	Logging      bool
	S3Bucket     string
	// EventSelectors are the basic selectors. With neither these nor
	// AdvancedEventSelectors the trail has CloudTrail's default: one
	// basic selector logging all management events.
	EventSelectors         []EventSelector
	AdvancedEventSelectors []AdvancedEventSelector
}

// EventSelector is a basic event selector.
type EventSelector struct {
	ReadWriteType           string `json:"ReadWriteType"` // All, ReadOnly or WriteOnly
	IncludeManagementEvents bool   `json:"IncludeManagementEvents"`
}

// AdvancedEventSelector is an advanced event selector.
type AdvancedEventSelector struct {
	Name           string          `json:"Name,omitempty"`
	FieldSelectors []FieldSelector `json:"FieldSelectors"`
}

// FieldSelector is one condition of an advanced event selector.
type FieldSelector struct {
	Field     string   `json:"Field"`
	Equals    []string `json:"Equals,omitempty"`
	NotEquals []string `json:"NotEquals,omitempty"`
}

// AddTrail creates or replaces a trail.
func (s *Server) AddTrail(t Trail) error {
	if !trailNamePattern.MatchString(t.Name) {
		return fmt.Errorf("localaws: trail name %q: want 3-128 of letters, digits, '.', '_' and '-'", t.Name)
	}
	if len(t.EventSelectors) > 0 && len(t.AdvancedEventSelectors) > 0 {
		return fmt.Errorf("localaws: trail %s: basic and advanced event selectors exclude each other", t.Name)
	}
	for _, sel := range t.EventSelectors {
		switch sel.ReadWriteType {
		case "All", "ReadOnly", "WriteOnly":
		default:
			return fmt.Errorf("localaws: trail %s: ReadWriteType %q: want All, ReadOnly or WriteOnly", t.Name, sel.ReadWriteType)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.HomeRegion == "" {
		t.HomeRegion = s.region
	}
	if t.EventSelectors == nil && t.AdvancedEventSelectors == nil {
		t.EventSelectors = []EventSelector{{ReadWriteType: "All", IncludeManagementEvents: true}}
	}
	if t.S3Bucket == "" {
		t.S3Bucket = "aws-cloudtrail-logs-" + s.account
	}
	if s.trail.trails == nil {
		s.trail.trails = map[string]*Trail{}
	}
	s.trail.trails[t.Name] = &t
	return nil
}

func (s *Server) trailARN(t *Trail) string {
	return fmt.Sprintf("arn:aws:cloudtrail:%s:%s:trail/%s", t.HomeRegion, s.account, t.Name)
}

// findTrail finds a trail by name or ARN as the caller in region sees it:
// a single-region trail of another region is unknown there. Callers hold
// s.mu.
func (s *Server) findTrail(nameOrARN, region string) (*Trail, *awsError) {
	for _, t := range s.trail.trails {
		if (t.Name == nameOrARN || s.trailARN(t) == nameOrARN) && (t.MultiRegion || t.HomeRegion == region) {
			return t, nil
		}
	}
	arn := nameOrARN
	if !strings.HasPrefix(arn, "arn:") {
		arn = fmt.Sprintf("arn:aws:cloudtrail:%s:%s:trail/%s", region, s.account, nameOrARN)
	}
	return nil, &awsError{Code: "TrailNotFoundException", Message: fmt.Sprintf("Unknown trail: %s for the user: %s", arn, s.account), Status: http.StatusBadRequest}
}

func (req *request) regionOr(def string) string {
	if req.region != "" {
		return req.region
	}
	return def
}

type describeTrailsInput struct {
	TrailNameList       []string `json:"trailNameList"`
	IncludeShadowTrails *bool    `json:"includeShadowTrails"`
}

type trailView struct {
	Name                       string `json:"Name"`
	S3BucketName               string `json:"S3BucketName"`
	IncludeGlobalServiceEvents bool   `json:"IncludeGlobalServiceEvents"`
	IsMultiRegionTrail         bool   `json:"IsMultiRegionTrail"`
	HomeRegion                 string `json:"HomeRegion"`
	TrailARN                   string `json:"TrailARN"`
	LogFileValidationEnabled   bool   `json:"LogFileValidationEnabled"`
	HasCustomEventSelectors    bool   `json:"HasCustomEventSelectors"`
	HasInsightSelectors        bool   `json:"HasInsightSelectors"`
	IsOrganizationTrail        bool   `json:"IsOrganizationTrail"`
}

type describeTrailsOutput struct {
	TrailList []trailView `json:"trailList"`
}

// cloudTrailDescribeTrails lists the trails the caller's region sees: its
// own, and (with includeShadowTrails, the default) other regions'
// multi-region trails. Names that match no trail are left out.
func (s *Server) cloudTrailDescribeTrails(req *request) (any, *awsError) {
	var in describeTrailsInput
	if aerr := decodeJSON(req.svc, req.body, &in); aerr != nil {
		return nil, aerr
	}
	region := req.regionOr(s.region)
	shadows := in.IncludeShadowTrails == nil || *in.IncludeShadowTrails
	out := &describeTrailsOutput{TrailList: []trailView{}}
	for _, t := range s.trail.trails {
		if t.HomeRegion != region && !(t.MultiRegion && shadows) {
			continue
		}
		if len(in.TrailNameList) > 0 && !containsAny(in.TrailNameList, t.Name, s.trailARN(t)) {
			continue
		}
		defaultSelectors := len(t.AdvancedEventSelectors) == 0 && len(t.EventSelectors) == 1 &&
			t.EventSelectors[0] == EventSelector{ReadWriteType: "All", IncludeManagementEvents: true}
		out.TrailList = append(out.TrailList, trailView{
			Name: t.Name, S3BucketName: t.S3Bucket, IncludeGlobalServiceEvents: true, IsMultiRegionTrail: t.MultiRegion,
			HomeRegion: t.HomeRegion, TrailARN: s.trailARN(t), HasCustomEventSelectors: !defaultSelectors,
			IsOrganizationTrail: t.Organization,
		})
	}
	sort.Slice(out.TrailList, func(i, j int) bool { return out.TrailList[i].TrailARN < out.TrailList[j].TrailARN })
	return out, nil
}

func containsAny(list []string, values ...string) bool {
	for _, v := range list {
		for _, w := range values {
			if v == w {
				return true
			}
		}
	}
	return false
}

type trailNameInput struct {
	Name      string `json:"Name"`
	TrailName string `json:"TrailName"`
}

type getTrailStatusOutput struct {
	IsLogging bool `json:"IsLogging"`
}

func (s *Server) cloudTrailGetTrailStatus(req *request) (any, *awsError) {
	var in trailNameInput
	if aerr := decodeJSON(req.svc, req.body, &in); aerr != nil {
		return nil, aerr
	}
	t, aerr := s.findTrail(in.Name, req.regionOr(s.region))
	if aerr != nil {
		return nil, aerr
	}
	return &getTrailStatusOutput{IsLogging: t.Logging}, nil
}

type getEventSelectorsOutput struct {
	TrailARN               string                  `json:"TrailARN"`
	EventSelectors         []EventSelector         `json:"EventSelectors,omitempty"`
	AdvancedEventSelectors []AdvancedEventSelector `json:"AdvancedEventSelectors,omitempty"`
}

func (s *Server) cloudTrailGetEventSelectors(req *request) (any, *awsError) {
	var in trailNameInput
	if aerr := decodeJSON(req.svc, req.body, &in); aerr != nil {
		return nil, aerr
	}
	t, aerr := s.findTrail(in.TrailName, req.regionOr(s.region))
	if aerr != nil {
		return nil, aerr
	}
	return &getEventSelectorsOutput{TrailARN: s.trailARN(t), EventSelectors: t.EventSelectors, AdvancedEventSelectors: t.AdvancedEventSelectors}, nil
}
