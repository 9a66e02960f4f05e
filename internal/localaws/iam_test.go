package localaws

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

var keyIDShape = regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)

func TestIAMUsers(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	c := iam.NewFromConfig(s.SDKConfig())

	out, err := c.CreateUser(ctx, &iam.CreateUserInput{
		UserName: aws.String("alice"),
		Tags:     []types.Tag{{Key: aws.String("team"), Value: aws.String("payments")}},
	})
	mustOK(t, "CreateUser", err)
	if got, want := aws.ToString(out.User.Arn), "arn:aws:iam::123456789012:user/alice"; got != want {
		t.Errorf("Arn = %s, want %s", got, want)
	}
	if !strings.HasPrefix(aws.ToString(out.User.UserId), "AIDA") || !out.User.CreateDate.Equal(testNow) {
		t.Errorf("user = %+v", out.User)
	}

	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")})
	var exists *types.EntityAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("second CreateUser: %v, want EntityAlreadyExists", err)
	}
	wantCode(t, err, "EntityAlreadyExists", http.StatusConflict)

	got, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	mustOK(t, "GetUser", err)
	if aws.ToString(got.User.UserName) != "alice" || len(got.User.Tags) != 1 {
		t.Errorf("GetUser = %+v", got.User)
	}

	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	var noSuch *types.NoSuchEntityException
	if !errors.As(err, &noSuch) {
		t.Fatalf("GetUser(nobody): %v, want NoSuchEntity", err)
	}
	wantCode(t, err, "NoSuchEntity", http.StatusNotFound)

	// Without UserName, GetUser describes the caller: root for test credentials.
	root, err := c.GetUser(ctx, &iam.GetUserInput{})
	mustOK(t, "GetUser(root)", err)
	if aws.ToString(root.User.Arn) != "arn:aws:iam::123456789012:root" {
		t.Errorf("root user = %+v", root.User)
	}

	_, err = c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"), Tags: []types.Tag{
		{Key: aws.String("team"), Value: aws.String("identity")},
		{Key: aws.String("keywarden:exempt"), Value: aws.String("true")},
	}})
	mustOK(t, "TagUser", err)
	tags, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("alice")})
	mustOK(t, "ListUserTags", err)
	var pairs []string
	for _, tg := range tags.Tags {
		pairs = append(pairs, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
	}
	if got, want := strings.Join(pairs, ","), "team=identity,keywarden:exempt=true"; got != want {
		t.Errorf("tags = %s, want %s", got, want)
	}

	_, err = c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("nobody"), Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
	wantCode(t, err, "NoSuchEntity", http.StatusNotFound)

	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bad name!")})
	wantCode(t, err, "ValidationError", http.StatusBadRequest)
}

