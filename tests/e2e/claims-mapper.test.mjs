// claims-mapper in front of a dialect: a frontend whose tokens name things differently
// (nested claims, another user claim) works unchanged once the tenant maps its claims.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Gateway, TRANSPORTS, bindPlugin, during, shippedPlugins, sleep } from "./lib/gateway.mjs";

let gw, acme;
before(async () => {
  gw = await Gateway.start({ WAGATE_PLUGINS__DIR: shippedPlugins() });
  acme = await gw.tenant("acme");
  const mapped = await gw.api("PUT", "/api/v1/tenant/plugins/claims-mapper", acme.apiKey, {
    priority: 10,
    config: {
      userClaim: "profile.uid",
      attributes: { organizationId: "tenancy.org" },
      rooms: ["team:{team}"],
      requiredClaims: ["tenancy.org"],
    },
  });
  assert.equal(mapped.status, 200, JSON.stringify(mapped.body));
  await bindPlugin(gw, acme, "dialect-organization", {});
  await bindPlugin(gw, acme, "dialect-session", {});
});
after(() => gw.close());

for (const transports of TRANSPORTS) {
  const t = transports[0];
  describe(`claims-mapper over ${t}`, () => {
    test("nested claims become the user and the organization the dialects check", async () => {
      const token = await gw.token(acme, "svc", { profile: { uid: "u-77" }, tenancy: { org: "org-9" } });
      const socket = await gw.connect({ transports, auth: { token } });
      const hello = await socket.log.waitFor("connected");
      assert.equal(hello.userId, "u-77", "dialect-session greets the mapped user");
      socket.emit("join-organization", "org-9");
      await sleep(100);
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: `m-${t}` });
      await gw.api("POST", `/api/v1/sessions/m-${t}/connect`, acme.apiKey, {});
      assert.equal((await socket.log.waitFor("whatsapp:qr")).instanceId, `m-${t}`);
      const refused = await during(socket.log, 150, () => socket.emit("join-organization", "org-1"));
      assert.deepEqual(refused.filter((e) => e.name === "error").map((e) => e.payload.code), ["FORBIDDEN"]);
      await gw.api("POST", `/api/v1/sessions/m-${t}/disconnect`, acme.apiKey);
    });

    test("a token without a required claim is refused with the plugin's message", async () => {
      const token = await gw.token(acme, "svc", { profile: { uid: "u-77" } });
      const err = await gw.connect({ transports, auth: { token } }).then(() => null, (e) => e);
      assert.equal(err.message, "token lacks the claim 'tenancy.org'");
    });
  });
}

test("a config the plugin refuses answers 422 with its message", async () => {
  const r = await gw.api("PUT", "/api/v1/tenant/plugins/claims-mapper", acme.apiKey, { config: { rooms: ["a:{b"] } });
  assert.equal(r.status, 422);
  assert.match(r.body.error.message, /unbalanced braces/);
});
