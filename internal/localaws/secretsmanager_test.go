package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

var secretARNPattern = regexp.MustCompile(`^arn:aws:secretsmanager:us-east-1:123456789012:secret:keywarden/slack-[A-Za-z0-9]{6}$`)

const (
	testToken1 = "11111111-1111-4111-8111-111111111111"
	testToken2 = "22222222-2222-4222-8222-222222222222"
	testToken3 = "33333333-3333-4333-8333-333333333333"
)

func smClient(s *Server) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(s.SDKConfig())
}

func createTestSecret(t *testing.T, c *secretsmanager.Client, name, value string) *secretsmanager.CreateSecretOutput {
	t.Helper()
	out, err := c.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	mustOK(t, "CreateSecret "+name, err)
	return out
}

func TestSecretsManagerCreateSecret(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	c := smClient(s)

	in := &secretsmanager.CreateSecretInput{
		Name:               aws.String("keywarden/slack"),
		SecretString:       aws.String(`{"webhook":"https://hooks.example.com/T000/B000/XXXX"}`),
		KmsKeyId:           aws.String("alias/keywarden"),
		Description:        aws.String("Slack webhook for alerts"),
		Tags:               []smtypes.Tag{{Key: aws.String("app"), Value: aws.String("keywarden")}},
		ClientRequestToken: aws.String(testToken1),
	}
	out, err := c.CreateSecret(ctx, in)
	mustOK(t, "CreateSecret", err)
	if !secretARNPattern.MatchString(aws.ToString(out.ARN)) || aws.ToString(out.Name) != "keywarden/slack" || aws.ToString(out.VersionId) != testToken1 {
		t.Errorf("CreateSecret = ARN %s, Name %s, VersionId %s", aws.ToString(out.ARN), aws.ToString(out.Name), aws.ToString(out.VersionId))
	}

	// The SDK's retry of the same request (same token, same value) is
	// answered as the first time; anything else with the name is refused.
	again, err := c.CreateSecret(ctx, in)
	mustOK(t, "CreateSecret retried with the same token", err)
	if aws.ToString(again.ARN) != aws.ToString(out.ARN) || aws.ToString(again.VersionId) != testToken1 {
		t.Errorf("retried CreateSecret = %s %s", aws.ToString(again.ARN), aws.ToString(again.VersionId))
	}
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keywarden/slack"), SecretString: aws.String("other")})
	var exists *smtypes.ResourceExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("CreateSecret of an existing name: %v, want ResourceExistsException", err)
	}
	wantCode(t, err, "ResourceExistsException", 400)
	if !strings.Contains(exists.ErrorMessage(), "keywarden/slack already exists") {
		t.Errorf("message = %q", exists.ErrorMessage())
	}
	sameToken := *in
	sameToken.SecretString = aws.String("a different value")
	_, err = c.CreateSecret(ctx, &sameToken)
	wantCode(t, err, "ResourceExistsException", 400)

	st, ok := s.Secret("keywarden/slack")
	if !ok {
		t.Fatal("Secret: not found")
	}
	if st.ARN != aws.ToString(out.ARN) || st.KmsKeyID != "alias/keywarden" || st.CurrentVersionID != testToken1 ||
		st.Description != "Slack webhook for alerts" || st.Tags["app"] != "keywarden" || st.ResourcePolicy != "" ||
		!st.Created.Equal(testNow) || len(st.VersionStages) != 1 {
		t.Errorf("Secret = %+v", st)
	}
	if v, _ := s.SecretValueFor("keywarden/slack"); v != aws.ToString(in.SecretString) {
		t.Errorf("SecretValueFor = %q, the value of the first create", v)
	}

	// A secret without a value has no version.
	empty, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keywarden/empty")})
	mustOK(t, "CreateSecret without a value", err)
	if empty.VersionId != nil {
		t.Errorf("VersionId = %s, want none", aws.ToString(empty.VersionId))
	}
	if _, ok := s.SecretValueFor("keywarden/empty"); ok {
		t.Error("SecretValueFor a secret without a value succeeded")
	}

	invalid := []struct {
		name, code string
		in         secretsmanager.CreateSecretInput
	}{
		{"bad character", "InvalidParameterException", secretsmanager.CreateSecretInput{Name: aws.String("bad name!"), SecretString: aws.String("v")}},
		{"name too long", "ValidationException", secretsmanager.CreateSecretInput{Name: aws.String(strings.Repeat("n", 513)), SecretString: aws.String("v")}},
		{"short token", "ValidationException", secretsmanager.CreateSecretInput{Name: aws.String("t"), SecretString: aws.String("v"), ClientRequestToken: aws.String("short")}},
		{"value too large", "ValidationException", secretsmanager.CreateSecretInput{Name: aws.String("big"), SecretString: aws.String(strings.Repeat("v", 65537))}},
		{"binary", "InvalidParameterException", secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: []byte{1, 2}}},
		{"replicas", "InvalidParameterException", secretsmanager.CreateSecretInput{Name: aws.String("rep"), SecretString: aws.String("v"), AddReplicaRegions: []smtypes.ReplicaRegionType{{Region: aws.String("eu-west-1")}}}},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateSecret(ctx, &tt.in)
			wantCode(t, err, tt.code, 400)
		})
	}
	var bad *smtypes.InvalidParameterException
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: []byte{1}})
	if !errors.As(err, &bad) || !strings.Contains(bad.ErrorMessage(), "SecretBinary") {
		t.Errorf("CreateSecret with SecretBinary: %v, want an InvalidParameterException naming SecretBinary", err)
	}
	if _, ok := s.Secret("bin"); ok {
		t.Error("a refused CreateSecret created a secret")
	}
}

