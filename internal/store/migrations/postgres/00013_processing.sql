-- +goose Up
-- Data processing tasks (package dataset/processing). A task names its
-- template (validation, cleaning, selection, augmentation), its operators,
-- inputs and work path (doc, the request as given with what was resolved);
-- each run of it is a version, whose work is a background task (job_id)
-- and whose per-sample outcomes are rows of processor_results. The source
-- columns repeat the first input for the list's filters and is_current.
CREATE TABLE processor_tasks (
    id             TEXT PRIMARY KEY,
    project_id     TEXT NOT NULL,
    workspace_id   TEXT NOT NULL DEFAULT '0',
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    template_id    TEXT NOT NULL,
    source_type    TEXT NOT NULL DEFAULT '',
    source         TEXT NOT NULL DEFAULT '',
    source_version TEXT NOT NULL DEFAULT '',
    doc            TEXT NOT NULL,
    version_count  INTEGER NOT NULL DEFAULT 0,
    next_version   INTEGER NOT NULL DEFAULT 1,
    latest_version TEXT NOT NULL DEFAULT '',
    create_time    BIGINT NOT NULL,
    update_time    BIGINT NOT NULL,
    UNIQUE (project_id, workspace_id, name)
);
CREATE INDEX processor_tasks_project ON processor_tasks (project_id, workspace_id, create_time);
CREATE INDEX processor_tasks_source ON processor_tasks (project_id, source, template_id, create_time);

-- status: 0 initialized, 1 running, 2 completed, 3 failed, 4 stopped (the
-- reference's). The counts are those of the results committed so far;
-- they move with the task's checkpoint, in the same transaction.
CREATE TABLE processor_versions (
    id               TEXT PRIMARY KEY,
    task_id          TEXT NOT NULL REFERENCES processor_tasks (id) ON DELETE CASCADE,
    project_id       TEXT NOT NULL,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    status           INTEGER NOT NULL,
    job_id           TEXT NOT NULL,
    doc              TEXT NOT NULL,
    error_msg        TEXT NOT NULL DEFAULT '',
    origin_count     BIGINT NOT NULL DEFAULT 0,
    added_count      BIGINT NOT NULL DEFAULT 0,
    modified_count   BIGINT NOT NULL DEFAULT 0,
    unmodified_count BIGINT NOT NULL DEFAULT 0,
    deleted_count    BIGINT NOT NULL DEFAULT 0,
    failed_count     BIGINT NOT NULL DEFAULT 0,
    duplicate_count  BIGINT NOT NULL DEFAULT 0,
    start_time       BIGINT NOT NULL DEFAULT 0,
    end_time         BIGINT NOT NULL DEFAULT 0,
    create_time      BIGINT NOT NULL,
    update_time      BIGINT NOT NULL,
    UNIQUE (task_id, name)
);
CREATE INDEX processor_versions_task ON processor_versions (task_id, create_time);
CREATE INDEX processor_versions_active ON processor_versions (project_id, status);

-- One row per input sample and per sample the task added, in the order
-- they were processed. property: -1 waiting for a decision over the whole
-- set (de-duplication, selection, cleansing keep the sample's fingerprint
-- or features in item until then), 0 kept unchanged, 1 modified, 2
-- removed, 3 added. line is the sample's output manifest line ('' when it
-- is not in the output).
CREATE TABLE processor_results (
    version_id    TEXT NOT NULL REFERENCES processor_versions (id) ON DELETE CASCADE,
    seq           BIGINT NOT NULL,
    sample_id     TEXT NOT NULL,
    property      INTEGER NOT NULL,
    failed        INTEGER NOT NULL DEFAULT 0,
    origin_source TEXT NOT NULL,
    new_source    TEXT NOT NULL DEFAULT '',
    description   TEXT NOT NULL DEFAULT '[]',
    line          TEXT NOT NULL DEFAULT '',
    item          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (version_id, seq)
);
CREATE INDEX processor_results_property ON processor_results (version_id, property, seq);

-- +goose Down
DROP TABLE processor_results;
DROP TABLE processor_versions;
DROP TABLE processor_tasks;
