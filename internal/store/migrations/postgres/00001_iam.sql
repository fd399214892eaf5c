-- +goose Up
-- Identity: accounts (domains), users, groups, projects, enterprise projects,
-- ModelArts workspaces, AK/SK credentials, policies and grants.
CREATE TABLE domains (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    policy_seq  BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id                 TEXT PRIMARY KEY,
    domain_id          TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    password_hash      TEXT NOT NULL DEFAULT '',
    enabled            BOOLEAN NOT NULL DEFAULT TRUE,
    email              TEXT NOT NULL DEFAULT '',
    description        TEXT NOT NULL DEFAULT '',
    is_domain_owner    BOOLEAN NOT NULL DEFAULT FALSE,
    credential_epoch   BIGINT NOT NULL DEFAULT 0,
    pwd_changed_at     BIGINT NOT NULL DEFAULT 0,
    last_login_at      BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE user_groups (
    id           TEXT PRIMARY KEY,
    domain_id    TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE group_members (
    group_id  TEXT NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE projects (
    id           TEXT PRIMARY KEY,
    domain_id    TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    region       TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    enabled      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE enterprise_projects (
    domain_id    TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    status       INTEGER NOT NULL DEFAULT 1,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (domain_id, id),
    UNIQUE (domain_id, name)
);

CREATE TABLE workspaces (
    project_id             TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    id                     TEXT NOT NULL,
    domain_id              TEXT NOT NULL,
    name                   TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    enterprise_project_id  TEXT NOT NULL,
    auth_type              TEXT NOT NULL DEFAULT 'PUBLIC',
    owner_user_id          TEXT NOT NULL DEFAULT '',
    owner_name             TEXT NOT NULL DEFAULT '',
    status                 TEXT NOT NULL DEFAULT 'NORMAL',
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    PRIMARY KEY (project_id, id),
    UNIQUE (project_id, name),
    FOREIGN KEY (domain_id, enterprise_project_id) REFERENCES enterprise_projects(domain_id, id)
);

CREATE TABLE workspace_users (
    project_id    TEXT NOT NULL,
    workspace_id  TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, workspace_id, user_id),
    FOREIGN KEY (project_id, workspace_id) REFERENCES workspaces(project_id, id) ON DELETE CASCADE
);

CREATE TABLE credentials (
    access_key   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    domain_id    TEXT NOT NULL,
    secret       TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'active',
    description  TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    last_use_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX credentials_user ON credentials (user_id);

-- domain_id is NULL for system policies.
CREATE TABLE policies (
    id            TEXT PRIMARY KEY,
    domain_id     TEXT REFERENCES domains(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    type          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    catalog       TEXT NOT NULL,
    document      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX policies_name ON policies (COALESCE(domain_id, ''), name);
CREATE UNIQUE INDEX policies_display_name ON policies (COALESCE(domain_id, ''), display_name);

-- scope_kind: 'domain' (whole account), 'project', 'enterprise_project'.
CREATE TABLE grants (
    id          TEXT PRIMARY KEY,
    domain_id   TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    group_id    TEXT NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
    policy_id   TEXT NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    scope_kind  TEXT NOT NULL,
    scope_id    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (group_id, policy_id, scope_kind, scope_id)
);
CREATE INDEX grants_policy ON grants (policy_id);

-- Server-wide secrets generated on first start (token signing key, presigned
-- URL key), shared by every replica through the database.
CREATE TABLE server_secrets (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Monotonic counters that replicas poll to invalidate their caches.
CREATE TABLE revisions (
    name   TEXT PRIMARY KEY,
    value  BIGINT NOT NULL
);
INSERT INTO revisions (name, value) VALUES ('iam', 1);

-- +goose Down
DROP TABLE revisions;
DROP TABLE server_secrets;
DROP TABLE grants;
DROP TABLE policies;
DROP TABLE credentials;
DROP TABLE workspace_users;
DROP TABLE workspaces;
DROP TABLE enterprise_projects;
DROP TABLE projects;
DROP TABLE group_members;
DROP TABLE user_groups;
DROP TABLE users;
DROP TABLE domains;
