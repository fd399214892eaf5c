-- +goose Up
-- Datasets: the columns the list filters and sorts on, the sample counters
-- that sample writes will maintain in the same transaction (so that lists,
-- details and statistics never count samples), and the rest of the
-- dataset's document (data sources, work path, schema, label format) in doc
-- (JSON). label_seq numbers the labels in the order they were created.
CREATE TABLE datasets (
    id                          TEXT PRIMARY KEY,
    project_id                  TEXT NOT NULL,
    workspace_id                TEXT NOT NULL,
    name                        TEXT NOT NULL,
    name_lower                  TEXT NOT NULL,
    dataset_type                INTEGER NOT NULL,
    status                      INTEGER NOT NULL,
    description                 TEXT NOT NULL,
    create_time                 BIGINT NOT NULL,
    update_time                 BIGINT NOT NULL,
    data_update_time            BIGINT NOT NULL,
    total_sample_count          BIGINT NOT NULL DEFAULT 0,
    annotated_sample_count      BIGINT NOT NULL DEFAULT 0,
    unconfirmed_sample_count    BIGINT NOT NULL DEFAULT 0,
    deleted_sample_count        BIGINT NOT NULL DEFAULT 0,
    loading_sample_count        BIGINT NOT NULL DEFAULT 0,
    total_sub_sample_count      BIGINT NOT NULL DEFAULT 0,
    annotated_sub_sample_count  BIGINT NOT NULL DEFAULT 0,
    dataset_version_count       INTEGER NOT NULL DEFAULT 0,
    label_seq                   BIGINT NOT NULL DEFAULT 0,
    doc                         TEXT NOT NULL,
    UNIQUE (project_id, workspace_id, name)
);
CREATE INDEX datasets_by_time ON datasets (project_id, workspace_id, create_time, id);
CREATE INDEX datasets_by_name ON datasets (project_id, workspace_id, name, id);
CREATE INDEX datasets_by_type ON datasets (project_id, workspace_id, dataset_type, create_time, id);

-- Labels of a dataset: unique by name, listed in the order they were
-- created (seq); properties and attributes are the reference's objects (JSON).
CREATE TABLE dataset_labels (
    dataset_id  TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    type        INTEGER NOT NULL,
    seq         BIGINT NOT NULL,
    properties  TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    PRIMARY KEY (dataset_id, name)
);
CREATE INDEX dataset_labels_order ON dataset_labels (dataset_id, seq);

-- +goose Down
DROP TABLE dataset_labels;
DROP TABLE datasets;
