-- +goose Up
-- Every bump of a revision counter (revisions: the IAM data's, for one)
-- notifies channel atelier_revisions with the counter's name, delivered when
-- the bumping transaction commits and not at all if it rolls back. Replicas
-- LISTEN on it (store.DB.Listen) and drop their caches at once, instead of
-- waiting for their next poll of the counter.
-- +goose StatementBegin
CREATE FUNCTION atelier_notify_revision() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('atelier_revisions', NEW.name);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER revisions_notify AFTER UPDATE ON revisions
    FOR EACH ROW EXECUTE FUNCTION atelier_notify_revision();

-- +goose Down
DROP TRIGGER revisions_notify ON revisions;
DROP FUNCTION atelier_notify_revision();
