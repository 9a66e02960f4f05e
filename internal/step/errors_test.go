package step

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func TestName(t *testing.T) {
	api := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "m"} }
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"named", Errorf(InvalidEvent, "bad"), InvalidEvent},
		{"named wrapped", fmt.Errorf("ctx: %w", Errorf(UnsupportedEvent, "x")), UnsupportedEvent},
		{"iam throttling", api("Throttling"), Throttled},
		{"cloudtrail throttling", fmt.Errorf("look up: %w", api("ThrottlingException")), Throttled},
		{"sns throttled", api("Throttled"), Throttled},
		{"access denied", api("AccessDenied"), AccessDenied},
		{"access denied exception", api("AccessDeniedException"), AccessDenied},
		{"internal failure", api("InternalFailure"), Transient},
		{"5xx", &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}}, Err: errors.New("x")}, Transient},
		{"network", &net.OpError{Op: "dial", Err: errors.New("refused")}, Transient},
		{"deadline", context.DeadlineExceeded, Transient},
		{"no such entity", api("NoSuchEntity"), Failed},
		{"plain", errors.New("boom"), Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Name(tc.err); got != tc.want {
				t.Errorf("Name(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestClassifyKeepsMessageAndChain(t *testing.T) {
	inner := &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	err := Classify(fmt.Errorf("deactivate key K of u: %w", inner))
	var named *Error
	if !errors.As(err, &named) || named.Name != Throttled {
		t.Fatalf("%#v", err)
	}
	if err.Error() != "deactivate key K of u: api error Throttling: Rate exceeded" {
		t.Errorf("message %q", err.Error())
	}
	if !errors.Is(err, inner) {
		t.Error("chain lost")
	}
	if Classify(nil) != nil {
		t.Error("Classify(nil)")
	}
	already := Errorf(InvalidEvent, "x")
	if Classify(already) != already {
		t.Error("a named error keeps its name")
	}
}

func TestIsNoSuchEntity(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&smithy.GenericAPIError{Code: "NoSuchEntity"}, true},
		{fmt.Errorf("delete key AKIA1: %w", &smithy.GenericAPIError{Code: "NoSuchEntity"}), true},
		{&smithy.GenericAPIError{Code: "AccessDenied"}, false},
		{errors.New("NoSuchEntity"), false},
		{nil, false},
	} {
		if got := IsNoSuchEntity(tc.err); got != tc.want {
			t.Errorf("IsNoSuchEntity(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
