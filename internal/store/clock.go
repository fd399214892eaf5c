package store

import (
	"context"
	"fmt"
	"time"
)

// NowMillis is an SQL expression for the database server's current time in
// Unix milliseconds, the unit of every time column. Leases are computed with
// it rather than with the Go process's clock: replicas' clocks differ, and a
// replica whose clock runs minutes ahead or behind would otherwise take a
// live lease from its holder, or write an expiry that keeps a dead holder's
// lease for minutes. With one clock for every comparison, skew between
// replicas does not matter.
//
// On SQLite the database's clock is the clock of the host running the one
// replica; on PostgreSQL it is the server's (clock_timestamp, so that a
// long transaction does not see its start time).
func (db *DB) NowMillis() string {
	if db.Engine == Postgres {
		return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
	}
	return "CAST(unixepoch('subsec') * 1000 AS INTEGER)"
}

// Now reads the database's clock (see NowMillis).
func (db *DB) Now(ctx context.Context) (time.Time, error) {
	var ms int64
	if err := db.QueryRowContext(ctx, "SELECT "+db.NowMillis()).Scan(&ms); err != nil {
		return time.Time{}, fmt.Errorf("read the database clock: %w", err)
	}
	return FromMillis(ms), nil
}
