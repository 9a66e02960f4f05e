package localaws

import (
	"fmt"
	"testing"
)

// BenchmarkAssumeRoleAcrossAccounts assumes a member role in each account
// of an organization in turn, through the real STS client, for 10 and 1,000
// accounts of 20 users each: the cost per call should not grow with the
// number of accounts (requests are routed by a map lookup on the key id).
func BenchmarkAssumeRoleAcrossAccounts(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("accounts=%d", n), func(b *testing.B) {
			o := newTestOrg(b, OrganizationOptions{})
			hub := addAccount(b, o, MemberAccount{ID: hubAccount})
			seed(b, hub, Fixture{Users: []FixtureUser{{Name: "deployer"}}, Keys: []FixtureKey{{User: "deployer", ID: hubUserKey}}})
			trust := memberTrust(o.ID())
			users := make([]FixtureUser, 20)
			for i := range users {
				users[i] = FixtureUser{Name: fmt.Sprintf("user-%02d", i)}
			}
			roles := make([]string, n)
			for i := range roles {
				s := addAccount(b, o, MemberAccount{ID: fmt.Sprintf("5%011d", i)})
				seed(b, s, Fixture{Users: users})
				roles[i] = mustRole(b, s, Role{Name: "respond", TrustPolicy: trust})
			}
			hubRole := mustRole(b, hub, Role{Name: "hub-respond", Path: "/keywarden/", TrustPolicy: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + hubAccount + `"},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}]}`})
			out, err := assume(configAs(hub, hubUserKey), hubRole, "bench", "bench-run", 0, "")
			if err != nil {
				b.Fatal(err)
			}
			cfg := sessionConfig(hub.SDKConfig(), out.Credentials)
			i := 0
			for b.Loop() {
				if _, err := assume(cfg, roles[i%n], "bench", "", 0, ""); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
