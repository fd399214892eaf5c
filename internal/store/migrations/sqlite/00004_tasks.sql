-- +goose Up
-- Background tasks (internal/tasks): the domain-visible record of every long
-- job. Execution is queued through River (its own river_* tables, migrated by
-- internal/tasks at start-up); this table is the source of truth for status,
-- progress, the resume cursor and the lease that keeps a task on one replica.
-- cp_* hold the counters as of the last checkpoint (cursor), so a resumed run
-- restarts from exactly what the checkpoint covers; cp_version orders
-- checkpoint writes so an older one never overwrites a newer one.
CREATE TABLE tasks (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    status        TEXT NOT NULL,
    total         BIGINT NOT NULL DEFAULT 0,
    succeeded     BIGINT NOT NULL DEFAULT 0,
    failed        BIGINT NOT NULL DEFAULT 0,
    error_message TEXT NOT NULL DEFAULT '',
    params        TEXT NOT NULL DEFAULT '{}',
    result        TEXT NOT NULL DEFAULT '',
    cursor        TEXT NOT NULL DEFAULT '',
    cp_succeeded  BIGINT NOT NULL DEFAULT 0,
    cp_failed     BIGINT NOT NULL DEFAULT 0,
    cp_version    BIGINT NOT NULL DEFAULT 0,
    job_id        BIGINT,
    lease_token   TEXT,
    lease_until   BIGINT NOT NULL DEFAULT 0,
    runs          INTEGER NOT NULL DEFAULT 0,
    create_time   BIGINT NOT NULL,
    start_time    BIGINT NOT NULL DEFAULT 0,
    end_time      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX tasks_resource ON tasks (resource_id, kind, create_time, id);
CREATE INDEX tasks_active ON tasks (status, lease_until);

-- Per-item failures of a task, numbered 1..n in the order reported; only the
-- first few are kept (the task's failed counter counts them all).
CREATE TABLE task_failures (
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq     BIGINT NOT NULL,
    item    TEXT NOT NULL,
    reason  TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
);

-- +goose Down
DROP TABLE task_failures;
DROP TABLE tasks;
