// Training requests that must be refused: bad input, an image the local
// executor cannot run, object storage the caller may not use.

package server_test

import (
	"net/http"
	"strings"
	"testing"

	iamv3 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3"
	iammodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	"github.com/atelier-dev/atelier/internal/server/servertest"
)

func TestTrainingBadInput(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, "sqlite")
	const bucket = "bad-input"
	putObject(t, env, bucket, "code/train.py", "print('hi')\n")
	putObject(t, env, bucket, "secret/steal.py", "print('escaped')\n")
	good := func() map[string]any {
		return map[string]any{"kind": "job",
			"metadata":  map[string]any{"name": "bad-input-job"},
			"algorithm": map[string]any{"code_dir": "obs://" + bucket + "/code/", "boot_file": "obs://" + bucket + "/code/train.py"},
			"spec":      map[string]any{"resource": map[string]any{"flavor_id": "local.cpu.1u2g", "node_count": 1}}}
	}
	alg := func(j map[string]any) map[string]any { return j["algorithm"].(map[string]any) }
	inputs := func(n int) []any {
		var out []any
		for i := range n {
			out = append(out, map[string]any{"name": "in" + string(rune('a'+i)), "remote": map[string]any{"obs": map[string]any{"obs_url": "obs://" + bucket + "/code/"}}})
		}
		return out
	}
	tests := []struct {
		name   string
		mutate func(j map[string]any)
		code   string
	}{
		{"unknown-algorithm", func(j map[string]any) { j["algorithm"] = map[string]any{"id": "0123456789abcdef0123456789abcdef"} }, "ModelArts.2755"},
		{"unknown-flavor", func(j map[string]any) {
			j["spec"].(map[string]any)["resource"].(map[string]any)["flavor_id"] = "modelarts.p3.large.public"
		}, "ModelArts.2763"},
		{"too-many-nodes", func(j map[string]any) { j["spec"].(map[string]any)["resource"].(map[string]any)["node_count"] = 1000 }, "ModelArts.2793"},
		{"code-dir-missing", func(j map[string]any) {
			alg(j)["code_dir"] = "obs://" + bucket + "/nothing/"
			alg(j)["boot_file"] = "obs://" + bucket + "/nothing/train.py"
		}, "ModelArts.2757"},
		{"bucket-missing", func(j map[string]any) {
			alg(j)["code_dir"] = "obs://no-such-bucket/code/"
			alg(j)["boot_file"] = "obs://no-such-bucket/code/train.py"
		}, "ModelArts.2757"},
		{"boot-file-missing", func(j map[string]any) { alg(j)["boot_file"] = "obs://" + bucket + "/code/absent.py" }, "ModelArts.2758"},
		{"boot-file-outside", func(j map[string]any) { alg(j)["boot_file"] = "obs://" + bucket + "/secret/steal.py" }, "ModelArts.2758"},
		{"boot-file-dotdot", func(j map[string]any) { alg(j)["boot_file"] = "obs://" + bucket + "/code/../secret/steal.py" }, "ModelArts.2758"},
		{"boot-file-other-bucket", func(j map[string]any) { alg(j)["boot_file"] = "obs://other-bucket/code/train.py" }, "ModelArts.2758"},
		{"name-too-long", func(j map[string]any) { j["metadata"].(map[string]any)["name"] = strings.Repeat("n", 65) }, "ModelArts.0101"},
		{"name-bad-chars", func(j map[string]any) { j["metadata"].(map[string]any)["name"] = "rm -rf" }, "ModelArts.0101"},
		{"description-too-long", func(j map[string]any) { j["metadata"].(map[string]any)["description"] = strings.Repeat("d", 257) }, "ModelArts.0101"},
		{"too-many-inputs", func(j map[string]any) { alg(j)["inputs"] = inputs(21) }, "ModelArts.2816"},
		{"input-missing", func(j map[string]any) {
			alg(j)["inputs"] = []any{map[string]any{"name": "data", "remote": map[string]any{"obs": map[string]any{"obs_url": "obs://" + bucket + "/nope/"}}}}
		}, "ModelArts.3551"},
		{"dataset-input", func(j map[string]any) {
			alg(j)["inputs"] = []any{map[string]any{"name": "data", "remote": map[string]any{"dataset": map[string]any{"id": "d", "version_id": "v"}}}}
		}, "ModelArts.0101"},
		{"hyperparameter-name-is-shell", func(j map[string]any) {
			alg(j)["parameters"] = []any{map[string]any{"name": "x;rm -rf /", "value": "1"}}
		}, "ModelArts.0101"},
		{"hyperparameter-repeated", func(j map[string]any) {
			alg(j)["parameters"] = []any{map[string]any{"name": "lr", "value": "1"}, map[string]any{"name": "lr", "value": "2"}}
		}, "ModelArts.2767"},
		{"command-without-image", func(j map[string]any) { alg(j)["command"] = "python train.py" }, "ModelArts.2806"},
		{"unknown-engine", func(j map[string]any) { alg(j)["engine"] = map[string]any{"engine_id": "caffe-1.0.0-python2.7"} }, "ModelArts.2788"},
		{"bad-obs-url", func(j map[string]any) {
			alg(j)["outputs"] = []any{map[string]any{"name": "out", "remote": map[string]any{"obs": map[string]any{"obs_url": "https://example.com/x"}}}}
		}, "ModelArts.2791"},
		{"env-with-dollar", func(j map[string]any) { alg(j)["environments"] = map[string]any{"A": "$HOME"} }, "ModelArts.0101"},
		{"unknown-field", func(j map[string]any) { j["surprise"] = true }, "ModelArts.0101"},
		{"pool", func(j map[string]any) { j["spec"].(map[string]any)["resource"].(map[string]any)["pool_id"] = "pool-1" }, "ModelArts.0101"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := good()
			tc.mutate(j)
			resp, e := rawCreate(t, env, "/training-jobs", j)
			if resp.StatusCode != http.StatusBadRequest || e.ErrorCode != tc.code {
				t.Errorf("status %d code %s (%s); want 400 %s", resp.StatusCode, e.ErrorCode, e.ErrorMsg, tc.code)
			}
		})
	}
	a := env.Account
	c := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	list, err := c.ListTrainingJobs(&model.ListTrainingJobsRequest{Body: &model.JobSearches{}})
	if err != nil {
		t.Fatalf("ListTrainingJobs: %v", err)
	}
	if tv(list.Total) != 0 {
		t.Errorf("bad requests created %d jobs", tv(list.Total))
	}
	// The good body is good: the failures above are the mutations'.
	if resp, e := rawCreate(t, env, "/training-jobs", good()); resp.StatusCode != http.StatusCreated {
		t.Fatalf("the unmutated body: %d %s %s", resp.StatusCode, e.ErrorCode, e.ErrorMsg)
	}

	t.Run("algorithm", func(t *testing.T) {
		base := func() map[string]any {
			return map[string]any{"metadata": map[string]any{"name": "alg"},
				"job_config": map[string]any{"code_dir": "obs://" + bucket + "/code/", "boot_file": "obs://" + bucket + "/code/train.py"}}
		}
		if resp, e := rawCreate(t, env, "/algorithms", base()); resp.StatusCode != http.StatusCreated {
			t.Fatalf("create algorithm: %d %s %s", resp.StatusCode, e.ErrorCode, e.ErrorMsg)
		}
		for name, tc := range map[string]struct {
			mutate func(m map[string]any)
			code   string
		}{
			"duplicate-name": {func(m map[string]any) {}, "ModelArts.2821"},
			"boot-outside": {func(m map[string]any) {
				m["job_config"].(map[string]any)["boot_file"] = "obs://" + bucket + "/secret/steal.py"
			}, "ModelArts.2758"},
			"name-too-long": {func(m map[string]any) { m["metadata"].(map[string]any)["name"] = strings.Repeat("a", 65) }, "ModelArts.0101"},
		} {
			t.Run(name, func(t *testing.T) {
				m := base()
				tc.mutate(m)
				if resp, e := rawCreate(t, env, "/algorithms", m); resp.StatusCode != http.StatusBadRequest || e.ErrorCode != tc.code {
					t.Errorf("status %d code %s (%s); want 400 %s", resp.StatusCode, e.ErrorCode, e.ErrorMsg, tc.code)
				}
			})
		}
	})
}

