package localaws

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestGetCallerIdentity(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{AccountID: "210987654321"})
	seed(t, s, Fixture{Users: []FixtureUser{{Name: "alice"}}, Keys: []FixtureKey{{User: "alice", ID: "AKIAALICEALICEALICE1"}}})

	root, err := sts.NewFromConfig(s.SDKConfig()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	mustOK(t, "GetCallerIdentity", err)
	if aws.ToString(root.Account) != "210987654321" || aws.ToString(root.Arn) != "arn:aws:iam::210987654321:root" {
		t.Errorf("root identity = %s %s", aws.ToString(root.Account), aws.ToString(root.Arn))
	}
	alice, err := sts.NewFromConfig(configAs(s, "AKIAALICEALICEALICE1")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	mustOK(t, "GetCallerIdentity as alice", err)
	if aws.ToString(alice.Arn) != "arn:aws:iam::210987654321:user/alice" || !strings.HasPrefix(aws.ToString(alice.UserId), "AIDA") {
		t.Errorf("alice identity = %s %s", aws.ToString(alice.Arn), aws.ToString(alice.UserId))
	}
}

func TestSNSPublish(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	seed(t, s, Fixture{Topics: []string{"keywarden-alerts"}})
	c := sns.NewFromConfig(s.SDKConfig())

	topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("keywarden-alerts")})
	mustOK(t, "CreateTopic", err)
	arn := aws.ToString(topic.TopicArn)
	if arn != "arn:aws:sns:us-east-1:123456789012:keywarden-alerts" {
		t.Errorf("TopicArn = %s", arn)
	}

	out, err := c.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(arn),
		Subject:  aws.String("keywarden: key AKIA... of alice deactivated"),
		Message:  aws.String("The key was found exposed and has been deactivated."),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"severity": {DataType: aws.String("String"), StringValue: aws.String("high")},
			"age_days": {DataType: aws.String("Number"), StringValue: aws.String("95")},
		},
	})
	mustOK(t, "Publish", err)
	msgs := s.Published()
	if len(msgs) != 1 {
		t.Fatalf("published %d messages", len(msgs))
	}
	m := msgs[0]
	if m.MessageID != aws.ToString(out.MessageId) || m.TopicArn != arn || !strings.HasPrefix(m.Subject, "keywarden:") ||
		m.Attributes["severity"].StringValue != "high" || m.Attributes["age_days"].DataType != "Number" {
		t.Errorf("published = %+v", m)
	}

	var notFound *snstypes.NotFoundException
	_, err = c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:missing"), Message: aws.String("m")})
	if !errors.As(err, &notFound) {
		t.Errorf("Publish to missing topic: %v, want NotFound", err)
	}
	wantCode(t, err, "NotFound", 404)

	invalid := []struct {
		name string
		in   sns.PublishInput
	}{
		{"empty message", sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("")}},
		{"subject with newline", sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("m"), Subject: aws.String("a\nb")}},
		{"subject too long", sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("m"), Subject: aws.String(strings.Repeat("s", 101))}},
		{"json without default", sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String(`{"email":"x"}`), MessageStructure: aws.String("json")}},
		{"message too long", sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String(strings.Repeat("m", 256*1024+1))}},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Publish(ctx, &tt.in)
			var bad *snstypes.InvalidParameterException
			if !errors.As(err, &bad) {
				t.Errorf("Publish: %v, want InvalidParameter", err)
			}
		})
	}
	_, err = c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("bad name")})
	wantCode(t, err, "InvalidParameter", 400)
	if len(s.Published()) != 1 {
		t.Errorf("refused messages were recorded: %d", len(s.Published()))
	}
}

func TestSESSendEmail(t *testing.T) {
	ctx := context.Background()
	s := newTestServer(t, Options{})
	c := sesv2.NewFromConfig(s.SDKConfig())
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("keywarden <alerts@example.com>"),
		Destination:      &sestypes.Destination{ToAddresses: []string{"security@example.com"}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String("Exposed key contained")},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("Key AKIA... was deactivated.")}},
		}},
	}

	_, err := c.SendEmail(ctx, in)
	var rejected *sestypes.MessageRejected
	if !errors.As(err, &rejected) {
		t.Fatalf("SendEmail from unverified sender: %v, want MessageRejected", err)
	}
	wantCode(t, err, "MessageRejected", 400)

	seed(t, s, Fixture{SESIdentities: []string{"example.com"}})
	out, err := c.SendEmail(ctx, in)
	mustOK(t, "SendEmail", err)
	emails := s.Emails()
	if len(emails) != 1 {
		t.Fatalf("sent %d emails", len(emails))
	}
	e := emails[0]
	if e.MessageID != aws.ToString(out.MessageId) || e.Subject != "Exposed key contained" ||
		e.To[0] != "security@example.com" || !strings.Contains(e.Text, "deactivated") {
		t.Errorf("email = %+v", e)
	}

	noRecipients := *in
	noRecipients.Destination = &sestypes.Destination{}
	_, err = c.SendEmail(ctx, &noRecipients)
	var bad *sestypes.BadRequestException
	if !errors.As(err, &bad) {
		t.Errorf("SendEmail without recipients: %v, want BadRequestException", err)
	}
	template := *in
	template.Content = &sestypes.EmailContent{Template: &sestypes.Template{TemplateName: aws.String("missing")}}
	_, err = c.SendEmail(ctx, &template)
	var notFound *sestypes.NotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("SendEmail with missing template: %v, want NotFoundException", err)
	}
}
