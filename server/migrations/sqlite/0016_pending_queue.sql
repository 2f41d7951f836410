-- Pending events get a queue of their own. Matching an event had updated
-- its indexed `status`, which moved its entry in `events_by_status`. Now a
-- posted event is also inserted into `pending_events` (keyed by the rowid,
-- one B-tree), and matching deletes it from there; the event row is
-- written once (docs/performance.md). An event is pending exactly while
-- its id is in the queue.
CREATE TABLE pending_events (id INTEGER PRIMARY KEY);
INSERT INTO pending_events (id) SELECT id FROM events WHERE status = 'pending';
DROP INDEX events_by_status;
ALTER TABLE events DROP COLUMN status;
ALTER TABLE events DROP COLUMN matched_ms;

-- Idempotency keys are unique per sender where a sender gave one. The
-- recommendation matcher's notifications have none, and the table's
-- UNIQUE (sender, idempotency_key) took an index entry for each of them.
-- SQLite cannot drop a table constraint, so the table is rebuilt (the
-- procedure of https://www.sqlite.org/lang_altertable.html#otheralter;
-- no other table references it).
CREATE TABLE notifications_new (
    id               TEXT PRIMARY KEY NOT NULL,
    sender           TEXT NOT NULL,
    idempotency_key  TEXT,
    request_hash     TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    template_id      TEXT NOT NULL,
    template_version BIGINT NOT NULL,
    params           TEXT NOT NULL,
    category         TEXT NOT NULL,
    priority         TEXT NOT NULL,
    ttl_secs         BIGINT NOT NULL,
    collapse_key     TEXT,
    not_before_ms    BIGINT NOT NULL,
    created_ms       BIGINT NOT NULL,
    recipients       BIGINT NOT NULL
);
INSERT INTO notifications_new (id, sender, idempotency_key, request_hash, recipient,
    template_id, template_version, params, category, priority, ttl_secs, collapse_key,
    not_before_ms, created_ms, recipients)
SELECT id, sender, idempotency_key, request_hash, recipient, template_id, template_version,
    params, category, priority, ttl_secs, collapse_key, not_before_ms, created_ms, recipients
FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE UNIQUE INDEX notifications_by_idempotency_key ON notifications (sender, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
