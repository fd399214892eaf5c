-- +goose Up
-- Optional user attributes of Huawei IAM's extended user API.
ALTER TABLE users ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN areacode TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN access_mode TEXT NOT NULL DEFAULT 'default';
ALTER TABLE users ADD COLUMN pwd_status BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN xuser_type TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN xuser_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE users DROP COLUMN xuser_id;
ALTER TABLE users DROP COLUMN xuser_type;
ALTER TABLE users DROP COLUMN pwd_status;
ALTER TABLE users DROP COLUMN access_mode;
ALTER TABLE users DROP COLUMN areacode;
ALTER TABLE users DROP COLUMN phone;
