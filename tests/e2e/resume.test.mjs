// Socket.IO clients that resume from the last seq they saw: in the handshake (auth.lastSeq)
// or with session.resume, across a restart, with messages arriving during the resume; every
// event of their rooms they missed comes first, in order, then the live ones, with no gap and
// no duplicate.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Gateway, record, emitWithAck, sleep } from "./lib/gateway.mjs";

const CONTACT = "+628123456789";
let gw, acme;
before(async () => {
  gw = await Gateway.start();
  acme = await gw.tenant("acme");
  await gw.connectedSession(acme, "s1");
  await gw.connectedSession(acme, "s2", "+15550000002");
});
after(() => gw.close());

const inbound = (session, text) => gw.api("POST", `/api/v1/sim/sessions/${session}/inbound`, acme.apiKey, { from: CONTACT, text });
const seqs = (log) => log.filter((e) => typeof e.payload?.seq === "number").map((e) => e.payload.seq);
const contents = (log) => log.filter((e) => e.name === "message.received").map((e) => e.payload.message.content);

/** The journal's message.received contents of a session after `after`. */
async function journalled(session, after) {
  const page = (await gw.api("GET", `/api/v1/events?afterSeq=${after}&limit=1000`, acme.apiKey)).body;
  return page.events.filter((e) => e.event === "message.received" && e.payload.sessionId === session).map((e) => e.payload.message.content);
}

function strictlyIncreasing(list, what) {
  for (let i = 1; i < list.length; i++) assert.ok(list[i] > list[i - 1], `${what}: seq ${list[i]} after ${list[i - 1]} (${JSON.stringify(list)})`);
}

describe("resume in the handshake", () => {
  test("what was missed comes first, in order, then live; messages arriving during the resume are neither lost nor doubled", async () => {
    const token = await gw.token(acme);
    const first = await gw.connect({ transports: ["websocket"], auth: { token } });
    const seen = record(first);
    await emitWithAck(first, "session.subscribe", "s1");
    await inbound("s1", "before 1");
    await seen.waitFor("message.received", (p) => p.message.content === "before 1");
    const last = Math.max(...seqs(seen));
    first.disconnect();
    for (let i = 0; i < 10; i++) await inbound("s1", `missed ${i}`);
    await inbound("s2", "not subscribed");
    // Accepted is not yet committed: the resume below must find all ten in the journal.
    for (let i = 0; i < 200 && (await journalled("s1", last)).length < 10; i++) await sleep(10);
    // The resume begins while more messages keep arriving.
    const during = (async () => {
      for (let i = 0; i < 20; i++) {
        await inbound("s1", `during ${i}`);
        await sleep(5);
      }
    })();
    const again = await gw.connect({ transports: ["websocket"], auth: { token, lastSeq: last, sessions: ["s1"] } });
    const log = again.log;
    await during;
    await log.waitFor("message.received", (p) => p.message.content === "during 19", 8000);
    await sleep(200);
    const resumed = await log.waitFor("session.resumed");
    assert.equal(resumed.fromSeq, last + 1);
    assert.ok(resumed.replayed >= 10, JSON.stringify(resumed));
    const got = seqs(log);
    strictlyIncreasing(got, "resumed socket");
    assert.ok(got[0] > last);
    assert.deepEqual(contents(log), await journalled("s1", last), "every message of s1 since lastSeq, once, in order");
    assert.ok(!contents(log).includes("not subscribed"), "only the rooms it resumes");
  });

  test("across a restart: the events committed before it are sent from the journal", async () => {
    const token = await gw.token(acme);
    const s = await gw.connect({ transports: ["websocket"], auth: { token } });
    await emitWithAck(s, "session.subscribe", "s1");
    await inbound("s1", "seen");
    await s.log.waitFor("message.received", (p) => p.message.content === "seen");
    const last = Math.max(...seqs(s.log));
    s.disconnect();
    await inbound("s1", "while away");
    await gw.restart();
    await gw.waitStatus(acme, "s1", "CONNECTED");
    const back = await gw.connect({ transports: ["polling"], auth: { token, lastSeq: last, sessions: ["s1"] } });
    await back.log.waitFor("session.resumed", () => true, 8000);
    // The session reconnects after the restart; the phone can write once it has.
    for (let i = 0; i < 100 && (await inbound("s1", "after restart")).status !== 202; i++) await sleep(50);
    await back.log.waitFor("message.received", (p) => p.message.content === "after restart", 8000);
    strictlyIncreasing(seqs(back.log), "after the restart");
    const mine = contents(back.log);
    assert.deepEqual(mine.slice(0, 1), ["while away"]);
    assert.equal(mine.at(-1), "after restart");
  });

  test("bad resume fields are refused in the handshake; an unusable session is an error, the rest resumes", async () => {
    const token = await gw.token(acme);
    for (const auth of [{ token, lastSeq: "abc" }, { token, lastSeq: -1 }, { token, lastSeq: 1, sessions: "s1" }, { token, lastSeq: 1, sessions: ["a/b"] }]) {
      await assert.rejects(gw.connect({ transports: ["websocket"], auth }), /auth\.(lastSeq|sessions)/, JSON.stringify(auth));
    }
    const other = await gw.tenant("other");
    await gw.connectedSession(other, "theirs");
    const s = await gw.connect({ transports: ["websocket"], auth: { token, lastSeq: 0, sessions: ["theirs", "s1"] } });
    const err = await s.log.waitFor("error", (p) => p.code === "session_not_found", 5000);
    assert.equal(err.event, "handshake");
  });
});

