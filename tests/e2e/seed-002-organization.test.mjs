// Seed 002 (AuZap): its client options and useWhatsAppEvents hook, unchanged, with
// dialect-organization bound ({}). The client passes no token itself; as in a browser, its
// session cookie travels with the handshake, and with it the page's Origin, which the operator
// lists in cors_origins (a cookie token from any other page is refused: security tests).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Gateway, ISO, TRANSPORTS, assertTypes, bindPlugin, during, shippedPlugins, sleep } from "./lib/gateway.mjs";

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489", "hex");
const ORG = "0d7c6a9e-1f7b-4d3c-9c1e-5a2b3c4d5e6f";
// Where the AuZap frontend is served (Vite's dev server).
const APP_ORIGIN = "http://localhost:5173";

let gw, acme, other;
before(async () => {
  gw = await Gateway.start({ WAGATE_PLUGINS__DIR: shippedPlugins(), WAGATE_CORS_ORIGINS: APP_ORIGIN });
  acme = await gw.tenant("acme");
  other = await gw.tenant("other");
  await bindPlugin(gw, acme, "dialect-organization", {});
  await bindPlugin(gw, other, "dialect-organization", {});
});
after(() => gw.close());

/** The seed's `io(VITE_API_URL, {...})`, with the browser's cookie jar. */
async function auzapSocket(transports, tenant = acme, org = ORG) {
  const token = await gw.token(tenant, "user-7", { organizationId: org });
  return gw.connect({
    transports,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
    reconnectionAttempts: 5,
    extraHeaders: { cookie: `theme=dark; token=${token}`, origin: APP_ORIGIN },
  });
}

