package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// checkSubscriptions: an alert topic nobody confirmed sends every alert
// nowhere.
func checkSubscriptions(ctx context.Context, client SNS, s *stack, region string) Result {
	r := Result{ID: "alert-subscriptions", Title: "Alert topic subscriptions"}
	topic := s.output(outAlertTopic)
	if topic == "" {
		return notChecked(r.ID, r.Title, outAlertTopic)
	}
	var confirmed, pending []string
	in := &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)}
	for {
		out, err := client.ListSubscriptionsByTopic(ctx, in)
		if err != nil {
			return callFailed(r.ID, r.Title, "sns:ListSubscriptionsByTopic", err)
		}
		for _, sub := range out.Subscriptions {
			name := aws.ToString(sub.Protocol) + " " + safeEndpoint(aws.ToString(sub.Protocol), aws.ToString(sub.Endpoint))
			if arn := aws.ToString(sub.SubscriptionArn); arn == "PendingConfirmation" || arn == "" {
				pending = append(pending, name)
			} else {
				confirmed = append(confirmed, name)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	subscribe := fmt.Sprintf("aws sns subscribe --region %s --topic-arn %s --protocol email --notification-endpoint security-team@example.com", region, topic)
	switch {
	case len(confirmed) == 0 && len(pending) == 0:
		r.Status, r.Detail = Fail, "no subscription: every alert goes nowhere"
		r.Fix = "subscribe the security team, then confirm from the e-mail: " + subscribe
	case len(confirmed) == 0:
		r.Status = Fail
		r.Detail = "no confirmed subscription: every alert goes nowhere; pending: " + strings.Join(pending, ", ")
		r.Fix = "confirm the pending subscriptions from their e-mails (the link expires after 3 days; subscribe again if it did: " + subscribe + ")"
	case len(pending) > 0:
		r.Status = Warn
		r.Detail = fmt.Sprintf("%d confirmed (%s); pending: %s", len(confirmed), strings.Join(confirmed, ", "), strings.Join(pending, ", "))
		r.Fix = "confirm the pending subscriptions from their e-mails, or remove them"
	default:
		r.Status, r.Detail = Pass, fmt.Sprintf("%d confirmed: %s", len(confirmed), strings.Join(confirmed, ", "))
	}
	return r
}

// safeEndpoint names a subscription's endpoint without what may be a
// secret: a webhook URL's path and query often carry a token.
func safeEndpoint(protocol, endpoint string) string {
	switch protocol {
	case "http", "https":
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" {
			return "(an URL)"
		}
		return u.Scheme + "://" + u.Host + "/…"
	case "sms":
		if len(endpoint) > 4 {
			return strings.Repeat("*", len(endpoint)-4) + endpoint[len(endpoint)-4:]
		}
	}
	return endpoint
}

func sesConsole(region, fragment string) string {
	return fmt.Sprintf("https://%s.console.aws.amazon.com/ses/home?region=%s#/%s", region, region, fragment)
}

func hasSender(sender string) bool { return sender != "" && sender != noNoticeSender }

// checkSESSender: notices from an identity that is not verified bounce.
func checkSESSender(ctx context.Context, client SES, sender, region string) Result {
	r := Result{ID: "ses-sender", Title: "SES notice sender"}
	if sender == "" {
		return notChecked(r.ID, r.Title, outNoticeSender)
	}
	if !hasSender(sender) {
		r.Status, r.Detail = Pass, "no noticeSender: owner notices go to the alert topic, SES is not used"
		return r
	}
	_, domain, _ := strings.Cut(sender, "@")
	for _, identity := range []string{sender, domain} {
		if identity == "" {
			continue
		}
		out, err := client.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String(identity)})
		var nf *sestypes.NotFoundException
		if errors.As(err, &nf) {
			continue
		}
		if err != nil {
			return callFailed(r.ID, r.Title, "ses:GetEmailIdentity", err)
		}
		if out.VerifiedForSendingStatus {
			r.Status, r.Detail = Pass, fmt.Sprintf("%s is verified (identity %s)", sender, identity)
			return r
		}
		r.Status = Fail
		r.Detail = fmt.Sprintf("identity %s is %s, not verified: every owner notice from %s is refused", identity, out.VerificationStatus, sender)
		r.Fix = "open the verification e-mail SES sent to " + identity + " (or publish its DNS records), or check " + sesConsole(region, "identities")
		return r
	}
	r.Status = Fail
	r.Detail = fmt.Sprintf("no SES identity for %s or its domain in %s: every owner notice is refused", sender, region)
	r.Fix = fmt.Sprintf("aws sesv2 create-email-identity --region %s --email-identity %s, then open the link SES e-mails", region, sender)
	return r
}

// checkSESAccount: a paused account sends nothing; a sandboxed one only to
// verified recipients.
func checkSESAccount(ctx context.Context, client SES, sender, region string) Result {
	r := Result{ID: "ses-account", Title: "SES account"}
	if sender == "" {
		return notChecked(r.ID, r.Title, outNoticeSender)
	}
	if !hasSender(sender) {
		r.Status, r.Detail = Pass, "not checked: no noticeSender, so keywarden sends no e-mail"
		return r
	}
	out, err := client.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return callFailed(r.ID, r.Title, "ses:GetAccount", err)
	}
	switch {
	case !out.SendingEnabled:
		r.Status, r.Detail = Fail, "sending is disabled for the account in "+region+": no notice is sent"
		r.Fix = fmt.Sprintf("find why in %s, then aws sesv2 put-account-sending-attributes --region %s --sending-enabled", sesConsole(region, "account"), region)
	case !out.ProductionAccessEnabled:
		r.Status = Warn
		r.Detail = "the account is in the SES sandbox: only verified recipients get owner notices"
		r.Fix = "request production access: " + sesConsole(region, "account") + " (or verify each owner's address)"
	default:
		r.Status, r.Detail = Pass, "sending is enabled, out of the sandbox"
	}
	return r
}
