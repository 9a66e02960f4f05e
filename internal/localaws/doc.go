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
//   - SNS: query protocol (CreateTopic, Publish).
//   - CloudTrail LookupEvents and EventBridge PutEvents: JSON 1.1.
//   - SES v2 SendEmail and Lambda Invoke: REST JSON.
//   - DynamoDB: JSON 1.0 (CreateTable, DescribeTable, PutItem, GetItem,
//     UpdateItem, Query) with a small, exact expression evaluator; see
//     dynamodb_expr.go for the grammar it accepts.
//   - Secrets Manager: JSON 1.1 (CreateSecret, PutSecretValue,
//     DescribeSecret, GetSecretValue, PutResourcePolicy, GetResourcePolicy)
//     over SecretString values, with AWSCURRENT and AWSPREVIOUS moved as AWS
//     moves them; see secretsmanager.go for what it leaves out.
//
// Requests are routed by the service name in the SigV4 credential scope of
// the Authorization header, then by X-Amz-Target, the form Action or the REST
// path. Signatures are not verified: any secret works. The access key id in
// the credential scope does matter: if it names a key the emulator knows, the
// caller is that key's user, the key's last-used data is updated, and an
// inactive or deleted key is rejected as AWS rejects it. Any other key id acts
// as the account's root user.
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
package localaws
