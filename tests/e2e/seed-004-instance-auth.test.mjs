// Seed 004 (WhatsApp API Manager Panel): the instance events with every authentication
// method its client tries, in its order, and its development fallback without a token.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Gateway, TRANSPORTS, assertTypes, bindPlugin, during, now, shippedPlugins, signHS256, sleep } from "./lib/gateway.mjs";

let gw, acme;
before(async () => {
  gw = await Gateway.start({ WAGATE_PLUGINS__DIR: shippedPlugins() });
  acme = await gw.tenant("acme");
  // "Base64 or data URL": this panel puts qrCode straight into an <img>.
  await bindPlugin(gw, acme, "dialect-instance", { qrFormat: "dataUrl" });
});
after(() => gw.close());

// The tenant-wide stats push: earlier tests' session changes may still schedule one.
const STATS = ["subscription:stats:updated"];

const LOCATIONS = {
  "auth.token (primary)": (token) => ({ auth: { token } }),
  "auth.authorization (fallback 1)": (token) => ({ auth: { authorization: `Bearer ${token}` } }),
  "query token (fallback 2)": (token) => ({ query: { token } }),
  "Authorization header (fallback 3)": (token) => ({ extraHeaders: { Authorization: `Bearer ${token}` } }),
};

for (const transports of TRANSPORTS) {
  const t = transports[0];
  describe(`seed 004 over ${t}`, () => {
    for (const [where, options] of Object.entries(LOCATIONS)) {
      test(`token in ${where}: subscribe and receive the instance events`, async () => {
        const instanceId = `i-${t}-${where.split(" ")[0]}`;
        await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: instanceId });
        const socket = await gw.connect({ transports, ...options(await gw.token(acme, "panel-user")) });
        socket.emit("subscribe:instance", instanceId);
        await sleep(100);
        await gw.api("POST", `/api/v1/sessions/${instanceId}/connect`, acme.apiKey, {});
        const qr = await socket.log.waitFor("instance:qr:generated");
        assertTypes(qr, { instanceId: "string", qrCode: "string", expiry: "string", attempt: "number" });
        assert.match(qr.qrCode, /^data:image\/png;base64,[A-Za-z0-9+/=]+$/);
        const status = await socket.log.waitFor("instance:status:changed");
        assert.equal(status.instanceId, instanceId);
        assert.ok(["INIT", "QR_REQUIRED", "CONNECTED", "DISCONNECTED", "RECONNECTING", "ERROR"].includes(status.newStatus));
        await gw.api("POST", `/api/v1/sim/sessions/${instanceId}/scan`, acme.apiKey, { phoneNumber: "+15550001111", displayName: "Panel" });
        const connected = await socket.log.waitFor("instance:connected");
        assertTypes(connected, { instanceId: "string", phone: "string", displayName: "string" });
        await gw.api("POST", `/api/v1/sessions/${instanceId}/disconnect`, acme.apiKey);
        const gone = await socket.log.waitFor("instance:disconnected");
        assert.deepEqual(gone, { instanceId, reason: "manual" });
      });
    }

    test("authentication failures reach the client as connect_error messages", async () => {
      const cases = [
        [{ auth: { token: await signHS256("not-the-tenant-secret", { sub: "x", tenant: "acme", exp: now() + 60 }) } }, "invalid token"],
        [{ auth: { token: "not-a-jwt" } }, /^malformed token/],
        [{ auth: { token: await signHS256(acme.jwtSecret, { sub: "x", tenant: "acme", exp: now() - 120 }) } }, "token expired"],
        [{}, "missing token"],
      ];
      for (const [options, message] of cases) {
        const err = await gw.connect({ transports, ...options }).then(() => null, (e) => e);
        assert.ok(err, "refused");
        if (message instanceof RegExp) assert.match(err.message, message);
        else assert.equal(err.message, message);
      }
    });

    test("malformed subscriptions get instance:error and nothing else", async () => {
      const socket = await gw.connect({ transports, auth: { token: await gw.token(acme, "panel-user") } });
      for (const payload of [undefined, {}, [], true, "y".repeat(50000)]) {
        const got = await during(socket.log, 120, () => socket.emit("subscribe:instance", payload), { except: STATS });
        assert.deepEqual(got.map((e) => [e.name, e.payload.code]), [["instance:error", "INVALID_PAYLOAD"]]);
      }
    });
  });
}

test("development: no token at all is admitted when the operator allows it", async () => {
  const dev = await Gateway.start({ WAGATE_PLUGINS__DIR: shippedPlugins(), WAGATE_AUTH__DEV_NO_AUTH_TENANT: "devco" });
  try {
    const devco = await dev.tenant("devco");
    await bindPlugin(dev, devco, "dialect-instance", {});
    await dev.api("POST", "/api/v1/sessions", devco.apiKey, { id: "dev-1" });
    const socket = await dev.connect({ transports: ["websocket"] });
    socket.emit("subscribe:instance", "dev-1");
    await sleep(100);
    await dev.api("POST", "/api/v1/sessions/dev-1/connect", devco.apiKey, {});
    assert.equal((await socket.log.waitFor("instance:qr:generated")).instanceId, "dev-1");
  } finally {
    await dev.close();
  }
});
