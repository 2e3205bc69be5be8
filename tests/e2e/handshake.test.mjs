// Socket.IO handshake: every token location seed 004 lists, every refusal with its reason,
// and the explicit development mode. Over websocket and polling.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Gateway, TRANSPORTS, signHS256, now, record } from "./lib/gateway.mjs";

let gw, acme, other;

before(async () => {
  gw = await Gateway.start({ WAGATE_AUTH__LEEWAY_SECS: "0" });
  acme = await gw.tenant("acme");
  other = await gw.tenant("other");
});
after(() => gw.close());

for (const transports of TRANSPORTS) {
  describe(`handshake over ${transports[0]}`, () => {
    test("accepts a token in each of the four places", async () => {
      const token = await gw.token(acme, "u1");
      const variants = {
        "auth.token": { auth: { token } },
        "auth.authorization": { auth: { authorization: `Bearer ${token}` } },
        "query token": { query: { token } },
        "Authorization header": { extraHeaders: { Authorization: `Bearer ${token}` } },
      };
      for (const [where, opts] of Object.entries(variants)) {
        const s = await gw.connect({ transports, ...opts });
        assert.ok(s.connected, where);
        // The socket is in its tenant's room: a new session's status reaches it.
        const log = record(s);
        const id = `hs-${transports[0]}-${where.replace(/\W/g, "")}`;
        await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id });
        const p = await log.waitFor("session.status", (p) => p.sessionId === id);
        assert.equal(p.status, "INIT");
        assert.equal(p.tenantId, "acme");
        s.disconnect();
      }
    });

    test("a handshake far larger than the socket's read buffer is read whole", async () => {
      const token = await gw.token(acme, "u1");
      // The websocket reads 1 KiB at a time; a 20 KiB CONNECT packet takes many reads.
      const s = await gw.connect({ transports, auth: { token, note: "x".repeat(20 * 1024) } });
      assert.ok(s.connected);
      s.disconnect();
    });

    test("refuses with a message that says why", async () => {
      const cases = [
        [{}, "missing token"],
        [{ auth: { token: "" } }, "missing token"],
        [{ auth: { token: await signHS256(acme.jwtSecret, { sub: "u", tenant: "acme", exp: now() - 5 }) } }, "token expired"],
        [{ auth: { token: await signHS256(acme.jwtSecret, { sub: "u", tenant: "acme", exp: now() + 60, nbf: now() + 60 }) } }, "token not valid yet (nbf)"],
        [{ auth: { token: await signHS256(other.jwtSecret, { sub: "u", tenant: "acme", exp: now() + 60 }) } }, "invalid token"],
        [{ auth: { token: await signHS256(acme.jwtSecret, { sub: "u", tenant: "nobody", exp: now() + 60 }) } }, "invalid token"],
        [{ auth: { token: await signHS256(acme.jwtSecret, { sub: "u", exp: now() + 60 }) } }, "token names no tenant (claim 'tenant')"],
        [{ auth: { token: acme.apiKey } }, /^malformed token/],
        [{ query: { token: "garbage" } }, /^malformed token/],
      ];
      for (const [opts, expected] of cases) {
        const err = await gw.connect({ transports, ...opts }).then(
          () => assert.fail(`connected with ${JSON.stringify(opts)}`),
          (e) => e,
        );
        if (expected instanceof RegExp) assert.match(err.message, expected);
        else assert.equal(err.message, expected);
      }
    });
  });
}

test("development mode admits token-less sockets only when switched on", async () => {
  const dev = await Gateway.start({ WAGATE_AUTH__DEV_NO_AUTH_TENANT: "devco" });
  try {
    const devco = await dev.tenant("devco");
    const s = await dev.connect({ transports: ["websocket"] });
    const log = record(s);
    await dev.api("POST", "/api/v1/sessions", devco.apiKey, { id: "d1" });
    assert.equal((await log.waitFor("session.status")).sessionId, "d1");
    // A bad token is still refused: dev mode is not a fallback for failures.
    const err = await dev.connect({ auth: { token: "bad" } }).then(() => null, (e) => e);
    assert.match(err.message, /^malformed token/);
  } finally {
    await dev.close();
  }
});
