// Webhooks from the durable outbox: endpoints' CRUD and refusals, Standard Webhooks signatures
// checked with the specification's own npm library, filters, retries on the schedule,
// timeouts, dead letters, 410 disabling, rotation, test events, resend, replay, ordered
// delivery, the journal's REST page and its pruning, and a kill -9 in mid-stream.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { Gateway, bindPlugin, record, emitWithAck, shippedPlugins, sleep } from "./lib/gateway.mjs";
import { receiver } from "./lib/receiver.mjs";

const CONTACT = "+628123456789";
// Loopback receivers are allowed here; attempts follow a schedule of seconds, not hours.
const FAST_HOOKS = {
  WAGATE_WEBHOOKS__ALLOW: "127.0.0.0/8",
  WAGATE_WEBHOOKS__RETRY_SCHEDULE_SECS: "0,1,1",
  WAGATE_WEBHOOKS__TIMEOUT_MS: "600",
};

const hooks = (gw, key) => ({
  create: (body) => gw.api("POST", "/api/v1/webhooks", key, body),
  get: (id) => gw.api("GET", `/api/v1/webhooks/${id}`, key),
  patch: (id, body) => gw.api("PATCH", `/api/v1/webhooks/${id}`, key, body),
  deliveries: async (id, q = "") => (await gw.api("GET", `/api/v1/webhooks/${id}/deliveries${q}`, key)).body,
  delivery: async (id, d) => (await gw.api("GET", `/api/v1/webhooks/${id}/deliveries/${d}`, key)).body,
});

const inbound = (gw, key, session, text) =>
  gw.api("POST", `/api/v1/sim/sessions/${session}/inbound`, key, { from: CONTACT, text });

/** Every event the journal holds, page by page. */
async function wholeJournal(gw, key) {
  const all = [];
  for (let after = 0; ; ) {
    const page = (await gw.api("GET", `/api/v1/events?afterSeq=${after}&limit=1000`, key)).body;
    if (!page.events.length) return all;
    all.push(...page.events);
    after = page.lastSeq;
  }
}

/** Waits until a delivery of the endpoint is in `state`. */
async function settled(h, id, pred, timeout = 8000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const list = await h.deliveries(id);
    const hit = list.find(pred);
    if (hit) return hit;
    await sleep(50);
  }
  throw new Error(`no delivery of ${id} as expected within ${timeout} ms: ${JSON.stringify(await h.deliveries(id))}`);
}

