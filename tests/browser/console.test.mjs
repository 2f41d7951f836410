// The web console in a real browser: Debian's chromium, driven by
// playwright-core, against a real `yiwang serve` on loopback with a fake
// Xiaomi push server. Each page is screenshotted into $SCREENSHOT_DIR
// (default target/console-screenshots).
//
// Run: bash tests/browser/run.sh (installs chromium and playwright-core,
// builds the binary).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const root = path.resolve(import.meta.dirname, "../..");
const bin = process.env.YIWANG_BIN ?? path.join(root, "target/debug/yiwang");
const shots = process.env.SCREENSHOT_DIR ?? path.join(root, "target/console-screenshots");
const ADMIN = "browser-test-admin-token-0123456789";
const PASSWORD = "correct horse battery staple";
const WINDOW_AUDIENCE = "window:110105-01";

let dir, server, serverLog = "", base, browser, xiaomi, evil;
const xiaomiRequests = [];
const world = {};

/** A free loopback port. */
async function freePort() {
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Starts an HTTP server on loopback; resolves to its base URL. */
async function serve(handler) {
  const http = createServer(handler);
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  return { http, url: `http://127.0.0.1:${http.address().port}` };
}

function yiwang(...args) {
  return execFileSync(bin, args, { encoding: "utf8", env: { ...process.env, YIWANG_CONFIG: path.join(dir, "yiwang.toml") } });
}

async function api(method, route, body, auth = `Bearer ${ADMIN}`) {
  const response = await fetch(base + route, {
    method,
    headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: response.status, json, text };
}

function basicAuth(id, secret) {
  return "Basic " + Buffer.from(`${id}:${secret}`).toString("base64");
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

/** A new browser context (its own cookies), signed in as `username`. */
async function signedIn(username, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, locale: "zh-CN" });
  const page = await context.newPage();
  page.cspViolations = [];
  page.on("console", (message) => {
    if (/Content.Security.Policy/i.test(message.text())) page.cspViolations.push(message.text());
  });
  await page.goto(base + "/console/login");
  await page.getByLabel("用户名").fill(username);
  await page.getByLabel("密码").fill(PASSWORD);
  await page.getByRole("button", { name: "登录" }).click();
  await page.waitForURL((url) => !url.pathname.endsWith("/login"));
  return { context, page };
}

/** QR text of the test citizen's 网证 for `audience`. */
function present(audience, disclose = "name_masked,id_number_masked,network_id,age_over_18") {
  return yiwang(
    "netid", "present", "--cred", path.join(dir, "citizen.cred"), "--holder-key", path.join(dir, "device.pem"),
    "--audience", audience, "--disclose", disclose, "--mode", "pin",
  ).trim();
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  dir = mkdtempSync(path.join(tmpdir(), "yiwang-console-"));

  // The fake Xiaomi push API: every message accepted.
  xiaomi = await serve((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      xiaomiRequests.push({ url: request.url, auth: request.headers.authorization, body });
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ result: "ok", code: 0, data: { id: `m${xiaomiRequests.length}` }, trace_id: "t" }));
    });
  });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  writeFileSync(path.join(dir, "yiwang.toml"), `
bind = "127.0.0.1:${port}"
data_dir = "${path.join(dir, "data")}"
admin_token = "${ADMIN}"

[push.xiaomi]
base_url = "${xiaomi.url}"
app_secret = "fake-xiaomi-secret"
channel_ids = { service = "101", reminder = "102", application_status = "103", security = "104", campaign = "105" }
`);
  // Citizens with devices: Xiaomi (the fake accepts) and FCM (not configured: fails).
  yiwang("dev", "seed-devices", "--count", "24", "--providers", "xiaomi,fcm", "--region", "330106");

  server = spawn(bin, ["serve"], { env: { ...process.env, YIWANG_CONFIG: path.join(dir, "yiwang.toml"), RUST_LOG: "warn" } });
  server.stdout.on("data", (d) => (serverLog += d));
  server.stderr.on("data", (d) => (serverLog += d));
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(base + "/readyz")).ok) break;
    } catch { /* not up yet */ }
    if (i > 300) throw new Error("yiwang serve did not start:\n" + serverLog);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  // Two departments, and one console user per role.
  for (const [name, scope] of [["health", "events:birth_registered"], ["police", "events:residence_changed"]]) {
    const { status, json } = await api("POST", "/v1/admin/service-clients", { name: `${name} department`, scopes: [scope], client_id: `${name}-dept` });
    assert.equal(status, 201, JSON.stringify(json));
    world[name] = json;
  }
  for (const [username, role, extra] of [
    ["ops", "operator", {}],
    ["win", "window", { window_id: "110105-01" }],
    ["aud", "auditor", {}],
    ["health", "department", { department: "health-dept" }],
  ]) {
    const { status, text } = await api("POST", "/v1/admin/console-users", { username, password: PASSWORD, role, ...extra });
    assert.equal(status, 201, text);
  }

  // A citizen enrolled on a phone whose key the CLI holds.
  yiwang("crypto", "keygen", "--out", path.join(dir, "device.pem"));
  const enrolled = await api("POST", "/v1/enrolments", {
    name: "王小明", id_number: "110101199003074573", photo_digest: "07".repeat(32),
    device_public_key: readFileSync(path.join(dir, "device.pub.pem"), "utf8"),
  }, null);
  assert.equal(enrolled.status, 201, enrolled.text);
  writeFileSync(path.join(dir, "citizen.cred"), Buffer.from(enrolled.json.credential, "base64"));
  world.networkId = enrolled.json.network_id;

  // Events from both departments, and a campaign to the seeded region.
  const now = Math.floor(Date.now() / 1000);
  let sent = await api("POST", "/v1/events", { events: [{
    event_id: "b-1", type: "birth_registered", subject: { network_id: world.networkId }, occurred_at: now,
    data: { child_birth_date: "2026-11-01", child_sex: "female" } }] }, basicAuth(world.health.client_id, world.health.client_secret));
  assert.equal(sent.json?.accepted, 1, sent.text);
  sent = await api("POST", "/v1/events", { events: [{
    event_id: "r-1", type: "residence_changed", subject: { network_id: world.networkId }, occurred_at: now,
    data: { region_code: "110105" } }] }, basicAuth(world.police.client_id, world.police.client_secret));
  assert.equal(sent.json?.accepted, 1, sent.text);
  const campaign = await api("POST", "/v1/notifications", {
    recipient: { segment: { region_prefix: "330106" } }, template: "campaign.announcement", category: "campaign",
    params: { title: "医保缴费提醒", body: "2027年度城乡居民医保开始缴费。" },
  });
  assert.equal(campaign.status, 202, campaign.text);
  for (let i = 0; ; i++) {
    const status = await api("GET", `/v1/notifications/${campaign.json.id}`);
    const pushes = status.json.pushes;
    if (pushes.queued === 0 && pushes.delivered + pushes.failed === status.json.recipients) break;
    if (i > 300) throw new Error("the campaign was not dispatched: " + status.text);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(xiaomiRequests.length > 0, "the fake Xiaomi server got the campaign");
  assert.equal(xiaomiRequests[0].auth, "key=fake-xiaomi-secret");

  // A page of another site that posts a form to the console (CSRF attempt).
  evil = await serve((request, response) => {
    response.setHeader("content-type", "text/html; charset=utf-8");
    response.end(`<!doctype html><form id="f" method="post" action="${base}/console/window">
      <input name="csrf" value="guessed"><input name="qr" value="YW1:X"></form>
      <script>document.getElementById("f").submit()</script>`);
  });

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill();
  xiaomi?.http.close();
  evil?.http.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("sign in with the keyboard only; the session cookie is out of the page's reach", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const response = await page.goto(base + "/console");
  assert.equal(new URL(page.url()).pathname, "/console/login");
  const csp = response.headers()["content-security-policy"];
  assert.match(csp, /default-src 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  await shot(page, "01-login");

  // Wrong password: the form says so, with its code.
  await page.keyboard.type("ops");
  await page.keyboard.press("Tab");
  await page.keyboard.type("not the password");
  await page.keyboard.press("Enter");
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").innerText(), /YW-4910/);
  await shot(page, "02-login-refused");

  // The username field has focus again (autofocus); Tab, type, Enter.
  await page.getByLabel("用户名").fill("");
  await page.getByLabel("用户名").focus();
  await page.keyboard.type("ops");
  await page.keyboard.press("Tab");
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Enter");
  await page.waitForURL(base + "/console");
  assert.equal(await page.evaluate(() => document.cookie), "", "HttpOnly: no cookie visible to scripts");
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "yw_console");
  assert.ok(session?.httpOnly && session.sameSite === "Strict");
  await context.close();
});

