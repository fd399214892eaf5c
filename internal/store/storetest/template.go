package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
)

// Migrating a database is most of what opening a test database costs under
// the race detector (SQLite's parser is pure Go there, checked at every
// pointer step; goose parses every migration file again), about a third of
// the CPU of a package like internal/tasks, and the server's tests start
// well over a hundred servers. With Main, each engine is migrated once per
// test binary (the store's and River's migrations, nothing else: no
// account, no secret, no data-dir claim) and every database Migrated hands
// out is a copy of that template: SQLite copies the file, PostgreSQL
// creates the database WITH TEMPLATE. The migrations themselves still run,
// once per engine per binary, and from empty in the store's own tests
// (DSN).

// templates is the per-binary cache of migrated databases; nil (no Main)
// means Migrated hands out empty databases that the store migrates.
var templates *templateSet

type templateSet struct {
	mu     sync.Mutex
	dir    string // holds the SQLite template
	byEng  map[store.Engine]*template
	pgBase string
}

type template struct {
	once sync.Once
	err  error
	ref  string // SQLite: the file; PostgreSQL: the database name
}

// Main runs a package's tests with migrated template databases and removes
// them afterwards. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "atelier-storetest-templates-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "storetest: make the template directory: %v\n", err)
		return 1
	}
	templates = &templateSet{dir: dir, byEng: map[store.Engine]*template{}, pgBase: os.Getenv(EnvPostgres)}
	code := m.Run()
	if err := templates.drop(); err != nil {
		fmt.Fprintf(os.Stderr, "storetest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Migrated returns the connection string of a new database of engine for
// this test with the store's and River's migrations applied (a copy of the
// binary's template under Main; without Main an empty database that
// store.Open migrates), dropped when the test ends.
func Migrated(t testing.TB, engine store.Engine) string {
	t.Helper()
	if templates == nil {
		return DSN(t, engine)
	}
	if engine == store.Postgres && templates.pgBase == "" {
		return DSN(t, engine) // skips the test, as before
	}
	tpl, err := templates.get(engine)
	if err != nil {
		t.Fatalf("prepare the migrated %s template database: %v", engine, err)
	}
	switch engine {
	case store.SQLite:
		path := filepath.Join(t.TempDir(), "atelier.db")
		if err := copyFile(tpl.ref, path); err != nil {
			t.Fatalf("copy the SQLite template database: %v", err)
		}
		return path
	case store.Postgres:
		return clonePostgres(t, templates.pgBase, tpl.ref)
	}
	t.Fatalf("unknown engine %q", engine)
	return ""
}

func (s *templateSet) get(engine store.Engine) (*template, error) {
	s.mu.Lock()
	tpl := s.byEng[engine]
	if tpl == nil {
		tpl = &template{}
		s.byEng[engine] = tpl
	}
	s.mu.Unlock()
	tpl.once.Do(func() { tpl.ref, tpl.err = s.build(engine) })
	return tpl, tpl.err
}

// build makes the template of engine: an empty database with the store's
// and River's migrations applied, closed so that it can be copied.
func (s *templateSet) build(engine store.Engine) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var dsn, ref string
	switch engine {
	case store.SQLite:
		ref = filepath.Join(s.dir, "atelier.db")
		dsn = ref
	case store.Postgres:
		ref = "atelier_test_tpl_" + randomHex()
		if err := adminExec(ctx, s.pgBase, "CREATE DATABASE "+ref); err != nil {
			return "", err
		}
		dsn = withDatabase(s.pgBase, ref)
	default:
		return "", fmt.Errorf("unknown engine %q", engine)
	}
	db, err := store.Open(ctx, dsn, s.dir)
	if err != nil {
		return ref, err
	}
	err = migrateRiver(ctx, db)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close the template: %w", cerr)
	}
	return ref, err
}

// migrateRiver applies River's migrations, as the task manager's start
// does, and leaves a SQLite template whole in its main file.
func migrateRiver(ctx context.Context, db *store.DB) error {
	_, closeDriver, err := db.QueueDriver(ctx, slog.New(slog.DiscardHandler), false)
	if err != nil {
		return fmt.Errorf("apply River's migrations: %w", err)
	}
	closeDriver()
	if db.Engine == store.SQLite {
		if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return fmt.Errorf("checkpoint the template: %w", err)
		}
	}
	return nil
}

// drop removes the templates; PostgreSQL's are databases of their own.
func (s *templateSet) drop() error {
	defer os.RemoveAll(s.dir)
	if tpl := s.byEng[store.Postgres]; tpl != nil && tpl.ref != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, s.pgBase, "DROP DATABASE IF EXISTS "+tpl.ref+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop the PostgreSQL template database: %w", err)
		}
	}
	return nil
}

// clonePostgres creates a database from the template for this test and
// drops it at cleanup.
func clonePostgres(t testing.TB, base, tpl string) string {
	t.Helper()
	name := "atelier_test_" + randomHex()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := adminExec(ctx, base, "CREATE DATABASE "+name+" TEMPLATE "+tpl); err != nil {
		t.Fatalf("create PostgreSQL test database %s from the template: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop PostgreSQL test database %s: %v", name, err)
		}
	})
	return withDatabase(base, name)
}

func adminExec(ctx context.Context, base, stmt string) error {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return fmt.Errorf("open %s: %w", EnvPostgres, err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base // store.Open reports the unparsable URL
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// copyFile copies the template to a new file of the store's mode.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, store.FileMode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