func TestIAMListUsersPaginates(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	seed(t, s, Fixture{Users: []FixtureUser{{Name: "u1"}, {Name: "u2"}, {Name: "u3"}, {Name: "u4"}, {Name: "u5", Path: "/bots/"}}})
	c := iam.NewFromConfig(s.SDKConfig())

	var names []string
	pages := 0
	p := iam.NewListUsersPaginator(c, &iam.ListUsersInput{MaxItems: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		mustOK(t, "ListUsers", err)
		pages++
		for _, u := range out.Users {
			names = append(names, aws.ToString(u.UserName))
		}
	}
	if got := strings.Join(names, ","); got != "u1,u2,u3,u4,u5" || pages != 3 {
		t.Errorf("users = %s in %d pages, want u1..u5 in 3", got, pages)
	}
	bots, err := c.ListUsers(ctx, &iam.ListUsersInput{PathPrefix: aws.String("/bots/")})
	mustOK(t, "ListUsers(/bots/)", err)
	if len(bots.Users) != 1 || aws.ToString(bots.Users[0].Arn) != "arn:aws:iam::123456789012:user/bots/u5" {
		t.Errorf("bots = %+v", bots.Users)
	}
}

func TestIAMAccessKeys(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	seed(t, s, Fixture{Users: []FixtureUser{{Name: "alice"}, {Name: "bob"}}})
	c := iam.NewFromConfig(s.SDKConfig())

	var ids []string
	for range 2 {
		out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
		mustOK(t, "CreateAccessKey", err)
		k := out.AccessKey
		if !keyIDShape.MatchString(aws.ToString(k.AccessKeyId)) || len(aws.ToString(k.SecretAccessKey)) != 40 || k.Status != types.StatusTypeActive {
			t.Fatalf("new key = id %s, status %s, secret length %d", aws.ToString(k.AccessKeyId), k.Status, len(aws.ToString(k.SecretAccessKey)))
		}
		ids = append(ids, aws.ToString(k.AccessKeyId))
	}

	_, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	var limit *types.LimitExceededException
	if !errors.As(err, &limit) {
		t.Fatalf("third CreateAccessKey: %v, want LimitExceeded", err)
	}
	wantCode(t, err, "LimitExceeded", http.StatusConflict)

	_, err = c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(ids[0]), Status: types.StatusTypeInactive})
	mustOK(t, "UpdateAccessKey", err)
	list, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	mustOK(t, "ListAccessKeys", err)
	if len(list.AccessKeyMetadata) != 2 || list.AccessKeyMetadata[0].Status != types.StatusTypeInactive {
		t.Errorf("keys = %+v", list.AccessKeyMetadata)
	}

	tests := []struct {
		name   string
		call   func() error
		code   string
		status int
	}{
		{"another user's key", func() error {
			_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String(ids[0]), Status: types.StatusTypeActive})
			return err
		}, "NoSuchEntity", 404},
		{"unknown user", func() error {
			_, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("carol"), AccessKeyId: aws.String(ids[0])})
			return err
		}, "NoSuchEntity", 404},
		{"bad status", func() error {
			_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(ids[0]), Status: "Disabled"})
			return err
		}, "ValidationError", 400},
		{"malformed key id", func() error {
			_, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String("short")})
			return err
		}, "ValidationError", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.call(), tt.code, tt.status) })
	}

	_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(ids[0])})
	mustOK(t, "DeleteAccessKey", err)
	_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(ids[0])})
	wantCode(t, err, "NoSuchEntity", http.StatusNotFound)

	st, ok := s.AccessKey(ids[0])
	if !ok || !st.Deleted || st.User != "alice" || st.Status != statusInactive {
		t.Errorf("deleted key state = %+v, %v", st, ok)
	}
	if states := s.AccessKeys("alice"); len(states) != 2 || !states[0].Deleted || states[1].Deleted {
		t.Errorf("AccessKeys(alice) = %+v", states)
	}
	// With one key deleted, a new one fits under the quota again.
	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	mustOK(t, "CreateAccessKey after delete", err)
}

func TestIAMKeyIDsAreReproducible(t *testing.T) {
	ctx := context.Background()
	newKey := func() string {
		s := newTestServer(t, Options{Seed: 7})
		seed(t, s, Fixture{Users: []FixtureUser{{Name: "alice"}}})
		out, err := iam.NewFromConfig(s.SDKConfig()).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
		mustOK(t, "CreateAccessKey", err)
		return aws.ToString(out.AccessKey.AccessKeyId)
	}
	if a, b := newKey(), newKey(); a != b {
		t.Errorf("same seed gave key ids %s and %s", a, b)
	}
}

func TestIAMGetAccessKeyLastUsed(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	seed(t, s, Fixture{
		Users: []FixtureUser{{Name: "alice"}},
		Keys: []FixtureKey{
			{User: "alice", ID: "AKIAUSEDUSEDUSED0001", Created: "-100d", LastUsed: "-2h", LastUsedRegion: "eu-west-1", LastUsedService: "s3"},
			{User: "alice", ID: "AKIANEVERUSED0000002", Created: "-1d"},
		},
	})
	c := iam.NewFromConfig(s.SDKConfig())

	used, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String("AKIAUSEDUSEDUSED0001")})
	mustOK(t, "GetAccessKeyLastUsed", err)
	lu := used.AccessKeyLastUsed
	if aws.ToString(used.UserName) != "alice" || !lu.LastUsedDate.Equal(testNow.Add(-2*time.Hour)) ||
		aws.ToString(lu.Region) != "eu-west-1" || aws.ToString(lu.ServiceName) != "s3" {
		t.Errorf("last used = %s %+v", aws.ToString(used.UserName), lu)
	}

	never, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String("AKIANEVERUSED0000002")})
	mustOK(t, "GetAccessKeyLastUsed(never)", err)
	if lu := never.AccessKeyLastUsed; lu.LastUsedDate != nil || aws.ToString(lu.Region) != "N/A" || aws.ToString(lu.ServiceName) != "N/A" {
		t.Errorf("never used = %+v", lu)
	}

	// AWS answers AccessDenied, not NoSuchEntity, for a key it will not
	// describe; see iamGetAccessKeyLastUsed.
	_, err = c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String("AKIAUNKNOWNUNKNOWN00")})
	wantCode(t, err, "AccessDenied", http.StatusForbidden)

	// Signing a request with a key records its use.
	s.SetNow(testNow.Add(time.Hour))
	_, err = iam.NewFromConfig(configAs(s, "AKIANEVERUSED0000002")).ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	mustOK(t, "ListAccessKeys as alice", err)
	st, _ := s.AccessKey("AKIANEVERUSED0000002")
	if !st.LastUsed.Equal(testNow.Add(time.Hour)) || st.LastUsedService != "iam" || st.LastUsedRegion != "us-east-1" {
		t.Errorf("after use: %+v", st)
	}
}

