package localaws

// Conformance: one suite of scenarios, run against localaws and, where it is
// installed, against moto (python3 -m moto.server), for the operations moto
// supports (IAM, STS, SNS, SES v2; not CloudTrail LookupEvents, not Lambda
// handlers). Each scenario lists what AWS does, step by step, as outcomes
// (success, error code and HTTP status, and shapes), never ids. Both
// emulators must match it; a step where moto differs from AWS is a
// documented moto gap, skipped on moto with its reason.
//
// Moto gaps found (moto 5.2.1), each skipped on moto by name in motoGaps:
//   - IAM user ids: moto's are random lower-case strings; AWS's start AIDA.
//   - UpdateAccessKey with a status outside [Active, Inactive]: moto accepts
//     it; AWS answers ValidationError.
//   - GetAccessKeyLastUsed of an unknown key: moto answers NoSuchEntity 404;
//     AWS's API reference lists no NoSuchEntity for this operation and AWS
//     answers AccessDenied 403.
//   - SNS Publish: moto accepts an empty message, a subject with a line break
//     and a JSON-structured message without a "default" entry; AWS answers
//     InvalidParameter for each.
//   - AttachUserPolicy past IAM's default quota of 10 managed policies per
//     user: moto attaches it; AWS answers LimitExceeded 409. Attach, attach
//     again (a success that changes nothing), detach and their
//     NoSuchEntity errors match.
//   - SES v2 SendEmail to more than 50 recipients: moto answers
//     MessageRejected; AWS refuses it as an invalid parameter (SES v1:
//     InvalidParameterValue "Recipient count exceeds 50.", which SES v2
//     reports as BadRequestException; inferred, not observed on AWS).
// DynamoDB's scenarios, moto gaps and localaws (minidyn) gaps are in
// conformance_dynamodb_test.go, Secrets Manager's in
// conformance_secretsmanager_test.go.
// Moto also lacks what this suite therefore does not compare: CloudTrail
// LookupEvents, Lambda handlers, backdated keys, the credential report's
// <root_account> row (moto lists users only).

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// localawsGaps are the steps where localaws is known to differ from AWS,
// keyed "scenario/step", with the reason; they are skipped on localaws
// only. All of them are DynamoDB steps where minidyn, which serves
// localaws's DynamoDB, differs (conformance_dynamodb_test.go).
var localawsGaps = map[string]string{}

// motoGaps are the steps where moto is known to differ from AWS, keyed
// "scenario/step", with the reason. They are skipped on moto only.
var motoGaps = map[string]string{
	"iam-users/create user shape":              "moto's user ids are random lower-case strings, not AIDA…",
	"iam-access-keys/update with bad status":   "moto accepts any Status; AWS validates the enum",
	"iam-access-key-last-used/unknown key":     "moto answers NoSuchEntity; AWS answers AccessDenied",
	"sns/publish empty message":                "moto accepts an empty message",
	"sns/publish subject with newline":         "moto does not validate Subject",
	"sns/publish json without default":         `moto does not require the "default" entry`,
	"sesv2/send to 51 recipients":              "moto answers MessageRejected (its SES v1 'Too many recipients')",
	"iam-attached-policies/attach an eleventh": "moto does not enforce IAM's quota of 10 managed policies per user",
	"iam-attached-policies/list after detach":  "moto attached the eleventh policy (no quota), so 10 remain",
}

// conformanceEnv is one fresh target for one scenario.
type conformanceEnv struct {
	cfg     aws.Config
	account string
	// verifySender makes an SES identity verified, however the target needs it.
	verifySender func(ctx context.Context, identity string) error
	// srv is the localaws server, nil on moto: doctor's scenarios seed
	// localaws with its setters and moto through its APIs
	// (conformance_doctor_test.go).
	srv *Server
	// endpoint is the target's URL, for the few raw requests seeding needs.
	endpoint string
}

// conformanceTarget starts a fresh env for each scenario.
type conformanceTarget struct {
	name  string
	fresh func(t *testing.T) conformanceEnv
	gaps  map[string]string
}

// step is one observed outcome of a scenario.
type step struct{ name, got string }

