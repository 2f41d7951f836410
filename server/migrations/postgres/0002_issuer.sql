-- The issuer service: its keys, the people it issued to (by 网号, never by
-- the plain ID number), and revoked status-list indices.
CREATE TABLE issuer_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    suite       TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    secret_hex  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    active      BIGINT NOT NULL
);
CREATE TABLE status_counters (
    kid        TEXT PRIMARY KEY NOT NULL,
    next_index BIGINT NOT NULL
);
CREATE TABLE revocations (
    kid        TEXT NOT NULL,
    idx        BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL,
    PRIMARY KEY (kid, idx)
);
CREATE TABLE accounts (
    network_id   TEXT PRIMARY KEY NOT NULL,
    person_key   TEXT NOT NULL UNIQUE,
    kid          TEXT NOT NULL,
    status_index BIGINT NOT NULL,
    generation   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE TABLE audit_log (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT,
    request_id TEXT NOT NULL
);
