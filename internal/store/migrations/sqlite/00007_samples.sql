-- +goose Up
-- Samples of a dataset. seq numbers a dataset's samples in the order they
-- were added and is the key every list pages on (newest first by default);
-- id is the reference's sample_id (md5 of the source, so that adding or
-- importing the same file twice finds the existing sample instead of a
-- duplicate). state is 0 unlabeled, 1 labeled, 2 labeled by a machine and
-- waiting for confirmation. doc is the labels and metadata (JSON). score is
-- the highest label confidence (NULL without one) for the score filters.
CREATE TABLE dataset_samples (
    dataset_id   TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    seq          BIGINT NOT NULL,
    id           TEXT NOT NULL,
    source       TEXT NOT NULL,
    name         TEXT NOT NULL,
    sample_type  INTEGER NOT NULL,
    state        INTEGER NOT NULL,
    usage        TEXT NOT NULL,
    size         BIGINT NOT NULL,
    sample_time  BIGINT NOT NULL,
    create_time  BIGINT NOT NULL,
    update_time  BIGINT NOT NULL,
    labeler      TEXT NOT NULL,
    hard         INTEGER NOT NULL,
    score        DOUBLE PRECISION,
    doc          TEXT NOT NULL,
    PRIMARY KEY (dataset_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX dataset_samples_id ON dataset_samples (dataset_id, id);
CREATE INDEX dataset_samples_state ON dataset_samples (dataset_id, state, seq);

-- Which labels each sample carries (label_seq is dataset_labels.seq, so a
-- rename touches no row here), with how many times (boxes, entities).
-- Keyed by sample, for the writes that replace a sample's labels; label
-- filters walk the (label, sample) index, narrow and in sample order.
-- Per-label counters live on dataset_labels.
CREATE TABLE dataset_sample_labels (
    dataset_id  TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    label_seq   BIGINT NOT NULL,
    sample_seq  BIGINT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (dataset_id, sample_seq, label_seq)
) WITHOUT ROWID;
CREATE INDEX dataset_sample_labels_label ON dataset_sample_labels (dataset_id, label_seq, sample_seq);

ALTER TABLE dataset_labels ADD COLUMN annotation_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE dataset_labels ADD COLUMN sample_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE datasets ADD COLUMN sample_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE datasets ADD COLUMN hard_sample_count BIGINT NOT NULL DEFAULT 0;

-- Daily snapshots of a dataset's counters for the metrics API: the row of
-- the current day is rewritten by every write that changes a counter.
CREATE TABLE dataset_metrics (
    dataset_id    TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    day           BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    total         BIGINT NOT NULL,
    annotated     BIGINT NOT NULL,
    unconfirmed   BIGINT NOT NULL,
    PRIMARY KEY (dataset_id, day)
);

-- +goose Down
DROP TABLE dataset_metrics;
ALTER TABLE datasets DROP COLUMN hard_sample_count;
ALTER TABLE datasets DROP COLUMN sample_seq;
ALTER TABLE dataset_labels DROP COLUMN sample_count;
ALTER TABLE dataset_labels DROP COLUMN annotation_count;
DROP TABLE dataset_sample_labels;
DROP TABLE dataset_samples;
