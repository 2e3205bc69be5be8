// Plugins seen from a real frontend: the shipped plugins are loaded by a plain start, an
// auth plugin shapes (or refuses) the handshake, client events and transforms speak the
// plugin's dialect, bots answer real messages, and a faulting plugin costs only its tenant.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readdirSync } from "node:fs";
import { ADMIN, Gateway, TRANSPORTS, record, emitWithAck, installPlugin, testPlugin, shippedPlugins, sleep } from "./lib/gateway.mjs";

test("a fresh start loads every plugin we ship", async () => {
  const gw = await Gateway.start({ WAGATE_PLUGINS__DIR: shippedPlugins() });
  try {
    const r = await gw.api("GET", "/api/v1/plugins", ADMIN);
    const names = r.body.filter((p) => p.status === "loaded").map((p) => p.name).sort();
    const shipped = readdirSync(shippedPlugins()).filter((n) => !n.startsWith(".")).sort();
    assert.ok(shipped.includes("auto-reply"));
    assert.deepEqual(names, shipped);
  } finally {
    await gw.close();
  }
});

let gw, acme, plain;
before(async () => {
  gw = await Gateway.start({ WAGATE_PLUGINS__BREAKER_COOLDOWN_MS: "60000" });
  installPlugin(testPlugin("relay"), join(gw.dataDir, "plugins"));
  installPlugin(testPlugin("faulty"), join(gw.dataDir, "plugins"));
  installPlugin(join(shippedPlugins(), "auto-reply"), join(gw.dataDir, "plugins"));
  for (const name of ["relay", "faulty", "auto-reply"]) {
    const r = await gw.api("POST", `/api/v1/plugins/${name}/reload`, ADMIN);
    assert.ok(["loaded", "unchanged"].includes(r.body.outcome), JSON.stringify(r.body));
  }
  acme = await gw.tenant("acme");
  plain = await gw.tenant("plain");
  const bound = await gw.api("PUT", "/api/v1/tenant/plugins/relay", acme.apiKey, { config: { label: "e2e" } });
  assert.equal(bound.status, 200, JSON.stringify(bound.body));
});
after(() => gw.close());

for (const transports of TRANSPORTS) {
  const t = transports[0];
  describe(`plugins over ${t}`, () => {
    test("auth plugin shapes the identity, or refuses with its own message", async () => {
      const token = await gw.token(acme, "u1", { userId: "user-42", room: "vip" });
      const s = await gw.connect({ transports, auth: { token } });
      const hello = await s.log.waitFor("relay:hello");
      assert.deepEqual(hello, { user: "user-42", roles: ["relayed"], label: "e2e" });
      const blocked = await gw.token(acme, "u2", { blocked: true });
      const err = await gw.connect({ transports, auth: { token: blocked } }).then(() => null, (e) => e);
      assert.equal(err.message, "blocked by relay");
    });

    test("client events: echo, rooms, kv state", async () => {
      const token = await gw.token(acme, "u1", { room: "vip" });
      const a = await gw.connect({ transports, auth: { token } });
      const b = await gw.connect({ transports, auth: { token: await gw.token(acme, "u2") } });
      const la = record(a);
      const lb = record(b);
      a.emit("relay:echo", { hi: 1 });
      assert.deepEqual((await la.waitFor("relay:echoed")).payload, { hi: 1 });
      // a joined "vip" at connect (from its claims); b joins "lobby" on request.
      b.emit("relay:join", "lobby");
      await sleep(50);
      a.emit("relay:room", { room: "lobby", text: "to lobby" });
      b.emit("relay:room", { room: "vip", text: "to vip" });
      assert.equal(await lb.waitFor("relay:said", (p) => p === "to lobby"), "to lobby");
      assert.equal(await la.waitFor("relay:said", (p) => p === "to vip"), "to vip");
      assert.equal(la.filter((e) => e.name === "relay:said" && e.payload === "to lobby").length, 0);
      a.emit("relay:count");
      const c1 = (await la.waitFor("relay:counted")).count;
      a.emit("relay:count");
      assert.equal((await la.waitFor("relay:counted", (p) => p.count === c1 + 1)).count, c1 + 1);
      // Canonical client events keep working beside the plugin's.
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: `p-${t}` });
      assert.deepEqual(await emitWithAck(a, "session.subscribe", `p-${t}`), { ok: true, sessionId: `p-${t}` });
    });

    test("transform: the tenant's sockets get the plugin's dialect, other tenants the canonical one", async () => {
      const id = `tr-${t}`;
      const s = await gw.connect({ transports, auth: { token: await gw.token(acme) } });
      const log = record(s);
      const other = await gw.connect({ transports, auth: { token: await gw.token(plain) } });
      const otherLog = record(other);
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id });
      await gw.api("POST", "/api/v1/sessions", plain.apiKey, { id });
      await emitWithAck(s, "session.subscribe", id);
      await gw.api("POST", `/api/v1/sessions/${id}/connect`, acme.apiKey);
      const st = await log.waitFor("relay:session.status", (p) => p.original.sessionId === id && p.original.status === "QR_REQUIRED");
      assert.equal(st.label, "e2e");
      assert.equal(st.original.previousStatus, "INIT");
      const qr = await log.waitFor("relay:session.qr", (p) => p.original.sessionId === id);
      assert.match(qr.original.dataUrl, /^data:image\/png;base64,/);
      assert.equal(log.filter((e) => e.name === "session.status").length, 0, "no canonical events once a transform is bound");
      assert.equal((await otherLog.waitFor("session.status", (p) => p.sessionId === id)).status, "INIT");
      assert.equal(otherLog.filter((e) => e.name.startsWith("relay:")).length, 0);
    });
  });
}