for (const transports of TRANSPORTS) {
  const t = transports[0];
  describe(`seed 002 over ${t}`, () => {
    test("QR login: join-organization, whatsapp:qr on every refresh, connected, message, disconnected", async () => {
      const instanceId = `qr-${t}`;
      const socket = await auzapSocket(transports);
      socket.emit("join-organization", ORG);
      await sleep(100);
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: instanceId });
      await gw.api("POST", `/api/v1/sessions/${instanceId}/connect`, acme.apiKey, { method: "qr" });
      const qrs = [];
      for (let i = 0; i < 3; i++) {
        qrs.push(await socket.log.waitFor("whatsapp:qr", (d) => !qrs.some((q) => q.qr === d.qr)));
      }
      for (const q of qrs) {
        assertTypes(q, { instanceId: "string", qr: "string", timestamp: "string" }, "whatsapp:qr");
        assert.equal(q.instanceId, instanceId);
        assert.match(q.timestamp, ISO);
      }
      await gw.api("POST", `/api/v1/sim/sessions/${instanceId}/scan`, acme.apiKey, { qr: qrs[2].qr, phoneNumber: "+5511999990000" });
      const up = await socket.log.waitFor("whatsapp:connected");
      assertTypes(up, { instanceId: "string", organizationId: "string", phoneNumber: "string", timestamp: "string" }, "whatsapp:connected");
      assert.deepEqual([up.instanceId, up.organizationId, up.phoneNumber], [instanceId, ORG, "+5511999990000"]);

      await gw.api("POST", `/api/v1/sim/sessions/${instanceId}/inbound`, acme.apiKey, { from: "+5511988887777", name: "Ana", text: "Olá!" });
      const msg = await socket.log.waitFor("whatsapp:message");
      assertTypes(msg, { conversationId: "string", contactId: "string", message: "object" }, "whatsapp:message");
      assertTypes(msg.message, { id: "string", content: "string", contentType: "string", direction: "string", timestamp: "string", mediaUrl: "string?" }, "whatsapp:message.message");
      assert.deepEqual([msg.message.content, msg.message.contentType, msg.message.direction], ["Olá!", "text", "incoming"]);
      const chats = (await gw.api("GET", `/api/v1/sessions/${instanceId}/chats`, acme.apiKey)).body;
      assert.equal(msg.conversationId, chats[0].id);

      await gw.api("POST", `/api/v1/sim/sessions/${instanceId}/inbound`, acme.apiKey, { from: "+5511988887777", text: "photo", type: "image", media: { base64: PNG.toString("base64") } });
      const image = await socket.log.waitFor("whatsapp:message", (d) => d.message.content === "photo");
      assert.equal(image.message.contentType, "image");
      // mediaUrl is what the page's <img src> loads: no token, the file byte for byte.
      const file = await fetch(new URL(image.message.mediaUrl, gw.url));
      assert.equal(file.status, 200);
      assert.deepEqual(Buffer.from(await file.arrayBuffer()), PNG);
      assert.equal(file.headers.get("content-type"), "image/png");

      await gw.api("POST", `/api/v1/sessions/${instanceId}/disconnect`, acme.apiKey);
      const down = await socket.log.waitFor("whatsapp:disconnected");
      assertTypes(down, { instanceId: "string", reason: "string", timestamp: "string" }, "whatsapp:disconnected");
      assert.equal(down.reason, "manual");
      const order = socket.log.names((n) => n.startsWith("whatsapp:"));
      assert.equal(order.indexOf("whatsapp:connected"), qrs.length, "every QR before connected");
      assert.equal(order.at(-1), "whatsapp:disconnected");
    });

    test("pairing code, then logged out on the phone", async () => {
      const instanceId = `code-${t}`;
      const socket = await auzapSocket(transports);
      socket.emit("join-organization", ORG);
      await sleep(100);
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: instanceId });
      await gw.api("POST", `/api/v1/sessions/${instanceId}/connect`, acme.apiKey, { method: "code", phoneNumber: "+5511977776666" });
      const code = await socket.log.waitFor("whatsapp:pairing-code");
      assertTypes(code, { instanceId: "string", pairingCode: "string", expiresAt: "string", timestamp: "string" }, "whatsapp:pairing-code");
      assert.match(code.pairingCode, /^[A-Z0-9]{8}$/);
      assert.ok(Date.parse(code.expiresAt) > Date.parse(code.timestamp));
      await gw.api("POST", `/api/v1/sim/sessions/${instanceId}/pair`, acme.apiKey, { code: code.pairingCode });
      assert.equal((await socket.log.waitFor("whatsapp:connected")).phoneNumber, "+5511977776666");
      await gw.api("POST", `/api/v1/sim/sessions/${instanceId}/logout`, acme.apiKey);
      assert.equal((await socket.log.waitFor("whatsapp:disconnected")).reason, "logged_out");
    });

    test("another organization, malformed ids: an error and no room", async () => {
      const socket = await auzapSocket(transports);
      for (const [payload, code] of [["org_123", "FORBIDDEN"], [{}, "INVALID_PAYLOAD"], [[ORG], "INVALID_PAYLOAD"], ["o".repeat(40000), "INVALID_PAYLOAD"]]) {
        const got = await during(socket.log, 120, () => socket.emit("join-organization", payload));
        assert.equal(got.length, 1);
        assert.equal(got[0].name, "error");
        assertTypes(got[0].payload, { message: "string", code: "string" });
        assert.equal(got[0].payload.code, code);
      }
      const id = `quiet-${t}`;
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id });
      const heard = await during(socket.log, 300, () => gw.api("POST", `/api/v1/sessions/${id}/connect`, acme.apiKey, {}));
      assert.deepEqual(heard, [], "never joined: hears no QR");
      await gw.api("POST", `/api/v1/sessions/${id}/disconnect`, acme.apiKey);
      // Another tenant's socket that joined its own organization hears nothing of acme's.
      const theirs = await auzapSocket(transports, other, "org-other");
      theirs.emit("join-organization", "org-other");
      await sleep(100);
      const leaked = await during(theirs.log, 300, () => gw.api("POST", `/api/v1/sessions/${id}/connect`, acme.apiKey, {}));
      assert.deepEqual(leaked, []);
      await gw.api("POST", `/api/v1/sessions/${id}/disconnect`, acme.apiKey);
    });

    test("no cookie and no token: refused", async () => {
      const err = await gw.connect({ transports }).then(() => null, (e) => e);
      assert.equal(err.message, "missing token");
    });
  });
}
