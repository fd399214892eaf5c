package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// QueueDriver returns River's driver for this database, over the writers'
// pool so that jobs are inserted in the store's own transactions, with
// River's migrations applied: riversqlite on SQLite; riverdatabasesql on
// PostgreSQL, which with listen set hears River's insert and cancel
// notifications on a small pgx pool of its own (polling otherwise). close
// releases that pool; call it after River's client has stopped.
func (db *DB) QueueDriver(ctx context.Context, log *slog.Logger, listen bool) (driver riverdriver.Driver[*sql.Tx], close func(), err error) {
	close = func() {}
	switch db.Engine {
	case SQLite:
		driver = riversqlite.New(db.DB)
		if err := migrateRiverSQLite(ctx, driver, log); err != nil {
			return nil, nil, err
		}
	case Postgres:
		if !listen {
			driver = riverdatabasesql.New(db.DB)
		} else {
			pool, err := listenerPool(ctx, db.url)
			if err != nil {
				return nil, nil, err
			}
			close = pool.Close
			driver = riverdatabasesql.NewWithPgxListener(db.DB, pool)
		}
		if err := db.migrateRiverPostgres(ctx, driver, log); err != nil {
			close()
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("no queue driver for engine %q", db.Engine)
	}
	return driver, close, nil
}

// listenerPool opens the pgx pool River's notifier listens on. River takes
// its connections for good, one per client; nothing else uses the pool.
func listenerPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse the PostgreSQL URL for river's listener: %w", err)
	}
	pcfg.MinConns = 0
	pcfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open river's listener pool: %w", err)
	}
	return pool, nil
}

// migrateRiverSQLite applies River's outstanding migrations. SQLite serves a
// single replica, but a second process starting at the same moment could
// apply a version between our read of the applied ones and our write; the
// retry then finds it applied.
func migrateRiverSQLite(ctx context.Context, driver riverdriver.Driver[*sql.Tx], log *slog.Logger) error {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("prepare river migrations: %w", err)
	}
	if _, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		_, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	}
	if err != nil {
		return fmt.Errorf("apply river migrations: %w", err)
	}
	return nil
}

// riverMigrateLock is the advisory lock key that serialises River migrations
// between replicas starting at the same time ("atelierr" in ASCII).
const riverMigrateLock = 0x6174656c69657272

// migrateRiverPostgres applies River's outstanding migrations while holding
// a session advisory lock, so replicas starting together do not race.
func (db *DB) migrateRiverPostgres(ctx context.Context, driver riverdriver.Driver[*sql.Tx], log *slog.Logger) error {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("prepare river migrations: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("lock river migrations: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(riverMigrateLock)); err != nil {
		return fmt.Errorf("lock river migrations: %w", err)
	}
	defer func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(riverMigrateLock))
	}()
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("apply river migrations: %w", err)
	}
	return nil
}