describe("session.resume", () => {
  test("a connected socket resumes its rooms and the sessions it names; bad payloads and foreign sessions are refused", async () => {
    const token = await gw.token(acme);
    const page = (await gw.api("GET", "/api/v1/events?afterSeq=0&limit=1", acme.apiKey)).body;
    const head = (await gw.api("GET", `/api/v1/events?afterSeq=${page.firstSeq}&limit=1000`, acme.apiKey)).body.lastSeq;
    await inbound("s2", "for s2 1");
    await inbound("s2", "for s2 2");
    for (let i = 0; i < 100 && !(await journalled("s2", head)).includes("for s2 2"); i++) await sleep(20);
    const s = await gw.connect({ transports: ["websocket"], auth: { token } });
    const answer = await emitWithAck(s, "session.resume", { lastSeq: head, sessionIds: ["s2"] });
    assert.equal(answer.ok, true, JSON.stringify(answer));
    assert.equal(answer.fromSeq, head + 1);
    assert.ok(answer.replayed >= 2);
    await s.log.waitFor("message.received", (p) => p.message.content === "for s2 2");
    assert.deepEqual(contents(s.log).filter((c) => c.startsWith("for s2")), ["for s2 1", "for s2 2"]);
    await inbound("s2", "live s2");
    await s.log.waitFor("message.received", (p) => p.message.content === "live s2");
    // Nothing twice: what the socket had live since it connected is not sent again.
    const all = seqs(s.log);
    assert.equal(new Set(all).size, all.length, `no seq twice: ${JSON.stringify(all)}`);
    for (const [payload, code] of [[{ lastSeq: "x" }, "invalid_payload"], [7, "invalid_payload"], [{ lastSeq: 1, sessionIds: ["nope"] }, "session_not_found"]]) {
      const r = await emitWithAck(s, "session.resume", payload);
      assert.deepEqual([r.ok, r.error.code], [false, code], JSON.stringify(payload));
      await s.log.waitFor("error", (p) => p.code === code && p.event === "session.resume");
    }
  });
});

describe("a journal that keeps 10 events per tenant", () => {
  let small, t;
  before(async () => {
    small = await Gateway.start({ WAGATE_EVENTS__RETENTION_COUNT: "10", WAGATE_EVENTS__PRUNE_INTERVAL_SECS: "1" });
    t = await small.tenant("acme");
    await small.connectedSession(t, "s1");
  });
  after(() => small.close());

  test("a resume from before the journal's start is refused with seq_pruned; the socket is live anyway", async () => {
    for (let i = 0; i < 20; i++) await small.api("POST", "/api/v1/sim/sessions/s1/inbound", t.apiKey, { from: CONTACT, text: `n${i}` });
    for (let i = 0; i < 50; i++) {
      const page = (await small.api("GET", "/api/v1/events?limit=1000", t.apiKey)).body;
      if (page.firstSeq > 2) break;
      await sleep(100);
    }
    const s = await small.connect({ transports: ["websocket"], auth: { token: await small.token(t) } });
    const r = await emitWithAck(s, "session.resume", { lastSeq: 1, sessionIds: ["s1"] });
    assert.deepEqual([r.ok, r.error.code], [false, "seq_pruned"]);
    assert.match(r.error.message, /journal starts at seq \d+/);
    await small.api("POST", "/api/v1/sim/sessions/s1/inbound", t.apiKey, { from: CONTACT, text: "live" });
    await s.log.waitFor("message.received", (p) => p.message.content === "live");
  });
});

