package store

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// openSQLite opens a migrated SQLite database in a temporary directory.
func openSQLite(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// eachEngine runs fn on a migrated SQLite database and, when
// ATELIER_TEST_POSTGRES names a server, on a fresh PostgreSQL database
// (the read gate admits both engines' reads).
func eachEngine(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, openSQLite(t)) })
	admin := os.Getenv("ATELIER_TEST_POSTGRES")
	if admin == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		ctx := context.Background()
		a, err := sql.Open("pgx", admin)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		name := "atelier_gate_" + strings.ToLower(NewID())
		if _, err := a.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatalf("create database: %v", err)
		}
		u, err := url.Parse(admin)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		db, err := Open(ctx, u.String(), t.TempDir())
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() {
			db.Close()
			if _, err := a.ExecContext(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
				t.Errorf("drop database %s: %v", name, err)
			}
		})
		fn(t, db)
	})
}

// slotsFree fails the test unless every read slot has been given back.
func slotsFree(t *testing.T, db *DB, after string) {
	t.Helper()
	n := int64(readSlots())
	if !db.gate.sem.TryAcquire(n) {
		t.Fatalf("after %s: not all %d read slots were given back", after, n)
	}
	db.gate.sem.Release(n)
}

func TestReadSlotsAreGivenBack(t *testing.T) {
	eachEngine(t, testReadSlotsAreGivenBack)
}