test("a socket connected before its tenant bound a client-event plugin: unknown events, then the plugin's", async () => {
  const late = await gw.tenant("late");
  const s = await gw.connect({ transports: ["websocket"], auth: { token: await gw.token(late) } });
  s.emit("relay:echo", { n: 1 });
  const err = await s.log.waitFor("error", (p) => p.event === "relay:echo");
  assert.equal(err.code, "unknown_event");
  const bound = await gw.api("PUT", "/api/v1/tenant/plugins/relay", late.apiKey, { config: { label: "late" } });
  assert.equal(bound.status, 200, JSON.stringify(bound.body));
  // In the order sent, through the worker the first of them started.
  for (let n = 2; n <= 4; n++) s.emit("relay:echo", { n });
  for (let n = 2; n <= 4; n++) await s.log.waitFor("relay:echoed", (p) => p.payload.n === n);
  const echoed = s.log.filter((e) => e.name === "relay:echoed").map((e) => e.payload.payload.n);
  assert.deepEqual(echoed, [2, 3, 4]);
  await gw.api("DELETE", "/api/v1/tenant/plugins/relay", late.apiKey);
});

test("a burst through a transform plugin arrives once per event, in commit order", async () => {
  // The fan-out hands queued events of a tenant to the plugin together (transform-batch).
  const id = "burst";
  await gw.connectedSession(acme, id);
  const s = await gw.connect({ auth: { token: await gw.token(acme) } });
  const log = record(s);
  await emitWithAck(s, "session.subscribe", id);
  const n = 60;
  const sent = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      gw.api("POST", `/api/v1/sim/sessions/${id}/inbound`, acme.apiKey, { from: "+628123450000", text: `burst ${i}` }),
    ),
  );
  sent.forEach((r) => assert.equal(r.status, 202, JSON.stringify(r.body)));
  for (let i = 0; i < n; i++) {
    await log.waitFor("relay:message.received", (p) => p.original.message.content === `burst ${i}`);
  }
  await sleep(200);
  const received = log.filter((e) => e.name === "relay:message.received").map((e) => e.payload);
  assert.equal(received.length, n, "each message once");
  assert.equal(new Set(received.map((p) => p.original.message.content)).size, n);
  // relay:hello is the $connect greeting (no seq); it may land after `record` began.
  const seqs = log.filter((e) => e.name.startsWith("relay:") && e.name !== "relay:hello").map((e) => e.payload.seq);
  seqs.slice(1).forEach((seq, i) => assert.ok(seq > seqs[i], `seq ${seq} after ${seqs[i]}: out of commit order`));
  assert.equal(log.filter((e) => e.name === "message.received").length, 0, "nothing fell back to canonical");
});