func TestIAMDeactivatedKeyIsRefused(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	seed(t, s, Fixture{Users: []FixtureUser{{Name: "alice"}}, Keys: []FixtureKey{{User: "alice", ID: "AKIAEXPOSEDEXPOSED01"}}})
	asAlice := iam.NewFromConfig(configAs(s, "AKIAEXPOSEDEXPOSED01"))
	admin := iam.NewFromConfig(s.SDKConfig())

	// Without UserName, keys are the caller's: alice lists her own.
	list, err := asAlice.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	mustOK(t, "ListAccessKeys as alice", err)
	if len(list.AccessKeyMetadata) != 1 {
		t.Fatalf("alice's keys = %+v", list.AccessKeyMetadata)
	}
	_, err = admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String("AKIAEXPOSEDEXPOSED01"), Status: types.StatusTypeInactive})
	mustOK(t, "UpdateAccessKey", err)
	_, err = asAlice.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	wantCode(t, err, "InvalidClientTokenId", http.StatusForbidden)
}

func TestIAMUserPolicies(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	seed(t, s, Fixture{Users: []FixtureUser{{Name: "alice"}}})
	c := iam.NewFromConfig(s.SDKConfig())
	deny := `{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}`

	_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("keywarden-deny-all"), PolicyDocument: aws.String(deny)})
	mustOK(t, "PutUserPolicy", err)
	got, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("keywarden-deny-all")})
	mustOK(t, "GetUserPolicy", err)
	// AWS returns the document URL-encoded; callers must decode it.
	if strings.Contains(aws.ToString(got.PolicyDocument), "{") {
		t.Errorf("document not URL-encoded: %s", aws.ToString(got.PolicyDocument))
	}
	decoded, err := url.QueryUnescape(aws.ToString(got.PolicyDocument))
	if err != nil || decoded != deny {
		t.Errorf("decoded document = %q, %v; want %q", decoded, err, deny)
	}
	names, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("alice")})
	mustOK(t, "ListUserPolicies", err)
	if len(names.PolicyNames) != 1 || names.PolicyNames[0] != "keywarden-deny-all" {
		t.Errorf("policy names = %v", names.PolicyNames)
	}
	if docs := s.UserPolicies("alice"); docs["keywarden-deny-all"] != deny {
		t.Errorf("UserPolicies = %v", docs)
	}

	var malformed *types.MalformedPolicyDocumentException
	for _, doc := range []string{`not json`, `{"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}`, `{"Version": "2012-10-17"}`} {
		_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("bad"), PolicyDocument: aws.String(doc)})
		if !errors.As(err, &malformed) {
			t.Errorf("PutUserPolicy(%s): %v, want MalformedPolicyDocument", doc, err)
		}
	}
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Sid":"` + strings.Repeat("x", 2000) + `"}]}`
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("big"), PolicyDocument: aws.String(big)})
	wantCode(t, err, "LimitExceeded", http.StatusConflict)

	_, err = c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("keywarden-deny-all")})
	mustOK(t, "DeleteUserPolicy", err)
	_, err = c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("keywarden-deny-all")})
	wantCode(t, err, "NoSuchEntity", http.StatusNotFound)
	_, err = c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("keywarden-deny-all")})
	wantCode(t, err, "NoSuchEntity", http.StatusNotFound)
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("nobody"), PolicyName: aws.String("p"), PolicyDocument: aws.String(deny)})
	wantCode(t, err, "NoSuchEntity", http.StatusNotFound)
}

