package iam

import (
	"context"
	"database/sql"

	"github.com/atelier-dev/atelier/internal/store"
)

// This file holds the SQL of users, groups with their members, and access
// keys (credentials); db.go has the shared helpers.

// --- users

const userCols = `id, domain_id, name, password_hash, enabled, email, description, is_domain_owner,
	credential_epoch, pwd_changed_at, last_login_at, created_at, updated_at,
	phone, areacode, access_mode, pwd_status, xuser_type, xuser_id`

func scanUser(sc interface{ Scan(...any) error }) (*User, error) {
	var u User
	var pwd, login, created, updated int64
	if err := sc.Scan(&u.ID, &u.DomainID, &u.Name, &u.passwordHash, &u.Enabled, &u.Email, &u.Description,
		&u.IsDomainOwner, &u.CredentialEpoch, &pwd, &login, &created, &updated,
		&u.Phone, &u.AreaCode, &u.AccessMode, &u.PwdStatus, &u.XUserType, &u.XUserID); err != nil {
		return nil, err
	}
	u.PwdChangedAt, u.LastLoginAt, u.CreatedAt, u.UpdatedAt = fromMS(pwd), fromMS(login), fromMS(created), fromMS(updated)
	return &u, nil
}

func insertUser(ctx context.Context, q querier, u *User) error {
	_, err := q.ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)`,
		u.ID, u.DomainID, u.Name, u.passwordHash, u.Enabled, u.Email, u.Description, u.IsDomainOwner,
		u.CredentialEpoch, ms(u.PwdChangedAt), ms(u.LastLoginAt), ms(u.CreatedAt), ms(u.UpdatedAt),
		u.Phone, u.AreaCode, u.AccessMode, u.PwdStatus, u.XUserType, u.XUserID)
	return store.Classify(err)
}

func updateUserRow(ctx context.Context, q querier, u *User) error {
	_, err := q.ExecContext(ctx, `UPDATE users SET name=$2, password_hash=$3, enabled=$4, email=$5, description=$6,
		credential_epoch=$7, pwd_changed_at=$8, last_login_at=$9, updated_at=$10,
		phone=$11, areacode=$12, access_mode=$13, pwd_status=$14, xuser_type=$15, xuser_id=$16 WHERE id=$1`,
		u.ID, u.Name, u.passwordHash, u.Enabled, u.Email, u.Description, u.CredentialEpoch,
		ms(u.PwdChangedAt), ms(u.LastLoginAt), ms(u.UpdatedAt),
		u.Phone, u.AreaCode, u.AccessMode, u.PwdStatus, u.XUserType, u.XUserID)
	return store.Classify(err)
}

func getUser(ctx context.Context, q querier, id string) (*User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
}

func getUserByName(ctx context.Context, q querier, domainID, name string) (*User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE domain_id = $1 AND name = $2`, domainID, name))
}

func listUsers(ctx context.Context, q querier, domainID, name string) ([]*User, error) {
	query := `SELECT ` + userCols + ` FROM users WHERE domain_id = $1`
	args := []any{domainID}
	if name != "" {
		query += ` AND name = $2`
		args = append(args, name)
	}
	return queryUsers(ctx, q, query+` ORDER BY name`, args...)
}

func queryUsers(ctx context.Context, q querier, query string, args ...any) ([]*User, error) {
	return queryAll(ctx, q, scanUser, query, args...)
}

// --- groups

func scanGroup(sc interface{ Scan(...any) error }) (*Group, error) {
	var g Group
	var created int64
	if err := sc.Scan(&g.ID, &g.DomainID, &g.Name, &g.Description, &created); err != nil {
		return nil, err
	}
	g.CreatedAt = fromMS(created)
	return &g, nil
}

const groupCols = `id, domain_id, name, description, created_at`

func insertGroup(ctx context.Context, q querier, g *Group) error {
	_, err := q.ExecContext(ctx, `INSERT INTO user_groups (`+groupCols+`) VALUES ($1,$2,$3,$4,$5)`,
		g.ID, g.DomainID, g.Name, g.Description, ms(g.CreatedAt))
	return store.Classify(err)
}

func getGroup(ctx context.Context, q querier, id string) (*Group, error) {
	return scanGroup(q.QueryRowContext(ctx, `SELECT `+groupCols+` FROM user_groups WHERE id = $1`, id))
}

func queryGroups(ctx context.Context, q querier, query string, args ...any) ([]*Group, error) {
	return queryAll(ctx, q, scanGroup, query, args...)
}

// --- credentials

const credCols = `access_key, user_id, domain_id, secret, status, description, created_at, last_use_at`

func scanCredential(sc interface{ Scan(...any) error }) (*Credential, error) {
	var c Credential
	var created, used int64
	if err := sc.Scan(&c.AccessKey, &c.UserID, &c.DomainID, &c.Secret, &c.Status, &c.Description, &created, &used); err != nil {
		return nil, err
	}
	c.CreatedAt, c.LastUseAt = fromMS(created), fromMS(used)
	return &c, nil
}

func insertCredential(ctx context.Context, q querier, c *Credential) error {
	_, err := q.ExecContext(ctx, `INSERT INTO credentials (`+credCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		c.AccessKey, c.UserID, c.DomainID, c.Secret, c.Status, c.Description, ms(c.CreatedAt), ms(c.LastUseAt))
	return store.Classify(err)
}

