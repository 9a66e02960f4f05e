package activity

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/keywarden/keywarden/internal/clock"
	"github.com/keywarden/keywarden/internal/event"
	"github.com/keywarden/keywarden/internal/settings"
	"github.com/keywarden/keywarden/internal/step"
)

// Input is the step's input: the finding of the exposed-key branch.
type Input struct {
	Finding event.Exposure `json:"finding"`
	// Execution is the execution's name: the member session's name in
	// organization mode.
	Execution string `json:"execution,omitempty"`
}

// Target is the account the step searches, and the execution's name.
func (in Input) Target() (account, execution string) { return in.Finding.Account, in.Execution }

// Bounds of the settings, as settings.Validate checks them at synth time.
const (
	// MaxWindow is CloudTrail event history's reach.
	MaxWindow        = 90 * 24 * time.Hour
	DefaultWindow    = 24 * time.Hour
	MinMaxEvents     = 50
	MaxMaxEvents     = 5000
	DefaultMaxEvents = 500
)

var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)

// Handler is the "look up activity" step.
type Handler struct {
	// Clients returns the CloudTrail client of a region; main builds one per
	// region at cold start.
	Clients func(region string) LookupAPI
	// Regions are searched concurrently, each at CloudTrail's own pace.
	Regions []string
	// Window is how far back from now the search goes.
	Window time.Duration
	// MaxEvents bounds the events read per lookup (by key, by user) and
	// region.
	MaxEvents int
	// Now is the clock; the search ends at Now().
	Now func() time.Time
	// Sleep waits between requests; nil means a real timer. Tests inject it
	// so that rate limiting costs no time.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger gets one line per region searched; nil means slog.Default().
	Logger *slog.Logger

	once    sync.Once
	limiter *limiter
}

// NewHandler reads the activity settings from the environment and checks
// them, so a bad deployment fails at cold start with a clear InvalidSetting
// error rather than mid-incident. defaultRegion (the Lambda's AWS_REGION) is
// searched when no regions are configured.
func NewHandler(env settings.Lookup, defaultRegion string, clients func(string) LookupAPI) (*Handler, error) {
	if clients == nil {
		return nil, step.Errorf(step.InvalidSetting, "activity: no CloudTrail clients")
	}
	hours, err := env.Int(settings.EnvActivityWindow, int(DefaultWindow/time.Hour))
	if err != nil {
		return nil, step.Errorf(step.InvalidSetting, "activity: %w", err)
	}
	if window := time.Duration(hours) * time.Hour; window <= 0 || window > MaxWindow {
		return nil, step.Errorf(step.InvalidSetting, "activity: %s is %d; use 1 to %d hours (CloudTrail keeps 90 days)",
			settings.EnvActivityWindow, hours, int(MaxWindow/time.Hour))
	}
	maxEvents, err := env.Int(settings.EnvActivityMaxEvents, DefaultMaxEvents)
	if err != nil {
		return nil, step.Errorf(step.InvalidSetting, "activity: %w", err)
	}
	if maxEvents < MinMaxEvents || maxEvents > MaxMaxEvents {
		return nil, step.Errorf(step.InvalidSetting, "activity: %s is %d; use %d to %d",
			settings.EnvActivityMaxEvents, maxEvents, MinMaxEvents, MaxMaxEvents)
	}
	raw, _ := env(settings.EnvActivityRegions)
	regions := settings.SplitList(raw)
	if len(regions) == 0 {
		if defaultRegion == "" {
			return nil, step.Errorf(step.InvalidSetting, "activity: neither %s nor AWS_REGION names a region to search",
				settings.EnvActivityRegions)
		}
		regions = []string{defaultRegion}
	}
	var unique []string
	for _, r := range regions {
		if !regionPattern.MatchString(r) {
			return nil, step.Errorf(step.InvalidSetting, "activity: %s has %q, which is not a region name such as us-east-1",
				settings.EnvActivityRegions, r)
		}
		if !slices.Contains(unique, r) {
			unique = append(unique, r)
		}
	}
	return &Handler{
		Clients: clients, Regions: unique, Window: time.Duration(hours) * time.Hour,
		MaxEvents: maxEvents, Now: time.Now,
	}, nil
}

