package iam

import (
	"context"
	"database/sql"
)

// The SQL of password setup links (password_setups).

func insertPasswordSetup(ctx context.Context, tx *sql.Tx, hash, userID string, expires, created int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO password_setups (token_hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)`,
		hash, userID, expires, created)
	return err
}

func passwordSetupOf(ctx context.Context, tx *sql.Tx, hash string) (userID string, expires int64, err error) {
	err = tx.QueryRowContext(ctx, `SELECT user_id, expires_at FROM password_setups WHERE token_hash = $1`, hash).Scan(&userID, &expires)
	return userID, expires, err
}

func deletePasswordSetups(ctx context.Context, tx *sql.Tx, userID string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM password_setups WHERE user_id = $1`, userID)
	return err
}

func deleteExpiredPasswordSetups(ctx context.Context, tx *sql.Tx, now int64) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM password_setups WHERE expires_at <= $1`, now)
	return err
}
