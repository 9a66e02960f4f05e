// Package step names the errors that keywarden's Lambda steps return, so the
// state machine can Retry the transient ones and Catch the rest by name.
//
// A Lambda's error name reaches Step Functions as the invocation's errorType;
// lambdas/internal/start turns a step.Error into exactly that name.
package step

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Error names caught or retried by the state machine. They are part of the
// contract with statemachine/keywarden.asl.json: rename one there too.
const (
	// InvalidEvent: the event is malformed or lacks a field the step needs.
	InvalidEvent = "InvalidEvent"
	// UnsupportedEvent: the event is well formed but not one keywarden handles.
	UnsupportedEvent = "UnsupportedEvent"
	// InvalidSetting: a Lambda's configuration (environment) is wrong.
	InvalidSetting = "InvalidSetting"
	// Throttled: AWS throttled the call and the SDK's own retries ran out.
	Throttled = "Throttled"
	// Transient: a 5xx answer, a timeout or a network error; worth retrying.
	Transient = "Transient"
	// AccessDenied: the function's role may not do this; a human must look.
	AccessDenied = "AccessDenied"
	// Failed: any other failure of an AWS call.
	Failed = "StepFailed"
	// MemberRoleNotDeployed: organization mode; STS refused the member
	// role of the step's duty in the account (missing, or its trust does
	// not allow this hub). The message names the account, role and fix.
	MemberRoleNotDeployed = "MemberRoleNotDeployed"
	// AccountOutOfScope: organization mode; the account is not one the hub
	// may act in (outside the organization or the settings' scope). No
	// role was assumed in it.
	AccountOutOfScope = "AccountOutOfScope"
	// AccountsFailed: organization mode; the daily run could not scan
	// more of the organization's accounts than toleratedFailurePercentage
	// allows. The digest names each account and why.
	AccountsFailed = "AccountsFailed"
)

// Error is an error with a name the state machine understands.
type Error struct {
	Name string
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a named error; %w in format wraps as fmt.Errorf does.
func Errorf(name, format string, args ...any) error {
	return &Error{Name: name, Err: fmt.Errorf(format, args...)}
}

// Name returns the state-machine name of err: the name of the outermost
// step.Error it wraps, else the classification of the AWS error inside it.
func Name(err error) string {
	if err == nil {
		return ""
	}
	var named *Error
	if errors.As(err, &named) {
		return named.Name
	}
	return classify(err)
}

// Classify wraps err with its state-machine name. Use it at the edge of a
// step, after adding context: Classify(fmt.Errorf("contain key %s: %w", id, err)).
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var named *Error
	if errors.As(err, &named) {
		return err
	}
	return &Error{Name: classify(err), Err: err}
}

var throttlingCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "ThrottledException": true,
	"RequestLimitExceeded": true, "TooManyRequestsException": true,
	"RequestThrottled": true, "RequestThrottledException": true, "Throttled": true,
	"ProvisionedThroughputExceededException": true, "SlowDown": true,
	"PriorRequestNotComplete": true,
}

var transientCodes = map[string]bool{
	"InternalFailure": true, "InternalError": true, "ServiceUnavailable": true,
	"ServiceUnavailableException": true, "InternalServerError": true,
	"RequestTimeout": true, "RequestTimeoutException": true,
	"ServiceFailure": true, "InternalServiceError": true,
}

func classify(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		switch {
		case throttlingCodes[code]:
			return Throttled
		case transientCodes[code]:
			return Transient
		case strings.HasPrefix(code, "AccessDenied") || code == "UnauthorizedOperation" ||
			code == "UnrecognizedClientException" || code == "InvalidClientTokenId":
			return AccessDenied
		}
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500 {
		return Transient
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		return Transient
	}
	return Failed
}

// IsNoSuchEntity reports whether err is IAM's NoSuchEntity: the user, key
// or policy is not there (any more). Matched by code, so that steps of other
// services need not link IAM's error types.
func IsNoSuchEntity(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchEntity"
}