test("the dashboard charts pushes per provider and category, recommendations and events", async () => {
  const { context, page } = await signedIn("ops");
  await page.goto(base + "/console");
  for (const heading of ["推送 · 按通道", "推送 · 按类别", "推送 · 随时间", "事件 · 按部门", "事件 · 随时间"]) {
    await page.getByRole("heading", { name: heading }).waitFor();
  }
  const providers = page.locator("#pushes-provider");
  assert.equal(await providers.locator("svg rect").count() > 0, true);
  await providers.getByText("数据表").click();
  const table = await providers.locator("table").innerText();
  assert.match(table, /xiaomi/);
  assert.match(table, /fcm/);
  const xiaomiRow = await providers.locator("tr", { hasText: "xiaomi" }).innerText();
  const delivered = Number(xiaomiRow.split(/\s+/)[1]);
  assert.ok(delivered > 0, `xiaomi delivered: ${xiaomiRow}`);
  assert.match(await page.locator("#events-department").innerText(), /health-dept[\s\S]*police-dept|police-dept[\s\S]*health-dept/);
  // The time range: the select submits itself (script), the page follows.
  await page.getByLabel("时间范围").selectOption("24h");
  await page.waitForURL(/range=24h/);
  assert.match(await page.locator("p.meta").innerText(), /最近 24 小时/);
  // Pushes over time for one provider: Xiaomi's were all delivered.
  await page.getByLabel("推送通道").selectOption("xiaomi");
  await page.waitForURL(/provider=xiaomi/);
  const timeline = page.locator("#pushes-time");
  assert.match(await timeline.locator("h2").innerText(), /通道：xiaomi/);
  await timeline.getByText("数据表").click();
  const cells = (await timeline.locator("tbody tr").last().locator("td").allInnerTexts()).map(Number);
  assert.deepEqual(cells, [12, 0, 0, 0, 0], "delivered, queued, sent, failed, suppressed");
  assert.deepEqual(page.cspViolations, []);
  await shot(page, "03-dashboard");
  await context.close();
});