describe("webhook endpoints", () => {
  let gw, acme, rx, h;
  before(async () => {
    gw = await Gateway.start({ ...FAST_HOOKS, WAGATE_QUOTAS__MAX_WEBHOOKS: "4" });
    acme = await gw.tenant("acme");
    rx = await receiver();
    h = hooks(gw, acme.apiKey);
  });
  after(async () => {
    await rx.close();
    await gw.close();
  });

  test("created with a secret shown once; read, changed, listed and deleted; another tenant sees none", async () => {
    const r = await h.create({ url: `${rx.url}/a`, events: ["message.*"], description: "CRM" });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.match(r.body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual([r.body.events, r.body.enabled, r.body.ordered, r.body.maxConcurrency, r.body.sessions], [["message.*"], true, false, 4, null]);
    const got = await h.get(r.body.id);
    assert.equal(got.status, 200);
    assert.equal(got.body.secret, undefined, "the secret is never shown again");
    const p = await h.patch(r.body.id, { events: ["session.*", "message.received"], sessions: ["s1"], ordered: true, description: null });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.deepEqual([p.body.events, p.body.sessions, p.body.ordered, p.body.description], [["session.*", "message.received"], ["s1"], true, null]);
    const list = await gw.api("GET", "/api/v1/webhooks", acme.apiKey);
    assert.deepEqual(list.body.map((w) => w.id), [r.body.id]);
    const other = await gw.tenant("someone-else");
    assert.deepEqual((await gw.api("GET", "/api/v1/webhooks", other.apiKey)).body, []);
    assert.equal((await gw.api("GET", `/api/v1/webhooks/${r.body.id}`, other.apiKey)).body.error.code, "webhook_not_found");
    assert.equal((await gw.api("DELETE", `/api/v1/webhooks/${r.body.id}`, acme.apiKey)).status, 204);
    assert.equal((await h.get(r.body.id)).status, 404);
  });

  test("bad requests are refused precisely; the tenant's webhook quota holds; a user token without admin is refused", async () => {
    const cases = [
      [{ url: "ftp://x.example/" }, 422, "invalid_url"],
      [{ url: "not a url" }, 422, "invalid_url"],
      [{ url: "http://user:pw@127.0.0.1/" }, 422, "invalid_url"],
      [{ url: `${rx.url}/x`, events: [] }, 422, "invalid_events"],
      [{ url: `${rx.url}/x`, events: ["mesage.*"] }, 422, "invalid_events"],
      [{ url: `${rx.url}/x`, events: ["Message.Received"] }, 422, "invalid_events"],
      [{ url: `${rx.url}/x`, sessions: [] }, 422, "invalid_sessions"],
      [{ url: `${rx.url}/x`, sessions: ["a/b"] }, 422, "invalid_sessions"],
      [{ url: `${rx.url}/x`, maxConcurrency: 0 }, 422, "invalid_concurrency"],
      [{ url: `${rx.url}/x`, description: "d".repeat(501) }, 422, "invalid_description"],
      [{ url: `${rx.url}/x`, secret: "mine" }, 422, "invalid_body"],
      [{ url: `${rx.url}/x`, body: "xml" }, 422, "invalid_body"],
      [{ events: ["*"] }, 422, "invalid_body"],
    ];
    for (const [body, status, code] of cases) {
      const r = await h.create(body);
      assert.deepEqual([r.status, r.body?.error?.code], [status, code], JSON.stringify(body));
      assert.ok(r.body.error.message.length > 10);
    }
    const user = await gw.token(acme, "u1");
    const r = await gw.api("POST", "/api/v1/webhooks", user, { url: `${rx.url}/x` });
    assert.deepEqual([r.status, r.body.error.code], [403, "forbidden"]);
    const made = [];
    for (let i = 0; i < 4; i++) made.push((await h.create({ url: `${rx.url}/q${i}`, enabled: false })).body.id);
    const over = await h.create({ url: `${rx.url}/q5` });
    assert.deepEqual([over.status, over.body.error.code], [403, "quota_exceeded"]);
    assert.match(over.body.error.message, /webhooks \(limit 4\)/);
    for (const id of made) await gw.api("DELETE", `/api/v1/webhooks/${id}`, acme.apiKey);
    assert.equal((await gw.api("DELETE", `/api/v1/webhooks/${made[0]}`, acme.apiKey)).status, 404);
  });
});

describe("delivery", () => {
  let gw, acme, rx, h;
  before(async () => {
    gw = await Gateway.start(FAST_HOOKS);
    acme = await gw.tenant("acme");
    rx = await receiver();
    h = hooks(gw, acme.apiKey);
    await gw.connectedSession(acme, "s1");
    await gw.connectedSession(acme, "s2", "+15550000002");
  });
  after(async () => {
    await rx.close();
    await gw.close();
  });

  test("signed as Standard Webhooks says, filtered by event and session, the body the canonical event", async () => {
    const all = (await h.create({ url: `${rx.url}/all`, events: ["message.received"] })).body;
    const s2only = (await h.create({ url: `${rx.url}/s2`, events: ["message.*"], sessions: ["s2"] })).body;
    const r = await inbound(gw, acme.apiKey, "s1", "hello hooks");
    assert.equal(r.status, 202);
    const [got] = await rx.waitFor((e) => e.path === "/all" && e.json.data.message.content === "hello hooks");
    assert.equal(got.json.type, "message.received");
    assert.equal(got.json.data.sessionId, "s1");
    assert.equal(got.json.data.tenantId, "acme");
    assert.equal(got.json.timestamp, got.json.data.timestamp);
    assert.equal(got.headers["webhook-id"], `evt_acme_${got.json.data.seq}`);
    assert.equal(got.headers["content-type"], "application/json");
    // The specification's own library verifies it; any other secret or body does not.
    const payload = new Webhook(all.secret).verify(got.body, got.headers);
    assert.equal(payload.type, "message.received");
    assert.throws(() => new Webhook(s2only.secret).verify(got.body, got.headers));
    assert.throws(() => new Webhook(all.secret).verify(got.body.replace("hello", "HELLO"), got.headers));
    await inbound(gw, acme.apiKey, "s2", "for s2");
    const [s2] = await rx.waitFor((e) => e.path === "/s2" && e.json.type === "message.received");
    assert.equal(s2.json.data.sessionId, "s2");
    await sleep(300);
    assert.ok(!rx.got.some((e) => e.path === "/s2" && e.json.data.sessionId === "s1"), "the session filter holds");
    assert.ok(!rx.got.some((e) => e.path === "/all" && e.json.type !== "message.received"), "the event filter holds");
    const list = await h.deliveries(all.id);
    const mine = list.find((d) => d.seq === got.json.data.seq);
    assert.deepEqual([mine.state, mine.attempts, mine.lastStatus, mine.event, mine.messageId], ["delivered", 1, 200, "message.received", got.headers["webhook-id"]]);
    const one = await h.delivery(all.id, mine.id);
    assert.equal(one.attemptLog.length, 1);
    assert.deepEqual([one.attemptLog[0].status, one.attemptLog[0].responseExcerpt], [200, "ok"]);
    for (const id of [all.id, s2only.id]) await gw.api("DELETE", `/api/v1/webhooks/${id}`, acme.apiKey);
  });

  test("500 then 200: the retry comes on schedule; a receiver that never answers is cut at the timeout; the last failure is a dead letter", async () => {
    const hook = (await h.create({ url: `${rx.url}/flaky`, events: ["message.received"] })).body;
    let calls = 0;
    rx.respond((e) => (e.path !== "/flaky" ? 200 : e.json.data.message.content === "hang" ? "hang" : e.json.data.message.content === "always" ? { status: 503, body: "down" } : ++calls === 1 ? { status: 500, body: "boom" } : 200));
    await inbound(gw, acme.apiKey, "s1", "retry me");
    const done = await settled(h, hook.id, (d) => d.state === "delivered");
    const log = (await h.delivery(hook.id, done.id)).attemptLog;
    assert.deepEqual(log.map((a) => a.status), [500, 200]);
    assert.equal(log[0].responseExcerpt, "boom");
    assert.match(log[0].error, /HTTP 500/);
    const gap = Date.parse(log[1].at) - Date.parse(log[0].at);
    assert.ok(gap >= 1000 && gap < 2500, `the retry came ${gap} ms later (schedule: 1 s, +10% jitter)`);

    await inbound(gw, acme.apiKey, "s1", "hang");
    const cut = await settled(h, hook.id, (d) => d.attempts >= 1 && d.lastError?.includes("no answer"), 5000);
    const first = (await h.delivery(hook.id, cut.id)).attemptLog[0];
    assert.match(first.error, /no answer within 600 ms/);
    assert.ok(first.latencyMs >= 550 && first.latencyMs < 2000, `cut after ${first.latencyMs} ms`);

    await inbound(gw, acme.apiKey, "s1", "always");
    const dead = await settled(h, hook.id, (d) => d.state === "dead" && d.lastStatus === 503, 10000);
    const tries = (await h.delivery(hook.id, dead.id)).attemptLog;
    assert.deepEqual(tries.map((a) => a.status), [503, 503, 503], "three attempts: the schedule's length");
    assert.equal((await h.deliveries(hook.id, "?state=dead")).every((d) => d.state === "dead"), true);
    // Resent, a dead letter goes out again once the receiver is back.
    rx.respond(() => 200);
    const again = await gw.api("POST", `/api/v1/webhooks/${hook.id}/deliveries/${dead.id}/resend`, acme.apiKey);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    const resent = await settled(h, hook.id, (d) => d.id === dead.id && d.state === "delivered");
    assert.equal(resent.attempts, 4, "three before, one after the resend");
    const bad = await gw.api("GET", `/api/v1/webhooks/${hook.id}/deliveries?state=lost`, acme.apiKey);
    assert.deepEqual([bad.status, bad.body.error.code], [422, "invalid_state"]);
    const none = await gw.api("POST", `/api/v1/webhooks/${hook.id}/deliveries/dlv_nope/resend`, acme.apiKey);
    assert.deepEqual([none.status, none.body.error.code], [404, "delivery_not_found"]);
    await gw.api("DELETE", `/api/v1/webhooks/${hook.id}`, acme.apiKey);
  });

  test("a receiver answering 410 is disabled, its pending deliveries given up, and webhook.disabled says why", async () => {
    const watcher = (await h.create({ url: `${rx.url}/watch`, events: ["webhook.disabled"] })).body;
    const gone = (await h.create({ url: `${rx.url}/gone`, events: ["message.received"] })).body;
    const socket = await gw.connect({ transports: ["websocket"], auth: { token: await gw.token(acme) } });
    const log = record(socket);
    rx.respond((e) => (e.path === "/gone" ? 410 : 200));
    await inbound(gw, acme.apiKey, "s1", "are you there");
    const notice = await log.waitFor("webhook.disabled", (p) => p.webhookId === gone.id, 5000);
    assert.match(notice.reason, /410/);
    assert.equal(notice.url, `${rx.url}/gone`);
    const [hooked] = await rx.waitFor((e) => e.path === "/watch" && e.json.type === "webhook.disabled");
    assert.equal(hooked.json.data.webhookId, gone.id);
    const now = (await h.get(gone.id)).body;
    assert.deepEqual([now.enabled, now.disabledReason], [false, notice.reason]);
    const before = rx.got.filter((e) => e.path === "/gone").length;
    await inbound(gw, acme.apiKey, "s1", "still there?");
    await sleep(400);
    assert.equal(rx.got.filter((e) => e.path === "/gone").length, before, "a disabled endpoint gets nothing");
    const again = await h.patch(gone.id, { enabled: true });
    assert.deepEqual([again.body.enabled, again.body.disabledReason], [true, null]);
    rx.respond(() => 200);
    await inbound(gw, acme.apiKey, "s1", "back");
    await rx.waitFor((e) => e.path === "/gone" && e.json.data.message?.content === "back");
    for (const id of [watcher.id, gone.id]) await gw.api("DELETE", `/api/v1/webhooks/${id}`, acme.apiKey);
  });

  test("rotation signs with both secrets during the overlap; a test event answers with its attempt", async () => {
    const hook = (await h.create({ url: `${rx.url}/rot`, events: ["message.received"] })).body;
    const rotated = await gw.api("POST", `/api/v1/webhooks/${hook.id}/rotate`, acme.apiKey, { overlapSecs: 60 });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.notEqual(rotated.body.secret, hook.secret);
    assert.ok(rotated.body.previousSecretUntil);
    const t = await gw.api("POST", `/api/v1/webhooks/${hook.id}/test`, acme.apiKey);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.deepEqual([t.body.event, t.body.state, t.body.attemptLog[0].status, t.body.seq], ["webhook.test", "delivered", 200, null]);
    const [got] = await rx.waitFor((e) => e.path === "/rot" && e.json.type === "webhook.test");
    assert.equal(got.headers["webhook-signature"].split(" ").length, 2);
    for (const secret of [hook.secret, rotated.body.secret]) new Webhook(secret).verify(got.body, got.headers);
    const bad = await gw.api("POST", `/api/v1/webhooks/${hook.id}/rotate`, acme.apiKey, { overlapSecs: 9e9 });
    assert.deepEqual([bad.status, bad.body.error.code], [422, "invalid_overlap"]);
    // Without overlap the old secret stops at once.
    const hard = await gw.api("POST", `/api/v1/webhooks/${hook.id}/rotate`, acme.apiKey, { overlapSecs: 0 });
    await gw.api("POST", `/api/v1/webhooks/${hook.id}/test`, acme.apiKey);
    const last = rx.got.filter((e) => e.path === "/rot").at(-1);
    assert.equal(last.headers["webhook-signature"].split(" ").length, 1);
    new Webhook(hard.body.secret).verify(last.body, last.headers);
    assert.throws(() => new Webhook(rotated.body.secret).verify(last.body, last.headers));
    await gw.api("DELETE", `/api/v1/webhooks/${hook.id}`, acme.apiKey);
  });

  test("replay from a seq sends the journal again under the same webhook-ids; ordered endpoints keep each session's order", async () => {
    const first = await inbound(gw, acme.apiKey, "s1", "replay 1");
    await inbound(gw, acme.apiKey, "s1", "replay 2");
    // An inbound message is journaled once the session has stored it, just after the 202.
    let received = [];
    for (let i = 0; i < 100 && received.length < 2; i++) {
      if (i) await sleep(20);
      received = (await wholeJournal(gw, acme.apiKey)).filter((e) => e.event === "message.received" && e.payload.message.content.startsWith("replay "));
    }
    assert.equal(received.length, 2);
    const hook = (await h.create({ url: `${rx.url}/replay`, events: ["message.received"], ordered: true })).body;
    const r = await gw.api("POST", `/api/v1/webhooks/${hook.id}/replay`, acme.apiKey, { fromSeq: received[0].seq });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.body.queued >= 2);
    const got = await rx.waitCount((e) => e.path === "/replay", r.body.queued);
    assert.deepEqual(got.slice(0, 2).map((e) => e.headers["webhook-id"]), received.map((e) => `evt_acme_${e.seq}`));
    assert.equal(first.status, 202);
    const both = await gw.api("POST", `/api/v1/webhooks/${hook.id}/replay`, acme.apiKey, { fromSeq: 1, since: new Date().toISOString() });
    assert.deepEqual([both.status, both.body.error.code], [422, "invalid_replay"]);

    // Ordered: the first event fails once; the next waits behind it, so the receiver's
    // successful deliveries of s1 come in seq order.
    let failedOnce = false;
    const answered = [];
    rx.respond((e) => {
      const content = e.json.data?.message?.content ?? "";
      if (e.path !== "/replay" || !content.startsWith("ordered ")) return 200;
      if (content === "ordered 1" && !failedOnce) {
        failedOnce = true;
        return 500;
      }
      answered.push(content);
      return 200;
    });
    for (let i = 1; i <= 4; i++) await inbound(gw, acme.apiKey, "s1", `ordered ${i}`);
    const tries = await rx.waitCount((e) => e.path === "/replay" && e.json.data.message?.content?.startsWith("ordered "), 5, 8000);
    await sleep(200);
    assert.deepEqual(answered, ["ordered 1", "ordered 2", "ordered 3", "ordered 4"], "after the retry, in order");
    const retryAt = tries.filter((e) => e.json.data.message.content === "ordered 1")[1].at;
    const secondAt = tries.find((e) => e.json.data.message.content === "ordered 2").at;
    assert.ok(secondAt >= retryAt, "the next event waited behind the failed one");
    await gw.api("DELETE", `/api/v1/webhooks/${hook.id}`, acme.apiKey);
  });

  test("the journal's REST page: in seq order, bounded, and only the user's sessions for a user token", async () => {
    const page = (await gw.api("GET", "/api/v1/events?afterSeq=0&limit=5", acme.apiKey)).body;
    assert.equal(page.events.length, 5);
    const seqs = page.events.map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    assert.equal(page.lastSeq, seqs.at(-1));
    const next = (await gw.api("GET", `/api/v1/events?afterSeq=${page.lastSeq}&limit=5`, acme.apiKey)).body;
    assert.ok(next.events[0].seq > page.lastSeq);
    const bad = await gw.api("GET", "/api/v1/events?limit=5000", acme.apiKey);
    assert.deepEqual([bad.status, bad.body.error.code], [422, "invalid_limit"]);
    await gw.api("PATCH", "/api/v1/tenant", acme.apiKey, { sessionAccess: "listed" });
    const user = await gw.token(acme, "u1", { sessions: ["s2"] });
    const mine = (await gw.api("GET", "/api/v1/events?limit=1000", user)).body;
    assert.ok(mine.events.length > 0);
    assert.ok(mine.events.every((e) => e.payload.sessionId === "s2"), "only s2's events");
    await gw.api("PATCH", "/api/v1/tenant", acme.apiKey, { sessionAccess: "all" });
  });
});

