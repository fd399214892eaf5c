package server_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"

	"github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/secrets"
	"github.com/atelier-dev/atelier/internal/server"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// permissiveUmask sets the process umask to 0 for the test, so that every
// mode the server ends up with is one it chose, not one the umask trimmed.
// The umask is process-wide: tests using it must not run in parallel.
func permissiveUmask(t *testing.T) {
	t.Helper()
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
}

// TestDataDirModes: the data directory, database files, key file and the
// local object store are private to the server's user, under any umask, and
// a data directory left open by an older version is tightened at start.
func TestDataDirModes(t *testing.T) {
	permissiveUmask(t)
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			// As an older version left it: open directories.
			if err := os.MkdirAll(filepath.Join(dataDir, "obs"), 0o755); err != nil {
				t.Fatal(err)
			}
			dsn := filepath.Join(dataDir, "atelier.db") // the default place
			if engine == store.Postgres {
				dsn = storetest.DSN(t, engine)
			} else if err := os.WriteFile(dsn, nil, 0o644); err != nil { // an empty database, open to all
				t.Fatal(err)
			}
			env := servertest.StartWith(t, servertest.Options{Engine: engine, DataDir: dataDir, Database: dsn})
			ctx := context.Background()
			if err := env.App.Objects.CreateBucket(ctx, "private"); err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{"a.txt", "deep/er/b.txt"} {
				if _, err := env.App.Objects.Put(ctx, "private", key, strings.NewReader("content of "+key), obs.PutOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			// Through the API too, as a client uploads.
			resp, body := env.Do(t, http.MethodPut, "/v1/"+env.Account.ProjectID+"/obs/buckets/private/objects/api/c.txt", "via the API", map[string]string{"X-Auth-Token": env.AdminToken(t)})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("PUT object through the API: %s %s", resp.Status, body)
			}

			want := map[string]fs.FileMode{dataDir: 0o700, filepath.Join(dataDir, "bootstrap.json"): 0o600,
				filepath.Join(dataDir, "secrets.key"): 0o600}
			if engine == store.SQLite {
				for _, suffix := range []string{"", "-wal", "-shm"} {
					want[dsn+suffix] = 0o600
				}
			}
			for p, mode := range want {
				fi, err := os.Stat(p)
				if err != nil {
					t.Errorf("%s: %v", p, err)
					continue
				}
				if got := fi.Mode().Perm(); got != mode {
					t.Errorf("%s mode = %o; want %o", p, got, mode)
				}
			}
			objects, files := 0, 0
			err := filepath.WalkDir(filepath.Join(dataDir, "obs"), func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				fi, err := d.Info()
				if err != nil {
					return err
				}
				want := fs.FileMode(0o600)
				if d.IsDir() {
					want = 0o700
				} else {
					files++
					if strings.HasSuffix(p, ".txt") {
						objects++
					}
				}
				if got := fi.Mode().Perm(); got != want {
					t.Errorf("%s mode = %o; want %o", p, got, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if objects != 3 || files <= objects {
				t.Errorf("walked %d objects and %d files under obs/; want the 3 objects and their metadata records", objects, files)
			}
		})
	}
}

// rawSecrets returns every stored access-key secret and server secret as
// the database holds them.
func rawSecrets(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, q := range []string{`SELECT 'credentials/' || access_key, secret FROM credentials`, `SELECT 'server_secrets/' || name, value FROM server_secrets`} {
		rows, err := db.QueryContext(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			out[k] = v
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// assertNothingInClear fails if any of the known plaintexts appears in a
// stored row or, on SQLite, anywhere in the database files' bytes.
func assertNothingInClear(t *testing.T, env *servertest.Env, known map[string]string) {
	t.Helper()
	for row, v := range rawSecrets(t, env.App.DB) {
		if !secrets.Sealed(v) {
			t.Errorf("%s is stored in clear: %q", row, v)
		}
		for what, plain := range known {
			if strings.Contains(v, plain) {
				t.Errorf("%s holds %s in clear", row, what)
			}
		}
	}
	if env.Engine != store.SQLite {
		return
	}
	for _, suffix := range []string{"", "-wal"} {
		raw, err := os.ReadFile(env.Database + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for what, plain := range known {
			if bytes.Contains(raw, []byte(plain)) {
				t.Errorf("the bytes of %s contain %s", filepath.Base(env.Database+suffix), what)
			}
		}
	}
}

// serverKeys opens the sealed server secrets with the data directory's KEK.
func serverKeys(t *testing.T, env *servertest.Env) map[string]string {
	t.Helper()
	box, err := secrets.LoadFile(filepath.Join(env.DataDir, "secrets.key"))
	if err != nil {
		t.Fatalf("load the data directory's key-encryption key: %v", err)
	}
	out := map[string]string{}
	for row, v := range rawSecrets(t, env.App.DB) {
		if name, ok := strings.CutPrefix(row, "server_secrets/"); ok {
			plain, err := box.Open(row, v)
			if err != nil {
				t.Fatalf("open %s with the KEK: %v", row, err)
			}
			out["server key "+name] = string(plain)
		}
	}
	if len(out) != 3 {
		t.Fatalf("server secrets = %v; want the token-signing and presign keys and the database's identity", out)
	}
	return out
}

// TestSecretsSealedAtRest: neither access-key secrets nor the server's keys
// are in the database in clear, and the server still verifies AK/SK
// signatures (through the official SDK) and tokens, also after a restart.
func TestSecretsSealedAtRest(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			env := servertest.Start(t, engine)
			a := env.Account
			admin := env.IAMClient(t, a.AccessKey, a.SecretKey)
			created, err := admin.CreatePermanentAccessKey(&model.CreatePermanentAccessKeyRequest{Body: &model.CreatePermanentAccessKeyRequestBody{
				Credential: &model.CreateCredentialOption{UserId: a.UserID}}})
			if err != nil {
				t.Fatalf("CreatePermanentAccessKey: %v", err)
			}
			ak2, sk2 := created.Credential.Access, created.Credential.Secret
			token := env.AdminToken(t)

			known := map[string]string{"the bootstrap secret key": a.SecretKey, "a created secret key": sk2}
			assertNothingInClear(t, env, known)
			for what, key := range serverKeys(t, env) {
				known[what] = key
			}
			assertNothingInClear(t, env, known)
			dataDir, dsn := env.DataDir, env.Database
			env.Stop(t)

			again := servertest.StartWith(t, servertest.Options{Engine: engine, DataDir: dataDir, Database: dsn})
			assertNothingInClear(t, again, known)
			for _, c := range [][2]string{{a.AccessKey, a.SecretKey}, {ak2, sk2}} {
				if _, err := again.IAMClient(t, c[0], c[1]).KeystoneListAuthProjects(&model.KeystoneListAuthProjectsRequest{}); err != nil {
					t.Errorf("KeystoneListAuthProjects signed with %s after a restart: %v", c[0], err)
				}
			}
			resp, body := again.Do(t, http.MethodGet, "/v3/auth/projects", nil, map[string]string{"X-Auth-Token": token})
			if resp.StatusCode != http.StatusOK {
				t.Errorf("a token issued before the restart: %s %s; want 200", resp.Status, body)
			}
		})
	}
}

// TestPlaintextSecretsSealedAtStart: a database written by a version that
// stored secrets in clear (and had no key file) is sealed at the next start,
// keeping every key: the same AK/SK still signs and a token issued before
// still verifies. Another start changes nothing.
func TestPlaintextSecretsSealedAtStart(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			env := servertest.Start(t, engine)
			a := env.Account
			token := env.AdminToken(t)
			keys := serverKeys(t, env)
			dataDir, dsn := env.DataDir, env.Database
			env.Stop(t)

			// Turn the data back into what an older version left.
			ctx := context.Background()
			db, err := store.Open(ctx, dsn, dataDir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `UPDATE credentials SET secret = $1 WHERE access_key = $2`, a.SecretKey, a.AccessKey); err != nil {
				t.Fatal(err)
			}
			for what, v := range keys {
				if _, err := db.ExecContext(ctx, `UPDATE server_secrets SET value = $1 WHERE name = $2`, v, strings.TrimPrefix(what, "server key ")); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dataDir, "secrets.key")); err != nil {
				t.Fatal(err)
			}

			known := map[string]string{"the bootstrap secret key": a.SecretKey}
			for what, v := range keys {
				known[what] = v
			}
			var sealed map[string]string
			for _, round := range []string{"upgrade", "next-start"} {
				env := servertest.StartWith(t, servertest.Options{Engine: engine, DataDir: dataDir, Database: dsn})
				assertNothingInClear(t, env, known)
				if got := serverKeys(t, env); !equalMaps(got, keys) {
					t.Errorf("%s: the server keys changed while being sealed", round)
				}
				if _, err := env.IAMClient(t, a.AccessKey, a.SecretKey).KeystoneListAuthProjects(&model.KeystoneListAuthProjectsRequest{}); err != nil {
					t.Errorf("%s: KeystoneListAuthProjects signed with the bootstrap AK/SK: %v", round, err)
				}
				resp, body := env.Do(t, http.MethodGet, "/v3/auth/projects", nil, map[string]string{"X-Auth-Token": token})
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s: a token issued before sealing: %s %s; want 200", round, resp.Status, body)
				}
				raw := rawSecrets(t, env.App.DB)
				if sealed != nil && !equalMaps(raw, sealed) {
					t.Errorf("%s: sealed values changed on a start with nothing to seal:\nbefore %v\nafter  %v", round, sealed, raw)
				}
				sealed = raw
				env.Stop(t)
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// openServer opens (without serving) a server on existing data, for the
// starts that must fail.
func openServer(t *testing.T, dataDir, dsn string, configure func(*config.Config)) (*server.App, error) {
	t.Helper()
	cfg := config.Config{DataDir: dataDir, Listen: "127.0.0.1:0", Database: dsn, Region: servertest.Region, LogLevel: "info"}
	if configure != nil {
		configure(&cfg)
	}
	app, err := server.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Cleanup(func() { app.Close() })
	}
	return app, err
}

// TestSecretsKeyRefusals: a server never runs on sealed data with a key
// that does not open it, and never makes a new key over sealed data; a
// replica with its own data directory runs on the shared key file.
func TestSecretsKeyRefusals(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			env := servertest.Start(t, engine)
			a := env.Account
			dataDir, dsn := env.DataDir, env.Database
			env.Stop(t)
			keyFile := filepath.Join(dataDir, "secrets.key")
			kek, err := os.ReadFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}

			t.Run("another-key", func(t *testing.T) {
				other := filepath.Join(t.TempDir(), "other.key")
				if _, err := secrets.CreateFile(other); err != nil {
					t.Fatal(err)
				}
				_, err := openServer(t, dataDir, dsn, func(c *config.Config) { c.SecretsKeyFile = other })
				if err == nil || !strings.Contains(err.Error(), "sealed with another key-encryption key") || !strings.Contains(err.Error(), other) {
					t.Fatalf("start with another key file: %v; want a refusal naming the file and the cause", err)
				}
			})
			t.Run("key-file-missing", func(t *testing.T) {
				if err := os.Remove(keyFile); err != nil {
					t.Fatal(err)
				}
				defer os.WriteFile(keyFile, kek, 0o600)
				_, err := openServer(t, dataDir, dsn, nil)
				if err == nil || !strings.Contains(err.Error(), "is missing") || !strings.Contains(err.Error(), keyFile) {
					t.Fatalf("start without the key file: %v; want a refusal naming the missing file", err)
				}
				if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
					t.Errorf("the refused start left a key file behind (%v): the next start would take it for the real one", err)
				}
			})
			t.Run("replica-shares-key-file", func(t *testing.T) {
				shared := filepath.Join(t.TempDir(), "shared.key")
				if err := os.WriteFile(shared, kek, 0o600); err != nil {
					t.Fatal(err)
				}
				if engine == store.SQLite {
					// A replica of SQLite is the same database file.
					_, err := openServer(t, t.TempDir(), dsn, nil)
					if err == nil || !strings.Contains(err.Error(), "is missing") {
						t.Fatalf("a second data directory without --secrets-key-file: %v; want a refusal", err)
					}
				}
				// servertest reads the account from the data directory.
				replicaDir := t.TempDir()
				if b, err := os.ReadFile(filepath.Join(dataDir, "bootstrap.json")); err != nil || os.WriteFile(filepath.Join(replicaDir, "bootstrap.json"), b, 0o600) != nil {
					t.Fatalf("copy bootstrap.json: %v", err)
				}
				replica := servertest.StartWith(t, servertest.Options{Engine: engine, DataDir: replicaDir, Database: dsn,
					Configure: func(c *config.Config) { c.SecretsKeyFile = shared }})
				if _, err := replica.IAMClient(t, a.AccessKey, a.SecretKey).KeystoneListAuthProjects(&model.KeystoneListAuthProjectsRequest{}); err != nil {
					t.Errorf("a replica with the shared key file: KeystoneListAuthProjects: %v", err)
				}
			})
		})
	}
}

