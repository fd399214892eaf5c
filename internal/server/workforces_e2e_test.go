package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// The Huawei Cloud Go SDK this module uses has no labeling-team calls
// (its ModelArts client is v1), so these tests send raw requests (with the
// administrator's token, and one signed by the SDK's own signer) and decode
// answers into types as strict as the SDK's: an integer field refuses a
// string.

type wfTeam struct {
	WorkforceID   string `json:"workforce_id"`
	WorkforceName string `json:"workforce_name"`
	Description   string `json:"description"`
	WorkerCount   int    `json:"worker_count"`
	WorkspaceID   string `json:"workspace_id"`
	CreateTime    int64  `json:"create_time"`
	UpdateTime    int64  `json:"update_time"`
}

type wfWorker struct {
	WorkerID    string `json:"worker_id"`
	WorkforceID string `json:"workforce_id"`
	Email       string `json:"email"`
	Role        int    `json:"role"`
	Status      int    `json:"status"`
	Description string `json:"description"`
	CreateTime  int64  `json:"create_time"`
	UpdateTime  int64  `json:"update_time"`
}

// wfClient calls as the account administrator.
type wfClient struct {
	t     *testing.T
	env   *servertest.Env
	token string
}

func (c *wfClient) call(method, path string, body any) (int, []byte) {
	c.t.Helper()
	resp, data := c.env.Do(c.t, method, path, body, map[string]string{"X-Auth-Token": c.token})
	return resp.StatusCode, data
}

// must calls and decodes a success into out (strictly: unknown fields and
// wrong types fail).
func (c *wfClient) must(method, path string, body any, status int, out any) {
	c.t.Helper()
	got, data := c.call(method, path, body)
	if got != status {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, got, data, status)
	}
	if out != nil {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(out); err != nil {
			c.t.Fatalf("%s %s: answer %s does not decode into %T: %v", method, path, data, out, err)
		}
	}
}

// wantError checks a ModelArts error envelope naming msgPart.
func (c *wfClient) wantError(method, path string, body any, status int, code, msgPart string) {
	c.t.Helper()
	got, data := c.call(method, path, body)
	e := servertest.DecodeError(c.t, data)
	if got != status || e.ErrorCode != code || !strings.Contains(e.ErrorMsg, msgPart) {
		c.t.Errorf("%s %s: %d %s; want %d %s mentioning %q", method, path, got, data, status, code, msgPart)
	}
}

type wfTeamList struct {
	TotalNumber int      `json:"total_number"`
	Workforces  []wfTeam `json:"workforces"`
}

type wfWorkerList struct {
	TotalNumber int        `json:"total_number"`
	Workers     []wfWorker `json:"workers"`
}

