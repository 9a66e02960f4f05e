package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// lookupAll pages through LookupEvents with in (nil: no filter), two events
// per page so that pagination is exercised.
func lookupAll(t *testing.T, s *Server, in *cloudtrail.LookupEventsInput) []cttypes.Event {
	t.Helper()
	if in == nil {
		in = &cloudtrail.LookupEventsInput{}
	}
	in.MaxResults = aws.Int32(2)
	var events []cttypes.Event
	p := cloudtrail.NewLookupEventsPaginator(cloudtrail.NewFromConfig(s.SDKConfig()), in)
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("LookupEvents: %v", err)
		}
		if len(out.Events) > 2 {
			t.Fatalf("page of %d events, MaxResults 2", len(out.Events))
		}
		events = append(events, out.Events...)
	}
	return events
}

func eventNames(events []cttypes.Event) string {
	var names []string
	for _, e := range events {
		names = append(names, aws.ToString(e.EventName))
	}
	return strings.Join(names, ",")
}

var trailFixture = Fixture{
	Users: []FixtureUser{{Name: "alice", Created: "-200d"}, {Name: "bob", Created: "-200d"}},
	Keys: []FixtureKey{
		{User: "alice", ID: "AKIAEXPOSEDEXPOSED01", Created: "-120d"},
		{User: "bob", ID: "AKIABOBBOBBOBBOBBOB1", Created: "-120d"},
	},
	CloudTrail: []FixtureEvent{
		{EventName: "ListBuckets", EventSource: "s3.amazonaws.com", Time: "-3h", AccessKeyID: "AKIAEXPOSEDEXPOSED01", SourceIP: "203.0.113.7", Region: "eu-west-1", ReadOnly: true},
		{EventName: "RunInstances", EventSource: "ec2.amazonaws.com", Time: "-2h", AccessKeyID: "AKIAEXPOSEDEXPOSED01", SourceIP: "203.0.113.7", ErrorCode: "Client.UnauthorizedOperation",
			Resources: []Resource{{Type: "AWS::EC2::Instance", Name: "i-0abc"}}},
		{EventName: "CreateUser", Time: "-1h", AccessKeyID: "AKIAEXPOSEDEXPOSED01", SourceIP: "203.0.113.7", Resources: []Resource{{Type: "AWS::IAM::User", Name: "backdoor"}}},
		{EventName: "GetCallerIdentity", EventSource: "sts.amazonaws.com", Time: "-30m", AccessKeyID: "AKIABOBBOBBOBBOBBOB1", ReadOnly: true},
		{EventName: "DescribeRegions", EventSource: "ec2.amazonaws.com", Time: "-91d", AccessKeyID: "AKIAEXPOSEDEXPOSED01", ReadOnly: true},
	},
}

