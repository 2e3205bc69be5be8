// The trust boundaries, tried as an attacker would against the real binary: one test per hole
// of the review (docs/auth.md says what the rules are), over both transports where a socket
// is involved. Each asserts the refusal and that nothing leaked or changed.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import {
  ADMIN,
  Gateway,
  TRANSPORTS,
  bindPlugin,
  emitWithAck,
  now,
  shippedPlugins,
  onPostgres,
  signHS256,
  sleep,
} from "./lib/gateway.mjs";

const MiB = 1024 * 1024;

function rawPost(gw, path, token) {
  return new Promise((resolve, reject) => {
    const req = request(gw.url + "/", { method: "POST", path, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
    });
    req.on("error", reject);
    req.end();
  });
}

function rssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(status.match(/VmRSS:\s+(\d+) kB/)[1]);
}

/** Resolves with the socket's `error` events and its disconnect reason once it is closed by the server. */
function closedByServer(socket, timeout = 5000) {
  const errors = [];
  socket.on("error", (e) => errors.push(e));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still connected after ${timeout} ms`)), timeout);
    socket.once("disconnect", (reason) => {
      clearTimeout(timer);
      resolve({ reason, errors });
    });
  });
}

describe("hole 1: pre-auth memory exhaustion over WebSocket", () => {
  let gw;
  before(async () => (gw = await Gateway.start()));
  after(() => gw.close());

  test("twenty 15 MiB messages in parallel: every connection closed, RSS within 50 MiB", async () => {
    const before = rssKiB(gw.proc.pid);
    const huge = "40" + JSON.stringify({ token: "x".repeat(15 * MiB) });
    const url = gw.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket";
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () =>
        new Promise((resolve) => {
          const ws = new WebSocket(url);
          ws.on("open", () => ws.send(huge));
          ws.on("error", () => {});
          ws.on("close", (code) => resolve(code));
          setTimeout(() => resolve("open"), 15000);
        }),
      ),
    );
    assert.ok(outcomes.every((c) => c !== "open"), `not every connection was closed: ${outcomes}`);
    const grown = (rssKiB(gw.proc.pid) - before) / 1024;
    assert.ok(grown < 50, `RSS grew by ${grown.toFixed(1)} MiB`);
    // The gateway still serves.
    assert.equal((await gw.api("GET", "/healthz")).status, 200);
  });

  test("a message just over max_body_bytes closes the transport", async () => {
    const url = gw.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket";
    const code = await new Promise((resolve) => {
      const ws = new WebSocket(url);
      ws.on("open", () => ws.send("40" + JSON.stringify({ token: "x".repeat(300 * 1024) })));
      ws.on("error", () => {});
      ws.on("close", (c) => resolve(c));
    });
    assert.ok(typeof code === "number", "closed by the server");
  });
});

describe("hole 2: a user token is not the tenant's administrator", () => {
  let gw, acme, user;
  before(async () => {
    gw = await Gateway.start();
    acme = await gw.tenant("acme");
    await gw.connectedSession(acme, "s1");
    user = await gw.token(acme, "user-1");
  });
  after(() => gw.close());

  test("administration is refused and changes nothing", async () => {
    for (const [method, path, body] of [
      ["POST", "/api/v1/sessions", { id: "mine" }],
      ["DELETE", "/api/v1/sessions/s1"],
      ["POST", "/api/v1/sessions/s1/logout", {}],
      ["POST", "/api/v1/sessions/s1/disconnect", {}],
      ["PUT", "/api/v1/tenant/plugins/relay", { config: {} }],
      ["PATCH", "/api/v1/tenant", { sessionAccess: "all" }],
      ["POST", "/api/v1/sim/sessions/s1/inbound", { from: "+15559990000", text: "forged" }],
    ]) {
      const r = await gw.api(method, path, user, body);
      assert.equal(r.status, 403, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, "forbidden");
    }
    const sessions = await gw.api("GET", "/api/v1/sessions", acme.apiKey);
    assert.deepEqual(sessions.body.map((s) => [s.id, s.status]), [["s1", "CONNECTED"]]);
    const chats = await gw.api("GET", "/api/v1/sessions/s1/chats", acme.apiKey);
    assert.deepEqual(chats.body, [], "no forged inbound message");
  });

  for (const transports of TRANSPORTS) {
    test(`sessionAccess 'owned' over ${transports[0]}: subscribe refused, then revoked while subscribed`, async () => {
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: `own-${transports[0]}`, owner: "ana" });
      const ana = await gw.connect({ transports, auth: { token: await gw.token(acme, "ana") } });
      const bob = await gw.connect({ transports, auth: { token: await gw.token(acme, "bob") } });
      assert.equal((await emitWithAck(bob, "session.subscribe", "s1")).ok, true, "default 'all'");
      await gw.api("PATCH", "/api/v1/tenant", acme.apiKey, { sessionAccess: "owned" });
      const revoked = await bob.log.waitFor("session.unsubscribed");
      assert.deepEqual(revoked, { sessionId: "s1", reason: "access_revoked" });
      const ack = await emitWithAck(bob, "session.subscribe", `own-${transports[0]}`);
      assert.equal(ack.error.code, "session_not_found");
      assert.equal((await emitWithAck(ana, "session.subscribe", `own-${transports[0]}`)).ok, true);
      // Bob hears nothing of s1 any more.
      await gw.api("POST", "/api/v1/sim/sessions/s1/inbound", acme.apiKey, { from: "+15559990001", text: "x" });
      await sleep(200);
      assert.ok(!bob.log.names().includes("message.received"), JSON.stringify(bob.log.names()));
      await gw.api("PATCH", "/api/v1/tenant", acme.apiKey, { sessionAccess: "all" });
    });
  }
});

describe("hole 2: a dialect plugin joins a socket only to sessions its user may use", () => {
  let gw, acme;
  before(async () => {
    gw = await Gateway.start({ WAGATE_PLUGINS__DIR: shippedPlugins() });
    acme = await gw.tenant("acme");
    await bindPlugin(gw, acme, "dialect-instance", {});
    await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: "anas", owner: "ana" });
    await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: "bobs", owner: "bob" });
    await gw.api("PATCH", "/api/v1/tenant", acme.apiKey, { sessionAccess: "owned" });
  });
  after(() => gw.close());

  for (const transports of TRANSPORTS) {
    test(`over ${transports[0]}: subscribe:instance to another user's session is refused, to one's own accepted`, async () => {
      const ana = await gw.connect({ transports, auth: { token: await gw.token(acme, "ana") } });
      ana.emit("subscribe:instance", "bobs");
      const refused = await ana.log.waitFor("instance:error", (e) => e.instanceId === "bobs");
      assert.equal(refused.code, "INSTANCE_NOT_FOUND");
      ana.emit("subscribe:instance", "anas");
      await sleep(150);
      await gw.api("POST", "/api/v1/sessions/bobs/connect", acme.apiKey, {});
      await gw.api("POST", "/api/v1/sessions/anas/connect", acme.apiKey, {});
      await ana.log.waitFor("instance:qr:generated", (e) => e.instanceId === "anas");
      await sleep(200);
      const leaked = ana.log.filter((e) => e.payload?.instanceId === "bobs" && e.name !== "instance:error");
      assert.deepEqual(leaked, [], "nothing of bob's session reached ana");
      await gw.api("POST", "/api/v1/sessions/bobs/disconnect", acme.apiKey);
      await gw.api("POST", "/api/v1/sessions/anas/disconnect", acme.apiKey);
    });
  }
});

describe("hole 3: cross-site WebSocket hijacking with the cookie token", () => {
  const APP = "https://app.acme.test";
  let listed, open, acme, openAcme;
  before(async () => {
    listed = await Gateway.start({ WAGATE_CORS_ORIGINS: APP });
    open = await Gateway.start();
    acme = await listed.tenant("acme");
    openAcme = await open.tenant("acme");
  });
  after(async () => {
    await listed.close();
    await open.close();
  });

  for (const transports of TRANSPORTS) {
    const t = transports[0];
    test(`over ${t}: a cookie token from a foreign page is refused; from the listed origin admitted`, async () => {
      const cookie = `token=${await listed.token(acme, "victim")}`;
      const evil = await listed.connect({ transports, extraHeaders: { cookie, origin: "https://evil.test" } }).then(
        () => null,
        (e) => e,
      );
      assert.match(evil.message, /origin 'https:\/\/evil.test' is not in cors_origins/);
      const noOrigin = await listed.connect({ transports, extraHeaders: { cookie } }).then(() => null, (e) => e);
      assert.match(noOrigin.message, /needs the page's Origin/);
      const ok = await listed.connect({ transports, extraHeaders: { cookie, origin: APP } });
      assert.ok(ok.connected);
    });

    test(`over ${t}: with cors_origins '*' cookie tokens are refused, naming the setting; header tokens work`, async () => {
      const token = await open.token(openAcme, "victim");
      const err = await open
        .connect({ transports, extraHeaders: { cookie: `token=${token}`, origin: "https://any.test" } })
        .then(() => null, (e) => e);
      assert.match(err.message, /cors_origins is '\*'/);
      const s = await open.connect({ transports, extraHeaders: { origin: "https://any.test" }, auth: { token } });
      assert.ok(s.connected);
    });
  }
});

describe("hole 4: a socket loses its rights", () => {
  let gw;
  before(async () => (gw = await Gateway.start({ WAGATE_AUTH__LEEWAY_SECS: "0" })));
  after(() => gw.close());

  for (const transports of TRANSPORTS) {
    const t = transports[0];
    test(`over ${t}: disconnected when its token expires`, async () => {
      const acme = await gw.tenant(`exp-${t}`);
      const socket = await gw.connect({ transports, auth: { token: await gw.token(acme, "u", undefined, 2) } });
      const { reason, errors } = await closedByServer(socket, 5000);
      assert.equal(reason, "io server disconnect");
      assert.deepEqual(errors, [{ code: "token_expired", message: "token expired" }]);
    });

    test(`over ${t}: disconnected when its tenant is deleted; a re-created tenant leaks nothing to it`, async () => {
      const id = `del-${t}`;
      const first = await gw.tenant(id);
      const socket = await gw.connect({ transports, auth: { token: await gw.token(first, "u") } });
      const closed = closedByServer(socket);
      assert.equal((await gw.api("DELETE", `/api/v1/tenants/${id}`, ADMIN)).status, 204);
      const { reason, errors } = await closed;
      assert.equal(reason, "io server disconnect");
      assert.equal(errors[0].code, "tenant_deleted");
      const again = await gw.tenant(id);
      await gw.api("POST", "/api/v1/sessions", again.apiKey, { id: "s" });
      await sleep(150);
      assert.ok(!socket.log.names().includes("session.status"), JSON.stringify(socket.log.names()));
    });

    test(`over ${t}: rotating the JWT secret disconnects its sockets after the grace period`, async () => {
      const acme = await gw.tenant(`rot-${t}`);
      const oldToken = await gw.token(acme, "u");
      const socket = await gw.connect({ transports, auth: { token: oldToken } });
      const closed = closedByServer(socket, 6000);
      const r = await gw.api("POST", "/api/v1/tenant/rotate", acme.apiKey, { jwtSecret: true, graceSeconds: 1 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.jwtSecret && !r.body.apiKey);
      // During the grace period the old token still works, on REST and sockets.
      assert.equal((await gw.api("GET", "/api/v1/sessions", oldToken)).status, 200);
      assert.ok(socket.connected);
      const { errors } = await closed;
      assert.equal(errors[0].code, "credentials_rotated");
      const refused = await gw.api("GET", "/api/v1/sessions", oldToken);
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error.code, "invalid_token");
      assert.equal((await gw.api("GET", "/api/v1/sessions", await gw.token(acme, "u"))).status, 200);
    });

    test(`over ${t}: a deleted session's subscribers are unsubscribed`, async () => {
      const acme = await gw.tenant(`sess-${t}`);
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: "gone" });
      const socket = await gw.connect({ transports, auth: { token: await gw.token(acme, "u") } });
      assert.equal((await emitWithAck(socket, "session.subscribe", "gone")).ok, true);
      await gw.api("DELETE", "/api/v1/sessions/gone", acme.apiKey);
      assert.deepEqual(await socket.log.waitFor("session.unsubscribed"), { sessionId: "gone", reason: "session_deleted" });
      // A new session of the same id is not delivered to the old subscription.
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: "gone" });
      await gw.api("POST", "/api/v1/sessions/gone/connect", acme.apiKey, {});
      await sleep(200);
      assert.ok(!socket.log.names().includes("session.qr"), JSON.stringify(socket.log.names()));
    });
  }

  test("rotating the API key: the old key stops at once without a grace period", async () => {
    const acme = await gw.tenant("rot-key");
    const r = await gw.api("POST", "/api/v1/tenant/rotate", acme.apiKey, { apiKey: true });
    assert.equal(r.status, 200);
    assert.equal((await gw.api("GET", "/api/v1/sessions", acme.apiKey)).status, 401);
    assert.equal((await gw.api("GET", "/api/v1/sessions", r.body.apiKey)).status, 200);
    const user = await gw.api("POST", "/api/v1/tokens", r.body.apiKey, { sub: "u" });
    const byUser = await gw.api("POST", "/api/v1/tenant/rotate", user.body.token, { apiKey: true });
    assert.equal(byUser.status, 403);
  });
});