test("window verification: a valid 网证, then a tampered, a foreign and a stale-audience code in red", async () => {
  const { context, page } = await signedIn("win");
  assert.equal(new URL(page.url()).pathname, "/console/window");
  assert.match(await page.locator(".hint").innerText(), new RegExp(WINDOW_AUDIENCE));
  await shot(page, "04-window");

  // A USB scanner types the text and Enter: the page submits itself.
  const qr = present(WINDOW_AUDIENCE);
  await page.getByLabel("二维码内容").fill(qr);
  await page.getByLabel("二维码内容").press("Enter");
  const accepted = page.locator("[data-result=accepted]");
  await accepted.waitFor();
  const shown = await accepted.innerText();
  assert.match(shown, /核验通过/);
  assert.match(shown, /网证 \+ 口令/);
  assert.match(shown, /王\*/);
  assert.match(shown, /age_over_18/);
  assert.match(shown, new RegExp(world.networkId));
  assert.equal(await page.getByLabel("二维码内容").inputValue(), "", "the next scan starts empty");
  await shot(page, "05-window-accepted");

  // Tampered: one character in the middle changed.
  const middle = Math.floor(qr.length / 2);
  const tampered = qr.slice(0, middle) + (qr[middle] === "A" ? "B" : "A") + qr.slice(middle + 1);
  await page.getByLabel("二维码内容").fill(tampered);
  await page.getByRole("button", { name: "核验" }).click();
  const refused = page.locator("[data-result=refused]");
  await refused.waitFor();
  assert.match(await refused.innerText(), /核验未通过/);
  assert.match(await refused.locator("[data-field=code]").innerText(), /^YW-14(02|04|05|06)$/);
  const colour = await refused.evaluate((el) => getComputedStyle(el).backgroundColor);
  assert.equal(colour, "rgb(252, 232, 230)", "a red result");
  await shot(page, "06-window-tampered");

  // Made for another window; not a yiwang code at all.
  for (const [text, code, words] of [
    [present("window:999999-01"), "YW-1411", /其他网站或窗口/],
    ["https://example.com/", "YW-1401", /不是网证/],
  ]) {
    await page.getByLabel("二维码内容").fill(text);
    await page.getByRole("button", { name: "核验" }).click();
    await page.locator("[data-result=refused] [data-field=code]", { hasText: code }).waitFor();
    assert.match(await page.locator(".reason").innerText(), words);
  }
  await shot(page, "07-window-other-audience");
  assert.deepEqual(page.cspViolations, []);
  await context.close();
});