// TestTrainingImageJobFails: a job naming a container image is accepted and
// stored, and fails with an event saying an image needs the Kubernetes
// executor.
func TestTrainingImageJobFails(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, "sqlite")
	a := env.Account
	c := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	resp, err := c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job",
		Metadata:  &model.JobMetadata{Name: "image-job"},
		Algorithm: &model.JobAlgorithm{Engine: &model.JobEngine{ImageUrl: tp("org/trainer:1.0")}, Command: tp("python /app/train.py")},
		Spec:      &model.Spec{Resource: &model.SpecResource{FlavorId: tp("local.cpu.1u2g"), NodeCount: 1}}}})
	if err != nil {
		t.Fatalf("CreateTrainingJob(image): %v", err)
	}
	id := tv(resp.Metadata.Id)
	if tv(resp.Algorithm.Engine.ImageUrl) != "org/trainer:1.0" || tv(resp.Algorithm.Command) != "python /app/train.py" {
		t.Errorf("image and command not stored: %+v", resp.Algorithm)
	}
	done := waitPhase(t, c, id, "Failed", "Completed", "Running")
	if tv(done.Status.Phase) != "Failed" || tv(done.Status.SecondaryPhase) != "CreateFailed" {
		t.Errorf("image job is %s/%s; want Failed/CreateFailed", tv(done.Status.Phase), tv(done.Status.SecondaryPhase))
	}
	if msgs := eventMessages(t, c, id); !hasMessage(msgs, "needs the Kubernetes executor") {
		t.Errorf("events %q lack the reason", msgs)
	}
}

