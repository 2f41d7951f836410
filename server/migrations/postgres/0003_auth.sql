-- Login (统一身份认证): one-use challenges, JWT signing keys (rotated, old ones
-- kept until their tokens expire), and refresh tokens stored hashed, in
-- families so that reusing a rotated token revokes the whole family.
CREATE TABLE login_challenges (
    nonce      TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL,
    used       BIGINT NOT NULL
);
CREATE TABLE jwt_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    private_pem TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    family     TEXT NOT NULL,
    network_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated    BIGINT NOT NULL,
    revoked    BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);