func TestSecretsManagerPutSecretValue(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	c := smClient(s)
	created := createTestSecret(t, c, "keywarden/slack", "v1")
	v1 := aws.ToString(created.VersionId)

	put := func(token, value string) (*secretsmanager.PutSecretValueOutput, error) {
		return c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("keywarden/slack"), SecretString: aws.String(value), ClientRequestToken: aws.String(token)})
	}
	s.Advance(time.Hour)
	out, err := put(testToken2, "v2")
	mustOK(t, "PutSecretValue", err)
	if aws.ToString(out.ARN) != aws.ToString(created.ARN) || aws.ToString(out.Name) != "keywarden/slack" ||
		aws.ToString(out.VersionId) != testToken2 || !slices.Equal(out.VersionStages, []string{"AWSCURRENT"}) {
		t.Errorf("PutSecretValue = %s %s %s %v", aws.ToString(out.ARN), aws.ToString(out.Name), aws.ToString(out.VersionId), out.VersionStages)
	}
	stages := func() map[string][]string {
		d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("keywarden/slack")})
		mustOK(t, "DescribeSecret", err)
		return d.VersionIdsToStages
	}
	if got := stages(); len(got) != 2 || !slices.Equal(got[v1], []string{"AWSPREVIOUS"}) || !slices.Equal(got[testToken2], []string{"AWSCURRENT"}) {
		t.Errorf("after the second value: VersionIdsToStages = %v", got)
	}

	// A retry (same token, same value) changes nothing and answers the same.
	again, err := put(testToken2, "v2")
	mustOK(t, "PutSecretValue retried", err)
	if aws.ToString(again.VersionId) != testToken2 || !slices.Equal(again.VersionStages, []string{"AWSCURRENT"}) {
		t.Errorf("retried PutSecretValue = %s %v", aws.ToString(again.VersionId), again.VersionStages)
	}
	if got := stages(); len(got) != 2 {
		t.Errorf("a retried PutSecretValue changed the versions: %v", got)
	}
	_, err = put(testToken2, "v2 changed")
	var exists *smtypes.ResourceExistsException
	if !errors.As(err, &exists) {
		t.Errorf("PutSecretValue reusing a token with another value: %v, want ResourceExistsException", err)
	}
	wantCode(t, err, "ResourceExistsException", 400)

	// The third value: the first version loses its last label and drops out.
	_, err = put(testToken3, "v3")
	mustOK(t, "PutSecretValue", err)
	if got := stages(); len(got) != 2 || !slices.Equal(got[testToken2], []string{"AWSPREVIOUS"}) || !slices.Equal(got[testToken3], []string{"AWSCURRENT"}) {
		t.Errorf("after the third value: VersionIdsToStages = %v", got)
	}
	prev, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keywarden/slack"), VersionStage: aws.String("AWSPREVIOUS")})
	mustOK(t, "GetSecretValue AWSPREVIOUS", err)
	if aws.ToString(prev.SecretString) != "v2" || aws.ToString(prev.VersionId) != testToken2 {
		t.Errorf("AWSPREVIOUS = %s %s", aws.ToString(prev.SecretString), aws.ToString(prev.VersionId))
	}
	// The unlabelled version is still there to be read by id.
	old, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keywarden/slack"), VersionId: aws.String(v1)})
	mustOK(t, "GetSecretValue by VersionId", err)
	if aws.ToString(old.SecretString) != "v1" || len(old.VersionStages) != 0 {
		t.Errorf("first version = %s %v", aws.ToString(old.SecretString), old.VersionStages)
	}
	if st, _ := s.Secret("keywarden/slack"); st.CurrentVersionID != testToken3 || !st.LastChanged.Equal(testNow.Add(time.Hour)) {
		t.Errorf("Secret = %+v", st)
	}
	if v, _ := s.SecretValueFor("keywarden/slack"); v != "v3" {
		t.Errorf("SecretValueFor = %q, want the current value", v)
	}

	// By ARN, and a secret's first value.
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keywarden/empty")})
	mustOK(t, "CreateSecret", err)
	first, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("keywarden/empty"), SecretString: aws.String("first")})
	mustOK(t, "PutSecretValue of a first value", err)
	if !slices.Equal(first.VersionStages, []string{"AWSCURRENT"}) {
		t.Errorf("first value stages = %v", first.VersionStages)
	}
	byARN, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: created.ARN, SecretString: aws.String("v4")})
	mustOK(t, "PutSecretValue by ARN", err)
	if aws.ToString(byARN.Name) != "keywarden/slack" {
		t.Errorf("by ARN: Name = %s", aws.ToString(byARN.Name))
	}

	_, err = c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("keywarden/missing"), SecretString: aws.String("v")})
	var notFound *smtypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("PutSecretValue to a missing secret: %v, want ResourceNotFoundException", err)
	}
	wantCode(t, err, "ResourceNotFoundException", 400)
	_, err = c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("keywarden/slack"), SecretString: aws.String("v"), VersionStages: []string{"AWSPENDING"}})
	wantCode(t, err, "InvalidParameterException", 400)
}