func TestWorkforcesEndToEnd(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		c := &wfClient{t: t, env: env, token: env.AdminToken(t)}
		a := env.Account
		base := "/v2/" + a.ProjectID + "/workforces"

		// AK/SK-signed, as the SDKs call.
		resp, data := env.Send(t, env.SignedRequest(t, "POST", base, mustJSON(t, map[string]any{"workforce_name": "signed"}), a.AccessKey, a.SecretKey, nil))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("signed create: %d %s", resp.StatusCode, data)
		}

		// Teams: create, bad input, list with offset as a page index.
		var created struct {
			WorkforceID string `json:"workforce_id"`
		}
		c.must("POST", base, map[string]any{"workforce_name": "team-123", "description": "my team"}, http.StatusCreated, &created)
		team := created.WorkforceID
		for _, n := range []string{"team-b", "team-c"} {
			c.must("POST", base, map[string]any{"workforce_name": n}, http.StatusCreated, nil)
		}
		c.wantError("POST", base, map[string]any{"workforce_name": "bad name"}, http.StatusBadRequest, "ModelArts.4200", "workforce_name")
		c.wantError("POST", base, map[string]any{"workforce_name": "team-b"}, http.StatusBadRequest, "ModelArts.4602", "team-b")
		c.wantError("POST", base, map[string]any{"workforce_name": "x", "workspace": "1"}, http.StatusBadRequest, "ModelArts.4200", "workspace")
		c.wantError("GET", base+"?limit=0", nil, http.StatusBadRequest, "ModelArts.4200", "limit")
		c.wantError("GET", base+"?sort_by=size", nil, http.StatusBadRequest, "ModelArts.4200", "sort_by")

		var page wfTeamList
		c.must("GET", base+"?limit=2&offset=1&order=asc", nil, http.StatusOK, &page)
		if page.TotalNumber != 4 || len(page.Workforces) != 2 || page.Workforces[0].WorkforceName != "team-b" || page.Workforces[1].WorkforceName != "team-c" {
			t.Fatalf("page 1 (limit 2, oldest first): %+v, want team-b, team-c of 4", page)
		}
		c.must("GET", base+"?search_content=123", nil, http.StatusOK, &page)
		if page.TotalNumber != 1 || page.Workforces[0].WorkforceID != team || page.Workforces[0].WorkspaceID != "0" {
			t.Fatalf("search 123: %+v", page)
		}

		// One team: get and update.
		var got wfTeam
		var got2 int
		c.must("GET", base+"/"+team, nil, http.StatusOK, &got)
		if got.WorkforceName != "team-123" || got.Description != "my team" || got.WorkerCount != 0 || got.CreateTime == 0 {
			t.Fatalf("get team: %+v", got)
		}
		c.must("PUT", base+"/"+team, map[string]any{"description": "labels cats"}, http.StatusOK, &struct{}{})
		c.wantError("PUT", base+"/"+team, map[string]any{"description": "a<b"}, http.StatusBadRequest, "ModelArts.4200", "description")
		c.wantError("GET", base+"/00000000000000000000000000000000", nil, http.StatusNotFound, "ModelArts.4601", "")

		// Members: one linked to an existing user, others created.
		const lindaPass = "Linda-pass-123"
		c.must("POST", "/v3.0/OS-USER/users", map[string]any{"user": map[string]any{"name": "linda", "email": "linda@example.com",
			"password": lindaPass, "domain_id": a.DomainID}}, http.StatusCreated, nil)
		workers := base + "/" + team + "/workers"
		c.must("POST", workers, map[string]any{"emails": "linda@example.com", "role": 0}, http.StatusCreated, &struct{}{})
		c.must("POST", workers, map[string]any{"emails": "new.labeler@example.com", "role": "0", "description": "new"}, http.StatusCreated, &struct{}{})
		c.must("POST", workers, map[string]any{"emails": "rita@example.com", "role": 1}, http.StatusCreated, nil)
		c.must("POST", workers, map[string]any{"emails": "boss@example.com", "role": 2}, http.StatusCreated, nil)
		c.wantError("POST", workers, map[string]any{"emails": "boss2@example.com", "role": 2}, http.StatusBadRequest, "ModelArts.4617", "")
		c.wantError("POST", workers, map[string]any{"emails": "Rita@example.com", "role": 0}, http.StatusBadRequest, "ModelArts.4605", "")
		c.wantError("POST", workers, map[string]any{"emails": "x@example.com", "role": 7}, http.StatusBadRequest, "ModelArts.4200", "role")
		c.wantError("POST", workers, map[string]any{"emails": "x@example.com", "role": "two"}, http.StatusBadRequest, "ModelArts.4200", "role")
		c.wantError("POST", workers, map[string]any{"emails": "not-an-address", "role": 0}, http.StatusBadRequest, "ModelArts.4200", "emails")

		var ws wfWorkerList
		c.must("GET", workers+"?sort_by=email&order=asc&limit=3&offset=1", nil, http.StatusOK, &ws)
		if ws.TotalNumber != 4 || len(ws.Workers) != 1 || ws.Workers[0].Email != "rita@example.com" {
			t.Fatalf("members page 1 by e-mail: %+v", ws)
		}
		c.must("GET", workers+"?sort_by=email&order=asc", nil, http.StatusOK, &ws)
		ids := map[string]wfWorker{}
		for _, w := range ws.Workers {
			ids[w.Email] = w
			if w.WorkforceID != team || w.Status != 0 || w.WorkerID == "" {
				t.Errorf("member %+v", w)
			}
		}
		c.must("GET", base+"/workers", nil, http.StatusOK, &ws)
		if ws.TotalNumber != 2 {
			t.Errorf("all members, default role (labelers): %d, want 2", ws.TotalNumber)
		}
		c.must("GET", base+"/workers?role=2", nil, http.StatusOK, &ws)
		if ws.TotalNumber != 1 || ws.Workers[0].Email != "boss@example.com" {
			t.Errorf("all team administrators: %+v", ws)
		}
		c.must("GET", base+"/"+team, nil, http.StatusOK, &got)
		if got.WorkerCount != 4 {
			t.Errorf("worker_count = %d, want 4", got.WorkerCount)
		}
		rita := ids["rita@example.com"].WorkerID
		var one wfWorker
		c.must("GET", workers+"/"+rita, nil, http.StatusOK, &one)
		if one.Role != 1 || one.Email != "rita@example.com" {
			t.Fatalf("get member: %+v", one)
		}
		c.must("PUT", workers+"/"+rita, map[string]any{"description": "reviews", "role": 0}, http.StatusOK, &struct{}{})
		c.wantError("PUT", workers+"/"+rita, map[string]any{"role": 2}, http.StatusBadRequest, "ModelArts.4617", "")
		c.wantError("GET", workers+"/00000000000000000000000000000000", nil, http.StatusNotFound, "ModelArts.4604", "")

		// The created user: no password until the administrator sets one,
		// then a token that opens its team tasks and nothing else.
		var users struct {
			Users []struct {
				ID    string `json:"id"`
				Email string `json:"email"`
			} `json:"users"`
		}
		got2, data = c.call("GET", "/v3/users?name="+url.QueryEscape("new.labeler_example.com"), nil)
		if err := json.Unmarshal(data, &users); got2 != http.StatusOK || err != nil || len(users.Users) != 1 || users.Users[0].Email != "new.labeler@example.com" {
			t.Fatalf("the created user: %d %s", got2, data)
		}
		labeler := users.Users[0].ID
		var body []byte
		if st, body := env.Do(t, "POST", "/v3/auth/tokens", servertest.TokenRequest(a.DomainName, "new.labeler_example.com", "Any-guess-123", a.ProjectName), nil); st.StatusCode != http.StatusUnauthorized {
			t.Fatalf("token of a created user before any password: %d %s", st.StatusCode, body)
		}
		const labelerPass = "Labeler-pass-123"
		c.must("PUT", "/v3.0/OS-USER/users/"+labeler, map[string]any{"user": map[string]any{"password": labelerPass}}, http.StatusOK, nil)
		token := env.Token(t, a.DomainName, "new.labeler_example.com", labelerPass, a.ProjectName)
		check := func(userID, action string) bool {
			t.Helper()
			var out struct {
				Allowed bool `json:"allowed"`
			}
			st, data := c.call("POST", "/v2/"+a.ProjectID+"/authorization-checks", map[string]any{"user_id": userID, "action": action})
			if st != http.StatusOK || json.Unmarshal(data, &out) != nil {
				t.Fatalf("authorization check: %d %s", st, data)
			}
			return out.Allowed
		}
		if !check(labeler, "modelarts:dataset:getWorkforceTask") {
			t.Fatal("the labeler may not get its team tasks")
		}
		for _, path := range []string{base, base + "/" + team + "/workers", "/v2/" + a.ProjectID + "/datasets"} {
			resp, body = env.Do(t, "GET", path, nil, map[string]string{"X-Auth-Token": token})
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("GET %s as a labeler: %d %s, want 403", path, resp.StatusCode, body)
			}
		}

		// Removing the member removes the user Atelier created, and its token stops working.
		c.must("DELETE", workers+"/"+ids["new.labeler@example.com"].WorkerID, nil, http.StatusNoContent, nil)
		if st, _ := c.call("GET", "/v3.0/OS-USER/users/"+labeler, nil); st != http.StatusNotFound {
			t.Errorf("the created user after its removal: %d, want 404", st)
		}
		if resp, body = env.Do(t, "GET", base, nil, map[string]string{"X-Auth-Token": token}); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("the removed labeler's token: %d %s, want 401", resp.StatusCode, body)
		}

		// Batch: the linked user stays (without its team access), a missing ID fails alone.
		var batch struct {
			Success bool `json:"success"`
			Results []struct {
				Success   bool   `json:"success"`
				ErrorCode string `json:"error_code"`
				ErrorMsg  string `json:"error_msg"`
			} `json:"results"`
		}
		linda := ids["linda@example.com"]
		c.must("POST", workers+"/batch-delete", map[string]any{"workers": []string{linda.WorkerID, "00000000000000000000000000000000"}}, http.StatusOK, &batch)
		if batch.Success || len(batch.Results) != 2 || !batch.Results[0].Success || batch.Results[1].ErrorCode != "ModelArts.4604" {
			t.Fatalf("batch delete: %+v", batch)
		}
		lindaToken := env.Token(t, a.DomainName, "linda", lindaPass, a.ProjectName)
		resp, body = env.Do(t, "GET", "/v2/"+a.ProjectID+"/workforces", nil, map[string]string{"X-Auth-Token": lindaToken})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("linda after her removal: %d %s", resp.StatusCode, body)
		}

		// Deleting the team removes its remaining members' created users.
		c.must("DELETE", base+"/"+team, nil, http.StatusNoContent, nil)
		c.wantError("GET", base+"/"+team, nil, http.StatusNotFound, "ModelArts.4601", "")
		got2, data = c.call("GET", "/v3/users?name=rita_example.com", nil)
		if got2 != http.StatusOK || strings.Contains(string(data), "rita@example.com") {
			t.Errorf("rita's created user outlived her team: %d %s", got2, data)
		}
	})
}

