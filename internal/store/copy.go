package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// CopyFrom loads rows into table's columns inside tx with PostgreSQL's COPY
// (pgx's CopyFrom), the fastest way rows enter PostgreSQL: no statement to
// parse per batch, no parameter per value. It works in the transactions of
// a BulkWriter on PostgreSQL, where the store holds the connection under
// the transaction; elsewhere (SQLite, an ordinary transaction) ok is false
// and the caller inserts its rows another way.
func (db *DB) CopyFrom(ctx context.Context, tx *sql.Tx, table string, columns []string, rows [][]any) (n int64, ok bool, err error) {
	if db.Engine != Postgres {
		return 0, false, nil
	}
	v, found := db.bulkTxs.Load(tx)
	if !found {
		return 0, false, nil
	}
	conn := v.(*sql.Conn)
	// The COPY runs on the connection the transaction is open on, so it is
	// part of that transaction: committed or rolled back with it.
	err = conn.Raw(func(dc any) error {
		c, isPgx := dc.(*stdlib.Conn)
		if !isPgx {
			return fmt.Errorf("copy into %s: the connection is %T, not pgx's", table, dc)
		}
		n, err = c.Conn().CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return n, true, fmt.Errorf("copy %d rows into %s: %w", len(rows), table, err)
	}
	return n, true, nil
}
