package store

import (
	"context"
	"database/sql"
)

// Scanner is what scanning one row needs: *sql.Row and *sql.Rows have it.
// An alias, so that a repository's scan functions written against the
// interface literal fit QueryAll.
type Scanner = interface{ Scan(...any) error }

// Querier runs queries: *DB (reads outside transactions) and *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Conn is what a repository runs its statements on: the database (*DB)
// or the caller's transaction (*sql.Tx), so that one function serves both.
type Conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// QueryAll runs query on q and scans every row with scan. An empty result is
// an empty, non-nil slice (it encodes as [], as list answers must).
func QueryAll[T any](ctx context.Context, q Querier, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

var (
	_ Conn = (*DB)(nil)
	_ Conn = (*sql.Tx)(nil)
)
