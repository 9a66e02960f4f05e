package localaws

import (
	"bytes"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"
)

const maxSESRecipients = 50

const sesIdentitiesPath = "/v2/email/identities/"

type sesState struct {
	// identities are addresses and domains, lower case, each verified
	// (true) or still pending verification (false).
	identities map[string]bool
	emails     []Email
	account    SESAccount
}

func (st *sesState) init() {
	st.identities = map[string]bool{}
	st.account = SESAccount{ProductionAccess: true, SendingEnabled: true}
}

// SESAccount is the account-level SES state GetAccount reports. A new
// Server's account is out of the sandbox with sending enabled, so drills
// can mail anyone; SendEmail does not enforce the sandbox either way.
type SESAccount struct {
	// ProductionAccess false is the sandbox: in AWS, mail only to
	// verified recipients, 200 a day.
	ProductionAccess bool
	// SendingEnabled false is an account whose sending AWS or its owner
	// paused.
	SendingEnabled bool
}

// SetSESAccount sets what GetAccount reports.
func (s *Server) SetSESAccount(a SESAccount) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ses.account = a
}

// AddEmailIdentity adds an address or domain identity that is verified
// or, with verified false, still pending verification (SendEmail refuses
// it, GetEmailIdentity says PENDING).
func (s *Server) AddEmailIdentity(identity string, verified bool) error {
	identity = strings.ToLower(strings.TrimSpace(identity))
	if identity == "" || strings.ContainsAny(identity, " <>/") {
		return fmt.Errorf("localaws: SES identity %q: want an address or a domain", identity)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ses.identities[identity] = verified
	return nil
}

// Email is a message sent with SES v2 SendEmail, for inspection.
type Email struct {
	MessageID        string
	From             string
	To, Cc, Bcc      []string
	ReplyTo          []string
	Subject          string
	Text             string
	HTML             string
	Raw              []byte // set for raw messages instead of Subject/Text/HTML
	Tags             map[string]string
	ConfigurationSet string
	Time             time.Time
}

// VerifyEmailIdentity marks an address ("alerts@example.com") or a domain
// ("example.com") as verified, as a drill's account would have it. Like
// SES, SendEmail refuses senders that are not verified.
func (s *Server) VerifyEmailIdentity(identity string) error {
	identity = strings.ToLower(strings.TrimSpace(identity))
	if identity == "" || strings.ContainsAny(identity, " <>") {
		return fmt.Errorf("localaws: SES identity %q: want an address or a domain", identity)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ses.identities[identity] = true
	return nil
}

func sesService() *service {
	return &service{
		name:     "ses",
		protocol: restProtocol,
		route: func(r *http.Request) string {
			path := strings.TrimSuffix(r.URL.Path, "/")
			switch {
			case r.Method == http.MethodPost && path == "/v2/email/outbound-emails":
				return "SendEmail"
			case r.Method == http.MethodGet && path == "/v2/email/account":
				return "GetAccount"
			case r.Method == http.MethodGet && strings.HasPrefix(path, sesIdentitiesPath) && len(path) > len(sesIdentitiesPath):
				return "GetEmailIdentity"
			}
			return ""
		},
		ops: map[string]operation{
			"SendEmail":        {fn: (*Server).sesSendEmail},
			"GetAccount":       {fn: (*Server).sesGetAccount},
			"GetEmailIdentity": {fn: (*Server).sesGetEmailIdentity},
		},
		throttleErr:     awsError{Code: "TooManyRequestsException", Message: "Maximum sending rate exceeded.", Status: http.StatusTooManyRequests},
		serverErr:       awsError{Code: "InternalFailure", Message: "An internal error occurred.", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden},
		badRequestCode:  "BadRequestException",
	}
}

type sesContent struct {
	Data    string
	Charset string
}

type sendEmailInput struct {
	FromEmailAddress string
	Destination      *struct {
		ToAddresses  []string
		CcAddresses  []string
		BccAddresses []string
	}
	ReplyToAddresses []string
	Content          *struct {
		Simple *struct {
			Subject *sesContent
			Body    *struct {
				Text *sesContent
				Html *sesContent //nolint:revive // the wire name
			}
		}
		Raw *struct {
			Data []byte // base64 on the wire
		}
		Template *struct {
			TemplateName string
			TemplateArn  string
		}
	}
	EmailTags []struct {
		Name  string
		Value string
	}
	ConfigurationSetName string
}

type sendEmailOutput struct {
	MessageID string `json:"MessageId"`
}

func sesBadRequest(msg string) *awsError {
	return &awsError{Code: "BadRequestException", Message: msg, Status: http.StatusBadRequest}
}

// sesSendEmail accepts simple and raw messages from verified senders and
// records them for Emails.
func (s *Server) sesSendEmail(req *request) (any, *awsError) {
	var in sendEmailInput
	if aerr := decodeJSON(req.svc, req.body, &in); aerr != nil {
		return nil, aerr
	}
	if in.Content == nil {
		return nil, sesBadRequest("Content is required.")
	}
	email := Email{From: in.FromEmailAddress, ReplyTo: in.ReplyToAddresses, ConfigurationSet: in.ConfigurationSetName}
	if in.Destination != nil {
		email.To, email.Cc, email.Bcc = in.Destination.ToAddresses, in.Destination.CcAddresses, in.Destination.BccAddresses
	}
	c := in.Content
	switch {
	case countSet(c.Simple != nil, c.Raw != nil, c.Template != nil) != 1:
		return nil, sesBadRequest("Content must contain exactly one of Simple, Raw or Template.")
	case c.Template != nil:
		name := c.Template.TemplateName
		if name == "" {
			name = c.Template.TemplateArn
		}
		return nil, &awsError{Code: "NotFoundException", Message: fmt.Sprintf("Template %s does not exist.", name), Status: http.StatusNotFound}
	case c.Simple != nil:
		if c.Simple.Subject == nil || c.Simple.Body == nil {
			return nil, sesBadRequest("Simple content requires Subject and Body.")
		}
		if c.Simple.Body.Text == nil && c.Simple.Body.Html == nil {
			return nil, sesBadRequest("Body must contain Text or Html.")
		}
		email.Subject = c.Simple.Subject.Data
		if c.Simple.Body.Text != nil {
			email.Text = c.Simple.Body.Text.Data
		}
		if c.Simple.Body.Html != nil {
			email.HTML = c.Simple.Body.Html.Data
		}
	case c.Raw != nil:
		if len(c.Raw.Data) == 0 {
			return nil, sesBadRequest("Raw message data is required.")
		}
		email.Raw = c.Raw.Data
		if msg, err := mail.ReadMessage(bytes.NewReader(c.Raw.Data)); err == nil {
			if email.From == "" {
				email.From = msg.Header.Get("From")
			}
			if in.Destination == nil {
				email.To = splitAddressList(msg.Header.Get("To"))
				email.Cc = splitAddressList(msg.Header.Get("Cc"))
			}
		}
	}
	if email.From == "" {
		return nil, sesBadRequest("Missing required parameter FromEmailAddress.")
	}
	from, err := mail.ParseAddress(email.From)
	if err != nil {
		return nil, sesBadRequest(fmt.Sprintf("Invalid sender address %q: %v", email.From, err))
	}
	recipients := append(append(append([]string(nil), email.To...), email.Cc...), email.Bcc...)
	if len(recipients) == 0 {
		return nil, sesBadRequest("The message must have at least one recipient.")
	}
	if len(recipients) > maxSESRecipients {
		return nil, sesBadRequest(fmt.Sprintf("Recipient count exceeds %d.", maxSESRecipients))
	}
	for _, r := range append(recipients, email.ReplyTo...) {
		if _, err := mail.ParseAddress(r); err != nil {
			return nil, sesBadRequest(fmt.Sprintf("Invalid address %q: %v", r, err))
		}
	}
	if !s.sesVerified(from.Address) {
		return nil, &awsError{
			Code:    "MessageRejected",
			Message: fmt.Sprintf("Email address is not verified. The following identities failed the check in region %s: %s", strings.ToUpper(s.region), from.Address),
			Status:  http.StatusBadRequest,
		}
	}
	if len(in.EmailTags) > 0 {
		email.Tags = map[string]string{}
		for _, t := range in.EmailTags {
			email.Tags[t.Name] = t.Value
		}
	}
	email.MessageID = s.newUUID()
	email.Time = s.now()
	s.ses.emails = append(s.ses.emails, email)
	return &sendEmailOutput{MessageID: email.MessageID}, nil
}

// sesVerified reports whether addr or its domain is a verified identity.
// Callers hold s.mu.
func (s *Server) sesVerified(addr string) bool {
	addr = strings.ToLower(addr)
	_, domain, _ := strings.Cut(addr, "@")
	return s.ses.identities[addr] || s.ses.identities[domain]
}

func splitAddressList(h string) []string {
	if h == "" {
		return nil
	}
	list, err := mail.ParseAddressList(h)
	if err != nil {
		return []string{h}
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, a.String())
	}
	return out
}

func countSet(flags ...bool) int {
	n := 0
	for _, f := range flags {
		if f {
			n++
		}
	}
	return n
}

type sesSendQuota struct {
	Max24HourSend   float64
	MaxSendRate     float64
	SentLast24Hours float64
}

type sesGetAccountOutput struct {
	DedicatedIpAutoWarmupEnabled bool //nolint:revive // the wire name
	EnforcementStatus            string
	ProductionAccessEnabled      bool
	SendingEnabled               bool
	SendQuota                    sesSendQuota
}

// sesGetAccount reports the account's sandbox and sending state, with
// the quotas AWS gives a sandbox or a production account by default.
func (s *Server) sesGetAccount(*request) (any, *awsError) {
	a := s.ses.account
	quota := sesSendQuota{Max24HourSend: 200, MaxSendRate: 1}
	if a.ProductionAccess {
		quota = sesSendQuota{Max24HourSend: 50000, MaxSendRate: 14}
	}
	since := s.now().Add(-24 * time.Hour)
	for _, e := range s.ses.emails {
		if e.Time.After(since) {
			quota.SentLast24Hours += float64(len(e.To) + len(e.Cc) + len(e.Bcc))
		}
	}
	return &sesGetAccountOutput{
		EnforcementStatus: "HEALTHY", ProductionAccessEnabled: a.ProductionAccess, SendingEnabled: a.SendingEnabled, SendQuota: quota,
	}, nil
}

type sesDkim struct {
	SigningEnabled          bool
	Status                  string
	SigningAttributesOrigin string
}

type sesGetEmailIdentityOutput struct {
	IdentityType             string
	FeedbackForwardingStatus bool
	VerifiedForSendingStatus bool
	VerificationStatus       string
	DkimAttributes           sesDkim
	Policies                 map[string]string
	Tags                     []struct{}
}

// sesGetEmailIdentity describes an address or domain identity.
func (s *Server) sesGetEmailIdentity(req *request) (any, *awsError) {
	id := strings.TrimSuffix(strings.TrimPrefix(req.http.URL.Path, sesIdentitiesPath), "/")
	verified, ok := s.ses.identities[strings.ToLower(id)]
	if !ok {
		return nil, &awsError{Code: "NotFoundException", Message: fmt.Sprintf("Email identity %s does not exist.", id), Status: http.StatusNotFound}
	}
	out := &sesGetEmailIdentityOutput{
		IdentityType: "DOMAIN", FeedbackForwardingStatus: true, VerifiedForSendingStatus: verified, VerificationStatus: "PENDING",
		DkimAttributes: sesDkim{Status: "NOT_STARTED", SigningAttributesOrigin: "AWS_SES"}, Policies: map[string]string{}, Tags: []struct{}{},
	}
	if strings.Contains(id, "@") {
		out.IdentityType = "EMAIL_ADDRESS"
	}
	if verified {
		out.VerificationStatus = "SUCCESS"
	}
	return out, nil
}
