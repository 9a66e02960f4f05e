package localaws

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// DefaultAccountID is the account a Server emulates unless told otherwise.
// It is moto's account id too, so conformance runs compare like with like.
const DefaultAccountID = "123456789012"

// DefaultRegion is the region a Server emulates unless told otherwise.
const DefaultRegion = "us-east-1"

// Credentials that SDKConfig and Env hand to clients. The key id names no key
// the emulator knows, so such a client acts as the account's root user.
const (
	TestAccessKeyID     = "AKIALOCALAWSTESTROOT"
	TestSecretAccessKey = "localaws-test-secret-not-a-real-secret"
)

// maxRequestBody bounds what a request may carry; Lambda's 6 MB payload limit
// is the largest any emulated operation accepts.
const maxRequestBody = 7 << 20

// Options configure a Server. The zero value is usable.
type Options struct {
	// AccountID is the emulated account; default DefaultAccountID.
	AccountID string
	// Region is the emulated region; default DefaultRegion.
	Region string
	// Addr is the listen address; default "127.0.0.1:0", a free port.
	Addr string
	// Now is the server clock; default time.Now. SetNow and Advance change
	// it later.
	Now func() time.Time
	// Seed drives fault injection and generated ids, so that a run repeats
	// exactly. Secret access keys are always drawn from crypto/rand.
	Seed uint64
	// Faults to inject from the start, keyed as for SetFault.
	Faults map[string]Fault
	// CredentialReportDelay is how long, on the server clock, a credential
	// report takes to generate; GetCredentialReport answers ReportInProgress
	// until then. Zero means ready at once, though GenerateCredentialReport
	// still answers STARTED before COMPLETE, as AWS does.
	CredentialReportDelay time.Duration
}

// Server is a running emulator. All methods are safe for concurrent use.
type Server struct {
	mu       sync.Mutex
	listener net.Listener
	http     *http.Server
	url      string
	services map[string]*service

	account     string
	region      string
	clock       func() time.Time
	offset      time.Duration
	reportDelay time.Duration

	faultRand *rand.Rand
	idRand    *rand.Rand
	faults    map[string]Fault

	iam       iamState
	trail     trailState
	sns       snsState
	ses       sesState
	lambda    lambdaState
	events    eventsState
	dynamo    dynamoState
	secrets   secretsState
	stacks    stackState
	stackSets stackSetState
	queues    queueState
	alarms    alarmState
	states    statesState
	calls     []Call

	// rootKeyID is the key id SDKConfig and Env sign with: TestAccessKeyID
	// for a Server of its own, the account's RootAccessKeyID inside an
	// Organization, whose front routes requests by key id.
	rootKeyID string
	// sessions are the live and expired AssumeRole sessions acting in this
	// account, by their ASIA… key id.
	sessions map[string]*stsSession
	// org is the Organization this Server is an account of, nil for a
	// Server of its own. Set once, before the Server serves.
	org *Organization
}

// New starts a Server listening on opts.Addr (default a free 127.0.0.1 port).
// Close it when done.
func New(opts Options) (*Server, error) {
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	if err := s.listen(opts.Addr, s); err != nil {
		return nil, err
	}
	return s, nil
}

