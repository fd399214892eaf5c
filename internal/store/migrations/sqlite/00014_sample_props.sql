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
) WITHOUT ROWID;
CREATE INDEX dataset_sample_props_value ON dataset_sample_props (dataset_id, name, value, sample_seq);

-- The attributes of the samples already stored (the add-samples API, label
-- updates and manifest imports kept metadata before this table), by the
-- rules of the write path (dataset.userProps): a number is read back as
-- the text the server wrote (doc -> path), booleans as true/false. A
-- document with an escaped NUL is skipped: the write path indexes no text
-- with NUL either.
INSERT INTO dataset_sample_props (dataset_id, sample_seq, name, value)
SELECT s.dataset_id, s.seq, j.key,
       CASE j.type WHEN 'text' THEN j.value WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                   ELSE coalesce(s.doc -> j.fullkey, json_quote(j.value)) END
FROM dataset_samples s, json_each(s.doc, '$.metadata') j
WHERE instr(s.doc, '\u0000') = 0
  AND json_type(s.doc, '$.metadata') = 'object'
  AND j.type IN ('text', 'integer', 'real', 'true', 'false')
  AND substr(j.key, 1, 11) <> '@modelarts:'
  AND length(CAST(j.key AS BLOB)) <= 256
  AND (j.type <> 'text' OR length(CAST(j.value AS BLOB)) <= 1024);

-- +goose Down
DROP TABLE dataset_sample_props;
