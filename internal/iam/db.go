package iam

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/atelier-dev/atelier/internal/store"
)

// This file and db_*.go are iam's repository: they hold every statement on
// the identity tables, and the service files hold the rules and call them.
// Here: the shared helpers, the revision counter, domains, server secrets,
// bucket owners, login failures and login policies, and the rows that hold
// secrets for sealing. The functions take a querier, so that a service's
// read-modify-write stays in the one transaction (Service.write) it opened.
// The scoped lookups (userOf, groupOf, credentialOf, projectOf, epOf,
// workspaceOf, visiblePolicy, customPolicyOf) return the domain's not-found error for a
// row that is missing or another domain's; the plain get* return
// sql.ErrNoRows, for callers that report a missing row otherwise. Writes
// return store.ErrConflict (via store.Classify) for a duplicate, which each
// service turns into its operation's conflict error (the codes and messages
// differ by operation, and creating an account reports any of them as one).
// Nothing here branches on the engine.

// querier is satisfied by *store.DB and *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var ms = store.Millis

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	out, err := store.QueryAll(ctx, q, scan, query, args...)
	if len(out) == 0 {
		return nil, err // iam's lists have always said "none" with nil
	}
	return out, err
}

var fromMS = store.FromMillis

// iamRevision is the revisions row that every IAM write bumps; on
// PostgreSQL the bump also notifies the other replicas (migration 00015).
const iamRevision = "iam"

func bumpRevision(ctx context.Context, q querier) error {
	_, err := q.ExecContext(ctx, `UPDATE revisions SET value = value + 1 WHERE name = $1`, iamRevision)
	return err
}

func readRevision(ctx context.Context, q querier) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx, `SELECT value FROM revisions WHERE name = $1`, iamRevision).Scan(&v)
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

// --- bucket owners

// bucketOwner returns the account recorded as a bucket's owner
// (sql.ErrNoRows when none is).
func bucketOwner(ctx context.Context, q querier, bucket string) (string, error) {
	var owner string
	err := q.QueryRowContext(ctx, `SELECT domain_id FROM bucket_owners WHERE bucket = $1`, bucket).Scan(&owner)
	return owner, err
}

// firstDomainID returns the first account created, the installation's
// operator (sql.ErrNoRows when there is none).
func firstDomainID(ctx context.Context, q querier) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT id FROM domains ORDER BY created_at, id LIMIT 1`).Scan(&id)
	return id, err
}

func insertBucketOwner(ctx context.Context, q querier, bucket, domainID string, at time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO bucket_owners (bucket, domain_id, created_at) VALUES ($1, $2, $3)`, bucket, domainID, ms(at))
	return err
}

