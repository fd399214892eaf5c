-- +goose Up
-- Huawei IAM's login authentication policy, one row per account (an account
-- without a row has the defaults), and the failed-login state it enforces.
-- The state is in the database, not in memory, so that a lockout survives a
-- restart and holds on every replica.
CREATE TABLE login_policies (
    domain_id                  TEXT PRIMARY KEY REFERENCES domains(id) ON DELETE CASCADE,
    account_validity_period    INTEGER NOT NULL,
    custom_info_for_login      TEXT NOT NULL,
    lockout_duration           INTEGER NOT NULL,
    login_failed_times         INTEGER NOT NULL,
    period_with_login_failures INTEGER NOT NULL,
    session_timeout            INTEGER NOT NULL,
    show_recent_login_info     BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at                 BIGINT NOT NULL
);

-- subject is a user ID, or for a name no user has, the domain and the name
-- as the caller gave them: unknown names lock exactly like real users, so a
-- lockout does not tell which names exist. window_start is when the counted
-- failures began (Unix ms); locked_until is 0 when the subject is not locked.
CREATE TABLE login_failures (
    subject      TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX login_failures_expires ON login_failures (expires_at);

-- +goose Down
DROP TABLE login_failures;
DROP TABLE login_policies;