/** QR text and a PNG of it, made by the CLI for the window's audience. */
function presentPng(name) {
  const png = path.join(dir, `${name}.png`);
  const text = yiwang(
    "netid", "present", "--cred", path.join(dir, "citizen.cred"), "--holder-key", path.join(dir, "device.pem"),
    "--audience", WINDOW_AUDIENCE, "--disclose", "name_masked,network_id", "--mode", "biometric", "--png", png,
  ).trim();
  return { text, png };
}

/**
 * A one-frame Y4M video (what chromium's fake camera plays) of `png`,
 * centred on white: the browser decodes the PNG, the luma is its grey.
 */
async function y4mOf(png, side = 480) {
  const page = await browser.newPage();
  const luma = await page.evaluate(async ({ data, side }) => {
    const image = new Image();
    image.src = "data:image/png;base64," + data;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = side;
    const context = canvas.getContext("2d");
    context.fillStyle = "#fff";
    context.fillRect(0, 0, side, side);
    const scale = Math.min(1, (side - 40) / image.naturalWidth);
    const w = image.naturalWidth * scale;
    context.imageSmoothingEnabled = false;
    context.drawImage(image, (side - w) / 2, (side - w) / 2, w, w);
    const rgba = context.getImageData(0, 0, side, side).data;
    const out = [];
    for (let i = 0; i < rgba.length; i += 4) out.push(Math.round(0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2]));
    return out;
  }, { data: readFileSync(png).toString("base64"), side });
  await page.close();
  const chroma = Buffer.alloc((side / 2) * (side / 2) * 2, 128);
  const file = png.replace(/\.png$/, ".y4m");
  writeFileSync(file, Buffer.concat([
    Buffer.from(`YUV4MPEG2 W${side} H${side} F10:1 Ip A1:1 C420jpeg\nFRAME\n`),
    Buffer.from(luma),
    chroma,
  ]));
  return file;
}

test("window verification from a photo: an image file, and a webcam frame", async () => {
  const { context, page } = await signedIn("win");
  // The PNG the CLI wrote, chosen as a file: the page reads the code in it.
  const file = presentPng("photo");
  await page.getByLabel("或选择二维码图片").setInputFiles(file.png);
  await page.locator("[data-result=accepted]").waitFor();
  assert.match(await page.locator("[data-field=mode]").innerText(), /人脸/);
  await shot(page, "07a-window-photo");
  await context.close();

  // A webcam: chromium's fake camera plays a frame holding a fresh code.
  const camera = await y4mOf(presentPng("camera").png);
  const cameraBrowser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", `--use-file-for-fake-video-capture=${camera}`],
  });
  try {
    const cameraContext = await cameraBrowser.newContext({ viewport: { width: 1280, height: 900 } });
    await cameraContext.grantPermissions(["camera"], { origin: base });
    const cameraPage = await cameraContext.newPage();
    await cameraPage.goto(base + "/console/login");
    await cameraPage.getByLabel("用户名").fill("win");
    await cameraPage.getByLabel("密码").fill(PASSWORD);
    await cameraPage.getByRole("button", { name: "登录" }).click();
    await cameraPage.waitForURL(base + "/console/window");
    await cameraPage.getByRole("button", { name: "用摄像头扫描" }).click();
    await cameraPage.getByRole("button", { name: "拍照核验" }).waitFor();
    await cameraPage.waitForFunction(() => document.querySelector("[data-video]").videoWidth > 0);
    await shot(cameraPage, "07b-window-camera");
    await cameraPage.getByRole("button", { name: "拍照核验" }).click();
    await cameraPage.locator("[data-result=accepted]").waitFor();
    assert.match(await cameraPage.locator("[data-result=accepted]").innerText(), new RegExp(world.networkId));
    await shot(cameraPage, "07c-window-camera-accepted");
  } finally {
    await cameraBrowser.close();
  }
});

test("the audit log filters by actor and by citizen", async () => {
  const { context, page } = await signedIn("aud");
  await page.goto(base + "/console/audit");
  await page.getByLabel("操作者").fill("console:win");
  await page.getByRole("button", { name: "筛选" }).click();
  await page.waitForURL(/actor=console%3Awin/);
  const rows = page.locator("tbody tr");
  const actions = await rows.locator("td:nth-child(3)").allInnerTexts();
  assert.ok(actions.includes("window.verify.accepted"), actions.join());
  assert.equal(actions.filter((a) => a === "window.verify.refused").length, 3);
  assert.ok((await rows.locator("td:nth-child(2)").allInnerTexts()).every((a) => a === "console:win"));
  await shot(page, "08-audit-by-actor");

  await page.getByLabel("操作者").fill("");
  await page.getByLabel("群众（网号）").fill(world.networkId);
  await page.getByRole("button", { name: "筛选" }).click();
  await page.waitForURL(/subject=/);
  const subjects = await rows.locator("td:nth-child(4)").allInnerTexts();
  assert.ok(subjects.length >= 2 && subjects.every((s) => s === world.networkId), subjects.join());
  await shot(page, "09-audit-by-citizen");
  await context.close();
});

