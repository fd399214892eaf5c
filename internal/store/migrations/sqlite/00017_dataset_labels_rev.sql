-- +goose Up
-- A dataset's label revision: every write that changes its labels (names,
-- types, properties, attributes; added or removed) moves it in the same
-- transaction, so that a replica may keep the label list it read and
-- trust it for as long as the dataset row it reads carries the same
-- revision (the dataset detail reads the labels on every request
-- otherwise).
ALTER TABLE datasets ADD COLUMN labels_rev BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE datasets DROP COLUMN labels_rev;
