package iam

import (
	"context"
	"database/sql"
	"errors"

	"github.com/atelier-dev/atelier/internal/store"
)

// This file and db_*.go are iam's repository: they hold every statement on
// the identity tables, and the service files hold the rules and call them.
// Here: the shared helpers, the revision counter, domains, server secrets,
// bucket owners, login failures and login policies, and the rows that hold
// secrets for sealing. The functions take a querier, so that a service's
// read-modify-write stays in the one transaction (Service.write) it opened;
// lookups return sql.ErrNoRows for a missing row and writes return
// store.ErrConflict (via store.Classify) for a duplicate, which the services
// turn into the domain's errors. Nothing here branches on the engine.

// querier is satisfied by *store.DB and *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var ms = store.Millis

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

var fromMS = store.FromMillis

func bumpRevision(ctx context.Context, q querier) error {
	_, err := q.ExecContext(ctx, `UPDATE revisions SET value = value + 1 WHERE name = 'iam'`)
	return err
}

func readRevision(ctx context.Context, q querier) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx, `SELECT value FROM revisions WHERE name = 'iam'`).Scan(&v)
	return v, err
}

// --- domains

func insertDomain(ctx context.Context, q querier, d *Domain) error {
	_, err := q.ExecContext(ctx, `INSERT INTO domains (id, name, created_at) VALUES ($1, $2, $3)`, d.ID, d.Name, ms(d.CreatedAt))
	return store.Classify(err)
}

func scanDomain(row *sql.Row) (*Domain, error) {
	var d Domain
	var created int64
	if err := row.Scan(&d.ID, &d.Name, &created); err != nil {
		return nil, err
	}
	d.CreatedAt = fromMS(created)
	return &d, nil
}

func getDomain(ctx context.Context, q querier, id string) (*Domain, error) {
	return scanDomain(q.QueryRowContext(ctx, `SELECT id, name, created_at FROM domains WHERE id = $1`, id))
}

func getDomainByName(ctx context.Context, q querier, name string) (*Domain, error) {
	return scanDomain(q.QueryRowContext(ctx, `SELECT id, name, created_at FROM domains WHERE name = $1`, name))
}

func countDomains(ctx context.Context, q querier) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains`).Scan(&n)
	return n, err
}

func nextPolicySeq(ctx context.Context, q querier, domainID string) (int64, error) {
	if _, err := q.ExecContext(ctx, `UPDATE domains SET policy_seq = policy_seq + 1 WHERE id = $1`, domainID); err != nil {
		return 0, err
	}
	var n int64
	err := q.QueryRowContext(ctx, `SELECT policy_seq FROM domains WHERE id = $1`, domainID).Scan(&n)
	return n, err
}

// --- server secrets

// secret returns the named server secret, creating it with gen on first use.
// Every replica ends up with the same value: the first insert wins.
func secret(ctx context.Context, q querier, name string, gen func() (string, error)) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM server_secrets WHERE name = $1`, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	nv, err := gen()
	if err != nil {
		return "", err
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, nv); err != nil {
		return "", err
	}
	err = q.QueryRowContext(ctx, `SELECT value FROM server_secrets WHERE name = $1`, name).Scan(&v)
	return v, err
}
