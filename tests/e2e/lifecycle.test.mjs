// Drops, reconnects, logouts, a gateway restart, tenant stats, and tenant isolation, as a
// connected frontend sees them. Over websocket and polling.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { Gateway, TRANSPORTS, record, emitWithAck, sleep } from "./lib/gateway.mjs";

let gw, acme, rival;
before(async () => {
  gw = await Gateway.start();
  acme = await gw.tenant("acme");
  rival = await gw.tenant("rival");
});
after(() => gw.close());

for (const transports of TRANSPORTS) {
  const t = transports[0];
  describe(`lifecycle over ${t}`, () => {
    test("network drop: RECONNECTING, then CONNECTED again", async () => {
      const id = `drop-${t}`;
      await gw.connectedSession(acme, id);
      const s = await gw.connect({ transports, auth: { token: await gw.token(acme) } });
      const log = record(s);
      const r = await gw.api("POST", `/api/v1/sim/sessions/${id}/drop`, acme.apiKey, { outageMs: 50 });
      assert.equal(r.status, 204);
      const d = await log.waitFor("session.disconnected", (p) => p.sessionId === id);
      assert.equal(d.reason, "connection_lost");
      assert.equal(d.willReconnect, true);
      await log.waitFor("session.connected", (p) => p.sessionId === id);
      const statuses = log.filter((e) => e.name === "session.status" && e.payload.sessionId === id).map((e) => e.payload.status);
      assert.equal(statuses[0], "RECONNECTING");
      assert.equal(statuses.at(-1), "CONNECTED");
    });

    test("logout from the phone, then logout through the API", async () => {
      const id = `logout-${t}`;
      await gw.connectedSession(acme, id);
      const s = await gw.connect({ transports, auth: { token: await gw.token(acme) } });
      const log = record(s);
      assert.equal((await gw.api("POST", `/api/v1/sim/sessions/${id}/logout`, acme.apiKey)).status, 204);
      const d = await log.waitFor("session.disconnected", (p) => p.sessionId === id);
      assert.equal(d.reason, "logged_out");
      const st = await log.waitFor("session.status", (p) => p.sessionId === id && p.status === "DISCONNECTED");
      assert.equal(st.reason, "logged_out");
      assert.equal((await gw.api("GET", `/api/v1/sessions/${id}`, acme.apiKey)).body.linked, false);
      // Log in again, then log out from our side.
      await gw.api("POST", `/api/v1/sessions/${id}/connect`, acme.apiKey);
      await log.waitFor("session.status", (p) => p.sessionId === id && p.status === "QR_REQUIRED");
      await gw.api("POST", `/api/v1/sim/sessions/${id}/scan`, acme.apiKey, {});
      await log.waitFor("session.connected", (p) => p.sessionId === id);
      const out = await gw.api("POST", `/api/v1/sessions/${id}/logout`, acme.apiKey);
      assert.equal(out.body.status, "DISCONNECTED");
      assert.equal(out.body.disconnectReason, "logged_out");
    });

    test("tenant stats reach every socket of the tenant", async () => {
      const s = await gw.connect({ transports, auth: { token: await gw.token(acme) } });
      const log = record(s);
      const id = `stats-${t}`;
      await gw.connectedSession(acme, id);
      const st = await log.waitFor("tenant.stats", (p) => p.stats.connected >= 1);
      assert.equal(st.tenantId, "acme");
      assert.equal(st.sessionId, undefined);
      for (const k of ["sessions", "connected", "chats", "unread", "messagesSent", "messagesReceived", "messagesFailed"]) {
        assert.equal(typeof st.stats[k], "number", k);
      }
    });

    test("another tenant sees nothing and cannot subscribe", async () => {
      const id = `private-${t}`;
      await gw.connectedSession(acme, id);
      const spy = await gw.connect({ transports, auth: { token: await gw.token(rival, "mallory") } });
      const spyLog = record(spy);
      const ack = await emitWithAck(spy, "session.subscribe", id);
      assert.deepEqual(ack, { ok: false, error: { code: "session_not_found", message: `session '${id}' not found` } });
      assert.equal((await spyLog.waitFor("error")).code, "session_not_found");
      const owner = await gw.connect({ transports, auth: { token: await gw.token(acme) } });
      const ownerLog = record(owner);
      await emitWithAck(owner, "session.subscribe", id);
      await gw.api("POST", `/api/v1/sim/sessions/${id}/inbound`, acme.apiKey, { from: "+15557654321", text: "private" });
      await gw.api("POST", `/api/v1/sessions/${id}/disconnect`, acme.apiKey);
      await ownerLog.waitFor("message.received");
      await ownerLog.waitFor("session.disconnected", (p) => p.sessionId === id);
      await sleep(200);
      const leaked = spyLog.filter((e) => e.name !== "error" && e.payload?.tenantId !== "rival");
      assert.deepEqual(leaked, [], "rival received acme events");
    });
  });
}

