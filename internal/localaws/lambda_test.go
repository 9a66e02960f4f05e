package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// namedError carries a state-machine error name, as keywarden's step errors do.
type namedError struct{ name, msg string }

func (e *namedError) Error() string     { return e.msg }
func (e *namedError) ErrorType() string { return e.name }

type plainError struct{}

func (plainError) Error() string { return "plain failure" }

func TestLambdaInvoke(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	var gotPayload string
	var gotARN string
	mustOK(t, "RegisterFunction", s.RegisterFunction("contain-key", func(ctx context.Context, payload []byte) ([]byte, error) {
		gotPayload = string(payload)
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			gotARN = lc.InvokedFunctionArn
		}
		return []byte(`{"contained":true}`), nil
	}))
	c := lambda.NewFromConfig(s.SDKConfig())

	for _, name := range []string{
		"contain-key",
		"arn:aws:lambda:us-east-1:123456789012:function:contain-key",
		"arn:aws:lambda:us-east-1:123456789012:function:contain-key:$LATEST",
		"123456789012:function:contain-key",
	} {
		t.Run(name, func(t *testing.T) {
			out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"keyId":"AKIA"}`)})
			mustOK(t, "Invoke", err)
			if out.StatusCode != 200 || out.FunctionError != nil || string(out.Payload) != `{"contained":true}` {
				t.Errorf("out = %d %v %s", out.StatusCode, out.FunctionError, out.Payload)
			}
			if gotPayload != `{"keyId":"AKIA"}` || gotARN != "arn:aws:lambda:us-east-1:123456789012:function:contain-key" {
				t.Errorf("handler got %s as %s", gotPayload, gotARN)
			}
		})
	}

	async, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("contain-key"), InvocationType: lambdatypes.InvocationTypeEvent})
	mustOK(t, "Invoke (Event)", err)
	if async.StatusCode != 202 || gotPayload != "{}" {
		t.Errorf("async = %d, payload %s", async.StatusCode, gotPayload)
	}

	for _, name := range []string{"missing", "arn:aws:lambda:eu-west-1:123456789012:function:contain-key", "contain-key:prod"} {
		_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name)})
		var notFound *lambdatypes.ResourceNotFoundException
		if !errors.As(err, &notFound) {
			t.Errorf("Invoke(%s): %v, want ResourceNotFoundException", name, err)
		}
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("contain-key"), Payload: []byte(`{not json`)})
	var badContent *lambdatypes.InvalidRequestContentException
	if !errors.As(err, &badContent) {
		t.Errorf("Invoke with bad JSON: %v, want InvalidRequestContentException", err)
	}
}

func TestLambdaFunctionErrors(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	c := lambda.NewFromConfig(s.SDKConfig())
	tests := []struct {
		name     string
		err      error
		panics   any
		wantType string
		wantMsg  string
	}{
		{"ErrorType method", &namedError{name: "Throttled", msg: "IAM throttled"}, nil, "Throttled", "IAM throttled"},
		{"wrapped ErrorType", fmt.Errorf("deactivate key: %w", &namedError{name: "AccessDenied", msg: "denied"}), nil, "AccessDenied", "deactivate key: denied"},
		{"InvokeResponse_Error", messages.InvokeResponse_Error{Type: "InvalidEvent", Message: "no key id"}, nil, "InvalidEvent", "no key id"},
		{"InvokeResponse_Error pointer", &messages.InvokeResponse_Error{Type: "Custom", Message: "m"}, nil, "Custom", "m"},
		{"errors.New", errors.New("boom"), nil, "errorString", "boom"},
		{"wrapped plain", fmt.Errorf("ctx: %w", plainError{}), nil, "wrapError", "ctx: plain failure"},
		{"value type", plainError{}, nil, "plainError", "plain failure"},
		{"panic", nil, "kaboom", "string", "kaboom"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("fn-%d", i)
			mustOK(t, "RegisterFunction", s.RegisterFunction(name, func(context.Context, []byte) ([]byte, error) {
				if tt.panics != nil {
					panic(tt.panics)
				}
				return nil, tt.err
			}))
			out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name)})
			mustOK(t, "Invoke", err)
			var body struct {
				ErrorType    string `json:"errorType"`
				ErrorMessage string `json:"errorMessage"`
			}
			if err := json.Unmarshal(out.Payload, &body); err != nil {
				t.Fatalf("payload %s: %v", out.Payload, err)
			}
			if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" || body.ErrorType != tt.wantType || body.ErrorMessage != tt.wantMsg {
				t.Errorf("got %d %q %+v, want Unhandled %s %q", out.StatusCode, aws.ToString(out.FunctionError), body, tt.wantType, tt.wantMsg)
			}
		})
	}
	invs := s.Invocations()
	if len(invs) != len(tests) || invs[0].ErrorType != "Throttled" {
		t.Errorf("invocations = %+v", invs)
	}
}

func TestRegisterFunctionRejectsBadNames(t *testing.T) {
	s := newTestServer(t, Options{})
	h := func(context.Context, []byte) ([]byte, error) { return nil, nil }
	for _, name := range []string{"", "has space", "arn:aws:lambda:us-east-1:1:function:x"} {
		if err := s.RegisterFunction(name, h); err == nil {
			t.Errorf("RegisterFunction(%q) succeeded", name)
		}
	}
	if err := s.RegisterFunction("ok", nil); err == nil {
		t.Error("RegisterFunction with nil handler succeeded")
	}
}
