-- Recommendation rule sets (PRODUCT §3): each accepted set is a new
-- version; the highest version is in force. Sets are checked whole before
-- they are stored, so a stored set is always a valid one.
CREATE TABLE rule_sets (
    version    BIGINT PRIMARY KEY NOT NULL,
    document   TEXT NOT NULL,
    rules      BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