// TestTrainingOBSDenied: a user granted modelarts:trainJob:* but no OBS
// action cannot create a job; the 403 names the OBS action.
func TestTrainingOBSDenied(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, "sqlite")
	a := env.Account
	putObject(t, env, "denied", "code/train.py", "print('hi')\n")
	admin := env.IAMClient(t, a.AccessKey, a.SecretKey)
	ak, sk := newUserWithActions(t, admin, a.DomainID, a.ProjectID, "trainer", "modelarts:trainJob:*")
	c := env.ModelArtsClient(t, ak, sk, a.ProjectID)
	_, err := c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job",
		Metadata:  &model.JobMetadata{Name: "denied-job"},
		Algorithm: &model.JobAlgorithm{CodeDir: tp("obs://denied/code/"), BootFile: tp("obs://denied/code/train.py")},
		Spec:      &model.Spec{Resource: &model.SpecResource{FlavorId: tp("local.cpu.1u2g"), NodeCount: 1}}}})
	se := servertest.SDKError(t, err)
	if se.StatusCode != http.StatusForbidden || se.ErrorCode != "ModelArts.0108" || !strings.Contains(se.ErrorMessage, "obs:bucket:ListBucket") {
		t.Errorf("create without OBS permissions: %d %s %q; want 403 ModelArts.0108 naming obs:bucket:ListBucket", se.StatusCode, se.ErrorCode, se.ErrorMessage)
	}
	// The same user may list jobs (the route's own action is granted), and nothing was created.
	list, err := c.ListTrainingJobs(&model.ListTrainingJobsRequest{Body: &model.JobSearches{}})
	if err != nil || tv(list.Total) != 0 {
		t.Errorf("ListTrainingJobs = %+v, %v; want no jobs", list, err)
	}
	// Granted reads but not writes, the 403 names obs:object:PutObject.
	ak2, sk2 := newUserWithActions(t, admin, a.DomainID, a.ProjectID, "reader", "modelarts:trainJob:*", "obs:bucket:ListBucket", "obs:object:GetObject")
	c2 := env.ModelArtsClient(t, ak2, sk2, a.ProjectID)
	_, err = c2.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job",
		Metadata: &model.JobMetadata{Name: "denied-write"},
		Algorithm: &model.JobAlgorithm{CodeDir: tp("obs://denied/code/"), BootFile: tp("obs://denied/code/train.py"),
			Outputs: &[]model.Output{{Name: "out", Remote: &model.Remote{Obs: &model.RemoteObs{ObsUrl: "obs://denied/out/"}}}}},
		Spec: &model.Spec{Resource: &model.SpecResource{FlavorId: tp("local.cpu.1u2g"), NodeCount: 1}}}})
	se = servertest.SDKError(t, err)
	if se.StatusCode != http.StatusForbidden || !strings.Contains(se.ErrorMessage, "obs:object:PutObject") {
		t.Errorf("create without PutObject: %d %s %q; want 403 naming obs:object:PutObject", se.StatusCode, se.ErrorCode, se.ErrorMessage)
	}
}

