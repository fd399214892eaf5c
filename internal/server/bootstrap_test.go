package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/atelier-dev/atelier/internal/server"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// syncBuffer is a log sink shared by the server's goroutines and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func bufferLogger(b *syncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestBootstrap(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			dataDir := t.TempDir()
			dsn := storetest.DSN(t, engine)
			var firstLog syncBuffer
			first := servertest.StartWith(t, servertest.Options{Engine: engine, DataDir: dataDir, Database: dsn, Logger: bufferLogger(&firstLog)})
			path := filepath.Join(dataDir, server.BootstrapFile)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read %s after the first start: %v", path, err)
			}

			t.Run("file-has-exactly-the-documented-keys", func(t *testing.T) {
				var m map[string]any
				if err := json.Unmarshal(raw, &m); err != nil {
					t.Fatalf("bootstrap.json is not a JSON object: %v", err)
				}
				want := []string{"domain_name", "domain_id", "user_name", "user_id", "password", "access_key",
					"secret_key", "region", "project_name", "project_id", "endpoint"}
				var got []string
				for k, v := range m {
					got = append(got, k)
					if s, ok := v.(string); !ok || s == "" {
						t.Errorf("bootstrap.json %q = %#v; want a non-empty string", k, v)
					}
				}
				slices.Sort(want)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("bootstrap.json keys = %v; want exactly %v", got, want)
				}
			})

			t.Run("file-mode-0600", func(t *testing.T) {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if mode := fi.Mode().Perm(); mode != 0o600 {
					t.Errorf("bootstrap.json mode = %o; want 600", mode)
				}
			})

			t.Run("values", func(t *testing.T) {
				a := first.Account
				for name, id := range map[string]string{"project_id": a.ProjectID, "domain_id": a.DomainID, "user_id": a.UserID} {
					if !hex32.MatchString(id) {
						t.Errorf("%s = %q; want 32 lower-case hex digits", name, id)
					}
				}
				if a.Region != servertest.Region || a.ProjectName != servertest.Region {
					t.Errorf("region, project_name = %q, %q; want both %q", a.Region, a.ProjectName, servertest.Region)
				}
				if a.Endpoint != first.URL {
					t.Errorf("endpoint = %q; want the server's %q", a.Endpoint, first.URL)
				}
				if a.DomainName != "atelier" || a.UserName != "admin" {
					t.Errorf("domain_name, user_name = %q, %q; want atelier, admin", a.DomainName, a.UserName)
				}
			})

			t.Run("log-announces-without-secrets", func(t *testing.T) {
				logs := firstLog.String()
				if !strings.Contains(logs, "bootstrap") {
					t.Errorf("the first start logged nothing about the bootstrap; log:\n%s", logs)
				}
				for name, secret := range map[string]string{"password": first.Account.Password, "secret key": first.Account.SecretKey} {
					if strings.Contains(logs, secret) {
						t.Errorf("the log contains the bootstrap %s; log:\n%s", name, logs)
					}
				}
			})

			token := first.AdminToken(t)
			first.Stop(t)

			var secondLog syncBuffer
			second := servertest.StartWith(t, servertest.Options{Engine: engine, DataDir: dataDir, Database: dsn, Logger: bufferLogger(&secondLog)})

			t.Run("restart-bootstraps-nothing", func(t *testing.T) {
				again, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again, raw) {
					t.Errorf("bootstrap.json changed on restart:\nbefore: %s\nafter: %s", raw, again)
				}
				if second.Account.DomainID != first.Account.DomainID {
					t.Errorf("domain_id after restart = %s; want %s", second.Account.DomainID, first.Account.DomainID)
				}
				var n int
				if err := second.App.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM domains`).Scan(&n); err != nil {
					t.Fatalf("count domains: %v", err)
				}
				if n != 1 {
					t.Errorf("domains after restart = %d; want 1", n)
				}
				if logs := secondLog.String(); strings.Contains(logs, "bootstrapped") {
					t.Errorf("the second start logged a bootstrap; log:\n%s", logs)
				}
			})

			t.Run("token-survives-restart", func(t *testing.T) {
				resp, body := second.Do(t, http.MethodGet, "/v3/auth/projects", nil, map[string]string{"X-Auth-Token": token})
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET /v3/auth/projects with a token issued before the restart: %s %s; want 200", resp.Status, body)
				}
			})

			t.Run("aksk-survives-restart", func(t *testing.T) {
				req := second.SignedRequest(t, http.MethodGet, "/v3/auth/projects", nil, second.Account.AccessKey, second.Account.SecretKey, nil)
				resp, body := second.Send(t, req)
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET /v3/auth/projects signed with the bootstrap AK/SK after restart: %s %s; want 200", resp.Status, body)
				}
			})
		})
	}
}