func TestSecretsManagerDescribeAndGet(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	c := smClient(s)
	created := createTestSecret(t, c, "keywarden/slack", "v1")
	arn := aws.ToString(created.ARN)

	d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("keywarden/slack")})
	mustOK(t, "DescribeSecret", err)
	if aws.ToString(d.ARN) != arn || aws.ToString(d.Name) != "keywarden/slack" || d.KmsKeyId != nil || d.Description != nil ||
		d.Tags != nil || !aws.ToTime(d.CreatedDate).Equal(testNow) || !aws.ToTime(d.LastChangedDate).Equal(testNow) ||
		!slices.Equal(d.VersionIdsToStages[aws.ToString(created.VersionId)], []string{"AWSCURRENT"}) {
		t.Errorf("DescribeSecret = %+v", d)
	}

	// Every way of naming the secret: name, ARN, partial ARN.
	for _, id := range []string{"keywarden/slack", arn, arn[:len(arn)-7]} {
		got, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		mustOK(t, "GetSecretValue "+id, err)
		if aws.ToString(got.SecretString) != "v1" || aws.ToString(got.ARN) != arn || aws.ToString(got.Name) != "keywarden/slack" ||
			aws.ToString(got.VersionId) != aws.ToString(created.VersionId) || !slices.Equal(got.VersionStages, []string{"AWSCURRENT"}) ||
			!aws.ToTime(got.CreatedDate).Equal(testNow) {
			t.Errorf("GetSecretValue(%s) = %+v", id, got)
		}
	}

	missing := []struct {
		name, code string
		in         secretsmanager.GetSecretValueInput
	}{
		{"unknown secret", "ResourceNotFoundException", secretsmanager.GetSecretValueInput{SecretId: aws.String("keywarden/missing")}},
		{"wrong suffix", "ResourceNotFoundException", secretsmanager.GetSecretValueInput{SecretId: aws.String(arn[:len(arn)-6] + "ZZZZZZ")}},
		{"unknown stage", "ResourceNotFoundException", secretsmanager.GetSecretValueInput{SecretId: aws.String("keywarden/slack"), VersionStage: aws.String("AWSPREVIOUS")}},
		{"unknown version", "ResourceNotFoundException", secretsmanager.GetSecretValueInput{SecretId: aws.String("keywarden/slack"), VersionId: aws.String(testToken3)}},
		{"version without stage", "InvalidRequestException", secretsmanager.GetSecretValueInput{SecretId: aws.String("keywarden/slack"), VersionId: created.VersionId, VersionStage: aws.String("AWSPREVIOUS")}},
	}
	for _, tt := range missing {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.GetSecretValue(ctx, &tt.in)
			wantCode(t, err, tt.code, 400)
		})
	}
	_, err = c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("keywarden/missing")})
	var notFound *smtypes.ResourceNotFoundException
	if !errors.As(err, &notFound) || notFound.ErrorMessage() != "Secrets Manager can't find the specified secret." {
		t.Errorf("DescribeSecret of a missing secret: %v", err)
	}
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keywarden/empty")})
	mustOK(t, "CreateSecret", err)
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keywarden/empty")})
	wantCode(t, err, "ResourceNotFoundException", 400)

	// Secrets are regional.
	cfg := s.SDKConfig()
	cfg.Region = "eu-west-1"
	_, err = secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keywarden/slack")})
	wantCode(t, err, "ResourceNotFoundException", 400)
}

