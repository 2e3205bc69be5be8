// The send queue against the real binary and the simulated network: the rate it is set to
// holds over 200 messages, a chat waits for its spacing without holding the others up,
// humanlike typing shows before each message, the warm-up cap holds a new number back, a full
// queue answers 429 (and a bot's reply is dropped and counted), and a kill -9 in the middle
// loses nothing and sends nothing twice.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ADMIN, Gateway, emitWithAck, installPlugin, shippedPlugins, sleep } from "./lib/gateway.mjs";

let gw, acme;
before(async () => {
  gw = await Gateway.start();
  installPlugin(join(shippedPlugins(), "auto-reply"), join(gw.dataDir, "plugins"));
  const r = await gw.api("POST", "/api/v1/plugins/auto-reply/reload", ADMIN);
  assert.ok(["loaded", "unchanged"].includes(r.body.outcome), JSON.stringify(r.body));
  acme = await gw.tenant("acme");
});
after(() => gw.close());

const send = (session, to, text, key = acme.apiKey) =>
  gw.api("POST", `/api/v1/sessions/${session}/messages`, key, { to, text });
const queue = (session) => gw.api("GET", `/api/v1/sessions/${session}/queue`, acme.apiKey);
const setPolicy = async (session, policy) => {
  const r = await gw.api("PUT", `/api/v1/sessions/${session}/queue`, acme.apiKey, policy);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
};
const network = async (session) => (await gw.api("GET", `/api/v1/sim/sessions/${session}/network`, acme.apiKey)).body;
const sentMessages = async (session) => (await network(session)).filter((r) => r.op === "message");

