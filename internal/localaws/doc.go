// Package localaws is an in-process, stateful emulator of exactly the AWS
// operations keywarden calls, for tests and drills on machines that cannot
// reach AWS.
//
// It listens on one 127.0.0.1 port and speaks the real wire protocols, so the
// real aws-sdk-go-v2 clients reach it through their standard endpoint setting
// (BaseEndpoint, or AWS_ENDPOINT_URL) and exercise their own serializers,
// error deserializers and retryers:
//
//   - IAM and STS: query protocol, XML answers and XML errors.
//   - Organizations: JSON 1.1 (see "Several accounts" below).
//   - SNS: query protocol (CreateTopic, Publish).
//   - CloudTrail LookupEvents and EventBridge PutEvents: JSON 1.1.
//   - SES v2 SendEmail and Lambda Invoke: REST JSON.
//   - DynamoDB: JSON 1.0, served by minidyn (see "DynamoDB" below).
//   - Secrets Manager: JSON 1.1 (CreateSecret, PutSecretValue,
//     DescribeSecret, GetSecretValue, PutResourcePolicy, GetResourcePolicy)
//     over SecretString values, with AWSCURRENT and AWSPREVIOUS moved as AWS
//     moves them; see secretsmanager.go for what it leaves out.
//
// # What keywarden doctor reads
//
// The read-only calls of `keywarden doctor` (internal/doctor), each
// answering state a test seeds with a Go setter, since localaws deploys
// nothing itself:
//
//   - CloudFormation DescribeStacks and ListStackResources (query
//     protocol): AddStack registers a stack with its status, outputs and
//     resources. A missing stack is ValidationError "Stack with id X does
//     not exist", as in AWS.
//   - CloudFormation DescribeStackSet and ListStackInstances (query
//     protocol, with CallAs; stacksets.go): AddStackSet registers a
//     StackSet and its instances (CURRENT, OUTDATED or INOPERABLE, with a
//     reason). A StackSet created as DELEGATED_ADMIN is read back only as
//     DELEGATED_ADMIN, by a registered delegated administrator
//     (Organization.RegisterDelegatedAdministrator); others get
//     ValidationError "Account used is not a delegated administrator". A
//     missing one is StackSetNotFoundException (404).
//   - SNS ListSubscriptionsByTopic: AddSubscription, confirmed or pending
//     (listed with SubscriptionArn "PendingConfirmation").
//   - SES v2 GetAccount and GetEmailIdentity (REST JSON): SetSESAccount
//     (sandbox, sending enabled; a new Server is out of the sandbox with
//     sending enabled, and SendEmail enforces neither) and AddEmailIdentity
//     (verified or pending).
//   - CloudTrail DescribeTrails, GetTrailStatus, GetEventSelectors (JSON
//     1.1): AddTrail, with basic or advanced selectors (the default: all
//     management events), an organization trail or not. A single-region trail of another region is
//     unknown to the caller's region, a multi-region one is its shadow.
//   - EventBridge DescribeRule: rules added with AddRule, and DefineRule
//     for rules whose targets lie outside localaws (a schedule);
//     SetRuleEnabled disables either (a disabled AddRule rule then receives
//     no events). DescribeEventBus: the default bus and custom buses
//     (AddEventBus, with a resource policy), which DefineRule's and
//     AddBusRule's rules may be on. AddForwardRule adds a rule whose target
//     is a bus of this or another account of the Organization (the event is
//     delivered as it is, its account kept; refused unless the bus's policy
//     admits the sender's account), and DeliverEvent hands an AWS service's
//     event (which PutEvents refuses) to a bus's rules. PutEvents sends to
//     the account's own buses only.
//   - SQS GetQueueAttributes (JSON 1.0, query compatible: errors carry the
//     old code in X-Amzn-Query-Error, so a missing queue is
//     AWS.SimpleQueueService.NonExistentQueue to the SDK): AddQueue and
//     SetQueueDepth.
//   - Step Functions ListExecutions (JSON 1.0): AddStateMachine and
//     AddExecution record a history. The drill does not use it: its
//     executions run in internal/sfnlocal's interpreter.
//   - CloudWatch DescribeAlarms (Smithy RPC v2 CBOR, the protocol the
//     cloudwatch v1.76 client speaks, signing name "monitoring"): SetAlarm
//     sets an alarm's state; no metric is evaluated.
//
// conformance_doctor_test.go compares these with moto. moto 5.2.1 lacks
// CloudWatch's CBOR protocol (so DescribeAlarms is checked on localaws
// only) and SES v2 GetAccount; it answers no event selectors for a new
// trail (AWS answers the default one) and calls a verified identity not
// verified for sending.
//
// Requests are routed by the service name in the SigV4 credential scope of
// the Authorization header, then by X-Amz-Target, the form Action or the REST
// path. Signatures are not verified: any secret works. The access key id in
// the credential scope does matter: if it names a key the emulator knows, the
// caller is that key's user, the key's last-used data is updated, and an
// inactive or deleted key is rejected as AWS rejects it. Any other key id acts
// as the account's root user (on a Server of its own; an Organization refuses
// keys no account holds).
//
// Beyond the operations, a Server offers what tests and drills need: seeding
// from a fixture (LoadFixture, Seed), a settable clock (SetNow, Advance),
// reproducible fault injection (SetFault) and inspection of what happened
// (Calls, Published, Emails, AccessKeys, UserPolicies, Deliveries, Items,
// Secret). None of the inspection methods exposes a secret access key or a
// Secrets Manager secret value, and no call record holds a request body;
// SecretFor and SecretValueFor exist only for the test that proves secrets do
// not leak (and, for SecretValueFor, to check that a stored secret holds the
// right key).
//
// # Several accounts: Organization
//
// An Organization (organization.go) is several accounts behind one
// endpoint, for organization mode: one Server per account, each with its
// own state, faults and call log, created without a listener of its own.
// The Organization's listener routes every request by the access key id in
// its SigV4 credential to the account holding that key: each account's
// root key (RootAccessKeyID, which the account's SDKConfig and Env sign
// with), its users' keys (from fixtures or CreateAccessKey) and the session
// keys AssumeRole issued for it. Accounts register their keys with the
// Organization as they create them, so routing is one map lookup whatever
// the number of accounts (BenchmarkAssumeRoleAcrossAccounts: 10 and 1,000
// accounts cost the same per call). A key no account holds is refused in
// the service's protocol (InvalidClientTokenId, UnrecognizedClientException).
// An unsigned request, or one for a service localaws does not emulate, is
// answered by the management account. Each account is seeded like a Server
// of its own (Seed, fixtures for its own account id only, CreateRole,
// SetFault); Organization.SetFault, SetNow and Advance apply to all.
//
// The organization itself is built from Go: NewOrganization (management
// account and root), AddOU (nested), AddAccount (name, email, parent,
// ACTIVE or SUSPENDED, tags), AddOutsideAccount (an account served but
// outside the organization) and RegisterDelegatedAdministrator.
//
// Roles and STS (iam_roles.go, trust.go, sts.go): CreateRole adds a role
// (name, path, trust policy, maximum session) and IAM GetRole reads it.
// AssumeRole, answered by the caller's account (so "sts:AssumeRole" faults
// and latency are the caller's), issues ASIA… credentials acting in the
// role's account; GetCallerIdentity then answers
// arn:aws:sts::<account>:assumed-role/<role>/<session>, the session token
// must match and the session expires on the server clock (ExpiredToken).
// A role that does not exist (or whose ARN has another path), an account
// the emulator does not hold, or a trust policy that does not allow the
// caller is AccessDenied "User: <caller> is not authorized to perform:
// sts:AssumeRole on resource: <role ARN>". Trust policies are evaluated for
// exactly what keywarden's member roles use: Principal AWS as an account id,
// an account root ARN, or a role or user ARN, or Principal Service, which
// only ServiceCredentials matches (the credentials a service such as Lambda
// gets for the role it runs as, renewed on the server clock); Action sts:AssumeRole and
// sts:SetSourceIdentity (required too when a source identity is set or
// carried over); conditions ArnLike, ArnEquals, StringEquals, StringLike and
// Null on aws:PrincipalArn (a session's role ARN, path included),
// aws:PrincipalOrgID, aws:PrincipalAccount, sts:SourceIdentity and
// sts:ExternalId; an explicit Deny wins. Any other element, principal,
// action, operator or key is refused when the role is created, so nothing
// is silently allowed; so is a role or user principal that does not exist
// in an account the emulator holds (IAM's "Invalid principal in policy").
// RoleSessionName, DurationSeconds (900 to the role's maximum; at most one
// hour when chaining from a role session), SourceIdentity and ExternalId
// are validated (ValidationError); a source identity set on a session
// carries over down the chain, and naming another one is AccessDenied.
//
// Organizations (organizations.go), answered from the Organization's state
// by the caller's account ("organizations:*" faults are the caller's, and
// throttling is TooManyRequestsException): DescribeOrganization (any
// member), and for the management account or a delegated administrator
// DescribeAccount, ListAccounts, ListAccountsForParent, ListRoots,
// ListOrganizationalUnitsForParent, ListParents and ListTagsForResource,
// paged by MaxResults (1 to 20, default 20) and NextToken. Errors are
// AWSOrganizationsNotInUseException (an account outside the organization
// or a Server of its own), AccessDeniedException (another member),
// AccountNotFoundException, ParentNotFoundException, ChildNotFoundException,
// TargetNotFoundException and InvalidInputException (with its Reason),
// with the HTTP statuses of the service model's httpError traits (404,
// 403, 429, 400).
//
// Known gaps: the caller's identity policies, permission boundaries and
// SCPs are not evaluated (a caller may call anything its account serves);
// AssumeRole refuses session policies, session tags, MFA and provided
// contexts rather than ignoring them, and is recorded in neither account's
// CloudTrail (calls made with the session are, as AssumedRole with a
// sessionContext naming the role, path included, as sessionIssuer and the
// session's sourceIdentity; CloudTrailRecords reads them); refusing a
// changed source identity as AccessDenied is inferred, not observed on AWS;
// a SUSPENDED account's credentials still work; organizations are built
// from Go only (no CreateAccount, MoveAccount, TagResource), roots and OUs
// carry no tags, and ListAccounts lists in join order.
// conformance_organizations_test.go compares with moto, which evaluates no
// trust policy, validates no session name or duration, lets any member read
// the organization and answers all Organizations errors 400.
//
// # DynamoDB
//
// DynamoDB requests are not evaluated by localaws: after the pipeline has
// authenticated the caller and applied any injected fault (which therefore
// works for dynamodb:* as for every service, and a failed call never
// reaches the table), the request goes to github.com/truora/minidyn's
// server.Server, an in-memory DynamoDB held by the Server (one per
// region), and its answer goes back through localaws's JSON 1.0 writer.
// Every call is logged (Calls) like any other. minidyn serves CreateTable,
// DescribeTable, UpdateTable, DeleteTable, PutItem, GetItem, UpdateItem,
// DeleteItem, Query, Scan, BatchGetItem, BatchWriteItem, TransactGetItems
// and TransactWriteItems; the rest of DynamoDB's API is answered
// UnknownOperationException. dynamodb.go is only the adapter: routing,
// the two fixes below, table creation from Go and fixtures, and Items.
//
// Why minidyn: it is a maintained DynamoDB implementation (its own
// expression parser and evaluator, key schemas, conditions, return values,
// pagination) in Go, so it runs inside the test or drill process like the
// rest of localaws and `make drill` needs nothing new. dynalite (npm) is
// more complete but is a separate Node process per server, to start,
// wait for and stop around every test; our own engine (about 2,000 lines
// with its own expression parser, until this change) was one more thing
// to maintain and get wrong. minidyn's module requires testcontainers for
// its own end-to-end tests, but only its server, core, interpreter and
// types packages are built here; no Docker code is linked.
//
// The adapter fixes two minidyn gaps the ledger relies on: PutItem's
// ReturnValues and ReturnValuesOnConditionCheckFailure (minidyn ignores
// both; the ledger's RecordCreation reads the Item of a failed conditional
// put), answered by reading the old item first; and empty binary values
// (an empty chunk), which minidyn answers as no value and which make its
// evaluator refuse every later Query and UpdateItem on the table, swapped
// for a stand-in value on the way in and back on the way out.
//
// Known gaps, each a skipped step of the conformance suite
// (conformance_dynamodb_test.go) and none in a call the ledger makes:
// DescribeTable has no TableStatus, TableArn, BillingModeSummary or
// CreationDateTime (so the server clock, which the old engine used only
// for a table's CreationDateTime, plays no part in DynamoDB); REMOVE of a
// top-level attribute in UpdateItem changes nothing; numbers are returned
// as written rather than normalized, and compared as float64 in
// expressions; an empty string key, an item over 400 KB, a key condition
// with OR or without the partition key are accepted; comparing values of
// different types is refused instead of false; an undefined :value is
// evaluated instead of refused; a Query or Scan page is not cut at 1 MB
// (only at Limit). Comparing an empty binary by order or size() sees the
// adapter's stand-in.
package localaws
