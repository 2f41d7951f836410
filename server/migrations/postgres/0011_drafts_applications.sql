-- Drafts synced between a citizen's devices (PRODUCT §1.6) and the
-- applications (办件) they become (PRODUCT §3). Times in milliseconds (_ms).

-- One row per draft: the current version. `values_json` is the field values,
-- `government` the JSON array of prefilled read-only fields.
CREATE TABLE drafts (
    network_id     TEXT NOT NULL,
    id             TEXT NOT NULL,
    matter_code    TEXT NOT NULL,
    schema_version BIGINT NOT NULL,
    version        BIGINT NOT NULL,
    values_json    TEXT NOT NULL,
    government     TEXT NOT NULL,
    created_ms     BIGINT NOT NULL,
    updated_ms     BIGINT NOT NULL,
    expires_ms     BIGINT NOT NULL,
    reminded_ms    BIGINT,
    PRIMARY KEY (network_id, id)
);
CREATE INDEX drafts_by_expiry ON drafts (expires_ms);

-- The last versions of each draft, the bases of merges for devices behind.
CREATE TABLE draft_versions (
    network_id  TEXT NOT NULL,
    draft_id    TEXT NOT NULL,
    version     BIGINT NOT NULL,
    values_json TEXT NOT NULL,
    government  TEXT NOT NULL,
    PRIMARY KEY (network_id, draft_id, version)
);

-- One row per application; a draft is submitted once (its id is the
-- idempotency key, `digest` the SHA-256 of what was submitted).
CREATE TABLE applications (
    receipt_no      TEXT PRIMARY KEY NOT NULL,
    network_id      TEXT NOT NULL,
    draft_id        TEXT NOT NULL,
    matter_code     TEXT NOT NULL,
    matter_version  BIGINT NOT NULL,
    department_code TEXT NOT NULL,
    status          TEXT NOT NULL,
    digest          TEXT NOT NULL,
    values_json     TEXT NOT NULL,
    attachments     TEXT NOT NULL,
    submitted_ms    BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL,
    UNIQUE (network_id, draft_id)
);
CREATE INDEX applications_by_citizen ON applications (network_id, submitted_ms);
CREATE INDEX applications_by_department ON applications (department_code, status, submitted_ms);

-- The e-licences an application presents, with the reason for use (用证事由).
CREATE TABLE application_licences (
    receipt_no TEXT NOT NULL,
    field      TEXT NOT NULL,
    licence_id TEXT NOT NULL,
    reason     TEXT NOT NULL,
    PRIMARY KEY (receipt_no, field)
);

-- Every status an application went through, in order.
CREATE TABLE application_history (
    id         BIGSERIAL PRIMARY KEY,
    receipt_no TEXT NOT NULL,
    status     TEXT NOT NULL,
    message    TEXT,
    actor      TEXT NOT NULL,
    at_ms      BIGINT NOT NULL
);
CREATE INDEX application_history_by_receipt ON application_history (receipt_no, id);

INSERT INTO notification_templates (template_id, version, category, title_zh, body_zh, title_en, body_en, created_ms) VALUES
('application.status', 1, 'application_status', '办件进度：{matter_zh}', '{detail_zh}',
 'Application update: {matter_en}', '{detail_en}', 0),
('draft.expiring', 1, 'reminder', '草稿即将过期：{matter_zh}', '您填写的“{matter_zh}”申请草稿将于{date}删除，请及时提交。',
 'Draft expiring: {matter_en}', 'Your draft for "{matter_en}" will be deleted on {date}; submit it before then.', 0);
