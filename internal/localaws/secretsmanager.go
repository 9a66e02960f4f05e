package localaws

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Secrets Manager: JSON 1.1 with X-Amz-Target "secretsmanager.<Op>", the
// operations keywarden uses: CreateSecret, PutSecretValue, DescribeSecret,
// GetSecretValue, PutResourcePolicy and GetResourcePolicy, over secrets that
// hold a SecretString.
//
// A secret is named by its name, its full ARN, or its partial ARN (the ARN
// without the "-" and six random characters), in the region the request is
// signed for. Each value is a version; PutSecretValue moves AWSCURRENT to the
// new version and AWSPREVIOUS to the one that was current, as AWS does, and a
// version that loses both labels drops out of VersionIdsToStages.
//
// Simplifications, each deliberate: KMS is not emulated (KmsKeyId is kept and
// reported as given, never checked); nothing is ever deleted, not even the
// unlabelled versions AWS eventually removes; LastAccessedDate is not kept;
// BlockPublicPolicy refuses an Allow statement without a Condition whose
// Principal is or contains "*", or that uses NotPrincipal, where AWS runs its
// full policy analysis. Request parameters outside the emulated subset
// (SecretBinary, VersionStages, replication, …) are refused with an
// InvalidParameterException naming them, never silently ignored.
//
// Secret values never leave the emulator except in GetSecretValue answers and
// through SecretValueFor: no error message, call record or inspection result
// carries one.

const secretsManagerTargetPrefix = "secretsmanager."

// Secrets Manager's limits, from its API reference.
const (
	maxSecretNameLen      = 512
	maxSecretStringLen    = 65536
	maxSecretDescription  = 2048
	maxKmsKeyIDLen        = 2048
	maxResourcePolicyLen  = 20480
	minClientRequestToken = 32
	maxClientRequestToken = 64
	maxSecretTags         = 50
)

// Staging labels Secrets Manager moves by itself.
const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
)

// secretNamePattern is what a secret name may contain.
var secretNamePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)

