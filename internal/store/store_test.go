package store_test

import (
	"context"
	"database/sql"
	"errors"
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

		// Reopening an up-to-date database runs no migration and keeps data.
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("domains after rollback: n=%d err=%v", n, err)
		}
	})
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