test("a bot answers a real inbound message", async () => {
  const r = await gw.api("PUT", "/api/v1/tenant/plugins/auto-reply", plain.apiKey, {
    config: { rules: [{ contains: "price", reply: "Prices: example.com/p" }] },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const bad = await gw.api("PUT", "/api/v1/tenant/plugins/auto-reply", plain.apiKey, { config: { rules: [] } });
  assert.equal(bad.status, 422);
  assert.equal(bad.body.error.message, "auto-reply needs at least one rule or a fallback");
  await gw.connectedSession(plain, "bot");
  const s = await gw.connect({ auth: { token: await gw.token(plain) } });
  const log = record(s);
  await emitWithAck(s, "session.subscribe", "bot");
  await gw.api("POST", "/api/v1/sim/sessions/bot/inbound", plain.apiKey, { from: "+628123456789", text: "what is the PRICE?" });
  const sent = await log.waitFor("message.sent", (p) => p.message.content === "Prices: example.com/p");
  assert.equal(sent.chat.jid, "628123456789@s.whatsapp.net");
  await log.waitFor("message.status", (p) => p.messageId === sent.message.id && p.status === "DELIVERED");
  await gw.api("POST", "/api/v1/sim/sessions/bot/inbound", plain.apiKey, { from: "+628123456789", text: "thanks" });
  await log.waitFor("message.received", (p) => p.message.content === "thanks");
  await sleep(200);
  assert.equal(log.filter((e) => e.name === "message.sent").length, 1, "no rule matched: no answer");

  // quote: the answer is queued through the `messages` interface and replies to the question.
  const q = await gw.api("PUT", "/api/v1/tenant/plugins/auto-reply", plain.apiKey, {
    config: { rules: [{ contains: "hours", reply: "9 to 5" }], quote: true },
  });
  assert.equal(q.status, 200, JSON.stringify(q.body));
  await gw.api("POST", "/api/v1/sim/sessions/bot/inbound", plain.apiKey, { from: "+628123456789", text: "opening hours?" });
  const asked = await log.waitFor("message.received", (p) => p.message.content === "opening hours?");
  const quoted = await log.waitFor("message.sent", (p) => p.message.content === "9 to 5");
  assert.equal(quoted.message.quoted.messageId, asked.message.id);
  await log.waitFor("message.status", (p) => p.messageId === quoted.message.id && p.status === "READ");

  // A regex rule's groups and the contact's name fill the answer; accents and case are
  // ignored by the keyword matchers; a rule that cannot work is refused with its place.
  const refused = await gw.api("PUT", "/api/v1/tenant/plugins/auto-reply", plain.apiKey, {
    config: { rules: [{ contains: "x", reply: "ok" }, { regex: "order (\\d+", reply: "x" }] },
  });
  assert.equal(refused.status, 422);
  assert.match(refused.body.error.message, /^invalid config at 'rules\[1\]': 'regex' does not compile/);
  const t = await gw.api("PUT", "/api/v1/tenant/plugins/auto-reply", plain.apiKey, {
    config: { rules: [
      { regex: "order\\s+#?(?P<order>\\d+)", reply: "Order {order} for {name}, on {session}" },
      { anyOf: ["horário", "menu"], reply: "See {{menu}}" },
    ] },
  });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  await gw.api("POST", "/api/v1/sim/sessions/bot/inbound", plain.apiKey, { from: "+628123456789", name: "Rina", text: "where is ORDER #4711?" });
  await log.waitFor("message.sent", (p) => p.message.content === "Order 4711 for Rina, on bot");
  await gw.api("POST", "/api/v1/sim/sessions/bot/inbound", plain.apiKey, { from: "+628123456789", text: "qual o HORARIO?" });
  await log.waitFor("message.sent", (p) => p.message.content === "See {menu}");

  // A new contact is welcomed once; a rule's cooldown holds its second answer back.
  const w = await gw.api("PUT", "/api/v1/tenant/plugins/auto-reply", plain.apiKey, {
    config: { welcome: "Welcome, {name}!", rules: [{ contains: "price", reply: "P", cooldownSecs: 600 }] },
  });
  assert.equal(w.status, 200, JSON.stringify(w.body));
  const newcomer = { from: "+628555000111", name: "Budi" };
  await gw.api("POST", "/api/v1/sim/sessions/bot/inbound", plain.apiKey, { ...newcomer, text: "price?" });
  await log.waitFor("message.sent", (p) => p.message.content === "Welcome, Budi!");
  await log.waitFor("message.sent", (p) => p.message.content === "P");
  await gw.api("POST", "/api/v1/sim/sessions/bot/inbound", plain.apiKey, { ...newcomer, text: "price again?" });
  await log.waitFor("message.received", (p) => p.message.content === "price again?");
  await sleep(300);
  const toBudi = log.filter((e) => e.name === "message.sent" && e.payload.chat.jid === "628555000111@s.whatsapp.net");
  assert.deepEqual(toBudi.map((e) => e.payload.message.content), ["Welcome, Budi!", "P"], "no second welcome, the rule cools down");
  // The cooldown is kept in the plugin's state: a reload keeps it; once the clock plugins read
  // is past it, the rule answers again.
  const reloaded = await gw.api("POST", "/api/v1/plugins/auto-reply/reload", ADMIN);
  assert.equal(reloaded.status, 200, JSON.stringify(reloaded.body));
  await gw.api("POST", "/api/v1/sim/sessions/bot/inbound", plain.apiKey, { ...newcomer, text: "price, after the reload?" });
  await log.waitFor("message.received", (p) => p.message.content === "price, after the reload?");
  await sleep(300);
  const budiAnswers = () => log.filter((e) => e.name === "message.sent" && e.payload.chat.jid === "628555000111@s.whatsapp.net").length;
  assert.equal(budiAnswers(), 2, "the cooldown outlives the reload");
  const later = await gw.api("POST", "/api/v1/sim/clock", ADMIN, { advanceMs: 601_000 });
  assert.equal(later.status, 200, JSON.stringify(later.body));
  try {
    await gw.api("POST", "/api/v1/sim/sessions/bot/inbound", plain.apiKey, { ...newcomer, text: "price, ten minutes on?" });
    await log.waitFor("message.received", (p) => p.message.content === "price, ten minutes on?");
    await log.waitFor("message.sent", () => budiAnswers() === 3);
  } finally {
    await gw.api("POST", "/api/v1/sim/clock", ADMIN, { advanceMs: -601_000 });
  }

  // Outside business hours the away message stands in for the fallback, once an hour; the
  // test moves the clock plugins read to 20:00 UTC, then to 10:00 the next day.
  const a = await gw.api("PUT", "/api/v1/tenant/plugins/auto-reply", plain.apiKey, {
    config: {
      rules: [{ contains: "price", reply: "P" }],
      fallback: "F",
      away: { timeZone: "UTC", message: "Closed, {name}",
        hours: Object.fromEntries(["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((d) => [d, ["09:00-17:00"]])) },
    },
  });
  assert.equal(a.status, 200, JSON.stringify(a.body));
  const clock = (advanceMs) => gw.api("POST", "/api/v1/sim/clock", ADMIN, { advanceMs });
  const day = 24 * 3600 * 1000;
  const now = (await clock(0)).body.nowMs;
  let evening = Math.floor(now / day) * day + 20 * 3600 * 1000;
  if (evening <= now) evening += day;
  let moved = 0;
  try {
    moved = (await clock(evening - now)).body.offsetMs;
    const sari = { from: "+628777000222", name: "Sari" };
    const toSari = () => log.filter((e) => e.name === "message.sent" && e.payload.chat.jid === "628777000222@s.whatsapp.net");
    await gw.api("POST", "/api/v1/sim/sessions/bot/inbound", plain.apiKey, { ...sari, text: "hello" });
    await log.waitFor("message.sent", (p) => p.message.content === "Closed, Sari");
    await gw.api("POST", "/api/v1/sim/sessions/bot/inbound", plain.apiKey, { ...sari, text: "hello?" });
    await log.waitFor("message.received", (p) => p.message.content === "hello?");
    await gw.api("POST", "/api/v1/sim/sessions/bot/inbound", plain.apiKey, { ...sari, text: "price" });
    await log.waitFor("message.sent", (p) => p.message.content === "P" && p.chat.jid === "628777000222@s.whatsapp.net");
    assert.deepEqual(toSari().map((e) => e.payload.message.content), ["Closed, Sari", "P"], "one away message an hour; rules still answer");
    moved = (await clock(14 * 3600 * 1000)).body.offsetMs;
    await gw.api("POST", "/api/v1/sim/sessions/bot/inbound", plain.apiKey, { ...sari, text: "hello again" });
    await log.waitFor("message.sent", (p) => p.message.content === "F" && p.chat.jid === "628777000222@s.whatsapp.net");
  } finally {
    await clock(-moved);
  }
});

test("a faulting plugin costs only its own tenant", async () => {
  const victim = await gw.tenant("victim");
  const bomb = await gw.tenant("bomb");
  const r = await gw.api("PUT", "/api/v1/tenant/plugins/faulty", bomb.apiKey, { config: { mode: "loop" } });
  assert.equal(r.status, 200);
  const vs = await gw.connect({ auth: { token: await gw.token(victim) } });
  const bs = await gw.connect({ auth: { token: await gw.token(bomb) } });
  const vlog = record(vs);
  const blog = record(bs);
  for (let i = 0; i < 6; i++) {
    await gw.api("POST", "/api/v1/sessions", victim.apiKey, { id: `v${i}` });
    await gw.api("POST", "/api/v1/sessions", bomb.apiKey, { id: `b${i}` });
  }
  for (let i = 0; i < 6; i++) {
    await vlog.waitFor("session.status", (p) => p.sessionId === `v${i}`);
    // onError passthrough: the faulting tenant still gets canonical events.
    await blog.waitFor("session.status", (p) => p.sessionId === `b${i}`);
  }
  assert.equal(blog.filter((e) => e.name === "faulty:leak" || e.name.startsWith("faulty:")).length, 0);
  const views = await gw.api("GET", "/api/v1/tenant/plugins", bomb.apiKey);
  assert.equal(views.body[0].breaker.state, "open");
  assert.match(views.body[0].breaker.lastFault, /deadline exceeded/);
  const info = await gw.api("GET", "/api/v1/plugins/faulty", ADMIN);
  // One breaker per binding: `$connect` (client-events) and transforms count together.
  const errors = Object.values(info.body.calls).reduce((n, h) => n + h.errors, 0);
  assert.ok(errors >= 5, JSON.stringify(info.body));
  assert.equal((await gw.api("GET", "/healthz")).status, 200);
});

test("plugin events of another tenant never arrive", async () => {
  const s = await gw.connect({ auth: { token: await gw.token(plain) } });
  const log = record(s);
  const a = await gw.connect({ auth: { token: await gw.token(acme, "u1", { room: "vip" }) } });
  a.emit("relay:room", { room: "vip", text: "acme only" });
  a.emit("relay:room", { room: "t/plain", text: "escape attempt" });
  await sleep(300);
  assert.deepEqual(log.filter((e) => e.name.startsWith("relay:")), []);
  const rooms = await gw.api("GET", "/api/v1/tenant/plugins", acme.apiKey);
  assert.match(rooms.body[0].breaker.lastFault ?? "", /outside the plugin's namespace/);
});

test("a bot steps back where a person wrote, and never answers another session's bot", async () => {
  const t = await gw.tenant("takeover");
  await gw.connectedSession(t, "s1", "+15550700001");
  await gw.connectedSession(t, "s2", "+15550700002");
  const bound = await gw.api("PUT", "/api/v1/tenant/plugins/auto-reply", t.apiKey, {
    enabled: true,
    config: { fallback: "Bot here", takeoverMins: 5 },
  });
  assert.equal(bound.status, 200, JSON.stringify(bound.body));
  const contact = "+15550709999";
  const sent = async (session) =>
    (await gw.api("GET", `/api/v1/sim/sessions/${session}/network`, t.apiKey)).body.filter((r) => r.op === "message");
  const inbound = (session, body) => gw.api("POST", `/api/v1/sim/sessions/${session}/inbound`, t.apiKey, body);
  const waitSent = async (session, n) => {
    for (let i = 0; i < 200 && (await sent(session)).length < n; i++) await sleep(20);
    return sent(session);
  };

  assert.equal((await inbound("s1", { from: contact, text: "hi" })).status, 202);
  const [answer] = await waitSent("s1", 1);
  assert.equal(answer.text, "Bot here");
  const stored = await gw.api("GET", `/api/v1/sessions/s1/chats`, t.apiKey);
  const chatId = stored.body.find((c) => c.jid.startsWith("15550709999")).id;
  const messages = async () => (await gw.api("GET", `/api/v1/sessions/s1/chats/${chatId}/messages`, t.apiKey)).body;
  assert.deepEqual((await messages()).find((m) => m.content === "Bot here").origin, { kind: "bot", plugin: "auto-reply" });

  // An agent answers through the API (a user's token): the bot steps back in that chat.
  const agent = await gw.token(t, "agent-7");
  const byAgent = await gw.api("POST", "/api/v1/sessions/s1/messages", agent, { to: contact, text: "Agent here" });
  assert.equal(byAgent.status, 202);
  assert.deepEqual(byAgent.body.origin, { kind: "api", user: "agent-7" });
  await waitSent("s1", 2);
  await inbound("s1", { from: contact, text: "thanks!" });
  await sleep(500);
  assert.deepEqual((await sent("s1")).map((r) => r.text), ["Bot here", "Agent here"], "held back");
  const elsewhere = "+15550708888";
  await inbound("s1", { from: elsewhere, text: "hello" });
  assert.equal((await waitSent("s1", 3)).at(-1).text, "Bot here", "other chats are still answered");
  // Five minutes later (the plugins' clock) the bot answers again.
  assert.equal((await gw.api("POST", "/api/v1/sim/clock", ADMIN, { advanceMs: 301_000 })).status, 200);
  try {
    await inbound("s1", { from: contact, text: "anyone?" });
    assert.equal((await waitSent("s1", 4)).at(-1).text, "Bot here");
  } finally {
    await gw.api("POST", "/api/v1/sim/clock", ADMIN, { advanceMs: -301_000 });
  }

  // s1's bot writes to s2's number: the message arrives at s2 under the same WhatsApp id, is
  // marked as a bot's, and s2's bot does not answer it; a person from s1's number is answered.
  const socket = await gw.connect({ auth: { token: await gw.token(t, "watcher") } });
  await emitWithAck(socket, "session.subscribe", "s2");
  const fromBot = await inbound("s2", { from: "+15550700001", text: "Bot here", waMessageId: answer.waMessageId });
  assert.equal(fromBot.status, 202);
  assert.equal(fromBot.body.waMessageId, answer.waMessageId);
  const got = await socket.log.waitFor("message.received", (p) => p.message.waMessageId === answer.waMessageId);
  assert.deepEqual(got.message.origin, { kind: "bot", plugin: "auto-reply" });
  await sleep(500);
  assert.equal((await sent("s2")).length, 0, "no answer to a bot");
  await inbound("s2", { from: "+15550700001", text: "a person now" });
  assert.equal((await waitSent("s2", 1))[0].text, "Bot here");
  const bad = await inbound("s2", { from: "+15550700001", text: "x", waMessageId: "not/valid" });
  assert.equal(bad.status, 422);
  assert.equal(bad.body.error.code, "invalid_wa_message_id");
});

test("a bot rule answers with a file the gateway fetches, its reply the caption", async () => {
  const { createServer } = await import("node:http");
  const { createHash } = await import("node:crypto");
  const png = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489", "hex");
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "image/png", "content-length": png.length });
    res.end(png);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const g = await Gateway.start({ WAGATE_MEDIA__FETCH__ALLOW: "127.0.0.1/32" });
  try {
    installPlugin(join(shippedPlugins(), "auto-reply"), join(g.dataDir, "plugins"));
    await g.api("POST", "/api/v1/plugins/auto-reply/reload", ADMIN);
    const t = await g.tenant("media-bot");
    await g.connectedSession(t, "shop");
    const url = `http://127.0.0.1:${server.address().port}/menu.png`;
    const bound = await g.api("PUT", "/api/v1/tenant/plugins/auto-reply", t.apiKey, {
      enabled: true,
      config: { rules: [{ contains: "menu", reply: "Our menu, {name}", media: { type: "image", url } }] },
    });
    assert.equal(bound.status, 200, JSON.stringify(bound.body));
    const refused = await g.api("PUT", "/api/v1/tenant/plugins/auto-reply", t.apiKey, {
      enabled: true,
      config: { rules: [{ contains: "hi", reply: "x", media: { type: "sticker", url } }] },
    });
    assert.equal(refused.status, 422);
    assert.match(refused.body.error.message, /no caption on audio, voice notes or stickers/);
    await g.api("POST", "/api/v1/sim/sessions/shop/inbound", t.apiKey, { from: "+15550801234", name: "Ana", text: "the MENU?" });
    let sent = [];
    for (let i = 0; i < 200 && sent.length === 0; i++) {
      sent = (await g.api("GET", "/api/v1/sim/sessions/shop/network", t.apiKey)).body.filter((r) => r.op === "message");
      await sleep(20);
    }
    assert.equal(sent.length, 1);
    assert.equal(sent[0].type, "image");
    assert.equal(sent[0].text, "Our menu, Ana");
    assert.equal(sent[0].media.sha256, createHash("sha256").update(png).digest("hex"));
  } finally {
    await g.close();
    server.close();
  }
});

test("bots on two numbers that write to each other stop: at once within a tenant, at the per-minute cap across tenants", async () => {
  const bot = { fallback: "Auto: got it", takeoverMins: 0, maxRepliesPerMinute: 3 };
  const texts = async (g, t, session) =>
    (await g.api("GET", `/api/v1/sim/sessions/${session}/network`, t.apiKey)).body.filter((r) => r.op === "message").map((r) => r.text);
  /** Waits until the two sessions' sends stop growing, and returns them. */
  async function settled(a, b) {
    let last = "";
    for (let i = 0; i < 100; i++) {
      await sleep(300);
      const now = JSON.stringify([await texts(...a), await texts(...b)]);
      if (now === last) return JSON.parse(now);
      last = now;
    }
    throw new Error("the sessions kept writing to each other");
  }

  // One tenant: the second session's bot answers a person; the first session sees a message
  // its tenant's bot wrote (by its WhatsApp id) and does not answer it.
  const one = await gw.tenant("two-bots");
  await gw.connectedSession(one, "a", "+15550900001");
  await gw.connectedSession(one, "b", "+15550900002");
  assert.equal((await gw.api("PUT", "/api/v1/tenant/plugins/auto-reply", one.apiKey, { enabled: true, config: bot })).status, 200);
  const hello = await gw.api("POST", "/api/v1/sessions/a/messages", one.apiKey, { to: "+15550900002", text: "hello b" });
  assert.equal(hello.status, 202);
  const [fromA, fromB] = await settled([gw, one, "a"], [gw, one, "b"]);
  assert.deepEqual(fromA, ["hello b"]);
  assert.deepEqual(fromB, ["Auto: got it"]);
  const history = async (session) => {
    const [chat] = (await gw.api("GET", `/api/v1/sessions/${session}/chats`, one.apiKey)).body;
    return (await gw.api("GET", `/api/v1/sessions/${session}/chats/${chat.id}/messages`, one.apiKey)).body;
  };
  const sentByA = (await gw.api("GET", "/api/v1/sim/sessions/a/network", one.apiKey)).body.find((r) => r.op === "message");
  const atB = (await history("b")).find((m) => m.content === "hello b");
  assert.equal(atB.waMessageId, sentByA.waMessageId, "delivered under the id it was sent with");
  assert.equal(atB.origin, undefined, "a person's message");
  const atA = (await history("a")).find((m) => m.direction === "inbound");
  assert.deepEqual([atA.content, atA.origin], ["Auto: got it", { kind: "bot", plugin: "auto-reply" }]);

  // Two tenants: neither knows the other's bot, so they answer each other until each reaches
  // its answers per minute.
  const x = await gw.tenant("bot-x");
  const y = await gw.tenant("bot-y");
  await gw.connectedSession(x, "x", "+15550900011");
  await gw.connectedSession(y, "y", "+15550900012");
  for (const t of [x, y]) {
    assert.equal((await gw.api("PUT", "/api/v1/tenant/plugins/auto-reply", t.apiKey, { enabled: true, config: bot })).status, 200);
  }
  assert.equal((await gw.api("POST", "/api/v1/sessions/x/messages", x.apiKey, { to: "+15550900012", text: "ping" })).status, 202);
  const [xs, ys] = await settled([gw, x, "x"], [gw, y, "y"]);
  assert.deepEqual(xs, ["ping", "Auto: got it", "Auto: got it", "Auto: got it"]);
  assert.deepEqual(ys, ["Auto: got it", "Auto: got it", "Auto: got it"]);
});
