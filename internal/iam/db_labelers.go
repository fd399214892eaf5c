package iam

import (
	"context"
	"database/sql"
	"errors"
)

// This file holds the SQL behind labeling identities (labelers.go): finding
// a member's user by e-mail, the managed groups by name, and what a user
// still holds.

// userByEmail finds the account's user whose email, or else whose name,
// is email (case-insensitively), the oldest first when several match.
func userByEmail(ctx context.Context, q querier, domainID, email string) (*User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users
		WHERE domain_id = $1 AND (LOWER(email) = LOWER($2) OR LOWER(name) = LOWER($2))
		ORDER BY CASE WHEN LOWER(email) = LOWER($2) THEN 0 ELSE 1 END, created_at, id LIMIT 1`, domainID, email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return u, err
}

// userNameTaken reports whether the account has a user of that name.
func userNameTaken(ctx context.Context, q querier, domainID, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE domain_id = $1 AND name = $2`, domainID, name).Scan(&n)
	return n > 0, err
}

// groupByName finds the account's group of that name; nil when none.
func groupByName(ctx context.Context, q querier, domainID, name string) (*Group, error) {
	g, err := scanGroup(q.QueryRowContext(ctx, `SELECT `+groupCols+` FROM user_groups WHERE domain_id = $1 AND name = $2`, domainID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return g, err
}

// userHoldings counts what a user holds besides itself: group
// memberships, access keys and workspaces it is listed in.
func userHoldings(ctx context.Context, q querier, userID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM group_members WHERE user_id = $1) +
		(SELECT COUNT(*) FROM credentials WHERE user_id = $1) +
		(SELECT COUNT(*) FROM workspace_users WHERE user_id = $1)`, userID).Scan(&n)
	return n, err
}