// newServer builds an account's state without a listener: New adds one, an
// Organization serves its accounts from its own.
func newServer(opts Options) (*Server, error) {
	s := &Server{
		rootKeyID:   TestAccessKeyID,
		sessions:    map[string]*stsSession{},
		account:     opts.AccountID,
		region:      opts.Region,
		clock:       opts.Now,
		reportDelay: opts.CredentialReportDelay,
		faultRand:   rand.New(rand.NewPCG(opts.Seed, 0x6661756c74)), // "fault"
		idRand:      rand.New(rand.NewPCG(opts.Seed, 0x6964)),       // "id"
		faults:      map[string]Fault{},
	}
	if s.account == "" {
		s.account = DefaultAccountID
	}
	if !accountIDPattern.MatchString(s.account) {
		return nil, fmt.Errorf("localaws: account id %q: want 12 digits", s.account)
	}
	if s.region == "" {
		s.region = DefaultRegion
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if opts.CredentialReportDelay < 0 {
		return nil, fmt.Errorf("localaws: negative credential report delay %s", opts.CredentialReportDelay)
	}
	s.services = sharedServices()
	s.iam.init()
	s.sns.init()
	s.ses.init()
	s.lambda.init()
	s.dynamo.init()
	s.secrets.init()
	s.stacks.init()
	s.queues.init()
	s.alarms.init()
	s.states.init()
	if err := s.events.init(); err != nil {
		return nil, err
	}
	for key, f := range opts.Faults {
		if err := s.SetFault(key, f); err != nil {
			return nil, err
		}
	}

	return s, nil
}

// listen serves h on addr (default a free 127.0.0.1 port).
func (s *Server) listen(addr string, h http.Handler) error {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("localaws: listen on %s: %w", addr, err)
	}
	s.listener = ln
	s.url = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		// Serve returns ErrServerClosed after Close; nothing else to report.
		_ = s.http.Serve(ln)
	}()
	return nil
}

// URL is the endpoint to give clients, e.g. "http://127.0.0.1:40123".
func (s *Server) URL() string { return s.url }

// AccountID is the emulated account id.
func (s *Server) AccountID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.account
}

// Region is the emulated region.
func (s *Server) Region() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.region
}

// Close stops the listener and drops open connections. An account of an
// Organization has no listener of its own: closing it does nothing (close
// the Organization).
func (s *Server) Close() error {
	if s.http == nil {
		return nil
	}
	if err := s.http.Close(); err != nil {
		return fmt.Errorf("localaws: close: %w", err)
	}
	return nil
}

// SDKConfig returns an aws.Config that sends every client built from it to
// this server: static test credentials (the root user), the server's region,
// BaseEndpoint set to URL, and the standard retryer with its retry rules
// untouched but short backoffs and no retry quota, so tests that inject
// throttling stay fast and deterministic.
func (s *Server) SDKConfig() aws.Config {
	return aws.Config{
		Region:       s.Region(),
		BaseEndpoint: aws.String(s.url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{
				AccessKeyID:     s.signingKeyID(),
				SecretAccessKey: TestSecretAccessKey,
				Source:          "localaws",
			}, nil
		}),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
					return time.Duration(attempt) * 5 * time.Millisecond, nil
				})
				o.RateLimiter = ratelimit.None
			})
		},
	}
}

// signingKeyID is the root user's key id clients of s sign with.
func (s *Server) signingKeyID() string {
	if s.rootKeyID == "" {
		return TestAccessKeyID
	}
	return s.rootKeyID
}

// Env returns the environment (KEY=value) that points an SDK or CLI in
// another process at this server, for drills that run outside Go.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.url,
		"AWS_REGION=" + s.Region(),
		"AWS_ACCESS_KEY_ID=" + s.signingKeyID(),
		"AWS_SECRET_ACCESS_KEY=" + TestSecretAccessKey,
	}
}

// SetNow fixes the server clock at t (it no longer moves by itself).
func (s *Server) SetNow(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = func() time.Time { return t }
	s.offset = 0
}

// Advance moves the server clock forward by d (backward if d < 0).
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// Now is the server clock's current time.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// now reads the clock; callers hold s.mu.
func (s *Server) now() time.Time { return s.clock().Add(s.offset).UTC() }

// request is one HTTP request on its way through the pipeline.
type request struct {
	http      *http.Request
	body      []byte
	svc       *service
	op        string
	params    queryParams // query protocol parameters (form and URL query)
	keyID     string      // access key id from the SigV4 credential scope
	region    string      // signing region from the credential scope
	caller    principal
	requestID string
	sourceIP  string
}

// principal is who signed a request.
type principal struct {
	userName string // empty for the root user and for role sessions
	userID   string
	arn      string
	keyID    string
	// session is set for a role session's credentials (AssumeRole).
	session *stsSession
}

func (p principal) isRoot() bool { return p.userName == "" && p.session == nil }

