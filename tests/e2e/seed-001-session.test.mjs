// Seed 001 (WhatsApp Gateway frontend guide): its useSocket hook and SessionPage, unchanged,
// through the ten steps of its "Expected User Flow", with dialect-session bound ({}).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Gateway, ISO, TRANSPORTS, assertTypes, bindPlugin, during, shippedPlugins, sleep } from "./lib/gateway.mjs";

const USER = "da59c719-6c71-439f-b222-ac0366048b0b";
const INVALID = { message: "Invalid session ID or access denied", code: "INVALID_SESSION" };

let gw, acme, other;
before(async () => {
  gw = await Gateway.start({ WAGATE_PLUGINS__DIR: shippedPlugins() });
  acme = await gw.tenant("acme");
  other = await gw.tenant("other");
  await bindPlugin(gw, acme, "dialect-session", {});
  await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: "someone-else-session" });
  await gw.api("POST", "/api/v1/sessions", other.apiKey, { id: `${USER}-other-tenant` });
});
after(() => gw.close());

/** The seed's useSocket: `io(url, { auth: { token }, transports })`. */
const useSocket = (token, transports) => gw.connect({ auth: { token }, transports });

for (const transports of TRANSPORTS) {
  const t = transports[0];
  describe(`seed 001 over ${t}`, () => {
    test("the ten steps of the expected user flow", async () => {
      // 1. The user logs in and gets a JWT (the backend's tokens carry userId).
      const token = await gw.token(acme, "auth0|1", { userId: USER });
      // 2. The user creates a session; its id starts with the user id.
      const sessionId = `${USER}-ini-wg-baru-${Date.now()}-${t}`;
      assert.equal((await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: sessionId })).status, 201);
      // 3. The session page connects; the backend confirms with `connected`.
      const socket = await useSocket(token, transports);
      const log = socket.log;
      const connected = await log.waitFor("connected");
      assertTypes(connected, { message: "string", userId: "string", timestamp: "string" }, "connected");
      assert.deepEqual([connected.message, connected.userId], ["Connected to WhatsApp Gateway", USER]);
      assert.match(connected.timestamp, ISO);
      // 4-5. join_session -> session_joined.
      socket.emit("join_session", sessionId);
      const joined = await log.waitFor("session_joined");
      assertTypes(joined, { sessionId: "string", message: "string", timestamp: "string" }, "session_joined");
      assert.deepEqual([joined.sessionId, joined.message], [sessionId, "Joined session room successfully"]);
      // 6. The user clicks "Connect".
      await gw.api("POST", `/api/v1/sessions/${sessionId}/connect`, acme.apiKey, {});
      // 7. The worker's QR codes, every refresh.
      const qr1 = await log.waitFor("qr_code_updated");
      const qr2 = await log.waitFor("qr_code_updated", (d) => d.qrCode !== qr1.qrCode);
      for (const q of [qr1, qr2]) {
        assertTypes(q, { sessionId: "string", qrCode: "string", status: "string", timestamp: "string" }, "qr_code_updated");
        assert.deepEqual([q.sessionId, q.status], [sessionId, "QR_REQUIRED"]);
        assert.match(q.qrCode, /^2@/, "the raw string QRCode.react renders");
      }
      // 8-9. The phone scans; session_status_changed CONNECTED with phone and name.
      await gw.api("POST", `/api/v1/sim/sessions/${sessionId}/scan`, acme.apiKey, { qr: qr2.qrCode, phoneNumber: "+6281234567890", displayName: "John Doe" });
      const up = await log.waitFor("session_status_changed", (d) => d.status === "CONNECTED");
      assertTypes(up, { sessionId: "string", status: "string", phoneNumber: "string", displayName: "string", timestamp: "string" });
      assert.deepEqual([up.phoneNumber, up.displayName], ["+6281234567890", "John Doe"]);
      for (const e of log.filter((e) => e.name === "session_status_changed" && e.payload.status !== "CONNECTED")) {
        assertTypes(e.payload, { sessionId: "string", status: "string", timestamp: "string" }, "session_status_changed");
      }
      const order = log.names((n) => n !== "session_status_changed");
      assert.deepEqual(order.slice(0, 2), ["connected", "session_joined"]);
      assert.ok(order.indexOf("qr_code_updated") > 1);
      // 10. Ready for messaging: a message sent through REST reports its statuses.
      const sent = await gw.api("POST", `/api/v1/sessions/${sessionId}/messages`, acme.apiKey, { to: "+628123456789", text: "hi" });
      const read = await log.waitFor("message_status_updated", (d) => d.status === "READ");
      const statuses = log.filter((e) => e.name === "message_status_updated").map((e) => e.payload);
      assert.deepEqual(statuses.map((s) => s.status), ["SENT", "DELIVERED", "READ"]);
      for (const s of statuses) {
        assertTypes(s, { sessionId: "string", messageId: "string", status: "string", deliveredAt: "string?", timestamp: "string" });
        assert.equal(s.messageId, sent.body.id);
      }
      assert.match(statuses[1].deliveredAt, ISO);
      assert.equal(read.sessionId, sessionId);

      // Cleanup: leave_session; the session's events stop.
      socket.emit("leave_session", sessionId);
      await sleep(100);
      const after = await during(log, 300, () => gw.api("POST", `/api/v1/sessions/${sessionId}/disconnect`, acme.apiKey));
      assert.deepEqual(after, []);
    });

    test("a session the user owns may be joined even without the id prefix", async () => {
      const token = await gw.token(acme, "x", { userId: USER });
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: `owned-${t}`, owner: USER });
      const socket = await useSocket(token, transports);
      socket.emit("join_session", `owned-${t}`);
      assert.equal((await socket.log.waitFor("session_joined")).sessionId, `owned-${t}`);
    });

    test("foreign, unknown and malformed sessions get INVALID_SESSION and join nothing", async () => {
      const socket = await useSocket(await gw.token(acme, "x", { userId: USER }), transports);
      await socket.log.waitFor("connected");
      const tries = ["someone-else-session", `${USER}-other-tenant`, "nope", {}, 42.5, null, "z".repeat(30000)];
      for (const payload of tries) {
        const got = await during(socket.log, 120, () => socket.emit("join_session", payload));
        assert.deepEqual(got, [{ name: "error", payload: INVALID }], JSON.stringify(payload).slice(0, 40));
      }
      // Nothing was joined: the other user's session talks and this socket hears nothing.
      const heard = await during(socket.log, 300, () => gw.api("POST", "/api/v1/sessions/someone-else-session/connect", acme.apiKey, {}));
      assert.deepEqual(heard, []);
      await gw.api("POST", "/api/v1/sessions/someone-else-session/disconnect", acme.apiKey);
    });

    test("a token of another tenant's secret is refused", async () => {
      const token = await gw.token(other, "x", { userId: USER });
      const forged = token.split(".").slice(0, 2).join(".") + "." + (await gw.token(acme, "x")).split(".")[2];
      const err = await useSocket(forged, transports).then(() => null, (e) => e);
      assert.equal(err.message, "invalid token");
    });
  });
}