func deleteBucketOwner(ctx context.Context, q querier, bucket, domainID string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM bucket_owners WHERE bucket = $1 AND domain_id = $2`, bucket, domainID)
	return err
}

// --- login failures and login policies

// lockedUntil returns the end of subject's lockout in milliseconds
// (sql.ErrNoRows when no failure is recorded).
func lockedUntil(ctx context.Context, db *store.DB, subject string) (int64, error) {
	var until int64
	err := db.QueryRowContext(ctx, `SELECT locked_until FROM login_failures WHERE subject = $1`, subject).Scan(&until)
	return until, err
}

// expireLoginFailures drops the rows whose window and lockout ended before now.
func expireLoginFailures(ctx context.Context, db *store.DB, now int64) error {
	_, err := db.ExecContext(ctx, `DELETE FROM login_failures WHERE expires_at < $1`, now)
	return err
}

// countLoginFailure counts one failure of subject at now in one statement
// (so concurrent failures on any replica are all counted): a window that
// started at or before now-period starts over. The row lives at least until
// now+period. It returns the failures in the current window.
func countLoginFailure(ctx context.Context, db *store.DB, subject string, now, period int64) (int, error) {
	var failures int
	err := db.WriteRow(ctx, `
INSERT INTO login_failures (subject, failures, window_start, locked_until, expires_at) VALUES ($1, 1, $2, 0, $3)
ON CONFLICT (subject) DO UPDATE SET
  failures = CASE WHEN login_failures.window_start <= $4 THEN 1 ELSE login_failures.failures + 1 END,
  window_start = CASE WHEN login_failures.window_start <= $4 THEN $2 ELSE login_failures.window_start END,
  expires_at = CASE WHEN login_failures.expires_at > $3 THEN login_failures.expires_at ELSE $3 END
RETURNING failures`, subject, now, now+period, now-period).Scan(&failures)
	return failures, err
}

// lockOut locks subject out until until, starting a new window at now.
func lockOut(ctx context.Context, db *store.DB, subject string, now, until int64) error {
	_, err := db.ExecContext(ctx, `
UPDATE login_failures SET failures = 0, window_start = $2, locked_until = $3,
  expires_at = CASE WHEN expires_at > $3 THEN expires_at ELSE $3 END
WHERE subject = $1`, subject, now, until)
	return err
}

func clearLoginFailures(ctx context.Context, db *store.DB, subject string) error {
	_, err := db.ExecContext(ctx, `DELETE FROM login_failures WHERE subject = $1`, subject)
	return err
}

const loginPolicyCols = `account_validity_period, custom_info_for_login, lockout_duration, login_failed_times,
	period_with_login_failures, session_timeout, show_recent_login_info`

// getLoginPolicy returns the account's login policy, the defaults when it
// has none stored.
func getLoginPolicy(ctx context.Context, q querier, domainID string) (LoginPolicy, error) {
	var p LoginPolicy
	err := q.QueryRowContext(ctx, `SELECT `+loginPolicyCols+` FROM login_policies WHERE domain_id = $1`, domainID).Scan(
		&p.AccountValidityPeriod, &p.CustomInfoForLogin, &p.LockoutDuration, &p.LoginFailedTimes,
		&p.PeriodWithLoginFailures, &p.SessionTimeout, &p.ShowRecentLoginInfo)
	if noRows(err) {
		return DefaultLoginPolicy(), nil
	}
	return p, err
}

func upsertLoginPolicy(ctx context.Context, q querier, domainID string, p LoginPolicy, at time.Time) error {
	_, err := q.ExecContext(ctx, `
INSERT INTO login_policies (domain_id, `+loginPolicyCols+`, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (domain_id) DO UPDATE SET account_validity_period = $2, custom_info_for_login = $3, lockout_duration = $4,
  login_failed_times = $5, period_with_login_failures = $6, session_timeout = $7, show_recent_login_info = $8, updated_at = $9`,
		domainID, p.AccountValidityPeriod, p.CustomInfoForLogin, p.LockoutDuration, p.LoginFailedTimes,
		p.PeriodWithLoginFailures, p.SessionTimeout, p.ShowRecentLoginInfo, store.Millis(at))
	return err
}

// --- rows that hold secrets

// storedSecret is one stored secret: which row, and its stored value.
type storedSecret struct {
	table, key, value string
}

func storedSecrets(ctx context.Context, q querier) ([]storedSecret, error) {
	rows, err := q.QueryContext(ctx, `SELECT 'credentials', access_key, secret FROM credentials
		UNION ALL SELECT 'server_secrets', name, value FROM server_secrets`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storedSecret
	for rows.Next() {
		var r storedSecret
		if err := rows.Scan(&r.table, &r.key, &r.value); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// replaceSecret stores v in place of the secret r read, if it is still the
// value r read.
func replaceSecret(ctx context.Context, q querier, r storedSecret, v string) error {
	query := `UPDATE credentials SET secret = $1 WHERE access_key = $2 AND secret = $3`
	if r.table == "server_secrets" {
		query = `UPDATE server_secrets SET value = $1 WHERE name = $2 AND value = $3`
	}
	_, err := q.ExecContext(ctx, query, v, r.key, r.value)
	return err
}