for (const transports of TRANSPORTS) test(`after a restart the connected session comes back and clients reconnect (${transports[0]})`, async () => {
  const rgw = await Gateway.start();
  try {
    const t = await rgw.tenant("acme");
    await rgw.connectedSession(t, "keep", "+15550000077");
    await rgw.api("POST", "/api/v1/sim/sessions/keep/inbound", t.apiKey, { from: "+15551112222", text: "before" });
    await sleep(100);
    const token = await rgw.token(t);
    // A frontend that reconnects on its own, as socket.io-client does by default.
    const s = io(rgw.url, { auth: { token }, transports, reconnectionDelay: 50, reconnectionDelayMax: 200 });
    const log = record(s);
    // As frontends do: (re)subscribe on every connect.
    let connects = 0;
    s.on("connect", () => {
      connects += 1;
      s.emit("session.subscribe", "keep");
    });
    await new Promise((r) => s.once("connect", r));
    await rgw.restart();
    for (let i = 0; i < 200 && connects < 2; i++) await sleep(20);
    assert.equal(connects, 2, "the client reconnected by itself");
    const session = await rgw.waitStatus(t, "keep", "CONNECTED");
    assert.equal(session.phone, "+15550000077");
    const chats = (await rgw.api("GET", "/api/v1/sessions/keep/chats", t.apiKey)).body;
    assert.equal(chats[0].lastMessage, "before");
    const sent = await rgw.api("POST", "/api/v1/sessions/keep/messages", t.apiKey, { to: "+15551112222", text: "after" });
    assert.equal(sent.status, 202);
    const st = await log.waitFor("message.status", (p) => p.messageId === sent.body.id && p.status === "SENT");
    assert.equal(st.sessionId, "keep");
    s.close();
  } finally {
    await rgw.close();
  }
});

test("SIGTERM while inbound messages are in flight: a clean stop, and nothing committed is lost", async () => {
  // Several tries: the stop has to land while events are being fanned out.
  for (let round = 0; round < 3; round++) {
    const gw = await Gateway.start();
    try {
      const t = await gw.tenant("acme");
      await gw.connectedSession(t, "busy", "+15550000088");
      const token = await gw.token(t);
      const s = await gw.connect({ auth: { token }, transports: ["websocket"] });
      await emitWithAck(s, "session.subscribe", "busy");
      const posts = [];
      for (let i = 0; i < 300; i++) {
        posts.push(gw.api("POST", "/api/v1/sim/sessions/busy/inbound", t.apiKey, { from: "+15551110000", text: `m${i}` }).catch(() => null));
      }
      await s.log.waitFor("message.received");
      await gw.stop();
      await Promise.all(posts);
      assert.equal(gw.exit.code, 0, `exit: ${JSON.stringify(gw.exit)}`);
      assert.doesNotMatch(gw.stderr, /panicked/, "no task panicked during the shutdown");
      // Whatever was committed before the stop is in the journal after it.
      await gw.launch();
      const accepted = (await Promise.all(posts)).filter((r) => r?.status === 202).length;
      const events = await gw.api("GET", "/api/v1/events?limit=1000", t.apiKey);
      assert.equal(events.status, 200);
      const received = events.body.events.filter((e) => e.event === "message.received").length;
      assert.ok(received > 0 && received <= accepted, `${received} received of ${accepted} accepted`);
    } finally {
      await gw.close();
    }
  }
});
