package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

func TestMigrationsAndConstraints(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert := func(tx interface {
			ExecContext(context.Context, string, ...any) (sql.Result, error)
		}, id, name string) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO domains (id, name, created_at) VALUES ($1, $2, $3)`, id, name, 1)
			return store.Classify(err)
		}
		if err := insert(db, store.NewID(), "acme"); err != nil {
			t.Fatalf("insert domain: %v", err)
		}
		if err := insert(db, store.NewID(), "acme"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate domain name: got %v, want ErrConflict", err)
		}
		_, err := db.ExecContext(ctx, `INSERT INTO users (id, domain_id, name, created_at, updated_at) VALUES ($1, $2, $3, 1, 1)`, store.NewID(), "missing", "u")
		if err := store.Classify(err); !errors.Is(err, store.ErrReferenced) {
			t.Fatalf("user in a missing domain: got %v, want ErrReferenced", err)
		}

		// A failing transaction leaves nothing behind.
		boom := errors.New("boom")
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			if err := insert(tx, store.NewID(), "half"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx error: got %v, want boom", err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE name = $1`, "half").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("rolled-back transaction left %d rows", n)
		}
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("domains after rollback: n=%d err=%v", n, err)
		}
	})
}

// TestReopen closes a migrated database and opens it again: no migration
// runs a second time and the data is still there.
func TestReopen(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			dsn, dir := storetest.DSN(t, engine), t.TempDir()
			migrations := func(db *store.DB) (rows, version int64) {
				t.Helper()
				if err := db.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version_id) FROM goose_db_version`).Scan(&rows, &version); err != nil {
					t.Fatalf("read the migration history: %v", err)
				}
				return rows, version
			}
			first, err := store.Open(ctx, dsn, dir)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if _, err := first.ExecContext(ctx, `INSERT INTO domains (id, name, created_at) VALUES ($1, $2, $3)`, store.NewID(), "kept", 1); err != nil {
				t.Fatal(err)
			}
			rows, version := migrations(first)
			if err := first.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}

			again, err := store.Open(ctx, dsn, dir)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer again.Close()
			if r, v := migrations(again); r != rows || v != version {
				t.Errorf("reopening ran migrations: history %d rows up to %d, was %d up to %d", r, v, rows, version)
			}
			var name string
			if err := again.QueryRowContext(ctx, `SELECT name FROM domains`).Scan(&name); err != nil || name != "kept" {
				t.Errorf("data after reopening: %q, %v", name, err)
			}
		})
	}
}

func TestNewIDIsTimeOrderedHex(t *testing.T) {
	prev := ""
	for i := 0; i < 1000; i++ {
		id := store.NewID()
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q is not 32 lowercase hex characters", id)
		}
		if id <= prev {
			t.Fatalf("id %q not after %q: ids must be time-ordered", id, prev)
		}
		prev = id
	}
}

// TestDatabaseClock reads the database's clock in the unit of the time
// columns; on this machine it agrees with the Go clock within a few seconds.
func TestDatabaseClock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		got, err := db.Now(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(got); d < -5*time.Second || d > 5*time.Second {
			t.Errorf("database clock %v is %v away from the Go clock", got, d)
		}
	})
}

// TestSQLitePathWithURICharacters: a data dir whose name holds characters
// that end or escape a URI's path opens the database in that dir, not in a
// truncated one that another data dir could share.
func TestSQLitePathWithURICharacters(t *testing.T) {
	for _, name := range []string{"runs#2", "what?", "100%"} {
		dir := filepath.Join(t.TempDir(), name)
		db, err := store.Open(context.Background(), "", dir)
		if err != nil {
			t.Fatalf("open in %q: %v", name, err)
		}
		var n int
		if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM domains`).Scan(&n); err != nil {
			t.Fatalf("read through the reader pool in %q: %v", name, err)
		}
		db.Close()
		entries, _ := os.ReadDir(filepath.Dir(dir))
		if len(entries) != 1 {
			t.Errorf("data dir %q: SQLite made files outside it: %v", name, entries)
		}
	}
}
