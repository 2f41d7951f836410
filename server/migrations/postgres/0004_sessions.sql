-- Signed-in devices (one per login; the refresh-token family is the device's
-- session), websites registered for scan-to-login, their login sessions, and
-- the answers kept for idempotency keys.
CREATE TABLE devices (
    device_id     TEXT PRIMARY KEY NOT NULL,
    family        TEXT NOT NULL UNIQUE,
    network_id    TEXT NOT NULL,
    name          TEXT NOT NULL,
    signed_in_at  BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    signed_out_at BIGINT
);
CREATE INDEX devices_by_account ON devices (network_id);
CREATE TABLE relying_parties (
    client_id   TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    claims      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE TABLE login_sessions (
    session_id TEXT PRIMARY KEY NOT NULL,
    client_id  TEXT NOT NULL,
    claims     TEXT NOT NULL,
    rp_nonce   TEXT,
    nonce      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    status     TEXT NOT NULL,
    network_id TEXT,
    decided_at BIGINT,
    id_token   TEXT
);
CREATE INDEX login_sessions_by_expiry ON login_sessions (expires_at);
CREATE TABLE idempotency_keys (
    scope_hash   TEXT PRIMARY KEY NOT NULL,
    request_hash TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    status       BIGINT,
    sealed_body  TEXT
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
CREATE INDEX audit_log_by_subject ON audit_log (subject, id);
