-- The web console (`/console`): its users and their sessions.
--
-- A user has one role: `operator` (everything), `department` (the events its
-- service client posted: `department` names that client), `window` (window
-- verification at the counter `window_id`, audience `window:<window_id>`) or
-- `auditor` (the audit log, read only). Passwords are PBKDF2-HMAC-SHA256
-- (`pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`).
CREATE TABLE console_users (
    username      TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    department    TEXT,
    window_id     TEXT,
    created_ms    BIGINT NOT NULL
);

-- A signed-in browser: the cookie's token is kept as its SHA-256, with the
-- session's CSRF token (every form carries it back).
CREATE TABLE console_sessions (
    token_hash   TEXT PRIMARY KEY NOT NULL,
    username     TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_user ON console_sessions (username);
