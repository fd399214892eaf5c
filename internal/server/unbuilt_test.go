package server_test

import (
	"net/http"
	"testing"

	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
)

// A seed route this build does not serve yet authenticates like a built one
// before it says so: anonymous callers get 401, not a map of the API.
func TestUnbuiltRouteAuthenticatesFirst(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, store.SQLite)
	path := "/v2/" + env.Account.ProjectID + "/processor-tasks"
	tests := []struct {
		name    string
		headers map[string]string
		status  int
		code    string
	}{
		{"anonymous", nil, http.StatusUnauthorized, "ModelArts.0201"},
		{"bad-token", map[string]string{"X-Auth-Token": "MIIatelier1.garbage.garbage"}, http.StatusUnauthorized, "ModelArts.0203"},
		{"valid-token", map[string]string{"X-Auth-Token": env.AdminToken(t)}, http.StatusNotFound, "ModelArts.4204"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := env.Do(t, http.MethodGet, path, nil, tc.headers)
			if resp.StatusCode != tc.status || servertest.DecodeError(t, body).ErrorCode != tc.code {
				t.Fatalf("GET %s: %d %s, want %d %s", path, resp.StatusCode, body, tc.status, tc.code)
			}
		})
	}
}
