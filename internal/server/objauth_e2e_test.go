package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	iamv3 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3"
	iammodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"

	"github.com/atelier-dev/atelier/internal/client"
	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// secretBytes is the content of the objects a Deny protects: no export may
// ever hold it.
const secretBytes = "SECRET-BYTES-6f1d"

// userCaller sends signed ModelArts requests as a user (the SDK has no
// dataset calls; IAM goes through the SDK).
type userCaller struct {
	t       *testing.T
	env     *servertest.Env
	project string
	ak, sk  string
}

func (u *userCaller) do(method, path string, body any) (int, map[string]any) {
	u.t.Helper()
	var data []byte
	if body != nil {
		data, _ = json.Marshal(body)
	}
	resp, raw := u.env.Send(u.t, u.env.SignedRequest(u.t, method, "/v2/"+u.project+path, data, u.ak, u.sk, nil))
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

// denyUserStatements allow a user to work on datasets and processing tasks
// and on the objects of data-in and data-out, with an explicit Deny on
// reading data-in/secret/.
func denyUserStatements() []iammodel.ServiceStatement {
	allow := iammodel.GetServiceStatementEffectEnum().ALLOW
	deny := iammodel.GetServiceStatementEffectEnum().DENY
	return []iammodel.ServiceStatement{
		{Effect: allow, Action: []string{"modelarts:dataset:*", "modelarts:processTask:*", "obs:bucket:*"}},
		{Effect: allow, Action: []string{"obs:object:GetObject", "obs:object:PutObject"},
			Resource: &[]string{"obs:*:*:object:data-in/*", "obs:*:*:object:data-out/*"}},
		{Effect: deny, Action: []string{"obs:object:GetObject"}, Resource: &[]string{"obs:*:*:object:data-in/secret/*"}},
	}
}

// attachDeny grants the user's group one more policy: a Deny of GetObject
// on the resources, effective account-wide (OBS is global).
func attachDeny(t *testing.T, admin *iamv3.IamClient, domainID, group, name string, resources ...string) {
	t.Helper()
	p, err := admin.CreateCloudServiceCustomPolicy(&iammodel.CreateCloudServiceCustomPolicyRequest{Body: &iammodel.CreateCloudServiceCustomPolicyRequestBody{
		Role: &iammodel.ServicePolicyRoleOption{DisplayName: name, Type: "AX", Description: "late deny",
			Policy: &iammodel.ServicePolicy{Version: "1.1", Statement: []iammodel.ServiceStatement{{
				Effect: iammodel.GetServiceStatementEffectEnum().DENY, Action: []string{"obs:object:GetObject"}, Resource: &resources}}}}}})
	if err != nil {
		t.Fatalf("CreateCloudServiceCustomPolicy: %v", err)
	}
	groups, err := admin.KeystoneListGroups(&iammodel.KeystoneListGroupsRequest{DomainId: &domainID, Name: &group})
	if err != nil || groups.Groups == nil || len(*groups.Groups) != 1 {
		t.Fatalf("KeystoneListGroups %s: %v", group, err)
	}
	if _, err := admin.KeystoneAssociateGroupWithDomainPermission(&iammodel.KeystoneAssociateGroupWithDomainPermissionRequest{
		DomainId: domainID, GroupId: (*groups.Groups)[0].Id, RoleId: p.Role.Id}); err != nil {
		t.Fatalf("KeystoneAssociateGroupWithDomainPermission: %v", err)
	}
}

// noSecretUnder fails when any object under bucket/prefix holds the
// secret bytes.
func noSecretUnder(t *testing.T, env *servertest.Env, bucket, prefix string) {
	t.Helper()
	ctx := context.Background()
	page, err := env.App.Objects.List(ctx, bucket, obs.ListOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range page.Objects {
		rc, _, err := env.App.Objects.Get(ctx, bucket, o.Key, nil)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if bytes.Contains(data, []byte(secretBytes)) {
			t.Errorf("%s/%s holds the denied object's bytes", bucket, o.Key)
		}
	}
}

// wantDenied checks that a failure reason names the action and the
// resource of the denial.
func wantDenied(t *testing.T, what, reason, action, resource string) {
	t.Helper()
	if !strings.Contains(reason, action) || !strings.Contains(reason, resource) {
		t.Errorf("%s: reason %q does not name %s on %s", what, reason, action, resource)
	}
}

// TestDenyHoldsThroughImportAndExport: a user allowed GetObject on data-in/*
// but denied on data-in/secret/* cannot read a secret object directly, and
// neither a manifest naming it, nor a directory import, nor an export with
// copies (export_format 1) of a dataset holding it, nor a processing task
// over that dataset puts its bytes where the user can read them; the
// denied lines, files and samples are reported with the action and the
// resource. A Deny added after an import is queued applies
// when it runs.
func TestDenyHoldsThroughImportAndExport(t *testing.T) {
	t.Parallel() // its own servers and databases; the slowest suites overlap their waits
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()
		c := newDSClient(t, env)
		a := env.Account
		admin := env.IAMClient(t, a.AccessKey, a.SecretKey)
		c.put("data-in", "secret/s.jpg", secretBytes)
		c.put("data-in", "pub/p.jpg", "public image")
		ak, sk := newUserWithPolicy(t, admin, a.DomainID, "", "denied-user", "AX", denyUserStatements())
		u := &userCaller{t: t, env: env, project: a.ProjectID, ak: ak, sk: sk}
		secretRes := "obs:" + servertest.Region + ":" + a.DomainID + ":object:data-in/secret/s.jpg"

		// The object API refuses the secret object.
		oc, err := client.New(client.Config{Endpoint: env.URL, ProjectID: a.ProjectID, AccessKey: ak, SecretKey: sk})
		if err != nil {
			t.Fatal(err)
		}
		_, err = oc.GetObject(ctx, "data-in", "secret/s.jpg")
		wantAPIError(t, err, http.StatusForbidden, "ModelArts.0108", "obs:object:GetObject")

		// A manifest in the user's bucket naming it, imported by the user.
		id := c.create("deny-imp", 0, nil)
		c.waitIdle(id)
		c.put("data-in", "mine/m.manifest", strings.Join([]string{
			mline(t, map[string]any{"source": "obs://data-in/secret/s.jpg", "annotation": []any{map[string]any{"type": "modelarts/image_classification", "name": "cat"}}}),
			mline(t, map[string]any{"source": "obs://data-in/pub/p.jpg", "annotation": []any{map[string]any{"type": "modelarts/image_classification", "name": "cat"}}}),
		}, "\n"))
		st, out := u.do("POST", "/datasets/"+id+"/import-tasks", map[string]any{"import_path": "obs://data-in/mine/m.manifest"})
		if st != http.StatusOK {
			t.Fatalf("user import: %d %v", st, out)
		}
		v := c.waitImport(id, out["task_id"].(string))
		if v["status"] != "COMPLETED" || v["imported_sample_count"] != 1.0 || v["failed_sample_count"] != 1.0 {
			t.Errorf("manifest import: %v", v)
		}
		wantDenied(t, "manifest line 1", failedItems(v)["line 1"], "obs:object:GetObject", secretRes)

		// The user exports the dataset with copies of its files.
		exportAndCheck := func(name string, wantFailed float64) {
			t.Helper()
			st, out := u.do("POST", "/datasets/"+id+"/export-tasks", map[string]any{"path": "/data-out/" + name + "/", "export_format": 1})
			if st != http.StatusOK {
				t.Fatalf("user export: %d %v", st, out)
			}
			et := c.waitFor("/datasets/"+id+"/export-tasks/"+out["task_id"].(string), func(m map[string]any) bool {
				return m["status"] == "SUCCESSED" || m["status"] == "FAILED"
			})
			if et["status"] != "SUCCESSED" || et["failed_sample_count"] != wantFailed {
				t.Errorf("export %s: %v", name, et)
			}
			noSecretUnder(t, env, "data-out", name+"/")
		}
		exportAndCheck("exp-mine", 0)

		// A dataset that holds the secret object (the administrator
		// imported it): the user's export of it copies everything else.
		st, out = c.do("POST", "/datasets/"+id+"/import-tasks", map[string]any{"import_path": "obs://data-in/mine/m.manifest"})
		if st != http.StatusOK {
			t.Fatalf("admin import: %d %v", st, out)
		}
		if v := c.waitImport(id, out["task_id"].(string)); v["imported_sample_count"] != 2.0 {
			t.Fatalf("admin import: %v", v)
		}
		exportAndCheck("exp-shared", 1)

		// A processing task the user runs over that dataset reads no
		// denied object: the secret sample fails with the denial, and the
		// user's result page signs no URL of it.
		st, out = u.do("POST", "/processor-tasks", map[string]any{"name": "deny-proc", "create_version": true,
			"inputs": []any{map[string]any{"type": "DATASET", "source": id}}, "work_path": map[string]any{"type": "OBS", "path": "/data-out/proc-deny/"},
			"template": map[string]any{"id": "sys_data_validation", "operator_params": []any{map[string]any{"name": "MetaValidation"}}}})
		if st != http.StatusOK {
			t.Fatalf("user processing task: %d %v", st, out)
		}
		ptask := out["task_id"].(string)
		pv := c.waitProc(ptask, c.procVersion(ptask))
		wantCounts(t, "processing a dataset with a denied sample", pv, map[string]float64{"status": 2, "origin_sample_count": 2,
			"failed_sample_count": 1, "deleted_sample_count": 2})
		st, out = u.do("GET", "/processor-tasks/"+ptask+"/versions/"+pv["task_version_id"].(string)+"/results", nil)
		if st != http.StatusOK || out["count"] != 2.0 {
			t.Fatalf("user results: %d %v", st, out)
		}
		for _, r := range out["results"].([]any) {
			r := r.(map[string]any)
			if strings.HasSuffix(r["origin_source"].(string), "secret/s.jpg") {
				d := r["result_description"].([]any)[0].([]any)
				wantDenied(t, "processing", fmt.Sprint(d...), "obs:object:GetObject", secretRes)
				if r["failed"] != true || r["signed_origin_source"] != "" {
					t.Errorf("the denied sample's result: %v", r)
				}
			} else if r["signed_origin_source"] == "" || r["failed"] == true {
				t.Errorf("the readable sample's result: %v", r)
			}
		}
		noSecretUnder(t, env, "data-out", "proc-deny/")

		// A directory import with a denied folder skips its files.
		c.put("data-in", "dir/cat/1.jpg", "one")
		c.put("data-in", "secret/dir/cat/2.jpg", secretBytes)
		dirID := c.create("deny-dir", 0, nil)
		c.waitIdle(dirID)
		st, out = u.do("POST", "/datasets/"+dirID+"/import-tasks", map[string]any{"import_path": "obs://data-in/secret/"})
		if st != http.StatusForbidden {
			t.Errorf("a directory import of a denied folder was accepted: %d %v", st, out)
		}
		c.put("data-in", "mixed/cat/1.jpg", "one")
		attachDeny(t, admin, a.DomainID, "denied-user-group", "deny-mixed-secret", "obs:*:*:object:data-in/mixed/secret/*")
		c.put("data-in", "mixed/secret/cat/2.jpg", secretBytes)
		st, out = u.do("POST", "/datasets/"+dirID+"/import-tasks", map[string]any{"import_path": "obs://data-in/mixed/"})
		if st != http.StatusOK {
			t.Fatalf("directory import: %d %v", st, out)
		}
		v = c.waitImport(dirID, out["task_id"].(string))
		if v["status"] != "COMPLETED" || v["imported_sample_count"] != 1.0 || v["failed_sample_count"] != 1.0 {
			t.Errorf("directory import: %v", v)
		}
		wantDenied(t, "directory import", failedItems(v)["obs://data-in/mixed/secret/cat/2.jpg"], "obs:object:GetObject",
			"object:data-in/mixed/secret/cat/2.jpg")

		// A sync started by the user adds no file of a denied folder.
		syncID := c.create("deny-sync", 0, nil)
		c.waitIdle(syncID)
		attachDeny(t, admin, a.DomainID, "denied-user-group", "deny-sync-hidden", "obs:*:*:object:data-in/deny-sync/hidden/*")
		c.put("data-in", "deny-sync/cat/1.jpg", "one")
		c.put("data-in", "deny-sync/hidden/cat/2.jpg", secretBytes)
		if st, out := u.do("POST", "/datasets/"+syncID+"/sync-data", nil); st != http.StatusOK {
			t.Fatalf("user sync: %d %v", st, out)
		}
		sv := c.waitFor("/datasets/"+syncID+"/sync-data/status", func(m map[string]any) bool {
			return m["status"] == "COMPLETED" || m["status"] == "FAILED"
		})
		if sv["status"] != "COMPLETED" || sv["add_sample_count"] != 1.0 || sv["total_sample_count"] != 1.0 {
			t.Errorf("sync with a denied folder: %v", sv)
		}

		// A Deny added after the import is queued, before it runs: the
		// tasks manager is stopped, the task queued, the Deny added, and
		// a server started on the same data runs the task.
		lateID := c.create("deny-late", 0, nil)
		c.waitIdle(lateID)
		c.put("data-in", "late/l.jpg", secretBytes)
		c.put("data-in", "late/ok.jpg", "fine")
		c.put("data-in", "mine/late.manifest", strings.Join([]string{
			mline(t, map[string]any{"source": "obs://data-in/late/ok.jpg"}),
			mline(t, map[string]any{"source": "obs://data-in/late/l.jpg"}),
		}, "\n"))
		stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := env.App.Tasks.Stop(stopCtx); err != nil {
			t.Fatalf("stop the tasks manager: %v", err)
		}
		cancel()
		st, out = u.do("POST", "/datasets/"+lateID+"/import-tasks", map[string]any{"import_path": "obs://data-in/mine/late.manifest"})
		if st != http.StatusOK {
			t.Fatalf("queue the late import: %d %v", st, out)
		}
		lateTask := out["task_id"].(string)
		attachDeny(t, admin, a.DomainID, "denied-user-group", "deny-late", "obs:*:*:object:data-in/late/l.jpg")
		env.Stop(t)
		env2 := servertest.StartWith(t, servertest.Options{Engine: env.Engine, DataDir: env.DataDir, Database: env.Database})
		c2 := &dsClient{t: t, env: env2, project: a.ProjectID, token: env2.AdminToken(t)}
		v = c2.waitImport(lateID, lateTask)
		if v["status"] != "COMPLETED" || v["imported_sample_count"] != 1.0 || v["failed_sample_count"] != 1.0 {
			t.Errorf("late import: %v", v)
		}
		wantDenied(t, "late deny", failedItems(v)["line 2"], "obs:object:GetObject", "object:data-in/late/l.jpg")
	})
}