/** Polls `probe` until it returns something truthy. */
async function until(probe, timeout, what) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function metric(name, labels) {
  const text = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
  const line = text.split("\n").find((l) => l.startsWith(name) && labels.every((x) => l.includes(x)));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

test("policies are checked, kept per session, and shown with the queue", async () => {
  await gw.connectedSession(acme, "policy");
  let q = await queue("policy");
  assert.equal(q.status, 200);
  assert.equal(q.body.policySource, "default");
  assert.deepEqual(q.body.policy, {
    perMinute: 0, perRecipientSecs: 0, jitterMs: 0, humanlike: false, humanlikeMsPerChar: 50, warmUp: null, maxDepth: 1000,
  });
  assert.equal(q.body.depth, 0);
  assert.equal(q.body.waitingFor, null);
  assert.equal(typeof q.body.linkedAt, "string");
  const bad = await gw.api("PUT", "/api/v1/sessions/policy/queue", acme.apiKey, { perMinute: 100000 });
  assert.equal(bad.status, 422);
  assert.equal(bad.body.error.code, "invalid_send_policy");
  assert.equal(bad.body.error.message, "invalid send policy: perMinute must be 0 to 6000");
  const unknown = await gw.api("PUT", "/api/v1/sessions/policy/queue", acme.apiKey, { perSecond: 3 });
  assert.equal(unknown.status, 422);
  assert.match(unknown.body.error.message, /perSecond/);
  const missing = await gw.api("PUT", "/api/v1/sessions/nope/queue", acme.apiKey, { perMinute: 3 });
  assert.equal(missing.status, 404);
  const set = await setPolicy("policy", { perMinute: 30, jitterMs: 500 });
  assert.equal(set.policySource, "session");
  assert.equal(set.policy.perMinute, 30);
  assert.equal(set.policy.maxDepth, 1000, "a field left out takes its default");
  const user = await gw.token(acme, "agent");
  assert.equal((await gw.api("GET", "/api/v1/sessions/policy/queue", user)).status, 200);
  const refused = await gw.api("PUT", "/api/v1/sessions/policy/queue", user, { perMinute: 0 });
  assert.equal(refused.status, 403, "only the tenant's administrators set the policy");
  const reset = await gw.api("DELETE", "/api/v1/sessions/policy/queue", acme.apiKey);
  assert.equal(reset.body.policySource, "default");
  const audit = await gw.api("GET", "/api/v1/tenant/audit", acme.apiKey);
  assert.ok(audit.body.entries.some((e) => e.action === "session.send_policy_changed" && e.target === "policy"));
});

test("the queue holds its rate over 200 messages, in order per chat, each sent once", async () => {
  await gw.connectedSession(acme, "rate");
  await setPolicy("rate", { perMinute: 1200 });
  const socket = await gw.connect({ auth: { token: await gw.token(acme, "watcher") } });
  await emitWithAck(socket, "session.subscribe", "rate");
  const seen = new Map();
  const collect = async () => {
    for (const r of await sentMessages("rate")) seen.set(r.waMessageId, r);
  };
  const to = (i) => `+1555010000${i % 4}`;
  const accepted = [];
  for (let i = 0; i < 200; i++) {
    const r = await send("rate", to(i), `paced ${i}`);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    accepted.push(r.body);
  }
  const mid = await queue("rate");
  assert.ok(mid.body.depth > 0, JSON.stringify(mid.body));
  assert.equal(mid.body.waitingFor, "rate");
  assert.ok(Date.parse(mid.body.nextSendAt) - Date.now() < 1000, "the next one is due within the interval");
  assert.ok(Date.parse(mid.body.oldestQueuedAt) <= Date.now());
  await until(async () => {
    await collect();
    return seen.size >= 200;
  }, 30000, "200 messages on the network");
  const records = [...seen.values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  assert.equal(records.length, 200, "each message went once");
  const span = Date.parse(records.at(-1).at) - Date.parse(records[0].at);
  const gaps = records.slice(1).map((r, i) => Date.parse(r.at) - Date.parse(records[i].at));
  const perMinute = (199 * 60000) / span;
  console.log(`# send queue at 1200/min: 200 messages in ${span} ms = ${perMinute.toFixed(0)}/min, smallest gap ${Math.min(...gaps)} ms`);
  assert.ok(perMinute <= 1200 * 1.02 && perMinute >= 1200 * 0.93, `measured ${perMinute}/min`);
  // A message let go late counts from its time, so the next may follow sooner, but never
  // closer than half the interval (less what the network's clock adds on a busy machine).
  assert.ok(Math.min(...gaps) >= 20, `no burst: smallest gap ${Math.min(...gaps)} ms`);
  for (let c = 0; c < 4; c++) {
    const texts = records.filter((r) => r.to.startsWith(to(c).slice(1))).map((r) => Number(r.text.split(" ")[1]));
    assert.deepEqual(texts, [...texts].sort((a, b) => a - b), `chat ${c} in order`);
  }
  const done = await until(async () => {
    const q = await queue("rate");
    return q.body.depth === 0 && q.body;
  }, 3000, "an empty queue");
  assert.equal(done.waitingFor, null);
  assert.equal(done.sentLastMinute, 200);
  // The sockets saw it wait and drain, at most about once a second.
  const announced = socket.log.filter((e) => e.name === "session.queue").map((e) => e.payload);
  assert.ok(announced.length >= 3 && announced.length <= 20, `${announced.length} session.queue events`);
  assert.equal(announced[0].waitingFor, "rate");
  const last = await socket.log.waitFor("session.queue", (p) => p.depth === 0 && p.waitingFor === null);
  assert.equal(last.sessionId, "rate");
  await until(async () => {
    const m = await gw.api("GET", `/api/v1/sessions/rate/messages/${accepted[199].id}`, acme.apiKey);
    return ["SENT", "DELIVERED", "READ"].includes(m.body.status);
  }, 3000, "the last message SENT");
});

test("a chat waits for its spacing without holding the other chats up", async () => {
  await gw.connectedSession(acme, "spacing");
  await setPolicy("spacing", { perRecipientSecs: 2 });
  for (const [to, text] of [["+15550200001", "a1"], ["+15550200001", "a2"], ["+15550200002", "b1"]]) {
    assert.equal((await send("spacing", to, text)).status, 202);
  }
  await sleep(300);
  const q = await queue("spacing");
  assert.equal(q.body.depth, 1);
  assert.equal(q.body.waitingFor, "recipient");
  const records = await until(async () => {
    const m = await sentMessages("spacing");
    return m.length === 3 && m;
  }, 5000, "three messages");
  assert.deepEqual(records.map((r) => r.text), ["a1", "b1", "a2"]);
  const at = Object.fromEntries(records.map((r) => [r.text, Date.parse(r.at)]));
  assert.ok(at.b1 - at.a1 < 500, "the other chat did not wait");
  assert.ok(at.a2 - at.a1 >= 1950, `a2 came ${at.a2 - at.a1} ms after a1`);
});

test("humanlike: typing shows before each message, for a time that grows with its text", async () => {
  await gw.connectedSession(acme, "human");
  await setPolicy("human", { humanlike: true, humanlikeMsPerChar: 100 });
  assert.equal((await send("human", "+15550300001", "hello there, world")).status, 202);
  await sleep(300);
  assert.equal((await queue("human")).body.waitingFor, "typing");
  const records = await until(async () => {
    const n = await network("human");
    return n.some((r) => r.op === "message") && n;
  }, 5000, "the message");
  const typing = records.find((r) => r.op === "chatState");
  const message = records.find((r) => r.op === "message");
  assert.equal(typing.state, "composing");
  assert.equal(typing.chat, message.to);
  const shown = Date.parse(message.at) - Date.parse(typing.at);
  assert.ok(shown >= 1750 && shown < 3000, `typing showed ${shown} ms for 18 characters at 100 ms each`);
});

test("the warm-up cap holds a newly linked number back, and a new policy applies to the next message", async () => {
  await gw.connectedSession(acme, "warm");
  await setPolicy("warm", { warmUp: { days: 7, perDay: 3 } });
  for (let i = 0; i < 5; i++) assert.equal((await send("warm", "+15550400001", `w${i}`)).status, 202);
  await until(async () => (await sentMessages("warm")).length === 3, 3000, "three messages");
  await sleep(300);
  assert.equal((await sentMessages("warm")).length, 3, "the cap holds the rest");
  const q = (await queue("warm")).body;
  assert.equal(q.depth, 2);
  assert.equal(q.waitingFor, "warm_up");
  assert.equal(q.sentLastDay, 3);
  const day = 24 * 3600 * 1000;
  assert.ok(Math.abs(Date.parse(q.nextSendAt) - Date.now() - day) < 60000, `next at ${q.nextSendAt}`);
  assert.ok(Math.abs(Date.parse(q.warmUpUntil) - Date.parse(q.linkedAt) - 7 * day) < 1000);
  await setPolicy("warm", { warmUp: { days: 7, perDay: 5 } });
  await until(async () => (await sentMessages("warm")).length === 5, 3000, "the last two");
});

test("a full queue answers 429 with Retry-After; a bot's reply to it is dropped and counted", async () => {
  await gw.connectedSession(acme, "full");
  await setPolicy("full", { perMinute: 6, maxDepth: 3 });
  // The first goes at once; then three wait, and the rest are refused.
  assert.equal((await send("full", "+15550500001", "first")).status, 202);
  await until(async () => (await sentMessages("full")).length === 1, 3000, "the first message");
  const statuses = [];
  let refusal;
  for (let i = 0; i < 5; i++) {
    const r = await send("full", "+15550500001", `f${i}`);
    statuses.push(r.status);
    if (r.status === 429) refusal ??= r;
  }
  assert.deepEqual(statuses, [202, 202, 202, 429, 429]);
  assert.equal(refusal.body.error.code, "send_queue_full");
  assert.match(refusal.body.error.message, /3 messages waiting/);
  const retry = Number(refusal.headers.get("retry-after"));
  assert.ok(retry >= 1 && retry <= 10, `Retry-After ${retry}`);
  assert.equal(await metric("wagate_send_queue_refused_total", ['source="api"', 'reason="queue_full"']), 2);
  const bound = await gw.api("PUT", "/api/v1/tenant/plugins/auto-reply", acme.apiKey, {
    enabled: true,
    config: { fallback: "We will get back to you", sessions: ["full"] },
  });
  assert.equal(bound.status, 200, JSON.stringify(bound.body));
  const inbound = await gw.api("POST", "/api/v1/sim/sessions/full/inbound", acme.apiKey, { from: "+15550500002", text: "hello?" });
  assert.equal(inbound.status, 202);
  await until(
    async () => (await metric("wagate_send_queue_refused_total", ['source="plugin"', 'reason="queue_full"'])) === 1,
    5000,
    "the bot's dropped reply counted",
  );
  assert.equal((await queue("full")).body.depth, 3, "nothing was queued past the cap");
  await gw.api("DELETE", "/api/v1/tenant/plugins/auto-reply", acme.apiKey);
});

test("kill -9 in the middle of a paced queue: what was accepted goes out once, at the same pace", async () => {
  const g = await Gateway.start();
  try {
    const t = await g.tenant("crash");
    await g.connectedSession(t, "q");
    const put = await g.api("PUT", "/api/v1/sessions/q/queue", t.apiKey, { perMinute: 600 });
    assert.equal(put.status, 200);
    for (let i = 0; i < 40; i++) {
      const r = await g.api("POST", "/api/v1/sessions/q/messages", t.apiKey, { to: "+15550600001", text: `k${i}` });
      assert.equal(r.status, 202);
    }
    const net = async () => (await g.api("GET", "/api/v1/sim/sessions/q/network", t.apiKey)).body.filter((r) => r.op === "message");
    await until(async () => (await net()).length >= 10, 5000, "ten sent");
    await g.kill();
    // The simulated phone is slow to come back, so what the store held at the crash is read
    // before the queue moves again.
    g.env.WAGATE_SIM__CONNECT_DELAY_MS = "1500";
    await g.launch();
    const list = async () => (await g.api("GET", "/api/v1/sessions/q/chats", t.apiKey)).body;
    const chat = (await list())[0];
    const stored = (await g.api("GET", `/api/v1/sessions/q/chats/${chat.id}/messages?limit=100`, t.apiKey)).body;
    assert.equal(stored.length, 40, "every accepted message is kept");
    const pending = new Set(stored.filter((m) => m.waMessageId === null).map((m) => m.id));
    assert.ok(pending.size > 0 && pending.size < 40, `${pending.size} still queued at the crash`);
    assert.equal((await g.api("GET", "/api/v1/sessions/q/queue", t.apiKey)).body.policy.perMinute, 600);
    await g.waitStatus(t, "q", "CONNECTED").catch(() => {});
    const after = await until(async () => {
      const n = await net();
      return n.length === pending.size && n;
    }, 15000, "the queued messages after the restart");
    await sleep(300);
    assert.equal((await net()).length, pending.size, "nothing more went out");
    const byId = new Map(stored.map((m) => [m.id, m]));
    const final = (await g.api("GET", `/api/v1/sessions/q/chats/${chat.id}/messages?limit=100`, t.apiKey)).body;
    const sentAfter = new Set(after.map((r) => r.waMessageId));
    for (const m of final) {
      assert.ok(m.waMessageId, `${m.content} has gone to WhatsApp`);
      assert.equal(sentAfter.has(m.waMessageId), pending.has(m.id), `${byId.get(m.id).content} went exactly once`);
    }
    const gaps = after.slice(1).map((r, i) => Date.parse(r.at) - Date.parse(after[i].at));
    assert.ok(Math.min(...gaps) >= 90, `paced after the restart too: smallest gap ${Math.min(...gaps)} ms`);
  } finally {
    await g.close();
  }
});