describe("hole 5: issuer and audience required, uniform refusals", () => {
  let gw;
  before(async () => (gw = await Gateway.start()));
  after(() => gw.close());

  test("a tenant with iss/aud configured refuses tokens without them; probes all read 'invalid token'", async () => {
    const acme = await gw.tenant("acme");
    await gw.api("PATCH", "/api/v1/tenants/acme", ADMIN, { jwt: { issuer: "https://id.acme.test", audience: "wagate" } });
    const exp = now() + 60;
    const noIss = await signHS256(acme.jwtSecret, { sub: "u", tenant: "acme", aud: "wagate", exp });
    const err = await gw.connect({ auth: { token: noIss } }).then(() => null, (e) => e);
    assert.equal(err.message, "wrong issuer");
    const probes = [
      await signHS256("guess", { sub: "u", tenant: "acme", exp }),
      await signHS256("guess", { sub: "u", tenant: "nobody", exp }),
    ];
    for (const token of probes) {
      const e = await gw.connect({ auth: { token } }).then(() => null, (x) => x);
      assert.equal(e.message, "invalid token");
    }
  });
});

describe("hole 6: secrets readable by every local user", () => {
  test("a fresh data directory is 0700 with its files 0600; an open one is repaired at start", async () => {
    const gw = await Gateway.start();
    await gw.tenant("acme");
    const mode = (p) => statSync(p).mode & 0o777;
    // On PostgreSQL there is no database file; the directory still holds the rest.
    const files = onPostgres() ? [] : ["wagate.db", "wagate.db-wal", "wagate.db-shm"];
    assert.equal(mode(gw.dataDir), 0o700);
    for (const f of files) {
      assert.equal(mode(join(gw.dataDir, f)), 0o600, f);
    }
    await gw.stop();
    chmodSync(gw.dataDir, 0o755);
    if (files.length) chmodSync(join(gw.dataDir, "wagate.db"), 0o644);
    await gw.launch();
    assert.equal(mode(gw.dataDir), 0o700);
    if (files.length) assert.equal(mode(join(gw.dataDir, "wagate.db")), 0o600);
    await gw.close();
  });
});

