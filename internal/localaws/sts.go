package localaws

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

func stsService() *service {
	return &service{
		name:     "sts",
		protocol: queryProtocol,
		xmlns:    stsNamespace,
		ops: map[string]operation{
			"GetCallerIdentity": {fn: (*Server).stsGetCallerIdentity},
			// AssumeRole locks the caller's and the target account in turn.
			"AssumeRole": {fn: (*Server).stsAssumeRole, unlocked: true},
		},
		throttleErr:     awsError{Code: "Throttling", Message: "Rate exceeded", Status: http.StatusBadRequest},
		serverErr:       awsError{Code: "InternalFailure", Message: "An internal error occurred.", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden},
		badRequestCode:  "ValidationError",
	}
}

type getCallerIdentityResult struct {
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
}

// stsGetCallerIdentity names the signer: the user owning the signing key if
// the emulator knows it, the assumed-role session for session credentials,
// else the account's root user.
func (s *Server) stsGetCallerIdentity(req *request) (any, *awsError) {
	return &getCallerIdentityResult{UserID: req.caller.userID, Account: s.account, Arn: req.caller.arn}, nil
}

// Role sessions.

// stsSession is a set of AssumeRole credentials, held by the account the
// role belongs to (where they act).
type stsSession struct {
	keyID, token   string
	roleName       string
	roleARN        string // with the role's path: the session's aws:PrincipalArn
	roleID         string
	sessionName    string
	arn            string // arn:aws:sts::<account>:assumed-role/<role>/<session>
	sourceIdentity string
	expires        time.Time
}

// chainLimit is role chaining's session cap: a session assumed with another
// role session's credentials lasts at most one hour.
const chainLimit = time.Hour

var (
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]*$`)
	externalIDPattern  = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
	roleARNForm        = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}):role(/|/[\x21-\x7E]+/)([\w+=,.@-]+)$`)
)

// authenticateSession admits a request signed with session credentials:
// the session token must be the one issued with the key, and the session
// must not have expired. Callers hold s.mu.
func (s *Server) authenticateSession(req *request, sess *stsSession) *awsError {
	if req.http.Header.Get("X-Amz-Security-Token") != sess.token {
		return req.svc.invalidToken()
	}
	if !s.now().Before(sess.expires) {
		code := "ExpiredToken"
		if req.svc.protocol != queryProtocol {
			code = "ExpiredTokenException"
		}
		return &awsError{Code: code, Message: "The security token included in the request is expired", Status: http.StatusForbidden}
	}
	req.caller = principal{userID: sess.roleID + ":" + sess.sessionName, arn: sess.arn, keyID: sess.keyID, session: sess}
	return nil
}

type assumeRoleResult struct {
	Credentials      xmlCredentials     `xml:"Credentials"`
	AssumedRoleUser  xmlAssumedRoleUser `xml:"AssumedRoleUser"`
	PackedPolicySize *int               `xml:"PackedPolicySize,omitempty"`
	SourceIdentity   string             `xml:"SourceIdentity,omitempty"`
}

type xmlCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type xmlAssumedRoleUser struct {
	AssumedRoleID string `xml:"AssumedRoleId"`
	Arn           string `xml:"Arn"`
}

// assumeRoleInput is AssumeRole's request, validated.
type assumeRoleInput struct {
	roleARN, roleAccount, rolePath, roleName string
	sessionName                              string
	duration                                 time.Duration
	durationGiven                            bool
	sourceIdentity, externalID               string
}

func parseAssumeRole(p queryParams) (assumeRoleInput, *awsError) {
	in := assumeRoleInput{
		roleARN: p.get("RoleArn"), sessionName: p.get("RoleSessionName"),
		sourceIdentity: p.get("SourceIdentity"), externalID: p.get("ExternalId"), duration: time.Hour,
	}
	if aerr := checkLength("roleArn", in.roleARN, 20, 2048, true); aerr != nil {
		return in, aerr
	}
	if aerr := checkLength("roleSessionName", in.sessionName, 2, 64, true); aerr != nil {
		return in, aerr
	}
	if !sessionNamePattern.MatchString(in.sessionName) {
		return in, validationError("roleSessionName", in.sessionName, `Member must satisfy regular expression pattern: [\w+=,.@-]*`)
	}
	if p.has("DurationSeconds") {
		v := p.get("DurationSeconds")
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return in, validationError("durationSeconds", v, "Member must be an integer")
		case n < 900:
			return in, validationError("durationSeconds", v, "Member must have value greater than or equal to 900")
		case n > 43200:
			return in, validationError("durationSeconds", v, "Member must have value less than or equal to 43200")
		}
		in.duration, in.durationGiven = time.Duration(n)*time.Second, true
	}
	if p.has("SourceIdentity") {
		if aerr := checkLength("sourceIdentity", in.sourceIdentity, 2, 64, false); aerr != nil {
			return in, aerr
		}
		if !sessionNamePattern.MatchString(in.sourceIdentity) {
			return in, validationError("sourceIdentity", in.sourceIdentity, `Member must satisfy regular expression pattern: [\w+=,.@-]*`)
		}
	}
	if p.has("ExternalId") {
		if aerr := checkLength("externalId", in.externalID, 2, 1224, false); aerr != nil {
			return in, aerr
		}
		if !externalIDPattern.MatchString(in.externalID) {
			return in, validationError("externalId", in.externalID, `Member must satisfy regular expression pattern: [\w+=,.@:\/-]*`)
		}
	}
	if p.has("Policy") || p.has("PolicyArns.member.1.arn") || p.has("Tags.member.1.Key") || p.has("TransitiveTagKeys.member.1") || p.has("SerialNumber") || p.has("ProvidedContexts.member.1.ProviderArn") {
		// Never silently ignore what would narrow or tag a session.
		return in, &awsError{Code: "ValidationError", Message: "localaws emulates AssumeRole without session policies, tags, MFA or provided contexts", Status: http.StatusBadRequest}
	}
	m := roleARNForm.FindStringSubmatch(in.roleARN)
	if m == nil {
		return in, &awsError{Code: "ValidationError", Message: fmt.Sprintf("%s is invalid", in.roleARN), Status: http.StatusBadRequest}
	}
	in.roleAccount, in.rolePath, in.roleName = m[1], m[2], m[3]
	return in, nil
}

