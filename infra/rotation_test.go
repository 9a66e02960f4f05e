package main

import (
	"reflect"
	"testing"
)

// Rotation's conditional grants, whole: keys only for users whose rotation
// tag is "true", the secrets' key only through Secrets Manager; and the
// key's policy lets the account decrypt through Secrets Manager only, only
// keywarden's secrets.
func TestRotationPermissions(t *testing.T) {
	key := getAtt(defaultTmpl.id(t, "RotationSecretsKey/Resource"), "Arn")
	viaSecretsManager := map[string]any{"Fn::Join": []any{"", []any{"secretsmanager.", ref("AWS::Region"), ".amazonaws.com"}}}
	bySid := map[string]map[string]any{}
	for _, s := range defaultTmpl.statements(defaultTmpl.id(t, "ActFunctionRole/Resource")) {
		if sid, _ := s["Sid"].(string); sid != "" {
			bySid[sid] = s
		}
	}
	want := map[string]map[string]any{
		"CreateKeysForRotationUsers": {"Action": "iam:CreateAccessKey", "Effect": "Allow", "Resource": usersArn,
			"Condition": map[string]any{"StringEqualsIgnoreCase": map[string]any{"aws:ResourceTag/keywarden:rotate": "true"}}},
		"EncryptRotatedKeySecrets": {"Action": []any{"kms:Decrypt", "kms:GenerateDataKey"}, "Effect": "Allow", "Resource": key,
			"Condition": map[string]any{"StringEquals": map[string]any{"kms:ViaService": viaSecretsManager}}},
	}
	for sid, w := range want {
		w["Sid"] = sid
		if got := bySid[sid]; !reflect.DeepEqual(got, w) {
			t.Errorf("act role statement %s = %s, want %s", sid, toJSON(got), toJSON(w))
		}
	}

	var keyPolicy map[string]any
	for _, s := range list(defaultTmpl.at(t, "RotationSecretsKey/Resource").Properties["KeyPolicy"].(map[string]any)["Statement"]) {
		if st := s.(map[string]any); st["Sid"] == "DecryptRotatedKeysThroughSecretsManager" {
			keyPolicy = st
		}
	}
	wantKey := map[string]any{"Sid": "DecryptRotatedKeysThroughSecretsManager", "Effect": "Allow", "Principal": map[string]any{"AWS": "*"},
		"Action": "kms:Decrypt", "Resource": "*", "Condition": map[string]any{
			"StringEquals": map[string]any{"kms:ViaService": viaSecretsManager, "kms:CallerAccount": ref("AWS::AccountId")},
			"StringLike":   map[string]any{"kms:EncryptionContext:SecretARN": secretsArnPattern}}}
	if !reflect.DeepEqual(keyPolicy, wantKey) {
		t.Errorf("secrets key policy statement = %s, want %s", toJSON(keyPolicy), toJSON(wantKey))
	}
	if rot := defaultTmpl.at(t, "RotationSecretsKey/Resource").Properties["EnableKeyRotation"]; rot != true {
		t.Errorf("secrets key EnableKeyRotation = %v", rot)
	}
}