func testReadSlotsAreGivenBack(t *testing.T, db *DB) {
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `INSERT INTO domains (id, name, created_at) VALUES ('d1', 'one', 1), ('d2', 'two', 2)`); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		read func() error
	}{
		{"rows read to the end", func() error {
			rows, err := db.QueryContext(ctx, `SELECT id FROM domains`)
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			return rows.Err()
		}},
		{"rows closed early", func() error {
			rows, err := db.QueryContext(ctx, `SELECT id FROM domains`)
			if err != nil {
				return err
			}
			rows.Next()
			return rows.Close()
		}},
		{"one row scanned", func() error {
			var id string
			return db.QueryRowContext(ctx, `SELECT id FROM domains WHERE name = 'one'`).Scan(&id)
		}},
		{"no row", func() error {
			var id string
			if err := db.QueryRowContext(ctx, `SELECT id FROM domains WHERE name = 'none'`).Scan(&id); !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			return nil
		}},
		{"bad statement", func() error {
			if _, err := db.QueryContext(ctx, `SELEC nothing`); err == nil {
				return errors.New("a syntax error was accepted")
			}
			if err := db.QueryRowContext(ctx, `SELEC nothing`).Scan(new(int)); err == nil {
				return errors.New("a syntax error was accepted by QueryRowContext")
			}
			return nil
		}},
		{"context ended before", func() error {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := db.QueryContext(cctx, `SELECT id FROM domains`); !errors.Is(err, context.Canceled) {
				return errors.New("a read ran after its context ended")
			}
			if err := db.QueryRowContext(cctx, `SELECT id FROM domains`).Scan(new(string)); !errors.Is(err, context.Canceled) {
				return errors.New("a row read ran after its context ended")
			}
			return nil
		}},
		{"context ended with rows open", func() error {
			cctx, cancel := context.WithCancel(ctx)
			rows, err := db.QueryContext(cctx, `SELECT id FROM domains`)
			if err != nil {
				cancel()
				return err
			}
			cancel()
			for rows.Next() {
			}
			return nil // database/sql closes the rows when their context ends
		}},
		{"write refused by the read-only pool (SQLite)", func() error {
			err := db.QueryRowContext(ctx, `INSERT INTO domains (id, name, created_at) VALUES ('d3', 'three', 3) RETURNING id`).Scan(new(string))
			if err == nil && db.Engine == SQLite {
				return errors.New("a write ran on the read-only pool")
			}
			return nil
		}},
	}
	for _, c := range cases {
		if err := c.read(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// Rows whose context ends are closed on database/sql's goroutine:
		// give it a moment before counting.
		n := int64(readSlots())
		for range 200 {
			if db.gate.sem.TryAcquire(n) {
				db.gate.sem.Release(n)
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		slotsFree(t, db, c.name)
	}
}

// TestReadsDoNotStarveUnderLoad runs far more concurrent readers than slots
// beside a writer: every read completes and every slot comes back.
func TestReadsDoNotStarveUnderLoad(t *testing.T) {
	eachEngine(t, testReadsDoNotStarveUnderLoad)
}

func testReadsDoNotStarveUnderLoad(t *testing.T, db *DB) {
	ctx := context.Background()
	const readers, reads = 64, 40
	var wg sync.WaitGroup
	errs := make(chan error, readers+1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range reads {
			_, err := db.ExecContext(ctx, `INSERT INTO domains (id, name, created_at) VALUES ($1, $1, 1)`, NewID())
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range reads {
				var n int
				if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains`).Scan(&n); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent read or write failed: %v", err)
	}
	slotsFree(t, db, "64 concurrent readers")
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains`).Scan(&n); err != nil || n != reads {
		t.Fatalf("readers see %d domains (err %v), want the %d the writer committed", n, err, reads)
	}
}

// TestReadWaitRefusesPastTheBound: with every read slot taken, a read whose
// context carries a read wait is refused with ErrBusy once it has waited
// that long (QueryContext and QueryRowContext alike), while a read without
// one (a background task's) waits for its turn and then runs.
func TestReadWaitRefusesPastTheBound(t *testing.T) {
	eachEngine(t, testReadWaitRefusesPastTheBound)
}

func testReadWaitRefusesPastTheBound(t *testing.T, db *DB) {
	ctx := context.Background()
	n := readSlots()
	held := make([]*sql.Rows, n)
	for i := range held {
		rows, err := db.QueryContext(ctx, `SELECT 1 UNION ALL SELECT 2`)
		if err != nil {
			t.Fatal(err)
		}
		held[i] = rows // open rows keep their slot
	}
	const wait = 50 * time.Millisecond
	bounded := WithReadWait(ctx, wait)
	start := time.Now()
	if _, err := db.QueryContext(bounded, `SELECT 1`); !errors.Is(err, ErrBusy) {
		t.Errorf("QueryContext with every slot taken and a read wait: err %v, want ErrBusy", err)
	}
	var one int
	if err := db.QueryRowContext(bounded, `SELECT 1`).Scan(&one); !errors.Is(err, ErrBusy) {
		t.Errorf("QueryRowContext with every slot taken and a read wait: err %v, want ErrBusy", err)
	}
	if took := time.Since(start); took < 2*wait || took > 2*wait+time.Second {
		t.Errorf("two refused reads took %v, want about %v", took, 2*wait)
	}
	cancelled, cancel := context.WithCancel(bounded)
	cancel()
	if err := db.QueryRowContext(cancelled, `SELECT 1`).Scan(&one); !errors.Is(err, context.Canceled) {
		t.Errorf("a read whose context ended: err %v, want context.Canceled", err)
	}

	unbounded := make(chan error, 1)
	go func() { unbounded <- db.QueryRowContext(ctx, `SELECT 7`).Scan(&one) }()
	select {
	case err := <-unbounded:
		t.Fatalf("a read without a read wait ran (%v) while every slot was taken", err)
	case <-time.After(3 * wait):
	}
	held[0].Close()
	if err := <-unbounded; err != nil || one != 7 {
		t.Errorf("the waiting read, once a slot was free: %d, %v", one, err)
	}
	for _, r := range held[1:] {
		r.Close()
	}
	slotsFree(t, db, "refused and waiting reads")
}

// TestReadersReusePreparedStatements: a reader connection keeps its
// queries prepared, answers them right when asked again (after the schema
// changed, too), and keeps at most maxPreparedPerConn of them.
func TestReadersReusePreparedStatements(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE prep (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO prep (k, v) VALUES (1, 'one'), (2, 'two')`); err != nil {
		t.Fatal(err)
	}
	read := func(k int) string {
		t.Helper()
		var v string
		if err := db.QueryRowContext(ctx, `SELECT v FROM prep WHERE k = $1`, k).Scan(&v); err != nil {
			t.Fatalf("read %d: %v", k, err)
		}
		return v
	}
	for i := range 3 {
		if got := read(1 + i%2); got != []string{"one", "two"}[i%2] {
			t.Fatalf("read %d = %q", 1+i%2, got)
		}
	}
	if _, err := db.ExecContext(ctx, `ALTER TABLE prep ADD COLUMN w TEXT NOT NULL DEFAULT 'x'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE prep SET v = 'uno' WHERE k = 1`); err != nil {
		t.Fatal(err)
	}
	if got := read(1); got != "uno" {
		t.Fatalf("after the schema changed, read 1 = %q, want uno", got)
	}
	// Many distinct texts (as queries with IN lists of varying length are):
	// every answer right, the cache bounded.
	for n := 1; n <= 2*maxPreparedPerConn; n++ {
		var c int
		q := `SELECT count(*) FROM prep WHERE k IN (` + strings.Repeat("1,", n-1) + `1)`
		if err := db.QueryRowContext(ctx, q).Scan(&c); err != nil || c != 1 {
			t.Fatalf("query with %d-long IN list: %d, %v", n, c, err)
		}
	}
	conn, err := db.reader.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error {
		if n := len(dc.(readConn).stmts); n == 0 || n > maxPreparedPerConn {
			t.Errorf("a reader connection keeps %d prepared statements, want 1..%d", n, maxPreparedPerConn)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slotsFree(t, db, "prepared reads")
}
