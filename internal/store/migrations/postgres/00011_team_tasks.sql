-- +goose Up
-- Team labeling tasks (package dataset/teamtask). A task splits samples of
-- one dataset among the labelers of one or more labeling teams; each
-- allocation (a sample given to one labeler) is a row of team_samples,
-- so repetition r gives a sample r rows. Counters per task, member and
-- state (team_counts) answer statistics without scanning; acceptance
-- rounds keep theirs in team_checks and team_check_members.
CREATE TABLE team_tasks (
    id                  TEXT PRIMARY KEY,
    project_id          TEXT NOT NULL,
    dataset_id          TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    workspace_id        TEXT NOT NULL DEFAULT '0',
    name                TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    status              INTEGER NOT NULL,
    repetition          INTEGER NOT NULL,
    auto_sync_dataset   INTEGER NOT NULL,
    data_sync_type      INTEGER NOT NULL,
    sync_data           INTEGER NOT NULL,
    sync_auto_labeling  INTEGER NOT NULL,
    sample_conditions   TEXT NOT NULL DEFAULT '',
    agency              TEXT NOT NULL DEFAULT '',
    -- the dataset sample seq allocated up to (new samples past it join a
    -- task that synchronizes data), and the allocation counter that
    -- continues the even split
    synced_seq          BIGINT NOT NULL DEFAULT 0,
    allocated           BIGINT NOT NULL DEFAULT 0,
    checking_id         TEXT NOT NULL DEFAULT '',
    create_time         BIGINT NOT NULL,
    update_time         BIGINT NOT NULL,
    UNIQUE (dataset_id, name)
);
CREATE INDEX team_tasks_dataset_time ON team_tasks (dataset_id, create_time);

-- The members a task was given (a subset of its teams' members, or all of
-- them). Role and user come from workforce_workers at each request, so a
-- member removed from the team loses the task at once.
CREATE TABLE team_task_workers (
    task_id          TEXT NOT NULL REFERENCES team_tasks (id) ON DELETE CASCADE,
    worker_id        TEXT NOT NULL,
    workforce_id     TEXT NOT NULL,
    email            TEXT NOT NULL,
    email_status     INTEGER NOT NULL DEFAULT 0,
    last_notify_time BIGINT NOT NULL DEFAULT 0,
    create_time      BIGINT NOT NULL,
    PRIMARY KEY (task_id, worker_id)
);
CREATE INDEX team_task_workers_worker ON team_task_workers (worker_id);

-- One row per allocation. state: 0 unlabeled, 1 labeled and waiting for
-- review, 2 rejected (back with its labeler), 3 passed review and waiting
-- for acceptance, 4 accepted. check_id marks the rows sampled by the
-- current acceptance round; agree/compared count the other labelers of
-- the same sample whose labels match this row's (repetition > 1).
CREATE TABLE team_samples (
    task_id        TEXT NOT NULL REFERENCES team_tasks (id) ON DELETE CASCADE,
    sample_seq     BIGINT NOT NULL,
    worker_id      TEXT NOT NULL,
    sample_id      TEXT NOT NULL,
    state          INTEGER NOT NULL,
    labels         TEXT NOT NULL DEFAULT '',
    review_accept  INTEGER,
    review_comment TEXT NOT NULL DEFAULT '',
    review_score   TEXT NOT NULL DEFAULT '',
    reviewer_id    TEXT NOT NULL DEFAULT '',
    check_id       TEXT NOT NULL DEFAULT '',
    check_accept   INTEGER,
    check_comment  TEXT NOT NULL DEFAULT '',
    check_score    TEXT NOT NULL DEFAULT '',
    agree          INTEGER NOT NULL DEFAULT 0,
    compared       INTEGER NOT NULL DEFAULT 0,
    update_time    BIGINT NOT NULL,
    PRIMARY KEY (task_id, sample_seq, worker_id)
);
CREATE INDEX team_samples_worker ON team_samples (task_id, worker_id, state, sample_seq);
CREATE INDEX team_samples_state ON team_samples (task_id, state, sample_seq);
CREATE INDEX team_samples_check ON team_samples (task_id, check_id, sample_seq);
CREATE INDEX team_samples_id ON team_samples (task_id, sample_id);

-- Counters: allocations per task, member and state, and the agreement
-- tallies per member (state -1 holds agree in n and compared in n2).
CREATE TABLE team_counts (
    task_id   TEXT NOT NULL REFERENCES team_tasks (id) ON DELETE CASCADE,
    worker_id TEXT NOT NULL,
    state     INTEGER NOT NULL,
    n         BIGINT NOT NULL DEFAULT 0,
    n2        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, worker_id, state)
);

-- Labels the allocations carry, per task: occurrences (n) and allocations
-- carrying the label (samples), for the task's label_stats.
CREATE TABLE team_label_counts (
    task_id TEXT NOT NULL REFERENCES team_tasks (id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    n       BIGINT NOT NULL DEFAULT 0,
    samples BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, name)
);

-- Every state change of an allocation: who, when, and the comment.
CREATE TABLE team_sample_events (
    id          TEXT PRIMARY KEY,
    task_id     TEXT NOT NULL REFERENCES team_tasks (id) ON DELETE CASCADE,
    sample_seq  BIGINT NOT NULL,
    worker_id   TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_state  INTEGER NOT NULL,
    to_state    INTEGER NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    score       TEXT NOT NULL DEFAULT '',
    at          BIGINT NOT NULL
);
CREATE INDEX team_sample_events_sample ON team_sample_events (task_id, sample_seq, at);

-- Acceptance rounds. status: 0 open, 1 finished, 2 cancelled.
CREATE TABLE team_checks (
    id            TEXT PRIMARY KEY,
    task_id       TEXT NOT NULL REFERENCES team_tasks (id) ON DELETE CASCADE,
    status        INTEGER NOT NULL,
    action        INTEGER NOT NULL DEFAULT -1,
    sampling_num  INTEGER NOT NULL,
    sampling_rate DOUBLE PRECISION NOT NULL,
    total         BIGINT NOT NULL,
    sampled       BIGINT NOT NULL,
    checked       BIGINT NOT NULL DEFAULT 0,
    accepted      BIGINT NOT NULL DEFAULT 0,
    rejected      BIGINT NOT NULL DEFAULT 0,
    score_total   BIGINT NOT NULL DEFAULT 0,
    create_time   BIGINT NOT NULL,
    update_time   BIGINT NOT NULL
);
CREATE INDEX team_checks_task ON team_checks (task_id, create_time);

CREATE TABLE team_check_members (
    check_id    TEXT NOT NULL REFERENCES team_checks (id) ON DELETE CASCADE,
    worker_id   TEXT NOT NULL,
    sampled     BIGINT NOT NULL DEFAULT 0,
    checked     BIGINT NOT NULL DEFAULT 0,
    accepted    BIGINT NOT NULL DEFAULT 0,
    rejected    BIGINT NOT NULL DEFAULT 0,
    score_total BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (check_id, worker_id)
);

-- +goose Down
DROP TABLE team_check_members;
DROP TABLE team_checks;
DROP TABLE team_sample_events;
DROP TABLE team_label_counts;
DROP TABLE team_counts;
DROP TABLE team_samples;
DROP TABLE team_task_workers;
DROP TABLE team_tasks;