type scenario struct {
	name string
	want []step // what AWS does
	run  func(ctx context.Context, env conformanceEnv) []step
}

// configFor builds an SDK config for any endpoint URL, with the same test
// credentials and fast retries as Server.SDKConfig.
func configFor(endpoint string) aws.Config {
	s := &Server{url: endpoint, region: DefaultRegion}
	return s.SDKConfig()
}

func TestConformanceLocalAWS(t *testing.T) {
	runConformance(t, conformanceTarget{
		name: "localaws",
		gaps: localawsGaps,
		fresh: func(t *testing.T) conformanceEnv {
			s := newTestServer(t, Options{Now: time.Now})
			return conformanceEnv{
				cfg:      configFor(s.URL()),
				account:  s.AccountID(),
				srv:      s,
				endpoint: s.URL(),
				verifySender: func(_ context.Context, identity string) error {
					return s.VerifyEmailIdentity(identity)
				},
			}
		},
	})
}

func TestConformanceMoto(t *testing.T) {
	endpoint := startMoto(t)
	runConformance(t, conformanceTarget{
		name: "moto",
		gaps: motoGaps,
		fresh: func(t *testing.T) conformanceEnv {
			resp, err := http.Post(endpoint+"/moto-api/reset", "application/json", nil)
			if err != nil {
				t.Fatalf("reset moto: %v", err)
			}
			resp.Body.Close()
			cfg := configFor(endpoint)
			return conformanceEnv{
				cfg:      cfg,
				account:  "123456789012",
				endpoint: endpoint,
				verifySender: func(ctx context.Context, identity string) error {
					_, err := sesv2.NewFromConfig(cfg).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(identity)})
					return err
				},
			}
		},
	})
}

// startMoto runs moto's server on a free port for the test, or skips the
// test when moto is not installed.
func startMoto(t *testing.T) string {
	t.Helper()
	if out, err := exec.Command("python3", "-c", "import moto.server").CombinedOutput(); err != nil {
		t.Skipf("moto not installed: python3 -c 'import moto.server': %v: %s (install with pip install \"moto[server]\")", err, bytes.TrimSpace(out))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	var logs bytes.Buffer
	cmd := exec.Command("python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto: %v", err)
	}
	// exited closes when moto ends; waitErr then holds why.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited // killed: its exit status says nothing
	})

	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return endpoint
		}
		select {
		case <-exited:
			t.Fatalf("moto exited before serving: %v\n%s", waitErr, logs.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto did not answer on %s within 60s:\n%s", endpoint, logs.String())
		}
	}
}

func runConformance(t *testing.T, target conformanceTarget) {
	for _, sc := range conformanceScenarios {
		t.Run(sc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			env := target.fresh(t)
			got := sc.run(ctx, env)
			byName := map[string]string{}
			for _, s := range got {
				byName[s.name] = s.got
			}
			for _, w := range sc.want {
				t.Run(w.name, func(t *testing.T) {
					if reason, gap := target.gaps[sc.name+"/"+w.name]; gap {
						t.Skipf("known %s gap: %s (got %q)", target.name, reason, byName[w.name])
					}
					g, ok := byName[w.name]
					if !ok {
						t.Fatalf("step not run")
					}
					if g != w.got {
						t.Errorf("%s: got %q, want %q (AWS)", target.name, g, w.got)
					}
				})
			}
		})
	}
}

// outcome renders an operation's result as AWS-comparable text: "ok" or
// "<code> <status>".
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	code, status := errorCode(err)
	if code == "" {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%s %d", code, status)
}

// shape renders a shape check: "ok" or what is wrong.
func shape(problems ...string) string {
	var bad []string
	for _, p := range problems {
		if p != "" {
			bad = append(bad, p)
		}
	}
	if len(bad) == 0 {
		return "ok"
	}
	return strings.Join(bad, "; ")
}