func TestSecretsManagerResourcePolicy(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	c := smClient(s)
	created := createTestSecret(t, c, "keywarden/slack", "v1")

	got, err := c.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String("keywarden/slack")})
	mustOK(t, "GetResourcePolicy", err)
	if got.ResourcePolicy != nil || aws.ToString(got.ARN) != aws.ToString(created.ARN) || aws.ToString(got.Name) != "keywarden/slack" {
		t.Errorf("GetResourcePolicy before any policy = %+v", got)
	}

	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"secretsmanager:GetSecretValue","Resource":"*",` +
		`"Condition":{"StringNotEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/keywarden-alert"}}}]}`
	put := func(id, doc string, block bool) error {
		_, err := c.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(id), ResourcePolicy: aws.String(doc), BlockPublicPolicy: aws.Bool(block)})
		return err
	}
	out, err := c.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String("keywarden/slack"), ResourcePolicy: aws.String(policy), BlockPublicPolicy: aws.Bool(true)})
	mustOK(t, "PutResourcePolicy", err)
	if aws.ToString(out.ARN) != aws.ToString(created.ARN) || aws.ToString(out.Name) != "keywarden/slack" {
		t.Errorf("PutResourcePolicy = %s %s", aws.ToString(out.ARN), aws.ToString(out.Name))
	}
	got, err = c.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: created.ARN})
	mustOK(t, "GetResourcePolicy", err)
	if aws.ToString(got.ResourcePolicy) != policy {
		t.Errorf("ResourcePolicy = %s", aws.ToString(got.ResourcePolicy))
	}
	if st, _ := s.Secret("keywarden/slack"); st.ResourcePolicy != policy {
		t.Errorf("Secret().ResourcePolicy = %s", st.ResourcePolicy)
	}

	var malformed *smtypes.MalformedPolicyDocumentException
	for _, doc := range []string{`{"Statement": "nope"`, `"a string"`, `{"Version":"2012-10-17"}`, `{"Statement":[]}`, `[]`} {
		err := put("keywarden/slack", doc, false)
		if !errors.As(err, &malformed) {
			t.Errorf("PutResourcePolicy(%s): %v, want MalformedPolicyDocumentException", doc, err)
		}
		wantCode(t, err, "MalformedPolicyDocumentException", 400)
	}
	public := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}}`
	err = put("keywarden/slack", public, true)
	var publicErr *smtypes.PublicPolicyException
	if !errors.As(err, &publicErr) {
		t.Errorf("PutResourcePolicy of a public policy with BlockPublicPolicy: %v, want PublicPolicyException", err)
	}
	publicAWS := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root","*"]},"Action":"*","Resource":"*"}]}`
	wantCode(t, put("keywarden/slack", publicAWS, true), "PublicPolicyException", 400)
	if st, _ := s.Secret("keywarden/slack"); st.ResourcePolicy != policy {
		t.Errorf("a refused policy replaced the policy: %s", st.ResourcePolicy)
	}
	// Not blocked unless asked, as in AWS.
	mustOK(t, "PutResourcePolicy of a public policy without BlockPublicPolicy", put("keywarden/slack", public, false))

	wantCode(t, put("keywarden/missing", policy, true), "ResourceNotFoundException", 400)
	_, err = c.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String("keywarden/missing")})
	wantCode(t, err, "ResourceNotFoundException", 400)
}