test("roles: window staff see no dashboard, auditors no window, a department only its own events", async () => {
  const win = await signedIn("win");
  let response = await win.page.goto(base + "/console");
  assert.equal(response.status(), 403);
  assert.match(await win.page.getByRole("alert").innerText(), /YW-4913/);
  for (const route of ["/console/audit", "/console/campaigns", "/console/rules"]) {
    response = await win.page.goto(base + route);
    assert.equal(response.status(), 403, route);
  }
  await shot(win.page, "10-role-refused");
  await win.context.close();

  const aud = await signedIn("aud");
  response = await aud.page.goto(base + "/console/window");
  assert.equal(response.status(), 403);
  await aud.context.close();

  const dept = await signedIn("health");
  assert.equal(new URL(dept.page.url()).pathname, "/console");
  const text = await dept.page.locator("main").innerText();
  assert.match(text, /本部门推送的事件/);
  await dept.page.locator("#events-department").getByText("数据表").click();
  const events = await dept.page.locator("#events-department").innerText();
  assert.match(events, /health-dept/);
  assert.match(events, /birth_registered/);
  assert.doesNotMatch(events, /police-dept|residence_changed/);
  assert.doesNotMatch(text, /推送 · 按通道/);
  const nav = await dept.page.getByRole("navigation").innerText();
  assert.doesNotMatch(nav, /窗口核验|审计日志/);
  await shot(dept.page, "11-department-dashboard");
  await dept.context.close();
});

test("CSRF: a forged token is refused, and another site's form carries no session", async () => {
  const { context, page } = await signedIn("win");
  // A form on our page with the token replaced.
  await page.evaluate(() => { document.querySelector("form.card input[name=csrf]").value = "forged"; });
  await page.getByLabel("二维码内容").fill(present(WINDOW_AUDIENCE));
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/console/window") && r.request().method() === "POST"),
    page.getByRole("button", { name: "核验" }).click(),
  ]);
  assert.equal(response.status(), 403);
  assert.match(await page.getByRole("alert").innerText(), /YW-4911/);
  await shot(page, "12-csrf-refused");

  // Another site's auto-submitting form (localhost is another site than
  // 127.0.0.1): SameSite=Strict keeps the cookie home, so the console sees
  // no session and sends to the sign-in page.
  await page.goto(evil.url.replace("127.0.0.1", "localhost"));
  await page.waitForURL(base + "/console/login");
  assert.equal(await page.locator("[data-result]").count(), 0);

  // Same site, another origin (another port of 127.0.0.1): the cookie goes
  // along, and the Origin check refuses the form.
  const [crossOrigin] = await Promise.all([
    page.waitForResponse((r) => r.url() === base + "/console/window"),
    page.goto(evil.url),
  ]);
  assert.equal(crossOrigin.status(), 403);
  assert.match(await page.getByRole("alert").innerText(), /YW-4911/);
  await shot(page, "13-csrf-cross-origin");
  await context.close();
});

