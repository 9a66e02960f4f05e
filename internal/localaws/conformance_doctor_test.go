package localaws

// Conformance of the read-only calls `keywarden doctor` makes. On
// localaws each scenario seeds state with the Go setters (AddStack,
// AddSubscription, AddQueue, AddTrail, DefineRule, …); on moto through
// moto's own APIs (CreateStack, Subscribe, SendMessage, CreateTrail, …),
// so both answer the same reads from the same state.
//
// Moto gaps (moto 5.2.1), skipped on moto by name in doctorMotoGaps:
//   - CloudWatch: the SDK (cloudwatch v1.76) speaks Smithy RPC v2 CBOR,
//     which moto does not serve; DescribeAlarms is compared on localaws only.
//   - SES v2 GetAccount: moto does not implement it.
//   - CloudTrail GetEventSelectors of a trail created without selectors:
//     moto answers none; AWS answers the default basic selector (All,
//     management events included), as localaws does.
//   - SES v2 GetEmailIdentity of an identity moto created verified: moto
//     says VerificationStatus SUCCESS but VerifiedForSendingStatus false.

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

var doctorMotoGaps = map[string]string{
	"cloudwatch/describe unknown alarm":    "moto does not serve the RPC v2 CBOR protocol the CloudWatch SDK speaks",
	"cloudwatch/describe alarm":            "moto does not serve the RPC v2 CBOR protocol the CloudWatch SDK speaks",
	"sesv2-account/get account":            "moto does not implement SES v2 GetAccount",
	"cloudtrail-trails/selectors":          "moto answers no selectors for a new trail; AWS answers its default one (All, management events)",
	"sesv2-identity/get verified identity": "moto answers VerificationStatus SUCCESS with VerifiedForSendingStatus false",
}

func init() {
	conformanceScenarios = append(conformanceScenarios, doctorScenarios...)
	for k, v := range doctorMotoGaps {
		motoGaps[k] = v
	}
}

// stepper collects a scenario's steps.
type stepper []step

func (s *stepper) add(name, got string) { *s = append(*s, step{name, got}) }

// seedErr records a failure to seed as the step it prevents.
func seedErr(what string, err error) string { return fmt.Sprintf("seed %s: %v", what, err) }

const conformanceTemplate = `{"Resources":{"Topic":{"Type":"AWS::SNS::Topic","Properties":{"TopicName":"conf-stack-topic"}}},
"Outputs":{"KeyAgeMode":{"Value":"dry-run","Description":"mode"}}}`

