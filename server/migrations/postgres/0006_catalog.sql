-- The service catalog (PRODUCT §3): matters (事项) under their standard code
-- (同一事项、同一标准、同一编码). Each change is a new version; the head row
-- holds the current version's searchable columns. Times in milliseconds (_ms).

CREATE TABLE matters (
    code            TEXT PRIMARY KEY NOT NULL,
    version         BIGINT NOT NULL,
    name_zh         TEXT NOT NULL,
    name_en         TEXT NOT NULL,
    department_code TEXT NOT NULL,
    life_event      TEXT NOT NULL,
    delivery        TEXT NOT NULL,
    -- Lower-cased names of the matter and its department, for search.
    search_text     TEXT NOT NULL,
    retired_ms      BIGINT,
    updated_ms      BIGINT NOT NULL
);
CREATE INDEX matters_by_department ON matters (department_code);
CREATE INDEX matters_by_life_event ON matters (life_event);

-- Every version's whole document (the admin's request, as stored), so a
-- draft made against version n can always load version n's form.
CREATE TABLE matter_versions (
    code       TEXT NOT NULL,
    version    BIGINT NOT NULL,
    document   TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (code, version)
);