describe("webhook bodies shaped by the tenant's plugins", () => {
  let gw, acme, rx, h;
  before(async () => {
    gw = await Gateway.start({ ...FAST_HOOKS, WAGATE_PLUGINS__DIR: shippedPlugins() });
    acme = await gw.tenant("acme");
    rx = await receiver();
    h = hooks(gw, acme.apiKey);
    await bindPlugin(gw, acme, "dialect-chat", {});
    await gw.connectedSession(acme, "1");
  });
  after(async () => {
    await rx.close();
    await gw.close();
  });

  test("body plugins: dialect-chat's own events in the envelope, signed, under the same webhook-id; what it does not push is skipped", async () => {
    const events = ["message.received", "message.reaction"];
    const shaped = (await h.create({ url: `${rx.url}/shaped`, events, body: "plugins" })).body;
    const plain = (await h.create({ url: `${rx.url}/plain`, events })).body;
    assert.deepEqual([shaped.body, plain.body], ["plugins", "canonical"]);
    await inbound(gw, acme.apiKey, "1", "shape me");
    const [canon] = await rx.waitFor((e) => e.path === "/plain" && e.json.type === "message.received");
    const [got] = await rx.waitFor((e) => e.path === "/shaped");
    assert.equal(got.json.type, "message:new");
    assert.equal(got.json.timestamp, canon.json.timestamp);
    const m = canon.json.data.message;
    assert.deepEqual(
      [got.json.data.whatsappNumberId, got.json.data.chatId, got.json.data.message.content, got.json.data.message.type],
      [1, m.chatId, "shape me", "TEXT"],
    );
    assert.equal(got.headers["webhook-id"], canon.headers["webhook-id"], "one webhook-id per event, whatever the body");
    assert.equal(new Webhook(shaped.secret).verify(got.body, got.headers).type, "message:new");
    // A reaction is not something seed 003's frontend is pushed: nothing is sent, the delivery says why.
    const react = await gw.api("PUT", `/api/v1/sessions/1/messages/${m.id}/reaction`, acme.apiKey, { emoji: "👍" });
    assert.equal(react.status, 200, JSON.stringify(react.body));
    await rx.waitFor((e) => e.path === "/plain" && e.json.type === "message.reaction");
    const skipped = await settled(h, shaped.id, (d) => d.event === "message.reaction" && d.state === "skipped");
    const one = await h.delivery(shaped.id, skipped.id);
    assert.equal(one.attemptLog.length, 1);
    assert.equal(one.attemptLog[0].status, null);
    assert.match(one.attemptLog[0].error, /plugin 'dialect-chat' gives this event no webhook body/);
    assert.equal((await h.deliveries(shaped.id, "?state=skipped")).length, 1);
    assert.ok(!rx.got.some((e) => e.path === "/shaped" && e.json.type !== "message:new"), "nothing else reached it");
    // The body is made when the delivery is: once the dialect is unbound, a resend is canonical.
    assert.equal((await gw.api("DELETE", "/api/v1/tenant/plugins/dialect-chat", acme.apiKey)).status, 204);
    const first = (await h.deliveries(shaped.id)).find((d) => d.event === "message.received");
    assert.equal((await gw.api("POST", `/api/v1/webhooks/${shaped.id}/deliveries/${first.id}/resend`, acme.apiKey)).status, 200);
    const [again] = await rx.waitFor((e) => e.path === "/shaped" && e.json.type === "message.received");
    assert.deepEqual([again.headers["webhook-id"], again.json.data.message.content], [canon.headers["webhook-id"], "shape me"]);
    const back = await h.patch(shaped.id, { body: "canonical" });
    assert.deepEqual([back.status, back.body.body], [200, "canonical"]);
  });
});