// principalARN is the caller's aws:PrincipalArn: for a role session, the
// role's ARN (with its path), as AWS evaluates it.
func (p principal) principalARN() string {
	if p.session != nil {
		return p.session.roleARN
	}
	return p.arn
}

// ServeHTTP routes a request to its service and operation and answers in the
// service's wire protocol. Handlers never panic on input; a panic anyway is
// answered as the service's 500 so one bad request cannot stop a test run.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	keyID, region, signingName := parseCredentialScope(r.Header.Get("Authorization"))
	svc := s.services[signingName]
	if svc == nil {
		svc = s.services[guessService(r)]
	}
	if svc == nil {
		s.refuseUnknownService(w, r, keyID, signingName)
		return
	}

	req := &request{http: r, svc: svc, keyID: keyID, region: region, sourceIP: remoteIP(r)}
	var result any
	aerr := func() (aerr *awsError) {
		defer func() {
			if v := recover(); v != nil {
				aerr = svc.serverError(fmt.Sprintf("localaws: internal error: %v", v))
			}
		}()
		result, aerr = s.serve(req)
		return aerr
	}()
	if aerr != nil {
		svc.writeError(w, req.op, req.requestID, aerr)
		return
	}
	svc.writeResult(w, req.op, req.requestID, result)
}

// serve runs the pipeline: read, identify the operation and the caller,
// inject faults, run the operation, log the call.
func (s *Server) serve(req *request) (any, *awsError) {
	svc, r := req.svc, req.http
	s.mu.Lock()
	req.requestID = s.newUUID()
	s.mu.Unlock()

	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, s.finish(req, nil, svc.badRequest(fmt.Sprintf("could not read request body: %v", err)), false)
	}
	if len(body) > maxRequestBody {
		return nil, s.finish(req, nil, &awsError{Code: "RequestEntityTooLarge", Message: "Request body is too large", Status: http.StatusRequestEntityTooLarge}, false)
	}
	req.body = body

	op, aerr := svc.operation(req)
	req.op = op
	if aerr != nil {
		return nil, s.finish(req, nil, aerr, false)
	}
	handler := svc.ops[op]
	if req.keyID == "" {
		return nil, s.finish(req, nil, svc.missingAuth(), false)
	}

	s.mu.Lock()
	aerr = s.authenticate(req)
	fault, injected := s.injectFault(svc, op)
	s.mu.Unlock()
	if aerr != nil {
		return nil, s.finish(req, nil, aerr, false)
	}
	if fault.Latency > 0 {
		t := time.NewTimer(fault.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if injected != nil {
		return nil, s.finish(req, nil, injected, true)
	}

	var result any
	if handler.unlocked {
		result, aerr = handler.fn(s, req)
	} else {
		result, aerr = s.runLocked(handler.fn, req)
	}
	return result, s.finish(req, result, aerr, false)
}

// runLocked runs an operation under s.mu, releasing it even if fn panics.
func (s *Server) runLocked(fn opFunc, req *request) (any, *awsError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(s, req)
}

// finish logs the call (and, for IAM writes, the CloudTrail event) and
// passes aerr through.
func (s *Server) finish(req *request, result any, aerr *awsError, injected bool) *awsError {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Call{
		Time:        s.now(),
		Service:     req.svc.name,
		Operation:   req.op,
		Status:      http.StatusOK,
		AccessKeyID: req.keyID,
		Injected:    injected,
		Caller:      req.caller.arn,
	}
	if req.caller.session != nil {
		c.SourceIdentity = req.caller.session.sourceIdentity
	}
	if req.svc.name == "sts" && req.op == "AssumeRole" && req.params != nil {
		c.RoleArn = req.params.get("RoleArn")
	}
	if aerr != nil {
		c.ErrorCode, c.Status = aerr.Code, aerr.Status
	}
	s.calls = append(s.calls, c)
	if req.svc.name == "iam" && iamWrites[req.op] && !isAuthError(aerr) {
		s.recordIAMEvent(req, result, aerr)
	}
	return aerr
}

// authenticate resolves who signed req. Unknown key ids act as root; a key
// the emulator knows acts as its user, and is refused once inactive or
// deleted, which is what lets a drill prove that containment worked.
// Callers hold s.mu.
func (s *Server) authenticate(req *request) *awsError {
	root := principal{userID: s.account, arn: "arn:aws:iam::" + s.account + ":root", keyID: req.keyID}
	if sess, ok := s.sessions[req.keyID]; ok {
		return s.authenticateSession(req, sess)
	}
	k, ok := s.iam.keys[req.keyID]
	if !ok {
		if s.org != nil && req.keyID != s.rootKeyID {
			// The front routed a key this account does not hold (a key
			// id claimed by a fixture that then failed): refuse it rather
			// than act as root.
			return req.svc.invalidToken()
		}
		req.caller = root
		return nil
	}
	if k.deleted || k.status != statusActive {
		return req.svc.invalidToken()
	}
	u := s.iam.users[k.user]
	req.caller = principal{userName: u.name, userID: u.id, arn: s.userARN(u), keyID: k.id}
	k.lastUsed = &lastUse{date: s.now(), region: req.region, service: req.svc.name}
	if req.svc.name == "iam" {
		// IAM is global; AWS records its calls in us-east-1.
		k.lastUsed.region = "us-east-1"
	}
	return nil
}

// parseCredentialScope extracts access key id, region and service from a
// SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/iam/aws4_request, ...".
func parseCredentialScope(auth string) (keyID, region, service string) {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "", "", ""
	}
	if i := strings.IndexAny(rest, ", "); i >= 0 {
		rest = rest[:i]
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return "", "", ""
	}
	return parts[0], parts[2], parts[3]
}