var doctorScenarios = []scenario{
	{
		name: "cloudformation",
		want: []step{
			{"describe missing stack", "ValidationError 400"},
			{"describe stack", "conf-stack CREATE_COMPLETE KeyAgeMode=dry-run"},
			{"list resources", "Topic AWS::SNS::Topic CREATE_COMPLETE"},
			{"list resources of missing stack", "ValidationError 400"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			var steps stepper
			c := cloudformation.NewFromConfig(env.cfg)
			_, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("conf-nostack")})
			steps.add("describe missing stack", outcome(err))
			if env.srv != nil {
				_, err = env.srv.AddStack(Stack{Name: "conf-stack",
					Outputs:   []StackOutput{{Key: "KeyAgeMode", Value: "dry-run", Description: "mode"}},
					Resources: []StackResource{{LogicalID: "Topic", PhysicalID: "arn:aws:sns:us-east-1:" + env.account + ":conf-stack-topic", Type: "AWS::SNS::Topic"}}})
			} else {
				_, err = c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("conf-stack"), TemplateBody: aws.String(conformanceTemplate)})
			}
			if err != nil {
				steps.add("describe stack", seedErr("stack", err))
				return steps
			}
			out, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("conf-stack")})
			if err != nil || len(out.Stacks) != 1 {
				steps.add("describe stack", fmt.Sprintf("%s, %d stacks", outcome(err), len(out.Stacks)))
			} else {
				st := out.Stacks[0]
				var outs []string
				for _, o := range st.Outputs {
					outs = append(outs, aws.ToString(o.OutputKey)+"="+aws.ToString(o.OutputValue))
				}
				steps.add("describe stack", fmt.Sprintf("%s %s %s", aws.ToString(st.StackName), st.StackStatus, strings.Join(outs, ",")))
			}
			res, err := c.ListStackResources(ctx, &cloudformation.ListStackResourcesInput{StackName: aws.String("conf-stack")})
			if err != nil {
				steps.add("list resources", outcome(err))
			} else {
				var rs []string
				for _, r := range res.StackResourceSummaries {
					rs = append(rs, fmt.Sprintf("%s %s %s", aws.ToString(r.LogicalResourceId), aws.ToString(r.ResourceType), r.ResourceStatus))
				}
				steps.add("list resources", strings.Join(rs, ","))
			}
			_, err = c.ListStackResources(ctx, &cloudformation.ListStackResourcesInput{StackName: aws.String("conf-nostack")})
			steps.add("list resources of missing stack", outcome(err))
			return steps
		},
	},
	{
		name: "sns-subscriptions",
		want: []step{
			{"list subscriptions of missing topic", "NotFound 404"},
			{"list subscriptions", "sqs arn:aws:sqs:us-east-1:123456789012:conf-subscriber confirmed"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			var steps stepper
			c := sns.NewFromConfig(env.cfg)
			_, err := c.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String("arn:aws:sns:us-east-1:" + env.account + ":conf-none")})
			steps.add("list subscriptions of missing topic", outcome(err))
			topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("conf-alerts")})
			if err != nil {
				steps.add("list subscriptions", seedErr("topic", err))
				return steps
			}
			// An SQS subscription is confirmed at once, in AWS and in both
			// emulators (moto confirms e-mail ones at once too, which AWS
			// does not; localaws's pending state is tested in its own tests).
			endpoint := "arn:aws:sqs:us-east-1:" + env.account + ":conf-subscriber"
			if env.srv != nil {
				_, err = env.srv.AddSubscription(aws.ToString(topic.TopicArn), Subscription{Protocol: "sqs", Endpoint: endpoint})
			} else {
				if _, err = sqs.NewFromConfig(env.cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("conf-subscriber")}); err == nil {
					_, err = c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(endpoint)})
				}
			}
			if err != nil {
				steps.add("list subscriptions", seedErr("subscription", err))
				return steps
			}
			subs, err := c.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: topic.TopicArn})
			if err != nil {
				steps.add("list subscriptions", outcome(err))
				return steps
			}
			var got []string
			for _, s := range subs.Subscriptions {
				state := "confirmed"
				if aws.ToString(s.SubscriptionArn) == "PendingConfirmation" {
					state = "pending"
				}
				got = append(got, fmt.Sprintf("%s %s %s", aws.ToString(s.Protocol), aws.ToString(s.Endpoint), state))
			}
			steps.add("list subscriptions", strings.Join(got, ","))
			return steps
		},
	},
	{
		name: "sqs-depth",
		want: []step{
			{"attributes of missing queue", "AWS.SimpleQueueService.NonExistentQueue 400"},
			{"depth", "2 waiting, 0 in flight"},
			{"unknown attribute", "InvalidAttributeName 400"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			var steps stepper
			c := sqs.NewFromConfig(env.cfg)
			_, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(env.endpoint + "/" + env.account + "/conf-none"),
				AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
			steps.add("attributes of missing queue", outcome(err))
			var url string
			if env.srv != nil {
				if url, err = env.srv.AddQueue("conf-dlq"); err == nil {
					err = env.srv.SetQueueDepth("conf-dlq", 2, 0)
				}
			} else {
				var q *sqs.CreateQueueOutput
				if q, err = c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("conf-dlq")}); err == nil {
					url = aws.ToString(q.QueueUrl)
					for i := 0; i < 2 && err == nil; i++ {
						_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("event")})
					}
				}
			}
			if err != nil {
				steps.add("depth", seedErr("queue", err))
				return steps
			}
			attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{
				sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
			if err != nil {
				steps.add("depth", outcome(err))
			} else {
				steps.add("depth", fmt.Sprintf("%s waiting, %s in flight", attrs.Attributes["ApproximateNumberOfMessages"], attrs.Attributes["ApproximateNumberOfMessagesNotVisible"]))
			}
			_, err = c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{"NoSuchAttribute"}})
			steps.add("unknown attribute", outcome(err))
			return steps
		},
	},
	{
		name: "cloudtrail-trails",
		want: []step{
			{"describe no trails", "0"},
			{"status of missing trail", "TrailNotFoundException 400"},
			{"selectors of missing trail", "TrailNotFoundException 400"},
			{"describe trails", "conf-trail multi-region=true home=us-east-1"},
			{"status", "logging=true"},
			{"selectors", "All management=true"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			var steps stepper
			c := cloudtrail.NewFromConfig(env.cfg)
			none, err := c.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{})
			if err != nil {
				steps.add("describe no trails", outcome(err))
			} else {
				steps.add("describe no trails", fmt.Sprint(len(none.TrailList)))
			}
			_, err = c.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("conf-none")})
			steps.add("status of missing trail", outcome(err))
			_, err = c.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: aws.String("conf-none")})
			steps.add("selectors of missing trail", outcome(err))
			if env.srv != nil {
				err = env.srv.AddTrail(Trail{Name: "conf-trail", MultiRegion: true, Logging: true, S3Bucket: "conf-trail-bucket"})
			} else if err = motoCreateBucket(ctx, env.endpoint, "conf-trail-bucket"); err == nil {
				if _, err = c.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("conf-trail"), S3BucketName: aws.String("conf-trail-bucket"), IsMultiRegionTrail: aws.Bool(true)}); err == nil {
					_, err = c.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("conf-trail")})
				}
			}
			if err != nil {
				steps.add("describe trails", seedErr("trail", err))
				return steps
			}
			trails, err := c.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
			if err != nil {
				steps.add("describe trails", outcome(err))
				return steps
			}
			var got []string
			for _, t := range trails.TrailList {
				got = append(got, fmt.Sprintf("%s multi-region=%v home=%s", aws.ToString(t.Name), aws.ToBool(t.IsMultiRegionTrail), aws.ToString(t.HomeRegion)))
			}
			steps.add("describe trails", strings.Join(got, ","))
			status, err := c.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("conf-trail")})
			if err != nil {
				steps.add("status", outcome(err))
			} else {
				steps.add("status", fmt.Sprintf("logging=%v", aws.ToBool(status.IsLogging)))
			}
			sel, err := c.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: aws.String("conf-trail")})
			if err != nil {
				steps.add("selectors", outcome(err))
			} else {
				var got []string
				for _, s := range sel.EventSelectors {
					got = append(got, fmt.Sprintf("%s management=%v", s.ReadWriteType, aws.ToBool(s.IncludeManagementEvents)))
				}
				steps.add("selectors", strings.Join(got, ","))
			}
			return steps
		},
	},
	{
		name: "events-describe-rule",
		want: []step{
			{"describe missing rule", "ResourceNotFoundException 400"},
			{"describe enabled rule", "ENABLED rate(1 day)"},
			{"describe disabled rule", "DISABLED rate(1 day)"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			var steps stepper
			c := eventbridge.NewFromConfig(env.cfg)
			_, err := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("conf-none")})
			steps.add("describe missing rule", outcome(err))
			describe := func(name string) {
				out, err := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("conf-schedule")})
				if err != nil {
					steps.add(name, outcome(err))
					return
				}
				steps.add(name, fmt.Sprintf("%s %s", out.State, aws.ToString(out.ScheduleExpression)))
			}
			if env.srv != nil {
				err = env.srv.DefineRule(RuleDefinition{Name: "conf-schedule", ScheduleExpression: "rate(1 day)"})
			} else {
				_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("conf-schedule"), ScheduleExpression: aws.String("rate(1 day)")})
			}
			if err != nil {
				steps.add("describe enabled rule", seedErr("rule", err))
				return steps
			}
			describe("describe enabled rule")
			if env.srv != nil {
				err = env.srv.SetRuleEnabled("conf-schedule", false)
			} else {
				_, err = c.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String("conf-schedule")})
			}
			if err != nil {
				steps.add("describe disabled rule", seedErr("disable", err))
				return steps
			}
			describe("describe disabled rule")
			return steps
		},
	},
	{
		name: "sesv2-identity",
		want: []step{
			{"get missing identity", "NotFoundException 404"},
			{"get verified identity", "EMAIL_ADDRESS verified=true SUCCESS"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			var steps stepper
			c := sesv2.NewFromConfig(env.cfg)
			_, err := c.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("nobody@conf.example")})
			steps.add("get missing identity", outcome(err))
			if err := env.verifySender(ctx, "notices@conf.example"); err != nil {
				steps.add("get verified identity", seedErr("identity", err))
				return steps
			}
			out, err := c.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("notices@conf.example")})
			if err != nil {
				steps.add("get verified identity", outcome(err))
			} else {
				steps.add("get verified identity", fmt.Sprintf("%s verified=%v %s", out.IdentityType, out.VerifiedForSendingStatus, out.VerificationStatus))
			}
			return steps
		},
	},
	{
		name: "sesv2-account",
		want: []step{{"get account", "production=true sending=true"}},
		run: func(ctx context.Context, env conformanceEnv) []step {
			var steps stepper
			out, err := sesv2.NewFromConfig(env.cfg).GetAccount(ctx, &sesv2.GetAccountInput{})
			if err != nil {
				steps.add("get account", outcome(err))
			} else {
				steps.add("get account", fmt.Sprintf("production=%v sending=%v", out.ProductionAccessEnabled, out.SendingEnabled))
			}
			return steps
		},
	},
	{
		name: "sfn-list-executions",
		want: []step{
			{"list executions of missing machine", "StateMachineDoesNotExist 400"},
			{"list executions", "0"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			var steps stepper
			c := sfn.NewFromConfig(env.cfg)
			_, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:" + env.account + ":stateMachine:conf-none")})
			steps.add("list executions of missing machine", outcome(err))
			var arn string
			if env.srv != nil {
				arn, err = env.srv.AddStateMachine("conf-machine")
			} else {
				var out *sfn.CreateStateMachineOutput
				out, err = c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("conf-machine"),
					Definition: aws.String(`{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}`),
					RoleArn:    aws.String("arn:aws:iam::" + env.account + ":role/conf-sfn")})
				if err == nil {
					arn = aws.ToString(out.StateMachineArn)
				}
			}
			if err != nil {
				steps.add("list executions", seedErr("state machine", err))
				return steps
			}
			list, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn)})
			if err != nil {
				steps.add("list executions", outcome(err))
			} else {
				steps.add("list executions", fmt.Sprint(len(list.Executions)))
			}
			return steps
		},
	},
	{
		name: "cloudwatch",
		want: []step{
			{"describe unknown alarm", "0 alarms"},
			{"describe alarm", "conf-alarm ALARM"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			var steps stepper
			c := cloudwatch.NewFromConfig(env.cfg)
			describe := func(name string, names ...string) {
				out, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: names})
				if err != nil {
					steps.add(name, outcome(err))
					return
				}
				if len(out.MetricAlarms) == 0 {
					steps.add(name, "0 alarms")
					return
				}
				var got []string
				for _, a := range out.MetricAlarms {
					got = append(got, fmt.Sprintf("%s %s", aws.ToString(a.AlarmName), a.StateValue))
				}
				sort.Strings(got)
				steps.add(name, strings.Join(got, ","))
			}
			describe("describe unknown alarm", "conf-none")
			if env.srv == nil {
				steps.add("describe alarm", "not seeded: moto does not serve CBOR")
				return steps
			}
			if err := env.srv.SetAlarm(Alarm{Name: "conf-alarm", State: AlarmAlarm, Updated: time.Now()}); err != nil {
				steps.add("describe alarm", seedErr("alarm", err))
				return steps
			}
			describe("describe alarm", "conf-alarm", "conf-none")
			return steps
		},
	},
}

// motoCreateBucket creates an S3 bucket on moto with a bare signed-looking
// PUT (moto checks no signature), since keywarden has no S3 client and a
// CloudTrail trail on moto needs its bucket.
func motoCreateBucket(ctx context.Context, endpoint, bucket string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, endpoint+"/"+bucket, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+TestAccessKeyID+"/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("create bucket %s: HTTP %d", bucket, resp.StatusCode)
	}
	return nil
}
