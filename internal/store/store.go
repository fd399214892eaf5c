package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Engine names a database engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DB is an open, migrated metadata database.
type DB struct {
	// DB is the pool that writes: transactions, Exec, pinned connections.
	// On PostgreSQL it also reads, QueryContext and QueryRowContext
	// outside transactions after a slot of the read gate; on SQLite those
	// go to the read-only pool (readers.go).
	*sql.DB
	Engine Engine
	url    string    // PostgreSQL's connection URL; empty for SQLite
	path   string    // the SQLite database file; empty for PostgreSQL
	reader *sql.DB   // SQLite's read-only connections; PostgreSQL's one pool
	gate   *readGate // admits reads outside transactions in arrival order
	// bulkTxs maps each open transaction of a BulkWriter to its connection
	// (*sql.Tx → *sql.Conn), for CopyFrom.
	bulkTxs sync.Map
}

// ErrConflict reports a unique-constraint violation: the thing already exists.
var ErrConflict = errors.New("already exists")

// ErrReferenced reports a foreign-key violation: the row is referenced by, or
// refers to, something that does not allow the change.
var ErrReferenced = errors.New("referenced by other data")

// Open opens the database named by dsn and brings its schema up to date. An
// empty dsn or a path opens SQLite at that path (dataDir/atelier.db when
// empty); a postgres:// or postgresql:// URL opens PostgreSQL.
func Open(ctx context.Context, dsn, dataDir string) (*DB, error) {
	db, err := open(dsn, dataDir)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", db.Engine, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	if db.path != "" {
		// Connecting made the -wal and -shm files: SQLite gives them the
		// database file's mode, but say so rather than rely on it.
		if err := privateFiles(db.path); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// FileMode is the mode of the SQLite database and its companion files: they
// hold every tenant's metadata, readable by the server's user only.
const FileMode = 0o600

// sqliteFiles are the files SQLite keeps beside a database at path.
func sqliteFiles(path string) []string {
	return []string{path, path + "-wal", path + "-shm", path + "-journal"}
}

// privateFiles sets FileMode on the database at path and on whichever of its
// companion files exist, whatever the umask made them (or an older version
// left them).
func privateFiles(path string) error {
	for _, p := range sqliteFiles(path) {
		if err := os.Chmod(p, FileMode); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("make database file private: %w", err)
		}
	}
	return nil
}

