package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// TestBulkWriter writes more batches than the writer's WAL restart period
// on each engine, with a failing batch and a cancelled one among them, and
// checks what other connections see after each.
func TestBulkWriter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE bulk_rows (batch INTEGER NOT NULL, n INTEGER NOT NULL)`); err != nil {
			t.Fatalf("create the test table: %v", err)
		}
		count := func() int {
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM bulk_rows`).Scan(&n); err != nil {
				t.Fatalf("count rows from another connection: %v", err)
			}
			return n
		}
		errBatch := errors.New("batch refused")
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		const rows = 300
		steps := []struct {
			name string
			ctx  context.Context
			fail bool
			want error // nil: committed
		}{
			{name: "1", ctx: ctx}, {name: "2", ctx: ctx}, {name: "3", ctx: ctx},
			{name: "failing", ctx: ctx, fail: true, want: errBatch},
			{name: "4", ctx: ctx}, {name: "5", ctx: ctx},
			{name: "cancelled", ctx: cancelled, want: context.Canceled},
			{name: "6", ctx: ctx}, {name: "7", ctx: ctx}, {name: "8", ctx: ctx}, {name: "9", ctx: ctx}, {name: "10", ctx: ctx},
		}
		w := db.BulkWriter(nil)
		committed := 0
		for i, st := range steps {
			err := w.InTx(st.ctx, func(tx *sql.Tx) error {
				for n := range rows {
					if _, err := tx.ExecContext(st.ctx, `INSERT INTO bulk_rows (batch, n) VALUES ($1, $2)`, i, n); err != nil {
						return err
					}
				}
				if st.fail {
					return errBatch
				}
				return nil
			})
			if !errors.Is(err, st.want) {
				t.Fatalf("batch %s: InTx returned %v; want %v", st.name, err, st.want)
			}
			if err == nil {
				committed++
			}
			if got := count(); got != committed*rows {
				t.Fatalf("after batch %s another connection sees %d rows; want %d (%d committed batches)", st.name, got, committed*rows, committed)
			}
		}
		w.Close()
		w.Close() // a second Close is harmless
		// A closed writer reserves a connection again when used.
		if err := w.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM bulk_rows WHERE batch = 0`)
			return err
		}); err != nil {
			t.Fatalf("InTx after Close: %v", err)
		}
		w.Close()
		if got := count(); got != (committed-1)*rows {
			t.Fatalf("after the delete another connection sees %d rows; want %d", got, (committed-1)*rows)
		}
		if db.Engine == store.SQLite {
			// Every pooled connection checkpoints on its own again.
			for range 8 {
				var auto int
				if err := db.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil {
					t.Fatalf("read wal_autocheckpoint: %v", err)
				}
				if auto != 1000 {
					t.Fatalf("a pooled connection has wal_autocheckpoint=%d after Close; want SQLite's 1000", auto)
				}
			}
		}
	})
}
