package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// TestStoreContract holds what domain code relies on from the store, on
// every engine: the same statements, the same results. A new engine (or a
// change to a pool, a pragma, a driver) must pass it unchanged.
func TestStoreContract(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, db *store.DB)
	}{
		{"reads see what the writers committed at once", readsSeeCommittedWrites},
		{"ForUpdate serializes read-modify-write transactions", forUpdateSerializes},
		{"Param numbers thousands of arguments in one statement", paramsInOneStatement},
		{"WriteRow writes outside a transaction and returns the row", writeRowReturns},
		{"InTx keeps nothing of a failed or panicking transaction", inTxAllOrNothing},
		{"InScrubbingTx commits like InTx", scrubbingTxCommits},
		{"the database clock is the wall clock in milliseconds", databaseClock},
		{"QueueDriver applies River's migrations", queueDriverMigrates},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE contract_counters (id TEXT PRIMARY KEY, n BIGINT NOT NULL)`); err != nil {
			t.Fatalf("create the contract's table: %v", err)
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if _, err := db.ExecContext(ctx, `DELETE FROM contract_counters`); err != nil {
					t.Fatalf("empty the contract's table: %v", err)
				}
				c.run(t, ctx, db)
			})
		}
	})
}

func counter(t *testing.T, ctx context.Context, db *store.DB, id string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT n FROM contract_counters WHERE id = $1`, id).Scan(&n); err != nil {
		t.Fatalf("read counter %s: %v", id, err)
	}
	return n
}

func readsSeeCommittedWrites(t *testing.T, ctx context.Context, db *store.DB) {
	for i := range 50 {
		if _, err := db.ExecContext(ctx, `INSERT INTO contract_counters (id, n) VALUES ($1, $2)`, fmt.Sprint("exec", i), i); err != nil {
			t.Fatal(err)
		}
		if got := counter(t, ctx, db, fmt.Sprint("exec", i)); got != int64(i) {
			t.Fatalf("a read right after an Exec saw %d, want %d", got, i)
		}
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE contract_counters SET n = n + 1000 WHERE id = $1`, fmt.Sprint("exec", i))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := counter(t, ctx, db, fmt.Sprint("exec", i)); got != int64(i+1000) {
			t.Fatalf("a read right after a commit saw %d, want %d", got, i+1000)
		}
	}
}

func forUpdateSerializes(t *testing.T, ctx context.Context, db *store.DB) {
	if _, err := db.ExecContext(ctx, `INSERT INTO contract_counters (id, n) VALUES ('c', 0)`); err != nil {
		t.Fatal(err)
	}
	const workers, each = 6, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := db.InTx(ctx, func(tx *sql.Tx) error {
					var n int64
					if err := tx.QueryRowContext(ctx, `SELECT n FROM contract_counters WHERE id = 'c'`+db.ForUpdate()).Scan(&n); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `UPDATE contract_counters SET n = $1 WHERE id = 'c'`, n+1)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("read-modify-write: %v", err)
	}
	if got := counter(t, ctx, db, "c"); got != workers*each {
		t.Fatalf("%d concurrent increments left the counter at %d: updates were lost", workers*each, got)
	}
}

func paramsInOneStatement(t *testing.T, ctx context.Context, db *store.DB) {
	const rows = 2000
	var b strings.Builder
	b.WriteString(`INSERT INTO contract_counters (id, n) VALUES `)
	args := make([]any, 0, 2*rows)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "(%s, %s)", db.Param(2*i+1), db.Param(2*i+2))
		args = append(args, fmt.Sprintf("p%04d", i), i)
	}
	if _, err := db.ExecContext(ctx, b.String(), args...); err != nil {
		t.Fatalf("insert %d rows in one statement: %v", rows, err)
	}
	var n, sum int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*), SUM(n) FROM contract_counters`).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != rows || sum != rows*(rows-1)/2 {
		t.Fatalf("got %d rows summing to %d, want %d summing to %d: arguments were bound out of order", n, sum, rows, rows*(rows-1)/2)
	}
	if got := counter(t, ctx, db, "p1234"); got != 1234 {
		t.Fatalf("row p1234 holds %d", got)
	}
}

func writeRowReturns(t *testing.T, ctx context.Context, db *store.DB) {
	var n int64
	if err := db.WriteRow(ctx, `INSERT INTO contract_counters (id, n) VALUES ('w', 7) RETURNING n`).Scan(&n); err != nil || n != 7 {
		t.Fatalf("WriteRow returned %d, %v; want 7", n, err)
	}
	err := db.WriteRow(ctx, `INSERT INTO contract_counters (id, n) VALUES ('w', 8) RETURNING n`).Scan(&n)
	if !store.IsConflict(err) {
		t.Fatalf("a duplicate WriteRow: got %v, want a conflict", err)
	}
}

func inTxAllOrNothing(t *testing.T, ctx context.Context, db *store.DB) {
	boom := errors.New("boom")
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO contract_counters (id, n) VALUES ('failed', 1)`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want the callback's error", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("InTx swallowed a panic")
			}
		}()
		_ = db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO contract_counters (id, n) VALUES ('panicked', 1)`); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM contract_counters`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows (err %v) survived a failed and a panicking transaction", n, err)
	}
	// The pool is still usable: the panicking transaction did not keep
	// its connection (or, on SQLite, the write lock).
	if _, err := db.ExecContext(ctx, `INSERT INTO contract_counters (id, n) VALUES ('after', 1)`); err != nil {
		t.Fatalf("write after a panicking transaction: %v", err)
	}
}

func scrubbingTxCommits(t *testing.T, ctx context.Context, db *store.DB) {
	err := db.InScrubbingTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO contract_counters (id, n) VALUES ('s', 3)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ScrubWAL(ctx); err != nil {
		t.Fatal(err)
	}
	if got := counter(t, ctx, db, "s"); got != 3 {
		t.Fatalf("scrubbing transaction left %d", got)
	}
}

func databaseClock(t *testing.T, ctx context.Context, db *store.DB) {
	before := time.Now().Add(-time.Second)
	at, err := db.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after := time.Now().Add(time.Second); at.Before(before) || at.After(after) {
		t.Fatalf("database clock says %v, the process %v", at, time.Now())
	}
	var ms int64
	if err := db.QueryRowContext(ctx, `SELECT `+db.NowMillis()).Scan(&ms); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(store.FromMillis(ms)); d < -time.Second || d > time.Second {
		t.Fatalf("NowMillis is %v away from the process clock", d)
	}
}

func queueDriverMigrates(t *testing.T, ctx context.Context, db *store.DB) {
	for _, listen := range []bool{false, true} {
		_, closeDriver, err := db.QueueDriver(ctx, nil, listen)
		if err != nil {
			t.Fatalf("QueueDriver(listen=%v): %v", listen, err)
		}
		closeDriver()
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatalf("River's job table after QueueDriver: %v", err)
	}
}
