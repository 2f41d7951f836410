-- Life events posted by departments (PRODUCT §3): one row per accepted
-- event, unique per sender and the sender's event id (a repeat is a
-- duplicate, not a second event). Events are kept by 网号, never by ID
-- number. `status` is `pending` until the recommendation engine has
-- matched it. Times in milliseconds (_ms).
CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    source      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    network_id  TEXT NOT NULL,
    occurred_ms BIGINT NOT NULL,
    data        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    status      TEXT NOT NULL,
    UNIQUE (source, event_id)
);
CREATE INDEX events_by_status ON events (status, id);
CREATE INDEX events_by_citizen ON events (network_id);
