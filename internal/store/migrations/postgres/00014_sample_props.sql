-- +goose Up
-- The user attributes of each sample (its metadata keys that do not start
-- with @modelarts:, with a string, number or boolean value; numbers and
-- booleans as their JSON text), for the sample list's metadata filter
-- (search_conditions' SearchProp): auto grouping writes each image's group
-- into one. Arrays, objects, nulls, names over 256 bytes and values over
-- 1024 bytes are not indexed. Kept like dataset_sample_labels: keyed by
-- sample for the writes that replace a sample's metadata and deleted with
-- the sample by the statement that deletes it; only the dataset's delete
-- cascades. (A foreign key to dataset_samples would cascade too, but at the
-- price of a trigger per deleted sample on PostgreSQL: deleting a dataset
-- of 200,000 samples took 4 to 6 times as long.) Filters walk the (name,
-- value, sample) index, in sample order for one value.
CREATE TABLE dataset_sample_props (
    dataset_id  TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    sample_seq  BIGINT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (dataset_id, sample_seq, name)
);
CREATE INDEX dataset_sample_props_value ON dataset_sample_props (dataset_id, name, value, sample_seq);

-- The attributes of the samples already stored (the add-samples API, label
-- updates and manifest imports kept metadata before this table), by the
-- rules of the write path (dataset.userProps). json, not jsonb: json keeps
-- a number's text as the server wrote it. A document with an escaped NUL
-- is skipped (PostgreSQL text cannot hold it; the write path indexes no
-- text with NUL either).
INSERT INTO dataset_sample_props (dataset_id, sample_seq, name, value)
SELECT dataset_id, seq, key, v
FROM (
    SELECT s.dataset_id, s.seq, j.key,
           CASE json_typeof(j.value) WHEN 'string' THEN j.value #>> '{}' ELSE j.value::text END AS v
    -- The CASE, not a WHERE, keeps json_each from ever seeing a
    -- document it cannot read, whatever order the planner picks.
    FROM dataset_samples s, json_each(CASE WHEN strpos(s.doc, '\u0000') = 0
        AND json_typeof(s.doc::json -> 'metadata') = 'object' THEN s.doc::json -> 'metadata' END) j
    WHERE json_typeof(j.value) IN ('string', 'number', 'boolean')
      AND substr(j.key, 1, 11) <> '@modelarts:'
      AND octet_length(j.key) <= 256
) a
WHERE octet_length(v) <= 1024;

-- +goose Down
DROP TABLE dataset_sample_props;