describe("hole 7: quotas", () => {
  let gw, acme;
  before(async () => {
    gw = await Gateway.start();
    acme = await gw.tenant("acme");
    const r = await gw.api("PATCH", "/api/v1/tenants/acme", ADMIN, {
      quotas: { maxSocketsPerUser: 2, maxSubscriptionsPerSocket: 2, subscribesPerMinute: 4, maxSessions: 3 },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    for (const id of ["a", "b", "c"]) await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id });
  });
  after(() => gw.close());

  for (const transports of TRANSPORTS) {
    const t = transports[0];
    test(`over ${t}: sockets per user, then the place is given back on disconnect`, async () => {
      const token = await gw.token(acme, `many-${t}`);
      const first = await gw.connect({ transports, auth: { token } });
      await gw.connect({ transports, auth: { token } });
      const err = await gw.connect({ transports, auth: { token } }).then(() => null, (e) => e);
      assert.equal(err.message, "quota exceeded: sockets per user (limit 2)");
      // Another user of the tenant is not affected.
      await gw.connect({ transports, auth: { token: await gw.token(acme, `other-${t}`) } });
      first.disconnect();
      await sleep(100);
      const again = await gw.connect({ transports, auth: { token } });
      assert.ok(again.connected);
    });

    test(`over ${t}: subscriptions per socket and the subscribe rate`, async () => {
      const socket = await gw.connect({ transports, auth: { token: await gw.token(acme, `sub-${t}`) } });
      assert.equal((await emitWithAck(socket, "session.subscribe", "a")).ok, true);
      assert.equal((await emitWithAck(socket, "session.subscribe", "b")).ok, true);
      const third = await emitWithAck(socket, "session.subscribe", "c");
      assert.equal(third.error.code, "quota_exceeded");
      assert.equal(third.error.message, "quota exceeded: subscriptions per socket (limit 2)");
      // Re-subscribing to a session it has is no new subscription; the rate still counts it.
      assert.equal((await emitWithAck(socket, "session.subscribe", "a")).ok, true);
      const fast = await emitWithAck(socket, "session.subscribe", "a");
      assert.equal(fast.error.code, "quota_exceeded");
      assert.match(fast.error.message, /session.subscribe per minute \(limit 4\); retry in \d+ s/);
      const error = await socket.log.waitFor("error", (e) => e.code === "quota_exceeded");
      assert.equal(error.event, "session.subscribe");
    });
  }

  test("sessions per tenant and REST rate over HTTP, with Retry-After", async () => {
    const r = await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: "d" });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, "quota_exceeded");
    const other = await gw.tenant("other");
    await gw.api("PATCH", "/api/v1/tenants/other", ADMIN, { quotas: { requestsPerMinute: 2 } });
    await gw.api("GET", "/api/v1/sessions", other.apiKey);
    await gw.api("GET", "/api/v1/sessions", other.apiKey);
    const res = await fetch(gw.url + "/api/v1/sessions", { headers: { authorization: `Bearer ${other.apiKey}` } });
    assert.equal(res.status, 429);
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
    assert.equal((await res.json()).error.code, "quota_exceeded");
    assert.equal((await gw.api("GET", "/api/v1/sessions", acme.apiKey)).status, 200, "acme has its own budget");
  });
});