// Handle looks up what the finding's key and user did and summarises it.
//
// A region whose search fails for good (AccessDenied, say, in a region
// that is not enabled) does not fail the step: the summary names it in
// FailedRegions. A region that was throttled or met a transient error after
// the SDK's retries fails the step with Throttled or Transient, so the state
// machine retries the whole (read-only) step rather than alert on half the
// activity. When every region fails, the error is all regions' errors
// joined, named after the first region's (in the configured order).
func (h *Handler) Handle(ctx context.Context, in Input) (Summary, error) {
	return h.HandleWith(ctx, h.Clients, in)
}

// HandleWith is Handle searching with clients instead of h.Clients: the
// clients of the finding's account, in organization mode.
func (h *Handler) HandleWith(ctx context.Context, clients func(region string) LookupAPI, in Input) (Summary, error) {
	if err := h.check(); err != nil {
		return Summary{}, err
	}
	x := in.Finding
	if x.AccessKeyID == "" {
		return Summary{}, step.Errorf(step.InvalidEvent, "look up CloudTrail events: the finding has no access key id")
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	h.once.Do(func() {
		sleep := h.Sleep
		if sleep == nil {
			sleep = clock.Sleep
		}
		h.limiter = newLimiter(now, sleep)
	})
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}

	// CloudTrail's times are whole seconds.
	end := now().UTC().Truncate(time.Second)
	q := query{keyID: x.AccessKeyID, start: end.Add(-h.Window), end: end, maxEvents: h.MaxEvents}
	if !x.Root && !event.IsRootName(x.UserName) {
		q.user = x.UserName
	}

	t := newTally()
	results := make([]regionResult, len(h.Regions))
	var wg sync.WaitGroup
	for i, region := range h.Regions {
		wg.Go(func() {
			results[i] = searchRegion(ctx, clients(region), h.limiter, region, q, t)
		})
	}
	wg.Wait()

	s := Summary{
		AccessKeyID: x.AccessKeyID, UserName: q.user, WindowStart: q.start, WindowEnd: q.end,
		Regions: slices.Clone(h.Regions),
	}
	for _, a := range q.attributes() {
		s.LookedUpBy = append(s.LookedUpBy, string(a.AttributeKey))
	}
	var errs []error
	for _, r := range results {
		s.Requests += r.requests
		s.Truncated = s.Truncated || r.truncated
		attrs := []any{
			"accessKeyId", x.AccessKeyID, "userName", q.user, "region", r.region,
			"events", r.events, "pages", r.requests, "truncated", r.truncated,
		}
		if r.err != nil {
			errs = append(errs, r.err)
			name := step.Name(r.err)
			s.FailedRegions = append(s.FailedRegions, FailedRegion{Region: r.region, Error: name, Message: clip(r.err.Error())})
			log.WarnContext(ctx, "CloudTrail lookup failed", append(attrs, "error", name, "message", r.err.Error())...)
			continue
		}
		log.InfoContext(ctx, "CloudTrail lookup", attrs...)
	}
	if len(errs) == len(h.Regions) {
		return Summary{}, step.Classify(errors.Join(errs...))
	}
	for _, err := range errs {
		if name := step.Name(err); name == step.Throttled || name == step.Transient {
			return Summary{}, step.Classify(err)
		}
	}
	t.fill(&s)
	fit(&s)
	return s, nil
}

// check catches a Handler built by hand with a missing field.
func (h *Handler) check() error {
	switch {
	case h.Clients == nil:
		return step.Errorf(step.InvalidSetting, "activity: no CloudTrail clients")
	case len(h.Regions) == 0:
		return step.Errorf(step.InvalidSetting, "activity: no regions to search")
	case h.Window <= 0 || h.Window > MaxWindow:
		return step.Errorf(step.InvalidSetting, "activity: window %s must be positive and at most %s", h.Window, MaxWindow)
	case h.MaxEvents < 1:
		return step.Errorf(step.InvalidSetting, "activity: MaxEvents is %d; it must be positive", h.MaxEvents)
	}
	return nil
}