// TestSecretsManagerRouting: unknown operations get the JSON protocol's
// UnknownOperationException, unsigned requests AWS's refusal, and a dead key
// is refused, all logged under the service's signing name.
func TestSecretsManagerRouting(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	c := smClient(s)
	_, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	wantCode(t, err, "UnknownOperationException", 400)
	if calls := callsTo(s, "secretsmanager", "ListSecrets"); len(calls) != 1 || calls[0].ErrorCode != "UnknownOperationException" {
		t.Errorf("calls = %+v", calls)
	}

	resp := rawPost(t, s.URL(), http.Header{"X-Amz-Target": {"secretsmanager.GetSecretValue"}, "Content-Type": {"application/x-amz-json-1.1"}}, `{"SecretId":"x"}`)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		t.Errorf("unsigned request: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	seed(t, s, Fixture{Users: []FixtureUser{{Name: "alice"}}, Keys: []FixtureKey{{User: "alice", ID: "AKIAALICEALICEALICE1"}}})
	createTestSecret(t, c, "keywarden/slack", "v1")
	_, err = iam.NewFromConfig(s.SDKConfig()).UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String("AKIAALICEALICEALICE1"), Status: iamtypes.StatusTypeInactive})
	mustOK(t, "UpdateAccessKey", err)
	_, err = secretsmanager.NewFromConfig(configAs(s, "AKIAALICEALICEALICE1")).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keywarden/slack")})
	wantCode(t, err, "UnrecognizedClientException", 400)
}

