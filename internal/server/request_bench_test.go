package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
)

// BenchmarkAuthenticatedGET is one authenticated request through the whole
// API handler (envelope, route, token, authorization, handler, JSON) without
// the network: the per-request overhead issue 15 holds against the HTTP
// floor (../shared/floors/httpfloor measures the network side). b.N requests
// of GET /v3/auth/projects with a project-scoped token.
func BenchmarkAuthenticatedGET(b *testing.B) {
	env := servertest.Start(b, store.SQLite)
	token := env.AdminToken(b)
	for _, path := range []string{"/v3/auth/projects"} {
		b.Run(path, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("X-Auth-Token", token)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				env.App.API.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
				}
			}
		})
	}
}
