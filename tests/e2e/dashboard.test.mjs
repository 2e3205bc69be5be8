// The dashboard at /ui, driven in a real headless Chromium (Debian's, through playwright-core):
// a tenant logs a session in by QR and sees it connect without a reload, sends a text and
// watches its receipts tick, binds auto-reply through the form generated from its schema (a
// refused config's message lands under the field it names) and sees it answer; the operator
// sees tenants, plugins and the audit log. Screenshots of the main screens are written to
// tests/artifacts/dashboard/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Gateway, ADMIN, installPlugin, shippedPlugins } from "./lib/gateway.mjs";
import { receiver } from "./lib/receiver.mjs";

const CHROMIUM = process.env.WAGATE_CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dirname, "..", "artifacts", "dashboard");
// Under CI a missing browser is a failure, not a skip.
const skip = existsSync(CHROMIUM) || process.env.CI ? false : `no Chromium at ${CHROMIUM} (scripts/test.sh installs Debian's chromium)`;

let gw, acme, browser, hooks;
before(async () => {
  if (skip) return;
  const { chromium } = await import("playwright-core");
  hooks = await receiver();
  gw = await Gateway.start({
    WAGATE_SIM__READ_DELAY_MS: "400",
    WAGATE_SIM__DELIVERED_DELAY_MS: "300",
    // Long enough to watch one code replace another before the phone scans.
    WAGATE_SESSIONS__QR_FIRST_TTL_MS: "1200",
    WAGATE_SESSIONS__QR_NEXT_TTL_MS: "4000",
    WAGATE_SESSIONS__MAX_QR_CODES: "5",
    WAGATE_SESSIONS__PAIRING_CODE_TTL_MS: "30000",
    WAGATE_WEBHOOKS__ALLOW: "127.0.0.0/8",
  });
  for (const name of ["auto-reply", "ai-answer"]) {
    installPlugin(join(shippedPlugins(), name), join(gw.dataDir, "plugins"));
    const r = await gw.api("POST", `/api/v1/plugins/${name}/reload`, ADMIN);
    assert.ok(["loaded", "unchanged"].includes(r.body.outcome), JSON.stringify(r.body));
  }
  acme = await gw.tenant("acme");
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
});
after(async () => {
  await browser?.close();
  await gw?.close();
  await hooks?.close?.();
});

async function signIn(page, credential) {
  await page.goto(`${gw.url}/ui/`);
  await page.fill("#credential", credential);
  await page.press("#credential", "Enter");
}

const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

/// A new page whose script errors are collected; on a failure the screen is kept as
/// `failed-<name>.png` beside the other screenshots.
async function withPage(name, viewport, body) {
  const page = await browser.newPage({ viewport });
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  // A refused request (the wrong key tried on purpose) is the browser's note, not a script error.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && problems.push(m.text()));
  try {
    await body(page, problems);
  } catch (e) {
    await shot(page, `failed-${name}`).catch(() => {});
    throw new Error(`${e.message}\nscript errors: ${JSON.stringify(problems)}`);
  } finally {
    await page.close();
  }
}