// workforceBodies are the isolation test's bodies for the labeling-team
// routes that take one, pointed at B's team and member.
func workforceBodies(b *victim) map[string]any {
	return map[string]any{
		"PUT /v2/{project_id}/workforces/{workforce_id}":                       map[string]any{"description": "x"},
		"POST /v2/{project_id}/workforces/{workforce_id}/workers":              map[string]any{"emails": "intruder@example.com", "role": 0},
		"PUT /v2/{project_id}/workforces/{workforce_id}/workers/{worker_id}":   map[string]any{"description": "x"},
		"POST /v2/{project_id}/workforces/{workforce_id}/workers/batch-delete": map[string]any{"workers": []string{b.workerID}},
	}
}

// A team is reachable through its own project only: the same account's
// other project, and another account, get 404 for its IDs and see none of
// it in their lists.
func TestWorkforcesAcrossProjects(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		a := env.Account
		c := &wfClient{t: t, env: env, token: env.AdminToken(t)}
		var created struct {
			WorkforceID string `json:"workforce_id"`
		}
		base := "/v2/" + a.ProjectID + "/workforces"
		c.must("POST", base, map[string]any{"workforce_name": "alpha-team"}, http.StatusCreated, &created)
		team := created.WorkforceID
		c.must("POST", base+"/"+team+"/workers", map[string]any{"emails": "alpha.member@example.com", "role": 0}, http.StatusCreated, nil)
		var ws wfWorkerList
		c.must("GET", base+"/"+team+"/workers", nil, http.StatusOK, &ws)
		worker := ws.Workers[0].WorkerID

		second, err := env.App.IAM.CreateProject(context.Background(), a.DomainID, servertest.Region, servertest.Region+"_labeling", "")
		if err != nil {
			t.Fatal(err)
		}
		other := env.NewAccount(t, "gamma-corp")
		callers := []struct {
			name, project, token string
		}{
			{"same-account-other-project", second.ID, env.Token(t, a.DomainName, a.UserName, a.Password, second.Name)},
			{"other-account", other.ProjectID, env.Token(t, other.DomainName, other.UserName, other.Password, other.ProjectName)},
		}
		for _, cl := range callers {
			t.Run(cl.name, func(t *testing.T) {
				oc := &wfClient{t: t, env: env, token: cl.token}
				ob := "/v2/" + cl.project + "/workforces"
				for _, r := range []struct {
					method, path string
					body         any
				}{
					{"GET", ob + "/" + team, nil},
					{"PUT", ob + "/" + team, map[string]any{"description": "x"}},
					{"DELETE", ob + "/" + team, nil},
					{"GET", ob + "/" + team + "/workers", nil},
					{"POST", ob + "/" + team + "/workers", map[string]any{"emails": "intruder@example.com", "role": 2}},
					{"POST", ob + "/" + team + "/workers/batch-delete", map[string]any{"workers": []string{worker}}},
					{"GET", ob + "/" + team + "/workers/" + worker, nil},
					{"PUT", ob + "/" + team + "/workers/" + worker, map[string]any{"role": 1}},
					{"DELETE", ob + "/" + team + "/workers/" + worker, nil},
				} {
					st, data := oc.call(r.method, r.path, r.body)
					if st != http.StatusNotFound || strings.Contains(string(data), "alpha") {
						t.Errorf("%s %s: %d %s, want 404 without the team's data", r.method, r.path, st, data)
					}
				}
				var teams wfTeamList
				oc.must("GET", ob, nil, http.StatusOK, &teams)
				var all wfWorkerList
				oc.must("GET", ob+"/workers", nil, http.StatusOK, &all)
				if teams.TotalNumber != 0 || all.TotalNumber != 0 {
					t.Errorf("lists elsewhere: %d teams, %d members; want none", teams.TotalNumber, all.TotalNumber)
				}
			})
		}
		// Nothing changed in the team.
		var got wfTeam
		c.must("GET", base+"/"+team, nil, http.StatusOK, &got)
		if got.WorkerCount != 1 || got.Description != "" {
			t.Errorf("the team after the other callers: %+v", got)
		}
	})
}
