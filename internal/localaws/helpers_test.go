package localaws

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// testNow is the fixed clock most tests run at.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newTestServer starts a server with a fixed clock and closes it with the test.
func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func seed(t testing.TB, s *Server, f Fixture) {
	t.Helper()
	if err := s.Seed(f); err != nil {
		t.Fatalf("Seed: %v", err)
	}
}

// configAs is s.SDKConfig() signed with keyID, so the emulator treats the
// client as that key's user. Signatures are not checked, so any secret does.
func configAs(s *Server, keyID string) aws.Config {
	cfg := s.SDKConfig()
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: keyID, SecretAccessKey: "ignored"}, nil
	})
	return cfg
}

// errorCode returns the AWS error code and HTTP status of err, or "" and 0.
func errorCode(err error) (string, int) {
	if err == nil {
		return "", 0
	}
	code := ""
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	status := 0
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	return code, status
}

func wantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	gotCode, gotStatus := errorCode(err)
	if gotCode != code || gotStatus != status {
		t.Fatalf("error = %v; want code %s, status %d (got %q, %d)", err, code, status, gotCode, gotStatus)
	}
}

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// callsTo returns the calls to service:operation.
func callsTo(s *Server, service, op string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Service == service && c.Operation == op {
			out = append(out, c)
		}
	}
	return out
}

// rawResponse is an HTTP answer read whole, its body closed.
type rawResponse struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// rawPost sends a request the SDK would not (unsigned, malformed) and
// reads the whole answer.
func rawPost(t *testing.T, url string, header http.Header, body string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, stringsReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: read the answer: %v", url, err)
	}
	return rawResponse{StatusCode: resp.StatusCode, Header: resp.Header, Body: data}
}

// errorsAs is errors.As, for tests that read a typed SDK error's fields.
func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }
