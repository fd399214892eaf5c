-- +goose Up
-- Algorithms: indexed columns for scoping, filtering and sorting; the full
-- response document in doc (JSON).
CREATE TABLE training_algorithms (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    create_time  BIGINT NOT NULL,
    update_time  BIGINT NOT NULL,
    doc          TEXT NOT NULL,
    UNIQUE (project_id, workspace_id, name)
);
CREATE INDEX training_algorithms_list ON training_algorithms (project_id, workspace_id, create_time, id);

-- Training jobs: the columns the search filters and sorts on, the job
-- document (metadata, algorithm, spec) in doc and the runtime state (task
-- handles, exit codes, running records) in run, both JSON. deleted marks a
-- job whose deletion waits for its tasks to end: it is invisible to the API.
CREATE TABLE training_jobs (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL,
    workspace_id    TEXT NOT NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    user_name       TEXT NOT NULL,
    algorithm_id    TEXT NOT NULL,
    algorithm_name  TEXT NOT NULL,
    description     TEXT NOT NULL,
    phase           TEXT NOT NULL,
    secondary_phase TEXT NOT NULL,
    priority        INTEGER NOT NULL,
    create_time     BIGINT NOT NULL,
    start_time      BIGINT NOT NULL DEFAULT 0,
    end_time        BIGINT NOT NULL DEFAULT 0,
    deleted         INTEGER NOT NULL DEFAULT 0,
    doc             TEXT NOT NULL,
    run             TEXT NOT NULL
);
CREATE INDEX training_jobs_list ON training_jobs (project_id, workspace_id, deleted, create_time, id);
CREATE INDEX training_jobs_phase ON training_jobs (project_id, workspace_id, deleted, phase, create_time, id);
CREATE INDEX training_jobs_name ON training_jobs (project_id, workspace_id, deleted, name, id);
-- The scheduler's working set: jobs not yet in a final phase.
CREATE INDEX training_jobs_active ON training_jobs (phase, priority, create_time);
-- Deleted jobs waiting to be purged (almost none at any time).
CREATE INDEX training_jobs_deleted ON training_jobs (deleted);

CREATE TABLE training_job_events (
    seq     BIGSERIAL PRIMARY KEY,
    job_id  TEXT NOT NULL REFERENCES training_jobs (id) ON DELETE CASCADE,
    time    BIGINT NOT NULL,
    level   TEXT NOT NULL,
    source  TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX training_job_events_job ON training_job_events (job_id, time, seq);

CREATE TABLE training_task_samples (
    job_id      TEXT NOT NULL REFERENCES training_jobs (id) ON DELETE CASCADE,
    task_id     TEXT NOT NULL,
    at          BIGINT NOT NULL,
    cpu_percent DOUBLE PRECISION NOT NULL,
    memory_mib  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (job_id, task_id, at)
);

-- One row per singleton background worker: whoever holds an unexpired lease
-- runs it; another replica takes over when it lapses.
CREATE TABLE training_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE training_leases;
DROP TABLE training_task_samples;
DROP TABLE training_job_events;
DROP TABLE training_jobs;
DROP TABLE training_algorithms;
