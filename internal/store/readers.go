package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
	"modernc.org/sqlite"

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
// next reader must not find the pool empty in that instant.) Everything else (Exec, transactions, Conn) runs on the
// writer pool, whose writes SQLite serializes anyway.

// readSlots is how many reads run at once: SQLite reads of cached pages are
// CPU work, so a few per core keep the cores busy without piling up.
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

// QueryContext runs a read outside any transaction. On SQLite it waits for
// a read slot and runs on the read-only pool: a statement that writes
// (INSERT … RETURNING) fails there and belongs in a transaction.
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
	rdb := sql.OpenDB(readConnector{dsn: dsn})
	rdb.SetMaxOpenConns(2 * n)
	rdb.SetMaxIdleConns(2 * n)
	return rdb, &readGate{sem: semaphore.NewWeighted(int64(n))}
}

// readConnector opens SQLite connections whose queries hand their slot
// to the rows they return.
type readConnector struct{ dsn string }

func (c readConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := (&sqlite.Driver{}).Open(c.dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite reader: %w", err)
	}
	return &readConn{sqliteConn: conn.(sqliteConn)}, nil
}

func (c readConnector) Driver() driver.Driver { return &sqlite.Driver{} }

// sqliteConn is what database/sql uses of a modernc.org/sqlite connection.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// readConn is a reader connection. Its queries hand their slot to their
// rows, and run on statements it keeps prepared: parsing and planning a
// query is a tenth to a fifth of a sample page's time, and the hot reads
// are the same few query texts over and over. A statement is only ever
// used by one query at a time: database/sql gives a connection to one
// caller until its rows are closed, and closing rows resets the statement.
type readConn struct {
	sqliteConn
	stmts map[string]driver.Stmt
}

// maxPreparedPerConn bounds a reader connection's prepared statements:
// queries built with varying IN lists or filters must not grow the cache
// without end; when full, it starts over.
const maxPreparedPerConn = 128

func (c *readConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, _ := ctx.Value(slotKey{}).(*slot)
	rows, err := c.query(ctx, query, args)
	if s == nil {
		return rows, err
	}
	if err != nil {
		s.release()
		return nil, err
	}
	return &slotRows{Rows: rows, slot: s}, nil
}

// query runs query on its prepared statement, preparing it first if this
// connection has not yet.
func (c *readConn) query(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st, ok := c.stmts[query]
	if !ok {
		if len(c.stmts) >= maxPreparedPerConn {
			c.dropStatements()
		}
		var err error
		if st, err = c.sqliteConn.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		if c.stmts == nil {
			c.stmts = make(map[string]driver.Stmt)
		}
		c.stmts[query] = st
	}
	return st.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (c *readConn) dropStatements() {
	for q, st := range c.stmts {
		_ = st.Close()
		delete(c.stmts, q)
	}
}

// Close finalizes the connection's statements, then closes it.
func (c *readConn) Close() error {
	c.dropStatements()
	return c.sqliteConn.Close()
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