test("a tenant logs a session in by QR, chats with receipts, and binds auto-reply through its form", { skip }, () =>
  withPage("tenant", { width: 1280, height: 860 }, async (page, problems) => {

  // A wrong key is refused where it was typed.
  await signIn(page, "wgk_not-a-key");
  await page.locator(".signin .error").waitFor();
  assert.match(await page.locator(".signin .error").textContent(), /Neither a tenant/);

  await signIn(page, acme.apiKey);
  await page.locator('#nav a[data-section="sessions"][aria-current="page"]').waitFor();
  await page.locator('.live[data-state="live"]').waitFor();

  // Create a session and start a QR login.
  await page.fill("#new-id", "shop");
  await page.fill("#new-name", "Shop front");
  await page.click('form button:has-text("Create")');
  await page.locator('tr[data-session="shop"] .badge[data-status="INIT"]').waitFor();
  await page.click('button:has-text("Log in with QR")');
  const qr = page.locator(".qr img");
  await qr.waitFor();
  assert.match(await qr.getAttribute("src"), /^data:image\/png;base64,/);
  await shot(page, "session-qr");
  // The code rotates; the page shows the new one without being asked.
  const first = await qr.getAttribute("src");
  await page.locator('.qr img[data-attempt="2"]').waitFor();
  assert.notEqual(await qr.getAttribute("src"), first);

  // The phone scans (the simulator's endpoint); the page learns it from the event stream.
  const scan = await gw.api("POST", "/api/v1/sim/sessions/shop/scan", acme.apiKey, { phoneNumber: "+15550000001", displayName: "Shop" });
  assert.equal(scan.status, 200, JSON.stringify(scan.body));
  await page.locator('aside .badge[data-status="CONNECTED"]').waitFor();
  await page.locator('tr[data-session="shop"] .badge[data-status="CONNECTED"]').waitFor();
  assert.equal(await page.locator(".qr").count(), 0, "the QR is gone once connected");
  await shot(page, "sessions");

  // A contact writes; the chat appears; a text sent from the box ticks through its receipts.
  await gw.api("POST", "/api/v1/sim/sessions/shop/inbound", acme.apiKey, { from: "+15557770001", text: "Hello shop", name: "Rina" });
  await page.click('#nav a[data-section="chats"]');
  await page.locator("button.chat", { hasText: "Rina" }).click();
  await page.locator(".msg.in", { hasText: "Hello shop" }).waitFor();
  await page.fill("#compose", "Hi Rina, how can we help?");
  await page.press("#compose", "Enter");
  const mine = page.locator(".msg.out", { hasText: "how can we help" });
  await mine.waitFor();
  const seen = new Set();
  for (let i = 0; i < 200 && !seen.has("READ"); i++) {
    seen.add(await mine.getAttribute("data-status"));
    await page.waitForTimeout(20);
  }
  assert.ok(seen.has("READ"), `ended READ: ${[...seen]}`);
  assert.ok(seen.has("DELIVERED") || seen.has("SENT"), `ticked through the receipts before READ: ${[...seen]}`);
  assert.equal(await mine.locator(".ticks").getAttribute("aria-label"), "READ");
  // A message arriving while a reply is being written does not lose the reply.
  await page.fill("#compose", "half a reply");
  await gw.api("POST", "/api/v1/sim/sessions/shop/inbound", acme.apiKey, { from: "+15557770001", text: "are you there?", name: "Rina" });
  await page.locator(".msg.in", { hasText: "are you there?" }).waitFor();
  assert.equal(await page.inputValue("#compose"), "half a reply");
  await page.fill("#compose", "");
  await shot(page, "chat");

  // Bind auto-reply through the form its schema generates. A rule without a matcher (no
  // `contains`, `equals`, ...) is refused by the plugin, and the message lands under that rule.
  await page.click('#nav a[data-section="plugins"]');
  await page.locator('article[data-plugin="auto-reply"] button:has-text("Bind")').click();
  const form = page.locator('form.binding-form[data-plugin="auto-reply"]');
  await form.waitFor();
  await form.locator('button:has-text("Add rule")').click();
  await form.locator('[data-path="rules[0].reply"] input').fill("Our prices are on the menu.");
  await form.locator('button:has-text("Save")').click();
  const refusal = form.locator('[data-path="rules[0]"] > .error');
  await refusal.waitFor();
  assert.match(await refusal.textContent(), /needs exactly one of 'contains', 'equals', 'startsWith', 'anyOf' or 'regex'/);
  await shot(page, "plugin-refused");
  await form.locator('[data-path="rules[0].contains"] input').fill("price");
  await form.locator('button:has-text("Save")').click();
  await form.locator(".ok", { hasText: "Saved" }).waitFor();
  assert.equal(await form.locator(".error").count(), 0, "the refusal is gone once saved");
  await page.locator('article[data-plugin="auto-reply"] .badge[data-status="ENABLED"]').waitFor();
  await page.locator('article[data-plugin="auto-reply"] .badge[data-status="BREAKER CLOSED"]').waitFor();

  // It answers the next inbound message, and the chat shows the answer.
  await gw.api("POST", "/api/v1/sim/sessions/shop/inbound", acme.apiKey, { from: "+15557770001", text: "what is the price?", name: "Rina" });
  await page.click('#nav a[data-section="chats"]');
  await page.locator("button.chat", { hasText: "Rina" }).click();
  await page.locator(".msg.out", { hasText: "Our prices are on the menu." }).waitFor();

  // A plugin that sends HTTP requests is told where it may: the form asks for its hosts, a
  // pattern that is not one is refused, and the binding keeps what was saved.
  await page.click('#nav a[data-section="plugins"]');
  await page.locator('article[data-plugin="ai-answer"] button:has-text("Bind")').click();
  const ai = page.locator('form.binding-form[data-plugin="ai-answer"]');
  await ai.waitFor();
  assert.equal(await page.locator('form.binding-form[data-plugin="auto-reply"] #bind-hosts').count(), 0);
  assert.match(await ai.locator(".hint", { hasText: "The plugin asks for" }).textContent(), /asks for \*/);
  await ai.locator('[data-path="url"] input').fill("https://llm.example/v1/chat/completions");
  await ai.locator('[data-path="model"] input').fill("fake-1");
  await ai.locator("#bind-hosts").fill("https://llm.example/");
  await ai.locator('button:has-text("Save")').click();
  await ai.locator(".error", { hasText: "is not a host pattern" }).waitFor();
  await ai.locator("#bind-hosts").fill("llm.example, *.example.org");
  await ai.locator('button:has-text("Save")').click();
  await ai.locator(".ok", { hasText: "Saved" }).waitFor();
  const aiBinding = (await gw.api("GET", "/api/v1/tenant/plugins", acme.apiKey)).body.find((b) => b.plugin === "ai-answer");
  assert.deepEqual(aiBinding.allowedHosts, ["llm.example", "*.example.org"]);
  assert.equal(aiBinding.config.model, "fake-1");

  // The binding's own calls, with their timing.
  await page.click('#nav a[data-section="plugins"]');
  const botCalls = page.locator('article[data-plugin="auto-reply"] table.calls tbody tr', { hasText: "bot" });
  await botCalls.waitFor();
  assert.match(await botCalls.textContent(), /^bot\d+0\d+ µs\d+ µs$/);

  // A webhook endpoint made in the page, a test event sent, its delivery listed.
  await page.click('#nav a[data-section="webhooks"]');
  await page.fill("#hook-url", `${hooks.url}/wagate`);
  await page.fill("#hook-events", "message.*");
  await page.click('form button:has-text("Add")');
  await page.locator(".ok code").waitFor();
  assert.match(await page.locator(".ok code").textContent(), /^whsec_/);
  await page.locator('tr[data-webhook] button:has-text("Send test")').click();
  const delivery = page.locator("table.compact tbody tr", { hasText: "webhook.test" });
  await delivery.waitFor();
  assert.match(await delivery.textContent(), /HTTP 200/);
  assert.ok(hooks.got.some((r) => r.path === "/wagate"), "the receiver got it");

  // The live log shows what happened, and filters by name.
  await page.click('#nav a[data-section="events"]');
  await gw.api("POST", "/api/v1/sim/sessions/shop/inbound", acme.apiKey, { from: "+15557770002", text: "another one" });
  await page.locator('tr[data-event="message.received"]').first().waitFor();
  await page.fill("#filter-name", "session.*");
  assert.equal(await page.locator('tr[data-event="message.received"]').count(), 0);
  await page.fill("#filter-name", "message.*");
  await page.locator('tr[data-event="message.received"]').first().waitFor();
  await shot(page, "events");

  // The audit log has both bindings, under the tenant's own view.
  await page.click('#nav a[data-section="audit"]');
  await page.locator('tr[data-action="plugin.bound"]', { hasText: "ai-answer" }).waitFor();
  await page.locator('tr[data-action="plugin.bound"]', { hasText: "auto-reply" }).waitFor();

  // A second session linked by pairing code: the code is shown where it was asked for.
  await page.click('#nav a[data-section="sessions"]');
  await page.fill("#new-id", "desk");
  await page.click('form button:has-text("Create")');
  await page.locator('aside .badge[data-status="INIT"]').waitFor();
  await page.fill("#pair-phone", "+15550000002");
  await page.click('button:has-text("Get pairing code")');
  const code = page.locator(".pairing-code");
  await code.waitFor();
  assert.match(await code.textContent(), /^[A-Z0-9]{4}-?[A-Z0-9]{4}$/);

  // Disconnecting from the page: the status follows.
  await page.locator('tr[data-session="shop"]').click();
  await page.locator('aside .badge[data-status="CONNECTED"]').waitFor();
  // The send queue as the detail shows it: the gateway's default pacing, then a policy set in
  // the page that holds sends back (the page follows `session.queue`). A value out of bounds is
  // refused with the field it names.
  await page.locator('aside dd[data-fact="pacing"]', { hasText: "no rate limit, (the gateway's default)" }).waitFor();
  assert.match(await page.locator('aside dd[data-fact="queue"]').textContent(), /^0 of 1000 waiting;/);
  await page.click("#pacing-edit");
  await page.fill("#pacing-perMinute", "1");
  await page.fill("#pacing-maxDepth", "0");
  await page.click('aside button:has-text("Save pacing")');
  await page.locator("aside form.pacing .form-error", { hasText: "maxDepth" }).waitFor();
  await shot(page, "pacing-refused");
  await page.fill("#pacing-maxDepth", "500");
  await page.click('aside button:has-text("Save pacing")');
  await page.locator('aside dd[data-fact="pacing"]', { hasText: "1 per minute" }).waitFor();
  const stored = (await gw.api("GET", "/api/v1/sessions/shop/queue", acme.apiKey)).body;
  assert.deepEqual([stored.policy.perMinute, stored.policy.maxDepth, stored.policySource], [1, 500, "session"]);
  for (const text of ["one", "two", "three"]) {
    await gw.api("POST", "/api/v1/sessions/shop/messages", acme.apiKey, { to: "+15557770001", text });
  }
  await page.locator('aside dd[data-fact="queue"]', { hasText: "waiting for its rate" }).waitFor();
  assert.match(await page.locator('aside dd[data-fact="pacing"]').textContent(), /^1 per minute$/);
  assert.match(await page.locator('aside dd[data-fact="queue"]').textContent(), /of 500 waiting/);
  await page.click('aside button:has-text("Disconnect")');
  await page.locator('tr[data-session="shop"] .badge[data-status="DISCONNECTED"]').waitFor();

  // A binding switched off from its card.
  await page.click('#nav a[data-section="plugins"]');
  await page.locator('article[data-plugin="auto-reply"] button:has-text("Disable")').click();
  await page.locator('article[data-plugin="auto-reply"] .badge[data-status="DISABLED"]').waitFor();

  // Phone width: the same screens, readable.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click('#nav a[data-section="sessions"]');
  await page.locator('tr[data-session="shop"]').waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling at phone width (${overflow} px)`);
  await shot(page, "sessions-phone");
  assert.deepEqual(problems, [], "no script errors");
}));

test("a user token without the admin role is told so at sign-in", { skip }, async () => {
  const token = await gw.token(acme, "viewer");
  await withPage("viewer", undefined, async (page) => {
    await signIn(page, token);
    await page.locator(".signin .error").waitFor();
    assert.match(await page.locator(".signin .error").textContent(), /admin role/);
  });
});

test("the operator sees tenants, plugins with their reload history, health and the audit log", { skip }, () =>
  withPage("operator", { width: 1280, height: 860 }, async (page, problems) => {
  await signIn(page, ADMIN);
  await page.locator('tr[data-tenant="acme"]').waitFor();
  await page.fill("#tenant-id", "globex");
  await page.fill("#tenant-name", "Globex");
  await page.click('form button:has-text("Create")');
  await page.locator(".secret code").first().waitFor();
  assert.match(await page.locator(".secret code").first().textContent(), /^wgk_/);
  await page.locator('tr[data-tenant="globex"]').waitFor();
  await shot(page, "operator-tenants");
  // Quotas: an empty field is the default; a refused value says why.
  await page.locator('tr[data-tenant="globex"] button:has-text("Quotas")').click();
  await page.fill("#q-maxSessions", "5");
  await page.click('form button:has-text("Save")');
  await page.locator('tr[data-tenant="globex"]', { hasText: "maxSessions 5" }).waitFor();
  // Rotation shows the new key once; the old one keeps working for its grace.
  page.once("dialog", (d) => d.accept());
  await page.locator('tr[data-tenant="globex"] button:has-text("Rotate key")').click();
  await page.locator(".secret h2", { hasText: "New API key of globex" }).waitFor();
  const rotated = await page.locator(".secret code").first().textContent();
  assert.equal((await gw.api("GET", "/api/v1/tenant", rotated)).status, 200);

  // A folder whose plugin.toml is broken: refused, and both the plugin's card and the
  // hot-reload history say why.
  const broken = join(gw.dataDir, "plugins", "broken");
  mkdirSync(broken, { recursive: true });
  writeFileSync(join(broken, "plugin.toml"), 'name = "broken"\nversion = "1.0.0"\nhooks = []\n');
  const refused = await gw.api("POST", "/api/v1/plugins/broken/reload", ADMIN);
  assert.equal(refused.body.outcome, "refused", JSON.stringify(refused.body));
  await page.click('#nav a[data-section="plugins"]');
  await page.locator('article[data-plugin="auto-reply"] .badge[data-status="LOADED"]').waitFor();
  assert.match(await page.locator('article[data-plugin="auto-reply"]').textContent(), /messages:send/);
  await page.locator('article[data-plugin="broken"] .badge[data-status="FAILED"]').waitFor();
  assert.match(await page.locator('article[data-plugin="broken"] dd.error').textContent(), /no hooks/);
  const history = page.locator("tr", { hasText: "refused: plugin.toml lists no hooks" });
  await history.waitFor();
  assert.match(await history.textContent(), /broken.*operator/);
  await shot(page, "operator-plugins");

  await page.click('#nav a[data-section="health"]');
  await page.locator('.badge[data-status="READY"]').waitFor();

  await page.click('#nav a[data-section="audit"]');
  await page.locator('tr[data-action="tenant.created"]').first().waitFor();
  assert.ok(await page.locator('tr[data-action="plugin.bound"]').count() >= 1);
  assert.deepEqual(problems, []);
}));

test("the dashboard's files are served with a strict content policy, and nothing else is", { skip: false }, async () => {
  const own = gw ?? (await Gateway.start());
  try {
    const res = await fetch(`${own.url}/ui/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /text\/html/);
    assert.match(res.headers.get("content-security-policy"), /script-src 'self'/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    const js = await fetch(`${own.url}/ui/app.js`);
    assert.match(js.headers.get("content-type"), /javascript/);
    const missing = await fetch(`${own.url}/ui/secrets.env`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "not_found");
    const redirect = await fetch(`${own.url}/ui`, { redirect: "manual" });
    assert.equal(redirect.status, 308);
  } finally {
    if (!gw) await own.close();
  }
});