func open(dsn, dataDir string) (*DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		// The read gate's slot of a query goes back when pgx ends the
		// query (its rows closed), as SQLite's reader connections do.
		cfg.Tracer = slotTracer{}
		sdb := stdlib.OpenDB(*cfg)
		sdb.SetMaxOpenConns(32)
		sdb.SetMaxIdleConns(32)
		sdb.SetConnMaxIdleTime(5 * time.Minute)
		return &DB{DB: sdb, Engine: Postgres, url: dsn, reader: sdb, gate: newReadGate()}, nil
	}
	path := dsn
	if path == "" {
		path = filepath.Join(dataDir, "atelier.db")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	// Create the file before SQLite does, with FileMode: SQLite would make
	// it 0644 less the umask, and its -wal and -shm files follow its mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	f.Close()
	if err := privateFiles(path); err != nil {
		return nil, err
	}
	// WAL lets readers run beside the single writer; busy_timeout makes a
	// writer wait for the lock instead of failing; _txlock=immediate takes the
	// write lock at BEGIN so two transactions never deadlock on lock upgrade.
	// A 64 MiB page cache per connection (allocated as used) keeps the
	// sample indexes of a million-sample dataset in memory while importing;
	// statement journals of multi-row writes stay in memory, not temp files.
	q := url.Values{}
	for _, p := range []string{"busy_timeout(15000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)", "cache_size(-65536)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	sdb := sql.OpenDB(sqliteConnector{dsn: sqliteURI(path) + "?" + q.Encode()})
	sdb.SetMaxOpenConns(8)
	sdb.SetMaxIdleConns(8)
	// Readers: query_only refuses a write that strayed here instead of
	// letting it take the write lock outside the writers' pool; a 16 MiB
	// cache each, since there are more of them and the OS caches the file.
	// They read the database file through a memory map (up to SQLite's
	// 2 GiB bound): a page of a million-sample dataset that is not in a
	// reader's own cache is then a memory read of the OS's cache, shared
	// by every reader, instead of a pread per page (a label page's 100
	// samples are 100 random rows). The writers do not map: SQLite writes
	// through the WAL either way, and a mapped writer would count the file
	// in an import's resident memory.
	rq := url.Values{}
	for _, p := range []string{"busy_timeout(15000)", "query_only(1)", "cache_size(-16384)", "temp_store(MEMORY)", "mmap_size(2147418112)"} {
		rq.Add("_pragma", p)
	}
	reader, gate := openReaders(sqliteURI(path) + "?" + rq.Encode())
	return &DB{DB: sdb, Engine: SQLite, path: path, reader: reader, gate: gate}, nil
}

// sqliteURI is the file: URI of the database at path. SQLite decodes %XX in
// URIs and ends the path at ? or #, so those (and %) are escaped: a data dir
// named "runs#2" must not open "runs".
func sqliteURI(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// Close closes the database's pools.
func (db *DB) Close() error {
	err := db.DB.Close()
	if db.reader != nil && db.reader != db.DB {
		if rerr := db.reader.Close(); err == nil {
			err = rerr
		}
	}
	return err
}

// InTx runs fn in one transaction: committed if fn returns nil, rolled back
// otherwise (including on panic), so writes that belong together land together.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	return runTx(tx, err, fn)
}

// InConnTx is InTx on one connection the caller holds (a writer that keeps
// its page cache, a connection with its own pragmas).
func InConnTx(ctx context.Context, conn *sql.Conn, fn func(tx *sql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	return runTx(tx, err, fn)
}

// InScrubbingTx runs fn in a transaction that, on SQLite, zeroes the space
// freed by what it overwrites (PRAGMA secure_delete), so that values it
// replaces (secrets stored in clear) do not linger in free pages of the
// database file. PostgreSQL keeps old row versions until VACUUM whatever is
// done here.
func (db *DB) InScrubbingTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.Engine != SQLite {
		return db.InTx(ctx, fn)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		return fmt.Errorf("turn on secure_delete: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA secure_delete = OFF`)
	return InConnTx(ctx, conn, fn)
}

// ScrubWAL copies SQLite's write-ahead log into the database file and
// truncates it, so that pages an InScrubbingTx replaced leave the log too;
// nothing on PostgreSQL.
func (db *DB) ScrubWAL(ctx context.Context) error {
	if db.Engine != SQLite {
		return nil
	}
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("checkpoint the write-ahead log: %w", err)
	}
	return nil
}

// runTx runs fn in the transaction just begun (beginErr: why it could not
// be): commit on success, rollback on an error or a panic.
func runTx(tx *sql.Tx, beginErr error, fn func(tx *sql.Tx) error) (err error) {
	if beginErr != nil {
		return fmt.Errorf("begin transaction: %w", beginErr)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// Classify turns engine-specific constraint errors into ErrConflict or
// ErrReferenced (wrapping the original) and returns other errors unchanged.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return fmt.Errorf("%w: %s", ErrConflict, pgErr.ConstraintName)
		case "23503":
			return fmt.Errorf("%w: %s", ErrReferenced, pgErr.ConstraintName)
		}
		return err
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %v", ErrReferenced, err)
		}
	}
	return err
}

// Millis converts a time to the stored form: Unix milliseconds (both engines
// store BIGINT, which sorts and compares without time-zone surprises).
func Millis(t time.Time) int64 { return t.UnixMilli() }

// FromMillis converts a stored time back, in UTC.
func FromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// IsConflict reports whether err is (or classifies as) a unique violation.
func IsConflict(err error) bool { return errors.Is(Classify(err), ErrConflict) }

// IsReferenced reports whether err is (or classifies as) a foreign-key violation.
func IsReferenced(err error) bool { return errors.Is(Classify(err), ErrReferenced) }

// ForUpdate is the clause that makes a SELECT in a transaction lock the rows
// it reads until the transaction ends, so that a read-then-write on them is
// serialized: PostgreSQL's " FOR UPDATE"; empty on SQLite, whose
// transactions begin holding the database's write lock (_txlock=immediate)
// and so already exclude every other writer.
func (db *DB) ForUpdate() string {
	if db.Engine == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// Param is the placeholder of the n-th (1-based) argument, for statements
// that are built with many arguments (multi-row inserts, long IN lists)
// and write them in argument order. Both engines read $n, but SQLite keeps
// $n (and ?n) in a list it scans for each parameter when parsing and when
// the driver binds, which makes a statement with thousands of them
// quadratic; a bare ? is numbered by position and never looked up.
func (db *DB) Param(n int) string {
	if db.Engine == SQLite {
		return "?"
	}
	return "$" + strconv.Itoa(n)
}
