-- Push notifications (PRODUCT §3): internal senders, devices' push tokens,
-- versioned message templates, sends, each recipient's inbox, and the outbox
-- the dispatchers work through under leases. Times in milliseconds (_ms).

-- From the ID number at enrolment, for segments and age rules: the region
-- code (6 digits) and the birth date (YYYYMMDD). Never the number itself.
ALTER TABLE accounts ADD COLUMN region_code TEXT;
ALTER TABLE accounts ADD COLUMN birth_date BIGINT;
CREATE INDEX accounts_by_region ON accounts (region_code);

-- Internal callers (departments, the recommendation engine, operators' tools):
-- HTTP Basic with a secret stored hashed, allowed what their scopes say.
CREATE TABLE service_clients (
    client_id   TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- One push registration per signed-in device; a token belongs to one device.
CREATE TABLE push_devices (
    device_id        TEXT PRIMARY KEY NOT NULL,
    network_id       TEXT NOT NULL,
    provider         TEXT NOT NULL,
    token            TEXT NOT NULL,
    apns_environment TEXT,
    app_id           TEXT NOT NULL,
    locale           TEXT NOT NULL,
    time_zone        TEXT NOT NULL,
    quiet_start      BIGINT,
    quiet_end        BIGINT,
    opted_out        TEXT NOT NULL,
    registered_ms    BIGINT NOT NULL,
    updated_ms       BIGINT NOT NULL,
    UNIQUE (provider, token)
);
CREATE INDEX push_devices_by_account ON push_devices (network_id);

CREATE TABLE notification_templates (
    template_id TEXT NOT NULL,
    version     BIGINT NOT NULL,
    category    TEXT NOT NULL,
    title_zh    TEXT NOT NULL,
    body_zh     TEXT NOT NULL,
    title_en    TEXT NOT NULL,
    body_en     TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (template_id, version)
);

-- One accepted send: to an account or a segment.
CREATE TABLE notifications (
    id               TEXT PRIMARY KEY NOT NULL,
    sender           TEXT NOT NULL,
    idempotency_key  TEXT,
    request_hash     TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    template_id      TEXT NOT NULL,
    template_version BIGINT NOT NULL,
    params           TEXT NOT NULL,
    category         TEXT NOT NULL,
    priority         TEXT NOT NULL,
    ttl_secs         BIGINT NOT NULL,
    collapse_key     TEXT,
    not_before_ms    BIGINT NOT NULL,
    created_ms       BIGINT NOT NULL,
    recipients       BIGINT NOT NULL,
    UNIQUE (sender, idempotency_key)
);

-- A notification as one citizen holds it. push: queued (pushes made),
-- capped (over the daily cap), opted_out, no_device.
CREATE TABLE inbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id TEXT NOT NULL,
    network_id      TEXT NOT NULL,
    category        TEXT NOT NULL,
    push            TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    read_ms         BIGINT,
    opened_ms       BIGINT,
    UNIQUE (notification_id, network_id)
);
CREATE INDEX inbox_by_account ON inbox (network_id, id);
CREATE INDEX inbox_by_account_time ON inbox (network_id, created_ms);

-- One push to one device. status: queued, delivered, failed. A row is
-- leased to one dispatcher at a time (lease_owner until lease_until_ms).
CREATE TABLE push_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    provider        TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    due_ms          BIGINT NOT NULL,
    expires_ms      BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until_ms  BIGINT,
    created_ms      BIGINT NOT NULL,
    sent_ms         BIGINT,
    delivered_ms    BIGINT,
    last_error      TEXT
);
CREATE INDEX push_outbox_due ON push_outbox (status, due_ms);
CREATE INDEX push_outbox_by_notification ON push_outbox (notification_id);

-- Built-in templates (version 1); operators add versions and new templates
-- through POST /v1/admin/notification-templates.
INSERT INTO notification_templates (template_id, version, category, title_zh, body_zh, title_en, body_en, created_ms) VALUES
('security.new_device', 1, 'security', '新设备登录提醒',
 '您的账号在新设备「{device}」上登录。如非本人操作，请立即在“设备管理”中移除该设备。',
 'New sign-in', 'Your account was signed in on a new device "{device}". If this was not you, remove it under Devices now.', 0),
('application.status_changed', 1, 'application_status', '办件进度更新',
 '您的「{matter}」办件（受理编号 {receipt}）状态已更新为：{status}。',
 'Application update', 'Your application "{matter}" (receipt {receipt}) is now: {status}.', 0),
('licence.issued', 1, 'service', '电子证照已发放',
 '您的{licence}已发放至卡包，办事时可直接使用，无需再提交复印件。',
 'Licence issued', 'Your {licence} is in your wallet and can be used in applications.', 0),
('licence.expiring', 1, 'reminder', '证照即将到期',
 '您的{licence}将于{date}到期，请及时办理换领。',
 'Licence expiring', 'Your {licence} expires on {date}. Please renew it in time.', 0),
('service.recommended', 1, 'service', '为您推荐：{matter}', '{reason}',
 'Suggested for you: {matter}', '{reason}', 0),
('campaign.announcement', 1, 'campaign', '{title}', '{body}', '{title}', '{body}', 0);
