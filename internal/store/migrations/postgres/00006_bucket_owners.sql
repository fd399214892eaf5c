-- +goose Up
-- The account that owns each bucket created through Atelier. Buckets made
-- outside Atelier (a folder dropped into DATA_DIR/obs, a bucket created on
-- the S3 service directly) have no row and belong to the first account.
CREATE TABLE bucket_owners (
    bucket      TEXT PRIMARY KEY,
    domain_id   TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX bucket_owners_domain ON bucket_owners (domain_id);

-- +goose Down
DROP TABLE bucket_owners;