describe("a gateway that disables endpoints failing for a second", () => {
  test("an endpoint that keeps failing is disabled with the reason, and webhook.disabled is emitted", async () => {
    const gw = await Gateway.start({ ...FAST_HOOKS, WAGATE_WEBHOOKS__DISABLE_AFTER_SECS: "1", WAGATE_WEBHOOKS__RETRY_SCHEDULE_SECS: "0,1,1,1,1" });
    const rx = await receiver();
    try {
      const acme = await gw.tenant("acme");
      await gw.connectedSession(acme, "s1");
      const socket = await gw.connect({ transports: ["websocket"], auth: { token: await gw.token(acme) } });
      rx.respond(() => 500);
      const hook = (await gw.api("POST", "/api/v1/webhooks", acme.apiKey, { url: rx.url, events: ["message.received"] })).body;
      await inbound(gw, acme.apiKey, "s1", "anyone?");
      const notice = await socket.log.waitFor("webhook.disabled", (p) => p.webhookId === hook.id, 8000);
      assert.match(notice.reason, /failed for 1 s without a success/);
      const now = (await gw.api("GET", `/api/v1/webhooks/${hook.id}`, acme.apiKey)).body;
      assert.deepEqual([now.enabled, now.disabledReason], [false, notice.reason]);
      const [d] = await hooks(gw, acme.apiKey).deliveries(hook.id);
      assert.equal(d.state, "dead");
      assert.match(d.lastError, /disabled/);
      assert.ok(d.attempts >= 2);
    } finally {
      await rx.close();
      await gw.close();
    }
  });
});

