-- Pending events get a queue of their own. Matching an event had updated
-- its `status`; that column was indexed, so PostgreSQL could not update in
-- place (no HOT update): each match wrote a new copy of the event, data
-- included, and a new entry in each of its four indexes. Now a posted event
-- is also inserted into `pending_events`, and matching deletes it from
-- there: one narrow row and one index entry, and the event row is written
-- once (docs/performance.md). An event is pending exactly while its id is
-- in the queue.
CREATE TABLE pending_events (id BIGINT PRIMARY KEY);
INSERT INTO pending_events (id) SELECT id FROM events WHERE status = 'pending';
DROP INDEX events_by_status;
ALTER TABLE events DROP COLUMN status;
ALTER TABLE events DROP COLUMN matched_ms;

-- Idempotency keys are unique per sender where a sender gave one. The
-- recommendation matcher's notifications have none, and the full UNIQUE
-- (sender, idempotency_key) took an index entry for each of them.
ALTER TABLE notifications DROP CONSTRAINT notifications_sender_idempotency_key_key;
CREATE UNIQUE INDEX notifications_by_idempotency_key ON notifications (sender, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
