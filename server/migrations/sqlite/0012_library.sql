-- The e-licence library (电子证照库), first part: licence types and the
-- issuing authorities of the trust list (互认共享) with their keys.
--
-- Licence types: GB/T 36904 type code (the defining authority's USCC and a
-- 3-digit sequence), names, the kind of department that issues it, who holds
-- it (citizen, organisation or any), its validity in years (0 = 长期), and the
-- claims a verifying department is shown by default (space-separated names).
-- The codes other than those of the demo catalog are illustrative.
CREATE TABLE licence_types (
    type_code       TEXT PRIMARY KEY NOT NULL,
    name_zh         TEXT NOT NULL,
    name_en         TEXT NOT NULL,
    department_kind TEXT NOT NULL,
    holder_kind     TEXT NOT NULL,
    validity_years  BIGINT NOT NULL,
    claims          TEXT NOT NULL
);

INSERT INTO licence_types (type_code, name_zh, name_en, department_kind, holder_kind, validity_years, claims) VALUES
('11100000000013338W001', '居民身份证', 'Resident identity card', 'public_security', 'citizen', 20, 'licence_name type_code number identifier holder_name_masked valid_until'),
('11100000000013338W002', '居民户口簿', 'Household register', 'public_security', 'citizen', 0, 'licence_name type_code number identifier holder_name_masked jurisdiction'),
('11100000000013338W003', '居住证', 'Residence permit', 'public_security', 'citizen', 1, 'licence_name type_code number identifier holder_name_masked valid_until jurisdiction'),
('11100000000013338W011', '机动车驾驶证', 'Motor vehicle driving licence', 'public_security', 'citizen', 6, 'licence_name type_code number identifier holder_name_masked valid_until'),
('11100000MB0143028R001', '出生医学证明', 'Medical birth certificate', 'health', 'citizen', 0, 'licence_name type_code number identifier holder_name issue_date'),
('11100000MB0143028R002', '结婚证', 'Marriage certificate', 'civil_affairs', 'citizen', 0, 'licence_name type_code number identifier holder_name_masked issue_date'),
('11100000MB0143028R003', '离婚证', 'Divorce certificate', 'civil_affairs', 'citizen', 0, 'licence_name type_code number identifier holder_name_masked issue_date'),
('11100000000014035R001', '残疾人证', 'Disability certificate', 'disabled_persons_federation', 'citizen', 10, 'licence_name type_code number identifier holder_name_masked valid_until'),
('111000000000141401001', '社会保障卡', 'Social security card', 'human_resources', 'citizen', 10, 'licence_name type_code number identifier holder_name_masked valid_until'),
('111000000000141401002', '职业资格证书', 'Vocational qualification certificate', 'human_resources', 'citizen', 0, 'licence_name type_code number identifier holder_name_masked issue_date'),
('111000000000160068001', '不动产权证书', 'Real estate title certificate', 'natural_resources', 'any', 0, 'licence_name type_code number identifier holder_name_masked jurisdiction'),
('11100000MB01735922001', '营业执照', 'Business licence', 'market_regulation', 'organisation', 0, 'licence_name type_code number identifier holder_name holder_code valid_until'),
('11100000MB01735922002', '食品经营许可证', 'Food business licence', 'market_regulation', 'organisation', 5, 'licence_name type_code number identifier holder_name holder_code valid_until'),
('11100000MB15812954001', '老年人优待证', 'Senior citizen card', 'civil_affairs', 'citizen', 0, 'licence_name type_code number identifier holder_name_masked'),
('11100000000012345D001', '学历证书', 'Academic certificate', 'education', 'citizen', 0, 'licence_name type_code number identifier holder_name_masked issue_date'),
('11100000000014501N001', '退役军人优待证', 'Veteran preferential card', 'veterans_affairs', 'citizen', 0, 'licence_name type_code number identifier holder_name_masked'),
('11100000MB1725183T001', '道路运输从业资格证', 'Road transport qualification certificate', 'transport', 'citizen', 6, 'licence_name type_code number identifier holder_name_masked valid_until');