describe("a gateway on the default address policy", () => {
  let gw, acme;
  before(async () => {
    gw = await Gateway.start();
    acme = await gw.tenant("acme");
  });
  after(() => gw.close());

  test("webhook URLs reaching private, loopback or link-local addresses are refused", async () => {
    for (const url of ["http://127.0.0.1:9/", "http://[::1]/", "http://169.254.169.254/latest", "http://10.0.0.8/", "http://localhost:9/", "http://2130706433/"]) {
      const r = await gw.api("POST", "/api/v1/webhooks", acme.apiKey, { url });
      assert.deepEqual([r.status, r.body.error.code], [422, "forbidden_url"], url);
      assert.match(r.body.error.message, /not a public address .*webhooks\.allow/);
    }
  });
});

describe("a journal that keeps 20 events per tenant", () => {
  let gw, acme;
  before(async () => {
    gw = await Gateway.start({ ...FAST_HOOKS, WAGATE_EVENTS__RETENTION_COUNT: "20", WAGATE_EVENTS__PRUNE_INTERVAL_SECS: "1" });
    acme = await gw.tenant("acme");
    await gw.connectedSession(acme, "s1");
  });
  after(() => gw.close());

  test("the oldest events are pruned; replaying from before the journal's start answers 410", async () => {
    for (let i = 0; i < 30; i++) await inbound(gw, acme.apiKey, "s1", `n${i}`);
    let page;
    for (let i = 0; i < 50; i++) {
      page = (await gw.api("GET", "/api/v1/events?limit=1000", acme.apiKey)).body;
      if (page.events.length <= 20) break;
      await sleep(100);
    }
    assert.ok(page.events.length <= 20, `${page.events.length} events kept`);
    assert.ok(page.firstSeq > 1);
    const rx = await receiver();
    const hook = (await gw.api("POST", "/api/v1/webhooks", acme.apiKey, { url: rx.url })).body;
    const r = await gw.api("POST", `/api/v1/webhooks/${hook.id}/replay`, acme.apiKey, { fromSeq: 1 });
    assert.deepEqual([r.status, r.body.error.code], [410, "event_pruned"]);
    assert.match(r.body.error.message, new RegExp(`starts at seq ${page.firstSeq}`));
    await rx.close();
  });
});