// secretSuffixAlphabet is what the six random characters that end a secret's
// ARN are drawn from.
const secretSuffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func secretsManagerService() *service {
	return &service{
		name:           "secretsmanager",
		protocol:       jsonProtocol,
		targetPrefixes: []string{secretsManagerTargetPrefix},
		ops: map[string]operation{
			"CreateSecret":      {fn: (*Server).smCreateSecret},
			"PutSecretValue":    {fn: (*Server).smPutSecretValue},
			"DescribeSecret":    {fn: (*Server).smDescribeSecret},
			"GetSecretValue":    {fn: (*Server).smGetSecretValue},
			"PutResourcePolicy": {fn: (*Server).smPutResourcePolicy},
			"GetResourcePolicy": {fn: (*Server).smGetResourcePolicy},
		},
		throttleErr:     awsError{Code: "ThrottlingException", Message: "Rate exceeded", Status: http.StatusBadRequest},
		serverErr:       awsError{Code: "InternalServiceError", Message: "An error occurred on the server side.", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid.", Status: http.StatusBadRequest},
		badRequestCode:  "SerializationException",
		// Secrets Manager answers these with 400 (API reference, Common
		// Errors), where most services answer 403 and 404.
		errorStatus: map[string]int{"AccessDeniedException": http.StatusBadRequest, "ResourceNotFoundException": http.StatusBadRequest},
	}
}

type secretsState struct {
	secrets map[string]*smSecret // by region + "/" + name
}

func (st *secretsState) init() { st.secrets = map[string]*smSecret{} }

type smSecret struct {
	name, arn, region string
	description       string
	kmsKeyID          string // as given; empty for the default aws/secretsmanager key
	tags              []smTag
	policy            string // empty if none
	created           time.Time
	lastChanged       time.Time
	versions          map[string]*smVersion
	order             []string // version ids, oldest first
}

type smVersion struct {
	id      string
	value   string // the secret itself: never logged, never inspected but by SecretValueFor
	created time.Time
	stages  []string
}

type smTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func secretKey(region, name string) string { return region + "/" + name }

func smInvalidParameter(msg string) *awsError {
	return &awsError{Code: "InvalidParameterException", Message: msg, Status: http.StatusBadRequest}
}

func smValidation(msg string) *awsError {
	return &awsError{Code: "ValidationException", Message: msg, Status: http.StatusBadRequest}
}

func smNotFound(msg string) *awsError {
	return &awsError{Code: "ResourceNotFoundException", Message: msg, Status: http.StatusBadRequest}
}

func smExists(msg string) *awsError {
	return &awsError{Code: "ResourceExistsException", Message: msg, Status: http.StatusBadRequest}
}

// smDecode decodes a request into v after checking that it names only the
// parameters localaws emulates for the operation.
func smDecode(req *request, allowed []string, v any) *awsError {
	var fields map[string]json.RawMessage
	if aerr := decodeJSON(req.svc, req.body, &fields); aerr != nil {
		return aerr
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if !slices.Contains(allowed, name) {
			return smInvalidParameter(fmt.Sprintf("localaws does not support parameter %s of %s", name, req.op))
		}
	}
	return decodeJSON(req.svc, req.body, v)
}

// lookupSecret finds the secret id names (a name, an ARN or a partial ARN)
// in the request's region. Callers hold s.mu.
func (s *Server) lookupSecret(req *request, id string) (*smSecret, *awsError) {
	if id == "" {
		return nil, smValidation("1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null")
	}
	region := s.requestRegion(req)
	if !strings.HasPrefix(id, "arn:") {
		if sec, ok := s.secrets.secrets[secretKey(region, id)]; ok {
			return sec, nil
		}
		return nil, smNotFound("Secrets Manager can't find the specified secret.")
	}
	for _, sec := range s.secrets.secrets {
		if sec.region != region {
			continue
		}
		// A partial ARN is the full one without "-" and the six-character suffix.
		if id == sec.arn || id == sec.arn[:len(sec.arn)-7] {
			return sec, nil
		}
	}
	return nil, smNotFound("Secrets Manager can't find the specified secret.")
}

// checkClientRequestToken checks a ClientRequestToken's length. The SDKs
// always send one; without one, localaws makes a UUID up, as an SDK would.
func checkClientRequestToken(token *string) *awsError {
	if token == nil {
		return nil
	}
	if n := utf8.RuneCountInString(*token); n < minClientRequestToken || n > maxClientRequestToken {
		return smValidation(fmt.Sprintf("1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between %d and %d", minClientRequestToken, maxClientRequestToken))
	}
	return nil
}

// checkSecretString checks a secret value's size; the message never
// repeats the value.
func checkSecretString(v *string) *awsError {
	if v != nil && len(*v) > maxSecretStringLen {
		return smValidation(fmt.Sprintf("1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to %d", maxSecretStringLen))
	}
	return nil
}

// newSecretSuffix draws the six characters that end a secret's ARN. Callers
// hold s.mu.
func (s *Server) newSecretSuffix() string {
	b := make([]byte, 6)
	for i := range b {
		b[i] = secretSuffixAlphabet[s.idRand.IntN(len(secretSuffixAlphabet))]
	}
	return string(b)
}

// current is the version labelled AWSCURRENT, or nil if the secret has no
// value yet.
func (sec *smSecret) current() *smVersion {
	return sec.withStage(stageCurrent)
}

func (sec *smSecret) withStage(stage string) *smVersion {
	for _, id := range sec.order {
		if v := sec.versions[id]; slices.Contains(v.stages, stage) {
			return v
		}
	}
	return nil
}

// addVersion stores value as a new version and makes it AWSCURRENT; the
// version that was current becomes AWSPREVIOUS, and whichever version held
// AWSPREVIOUS loses it.
func (sec *smSecret) addVersion(id, value string, now time.Time) *smVersion {
	if old := sec.current(); old != nil {
		for _, v := range sec.versions {
			v.stages = slices.DeleteFunc(v.stages, func(l string) bool { return l == stagePrevious })
		}
		old.stages = slices.DeleteFunc(old.stages, func(l string) bool { return l == stageCurrent })
		old.stages = append(old.stages, stagePrevious)
	}
	v := &smVersion{id: id, value: value, created: now, stages: []string{stageCurrent}}
	sec.versions[id] = v
	sec.order = append(sec.order, id)
	sec.lastChanged = now
	return v
}

// versionIDsToStages maps each version that carries a staging label to its
// labels, as DescribeSecret lists them.
func (sec *smSecret) versionIDsToStages() map[string][]string {
	out := map[string][]string{}
	for _, id := range sec.order {
		if v := sec.versions[id]; len(v.stages) > 0 {
			out[id] = slices.Clone(v.stages)
		}
	}
	return out
}

func epochSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// --- CreateSecret ---

type smCreateSecretOutput struct {
	ARN       string `json:"ARN"`
	Name      string `json:"Name"`
	VersionID string `json:"VersionId,omitempty"`
}

func (s *Server) smCreateSecret(req *request) (any, *awsError) {
	var in struct {
		Name                        string
		SecretString                *string
		KmsKeyId                    string
		Description                 string
		Tags                        []smTag
		ClientRequestToken          *string
		ForceOverwriteReplicaSecret bool
	}
	allowed := []string{"Name", "SecretString", "KmsKeyId", "Description", "Tags", "ClientRequestToken", "ForceOverwriteReplicaSecret"}
	if aerr := smDecode(req, allowed, &in); aerr != nil {
		return nil, aerr
	}
	switch {
	case in.Name == "":
		return nil, smValidation("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	case utf8.RuneCountInString(in.Name) > maxSecretNameLen:
		return nil, smValidation(fmt.Sprintf("1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length less than or equal to %d", maxSecretNameLen))
	case !secretNamePattern.MatchString(in.Name):
		return nil, smInvalidParameter("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	case utf8.RuneCountInString(in.Description) > maxSecretDescription:
		return nil, smValidation(fmt.Sprintf("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", maxSecretDescription))
	case len(in.KmsKeyId) > maxKmsKeyIDLen:
		return nil, smValidation(fmt.Sprintf("1 validation error detected: Value at 'kmsKeyId' failed to satisfy constraint: Member must have length less than or equal to %d", maxKmsKeyIDLen))
	case len(in.Tags) > maxSecretTags:
		return nil, smValidation(fmt.Sprintf("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", maxSecretTags))
	}
	for _, tg := range in.Tags {
		if tg.Key == "" {
			return nil, smInvalidParameter("A tag key can't be empty.")
		}
	}
	if aerr := checkClientRequestToken(in.ClientRequestToken); aerr != nil {
		return nil, aerr
	}
	if aerr := checkSecretString(in.SecretString); aerr != nil {
		return nil, aerr
	}

	region := s.requestRegion(req)
	if sec, exists := s.secrets.secrets[secretKey(region, in.Name)]; exists {
		// A retry with the token and value of a version the secret already
		// has is the same request again; anything else is a second secret.
		if in.ClientRequestToken != nil {
			if v, ok := sec.versions[*in.ClientRequestToken]; ok {
				if in.SecretString != nil && v.value == *in.SecretString {
					return &smCreateSecretOutput{ARN: sec.arn, Name: sec.name, VersionID: v.id}, nil
				}
				return nil, smExists(fmt.Sprintf("You can't use ClientRequestToken %s because that value is already in use for a version of secret %s.", v.id, sec.arn))
			}
		}
		return nil, smExists(fmt.Sprintf("The operation failed because the secret %s already exists.", in.Name))
	}

	now := s.now()
	sec := &smSecret{
		name:        in.Name,
		arn:         fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", region, s.account, in.Name, s.newSecretSuffix()),
		region:      region,
		description: in.Description,
		kmsKeyID:    in.KmsKeyId,
		tags:        slices.Clone(in.Tags),
		created:     now,
		lastChanged: now,
		versions:    map[string]*smVersion{},
	}
	s.secrets.secrets[secretKey(region, in.Name)] = sec
	out := &smCreateSecretOutput{ARN: sec.arn, Name: sec.name}
	if in.SecretString != nil {
		id := s.newUUID()
		if in.ClientRequestToken != nil {
			id = *in.ClientRequestToken
		}
		out.VersionID = sec.addVersion(id, *in.SecretString, now).id
	}
	return out, nil
}

// --- PutSecretValue ---

type smPutSecretValueOutput struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionID     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages"`
}

func (s *Server) smPutSecretValue(req *request) (any, *awsError) {
	var in struct {
		SecretId           string
		SecretString       *string
		ClientRequestToken *string
	}
	if aerr := smDecode(req, []string{"SecretId", "SecretString", "ClientRequestToken"}, &in); aerr != nil {
		return nil, aerr
	}
	if aerr := checkClientRequestToken(in.ClientRequestToken); aerr != nil {
		return nil, aerr
	}
	if aerr := checkSecretString(in.SecretString); aerr != nil {
		return nil, aerr
	}
	sec, aerr := s.lookupSecret(req, in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	if in.SecretString == nil {
		return nil, smInvalidParameter("You must provide either SecretString or SecretBinary.")
	}
	id := ""
	if in.ClientRequestToken != nil {
		id = *in.ClientRequestToken
		if v, ok := sec.versions[id]; ok {
			// The same token with the same value is a retry: answer as the
			// first time, changing nothing. A different value would
			// rewrite a version, which Secrets Manager never does.
			if v.value != *in.SecretString {
				return nil, smExists(fmt.Sprintf("You can't use ClientRequestToken %s because that value is already in use for a version of secret %s.", id, sec.arn))
			}
			return &smPutSecretValueOutput{ARN: sec.arn, Name: sec.name, VersionID: v.id, VersionStages: slices.Clone(v.stages)}, nil
		}
	} else {
		id = s.newUUID()
	}
	v := sec.addVersion(id, *in.SecretString, s.now())
	return &smPutSecretValueOutput{ARN: sec.arn, Name: sec.name, VersionID: v.id, VersionStages: slices.Clone(v.stages)}, nil
}

// --- DescribeSecret ---

type smDescribeSecretOutput struct {
	ARN                string              `json:"ARN"`
	Name               string              `json:"Name"`
	Description        string              `json:"Description,omitempty"`
	KmsKeyID           string              `json:"KmsKeyId,omitempty"`
	Tags               []smTag             `json:"Tags,omitempty"`
	CreatedDate        float64             `json:"CreatedDate"`
	LastChangedDate    float64             `json:"LastChangedDate"`
	VersionIDsToStages map[string][]string `json:"VersionIdsToStages,omitempty"`
}

func (s *Server) smDescribeSecret(req *request) (any, *awsError) {
	var in struct{ SecretId string }
	if aerr := smDecode(req, []string{"SecretId"}, &in); aerr != nil {
		return nil, aerr
	}
	sec, aerr := s.lookupSecret(req, in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	return &smDescribeSecretOutput{
		ARN:                sec.arn,
		Name:               sec.name,
		Description:        sec.description,
		KmsKeyID:           sec.kmsKeyID,
		Tags:               slices.Clone(sec.tags),
		CreatedDate:        epochSeconds(sec.created),
		LastChangedDate:    epochSeconds(sec.lastChanged),
		VersionIDsToStages: sec.versionIDsToStages(),
	}, nil
}

// --- GetSecretValue ---

type smGetSecretValueOutput struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	SecretString  string   `json:"SecretString"`
	VersionID     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages"`
	CreatedDate   float64  `json:"CreatedDate"`
}

func (s *Server) smGetSecretValue(req *request) (any, *awsError) {
	var in struct {
		SecretId     string
		VersionId    string
		VersionStage string
	}
	if aerr := smDecode(req, []string{"SecretId", "VersionId", "VersionStage"}, &in); aerr != nil {
		return nil, aerr
	}
	sec, aerr := s.lookupSecret(req, in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	var v *smVersion
	switch {
	case in.VersionId != "":
		v = sec.versions[in.VersionId]
		if v == nil {
			return nil, smNotFound("Secrets Manager can't find the specified secret value for VersionId: " + in.VersionId)
		}
		if in.VersionStage != "" && !slices.Contains(v.stages, in.VersionStage) {
			return nil, &awsError{Code: "InvalidRequestException", Message: "You provided a VersionStage that is not associated to the provided VersionId.", Status: http.StatusBadRequest}
		}
	default:
		stage := in.VersionStage
		if stage == "" {
			stage = stageCurrent
		}
		if v = sec.withStage(stage); v == nil {
			return nil, smNotFound("Secrets Manager can't find the specified secret value for staging label: " + stage)
		}
	}
	return &smGetSecretValueOutput{
		ARN:           sec.arn,
		Name:          sec.name,
		SecretString:  v.value,
		VersionID:     v.id,
		VersionStages: slices.Clone(v.stages),
		CreatedDate:   epochSeconds(v.created),
	}, nil
}

// --- PutResourcePolicy, GetResourcePolicy ---

type smSecretRef struct {
	ARN  string `json:"ARN"`
	Name string `json:"Name"`
}

type smGetResourcePolicyOutput struct {
	ARN            string `json:"ARN"`
	Name           string `json:"Name"`
	ResourcePolicy string `json:"ResourcePolicy,omitempty"`
}

func (s *Server) smPutResourcePolicy(req *request) (any, *awsError) {
	var in struct {
		SecretId          string
		ResourcePolicy    string
		BlockPublicPolicy bool
	}
	if aerr := smDecode(req, []string{"SecretId", "ResourcePolicy", "BlockPublicPolicy"}, &in); aerr != nil {
		return nil, aerr
	}
	switch n := utf8.RuneCountInString(in.ResourcePolicy); {
	case n == 0:
		return nil, smValidation("1 validation error detected: Value null at 'resourcePolicy' failed to satisfy constraint: Member must not be null")
	case n > maxResourcePolicyLen:
		return nil, smValidation(fmt.Sprintf("1 validation error detected: Value at 'resourcePolicy' failed to satisfy constraint: Member must have length less than or equal to %d", maxResourcePolicyLen))
	}
	sec, aerr := s.lookupSecret(req, in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	statements, aerr := policyStatements(in.ResourcePolicy)
	if aerr != nil {
		return nil, aerr
	}
	if in.BlockPublicPolicy && grantsPublicAccess(statements) {
		return nil, &awsError{Code: "PublicPolicyException", Message: "The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent broad access to the secret.", Status: http.StatusBadRequest}
	}
	sec.policy = in.ResourcePolicy
	sec.lastChanged = s.now()
	return &smSecretRef{ARN: sec.arn, Name: sec.name}, nil
}

func (s *Server) smGetResourcePolicy(req *request) (any, *awsError) {
	var in struct{ SecretId string }
	if aerr := smDecode(req, []string{"SecretId"}, &in); aerr != nil {
		return nil, aerr
	}
	sec, aerr := s.lookupSecret(req, in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	return &smGetResourcePolicyOutput{ARN: sec.arn, Name: sec.name, ResourcePolicy: sec.policy}, nil
}

// policyStatements parses a resource policy far enough to know it is a
// policy: a JSON object with a Statement that is an object or a non-empty
// list of objects.
func policyStatements(doc string) ([]map[string]json.RawMessage, *awsError) {
	malformed := func(why string) *awsError {
		return &awsError{Code: "MalformedPolicyDocumentException", Message: "The resource policy has syntax errors: " + why, Status: http.StatusBadRequest}
	}
	var policy map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &policy); err != nil || policy == nil {
		return nil, malformed("it is not a JSON object")
	}
	raw, ok := policy["Statement"]
	if !ok {
		return nil, malformed("it has no Statement")
	}
	var one map[string]json.RawMessage
	if json.Unmarshal(raw, &one) == nil && one != nil {
		return []map[string]json.RawMessage{one}, nil
	}
	var list []map[string]json.RawMessage
	if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
		return nil, malformed("Statement must be an object or a non-empty list of objects")
	}
	for _, st := range list {
		if st == nil {
			return nil, malformed("Statement must be an object or a non-empty list of objects")
		}
	}
	return list, nil
}

// grantsPublicAccess reports whether a statement allows anyone: an Allow
// without a Condition whose Principal is or contains "*", or that names
// its principals by NotPrincipal.
func grantsPublicAccess(statements []map[string]json.RawMessage) bool {
	for _, st := range statements {
		var effect string
		if json.Unmarshal(st["Effect"], &effect) != nil || effect != "Allow" {
			continue
		}
		if _, conditional := st["Condition"]; conditional {
			continue
		}
		if _, ok := st["NotPrincipal"]; ok {
			return true
		}
		if principalHasWildcard(st["Principal"]) {
			return true
		}
	}
	return false
}

// principalHasWildcard: "*", or {"AWS": "*"}, or {"AWS": [..., "*", ...]}.
func principalHasWildcard(raw json.RawMessage) bool {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == "*"
	}
	var byType map[string]json.RawMessage
	if json.Unmarshal(raw, &byType) != nil {
		return false
	}
	for _, v := range byType {
		var one string
		if json.Unmarshal(v, &one) == nil && one == "*" {
			return true
		}
		var many []string
		if json.Unmarshal(v, &many) == nil && slices.Contains(many, "*") {
			return true
		}
	}
	return false
}

// --- inspection ---

// SecretState is what the emulator knows of a Secrets Manager secret,
// without its value.
type SecretState struct {
	Name             string
	ARN              string
	KmsKeyID         string // as given to CreateSecret; empty for the default key, aws/secretsmanager
	Description      string
	Tags             map[string]string
	ResourcePolicy   string // as given to PutResourcePolicy; empty if none
	CurrentVersionID string // the version labelled AWSCURRENT; empty while the secret has no value
	// VersionStages maps each version that carries a staging label to its
	// labels, as DescribeSecret's VersionIdsToStages.
	VersionStages map[string][]string
	Created       time.Time
	LastChanged   time.Time
}

// Secret returns the state of secret name in the server's region, without
// its value.
func (s *Server) Secret(name string) (SecretState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets.secrets[secretKey(s.region, name)]
	if !ok {
		return SecretState{}, false
	}
	st := SecretState{
		Name:           sec.name,
		ARN:            sec.arn,
		KmsKeyID:       sec.kmsKeyID,
		Description:    sec.description,
		Tags:           make(map[string]string, len(sec.tags)),
		ResourcePolicy: sec.policy,
		VersionStages:  sec.versionIDsToStages(),
		Created:        sec.created,
		LastChanged:    sec.lastChanged,
	}
	for _, tg := range sec.tags {
		st.Tags[tg.Key] = tg.Value
	}
	if v := sec.current(); v != nil {
		st.CurrentVersionID = v.id
	}
	return st, true
}

// SecretValueFor returns the current (AWSCURRENT) value of secret name in
// the server's region. It exists only for the test that proves secrets never
// reach logs, alerts or outputs, and for asserting that the stored secret
// holds the right key; nothing else should call it.
func (s *Server) SecretValueFor(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets.secrets[secretKey(s.region, name)]
	if !ok {
		return "", false
	}
	v := sec.current()
	if v == nil {
		return "", false
	}
	return v.value, true
}
