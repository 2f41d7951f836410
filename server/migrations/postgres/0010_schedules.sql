-- Scheduled triggers (PRODUCT §3): one row per job and day. The process
-- that inserts it runs the job; if it dies, another takes the run over once
-- the lease has passed. Recommendations are unique per occurrence, so a run
-- taken over offers nothing twice. Times in milliseconds (_ms).
CREATE TABLE schedule_runs (
    job            TEXT NOT NULL,
    day            BIGINT NOT NULL,
    owner          TEXT NOT NULL,
    lease_until_ms BIGINT NOT NULL,
    done_ms        BIGINT,
    recommendations BIGINT,
    PRIMARY KEY (job, day)
);
-- Age milestones scan citizens by birth date.
CREATE INDEX accounts_by_birth_date ON accounts (birth_date);