describe("hole 8: the simulator is off unless switched on", () => {
  test("sim routes 404 and connector 'sim' refused; sessions default to whatsapp", async () => {
    const gw = await Gateway.start({ WAGATE_SIM__ENABLED: "false" });
    try {
      const acme = await gw.tenant("acme");
      const sim = await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: "s", connector: "sim" });
      assert.equal(sim.status, 422);
      assert.equal(sim.body.error.code, "unknown_connector");
      const inbound = await gw.api("POST", "/api/v1/sim/sessions/s/inbound", acme.apiKey, { from: "+1555", text: "x" });
      assert.equal(inbound.status, 404);
      assert.equal(inbound.body.error.code, "route_not_found");
      const plain = await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: "w" });
      assert.equal(plain.body.connector, "whatsapp");
      await gw.api("DELETE", "/api/v1/sessions/w", acme.apiKey);
    } finally {
      await gw.close();
    }
  });
});

describe("hole 9: smaller ones", () => {
  test("a short admin key stops the gateway at start, with the reason", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "wagate-e2e-"));
    try {
      const proc = spawn(process.env.WAGATE_BIN, ["serve"], {
        env: { ...process.env, WAGATE_ADMIN_KEY: "x", WAGATE_DATA_DIR: dataDir, WAGATE_LISTEN: "127.0.0.1:0" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let err = "";
      proc.stderr.on("data", (c) => (err += c));
      const code = await new Promise((r) => proc.once("exit", r));
      assert.notEqual(code, 0);
      assert.match(err, /admin_key must be at least 32/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("'.', '..' and '...' are not ids: no reload outside the plugins folder, no such tenant", async () => {
    const gw = await Gateway.start();
    try {
      mkdirSync(join(gw.dataDir, "plugins"), { recursive: true });
      writeFileSync(join(gw.dataDir, "plugin.toml"), 'name = "x"\n');
      for (const id of [".", "..", "...", ".hidden"]) {
        // Raw HTTP: fetch would resolve the dot segments itself and never send them.
        const r = await rawPost(gw, `/api/v1/plugins/${id}/reload`, ADMIN);
        assert.ok([404, 422].includes(r.status), `${id}: ${JSON.stringify(r.body)}`);
        if (r.status === 422) assert.equal(r.body.error.code, "invalid_name");
        const t = await gw.api("POST", "/api/v1/tenants", ADMIN, { id, name: "dots" });
        assert.equal(t.status, 422, `${id}: ${JSON.stringify(t.body)}`);
      }
      assert.equal((await gw.api("GET", "/api/v1/tenants", ADMIN)).body.length, 0);
    } finally {
      await gw.close();
    }
  });

  test("a huge token lifetime is refused, not a panic", async () => {
    const gw = await Gateway.start();
    try {
      const acme = await gw.tenant("acme");
      const r = await gw.api("POST", "/api/v1/tokens", acme.apiKey, { sub: "u", ttlSeconds: 9223372036854775807 });
      assert.equal(r.status, 422);
      assert.equal(r.body.error.code, "invalid_ttl");
      assert.equal((await gw.api("GET", "/healthz")).status, 200);
    } finally {
      await gw.close();
    }
  });
});