// newUserWithActions creates a user granted the actions (allowed) on the
// project and on the whole account, with an access key.
func newUserWithActions(t *testing.T, admin *iamv3.IamClient, domainID, projectID, name string, actions ...string) (ak, sk string) {
	t.Helper()
	return newUserWithPolicy(t, admin, domainID, projectID, name, "XA", []iammodel.ServiceStatement{
		{Effect: iammodel.GetServiceStatementEffectEnum().ALLOW, Action: actions}})
}

// newUserWithPolicy creates, through the SDK's IAM client, a user in a group
// holding a custom policy of the given type and statements — granted on the
// project when projectID is set, and on the whole account, where OBS
// actions count (OBS is a global service) — and an access key for it.
func newUserWithPolicy(t *testing.T, admin *iamv3.IamClient, domainID, projectID, name, typ string, statements []iammodel.ServiceStatement) (ak, sk string) {
	t.Helper()
	u, err := admin.CreateUser(&iammodel.CreateUserRequest{Body: &iammodel.CreateUserRequestBody{User: &iammodel.CreateUserOption{
		Name: name, DomainId: domainID, Password: tp("Secret-Passw0rd!"), Enabled: tp(true)}}})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	g, err := admin.KeystoneCreateGroup(&iammodel.KeystoneCreateGroupRequest{Body: &iammodel.KeystoneCreateGroupRequestBody{
		Group: &iammodel.KeystoneCreateGroupOption{Name: name + "-group", DomainId: tp(domainID)}}})
	if err != nil {
		t.Fatalf("KeystoneCreateGroup: %v", err)
	}
	if _, err := admin.KeystoneAddUserToGroup(&iammodel.KeystoneAddUserToGroupRequest{GroupId: g.Group.Id, UserId: u.User.Id}); err != nil {
		t.Fatalf("KeystoneAddUserToGroup: %v", err)
	}
	p, err := admin.CreateCloudServiceCustomPolicy(&iammodel.CreateCloudServiceCustomPolicyRequest{Body: &iammodel.CreateCloudServiceCustomPolicyRequestBody{
		Role: &iammodel.ServicePolicyRoleOption{DisplayName: name + "-policy", Type: typ, Description: "e2e test user",
			Policy: &iammodel.ServicePolicy{Version: "1.1", Statement: statements}}}})
	if err != nil {
		t.Fatalf("CreateCloudServiceCustomPolicy: %v", err)
	}
	if projectID != "" {
		if _, err := admin.KeystoneAssociateGroupWithProjectPermission(&iammodel.KeystoneAssociateGroupWithProjectPermissionRequest{
			ProjectId: projectID, GroupId: g.Group.Id, RoleId: p.Role.Id}); err != nil {
			t.Fatalf("KeystoneAssociateGroupWithProjectPermission: %v", err)
		}
	}
	if _, err := admin.KeystoneAssociateGroupWithDomainPermission(&iammodel.KeystoneAssociateGroupWithDomainPermissionRequest{
		DomainId: domainID, GroupId: g.Group.Id, RoleId: p.Role.Id}); err != nil {
		t.Fatalf("KeystoneAssociateGroupWithDomainPermission: %v", err)
	}
	k, err := admin.CreatePermanentAccessKey(&iammodel.CreatePermanentAccessKeyRequest{Body: &iammodel.CreatePermanentAccessKeyRequestBody{
		Credential: &iammodel.CreateCredentialOption{UserId: u.User.Id}}})
	if err != nil {
		t.Fatalf("CreatePermanentAccessKey: %v", err)
	}
	return k.Credential.Access, k.Credential.Secret
}
