// Seed 000 (instance monitor, Next.js + NextAuth): its client, unchanged, against wagate with
// the shipped dialect-instance plugin bound by the tenant with an empty config.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Gateway, TRANSPORTS, assertTypes, bindPlugin, during, shippedPlugins, sleep } from "./lib/gateway.mjs";

const STATUSES = ["INIT", "QR_REQUIRED", "CONNECTED", "DISCONNECTED", "RECONNECTING", "ERROR"];
const STATUS_CHANGED = { instanceId: "string", oldStatus: "string|null", newStatus: "string", metadata: "object" };
// The tenant-wide stats push: earlier tests' session changes may still schedule one.
const STATS = ["subscription:stats:updated"];
const QR = { instanceId: "string", qrCode: "string", expiry: "string", attempt: "number" };

let gw, acme, other;
before(async () => {
  gw = await Gateway.start({ WAGATE_PLUGINS__DIR: shippedPlugins() });
  acme = await gw.tenant("acme");
  other = await gw.tenant("other");
  await bindPlugin(gw, acme, "dialect-instance", {});
  await gw.api("POST", "/api/v1/sessions", other.apiKey, { id: "theirs" });
});
after(() => gw.close());

for (const transports of TRANSPORTS) {
  const t = transports[0];
  describe(`seed 000 over ${t}`, () => {
    test("InstanceMonitor: subscribe, QR, connected, unsubscribe", async () => {
      const instanceId = `inst-${t}`;
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: instanceId });
      const token = await gw.token(acme, "user-1", { subscriptionId: "sub-42" });
      // The seed's options: `auth: { token: session.accessToken }`.
      const socket = await gw.connect({ transports, auth: { token } });
      const log = socket.log;
      socket.emit("subscribe:instance", instanceId);
      await sleep(100);

      await gw.api("POST", `/api/v1/sessions/${instanceId}/connect`, acme.apiKey, { method: "qr" });
      const first = await log.waitFor("instance:qr:generated", (d) => d.instanceId === instanceId);
      assertTypes(first, QR, "instance:qr:generated");
      assert.equal(first.attempt, 1);
      assert.match(first.qrCode, /^2@/, "the raw QR string the seed renders with QRCode.toDataURL");
      const second = await log.waitFor("instance:qr:generated", (d) => d.attempt === 2);
      assert.notEqual(second.qrCode, first.qrCode);

      const qr = (await gw.api("GET", `/api/v1/sessions/${instanceId}/qr`, acme.apiKey)).body.qr;
      await gw.api("POST", `/api/v1/sim/sessions/${instanceId}/scan`, acme.apiKey, { qr, phoneNumber: "+6281234567890", displayName: "John Doe" });
      const connected = await log.waitFor("instance:connected", (d) => d.instanceId === instanceId);
      assertTypes(connected, { instanceId: "string", phone: "string", displayName: "string" }, "instance:connected");
      assert.deepEqual(connected, { instanceId, phone: "+6281234567890", displayName: "John Doe" });

      const changes = log.filter((e) => e.name === "instance:status:changed").map((e) => e.payload);
      for (const c of changes) {
        assertTypes(c, STATUS_CHANGED, "instance:status:changed");
        assert.ok(STATUSES.includes(c.newStatus), c.newStatus);
      }
      assert.deepEqual(changes.map((c) => [c.oldStatus, c.newStatus]), [["INIT", "QR_REQUIRED"], ["QR_REQUIRED", "CONNECTED"]]);
      assert.equal(changes[1].metadata.phone, "+6281234567890");
      // The order the component relies on: QR_REQUIRED before its QR, CONNECTED last.
      const order = log.names((n) => n.startsWith("instance:"));
      assert.equal(order[0], "instance:status:changed");
      assert.equal(order[1], "instance:qr:generated");
      assert.deepEqual(order.slice(-2), ["instance:status:changed", "instance:connected"]);

      // Cleanup as the component does: unsubscribe, then nothing more about the instance.
      socket.emit("unsubscribe:instance", instanceId);
      await sleep(100);
      const after = await during(log, 300, () => gw.api("POST", `/api/v1/sessions/${instanceId}/disconnect`, acme.apiKey));
      assert.deepEqual(after.filter((e) => e.name.startsWith("instance:")), []);
    });

    test("subscription stats and drops: disconnected, reconnecting, error", async () => {
      const instanceId = `drop-${t}`;
      const token = await gw.token(acme, "user-1", { subscriptionId: "sub-42" });
      const socket = await gw.connect({ transports, auth: { token } });
      await gw.connectedSession(acme, instanceId);
      socket.emit("subscribe:instance", instanceId);
      await sleep(100);
      const stats = await socket.log.waitFor("subscription:stats:updated");
      assertTypes(stats, { subscriptionId: "string", stats: "object" }, "subscription:stats:updated");
      assert.equal(stats.subscriptionId, "sub-42", "the subscription the tokens name");
      assert.equal(typeof stats.stats.sessions, "number");

      await gw.api("POST", `/api/v1/sim/sessions/${instanceId}/drop`, acme.apiKey, { outageMs: 60000 });
      const gone = await socket.log.waitFor("instance:disconnected", (d) => d.instanceId === instanceId);
      assertTypes(gone, { instanceId: "string", reason: "string" }, "instance:disconnected");
      assert.equal(gone.reason, "connection_lost");
      const error = await socket.log.waitFor("instance:error", (d) => d.instanceId === instanceId, 8000);
      assertTypes(error, { instanceId: "string", error: "string", code: "string" }, "instance:error");
      assert.equal(error.code, "reconnect_failed");
      const statuses = socket.log.filter((e) => e.name === "instance:status:changed" && e.payload.instanceId === instanceId).map((e) => e.payload.newStatus);
      assert.deepEqual([statuses[0], statuses.at(-1)], ["RECONNECTING", "ERROR"]);
    });

    test("refused subscriptions: unknown, another tenant's, malformed, huge", async () => {
      const socket = await gw.connect({ transports, auth: { token: await gw.token(acme, "user-1") } });
      const cases = [
        ["ghost", "ghost", "INSTANCE_NOT_FOUND"],
        ["theirs", "theirs", "INSTANCE_NOT_FOUND"],
        [{ nope: 1 }, null, "INVALID_PAYLOAD"],
        [12.5, null, "INVALID_PAYLOAD"],
        ["x".repeat(20000), null, "INVALID_PAYLOAD"],
      ];
      for (const [payload, instanceId, code] of cases) {
        const got = await during(socket.log, 150, () => socket.emit("subscribe:instance", payload), { except: STATS });
        assert.equal(got.length, 1, JSON.stringify(got));
        assert.equal(got[0].name, "instance:error");
        assertTypes(got[0].payload, { instanceId: "string|null", error: "string", code: "string" });
        assert.deepEqual([got[0].payload.instanceId, got[0].payload.code], [instanceId, code]);
      }
      // The other tenant's instance was not joined: its events never arrive.
      const leaked = await during(socket.log, 300, () => gw.api("POST", "/api/v1/sessions/theirs/connect", other.apiKey, {}), { except: STATS });
      assert.deepEqual(leaked, []);
      await gw.api("POST", "/api/v1/sessions/theirs/disconnect", other.apiKey);
      assert.ok(socket.connected);
    });

    test("subscribe then unsubscribe at once: handled in the order sent, ends unsubscribed", async () => {
      const instanceId = `order-${t}`;
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: instanceId });
      const socket = await gw.connect({ transports, auth: { token: await gw.token(acme, "user-1") } });
      for (let i = 0; i < 20; i++) {
        socket.emit("subscribe:instance", instanceId);
        socket.emit("unsubscribe:instance", instanceId);
      }
      await sleep(300);
      const heard = await during(socket.log, 300, () => gw.api("POST", `/api/v1/sessions/${instanceId}/connect`, acme.apiKey, {}));
      assert.deepEqual(heard.filter((e) => e.name.startsWith("instance:")), []);
      await gw.api("POST", `/api/v1/sessions/${instanceId}/disconnect`, acme.apiKey);
    });

    test("a bad token is refused before anything else", async () => {
      const token = (await gw.token(acme, "user-1")).slice(0, -4) + "AAAA";
      const err = await gw.connect({ transports, auth: { token } }).then(() => null, (e) => e);
      assert.equal(err.message, "invalid token");
    });
  });
}
