-- The e-licence library, second part.
--
-- A licence's content changes by a new version (GB/T 36904: the identifier's
-- version segment + 1; the library's row moves to the new identifier, on a new
-- status-list index, and the old index is set, so the old version no longer
-- verifies). Each superseded identifier points to the current one, so a
-- department given an old identifier is answered with the current version and
-- an update retried with the old one is recognised.
CREATE TABLE superseded_licences (
    identifier    TEXT PRIMARY KEY NOT NULL,
    current       TEXT NOT NULL,
    superseded_ms BIGINT NOT NULL
);
CREATE INDEX superseded_licences_by_current ON superseded_licences (current);

-- The device key (hex SHA-256 of its SubjectPublicKeyInfo DER) that signed
-- the login presentation of a device session: wallet sync binds licences
-- only to it. NULL for sessions from before this column (they sign in again).
ALTER TABLE devices ADD COLUMN device_key TEXT;