// guessService routes an unsigned request by its shape, so that a client
// that forgot credentials gets AWS's refusal in the right protocol.
func guessService(r *http.Request) string {
	target := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, cloudTrailTargetPrefixes[0]) || strings.HasPrefix(target, cloudTrailTargetPrefixes[1]):
		return "cloudtrail"
	case strings.HasPrefix(target, eventsTargetPrefix):
		return "events"
	case strings.HasPrefix(target, dynamoDBTargetPrefix):
		return "dynamodb"
	case strings.HasPrefix(target, secretsManagerTargetPrefix):
		return "secretsmanager"
	case strings.HasPrefix(target, sqsTargetPrefix):
		return "sqs"
	case strings.HasPrefix(target, statesTargetPrefix):
		return "states"
	case strings.HasPrefix(target, organizationsTargetPrefix):
		return "organizations"
	case strings.HasPrefix(r.URL.Path, "/service/"+cloudWatchCBORService+"/"):
		return "monitoring"
	case strings.HasPrefix(r.URL.Path, lambdaPathPrefix):
		return "lambda"
	case strings.HasPrefix(r.URL.Path, "/v2/email/"):
		return "ses"
	}
	return ""
}

// refuseUnknownService answers a request for a service localaws does not
// emulate (or an unsigned one it cannot place) with a clear 4xx/501 that the
// SDK does not retry, and logs it so tests can see the attempt.
func (s *Server) refuseUnknownService(w http.ResponseWriter, r *http.Request, keyID, signingName string) {
	e := &awsError{Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token", Status: http.StatusForbidden}
	if signingName != "" {
		e = &awsError{Code: "NotImplemented", Message: fmt.Sprintf("localaws does not emulate service %q", signingName), Status: http.StatusNotImplemented}
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{Time: s.now(), Service: signingName, ErrorCode: e.Code, Status: e.Status, AccessKeyID: keyID})
	s.mu.Unlock()
	if r.Header.Get("X-Amz-Target") != "" || strings.Contains(r.Header.Get("Content-Type"), "json") {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(e.Status)
		_, _ = fmt.Fprintf(w, `{"__type":%q,"message":%q}`, e.Code, e.Message)
		return
	}
	// Without a protocol to go by, answer in the query protocol's XML.
	writeQueryError(w, iamNamespace, "", e)
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func isAuthError(aerr *awsError) bool {
	return aerr != nil && (aerr.Code == "InvalidClientTokenId" || aerr.Code == "UnrecognizedClientException")
}
