package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/api"
	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// missingID is a well-formed ID that names nothing.
const missingID = "0123456789abcdef0123456789abcdef"

// TestAuthorizationBeforeExistence calls every implemented route as a user
// of the account who holds no grant, with IDs that name nothing: each
// answers 403, as it does for existing resources, so that the caller learns
// nothing about which IDs exist. A user whose policies could allow the
// action on a resource of that kind learns that it does not exist.
func TestAuthorizationBeforeExistence(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()
		a := env.Account
		const password = "No-grants-pass1"
		if _, err := env.App.IAM.CreateUser(ctx, a.DomainID, iam.UserInput{Name: "nobody-granted", Password: password}); err != nil {
			t.Fatal(err)
		}
		token := env.Token(t, a.DomainName, "nobody-granted", password, a.ProjectName)
		params := strings.NewReplacer("{project_id}", a.ProjectID, "{domain_id}", a.DomainID, "{bucket}", "no-such-bucket")
		for _, rt := range api.Table() {
			if !rt.Implemented() || rt.Public || rt.Self {
				continue
			}
			path := params.Replace(rt.Path)
			for strings.Contains(path, "{") {
				i := strings.Index(path, "{")
				j := strings.Index(path[i:], "}")
				path = path[:i] + missingID + path[i+j+1:]
			}
			t.Run(rt.Pattern(), func(t *testing.T) {
				resp, data := env.Do(t, rt.Method, path, nil, map[string]string{"X-Auth-Token": token})
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s %s as a user with no grants: status %d, want 403 whether or not the resource exists; body %s", rt.Method, path, resp.StatusCode, data)
				}
			})
		}

		// A user allowed to read datasets and processing tasks in one
		// enterprise project only learns that one does not exist: the action
		// could be allowed.
		ep, err := env.App.IAM.CreateEnterpriseProject(ctx, a.DomainID, "readers-ep", "")
		if err != nil {
			t.Fatal(err)
		}
		u, err := env.App.IAM.CreateUser(ctx, a.DomainID, iam.UserInput{Name: "ep-reader", Password: password})
		if err != nil {
			t.Fatal(err)
		}
		g, err := env.App.IAM.CreateGroup(ctx, a.DomainID, "ep-readers", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := env.App.IAM.AddUserToGroup(ctx, a.DomainID, g.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		p, err := env.App.IAM.CreateCustomPolicy(ctx, a.DomainID, iam.PolicyInput{DisplayName: "dataset-reader", Type: "XA",
			Document: []byte(`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:dataset:getDataset","modelarts:processTask:getProcessTask"]}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		if err := env.App.IAM.Grant(ctx, a.DomainID, g.ID, p.ID, policy.Scope{Kind: policy.ScopeEnterpriseProject, ID: ep.ID}); err != nil {
			t.Fatal(err)
		}
		readerToken := env.Token(t, a.DomainName, "ep-reader", password, a.ProjectName)
		cases := []struct {
			name, method, path string
			want               int
		}{
			{"allowed-action-missing-dataset", http.MethodGet, "/v2/" + a.ProjectID + "/datasets/" + missingID, http.StatusNotFound},
			{"other-action-missing-dataset", http.MethodDelete, "/v2/" + a.ProjectID + "/datasets/" + missingID, http.StatusForbidden},
			{"other-action-missing-job", http.MethodDelete, "/v2/" + a.ProjectID + "/training-jobs/" + missingID, http.StatusForbidden},
			{"allowed-action-missing-processing-task", http.MethodGet, "/v2/" + a.ProjectID + "/processor-tasks/" + missingID, http.StatusNotFound},
			{"allowed-action-missing-processing-version", http.MethodGet, "/v2/" + a.ProjectID + "/processor-tasks/" + missingID + "/versions/" + missingID, http.StatusNotFound},
			{"other-action-missing-processing-task", http.MethodDelete, "/v2/" + a.ProjectID + "/processor-tasks/" + missingID, http.StatusForbidden},
			{"other-action-missing-processing-version", http.MethodPost, "/v2/" + a.ProjectID + "/processor-tasks/" + missingID + "/versions/" + missingID + "/stop", http.StatusForbidden},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, data := env.Do(t, tc.method, tc.path, nil, map[string]string{"X-Auth-Token": readerToken})
				if resp.StatusCode != tc.want {
					t.Errorf("%s %s as a user allowed getDataset and getProcessTask in one enterprise project: status %d, want %d; body %s", tc.method, tc.path, resp.StatusCode, tc.want, data)
				}
			})
		}
	})
}