func TestLookupEventsFilters(t *testing.T) {
	s := newTestServer(t, Options{})
	seed(t, s, trailFixture)
	attr := func(k cttypes.LookupAttributeKey, v string) *cloudtrail.LookupEventsInput {
		return &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: k, AttributeValue: aws.String(v)}}}
	}
	tests := []struct {
		name string
		in   *cloudtrail.LookupEventsInput
		want string
	}{
		// Newest first; the 91-day-old event is past CloudTrail's 90 days;
		// ListBuckets happened in eu-west-1, so us-east-1 does not show it.
		{"all", nil, "GetCallerIdentity,CreateUser,RunInstances"},
		{"access key", attr(cttypes.LookupAttributeKeyAccessKeyId, "AKIAEXPOSEDEXPOSED01"), "CreateUser,RunInstances"},
		{"username", attr(cttypes.LookupAttributeKeyUsername, "bob"), "GetCallerIdentity"},
		{"event name", attr(cttypes.LookupAttributeKeyEventName, "RunInstances"), "RunInstances"},
		{"event source", attr(cttypes.LookupAttributeKeyEventSource, "ec2.amazonaws.com"), "RunInstances"},
		{"resource name", attr(cttypes.LookupAttributeKeyResourceName, "backdoor"), "CreateUser"},
		{"resource type", attr(cttypes.LookupAttributeKeyResourceType, "AWS::EC2::Instance"), "RunInstances"},
		{"read only", attr(cttypes.LookupAttributeKeyReadOnly, "true"), "GetCallerIdentity"},
		{"window", &cloudtrail.LookupEventsInput{StartTime: aws.Time(testNow.Add(-150 * time.Minute)), EndTime: aws.Time(testNow.Add(-45 * time.Minute))}, "CreateUser,RunInstances"},
		{"no match", attr(cttypes.LookupAttributeKeyUsername, "carol"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := eventNames(lookupAll(t, s, tt.in)); got != tt.want {
				t.Errorf("events = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLookupEventsIsRegional(t *testing.T) {
	s := newTestServer(t, Options{})
	seed(t, s, trailFixture)
	if got, want := trailFixture.ActivityRegions(), []string{"us-east-1", "eu-west-1"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("ActivityRegions = %v, want %v", got, want)
	}
	cfg := s.SDKConfig()
	cfg.Region = "eu-west-1"
	out, err := cloudtrail.NewFromConfig(cfg).LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{})
	mustOK(t, "LookupEvents in eu-west-1", err)
	if got := eventNames(out.Events); got != "ListBuckets" {
		t.Errorf("eu-west-1 events = %s, want ListBuckets", got)
	}
}

func TestLookupEventsShape(t *testing.T) {
	s := newTestServer(t, Options{})
	seed(t, s, trailFixture)
	events := lookupAll(t, s, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{
		AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("RunInstances"),
	}}})
	if len(events) != 1 {
		t.Fatalf("events = %v", eventNames(events))
	}
	e := events[0]
	if aws.ToString(e.Username) != "alice" || aws.ToString(e.AccessKeyId) != "AKIAEXPOSEDEXPOSED01" ||
		aws.ToString(e.EventSource) != "ec2.amazonaws.com" || aws.ToString(e.ReadOnly) != "false" ||
		!e.EventTime.Equal(testNow.Add(-2*time.Hour)) || len(e.Resources) != 1 ||
		aws.ToString(e.Resources[0].ResourceName) != "i-0abc" || aws.ToString(e.EventId) == "" {
		t.Errorf("event = %+v", e)
	}
	var rec struct {
		EventName       string `json:"eventName"`
		EventSource     string `json:"eventSource"`
		AwsRegion       string `json:"awsRegion"`
		SourceIPAddress string `json:"sourceIPAddress"`
		ErrorCode       string `json:"errorCode"`
		EventID         string `json:"eventID"`
		EventTime       string `json:"eventTime"`
		UserIdentity    struct {
			Type        string `json:"type"`
			UserName    string `json:"userName"`
			AccessKeyID string `json:"accessKeyId"`
		} `json:"userIdentity"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec); err != nil {
		t.Fatalf("CloudTrailEvent: %v", err)
	}
	if rec.EventName != "RunInstances" || rec.AwsRegion != "us-east-1" || rec.SourceIPAddress != "203.0.113.7" ||
		rec.ErrorCode != "Client.UnauthorizedOperation" || rec.EventID != aws.ToString(e.EventId) ||
		rec.EventTime != "2026-03-01T10:00:00Z" || rec.UserIdentity.Type != "IAMUser" ||
		rec.UserIdentity.UserName != "alice" || rec.UserIdentity.AccessKeyID != "AKIAEXPOSEDEXPOSED01" {
		t.Errorf("record = %+v", rec)
	}
}

func TestLookupEventsRecordsIAMWrites(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	seed(t, s, trailFixture)
	asAlice := iam.NewFromConfig(configAs(s, "AKIAEXPOSEDEXPOSED01"))
	admin := iam.NewFromConfig(s.SDKConfig())

	_, err := asAlice.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	mustOK(t, "CreateAccessKey", err)
	_, err = asAlice.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	wantCode(t, err, "LimitExceeded", 409)
	_, err = admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String("AKIAEXPOSEDEXPOSED01"), Status: iamtypes.StatusTypeInactive})
	mustOK(t, "UpdateAccessKey", err)
	_, err = admin.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")}) // a read: not recorded
	mustOK(t, "ListAccessKeys", err)

	byKey := lookupAll(t, s, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{
		AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String("AKIAEXPOSEDEXPOSED01"),
	}}})
	if got, want := eventNames(byKey), "CreateAccessKey,CreateAccessKey,CreateUser,RunInstances"; got != want {
		t.Errorf("events by alice's key = %s, want %s", got, want)
	}
	failed := byKey[0]
	if !strings.Contains(aws.ToString(failed.CloudTrailEvent), `"errorCode":"LimitExceeded"`) {
		t.Errorf("failed write lacks errorCode: %s", aws.ToString(failed.CloudTrailEvent))
	}

	// The deactivation names the key it acted on as a resource.
	onKey := lookupAll(t, s, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{
		AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: aws.String("AKIAEXPOSEDEXPOSED01"),
	}}})
	if eventNames(onKey) != "UpdateAccessKey" || aws.ToString(onKey[0].Username) != "root" {
		t.Errorf("events on the key = %s (%+v)", eventNames(onKey), onKey)
	}
	if !strings.Contains(aws.ToString(onKey[0].CloudTrailEvent), `"requestParameters":{"accessKeyId":"AKIAEXPOSEDEXPOSED01","status":"Inactive","userName":"alice"}`) {
		t.Errorf("record = %s", aws.ToString(onKey[0].CloudTrailEvent))
	}
}

func TestLookupEventsErrors(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	seed(t, s, trailFixture)
	c := cloudtrail.NewFromConfig(s.SDKConfig())
	key := func(k, v string) cttypes.LookupAttribute {
		return cttypes.LookupAttribute{AttributeKey: cttypes.LookupAttributeKey(k), AttributeValue: aws.String(v)}
	}

	_, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{key("Username", "a"), key("EventName", "b")}})
	var badAttr *cttypes.InvalidLookupAttributesException
	if !errors.As(err, &badAttr) {
		t.Errorf("two attributes: %v, want InvalidLookupAttributesException", err)
	}
	_, err = c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{key("Colour", "blue")}})
	if !errors.As(err, &badAttr) {
		t.Errorf("unknown attribute: %v, want InvalidLookupAttributesException", err)
	}
	_, err = c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)})
	var badMax *cttypes.InvalidMaxResultsException
	if !errors.As(err, &badMax) {
		t.Errorf("MaxResults 51: %v, want InvalidMaxResultsException", err)
	}
	_, err = c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{StartTime: aws.Time(testNow), EndTime: aws.Time(testNow.Add(-time.Hour))})
	var badRange *cttypes.InvalidTimeRangeException
	if !errors.As(err, &badRange) {
		t.Errorf("reversed window: %v, want InvalidTimeRangeException", err)
	}
	_, err = c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{NextToken: aws.String("garbage")})
	var badToken *cttypes.InvalidNextTokenException
	if !errors.As(err, &badToken) {
		t.Errorf("bad token: %v, want InvalidNextTokenException", err)
	}
	// A token is valid only for the filters it was issued for.
	page, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)})
	mustOK(t, "LookupEvents", err)
	_, err = c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{NextToken: page.NextToken, LookupAttributes: []cttypes.LookupAttribute{key("Username", "bob")}})
	if !errors.As(err, &badToken) {
		t.Errorf("token with other filters: %v, want InvalidNextTokenException", err)
	}
	wantCode(t, err, "InvalidNextTokenException", 400)
}
