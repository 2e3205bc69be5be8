// Messages and chats live: inbound, outbound through every status, invalid numbers, chat
// list, history and read, and unsubscribe. Over websocket and polling.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Gateway, TRANSPORTS, record, emitWithAck, sleep } from "./lib/gateway.mjs";

let gw, acme;
before(async () => {
  gw = await Gateway.start();
  acme = await gw.tenant("acme");
});
after(() => gw.close());

for (const transports of TRANSPORTS) {
  const t = transports[0];
  describe(`messages over ${t}`, () => {
    test("inbound message, chat list, history, mark read", async () => {
      const id = `in-${t}`;
      await gw.connectedSession(acme, id);
      const s = await gw.connect({ transports, auth: { token: await gw.token(acme) } });
      const log = record(s);
      await emitWithAck(s, "session.subscribe", id);

      for (const text of ["Hello there!", "Are you there?"]) {
        const r = await gw.api("POST", `/api/v1/sim/sessions/${id}/inbound`, acme.apiKey, { from: "+628123456789", name: "John Doe", text });
        assert.equal(r.status, 202);
        const m = await log.waitFor("message.received", (p) => p.message.content === text);
        assert.equal(m.sessionId, id);
        assert.equal(m.message.fromNumber, "+628123456789");
        assert.equal(m.message.fromJid, "628123456789@s.whatsapp.net");
        assert.equal(m.message.fromName, "John Doe");
        assert.equal(m.message.type, "text");
        assert.equal(m.message.direction, "inbound");
        assert.equal(m.message.fromMe, false);
        assert.equal(m.message.waMessageId, r.body.waMessageId);
        const u = await log.waitFor("chat.updated", (p) => p.chat.lastMessage === text);
        assert.equal(u.chat.name, "John Doe");
      }
      const chats = (await gw.api("GET", `/api/v1/sessions/${id}/chats`, acme.apiKey)).body;
      assert.equal(chats.length, 1);
      const chat = chats[0];
      assert.equal(chat.unreadCount, 2);
      assert.equal(chat.lastMessage, "Are you there?");
      assert.equal(chat.number, "+628123456789");
      assert.equal(chat.isGroup, false);
      const history = (await gw.api("GET", `/api/v1/sessions/${id}/chats/${chat.id}/messages`, acme.apiKey)).body;
      assert.deepEqual(history.map((m) => m.content), ["Are you there?", "Hello there!"]);

      const read = await gw.api("POST", `/api/v1/sessions/${id}/chats/${chat.id}/read`, acme.apiKey);
      assert.equal(read.status, 200);
      assert.equal(read.body.unreadCount, 0);
      const r = await log.waitFor("chat.read", (p) => p.chatId === chat.id);
      assert.equal(r.chat.unreadCount, 0);
      await log.waitFor("chat.updated", (p) => p.chat.id === chat.id && p.chat.unreadCount === 0);
      assert.equal((await gw.api("GET", `/api/v1/sessions/${id}/chats`, acme.apiKey)).body[0].unreadCount, 0);
    });

    test("outbound message goes PENDING, SENT, DELIVERED, READ; invalid number FAILED", async () => {
      const id = `out-${t}`;
      await gw.connectedSession(acme, id);
      const s = await gw.connect({ transports, auth: { token: await gw.token(acme) } });
      const log = record(s);
      await emitWithAck(s, "session.subscribe", id);
      const r = await gw.api("POST", `/api/v1/sessions/${id}/messages`, acme.apiKey, { to: "+628123456789", text: "Hello from REST API!" });
      assert.equal(r.status, 202);
      assert.equal(r.body.status, "PENDING");
      const sent = await log.waitFor("message.sent", (p) => p.message.id === r.body.id);
      assert.equal(sent.message.status, "PENDING");
      assert.equal(sent.chat.id, r.body.chatId);
      await log.waitFor("message.status", (p) => p.messageId === r.body.id && p.status === "READ");
      const steps = log.filter((e) => e.name === "message.status" && e.payload.messageId === r.body.id).map((e) => [e.payload.previousStatus, e.payload.status]);
      assert.deepEqual(steps, [["PENDING", "SENT"], ["SENT", "DELIVERED"], ["DELIVERED", "READ"]]);
      const stored = (await gw.api("GET", `/api/v1/sessions/${id}/messages/${r.body.id}`, acme.apiKey)).body;
      assert.equal(stored.status, "READ");

      await gw.api("POST", `/api/v1/sim/sessions/${id}/invalid-numbers`, acme.apiKey, { numbers: ["+15550404040"] });
      const bad = await gw.api("POST", `/api/v1/sessions/${id}/messages`, acme.apiKey, { to: "+15550404040", text: "nobody home" });
      const failed = await log.waitFor("message.status", (p) => p.messageId === bad.body.id);
      assert.equal(failed.status, "FAILED");
      assert.match(failed.error, /not on WhatsApp/);
    });

    test("unsubscribed sockets stop getting session events", async () => {
      const id = `unsub-${t}`;
      await gw.connectedSession(acme, id);
      const s = await gw.connect({ transports, auth: { token: await gw.token(acme) } });
      const log = record(s);
      await emitWithAck(s, "session.subscribe", id);
      await gw.api("POST", `/api/v1/sim/sessions/${id}/inbound`, acme.apiKey, { from: "+15551230000", text: "first" });
      await log.waitFor("message.received");
      assert.deepEqual(await emitWithAck(s, "session.unsubscribe", id), { ok: true, sessionId: id });
      await gw.api("POST", `/api/v1/sim/sessions/${id}/inbound`, acme.apiKey, { from: "+15551230000", text: "second" });
      await sleep(300);
      assert.equal(log.filter((e) => e.name === "message.received").length, 1);
      // Lifecycle events still reach the whole tenant.
      await gw.api("POST", `/api/v1/sessions/${id}/disconnect`, acme.apiKey);
      const d = await log.waitFor("session.disconnected", (p) => p.sessionId === id);
      assert.equal(d.reason, "manual");
    });
  });
}