func getCredential(ctx context.Context, q querier, ak string) (*Credential, error) {
	return scanCredential(q.QueryRowContext(ctx, `SELECT `+credCols+` FROM credentials WHERE access_key = $1`, ak))
}

func listCredentials(ctx context.Context, q querier, domainID, userID string) ([]*Credential, error) {
	query := `SELECT ` + credCols + ` FROM credentials WHERE domain_id = $1`
	args := []any{domainID}
	if userID != "" {
		query += ` AND user_id = $2`
		args = append(args, userID)
	}
	return queryAll(ctx, q, scanCredential, query+` ORDER BY created_at, access_key`, args...)
}

func deleteUser(ctx context.Context, q querier, id string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id)
	return err
}

// listGroups lists a domain's groups by name, only the one named name when
// name is set.
func listGroups(ctx context.Context, q querier, domainID, name string) ([]*Group, error) {
	query := `SELECT ` + groupCols + ` FROM user_groups WHERE domain_id = $1`
	args := []any{domainID}
	if name != "" {
		query += ` AND name = $2`
		args = append(args, name)
	}
	return queryGroups(ctx, q, query+` ORDER BY name`, args...)
}

func updateGroupRow(ctx context.Context, q querier, g *Group) error {
	_, err := q.ExecContext(ctx, `UPDATE user_groups SET name=$2, description=$3 WHERE id=$1`, g.ID, g.Name, g.Description)
	return err
}

func deleteGroup(ctx context.Context, q querier, id string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM user_groups WHERE id = $1`, id)
	return err
}

// --- group members

// insertMember makes a user a member of a group; a membership that exists
// already is an error.
func insertMember(ctx context.Context, q querier, groupID, userID string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)`, groupID, userID)
	return err
}

// addMember makes a user a member of a group; a membership that exists
// already stays as it is.
func addMember(ctx context.Context, q querier, groupID, userID string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, groupID, userID)
	return err
}

// removeMember ends a membership and reports whether there was one.
func removeMember(ctx context.Context, q querier, groupID, userID string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = $1 AND user_id = $2`, groupID, userID)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

func isMember(ctx context.Context, q querier, groupID, userID string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM group_members WHERE group_id = $1 AND user_id = $2`, groupID, userID).Scan(&n)
	return n > 0, err
}

// groupUsers lists a group's members by name.
func groupUsers(ctx context.Context, q querier, groupID string) ([]*User, error) {
	return queryUsers(ctx, q, `SELECT `+prefixed("u.", userCols)+` FROM users u JOIN group_members m ON m.user_id = u.id
		WHERE m.group_id = $1 ORDER BY u.name`, groupID)
}

// userGroups lists the groups a user belongs to by name.
func userGroups(ctx context.Context, q querier, userID string) ([]*Group, error) {
	return queryGroups(ctx, q, `SELECT `+prefixed("g.", groupCols)+` FROM user_groups g JOIN group_members m ON m.group_id = g.id
		WHERE m.user_id = $1 ORDER BY g.name`, userID)
}

// prefixed qualifies a comma-separated column list with a table alias.
func prefixed(alias, cols string) string {
	out := make([]byte, 0, len(cols)+32)
	start := true
	for i := 0; i < len(cols); i++ {
		c := cols[i]
		if start && c != ' ' && c != '\n' && c != '\t' {
			out = append(out, alias...)
			start = false
		}
		out = append(out, c)
		if c == ',' {
			start = true
		}
	}
	return string(out)
}

// --- credentials (more)

// countCredentialsLocked counts a user's access keys while holding the
// user's row, so that two transactions adding a key cannot both count
// below a limit. tx must be a transaction on db.
func countCredentialsLocked(ctx context.Context, db *store.DB, tx *sql.Tx, userID string) (int, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE id = $1`+db.ForUpdate(), userID).Scan(new(string)); err != nil {
		return 0, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM credentials WHERE user_id = $1`, userID).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

func updateCredentialRow(ctx context.Context, q querier, c *Credential) error {
	_, err := q.ExecContext(ctx, `UPDATE credentials SET status=$2, description=$3 WHERE access_key=$1`, c.AccessKey, c.Status, c.Description)
	return err
}

func deleteCredential(ctx context.Context, q querier, ak string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM credentials WHERE access_key = $1`, ak)
	return err
}

// --- scoped lookups
//
// These return the domain's not-found error for a row that is missing or
// belongs to another domain, so that no caller can forget the domain check;
// the get* functions they wrap return sql.ErrNoRows, for callers that
// report a missing row some other way.

// userOf returns a user of the domain.
func userOf(ctx context.Context, q querier, domainID, id string) (*User, error) {
	u, err := getUser(ctx, q, id)
	if noRows(err) || err == nil && u.DomainID != domainID {
		return nil, notFound("user", id)
	}
	return u, err
}

// groupOf returns a group of the domain.
func groupOf(ctx context.Context, q querier, domainID, id string) (*Group, error) {
	g, err := getGroup(ctx, q, id)
	if noRows(err) || err == nil && g.DomainID != domainID {
		return nil, notFound("group", id)
	}
	return g, err
}

// credentialOf returns an access key of the domain.
func credentialOf(ctx context.Context, q querier, domainID, ak string) (*Credential, error) {
	c, err := getCredential(ctx, q, ak)
	if noRows(err) || err == nil && c.DomainID != domainID {
		return nil, notFound("access key", ak)
	}
	return c, err
}
