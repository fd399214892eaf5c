package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/api"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
)

// A path under /v2/{project_id}/ that this build does not serve — a seed
// route not built yet, when one is left, and a path no route has —
// authenticates like a built route before it says so: anonymous callers
// get 401, not a map of the API.
func TestUnbuiltRouteAuthenticatesFirst(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, store.SQLite)
	paths := map[string]string{"/v2/" + env.Account.ProjectID + "/no-such-api/items": "ModelArts.2836"}
	if path, ok := unbuiltPath(env.Account.ProjectID); ok {
		paths[path] = "ModelArts.4204"
	}
	for path, notFound := range paths {
		tests := []struct {
			name    string
			headers map[string]string
			status  int
			code    string
		}{
			{"anonymous", nil, http.StatusUnauthorized, "ModelArts.0201"},
			{"bad-token", map[string]string{"X-Auth-Token": "MIIatelier1.garbage.garbage"}, http.StatusUnauthorized, "ModelArts.0203"},
			{"valid-token", map[string]string{"X-Auth-Token": env.AdminToken(t)}, http.StatusNotFound, notFound},
		}
		for _, tc := range tests {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				resp, body := env.Do(t, http.MethodGet, path, nil, tc.headers)
				if resp.StatusCode != tc.status || servertest.DecodeError(t, body).ErrorCode != tc.code {
					t.Fatalf("GET %s: %d %s, want %d %s", path, resp.StatusCode, body, tc.status, tc.code)
				}
			})
		}
	}
}

// unbuiltPath is a concrete path of a GET seed route this build does not
// serve yet, if one is left.
func unbuiltPath(projectID string) (string, bool) {
	for _, rt := range api.Table() {
		if !rt.Implemented() && strings.HasPrefix(rt.Path, "/v2/{project_id}/") && rt.Method == http.MethodGet {
			path := strings.ReplaceAll(rt.Path, "{project_id}", projectID)
			for strings.Contains(path, "{") {
				i, j := strings.Index(path, "{"), strings.Index(path, "}")
				path = path[:i] + missingID + path[j+1:]
			}
			return path, true
		}
	}
	return "", false
}
