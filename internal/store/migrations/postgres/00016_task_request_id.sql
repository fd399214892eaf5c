-- +goose Up
-- The id of the API request that queued a task: the replica that runs it,
-- whichever it is, logs it on the task's lines.
ALTER TABLE tasks ADD COLUMN request_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE tasks DROP COLUMN request_id;
