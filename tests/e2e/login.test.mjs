// The life of a WhatsApp number as a frontend sees it: QR login with rotation and timeout,
// pairing-code login, subscription acks. Over websocket and polling.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Gateway, TRANSPORTS, record, emitWithAck, sleep } from "./lib/gateway.mjs";

let gw, acme;
before(async () => {
  gw = await Gateway.start();
  acme = await gw.tenant("acme");
});
after(() => gw.close());

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function envelope(p, sessionId) {
  assert.equal(p.tenantId, "acme");
  assert.equal(p.sessionId, sessionId);
  assert.match(p.timestamp, ISO);
  assert.equal(typeof p.seq, "number");
}

for (const transports of TRANSPORTS) {
  const t = transports[0];
  describe(`login over ${t}`, () => {
    test("QR flow: subscribe, QR with PNG, scan, connected", async () => {
      const id = `qr-${t}`;
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id, name: "Sales" });
      const s = await gw.connect({ transports, auth: { token: await gw.token(acme) } });
      const log = record(s);
      const ack = await emitWithAck(s, "session.subscribe", id);
      assert.deepEqual(ack, { ok: true, sessionId: id });

      const r = await gw.api("POST", `/api/v1/sessions/${id}/connect`, acme.apiKey, { method: "qr" });
      assert.equal(r.status, 202);
      const qr = await log.waitFor("session.qr", (p) => p.sessionId === id);
      envelope(qr, id);
      assert.match(qr.qr, /^2@/);
      assert.match(qr.dataUrl, /^data:image\/png;base64,iVBORw0KGgo/);
      assert.equal(qr.attempt, 1);
      assert.match(qr.expiresAt, /^\d{4}-/);
      const rest = await gw.api("GET", `/api/v1/sessions/${id}/qr`, acme.apiKey);
      assert.equal(rest.status, 200);
      assert.equal(rest.body.qr, qr.qr);
      assert.equal(rest.body.dataUrl, qr.dataUrl);

      const scan = await gw.api("POST", `/api/v1/sim/sessions/${id}/scan`, acme.apiKey, {
        qr: qr.qr, phoneNumber: "+6281234567890", displayName: "John Doe",
      });
      assert.equal(scan.status, 200);
      const connected = await log.waitFor("session.connected", (p) => p.sessionId === id);
      envelope(connected, id);
      assert.equal(connected.phone, "+6281234567890");
      assert.equal(connected.displayName, "John Doe");

      const mine = log.filter((e) => e.payload?.sessionId === id);
      assert.deepEqual(
        mine.map((e) => e.name === "session.status" ? `status:${e.payload.status}` : e.name),
        ["status:QR_REQUIRED", "session.qr", "status:PAIRING", "status:CONNECTED", "session.connected"],
      );
      const seqs = mine.map((e) => e.payload.seq);
      assert.deepEqual([...seqs].sort((a, b) => a - b), seqs, "events arrive in seq order");
      const last = mine.find((e) => e.payload.status === "CONNECTED").payload;
      assert.equal(last.previousStatus, "PAIRING");
      assert.equal(last.phone, "+6281234567890");
    });

    test("QR codes rotate, then the session times out", async () => {
      const id = `rot-${t}`;
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id });
      const s = await gw.connect({ transports, auth: { token: await gw.token(acme) } });
      const log = record(s);
      await emitWithAck(s, "session.subscribe", { sessionId: id });
      await gw.api("POST", `/api/v1/sessions/${id}/connect`, acme.apiKey);
      const d = await log.waitFor("session.disconnected", (p) => p.sessionId === id, 6000);
      assert.equal(d.reason, "qr_timeout");
      assert.equal(d.willReconnect, false);
      const qrs = log.filter((e) => e.name === "session.qr").map((e) => e.payload);
      assert.deepEqual(qrs.map((q) => q.attempt), [1, 2, 3]);
      assert.equal(new Set(qrs.map((q) => q.qr)).size, 3);
      const status = await gw.api("GET", `/api/v1/sessions/${id}`, acme.apiKey);
      assert.equal(status.body.status, "DISCONNECTED");
      assert.equal(status.body.disconnectReason, "qr_timeout");
      assert.equal((await gw.api("GET", `/api/v1/sessions/${id}/qr`, acme.apiKey)).status, 404);
    });

    test("pairing-code flow", async () => {
      const id = `code-${t}`;
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id });
      const s = await gw.connect({ transports, auth: { token: await gw.token(acme) } });
      const log = record(s);
      await emitWithAck(s, "session.subscribe", id);
      const r = await gw.api("POST", `/api/v1/sessions/${id}/connect`, acme.apiKey, { method: "code", phoneNumber: "+628111222333" });
      assert.equal(r.status, 202);
      const pc = await log.waitFor("session.pairing_code", (p) => p.sessionId === id);
      envelope(pc, id);
      assert.match(pc.code, /^[0-9A-Z]{8}$/);
      assert.equal(pc.phoneNumber, "+628111222333");
      assert.equal((await log.waitFor("session.status", (p) => p.sessionId === id && p.status === "PAIRING")).status, "PAIRING");
      const paired = await gw.api("POST", `/api/v1/sim/sessions/${id}/pair`, acme.apiKey, { code: pc.code });
      assert.equal(paired.status, 200);
      const c = await log.waitFor("session.connected", (p) => p.sessionId === id);
      assert.equal(c.phone, "+628111222333");
    });

    test("subscribing needs a valid session id of one's own tenant", async () => {
      const s = await gw.connect({ transports, auth: { token: await gw.token(acme) } });
      const log = record(s);
      for (const [payload, code] of [[{ nope: 1 }, "invalid_payload"], ["a/b", "invalid_session_id"], ["x".repeat(200), "invalid_session_id"], ["ghost", "session_not_found"]]) {
        const ack = await emitWithAck(s, "session.subscribe", payload);
        assert.equal(ack.ok, false);
        assert.equal(ack.error.code, code);
        const err = await log.waitFor("error", (p) => p.code === code);
        assert.equal(err.event, "session.subscribe");
        assert.equal(typeof err.message, "string");
      }
      assert.ok(s.connected, "a bad request does not cost the connection");
      const ack = await emitWithAck(s, "session.unsubscribe", "ghost");
      assert.equal(ack.ok, true);
      await sleep(10);
    });
  });
}