// TestQueryProtocolErrors sends malformed requests directly: the answers
// must be AWS's XML error document with a 4xx status, never a panic or 5xx.
func TestQueryProtocolErrors(t *testing.T) {
	s := newTestServer(t, Options{})
	signed := func(service string) http.Header {
		return http.Header{
			"Content-Type":  {"application/x-www-form-urlencoded"},
			"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260301/us-east-1/" + service + "/aws4_request, SignedHeaders=host, Signature=00"},
		}
	}
	tests := []struct {
		name, service, body, code string
		status                    int
	}{
		{"no action", "iam", "Version=2010-05-08", "MissingAction", 400},
		{"unknown action", "iam", "Action=DeleteUser&UserName=x", "InvalidAction", 400},
		{"bad form", "iam", "Action=GetUser&%zz", "ValidationError", 400},
		{"missing user name", "iam", "Action=CreateUser", "ValidationError", 400},
		{"missing key id", "iam", "Action=UpdateAccessKey&Status=Active", "ValidationError", 400},
		{"sns bad topic arn", "sns", "Action=Publish&TopicArn=nope&Message=m", "InvalidParameter", 400},
		{"unsigned", "", "Action=GetUser", "MissingAuthenticationToken", 403},
		{"unsigned with a known shape", "", "Action=CreateUser&UserName=x", "MissingAuthenticationToken", 403},
		{"service not emulated", "rds", "Action=DescribeDBInstances", "NotImplemented", 501},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := signed(tt.service)
			if tt.service == "" {
				h.Del("Authorization")
			}
			resp := rawPost(t, s.URL()+"/", h, tt.body)
			body := resp.Body
			var doc struct {
				Type      string `xml:"Error>Type"`
				Code      string `xml:"Error>Code"`
				Message   string `xml:"Error>Message"`
				RequestID string `xml:"RequestId"`
			}
			if err := xml.Unmarshal(body, &doc); err != nil {
				t.Fatalf("answer is not XML: %v\n%s", err, body)
			}
			if resp.StatusCode != tt.status || doc.Code != tt.code || doc.Type != faultType(tt.status, "Sender", "Receiver") || doc.Message == "" {
				t.Errorf("got %d %+v, want %d %s", resp.StatusCode, doc, tt.status, tt.code)
			}
		})
	}
}

func TestIAMWritesAreInCloudTrailWithoutSecrets(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	seed(t, s, Fixture{Users: []FixtureUser{{Name: "alice"}}})
	c := iam.NewFromConfig(s.SDKConfig())
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	mustOK(t, "CreateAccessKey", err)
	id := aws.ToString(out.AccessKey.AccessKeyId)
	secret, _ := s.SecretFor(id)

	events := lookupAll(t, s, nil)
	if len(events) != 1 || aws.ToString(events[0].EventName) != "CreateAccessKey" {
		t.Fatalf("events = %v", eventNames(events))
	}
	rec := aws.ToString(events[0].CloudTrailEvent)
	if strings.Contains(rec, secret) || strings.Contains(strings.ToLower(rec), "secret") {
		t.Fatalf("CloudTrail record leaks the secret: %s", rec)
	}
	var doc struct {
		EventName        string `json:"eventName"`
		EventSource      string `json:"eventSource"`
		ResponseElements struct {
			AccessKey struct {
				AccessKeyID string `json:"accessKeyId"`
				Status      string `json:"status"`
				UserName    string `json:"userName"`
			} `json:"accessKey"`
		} `json:"responseElements"`
		UserIdentity struct {
			Type        string `json:"type"`
			AccessKeyID string `json:"accessKeyId"`
		} `json:"userIdentity"`
	}
	if err := json.Unmarshal([]byte(rec), &doc); err != nil {
		t.Fatalf("CloudTrailEvent is not JSON: %v", err)
	}
	ak := doc.ResponseElements.AccessKey
	if doc.EventSource != "iam.amazonaws.com" || ak.AccessKeyID != id || ak.Status != "Active" || ak.UserName != "alice" ||
		doc.UserIdentity.Type != "Root" || doc.UserIdentity.AccessKeyID != TestAccessKeyID {
		t.Errorf("record = %+v", doc)
	}
}
