package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/api"
	"github.com/atelier-dev/atelier/internal/dataset/processing"
	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/workforce"
)

// victim is the other account's data that account A's administrator must
// never reach: its IDs are put in paths and bodies, its names must never
// come back.
type victim struct {
	acct                             *iam.Account
	groupID, policyID, epID, wsID    string
	secrets                          []string // strings that must never appear in A's responses
	userName, groupName, policyName  string
	epName, workspaceName, accessKey string
	// A labeling team of B with one member, linked to B's administrator
	// by e-mail so that B's users stay as they are.
	workforceID, workerID, workforceName, workerEmail string
	// A data processing task of B.
	procTaskID, procTaskName string
}

func newVictim(t *testing.T, env *servertest.Env) *victim {
	t.Helper()
	ctx := context.Background()
	svc := env.App.IAM
	acct, err := svc.CreateAccount(ctx, iam.AccountInput{DomainName: "beta-corp", AdminName: "beta-admin", Region: servertest.Region, Endpoint: env.URL})
	if err != nil {
		t.Fatal(err)
	}
	v := &victim{acct: acct, userName: "beta-admin", groupName: "beta-group", policyName: "beta-policy", epName: "beta-ep", workspaceName: "beta-ws", accessKey: acct.AccessKey}
	g, err := svc.CreateGroup(ctx, acct.DomainID, v.groupName, "beta's group")
	if err != nil {
		t.Fatal(err)
	}
	v.groupID = g.ID
	p, err := svc.CreateCustomPolicy(ctx, acct.DomainID, iam.PolicyInput{DisplayName: v.policyName, Type: "XA",
		Document: []byte(`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:dataset:getDataset"]}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	v.policyID = p.ID
	if err := svc.Grant(ctx, acct.DomainID, g.ID, p.ID, policy.Scope{Kind: policy.ScopeProject, ID: acct.ProjectID}); err != nil {
		t.Fatal(err)
	}
	ep, err := svc.CreateEnterpriseProject(ctx, acct.DomainID, v.epName, "beta's enterprise project")
	if err != nil {
		t.Fatal(err)
	}
	v.epID = ep.ID
	name, epID := v.workspaceName, ep.ID
	ws, err := svc.CreateWorkspace(ctx, &iam.Principal{DomainID: acct.DomainID, UserID: acct.UserID, UserName: acct.UserName}, acct.ProjectID,
		iam.WorkspaceInput{Name: &name, EnterpriseProjectID: &epID})
	if err != nil {
		t.Fatal(err)
	}
	v.wsID = ws.ID
	v.workforceName, v.workerEmail = "beta-team", "beta-admin@beta.example"
	if _, err := svc.UpdateUser(ctx, acct.DomainID, acct.UserID, iam.UserUpdate{Email: &v.workerEmail}); err != nil {
		t.Fatal(err)
	}
	bsc := workforce.Scope{DomainID: acct.DomainID, ProjectID: acct.ProjectID, WorkspaceID: "0"}
	if v.workforceID, err = env.App.Workforces.Create(ctx, bsc, &workforce.CreateRequest{Name: v.workforceName}); err != nil {
		t.Fatal(err)
	}
	role := workforce.RoleLabeler
	if v.workerID, err = env.App.Workforces.AddWorker(ctx, bsc, v.workforceID, &workforce.WorkerRequest{Email: v.workerEmail, Role: &role}); err != nil {
		t.Fatal(err)
	}
	v.procTaskName = "beta-processing"
	plan, err := env.App.Processing.PlanTask(ctx, acct.ProjectID, "0", &processing.TaskRequest{Name: v.procTaskName,
		Inputs:   []processing.DataSource{{Type: "OBS", Source: "obs://beta-in/images/"}},
		WorkPath: &processing.WorkPath{Type: "OBS", Path: "obs://beta-out/processed/"},
		Template: &processing.TemplateParam{ID: "sys_data_validation", OperatorParams: []processing.OperatorParam{{Name: "MetaValidation"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if v.procTaskID, err = env.App.Processing.CommitTask(ctx, plan); err != nil {
		t.Fatal(err)
	}
	v.secrets = []string{acct.DomainName, acct.SecretKey, acct.Password, v.userName, v.groupName, v.policyName, v.epName, v.workspaceName,
		v.workforceName, v.workerEmail, v.procTaskName}
	return v
}

// TestAccountIsolation calls every implemented route as account A's
// administrator (token and AK/SK) with account B's IDs in the path and body,
// and a token of A's first project against A's second project: each answers
// 403 or 404, and no response carries B's data.
func TestAccountIsolation(t *testing.T) {
	t.Parallel() // its own servers and databases; the slowest suites overlap their waits
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		a := env.Account
		b := newVictim(t, env)
		ctx := context.Background()
		second, err := env.App.IAM.CreateProject(ctx, a.DomainID, servertest.Region, servertest.Region+"_second", "")
		if err != nil {
			t.Fatal(err)
		}
		token := env.AdminToken(t)
		victimToken := env.Token(t, b.acct.DomainName, b.userName, b.acct.Password, b.acct.ProjectName)
		extraHeaders := map[string]map[string]string{"GET /v3/auth/tokens": {"X-Subject-Token": victimToken}}

		params := strings.NewReplacer(
			"{project_id}", b.acct.ProjectID, "{user_id}", b.acct.UserID, "{group_id}", b.groupID, "{role_id}", b.policyID,
			"{domain_id}", b.acct.DomainID, "{enterprise_project_id}", b.epID, "{access_key}", b.accessKey, "{workspace_id}", b.wsID,
			"{workforce_id}", b.workforceID, "{worker_id}", b.workerID, "{task_id}", b.procTaskID)
		bodies := map[string]any{
			"PUT /v3.0/OS-USER/users/{user_id}":                             map[string]any{"user": map[string]any{"description": "x"}},
			"PATCH /v3/users/{user_id}":                                     map[string]any{"user": map[string]any{"description": "x"}},
			"POST /v3/users/{user_id}/password":                             map[string]any{"user": map[string]any{"password": "Another-pass1", "original_password": b.acct.Password}},
			"PATCH /v3/groups/{group_id}":                                   map[string]any{"group": map[string]any{"description": "x"}},
			"PATCH /v3/projects/{project_id}":                               map[string]any{"project": map[string]any{"description": "x"}},
			"PATCH /v3.0/OS-ROLE/roles/{role_id}":                           map[string]any{"role": map[string]any{"display_name": "stolen", "type": "XA", "description": "", "policy": map[string]any{"Version": "1.1", "Statement": []any{map[string]any{"Effect": "Allow", "Action": []string{"modelarts:*:*"}}}}}},
			"PUT /v3.0/OS-CREDENTIAL/credentials/{access_key}":              map[string]any{"credential": map[string]any{"status": "inactive"}},
			"PUT /v1.0/enterprise-projects/{enterprise_project_id}":         map[string]any{"description": "x"},
			"POST /v1.0/enterprise-projects/{enterprise_project_id}/action": map[string]any{"action": "disable"},
			"POST /v2/{project_id}/authorization-checks":                    map[string]any{"user_id": b.acct.UserID, "action": "modelarts:dataset:getDataset"},
			"POST /v1/{project_id}/workspaces":                              map[string]any{"name": "stolen-ws"},
			"PUT /v1/{project_id}/workspaces/{workspace_id}":                map[string]any{"description": "x"},
			"PUT /v3.0/OS-SECURITYPOLICY/domains/{domain_id}/login-policy":  map[string]any{"login_policy": map[string]any{"login_failed_times": 3, "lockout_duration": 30}},
			// Routes without IDs in the path that take the other account's IDs in the body.
			"POST /v3.0/OS-USER/users":             map[string]any{"user": map[string]any{"name": "intruder", "domain_id": b.acct.DomainID, "password": "Intruder-pass1"}},
			"POST /v3/users":                       map[string]any{"user": map[string]any{"name": "intruder", "domain_id": b.acct.DomainID, "password": "Intruder-pass1"}},
			"POST /v3/groups":                      map[string]any{"group": map[string]any{"name": "intruders", "domain_id": b.acct.DomainID}},
			"POST /v3/projects":                    map[string]any{"project": map[string]any{"name": servertest.Region + "_x", "parent_id": b.acct.DomainID}},
			"POST /v3.0/OS-CREDENTIAL/credentials": map[string]any{"credential": map[string]any{"user_id": b.acct.UserID}},
		}
		for k, v := range workforceBodies(b) {
			bodies[k] = v
		}
		for k, v := range processingBodies(b) {
			bodies[k] = v
		}
		// Routes with no other-account input cannot be pointed at B; they are
		// still called (GET lists) to check that nothing of B comes back.
		listOnly := map[string]bool{}

		for _, rt := range api.Table() {
			if !rt.Implemented() || rt.Public {
				continue
			}
			body, hasBody := bodies[rt.Pattern()]
			hasParam := strings.Contains(rt.Path, "{") || extraHeaders[rt.Pattern()] != nil
			if !hasParam && !hasBody {
				if rt.Method != http.MethodGet {
					continue // creates into the caller's own account; nothing of B to reach
				}
				listOnly[rt.Pattern()] = true
			}
			path := params.Replace(rt.Path)
			for _, mode := range []string{"token", "aksk"} {
				t.Run(mode+" "+rt.Pattern(), func(t *testing.T) {
					var resp *http.Response
					var data []byte
					headers := map[string]string{}
					for k, v := range extraHeaders[rt.Pattern()] {
						headers[k] = v
					}
					if mode == "token" {
						headers["X-Auth-Token"] = token
						resp, data = env.Do(t, rt.Method, path, body, headers)
					} else {
						raw := []byte(nil)
						if body != nil {
							raw = mustJSON(t, body)
						}
						resp, data = env.Send(t, env.SignedRequest(t, rt.Method, path, raw, a.AccessKey, a.SecretKey, headers))
					}
					if !listOnly[rt.Pattern()] && resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
						t.Errorf("%s %s with the other account's IDs: status %d, want 403 or 404; body %s", rt.Method, path, resp.StatusCode, data)
					}
					if listOnly[rt.Pattern()] && resp.StatusCode >= 300 {
						t.Errorf("%s %s: status %d; body %s", rt.Method, path, resp.StatusCode, data)
					}
					for _, s := range b.secrets {
						if strings.Contains(string(data), s) {
							t.Errorf("%s %s leaked the other account's %q: %s", rt.Method, path, s, data)
						}
					}
				})
			}
		}

		// A token of A's first project cannot call A's second project.
		for _, rt := range api.Table() {
			if !rt.Implemented() || !strings.HasPrefix(rt.Path, "/v1/{project_id}") && !strings.HasPrefix(rt.Path, "/v2/{project_id}") || rt.Family == "iam" {
				continue
			}
			path := strings.NewReplacer("{project_id}", second.ID, "{workspace_id}", "0").Replace(rt.Path)
			t.Run("other-project "+rt.Pattern(), func(t *testing.T) {
				resp, data := env.Do(t, rt.Method, path, bodies[rt.Pattern()], map[string]string{"X-Auth-Token": token})
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s %s with a token of another project: status %d, want 403; body %s", rt.Method, path, resp.StatusCode, data)
				}
			})
		}

		// Nothing of B changed.
		if u, err := env.App.IAM.GetUser(ctx, b.acct.DomainID, b.acct.UserID); err != nil || u.Description != "Account administrator" || !u.Enabled {
			t.Errorf("B's administrator changed or vanished: %+v, %v", u, err)
		}
		if _, _, err := env.App.IAM.Authenticate(ctx, b.acct.DomainName, b.userName, b.acct.Password); err != nil {
			t.Errorf("B's administrator can no longer log in: %v", err)
		}
		if cr, err := env.App.IAM.GetCredential(ctx, b.acct.DomainID, b.accessKey); err != nil || cr.Status != "active" {
			t.Errorf("B's access key changed or vanished: %+v, %v", cr, err)
		}
		if p, err := env.App.IAM.GetPolicy(ctx, b.acct.DomainID, b.policyID); err != nil || p.DisplayName != b.policyName {
			t.Errorf("B's policy changed or vanished: %+v, %v", p, err)
		}
		if e, err := env.App.IAM.GetEnterpriseProject(ctx, b.acct.DomainID, b.epID); err != nil || e.Status != 1 {
			t.Errorf("B's enterprise project changed or vanished: %+v, %v", e, err)
		}
		if g, err := env.App.IAM.GetGroup(ctx, b.acct.DomainID, b.groupID); err != nil || g.Description != "beta's group" {
			t.Errorf("B's group changed or vanished: %+v, %v", g, err)
		}
		if p, err := env.App.IAM.LoginPolicy(ctx, b.acct.DomainID); err != nil || p != iam.DefaultLoginPolicy() {
			t.Errorf("B's login policy changed: %+v, %v", p, err)
		}
		bsc := workforce.Scope{DomainID: b.acct.DomainID, ProjectID: b.acct.ProjectID, WorkspaceID: "0"}
		if w, err := env.App.Workforces.GetWorker(ctx, b.acct.ProjectID, b.workforceID, b.workerID); err != nil || w.Email != b.workerEmail {
			t.Errorf("B's labeling team member changed or vanished: %+v, %v", w, err)
		}
		if total, teams, err := env.App.Workforces.List(ctx, bsc, workforce.Query{Limit: 10}); err != nil || total != 1 || teams[0].Name != b.workforceName {
			t.Errorf("B's labeling teams changed: %d, %v", total, err)
		}
		us, err := env.App.IAM.ListUsers(ctx, b.acct.DomainID, "")
		if err != nil || len(us) != 1 {
			t.Errorf("B's users: %d, %v; want only its administrator", len(us), err)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// processingBodies are bodies of the processing-task routes that name the
// other account's task.
func processingBodies(b *victim) map[string]any {
	task := map[string]any{"name": "stolen", "inputs": []any{map[string]any{"type": "TASK", "source": b.procTaskID}},
		"work_path": map[string]any{"type": "OBS", "path": "obs://beta-out/stolen/"}, "create_version": true,
		"template": map[string]any{"id": "sys_data_validation", "operator_params": []any{map[string]any{"name": "MetaValidation"}}}}
	return map[string]any{
		"POST /v2/{project_id}/processor-tasks":                    task,
		"POST /v2/{project_id}/processor-tasks/{task_id}/versions": map[string]any{"name": b.procTaskName},
		"PUT /v2/{project_id}/processor-tasks/{task_id}":           map[string]any{"description": "x"},
	}
}