test("the catalog: search a matter, open it; a rule changed, dry-run, then published", async () => {
  const { context, page } = await signedIn("ops");
  await page.getByRole("link", { name: "服务事项与规则" }).click();
  await page.getByLabel("搜索事项").fill("出生");
  await page.getByRole("button", { name: "搜索" }).click();
  await page.waitForURL(/q=/);
  const links = page.locator("tbody a");
  assert.ok((await links.count()) >= 1);
  await shot(page, "17-catalog");
  await links.first().click();
  await page.getByRole("heading", { name: "推荐规则" }).waitFor();
  const documentText = await page.getByLabel(/事项文档/).inputValue();
  assert.ok(JSON.parse(documentText).code, "the matter's document, as JSON");
  await shot(page, "18-matter");

  // The rules: publishing is disabled until a dry run.
  await page.goto(base + "/console/rules");
  assert.equal(await page.getByRole("button", { name: "发布" }).isDisabled(), true);
  const rules = JSON.parse(await page.getByLabel(/规则集/).inputValue());
  const rule = rules.rules.find((r) => r.id === "birth.maternity-allowance");
  rule.priority = 75;
  rule.reason.zh = "生育后可申领生育津贴（控制台修改）";
  await page.getByLabel(/规则集/).fill(JSON.stringify(rules, null, 2));
  await page.getByRole("button", { name: "试运行" }).click();
  const result = page.locator("#dry-run");
  await result.waitFor();
  assert.equal(await result.locator("[data-fired]").getAttribute("data-fired"), "3");
  assert.match(await result.locator("tr[data-rule='birth.maternity-allowance']").innerText(), /会推荐 · 优先级 75[\s\S]*控制台修改/);
  await shot(page, "19-rules-dry-run");

  // Changed after the dry run: refused; dry-run again, then published.
  await page.getByLabel(/规则集/).fill(JSON.stringify(rules));
  await page.getByRole("button", { name: "发布" }).click();
  await page.locator("[data-field=code]", { hasText: "YW-4914" }).waitFor();
  await page.getByRole("button", { name: "试运行" }).click();
  await result.waitFor();
  await page.getByRole("button", { name: "发布" }).click();
  await page.locator("[data-result=published]").waitFor();
  assert.match(await page.locator("[data-result=published]").innerText(), /第 2 版/);
  await shot(page, "20-rules-published");
  const published = await fetch(base + "/v1/admin/rules", { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(published.headers.get("x-rule-set-version"), "2");
  const inForce = await published.json();
  assert.equal(inForce.rules.find((r) => r.id === "birth.maternity-allowance").priority, 75);
  await context.close();
});

test("a campaign to the seeded segment: preview in zh and en, send, watch it reach the fake Xiaomi server", async () => {
  const { context, page } = await signedIn("ops");
  await page.getByRole("link", { name: "推送活动" }).click();
  assert.equal(await page.getByRole("button", { name: "发送" }).isDisabled(), true);
  await page.getByLabel("参数 title").fill("社保卡换发通知");
  await page.getByLabel("参数 body").fill("第三代社保卡开始换发，可在线申请。");
  await page.getByLabel(/地区代码前缀/).fill("330106");
  await page.getByRole("button", { name: "预览" }).click();
  const preview = page.locator("#preview");
  await preview.waitFor();
  assert.match(await preview.locator(".phone[lang=zh-CN]").innerText(), /社保卡换发通知/);
  assert.match(await preview.locator(".phone[lang=en]").innerText(), /社保卡换发通知/);
  assert.equal(await preview.locator("[data-count=recipients]").innerText(), "24");
  assert.match(await preview.locator("[data-count=pushed]").innerText(), /^24 人（24 台设备）/);
  await shot(page, "21-campaign-preview");

  const before = xiaomiRequests.length;
  await page.getByRole("button", { name: "发送" }).click();
  await page.waitForURL(/\/console\/campaigns\/ntf_/);
  // The page reloads itself while pushes are queued.
  for (let i = 0; ; i++) {
    const queued = await page.locator("[data-count=queued]").innerText();
    if (queued === "0") break;
    if (i > 100) throw new Error("still queued");
    await page.waitForTimeout(300);
    await page.reload();
  }
  assert.equal(await page.locator("[data-count=delivered]").innerText(), "12");
  assert.equal(await page.locator("[data-count=failed]").innerText(), "12");
  await shot(page, "22-campaign-delivery");
  // Pushes carry a generic title and the message id (the text is in the inbox).
  const id = new URL(page.url()).pathname.split("/").pop();
  const reached = xiaomiRequests.slice(before).filter((r) => new URLSearchParams(r.body).get("payload")?.includes(id));
  assert.equal(reached.length, 12, "each Xiaomi device got the campaign");
  assert.equal(new Set(reached.map((r) => new URLSearchParams(r.body).get("registration_id"))).size, 12);
  await context.close();
});

test("phone width: every page fits 375 px without sideways scrolling", async () => {
  for (const [user, route, name] of [
    ["ops", "/console", "14-phone-dashboard"],
    ["ops", "/console/campaigns", "14-phone-campaigns"],
    ["ops", "/console/rules", "14-phone-rules"],
    ["win", "/console/window", "15-phone-window"],
    ["aud", "/console/audit", "16-phone-audit"],
  ]) {
    const { context, page } = await signedIn(user, { width: 375, height: 740 });
    await page.goto(base + route);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `${route} is ${width} px wide`);
    await shot(page, name);
    await context.close();
  }
});
