-- +goose Up
-- Labeling teams (workforces) and their members (workers). A team lives in
-- a project and a workspace ("0" until the API can name another) and
-- belongs to an account, which holds at most 10 of them. A member is an
-- e-mail address in one team, linked to the account's IAM user it logs in
-- as (user_id; deleting that user through IAM ends its memberships);
-- email_key is the address in lower case, so that one team cannot hold the
-- same address twice in two spellings. Team labeling tasks
-- (issue 11, item 2) will reference workforces(id).
CREATE TABLE workforces (
    id           TEXT PRIMARY KEY,
    domain_id    TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    workspace_id TEXT NOT NULL DEFAULT '0',
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    create_time  INTEGER NOT NULL,
    update_time  INTEGER NOT NULL,
    UNIQUE (project_id, name)
);
CREATE INDEX workforces_project_time ON workforces (project_id, create_time);
CREATE INDEX workforces_domain ON workforces (domain_id);

CREATE TABLE workforce_workers (
    id           TEXT PRIMARY KEY,
    workforce_id TEXT NOT NULL REFERENCES workforces(id) ON DELETE CASCADE,
    project_id   TEXT NOT NULL,
    email        TEXT NOT NULL,
    email_key    TEXT NOT NULL,
    role         INTEGER NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    description  TEXT NOT NULL DEFAULT '',
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    create_time  INTEGER NOT NULL,
    update_time  INTEGER NOT NULL,
    UNIQUE (workforce_id, email_key)
);
CREATE INDEX workforce_workers_team_time ON workforce_workers (workforce_id, create_time);
CREATE INDEX workforce_workers_project_role ON workforce_workers (project_id, role, create_time);
CREATE INDEX workforce_workers_user ON workforce_workers (user_id);

-- The IAM users Atelier created for members (rather than linked): such a
-- user is deleted with its last membership if it holds nothing else.
CREATE TABLE workforce_created_users (
    user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    domain_id  TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE workforce_created_users;
DROP TABLE workforce_workers;
DROP TABLE workforces;
