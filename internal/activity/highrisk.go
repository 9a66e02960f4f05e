package activity

import (
	"slices"
	"strings"
)

// highRisk are the event names worth a responder's attention when an exposed
// key or its user made them, grouped by why. Names are matched alone, without
// the event source: each is specific to one service.
//
// Delete/UpdateAccessKey and PutUserPolicy are also what keywarden itself
// does during containment, but keywarden makes them with its own role, so
// they never appear among the key's or the user's calls (see the package
// comment); when they do appear, the attacker made them.
var highRisk = setOf(
	[][]string{
		// Persistence and privilege escalation in IAM.
		{
			"CreateUser", "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey",
			"CreateLoginProfile", "UpdateLoginProfile",
			"AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy",
			"PutUserPolicy", "PutRolePolicy", "PutGroupPolicy",
			"CreatePolicyVersion", "SetDefaultPolicyVersion",
			"AddUserToGroup", "CreateRole", "UpdateAssumeRolePolicy",
			"DeleteUserPermissionsBoundary", "DeleteRolePermissionsBoundary",
			"DeactivateMFADevice", "DeleteVirtualMFADevice",
			"CreateSAMLProvider", "CreateOpenIDConnectProvider",
		},
		// Credentials that outlive the key: deactivating the key does not
		// end them, and role sessions escape the user's deny policy.
		{"AssumeRole", "GetSessionToken", "GetFederationToken"},
		// Defence evasion: logging and detection turned off.
		{
			"StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors",
			"DeleteFlowLogs", "DeleteDetector", "DisableSecurityHub",
			"StopConfigurationRecorder", "DeleteConfigurationRecorder",
		},
		// Data exposure and exfiltration.
		{
			"PutBucketPolicy", "PutBucketAcl", "DeleteBucketPublicAccessBlock",
			"PutBucketPublicAccessBlock", "ModifySnapshotAttribute",
			"ModifyImageAttribute", "ModifyDBSnapshotAttribute", "GetSecretValue",
		},
		// Resource abuse (crypto mining) and access paths into it.
		{
			"RunInstances", "CreateKeyPair", "ImportKeyPair",
			"AuthorizeSecurityGroupIngress", "RequestServiceQuotaIncrease",
		},
		// Taking the account away.
		{"LeaveOrganization"},
	}...,
)

func setOf(groups ...[]string) map[string]bool {
	set := map[string]bool{}
	for _, group := range groups {
		for _, name := range group {
			set[name] = true
		}
	}
	return set
}

// IsHighRisk reports whether a call named eventName is listed in a Summary's
// HighRisk.
func IsHighRisk(eventName string) bool { return highRisk[eventName] }

// HighRiskEventNames returns the high-risk event names, sorted, for
// documentation and tests.
func HighRiskEventNames() []string {
	names := make([]string, 0, len(highRisk))
	for n := range highRisk {
		names = append(names, n)
	}
	slices.SortFunc(names, strings.Compare)
	return names
}