func expect(cond bool, format string, args ...any) string {
	if cond {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

var awsKeyID = regexp.MustCompile(`^AKIA[A-Z0-9]{16}$`)

var conformanceScenarios = []scenario{
	{
		name: "iam-users",
		want: []step{
			{"create user", "ok"}, {"create user shape", "ok"},
			{"create duplicate user", "EntityAlreadyExists 409"},
			{"get user", "ok"}, {"get user shape", "ok"},
			{"get missing user", "NoSuchEntity 404"},
			{"tag user", "ok"}, {"list user tags", "owner=sec,team=payments"},
			{"tag missing user", "NoSuchEntity 404"},
			{"list users", "conf-user"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			c := iam.NewFromConfig(env.cfg)
			var steps []step
			add := func(name, got string) { steps = append(steps, step{name, got}) }

			created, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("conf-user"), Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("payments")}}})
			add("create user", outcome(err))
			if err == nil {
				u := created.User
				add("create user shape", shape(
					expect(aws.ToString(u.Arn) == "arn:aws:iam::"+env.account+":user/conf-user", "arn %s", aws.ToString(u.Arn)),
					expect(strings.HasPrefix(aws.ToString(u.UserId), "AIDA"), "user id %s", aws.ToString(u.UserId)),
					expect(aws.ToString(u.Path) == "/", "path %q", aws.ToString(u.Path)),
					expect(u.CreateDate != nil && time.Since(*u.CreateDate) < time.Hour, "create date %v", u.CreateDate),
				))
			}
			_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("conf-user")})
			add("create duplicate user", outcome(err))
			got, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("conf-user")})
			add("get user", outcome(err))
			if err == nil {
				add("get user shape", shape(
					expect(aws.ToString(got.User.UserName) == "conf-user", "name %s", aws.ToString(got.User.UserName)),
					expect(aws.ToString(got.User.Arn) == "arn:aws:iam::"+env.account+":user/conf-user", "arn %s", aws.ToString(got.User.Arn)),
				))
			}
			_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("conf-nobody")})
			add("get missing user", outcome(err))
			_, err = c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("conf-user"), Tags: []iamtypes.Tag{{Key: aws.String("owner"), Value: aws.String("sec")}}})
			add("tag user", outcome(err))
			tags, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("conf-user")})
			if err != nil {
				add("list user tags", outcome(err))
			} else {
				var pairs []string
				for _, tg := range tags.Tags {
					pairs = append(pairs, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
				}
				sort.Strings(pairs)
				add("list user tags", strings.Join(pairs, ","))
			}
			_, err = c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("conf-nobody"), Tags: []iamtypes.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
			add("tag missing user", outcome(err))
			users, err := c.ListUsers(ctx, &iam.ListUsersInput{})
			if err != nil {
				add("list users", outcome(err))
			} else {
				var names []string
				for _, u := range users.Users {
					names = append(names, aws.ToString(u.UserName))
				}
				add("list users", strings.Join(names, ","))
			}
			return steps
		},
	},
	{
		name: "iam-access-keys",
		want: []step{
			{"create key 1", "ok"}, {"create key 2", "ok"}, {"key shape", "ok"},
			{"create key 3", "LimitExceeded 409"},
			{"list keys", "Active,Active"},
			{"deactivate key", "ok"},
			{"list keys after deactivate", "Active,Inactive"},
			{"update with bad status", "ValidationError 400"},
			{"update another user's key", "NoSuchEntity 404"},
			{"delete key", "ok"},
			{"delete deleted key", "NoSuchEntity 404"},
			{"update deleted key", "NoSuchEntity 404"},
			{"list keys after delete", "Active"},
			{"create key for missing user", "NoSuchEntity 404"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			c := iam.NewFromConfig(env.cfg)
			var steps []step
			add := func(name, got string) { steps = append(steps, step{name, got}) }
			for _, u := range []string{"conf-keys", "conf-other"} {
				if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u)}); err != nil {
					return []step{{"setup", outcome(err)}}
				}
			}
			var keys []iamtypes.AccessKey
			for i := 1; i <= 3; i++ {
				out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("conf-keys")})
				add(fmt.Sprintf("create key %d", i), outcome(err))
				if err == nil {
					keys = append(keys, *out.AccessKey)
				}
			}
			if len(keys) < 2 {
				return steps
			}
			k := keys[0]
			add("key shape", shape(
				expect(awsKeyID.MatchString(aws.ToString(k.AccessKeyId)), "key id %s", aws.ToString(k.AccessKeyId)),
				expect(len(aws.ToString(k.SecretAccessKey)) == 40, "secret length %d", len(aws.ToString(k.SecretAccessKey))),
				expect(k.Status == iamtypes.StatusTypeActive, "status %s", k.Status),
				expect(aws.ToString(k.UserName) == "conf-keys", "user %s", aws.ToString(k.UserName)),
				expect(k.CreateDate != nil && time.Since(*k.CreateDate) < time.Hour, "create date %v", k.CreateDate),
			))
			statuses := func() string {
				out, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("conf-keys")})
				if err != nil {
					return outcome(err)
				}
				var st []string
				for _, m := range out.AccessKeyMetadata {
					st = append(st, string(m.Status))
				}
				sort.Strings(st)
				return strings.Join(st, ",")
			}
			update := func(user, id string, status iamtypes.StatusType) error {
				_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id), Status: status})
				return err
			}
			id := aws.ToString(k.AccessKeyId)
			add("list keys", statuses())
			add("deactivate key", outcome(update("conf-keys", id, iamtypes.StatusTypeInactive)))
			add("list keys after deactivate", statuses())
			add("update with bad status", outcome(update("conf-keys", id, "Disabled")))
			add("update another user's key", outcome(update("conf-other", id, iamtypes.StatusTypeActive)))
			_, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("conf-keys"), AccessKeyId: aws.String(id)})
			add("delete key", outcome(err))
			_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("conf-keys"), AccessKeyId: aws.String(id)})
			add("delete deleted key", outcome(err))
			add("update deleted key", outcome(update("conf-keys", id, iamtypes.StatusTypeActive)))
			add("list keys after delete", statuses())
			_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("conf-nobody")})
			add("create key for missing user", outcome(err))
			return steps
		},
	},
	{
		name: "iam-access-key-last-used",
		want: []step{
			{"new key", "ok"},
			{"new key shape", "user=conf-lu region=N/A service=N/A date=none"},
			{"unknown key", "AccessDenied 403"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			c := iam.NewFromConfig(env.cfg)
			if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("conf-lu")}); err != nil {
				return []step{{"setup", outcome(err)}}
			}
			key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("conf-lu")})
			if err != nil {
				return []step{{"setup", outcome(err)}}
			}
			var steps []step
			out, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: key.AccessKey.AccessKeyId})
			steps = append(steps, step{"new key", outcome(err)})
			if err == nil {
				lu := out.AccessKeyLastUsed
				date := "none"
				if lu != nil && lu.LastUsedDate != nil {
					date = "set"
				}
				var region, service string
				if lu != nil {
					region, service = aws.ToString(lu.Region), aws.ToString(lu.ServiceName)
				}
				steps = append(steps, step{"new key shape", fmt.Sprintf("user=%s region=%s service=%s date=%s", aws.ToString(out.UserName), region, service, date)})
			}
			_, err = c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String("AKIAZZZZZZZZZZZZZZZZ")})
			return append(steps, step{"unknown key", outcome(err)})
		},
	},
	{
		name: "iam-user-policies",
		want: []step{
			{"put policy", "ok"}, {"get policy", "ok"},
			{"policy document", "url-encoded, same JSON after decoding"},
			{"list policies", "conf-deny"},
			{"put malformed policy", "MalformedPolicyDocument 400"},
			{"put policy for missing user", "NoSuchEntity 404"},
			{"get missing policy", "NoSuchEntity 404"},
			{"delete policy", "ok"},
			{"delete deleted policy", "NoSuchEntity 404"},
			{"list policies after delete", ""},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			c := iam.NewFromConfig(env.cfg)
			if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("conf-pol")}); err != nil {
				return []step{{"setup", outcome(err)}}
			}
			doc := `{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}`
			var steps []step
			add := func(name, got string) { steps = append(steps, step{name, got}) }
			put := func(user, name, doc string) error {
				_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
				return err
			}
			add("put policy", outcome(put("conf-pol", "conf-deny", doc)))
			got, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("conf-pol"), PolicyName: aws.String("conf-deny")})
			add("get policy", outcome(err))
			if err == nil {
				raw := aws.ToString(got.PolicyDocument)
				decoded, decErr := url.QueryUnescape(raw)
				switch {
				case strings.Contains(raw, "{"):
					add("policy document", "not url-encoded")
				case decErr != nil || !sameJSON(decoded, doc):
					add("policy document", fmt.Sprintf("decodes to %q", decoded))
				default:
					add("policy document", "url-encoded, same JSON after decoding")
				}
			}
			names := func() string {
				out, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("conf-pol")})
				if err != nil {
					return outcome(err)
				}
				return strings.Join(out.PolicyNames, ",")
			}
			add("list policies", names())
			add("put malformed policy", outcome(put("conf-pol", "bad", `{"Statement": "nope"`)))
			add("put policy for missing user", outcome(put("conf-nobody", "conf-deny", doc)))
			_, err = c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("conf-pol"), PolicyName: aws.String("conf-missing")})
			add("get missing policy", outcome(err))
			_, err = c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("conf-pol"), PolicyName: aws.String("conf-deny")})
			add("delete policy", outcome(err))
			_, err = c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("conf-pol"), PolicyName: aws.String("conf-deny")})
			add("delete deleted policy", outcome(err))
			add("list policies after delete", names())
			return steps
		},
	},
	{
		name: "iam-credential-report",
		want: []step{
			{"get before generate", "ReportNotPresent 410"},
			{"generate", "STARTED"},
			{"generate again", "COMPLETE"},
			{"get report", "ok"},
			{"report format", "text/csv"},
			{"report header", "ok"},
			{"report user row", "conf-cr: key 1 active=true rotated=set used=N/A, key 2 active=false"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			c := iam.NewFromConfig(env.cfg)
			var steps []step
			add := func(name, got string) { steps = append(steps, step{name, got}) }
			_, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
			add("get before generate", outcome(err))
			if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("conf-cr")}); err != nil {
				return append(steps, step{"setup", outcome(err)})
			}
			if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("conf-cr")}); err != nil {
				return append(steps, step{"setup", outcome(err)})
			}
			for _, name := range []string{"generate", "generate again"} {
				out, err := c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
				if err != nil {
					add(name, outcome(err))
				} else {
					add(name, string(out.State))
				}
			}
			rep, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
			add("get report", outcome(err))
			if err != nil {
				return steps
			}
			add("report format", string(rep.ReportFormat))
			rows, err := csv.NewReader(bytes.NewReader(rep.Content)).ReadAll()
			if err != nil || len(rows) == 0 {
				add("report header", fmt.Sprintf("not CSV: %v", err))
				return steps
			}
			add("report header", shape(expect(strings.Join(rows[0], ",") == awsCredentialReportHeader, "header %s", strings.Join(rows[0], ","))))
			row := "no row"
			for _, r := range rows[1:] {
				if len(r) == len(rows[0]) && r[0] == "conf-cr" {
					rotated := "N/A"
					if r[9] != "N/A" {
						rotated = "set"
					}
					row = fmt.Sprintf("conf-cr: key 1 active=%s rotated=%s used=%s, key 2 active=%s", r[8], rotated, r[10], r[13])
				}
			}
			add("report user row", row)
			return steps
		},
	},
	{
		name: "sts-caller-identity",
		want: []step{{"get caller identity", "ok"}, {"identity shape", "ok"}},
		run: func(ctx context.Context, env conformanceEnv) []step {
			out, err := sts.NewFromConfig(env.cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			steps := []step{{"get caller identity", outcome(err)}}
			if err == nil {
				steps = append(steps, step{"identity shape", shape(
					expect(aws.ToString(out.Account) == env.account, "account %s", aws.ToString(out.Account)),
					expect(strings.HasPrefix(aws.ToString(out.Arn), "arn:aws:"), "arn %s", aws.ToString(out.Arn)),
					expect(aws.ToString(out.UserId) != "", "empty user id"),
				)})
			}
			return steps
		},
	},
	{
		name: "sns",
		want: []step{
			{"create topic", "ok"}, {"topic arn", "ok"}, {"create topic again", "same arn"},
			{"create topic with bad name", "InvalidParameter 400"},
			{"publish", "ok"}, {"publish with attributes", "ok"},
			{"publish to missing topic", "NotFound 404"},
			{"publish empty message", "InvalidParameter 400"},
			{"publish subject with newline", "InvalidParameter 400"},
			{"publish json without default", "InvalidParameter 400"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			c := sns.NewFromConfig(env.cfg)
			var steps []step
			add := func(name, got string) { steps = append(steps, step{name, got}) }
			topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("conf-alerts")})
			add("create topic", outcome(err))
			if err != nil {
				return steps
			}
			arn := aws.ToString(topic.TopicArn)
			add("topic arn", shape(expect(arn == "arn:aws:sns:us-east-1:"+env.account+":conf-alerts", "arn %s", arn)))
			again, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("conf-alerts")})
			if err != nil {
				add("create topic again", outcome(err))
			} else if aws.ToString(again.TopicArn) == arn {
				add("create topic again", "same arn")
			} else {
				add("create topic again", "different arn "+aws.ToString(again.TopicArn))
			}
			_, err = c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("bad name")})
			add("create topic with bad name", outcome(err))
			publish := func(in *sns.PublishInput) string {
				out, err := c.Publish(ctx, in)
				if err == nil && aws.ToString(out.MessageId) == "" {
					return "ok without MessageId"
				}
				return outcome(err)
			}
			add("publish", publish(&sns.PublishInput{TopicArn: aws.String(arn), Subject: aws.String("keywarden alert"), Message: aws.String("key deactivated")}))
			add("publish with attributes", publish(&sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("m"), MessageAttributes: map[string]snstypes.MessageAttributeValue{
				"severity": {DataType: aws.String("String"), StringValue: aws.String("high")},
				"age":      {DataType: aws.String("Number"), StringValue: aws.String("95")},
			}}))
			add("publish to missing topic", publish(&sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:" + env.account + ":conf-missing"), Message: aws.String("m")}))
			add("publish empty message", publish(&sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("")}))
			add("publish subject with newline", publish(&sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("m"), Subject: aws.String("a\nb")}))
			add("publish json without default", publish(&sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String(`{"email": "x"}`), MessageStructure: aws.String("json")}))
			return steps
		},
	},
	{
		name: "sesv2",
		want: []step{
			{"send from unverified sender", "MessageRejected 400"},
			{"send", "ok"},
			// SES v1 answers InvalidParameterValue "Recipient count exceeds
			// 50."; SES v2 reports its invalid parameters as BadRequestException.
			{"send to 51 recipients", "BadRequestException 400"},
		},
		run: func(ctx context.Context, env conformanceEnv) []step {
			c := sesv2.NewFromConfig(env.cfg)
			in := &sesv2.SendEmailInput{
				FromEmailAddress: aws.String("alerts@conf.example.com"),
				Destination:      &sestypes.Destination{ToAddresses: []string{"security@conf.example.com"}},
				Content: &sestypes.EmailContent{Simple: &sestypes.Message{
					Subject: &sestypes.Content{Data: aws.String("Exposed key contained")},
					Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("Deactivated.")}},
				}},
			}
			send := func(in *sesv2.SendEmailInput) string {
				out, err := c.SendEmail(ctx, in)
				if err == nil && aws.ToString(out.MessageId) == "" {
					return "ok without MessageId"
				}
				return outcome(err)
			}
			steps := []step{{"send from unverified sender", send(in)}}
			if err := env.verifySender(ctx, "alerts@conf.example.com"); err != nil {
				return append(steps, step{"setup", outcome(err)})
			}
			steps = append(steps, step{"send", send(in)})
			many := *in
			many.Destination = &sestypes.Destination{}
			for i := range 51 {
				many.Destination.ToAddresses = append(many.Destination.ToAddresses, fmt.Sprintf("r%d@conf.example.com", i))
			}
			return append(steps, step{"send to 51 recipients", send(&many)})
		},
	},
}

func sameJSON(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return slices.Equal(ja, jb)
}
