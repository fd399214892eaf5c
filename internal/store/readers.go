package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/semaphore"

	"github.com/atelier-dev/atelier/internal/fault"
)

// SQLite's readers have a pool of their own beside the writers. In WAL mode
// readers never wait for the writer, but when both share one pool a burst
// of page reads takes every connection and writes queue behind them, and
// database/sql hands a freed connection to a random waiter (connRequestSet
// .TakeRandom), so under load some requests wait many turns while others
// wait none: 32 clients reading sample pages saw p50 44 ms and p99 1.58 s.
//
// Here a query outside a transaction (DB.QueryContext, DB.QueryRowContext)
// first takes a slot of a FIFO semaphore, then runs on a read-only
// connection, and gives the slot back when its rows are closed (which Scan
// does for a single row). There are as many connections as slots, so
// database/sql never queues a reader: the wait happens in the semaphore, in
// arrival order. (Twice as many connections, in fact: a slot is given back
// just before database/sql returns the connection to the pool, and the
// next reader must not find the pool empty in that instant.) Everything
// else (Exec, transactions, Conn) runs on the writer pool, whose writes
// SQLite serializes anyway. On PostgreSQL the same gate admits the reads
// to the one pool, and pgx's query tracer gives the slot back
// (slotTracer).

// readSlots is how many reads run at once: reads of cached pages are CPU
// work (SQLite's in this process, PostgreSQL's in its backends), so a few
// per core keep the cores busy without piling up. The bound is per
// process and sized by this machine's cores, also on PostgreSQL.
func readSlots() int {
	return min(32, max(4, 2*runtime.GOMAXPROCS(0)))
}

// readGate admits reads in arrival order.
type readGate struct{ sem *semaphore.Weighted }

// slot is one admitted read: release gives the slot back, once, whichever
// of the caller (a failed query) or the rows (closed) gets there first.
type slot struct {
	once sync.Once
	sem  *semaphore.Weighted
}

func (s *slot) release() { s.once.Do(func() { s.sem.Release(1) }) }

type slotKey struct{}

// ErrBusy refuses a read that waited its context's read wait (see
// WithReadWait) without getting a slot: the server is past what it can
// answer in time, and the API answers 429 with Retry-After, as the
// reference's status table says for a server over its capacity.
var ErrBusy = fault.New(fault.Throttled, "ModelArts.6101", "The system is busy now. Please try again later.")

type readWaitKey struct{}

// WithReadWait bounds how long reads made with ctx wait for their turn:
// past d they fail with ErrBusy instead of waiting on. The API sets it on
// every request, so that under overload some requests are refused at once
// rather than every one growing slower without limit; background tasks do
// not, and wait their turn however long it takes.
func WithReadWait(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, readWaitKey{}, d)
}

// acquire waits for a slot in arrival order; it fails when ctx ends, or
// with ErrBusy after ctx's read wait.
func (g *readGate) acquire(ctx context.Context) (*slot, error) {
	// TryAcquire fails while others wait, so arrival order holds.
	if g.sem.TryAcquire(1) {
		return &slot{sem: g.sem}, nil
	}
	wait, bounded := ctx.Value(readWaitKey{}).(time.Duration)
	if !bounded {
		if err := g.sem.Acquire(ctx, 1); err != nil {
			return nil, err
		}
		return &slot{sem: g.sem}, nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := g.sem.Acquire(wctx, 1); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ErrBusy
	}
	return &slot{sem: g.sem}, nil
}

// refusedContext is an ended context whose Err is a refusal of the gate's:
// database/sql checks its context first, so a query made with it returns a
// *sql.Row holding that error without touching a connection. It is the
// one way to hand a refused QueryRowContext's caller a Row with the reason.
type refusedContext struct {
	context.Context
	err error
}

var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (c refusedContext) Done() <-chan struct{} { return closedDone }
func (c refusedContext) Err() error            { return c.err }

// QueryContext runs a read outside any transaction after a read slot. On
// SQLite it runs on the read-only pool: a statement that writes
// (INSERT … RETURNING) fails there and belongs in a transaction (or
// WriteRow).
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if db.gate == nil {
		return db.DB.QueryContext(ctx, query, args...)
	}
	s, err := db.gate.acquire(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := db.reader.QueryContext(context.WithValue(ctx, slotKey{}, s), query, args...)
	if err != nil {
		s.release()
	}
	return rows, err
}

// QueryRowContext is QueryContext for one row; the slot is given back when
// the row is scanned.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if db.gate == nil {
		return db.DB.QueryRowContext(ctx, query, args...)
	}
	s, err := db.gate.acquire(ctx)
	if err != nil {
		// ctx has ended or the read was refused: the Row carries why.
		return db.reader.QueryRowContext(refusedContext{ctx, err}, query, args...)
	}
	row := db.reader.QueryRowContext(context.WithValue(ctx, slotKey{}, s), query, args...)
	if row.Err() != nil {
		s.release()
	}
	return row
}

// WriteRow runs, outside a transaction, one statement that writes and
// returns a row (INSERT … RETURNING): on the writers' pool, since
// QueryRowContext reads on SQLite's read-only one.
func (db *DB) WriteRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.DB.QueryRowContext(ctx, query, args...)
}

// openReaders opens the read-only pool of the SQLite database at dsn.
func openReaders(dsn string) (*sql.DB, *readGate) {
	n := readSlots()
	rdb := sql.OpenDB(sqliteConnector{dsn: dsn, reader: true})
	rdb.SetMaxOpenConns(2 * n)
	rdb.SetMaxIdleConns(2 * n)
	return rdb, newReadGate()
}

func newReadGate() *readGate {
	return &readGate{sem: semaphore.NewWeighted(int64(readSlots()))}
}

// slotTracer gives a PostgreSQL read's slot back when pgx ends the query:
// when its rows are closed (which Scan does for a single row) or it
// failed. On PostgreSQL the gate admits reads to the one pool, which
// holds more connections than there are slots (writes and transactions
// take theirs without a slot): 32 clients reading sample pages straight
// from the pool made PostgreSQL's backends share two cores 32 ways, and
// saw p50 35 ms, p99 2 s and half the throughput of 4 clients.
type slotTracer struct{}

func (slotTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (slotTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if s, ok := ctx.Value(slotKey{}).(*slot); ok {
		s.release()
	}
}

// readConn is a reader connection: its queries hand their slot to their
// rows.
type readConn struct{ *preparedConn }

func (c readConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, _ := ctx.Value(slotKey{}).(*slot)
	rows, err := c.preparedConn.QueryContext(ctx, query, args)
	if s == nil {
		return rows, err
	}
	if err != nil {
		s.release()
		return nil, err
	}
	return &slotRows{Rows: rows, slot: s}, nil
}

// slotRows gives the read slot back when closed.
type slotRows struct {
	driver.Rows
	slot *slot
}

func (r *slotRows) Close() error {
	err := r.Rows.Close()
	r.slot.release()
	return err
}
