package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
)

// BulkWriter writes a long run of batches (an import of a million
// samples), each in its own transaction, on one connection it holds for the
// whole run. On SQLite a connection's page cache survives between its
// transactions only while no other connection writes; a pooled connection
// last used by a reader (a client polling the task) would make every batch
// start with a cold cache. The writer also takes over SQLite's WAL
// checkpoints for the run (see walKeeper). On PostgreSQL it is just
// transactions on one connection.
//
// A BulkWriter is used by one goroutine at a time; Close ends it.
type BulkWriter struct {
	db   *DB
	log  *slog.Logger
	conn *sql.Conn  // reserved at the first InTx
	wal  *walKeeper // SQLite only
}

// BulkWriter returns a writer that reserves its connection at its first
// transaction; log receives the checkpoint problems it does not fail on
// (nil: slog.Default).
func (db *DB) BulkWriter(log *slog.Logger) *BulkWriter {
	if log == nil {
		log = slog.Default()
	}
	return &BulkWriter{db: db, log: log}
}

// InTx runs fn in one transaction on the writer's connection: committed if
// fn returns nil, rolled back otherwise. On SQLite, the WAL's housekeeping
// runs between transactions.
func (w *BulkWriter) InTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if w.conn == nil {
		if err := w.reserve(ctx); err != nil {
			return err
		}
	}
	if w.wal != nil && w.wal.due() {
		w.wal.restart(w.conn)
	}
	conn := w.conn
	err := InConnTx(ctx, conn, func(tx *sql.Tx) error {
		w.db.bulkTxs.Store(tx, conn)
		defer w.db.bulkTxs.Delete(tx)
		return fn(tx)
	})
	if err != nil {
		if ctx.Err() != nil {
			// The driver may have given up on the connection midway
			// (pgx closes it): the next transaction takes a fresh one.
			w.Close()
		}
		return err
	}
	if w.wal != nil {
		w.wal.committed()
	}
	return nil
}

// reserve takes the writer's connection and, on SQLite, a walKeeper.
func (w *BulkWriter) reserve(ctx context.Context) error {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("reserve a database connection: %w", err)
	}
	w.conn = conn
	if w.db.Engine == SQLite {
		if w.wal, err = newWALKeeper(ctx, w.db, w.log, conn); err != nil {
			w.conn.Close()
			w.conn = nil
			return err
		}
	}
	return nil
}

// Close gives the writer's connection back to the pool as it was. A
// closed writer reserves a new connection if used again.
func (w *BulkWriter) Close() {
	if w.wal != nil {
		w.wal.close(w.conn)
		w.wal = nil
	}
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// walKeeper manages a bulk write's WAL checkpoints on SQLite. Left to
// SQLite, the commit that grows the WAL past 1,000 pages copies it into the
// database file before the next batch can start (a batch of a large import
// rewrites thousands of pages of the sample-ID index), and the WAL then
// starts over at the next write of whichever connection comes first: when
// that is another connection (a task's heartbeat, River), every
// connection's page cache is dropped, the writer's included, and the
// next batch starts cold. At a million samples the two cost more than a
// third of an import's time. So the writer's connection does not
// checkpoint on commit; a goroutine on another connection copies committed
// frames after each commit, beside the next batch (PASSIVE, which changes
// nothing another connection sees); and every walRestartBatches batches the
// writer, between two batches, copies what is left and starts the WAL over
// itself (RESTART), which keeps its own cache and bounds the WAL to a few
// batches.
type walKeeper struct {
	db      *DB
	log     *slog.Logger
	ctx     context.Context
	wake    chan struct{}
	done    chan struct{}
	mu      sync.Mutex // held while a checkpoint runs
	batches int        // commits since the writer last restarted the WAL
}

// walRestartBatches is how many batches the WAL grows by between the
// writer's restarts: about a hundred megabytes at a million samples
// imported in batches of 5,000.
const walRestartBatches = 4

// sqliteAutoCheckpoint is SQLite's default wal_autocheckpoint, which the
// store leaves in place and close restores.
const sqliteAutoCheckpoint = 1000

func newWALKeeper(ctx context.Context, db *DB, log *slog.Logger, conn *sql.Conn) (*walKeeper, error) {
	if _, err := conn.ExecContext(ctx, "PRAGMA wal_autocheckpoint=0"); err != nil {
		return nil, fmt.Errorf("take over WAL checkpoints: %w", err)
	}
	w := &walKeeper{db: db, log: log, ctx: context.WithoutCancel(ctx), wake: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for range w.wake {
			w.mu.Lock()
			// On a writers' connection: a checkpoint of a big WAL is
			// long and would hold one of the few read slots.
			w.checkpoint(w.db.DB.QueryRowContext, "PASSIVE")
			w.mu.Unlock()
		}
	}()
	return w, nil
}

// committed wakes the helper after a commit (once, if it is already due).
func (w *walKeeper) committed() {
	w.batches++
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *walKeeper) due() bool { return w.batches >= walRestartBatches }

// restart waits for the helper, copies what it left and starts the WAL
// over, from the writer's connection.
func (w *walKeeper) restart(conn *sql.Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.checkpoint(conn.QueryRowContext, "RESTART")
	w.batches = 0
}

// checkpoint runs a checkpoint of the mode. It does not fail the write: a
// checkpoint that another checkpointer or a long reader holds up (busy)
// leaves the WAL longer, and the next one catches up.
func (w *walKeeper) checkpoint(query func(context.Context, string, ...any) *sql.Row, mode string) {
	var busy, frames, done int
	if err := query(w.ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &done); err != nil {
		w.log.WarnContext(w.ctx, "bulk write: WAL checkpoint", "mode", mode, "err", err)
	}
}

// close stops the helper, checkpoints, and gives the connection its
// auto-checkpoint back.
func (w *walKeeper) close(conn *sql.Conn) {
	close(w.wake)
	<-w.done
	w.checkpoint(conn.QueryRowContext, "PASSIVE")
	if _, err := conn.ExecContext(w.ctx, "PRAGMA wal_autocheckpoint="+strconv.Itoa(sqliteAutoCheckpoint)); err != nil {
		w.log.WarnContext(w.ctx, "bulk write: restore wal_autocheckpoint", "err", err)
	}
}