-- Issuing authorities on the trust list: USCC, name, region, the types they
-- may issue (space-separated), and whether they are this library's own (keys
-- held here, issuing through this server) or another region's (public keys
-- only, listed for mutual recognition).
CREATE TABLE authorities (
    uscc          TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    region        TEXT NOT NULL,
    licence_types TEXT NOT NULL,
    local         BIGINT NOT NULL,
    created_ms    BIGINT NOT NULL,
    updated_ms    BIGINT NOT NULL
);

-- An authority's keys, trusted for what they signed in [not_before_ms,
-- not_after_ms]. Local keys keep their private key and secret, sealed like
-- the issuer's; another region's keys have none.
CREATE TABLE authority_keys (
    kid           TEXT PRIMARY KEY NOT NULL,
    uscc          TEXT NOT NULL,
    suite         TEXT NOT NULL,
    public_pem    TEXT NOT NULL,
    private_pem   TEXT,
    secret_hex    TEXT,
    not_before_ms BIGINT NOT NULL,
    not_after_ms  BIGINT
);
CREATE INDEX authority_keys_by_authority ON authority_keys (uscc);

-- Licences the library's own authorities issued. The holder is kept as the
-- keyed hash of their ID number (the issuer's person key) and their 网号, or
-- as `org:<USCC>`; the licence JSON itself (which carries the holder's number,
-- as GB/T 36903 requires) is sealed like the private keys. Unique per issuer
-- and the issuer's own licence number, so issuing is idempotent. `seq` orders
-- changes for wallet sync. `kid` and `status_index` place it on the issuing
-- key's status list (suspended and revoked licences are set there).
CREATE TABLE licences (
    identifier   TEXT PRIMARY KEY NOT NULL,
    issuer_uscc  TEXT NOT NULL,
    number       TEXT NOT NULL,
    type_code    TEXT NOT NULL,
    holder_key   TEXT NOT NULL,
    network_id   TEXT,
    body         TEXT NOT NULL,
    digest       TEXT NOT NULL,
    status       TEXT NOT NULL,
    kid          TEXT NOT NULL,
    status_index BIGINT NOT NULL,
    valid_until  TEXT,
    version      BIGINT NOT NULL,
    seq          BIGINT NOT NULL,
    issued_ms    BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL,
    UNIQUE (issuer_uscc, number)
);
CREATE INDEX licences_by_holder ON licences (network_id, seq);

INSERT INTO notification_templates (template_id, version, category, title_zh, body_zh, title_en, body_en, created_ms) VALUES
('licence.changed', 1, 'application_status', '电子证照：{licence_zh}', '{detail_zh}',
 'E-licence: {licence_en}', '{detail_en}', 0);

-- 用证: who used which licence, when, for which application and why — and
-- each refusal — for the citizen's trail ("谁用了我的证照").
CREATE TABLE licence_uses (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    network_id  TEXT NOT NULL,
    identifier  TEXT,
    type_code   TEXT,
    receipt_no  TEXT NOT NULL,
    department  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT,
    outcome     TEXT NOT NULL,
    code        TEXT,
    at_ms       BIGINT NOT NULL
);
CREATE INDEX licence_uses_by_citizen ON licence_uses (network_id, at_ms);

-- A citizen's authorisation, for one application, to let its department
-- fetch their licence of a type from the library directly.
CREATE TABLE licence_authorisations (
    receipt_no TEXT NOT NULL,
    type_code  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    at_ms      BIGINT NOT NULL,
    PRIMARY KEY (receipt_no, type_code)
);

-- The library's expiry reminder (licence.expiring of migration 0005 takes
-- one name for both languages; operators' sends keep using it).
INSERT INTO notification_templates (template_id, version, category, title_zh, body_zh, title_en, body_en, created_ms) VALUES
('licence.ending', 1, 'reminder', '证照即将到期：{licence_zh}', '您的{licence_zh}将于{date}到期，请及时办理。',
 'Licence expiring: {licence_en}', 'Your {licence_en} expires on {date}; renew it in time.', 0);
