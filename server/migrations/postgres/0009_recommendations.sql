-- The citizens' recommendation feeds (PRODUCT §3). One row per rule firing
-- for a citizen on one occurrence (`source`: the event, or a scheduled
-- occurrence), unique so that each occurrence is offered once however many
-- processes match. Times in milliseconds (_ms).
CREATE TABLE recommendations (
    id               BIGSERIAL PRIMARY KEY,
    network_id       TEXT NOT NULL,
    matter_code      TEXT NOT NULL,
    rule_id          TEXT NOT NULL,
    action           TEXT NOT NULL,
    priority         BIGINT NOT NULL,
    reason_zh        TEXT NOT NULL,
    reason_en        TEXT NOT NULL,
    source           TEXT NOT NULL,
    status           TEXT NOT NULL,
    snoozed_until_ms BIGINT,
    notification_id  TEXT,
    created_ms       BIGINT NOT NULL,
    UNIQUE (network_id, rule_id, source)
);
CREATE INDEX recommendations_by_citizen ON recommendations (network_id, status);

-- The citizen's choices: consent to profile-based matching (recorded, and
-- revocable; each change is audited) and the life events opted out of.
CREATE TABLE recommendation_settings (
    network_id         TEXT PRIMARY KEY NOT NULL,
    profile_consent    BIGINT NOT NULL,
    consent_changed_ms BIGINT,
    opted_out          TEXT NOT NULL,
    updated_ms         BIGINT NOT NULL
);

-- Recommendations reach the inbox and the push in both languages.
INSERT INTO notification_templates (template_id, version, category, title_zh, body_zh, title_en, body_en, created_ms) VALUES
('service.recommended', 2, 'service', '为您推荐：{matter_zh}', '{reason_zh}',
 'Suggested for you: {matter_en}', '{reason_en}', 0),
('service.granted', 1, 'service', '已为您办理：{matter_zh}', '{reason_zh}',
 'Granted to you: {matter_en}', '{reason_en}', 0);

ALTER TABLE events ADD COLUMN matched_ms BIGINT;
