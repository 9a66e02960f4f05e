package localaws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/exposure"
)

// The managed-policy calls of revokeWith attachedPolicy: attach (twice,
// which IAM accepts), list, detach, the errors for a missing user, a
// missing policy and a policy not attached, and IAM's default quota of 10
// managed policies per user. Policies are seeded with the setter on
// localaws and with CreatePolicy on moto.
func init() {
	conformanceScenarios = append(conformanceScenarios, scenario{
		name: "iam-attached-policies",
		want: []step{
			{"attach", "ok"}, {"attach again", "ok"}, {"list attached", "conf-deny-0"},
			{"attach to missing user", "NoSuchEntity 404"}, {"attach missing policy", "NoSuchEntity 404"},
			{"attach up to ten", "ok"}, {"attach an eleventh", "LimitExceeded 409"},
			{"detach", "ok"}, {"detach again", "NoSuchEntity 404"}, {"detach from missing user", "NoSuchEntity 404"},
			{"list after detach", "9 attached"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			c := iam.NewFromConfig(env.cfg)
			var steps []step
			add := func(name, got string) { steps = append(steps, step{name, got}) }
			if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("conf-user")}); err != nil {
				return append(steps, step{"attach", "seed user: " + outcome(err)})
			}
			arns := make([]string, 11)
			for i := range arns {
				name := fmt.Sprintf("conf-deny-%d", i)
				var err error
				if env.srv != nil {
					arns[i], err = env.srv.CreateManagedPolicy(name, exposure.AttachedRevokePolicy())
				} else {
					var out *iam.CreatePolicyOutput
					if out, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(exposure.AttachedRevokePolicy())}); err == nil {
						arns[i] = aws.ToString(out.Policy.Arn)
					}
				}
				if err != nil {
					return append(steps, step{"attach", "seed policy: " + err.Error()})
				}
			}
			attach := func(user, arn string) error {
				_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String(arn)})
				return err
			}
			detach := func(user, arn string) error {
				_, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String(arn)})
				return err
			}
			list := func() ([]string, error) {
				out, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("conf-user")})
				if err != nil {
					return nil, err
				}
				var names []string
				for _, p := range out.AttachedPolicies {
					names = append(names, aws.ToString(p.PolicyName))
				}
				return names, nil
			}
			add("attach", outcome(attach("conf-user", arns[0])))
			add("attach again", outcome(attach("conf-user", arns[0])))
			if names, err := list(); err != nil {
				add("list attached", outcome(err))
			} else {
				add("list attached", strings.Join(names, ","))
			}
			add("attach to missing user", outcome(attach("conf-nobody", arns[0])))
			add("attach missing policy", outcome(attach("conf-user", "arn:aws:iam::"+env.account+":policy/conf-missing")))
			var err error
			for _, arn := range arns[1:10] {
				if err = attach("conf-user", arn); err != nil {
					break
				}
			}
			add("attach up to ten", outcome(err))
			add("attach an eleventh", outcome(attach("conf-user", arns[10])))
			add("detach", outcome(detach("conf-user", arns[0])))
			add("detach again", outcome(detach("conf-user", arns[0])))
			add("detach from missing user", outcome(detach("conf-nobody", arns[1])))
			if names, err := list(); err != nil {
				add("list after detach", outcome(err))
			} else {
				add("list after detach", fmt.Sprintf("%d attached", len(names)))
			}
			return steps
		},
	})
}
