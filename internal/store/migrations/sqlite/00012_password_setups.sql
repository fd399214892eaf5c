-- +goose Up
-- One-time links that let a user Atelier created without a password (a
-- labeling team member) set its first one. Only the SHA-256 of the link's
-- token is kept: a database dump opens no account.
CREATE TABLE password_setups (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX password_setups_user ON password_setups (user_id);

-- +goose Down
DROP TABLE password_setups;