func TestSecretsManagerFaults(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{Seed: 7, Faults: map[string]Fault{"secretsmanager:PutSecretValue": {ThrottleRate: 0.3}}})
	c := smClient(s)
	createTestSecret(t, c, "keywarden/slack", "v0")

	// Throttling is retried by the SDK, with the same ClientRequestToken, so
	// every value lands exactly once.
	const puts = 8
	for i := range puts {
		_, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("keywarden/slack"), SecretString: aws.String(fmt.Sprint("v", i+1))})
		mustOK(t, fmt.Sprintf("PutSecretValue #%d", i), err)
	}
	throttled, ok := 0, 0
	for _, call := range callsTo(s, "secretsmanager", "PutSecretValue") {
		switch {
		case call.ErrorCode == "ThrottlingException" && call.Status == 400 && call.Injected:
			throttled++
		case call.ErrorCode == "":
			ok++
		default:
			t.Errorf("unexpected call %+v", call)
		}
	}
	if ok != puts || throttled == 0 {
		t.Errorf("%d successful and %d throttled attempts; want %d successful and some throttled", ok, throttled, puts)
	}

	// 5xx: InternalServiceError, retried, then returned.
	mustOK(t, "SetFault", s.SetFault("secretsmanager:*", Fault{ServerErrorRate: 1}))
	mustOK(t, "SetFault", s.SetFault("secretsmanager:PutSecretValue", Fault{}))
	before := len(callsTo(s, "secretsmanager", "GetSecretValue"))
	_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keywarden/slack")})
	var internal *smtypes.InternalServiceError
	if !errors.As(err, &internal) {
		t.Errorf("GetSecretValue under 5xx: %v, want InternalServiceError", err)
	}
	wantCode(t, err, "InternalServiceError", 500)
	if n := len(callsTo(s, "secretsmanager", "GetSecretValue")) - before; n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}

	// Injected errors carry the status Secrets Manager answers them with.
	mustOK(t, "SetFault", s.SetFault("secretsmanager:*", Fault{ErrorCode: "AccessDeniedException"}))
	_, err = c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("keywarden/slack")})
	wantCode(t, err, "AccessDeniedException", 400)
	mustOK(t, "SetFault", s.SetFault("secretsmanager:GetSecretValue", Fault{ErrorCode: "ResourceNotFoundException"}))
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keywarden/slack")})
	var notFound *smtypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("injected ResourceNotFoundException: %v", err)
	}
	wantCode(t, err, "ResourceNotFoundException", 400)
	mustOK(t, "SetFault", s.SetFault("secretsmanager:GetSecretValue", Fault{ErrorCode: "AccessDeniedException", ErrorStatus: 403}))
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keywarden/slack")})
	wantCode(t, err, "AccessDeniedException", 403)

	if err := s.SetFault("secretsmanager:ListSecrets", Fault{ThrottleRate: 1}); err == nil {
		t.Error("SetFault on an operation localaws does not emulate succeeded")
	}
}

// TestSecretsManagerNoValueLeaks: a secret value reaches the client that
// asks GetSecretValue for it and SecretValueFor, nothing else: not the call
// log, not an error message, not another operation's answer, not the
// inspection of the secret.
func TestSecretsManagerNoValueLeaks(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	c := smClient(s)
	const v1, v2 = "leakcheck-value-one-9f2c", "leakcheck-value-two-4b7e"
	var seen []string
	record := func(v any, err error) {
		b, _ := json.Marshal(v)
		seen = append(seen, string(b))
		if err != nil {
			seen = append(seen, err.Error())
			var apiErr smithy.APIError
			if errors.As(err, &apiErr) {
				seen = append(seen, apiErr.ErrorMessage())
			}
		}
	}
	record(c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keywarden/slack"), SecretString: aws.String(v1), ClientRequestToken: aws.String(testToken1)}))
	record(c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keywarden/slack"), SecretString: aws.String(v2), ClientRequestToken: aws.String(testToken1)}))
	record(c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keywarden/slack"), SecretString: aws.String(v2)}))
	record(c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("keywarden/slack"), SecretString: aws.String(v2), ClientRequestToken: aws.String(testToken2)}))
	record(c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("keywarden/slack"), SecretString: aws.String(v1), ClientRequestToken: aws.String(testToken2)}))
	record(c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("keywarden/missing"), SecretString: aws.String(v1)}))
	record(c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("keywarden/slack"), SecretString: aws.String(strings.Repeat(v1, 5000))}))
	record(c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("keywarden/slack")}))
	record(c.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String("keywarden/slack")}))
	st, _ := s.Secret("keywarden/slack")
	record(st, nil)
	seen = append(seen, fmt.Sprintf("%+v %+v", st, s.Calls()))
	for _, text := range seen {
		if strings.Contains(text, "leakcheck") {
			t.Errorf("a secret value leaked: %s", text)
		}
	}

	got, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keywarden/slack")})
	mustOK(t, "GetSecretValue", err)
	if aws.ToString(got.SecretString) != v2 {
		t.Errorf("GetSecretValue = %q, want the second value", aws.ToString(got.SecretString))
	}
	if v, ok := s.SecretValueFor("keywarden/slack"); !ok || v != v2 {
		t.Errorf("SecretValueFor = %q, %t", v, ok)
	}
	if _, ok := s.SecretValueFor("keywarden/missing"); ok {
		t.Error("SecretValueFor a missing secret succeeded")
	}
}