describe("sockets whose connection falls behind (a socket buffer of 4 packets)", () => {
  let slow, t;
  before(async () => {
    slow = await Gateway.start({ WAGATE_EVENTS__SOCKET_BUFFER: "4" });
    t = await slow.tenant("acme");
    await slow.connectedSession(t, "s1");
  });
  after(() => slow.close());
  const send = (text) => slow.api("POST", "/api/v1/sim/sessions/s1/inbound", t.apiKey, { from: CONTACT, text });
  /** The seqs of the journal's message.received whose text starts with `prefix`, in order. */
  async function journalled(prefix) {
    const found = [];
    for (let after = 0; ; ) {
      const page = (await slow.api("GET", `/api/v1/events?afterSeq=${after}&limit=1000`, t.apiKey)).body;
      if (!page.events.length) return found;
      for (const e of page.events) if (e.event === "message.received" && e.payload.message.content.startsWith(prefix)) found.push(e.seq);
      after = page.lastSeq;
    }
  }
  const received = (log, prefix) =>
    log.filter((e) => e.name === "message.received" && e.payload.message.content.startsWith(prefix)).map((e) => e.payload.seq);

  test("a socket that cannot take a burst live catches up from the journal: all of it, in order, once; then it is live again", async () => {
    const s = await slow.connect({ transports: ["websocket"], auth: { token: await slow.token(t) } });
    await emitWithAck(s, "session.subscribe", "s1");
    // Bursts that arrive together are committed and fanned out together: far more than four
    // packets for the socket at once. Until the gateway says a socket fell behind.
    let sent = 0;
    for (let round = 0; round < 5 && !slow.stderr.includes("fell behind"); round++) {
      await Promise.all(Array.from({ length: 100 }, () => send(`burst ${sent++}`)));
      await s.log.waitFor("message.received", (p) => p.message.content === `burst ${sent - 1}`, 15000);
    }
    assert.match(slow.stderr, /a socket fell behind; it catches up from the journal/);
    const journal = await journalled("burst ");
    assert.equal(journal.length, sent);
    for (let i = 0; i < 300 && received(s.log, "burst ").length < journal.length; i++) await sleep(50);
    await sleep(200);
    assert.deepEqual(received(s.log, "burst "), journal, "every message.received of the journal, in order, once");
    strictlyIncreasing(seqs(s.log), "all events");
    assert.equal(s.log.filter((e) => e.name === "delivery.gap").length, 0);
    await send("live again");
    await s.log.waitFor("message.received", (p) => p.message.content === "live again");
  });

  test("a resume replays more than the socket's buffer holds without dropping any of it", async () => {
    const token = await slow.token(t);
    const first = await slow.connect({ transports: ["websocket"], auth: { token } });
    await emitWithAck(first, "session.subscribe", "s1");
    await send("seen");
    await first.log.waitFor("message.received", (p) => p.message.content === "seen");
    const last = Math.max(...seqs(first.log));
    first.disconnect();
    for (let i = 0; i < 200; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => send(`missed ${i + j}`)));
    const again = await slow.connect({ transports: ["websocket"], auth: { token, lastSeq: last, sessions: ["s1"] } });
    // Paced by a four-packet buffer: on a busy machine the replay takes a while; what counts
    // is that all of it arrives.
    const resumed = await again.log.waitFor("session.resumed", () => true, 45000);
    assert.ok(resumed.replayed >= 200, JSON.stringify(resumed));
    const journal = await journalled("missed ");
    assert.equal(journal.length, 200);
    assert.deepEqual(received(again.log, "missed "), journal, "the whole replay, in order");
    strictlyIncreasing(seqs(again.log), "replayed events");
  });
});
