package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// Buckets belong to accounts: even an account administrator holding every
// OBS action cannot touch another account's bucket, see it listed, or take
// its name; buckets made outside Atelier belong to the first account.
func TestBucketsBelongToAccounts(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		a := env.Account
		b := env.NewAccount(t, "beta-corp")
		tokA := env.AdminToken(t)
		tokB := env.Token(t, b.DomainName, b.UserName, b.Password, b.ProjectName)
		call := func(tok, project, method, path, body string) (int, string) {
			t.Helper()
			var payload any
			if body != "" {
				payload = body
			}
			resp, data := env.Do(t, method, "/v1/"+project+"/obs/buckets"+path, payload,
				map[string]string{"X-Auth-Token": tok, "Content-Type": "application/octet-stream"})
			return resp.StatusCode, string(data)
		}
		// A bucket made outside Atelier belongs to the first account.
		if err := env.App.Objects.CreateBucket(context.Background(), "dropped-in"); err != nil {
			t.Fatal(err)
		}
		// A system bucket (e.g. training logs of jobs without a log path)
		// belongs to no account, not even the first.
		if err := env.App.Objects.CreateBucket(context.Background(), "atelier-system-training-logs"); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name, tok, project, method, path, body string
			want                                   int
		}{
			{"a-creates-alpha", tokA, a.ProjectID, "PUT", "/alpha-data", "", http.StatusCreated},
			{"a-writes-alpha", tokA, a.ProjectID, "PUT", "/alpha-data/objects/x.txt", "hello", http.StatusOK},
			{"b-cannot-read-alpha", tokB, b.ProjectID, "GET", "/alpha-data/objects/x.txt", "", http.StatusForbidden},
			{"b-cannot-write-alpha", tokB, b.ProjectID, "PUT", "/alpha-data/objects/y.txt", "stolen", http.StatusForbidden},
			{"b-cannot-list-alpha", tokB, b.ProjectID, "GET", "/alpha-data/objects", "", http.StatusForbidden},
			{"b-cannot-delete-alpha", tokB, b.ProjectID, "DELETE", "/alpha-data/objects/x.txt", "", http.StatusForbidden},
			{"b-cannot-take-alpha-name", tokB, b.ProjectID, "PUT", "/alpha-data", "", http.StatusForbidden},
			{"b-creates-beta", tokB, b.ProjectID, "PUT", "/beta-data", "", http.StatusCreated},
			{"a-cannot-write-beta", tokA, a.ProjectID, "PUT", "/beta-data/objects/z.txt", "x", http.StatusForbidden},
			{"a-reads-dropped-in", tokA, a.ProjectID, "GET", "/dropped-in/objects", "", http.StatusOK},
			{"b-cannot-read-dropped-in", tokB, b.ProjectID, "GET", "/dropped-in/objects", "", http.StatusForbidden},
			{"b-cannot-claim-dropped-in", tokB, b.ProjectID, "PUT", "/dropped-in", "", http.StatusForbidden},
			{"a-cannot-read-system-bucket", tokA, a.ProjectID, "GET", "/atelier-system-training-logs/objects", "", http.StatusForbidden},
			{"a-cannot-create-system-name", tokA, a.ProjectID, "PUT", "/atelier-system-mine", "", http.StatusForbidden},
		}
		for _, st := range steps {
			if got, body := call(st.tok, st.project, st.method, st.path, st.body); got != st.want {
				t.Fatalf("%s: %s %s = %d %s; want %d", st.name, st.method, st.path, got, body, st.want)
			}
		}
		if _, body := call(tokB, b.ProjectID, "GET", "", ""); strings.Contains(body, "alpha-data") || strings.Contains(body, "dropped-in") || !strings.Contains(body, "beta-data") {
			t.Fatalf("B's bucket list %s: want only beta-data", body)
		}
		if _, body := call(tokA, a.ProjectID, "GET", "", ""); strings.Contains(body, "beta-data") || strings.Contains(body, "atelier-system") || !strings.Contains(body, "alpha-data") {
			t.Fatalf("A's bucket list %s: want alpha-data (and dropped-in), not beta-data", body)
		}
		if data, ok := getObject(t, env, "alpha-data", "y.txt"); ok {
			t.Fatalf("B's write reached A's bucket: %q", data)
		}
	})
}
