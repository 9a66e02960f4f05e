package localaws

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Fault is a failure to inject into an operation or a whole service, so tests
// and drills can prove retries, catches and alerts work. Rates are drawn from
// the server's seeded generator, so a run with the same Seed and the same
// sequence of calls fails the same calls.
type Fault struct {
	// ThrottleRate is the fraction of calls (0..1) answered with the
	// service's real throttling error: IAM and STS 400 Throttling, SNS 400
	// Throttled, CloudTrail, EventBridge and Secrets Manager 400
	// ThrottlingException, Lambda and SES v2 429 TooManyRequestsException,
	// DynamoDB 400 ProvisionedThroughputExceededException.
	ThrottleRate float64
	// ServerErrorRate is the fraction of calls (0..1) answered with the
	// service's real 5xx error (IAM ServiceFailure, SNS InternalError,
	// Secrets Manager InternalServiceError, …).
	ServerErrorRate float64
	// Latency is added before every answer.
	Latency time.Duration
	// ErrorCode, when set, fails every call with this code, e.g.
	// "AccessDenied". ErrorStatus defaults to the status the service answers
	// the code with (the code's usual status, see statusForCode, unless the
	// service differs: Secrets Manager answers AccessDeniedException and
	// ResourceNotFoundException with 400), ErrorMessage to a note that the
	// failure is injected.
	ErrorCode    string
	ErrorStatus  int
	ErrorMessage string
}

// SetFault injects f into the calls named by key: "service:Operation" (e.g.
// "iam:UpdateAccessKey") or "service:*" for every operation of a service.
// Services are named by their SigV4 signing names: iam, sts, sns,
// cloudtrail, events, ses, lambda, dynamodb, secretsmanager, cloudformation,
// sqs, states, monitoring (CloudWatch), organizations (e.g. "secretsmanager:PutSecretValue"). An operation's own fault replaces its
// service's. A zero Fault removes the fault.
func (s *Server) SetFault(key string, f Fault) error {
	svcName, op, ok := strings.Cut(key, ":")
	svc := s.services[svcName]
	if !ok || svc == nil {
		return fmt.Errorf("localaws: fault key %q: want service:Operation or service:* with service one of iam, sts, sns, cloudtrail, events, ses, lambda, dynamodb, secretsmanager, cloudformation, sqs, states, monitoring, organizations", key)
	}
	if _, known := svc.ops[op]; op != "*" && !known {
		return fmt.Errorf("localaws: fault key %q: %s has no emulated operation %q", key, svcName, op)
	}
	if f.ThrottleRate < 0 || f.ServerErrorRate < 0 || f.ThrottleRate+f.ServerErrorRate > 1 {
		return fmt.Errorf("localaws: fault %q: rates must be within 0..1 and sum to at most 1 (throttle %v, 5xx %v)", key, f.ThrottleRate, f.ServerErrorRate)
	}
	if f.Latency < 0 {
		return fmt.Errorf("localaws: fault %q: negative latency %s", key, f.Latency)
	}
	if f.ErrorStatus != 0 && (f.ErrorStatus < 400 || f.ErrorStatus > 599) {
		return fmt.Errorf("localaws: fault %q: error status %d is not an HTTP error status", key, f.ErrorStatus)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == (Fault{}) {
		delete(s.faults, key)
		return nil
	}
	s.faults[key] = f
	return nil
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string]Fault{}
}

// injectFault decides whether this call of op fails. Callers hold s.mu.
func (s *Server) injectFault(svc *service, op string) (Fault, *awsError) {
	f, ok := s.faults[svc.name+":"+op]
	if !ok {
		f, ok = s.faults[svc.name+":*"]
	}
	if !ok {
		return Fault{}, nil
	}
	if f.ErrorCode != "" {
		if f.ErrorCode == svc.throttleErr.Code && f.ErrorStatus == 0 && f.ErrorMessage == "" {
			return f, svc.throttle()
		}
		e := &awsError{Code: f.ErrorCode, Message: f.ErrorMessage, Status: f.ErrorStatus}
		if e.Status == 0 {
			if status, own := svc.errorStatus[f.ErrorCode]; own {
				e.Status = status
			} else {
				e.Status = statusForCode(f.ErrorCode)
			}
		}
		if e.Message == "" {
			e.Message = fmt.Sprintf("%s (injected by localaws)", f.ErrorCode)
		}
		return f, e
	}
	if f.ThrottleRate > 0 || f.ServerErrorRate > 0 {
		u := s.faultRand.Float64()
		switch {
		case u < f.ThrottleRate:
			return f, svc.throttle()
		case u < f.ThrottleRate+f.ServerErrorRate:
			return f, svc.serverError("")
		}
	}
	return f, nil
}

// statusForCode is the HTTP status AWS answers a code with, for injected
// failures; unknown codes are client errors (400).
func statusForCode(code string) int {
	switch code {
	case "AccessDenied", "AccessDeniedException", "AuthorizationError", "InvalidClientTokenId",
		"UnrecognizedClientException", "ExpiredToken", "SignatureDoesNotMatch":
		return http.StatusForbidden
	case "NoSuchEntity", "NotFound", "ResourceNotFoundException", "NotFoundException", "ReportInProgress":
		return http.StatusNotFound
	case "LimitExceeded", "EntityAlreadyExists", "ConcurrentModification", "DeleteConflict":
		return http.StatusConflict
	case "TooManyRequestsException":
		return http.StatusTooManyRequests
	case "ServiceFailure", "InternalError", "InternalFailure", "InternalException",
		"ServiceException", "InternalServerError", "InternalServiceError":
		return http.StatusInternalServerError
	case "ServiceUnavailable", "ServiceUnavailableException":
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}
