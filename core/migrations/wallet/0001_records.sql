-- The wallet: every sensitive value lives sealed in `records.body`
-- (AEAD, associated data = table, row id and column). Nothing here is
-- plaintext personal data: `kind` is the record type, `lookup` a keyed hash.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE records (
    id         INTEGER PRIMARY KEY NOT NULL,
    kind       INTEGER NOT NULL,
    lookup     BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    body       BLOB NOT NULL
) STRICT;

CREATE INDEX records_by_kind ON records (kind, updated_at);
CREATE UNIQUE INDEX records_by_lookup ON records (kind, lookup) WHERE lookup IS NOT NULL;