// TestReservedKeyManifestKeepsPagesUp: a manifest line naming a key the
// object store reserves (.atelier/ at the top of a bucket) fails like the
// object API refuses it, and a stored sample with such a key (a row from
// before the check) leaves every page answering 200: it shows without a
// preview URL and with the reason, export and publishing leave it out as a
// failed sample and succeed.
func TestReservedKeyManifestKeepsPagesUp(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()
		c := newDSClient(t, env)
		id := c.create("resv", 0, nil)
		c.waitIdle(id)
		c.put("data-in", "resv-m/ok.jpg", "fine")
		c.put("data-in", "resv-m/in.manifest", strings.Join([]string{
			mline(t, map[string]any{"source": "obs://data-in/.atelier/created", "annotation": []any{map[string]any{"type": "modelarts/image_classification", "name": "cat"}}}),
			mline(t, map[string]any{"source": "obs://data-in/resv-m/ok.jpg", "annotation": []any{map[string]any{"type": "modelarts/image_classification", "name": "cat"}}}),
		}, "\n"))
		v := c.waitImport(id, c.importTask(id, map[string]any{"import_path": "obs://data-in/resv-m/in.manifest"}))
		if v["status"] != "COMPLETED" || v["imported_sample_count"] != 1.0 || v["failed_sample_count"] != 1.0 {
			t.Errorf("import: %v", v)
		}
		if r := failedItems(v)["line 1"]; !strings.Contains(r, ".atelier/") || !strings.Contains(r, "reserved") {
			t.Errorf("line 1: %q, want the reserved key named", r)
		}

		// A row stored before imports checked keys.
		bad := "obs://data-in/.atelier/created"
		res, err := env.App.Datasets.WriteSamples(ctx, env.Account.ProjectID, id, []dataset.SampleInput{{Source: bad,
			SampleType: 0, Labels: nil}}, dataset.WriteOptions{})
		if err != nil || len(res) != 1 || res[0].Err != nil {
			t.Fatalf("store a bad row: %v %v", err, res)
		}
		badID := dataset.SampleID(bad)
		base := "/datasets/" + id + "/data-annotations"
		for _, p := range []string{base + "/samples", base + "/samples?preview=true", base + "/samples/" + badID, base + "/stats"} {
			st, out := c.do("GET", p, nil)
			if st != http.StatusOK {
				t.Errorf("GET %s: %d %v", p, st, out)
			}
		}
		_, out := c.do("GET", base+"/samples/"+badID, nil)
		if out["source"] != "" || !strings.Contains(fmtAny(out["source_error"]), "reserved") {
			t.Errorf("bad sample detail: source %v, source_error %v", out["source"], out["source_error"])
		}
		_, out = c.do("GET", base+"/samples?preview=true", nil)
		list, _ := out["samples"].([]any)
		if len(list) != 2 {
			t.Errorf("preview list: %v", out)
		}
		for _, s := range list {
			s := s.(map[string]any)
			if s["sample_id"] == badID && (s["source"] != "" || s["source_error"] == nil) {
				t.Errorf("bad sample in the preview list: %v", s)
			}
			if s["sample_id"] != badID && !strings.HasPrefix(fmtAny(s["source"]), "http") {
				t.Errorf("good sample in the preview list has no URL: %v", s)
			}
		}

		// Export with copies and without: the bad sample fails alone.
		for _, body := range []map[string]any{{"path": "/data-out/resv-exp1/", "export_format": 1}, {"path": "/data-out/resv-exp0/"}} {
			st, out := c.do("POST", "/datasets/"+id+"/export-tasks", body)
			if st != http.StatusOK {
				t.Fatalf("export %v: %d %v", body, st, out)
			}
			et := c.waitFor("/datasets/"+id+"/export-tasks/"+out["task_id"].(string), func(m map[string]any) bool {
				return m["status"] == "SUCCESSED" || m["status"] == "FAILED"
			})
			if et["status"] != "SUCCESSED" || et["failed_sample_count"] != 1.0 || et["finished_sample_count"] != 1.0 {
				t.Errorf("export %v: %v", body, et)
			}
		}

		// Publishing, with the images copied: the version is normal (1),
		// not failed (4), and says what it left out.
		st, out := c.do("POST", "/datasets/"+id+"/versions", map[string]any{"export_images": true})
		if st != http.StatusCreated {
			t.Fatalf("publish: %d %v", st, out)
		}
		vid := out["version_id"].(string)
		ver := c.waitFor("/datasets/"+id+"/versions/"+vid, func(m map[string]any) bool { return m["status"] != 0.0 })
		if ver["status"] != 1.0 || ver["total_sample_count"] != 1.0 {
			t.Errorf("version: %v", ver)
		}

		// A sample whose file is gone shows as such on its page.
		gone := "obs://data-in/resv-m/gone.jpg"
		if res, err := env.App.Datasets.WriteSamples(ctx, env.Account.ProjectID, id, []dataset.SampleInput{{Source: gone}}, dataset.WriteOptions{}); err != nil || res[0].Err != nil {
			t.Fatalf("store a sample without its file: %v %v", err, res)
		}
		st, out = c.do("GET", base+"/samples/"+dataset.SampleID(gone), nil)
		if st != http.StatusOK || !strings.Contains(fmtAny(out["source_error"]), "does not exist") {
			t.Errorf("sample without its file: %d %v", st, out)
		}
	})
}

func fmtAny(v any) string {
	s, _ := v.(string)
	return s
}
