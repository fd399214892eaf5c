package store

import (
	"context"
	"database/sql/driver"
	"fmt"

	"modernc.org/sqlite"
)

// SQLite connections keep their statements prepared. Parsing and planning
// a statement is a tenth to a fifth of a sample page's time, and a sixth of
// an import's writes (a multi-row INSERT of thousands of values parsed anew
// each batch); the hot statements are the same few texts over and over. A
// statement is only ever used by one query at a time: database/sql gives a
// connection to one caller until its rows are closed, and closing rows (or
// the end of an Exec) resets the statement. PostgreSQL needs none of this:
// pgx caches prepared statements per connection itself.

// maxPreparedPerConn bounds a connection's prepared statements: queries
// built with varying IN lists or filters must not grow the cache without
// end; when full, it starts over.
const maxPreparedPerConn = 128

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

// sqliteConnector opens the connections of one of a SQLite database's pools:
// the writers' or, with reader set, the read-only one whose queries hand
// their read slot to their rows.
type sqliteConnector struct {
	dsn    string
	reader bool
}

func (c sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := (&sqlite.Driver{}).Open(c.dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite connection: %w", err)
	}
	pc := &preparedConn{sqliteConn: conn.(sqliteConn)}
	if c.reader {
		return readConn{pc}, nil
	}
	return pc, nil
}

func (c sqliteConnector) Driver() driver.Driver { return &sqlite.Driver{} }

// preparedConn is a SQLite connection whose queries and statements run on
// statements it keeps prepared.
type preparedConn struct {
	sqliteConn
	stmts map[string]driver.Stmt
}

// stmt returns query's prepared statement, preparing it first if this
// connection has not yet.
func (c *preparedConn) stmt(ctx context.Context, query string) (driver.Stmt, error) {
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	if len(c.stmts) >= maxPreparedPerConn {
		c.dropStatements()
	}
	st, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil {
		c.stmts = make(map[string]driver.Stmt)
	}
	c.stmts[query] = st
	return st, nil
}

func (c *preparedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (c *preparedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *preparedConn) dropStatements() {
	for q, st := range c.stmts {
		_ = st.Close()
		delete(c.stmts, q)
	}
}

// Close finalizes the connection's statements, then closes it.
func (c *preparedConn) Close() error {
	c.dropStatements()
	return c.sqliteConn.Close()
}
