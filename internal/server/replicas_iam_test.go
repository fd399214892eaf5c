package server_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	iammodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	"github.com/atelier-dev/atelier/internal/server"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// TestReplicasSharePolicyChanges: two replicas on one PostgreSQL database;
// the account's administrator turns a user's policy from Allow into Deny
// through replica one, and the user's next requests through replica two
// are refused as soon as the change commits. Replica two polls the IAM
// revision once an hour here, so only the database's notification can
// tell it in time; the latency itself is measured by the iam package's
// BenchmarkRevocationReachesReplica.
func TestReplicasSharePolicyChanges(t *testing.T) {
	t.Parallel()
	if !slices.Contains(storetest.Engines(), store.Postgres) {
		t.Skipf("%s is not set: replicas share PostgreSQL", storetest.EnvPostgres)
	}
	dataDir := t.TempDir()
	one := servertest.StartWith(t, servertest.Options{Engine: store.Postgres, DataDir: dataDir})
	two := servertest.StartWith(t, servertest.Options{Engine: store.Postgres, DataDir: dataDir, Database: one.Database,
		Tuning: &server.Tuning{TaskPoll: 100 * time.Millisecond, IAMPoll: time.Hour}})
	a := one.Account
	admin := one.IAMClient(t, a.AccessKey, a.SecretKey)
	statement := func(effect iammodel.ServiceStatementEffect) []iammodel.ServiceStatement {
		return []iammodel.ServiceStatement{{Effect: effect, Action: []string{"modelarts:aiAlgorithm:get"}}}
	}
	ak, sk := newUserWithPolicy(t, admin, a.DomainID, a.ProjectID, "reader", "XA", statement(iammodel.GetServiceStatementEffectEnum().ALLOW))
	viaTwo := two.ModelArtsClient(t, ak, sk, a.ProjectID)
	if _, err := viaTwo.ListAlgorithms(&model.ListAlgorithmsRequest{}); err != nil {
		t.Fatalf("listing algorithms through replica two before the change: %v", err)
	}
	policies, err := admin.ListCustomPolicies(&iammodel.ListCustomPoliciesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var policyID string
	for _, p := range *policies.Roles {
		if p.DisplayName == "reader-policy" {
			policyID = p.Id
		}
	}
	if policyID == "" {
		t.Fatal("the user's policy is not among the custom policies")
	}
	start := time.Now()
	if _, err := admin.UpdateCloudServiceCustomPolicy(&iammodel.UpdateCloudServiceCustomPolicyRequest{RoleId: policyID,
		Body: &iammodel.UpdateCloudServiceCustomPolicyRequestBody{Role: &iammodel.ServicePolicyRoleOption{DisplayName: "reader-policy", Type: "XA",
			Description: "now denied", Policy: &iammodel.ServicePolicy{Version: "1.1", Statement: statement(iammodel.GetServiceStatementEffectEnum().DENY)}}}}); err != nil {
		t.Fatalf("UpdateCloudServiceCustomPolicy through replica one: %v", err)
	}
	for {
		_, err := viaTwo.ListAlgorithms(&model.ListAlgorithmsRequest{})
		if err != nil {
			if se := servertest.SDKError(t, err); se.StatusCode != http.StatusForbidden {
				t.Fatalf("after the change replica two answered %d %s, want 403", se.StatusCode, se.ErrorCode)
			}
			t.Logf("replica two refused %v after the change began through replica one", time.Since(start))
			return
		}
		if time.Since(start) > time.Second {
			t.Fatal("replica two still allows the user a second after replica one turned the policy to Deny")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
