-- Several recommendations for one citizen from one matcher batch (a birth
-- registration offers 出生一件事 and grants the childcare subsidy) are one
-- notification: the first matter and the count in the title, the list in
-- the body. Vendors allow a device a few pushes a day, and the daily cap
-- counts each push.
INSERT INTO notification_templates (template_id, version, category, title_zh, body_zh, title_en, body_en, created_ms) VALUES
('service.several', 1, 'service', '{first_zh}等{count}项服务', '{list_zh}',
 '{first_en} and {more} more services', '{list_en}', 0);