describe("a gateway killed in mid-stream", () => {
  test("every event committed before kill -9 reaches the receiver (duplicates under the same webhook-id) and a resuming socket, with no gap", async () => {
    const gw = await Gateway.start(FAST_HOOKS);
    const rx = await receiver();
    try {
      const acme = await gw.tenant("acme");
      await gw.connectedSession(acme, "s1");
      const hook = (await gw.api("POST", "/api/v1/webhooks", acme.apiKey, { url: rx.url, events: ["message.received"] })).body;
      const token = await gw.token(acme);
      const before = await gw.connect({ transports: ["websocket"], auth: { token } });
      await emitWithAck(before, "session.subscribe", "s1");
      // 200 inbound messages a second until the kill.
      let sent = 0;
      let stop = false;
      const stream = (async () => {
        while (!stop) {
          const started = Date.now();
          await Promise.allSettled(Array.from({ length: 10 }, () => inbound(gw, acme.apiKey, "s1", `m${sent++}`)));
          await sleep(Math.max(0, 50 - (Date.now() - started)));
        }
      })();
      await sleep(1500);
      const seenBefore = before.log.filter((e) => e.name === "message.received").map((e) => e.payload.seq);
      await gw.kill();
      stop = true;
      await stream;
      await gw.launch();
      const lastSeq = Math.max(0, ...seenBefore);
      const after = await gw.connect({ transports: ["websocket"], auth: { token, lastSeq, sessions: ["s1"] } });
      await after.log.waitFor("session.resumed", () => true, 10000);
      const journal = await wholeJournal(gw, acme.apiKey);
      const committed = journal.filter((e) => e.event === "message.received").map((e) => `evt_acme_${e.seq}`);
      assert.ok(committed.length >= 100, `${committed.length} messages committed before the kill`);
      const deadline = Date.now() + 20000;
      let missing = committed;
      while (Date.now() < deadline) {
        const got = new Set(rx.got.map((e) => e.headers["webhook-id"]));
        missing = committed.filter((id) => !got.has(id));
        if (!missing.length) break;
        await sleep(100);
      }
      assert.deepEqual(missing, [], "every committed event was delivered");
      // The socket's sequence: what it saw before the kill, then the resume: every message once.
      const seenAfter = after.log.filter((e) => e.name === "message.received").map((e) => e.payload.seq);
      const journalSeqs = journal.filter((e) => e.event === "message.received").map((e) => e.seq);
      assert.deepEqual([...seenBefore, ...seenAfter], journalSeqs, "no gap, no duplicate across the kill");
      // A duplicate is the same message: same id, same body.
      const byId = new Map();
      for (const e of rx.got) {
        const seen = byId.get(e.headers["webhook-id"]);
        if (seen) assert.equal(seen, e.body, "a duplicate carries the same event");
        byId.set(e.headers["webhook-id"], e.body);
      }
      const secret = hook.secret;
      for (const e of rx.got.slice(0, 20)) new Webhook(secret).verify(e.body, e.headers);
    } finally {
      await rx.close();
      await gw.close();
    }
  });
});
