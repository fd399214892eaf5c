package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// Migrations are numbered NNNNN_name.sql with the same numbers and names for
// each engine; the SQL differs where the engines do.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

func migrate(ctx context.Context, db *DB) error {
	dir := "migrations/" + string(db.Engine)
	sub, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return fmt.Errorf("open embedded migrations %s: %w", dir, err)
	}
	dialect := goose.DialectSQLite3
	if db.Engine == Postgres {
		dialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, db.DB, sub)
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}
