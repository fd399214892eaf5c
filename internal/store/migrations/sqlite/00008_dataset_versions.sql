-- +goose Up
-- Published versions of a dataset. A version is immutable once published:
-- its manifest (and VOC files) under the dataset's inner work path are the
-- frozen samples, and this row holds what the version APIs answer from
-- without reading them: the counters, the options it was published with
-- (doc, JSON), the dataset's labels as they were (labels, JSON) and a sparse
-- index of the manifest (line_index, JSON: the byte offset of every
-- 1,000th line) so that a version's sample list seeks instead of reading
-- the manifest from its start. status is 0 creating, 1 normal, 2 deleting,
-- 4 error (3, deleted, is never stored: the row goes). task_id is the
-- publishing task. train_ratio and version_format are columns so that the
-- dataset list can filter datasets by their versions.
CREATE TABLE dataset_versions (
    id                      TEXT PRIMARY KEY,
    dataset_id              TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    name                    TEXT NOT NULL,
    status                  INTEGER NOT NULL,
    create_time             BIGINT NOT NULL,
    update_time             BIGINT NOT NULL,
    task_id                 TEXT NOT NULL,
    total_sample_count      BIGINT NOT NULL DEFAULT 0,
    annotated_sample_count  BIGINT NOT NULL DEFAULT 0,
    train_ratio             DOUBLE PRECISION NOT NULL,
    version_format          INTEGER NOT NULL,
    doc                     TEXT NOT NULL,
    labels                  TEXT NOT NULL DEFAULT '[]',
    line_index              TEXT NOT NULL DEFAULT '[]',
    UNIQUE (dataset_id, name)
);
CREATE INDEX dataset_versions_by_time ON dataset_versions (dataset_id, create_time, id);

-- next_version_num only grows (V001, V002 … even after deletions);
-- current_version_* is the version the dataset details show as current.
ALTER TABLE datasets ADD COLUMN next_version_num INTEGER NOT NULL DEFAULT 1;
ALTER TABLE datasets ADD COLUMN current_version_id TEXT NOT NULL DEFAULT '';
ALTER TABLE datasets ADD COLUMN current_version_name TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE datasets DROP COLUMN current_version_name;
ALTER TABLE datasets DROP COLUMN current_version_id;
ALTER TABLE datasets DROP COLUMN next_version_num;
DROP TABLE dataset_versions;