func checkLength(field, v string, lo, hi int, required bool) *awsError {
	switch {
	case v == "" && required:
		return validationError(field, "", "Member must not be null")
	case len(v) < lo:
		return validationError(field, v, fmt.Sprintf("Member must have length greater than or equal to %d", lo))
	case len(v) > hi:
		return validationError(field, v, fmt.Sprintf("Member must have length less than or equal to %d", hi))
	}
	return nil
}

// stsAssumeRole issues credentials for a role of this or another account of
// the Organization when the role exists and its trust policy allows the
// caller. It runs without s.mu: it reads the caller's organization, then
// locks the role's account (which may be s).
func (s *Server) stsAssumeRole(req *request) (any, *awsError) {
	in, aerr := parseAssumeRole(req.params)
	if aerr != nil {
		return nil, aerr
	}
	caller := req.caller
	denied := func(action string) *awsError {
		return &awsError{
			Code:    "AccessDenied",
			Message: fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", caller.arn, action, in.roleARN),
			Status:  http.StatusForbidden,
		}
	}
	chained := caller.session != nil
	sourceIdentity := in.sourceIdentity
	if chained && caller.session.sourceIdentity != "" {
		// A source identity, once set, travels down the chain unchanged.
		if in.sourceIdentity != "" && in.sourceIdentity != caller.session.sourceIdentity {
			return nil, denied("sts:SetSourceIdentity")
		}
		sourceIdentity = caller.session.sourceIdentity
	}
	callerAccount := s.AccountID()
	ctx := trustContext{
		callerAccount:  callerAccount,
		principalARN:   caller.principalARN(),
		sourceIdentity: sourceIdentity,
		externalID:     in.externalID,
	}
	if s.org != nil {
		ctx.orgID = s.org.orgIDOf(callerAccount)
	}
	target := s.accountServer(in.roleAccount)
	if target == nil {
		return nil, denied("sts:AssumeRole")
	}

	target.mu.Lock()
	defer target.mu.Unlock()
	role := target.iam.roles[in.roleName]
	if role == nil || role.path != in.rolePath {
		return nil, denied("sts:AssumeRole")
	}
	if !role.trust.allows("sts:assumerole", ctx) {
		return nil, denied("sts:AssumeRole")
	}
	if sourceIdentity != "" && !role.trust.allows("sts:setsourceidentity", ctx) {
		return nil, denied("sts:SetSourceIdentity")
	}
	if in.duration > role.maxSession {
		return nil, &awsError{Code: "ValidationError", Message: "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.", Status: http.StatusBadRequest}
	}
	if chained && in.duration > chainLimit {
		return nil, &awsError{Code: "ValidationError", Message: "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.", Status: http.StatusBadRequest}
	}
	sess, secret, err := target.issueSession(role, in.sessionName, sourceIdentity, in.duration)
	if err != nil {
		return nil, req.svc.serverError(err.Error())
	}
	return &assumeRoleResult{
		Credentials: xmlCredentials{
			AccessKeyID: sess.keyID, SecretAccessKey: secret, SessionToken: sess.token, Expiration: iso8601(sess.expires),
		},
		AssumedRoleUser: xmlAssumedRoleUser{AssumedRoleID: role.id + ":" + in.sessionName, Arn: sess.arn},
		SourceIdentity:  sourceIdentity,
	}, nil
}

// issueSession starts a session of role in s and returns it with its
// secret. Callers hold s.mu.
func (s *Server) issueSession(role *iamRole, sessionName, sourceIdentity string, d time.Duration) (*stsSession, string, error) {
	secret, err := newSecretAccessKey()
	if err != nil {
		return nil, "", err
	}
	token, err := newSessionToken()
	if err != nil {
		return nil, "", err
	}
	sess := &stsSession{
		keyID: s.newSessionKeyID(), token: token,
		roleName: role.name, roleARN: s.roleARN(role), roleID: role.id,
		sessionName:    sessionName,
		arn:            "arn:aws:sts::" + s.account + ":assumed-role/" + role.name + "/" + sessionName,
		sourceIdentity: sourceIdentity,
		expires:        s.now().Add(d),
	}
	s.sessions[sess.keyID] = sess
	s.claimKeyID(sess.keyID)
	return sess, secret, nil
}

// accountServer is the account id's Server: s itself, or another account of
// s's Organization; nil when the emulator does not hold the account.
func (s *Server) accountServer(id string) *Server {
	if s.org != nil {
		return s.org.Account(id)
	}
	if id == s.account {
		return s
	}
	return nil
}

// newSessionKeyID returns an unused session key id shaped like AWS's: ASIA
// + 16. Callers hold s.mu.
func (s *Server) newSessionKeyID() string {
	for {
		id := s.newID("ASIA", 16)
		if _, taken := s.iam.keys[id]; !taken && s.keyIDFree(id) {
			return id
		}
	}
}

// newSessionToken is a random opaque token; like secrets, never from the
// seeded generator.
func newSessionToken() (string, error) {
	b := make([]byte, 96)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate session token: %w", err)
	}
	return "IQoJb3JpZ2luX2VjE" + strings.TrimRight(base64.StdEncoding.EncodeToString(b), "="), nil
}