// TestSecretsKeyRotation: starting with a new key file and the old one as
// --previous-secrets-key-file re-seals everything with the new key; from
// then on the new key alone opens the database and the old one is refused.
// With the default key file moved away, the start makes the new one.
func TestSecretsKeyRotation(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			env := servertest.Start(t, engine)
			a := env.Account
			token := env.AdminToken(t)
			keys := serverKeys(t, env)
			dataDir, dsn := env.DataDir, env.Database
			env.Stop(t)
			keyFile := filepath.Join(dataDir, "secrets.key")
			oldKey := filepath.Join(t.TempDir(), "old.key")
			if err := os.Rename(keyFile, oldKey); err != nil {
				t.Fatal(err)
			}

			t.Run("wrong-previous-key", func(t *testing.T) {
				wrong := filepath.Join(t.TempDir(), "wrong.key")
				if _, err := secrets.CreateFile(wrong); err != nil {
					t.Fatal(err)
				}
				_, err := openServer(t, dataDir, dsn, func(c *config.Config) { c.PreviousSecretsKeyFile = wrong })
				if err == nil || !strings.Contains(err.Error(), "sealed with another key-encryption key") {
					t.Fatalf("rotate from a key that did not seal the data: %v; want a refusal", err)
				}
				if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
					t.Errorf("the failed rotation left a new key file behind (%v)", err)
				}
			})

			rotated := servertest.StartWith(t, servertest.Options{Engine: engine, DataDir: dataDir, Database: dsn,
				Configure: func(c *config.Config) { c.PreviousSecretsKeyFile = oldKey }})
			if got := serverKeys(t, rotated); !equalMaps(got, keys) {
				t.Errorf("the server keys changed in the rotation")
			}
			old, err := secrets.LoadFile(oldKey)
			if err != nil {
				t.Fatal(err)
			}
			for row, v := range rawSecrets(t, rotated.App.DB) {
				if _, err := old.Open(row, v); err == nil {
					t.Errorf("%s still opens with the old key after the rotation", row)
				}
			}
			rotated.Stop(t)

			again := servertest.StartWith(t, servertest.Options{Engine: engine, DataDir: dataDir, Database: dsn})
			if _, err := again.IAMClient(t, a.AccessKey, a.SecretKey).KeystoneListAuthProjects(&model.KeystoneListAuthProjectsRequest{}); err != nil {
				t.Errorf("after the rotation, KeystoneListAuthProjects signed with the bootstrap AK/SK: %v", err)
			}
			resp, body := again.Do(t, http.MethodGet, "/v3/auth/projects", nil, map[string]string{"X-Auth-Token": token})
			if resp.StatusCode != http.StatusOK {
				t.Errorf("after the rotation, a token issued before: %s %s; want 200", resp.Status, body)
			}
			again.Stop(t)
			if _, err := openServer(t, dataDir, dsn, func(c *config.Config) { c.SecretsKeyFile = oldKey }); err == nil {
				t.Errorf("the old key still starts the server after the rotation")
			}
		})
	}
}
