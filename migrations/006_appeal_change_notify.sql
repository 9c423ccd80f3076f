-- Up Migration
-- Every committed change to what an appeal read returns (the appeal, its
-- translations, its follow-ups) NOTIFYs `ua_appeals_changed`. The API's
-- in-process cache of public reads listens and drops everything it holds on
-- each notification. Statement-level, and NOTIFY folds identical
-- notifications of one transaction into one: a bulk change costs one
-- message. DELETE and TRUNCATE count too: no change may go unheard.
CREATE FUNCTION ua_notify_appeals_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ua_appeals_changed', '');
  RETURN NULL;
END $$;

CREATE TRIGGER appeals_notify_changed AFTER INSERT OR UPDATE OR DELETE ON appeals
  FOR EACH STATEMENT EXECUTE FUNCTION ua_notify_appeals_changed();
CREATE TRIGGER appeals_notify_truncated AFTER TRUNCATE ON appeals
  FOR EACH STATEMENT EXECUTE FUNCTION ua_notify_appeals_changed();
CREATE TRIGGER appeal_translations_notify_changed AFTER INSERT OR UPDATE OR DELETE ON appeal_translations
  FOR EACH STATEMENT EXECUTE FUNCTION ua_notify_appeals_changed();
CREATE TRIGGER appeal_translations_notify_truncated AFTER TRUNCATE ON appeal_translations
  FOR EACH STATEMENT EXECUTE FUNCTION ua_notify_appeals_changed();
CREATE TRIGGER appeal_updates_notify_changed AFTER INSERT OR UPDATE OR DELETE ON appeal_updates
  FOR EACH STATEMENT EXECUTE FUNCTION ua_notify_appeals_changed();
CREATE TRIGGER appeal_updates_notify_truncated AFTER TRUNCATE ON appeal_updates
  FOR EACH STATEMENT EXECUTE FUNCTION ua_notify_appeals_changed();

-- Down Migration
DROP TRIGGER appeal_updates_notify_truncated ON appeal_updates;
DROP TRIGGER appeal_updates_notify_changed ON appeal_updates;
DROP TRIGGER appeal_translations_notify_truncated ON appeal_translations;
DROP TRIGGER appeal_translations_notify_changed ON appeal_translations;
DROP TRIGGER appeals_notify_truncated ON appeals;
DROP TRIGGER appeals_notify_changed ON appeals;
DROP FUNCTION ua_notify_appeals_changed();
