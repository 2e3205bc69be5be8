// Cluster mode, end to end: gateway processes on one PostgreSQL schema, each session run by
// one of them. Clients connected to any node get every event of their sessions in seq order,
// a REST command sent to any node is answered by the node that runs the session, and when that
// node is killed another one runs the session within seconds, with no new QR, its clients
// losing nothing. Needs PostgreSQL (WAGATE_E2E_DATABASE_URL, which scripts/test.sh sets when
// PostgreSQL answers on 127.0.0.1:5432).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Gateway, ADMIN, bindPlugin, clusterNodeEnv, emitWithAck, exampleNodeEnv, installPlugin, onPostgres, sleep, testPlugin } from "./lib/gateway.mjs";

const skip = onPostgres()
  ? false
  : "cluster mode needs PostgreSQL: WAGATE_E2E_DATABASE_URL is not set (scripts/test.sh sets it when PostgreSQL answers on 127.0.0.1:5432)";

const schema = `wagate_e2e_cluster_${process.pid}_${Date.now() % 1e6}`;
const nodeEnv = (id) => clusterNodeEnv(schema, id);

const seqs = (log) => log.filter((e) => typeof e.payload?.seq === "number").map((e) => e.payload.seq);
const received = (log, session) =>
  log.filter((e) => e.name === "message.received" && e.payload.sessionId === session).map((e) => e.payload.message.content);

function strictlyIncreasing(list, what) {
  for (let i = 1; i < list.length; i++) assert.ok(list[i] > list[i - 1], `${what}: seq ${list[i]} after ${list[i - 1]}`);
}

async function waitUntil(what, check, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`not within ${timeoutMs} ms: ${what}`);
}

describe("cluster mode", { skip }, () => {
  let a, b, acme;
  before(async () => {
    a = await Gateway.start(nodeEnv("a"));
    acme = await a.tenant("acme");
    b = await Gateway.start(nodeEnv("b"));
    await a.connectedSession(acme, "on-a", "+15550007001");
    await b.connectedSession(acme, "on-b", "+15550007002");
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  const inbound = (gw, session, text) =>
    gw.api("POST", `/api/v1/sim/sessions/${session}/inbound`, acme.apiKey, { from: "+628123456789", text });

  test("each node shows the others, where they are reached and the plugins they serve", async () => {
    const r = await b.api("GET", "/api/v1/cluster/nodes", ADMIN);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.thisNode, "b");
    const byId = Object.fromEntries(r.body.nodes.map((n) => [n.id, n]));
    assert.deepEqual(Object.keys(byId).sort(), ["a", "b"]);
    assert.equal(byId.a.url, a.url);
    assert.equal(byId.b.url, b.url);
    assert.ok(Array.isArray(byId.a.plugins), JSON.stringify(byId.a));
    const tenantKey = await b.api("GET", "/api/v1/cluster/nodes", acme.apiKey);
    assert.equal(tenantKey.status, 401, "the cluster is the operator's");
  });

  test("a REST command sent to any node is answered by the node that runs the session", async () => {
    // A send is queued in the store by whichever node takes it; the node running the session
    // hears of it through the cluster feed and sends it.
    const sent = await b.api("POST", "/api/v1/sessions/on-a/messages", acme.apiKey, { to: "+628123456789", text: "via b" });
    assert.equal(sent.status, 202, JSON.stringify(sent));
    let status;
    await waitUntil("the send queued on b goes out from a", async () => {
      status = (await b.api("GET", `/api/v1/sessions/on-a/messages/${sent.body.id}`, acme.apiKey)).body.status;
      return ["SENT", "DELIVERED", "READ"].includes(status);
    });
    // An operation on the live connection is forwarded to the node that has it.
    const reacted = await b.api("PUT", `/api/v1/sessions/on-a/messages/${sent.body.id}/reaction`, acme.apiKey, { emoji: "👍" });
    assert.ok(reacted.status < 300, JSON.stringify(reacted));
    assert.equal(reacted.headers.get("wagate-answered-by"), "a");
    const simulated = await inbound(b, "on-a", "inbound via b");
    assert.ok(simulated.status < 300, JSON.stringify(simulated));
    assert.equal(simulated.headers.get("wagate-answered-by"), "a");
    const own = await inbound(a, "on-a", "inbound on a");
    assert.equal(own.headers.get("wagate-answered-by"), null, "a node answers for its own sessions");
    const refused = await b.api("POST", "/api/v1/sessions/on-a/messages", "wga_not-a-key", { to: "+628123456789", text: "x" });
    assert.equal(refused.status, 401, "a bad credential is refused before anything is forwarded");
  });

  test("a client on either node gets every event of both nodes' sessions, in seq order", async () => {
    const clients = [];
    for (const gw of [a, b]) {
      const c = await gw.connect({ transports: ["websocket"], auth: { token: await gw.token(acme) } });
      for (const s of ["on-a", "on-b"]) await emitWithAck(c, "session.subscribe", s);
      clients.push(c);
    }
    const EACH = 30;
    await Promise.all([
      (async () => {
        for (let i = 0; i < EACH; i++) assert.ok((await inbound(a, "on-a", `a${i}`)).status < 300);
      })(),
      (async () => {
        for (let i = 0; i < EACH; i++) assert.ok((await inbound(b, "on-b", `b${i}`)).status < 300);
      })(),
    ]);
    for (const c of clients) {
      // An earlier test's last inbound may still have been on its way when this client came.
      const ours = (session, prefix) => received(c.log, session).filter((t) => new RegExp(`^${prefix}\\d+$`).test(t));
      await waitUntil("every message at every client", () => ours("on-a", "a").length + ours("on-b", "b").length >= 2 * EACH);
      assert.deepEqual(ours("on-a", "a"), [...Array(EACH).keys()].map((i) => `a${i}`));
      assert.deepEqual(ours("on-b", "b"), [...Array(EACH).keys()].map((i) => `b${i}`));
      strictlyIncreasing(seqs(c.log), "events at one client");
    }
  });

  test("every node serves the same plugin build; a client's plugin sends for a session another node runs, and reaches a room's sockets on every node", async () => {
    for (const gw of [a, b]) installPlugin(testPlugin("relay"), join(gw.dataDir, "plugins"));
    await waitUntil("both nodes serve relay, the same build", async () => {
      const nodes = (await b.api("GET", "/api/v1/cluster/nodes", ADMIN)).body.nodes;
      const builds = nodes.map((n) => n.plugins.find((p) => p.name === "relay")?.sha256);
      return builds.length === 2 && builds[0] && builds[0] === builds[1];
    }, 30000);
    await bindPlugin(a, acme, "relay", { label: "cluster" });
    const c = await b.connect({ transports: ["websocket"], auth: { token: await b.token(acme) } });
    await emitWithAck(c, "session.subscribe", "on-a");
    // The binding made on a applies on b within a moment.
    await waitUntil("b runs relay for the tenant", async () => {
      c.emit("relay:send", { session: "on-a", to: "+628123456789", text: "from a socket on b" });
      await sleep(200);
      return c.log.some((e) => e.name === "relay:message.sent" && e.payload.original.message.content === "from a socket on b");
    });
    // The relay's transform (run on b for b's sockets) renames the canonical events.
    const sent = c.log.find((e) => e.name === "relay:message.sent" && e.payload.original.message.content === "from a socket on b").payload.original;
    await c.log.waitFor("relay:message.status", (p) => p.original.messageId === sent.message.id && p.original.status === "SENT", 8000);
    assert.deepEqual(c.log.filter((e) => e.name === "error" && e.payload?.code === "send_failed"), [], "no refused send");

    // A plugin's message to a room reaches the room's sockets on every node.
    const onA = await a.connect({ transports: ["websocket"], auth: { token: await a.token(acme, "user-2") } });
    await onA.log.waitFor("relay:hello");
    onA.emit("relay:join", "lobby");
    await sleep(200);
    c.emit("relay:room", { room: "lobby", text: "across nodes" });
    assert.equal(await onA.log.waitFor("relay:said", (p) => p === "across nodes"), "across nodes");
    const unbound = await a.api("DELETE", "/api/v1/tenant/plugins/relay", acme.apiKey);
    assert.equal(unbound.status, 204, JSON.stringify(unbound));
    await sleep(500); // the change reaches b
  });

  test("a node started with the deployment examples' settings (compose, Kubernetes) joins the cluster", async () => {
    for (const file of ["compose.yaml", "kubernetes.yaml"]) {
      const env = exampleNodeEnv(file, "wagate-1");
      assert.equal(env.WAGATE_CLUSTER__ENABLED, "true", file);
      // The example's own database, listener and plugin folder are replaced by the test's.
      for (const own of ["WAGATE_DATABASE_URL", "WAGATE_LISTEN", "WAGATE_PLUGINS__DIR"]) delete env[own];
      const node = await Gateway.start({ WAGATE_DATABASE_SCHEMA: schema, ...env });
      try {
        await waitUntil(`${file}: the node in the cluster's list`, async () => {
          const nodes = (await b.api("GET", "/api/v1/cluster/nodes", ADMIN)).body.nodes;
          const it = nodes.find((n) => n.id === "wagate-1");
          return it && it.url === env.WAGATE_CLUSTER__ADVERTISE_URL;
        });
      } finally {
        await node.close();
      }
    }
  });

  test("when the node running a session is killed, another runs it within 10 s and its clients lose nothing", async () => {
    const c = await b.connect({ transports: ["websocket"], auth: { token: await b.token(acme) } });
    await emitWithAck(c, "session.subscribe", "on-a");
    await inbound(a, "on-a", "before the kill");
    await waitUntil("the last message before the kill", () => received(c.log, "on-a").includes("before the kill"));
    const lastSeen = Math.max(...seqs(c.log));

    await a.kill();
    const killedAt = Date.now();
    // Sent to b while the lease runs out: refused as unreachable (retry), or answered by b
    // once it took the session over; never run twice.
    let moved;
    await waitUntil("b runs the session", async () => {
      const r = await inbound(b, "on-a", "after the kill");
      if (r.status < 300) return (moved = Date.now() - killedAt);
      assert.ok([503, 409].includes(r.status), JSON.stringify(r));
      await sleep(100);
      return false;
    });
    assert.ok(moved < 10000, `moved after ${moved} ms`);
    const session = await b.waitStatus(acme, "on-a", "CONNECTED");
    assert.equal(session.phone, "+15550007001", "resumed with its stored credentials, no new QR");
    await waitUntil("the message b took", () => received(c.log, "on-a").includes("after the kill"));
    assert.equal(received(c.log, "on-a").filter((t) => t === "after the kill").length, 1, "once");

    // A client that was on the dead node resumes on the live one from its last seq.
    const resumed = await b.connect({ transports: ["websocket"], auth: { token: await b.token(acme), lastSeq: lastSeen, sessions: ["on-a"] } });
    await resumed.log.waitFor("message.received", (p) => p.message.content === "after the kill");
    const replay = await resumed.log.waitFor("session.resumed");
    assert.equal(replay.fromSeq, lastSeen + 1);
    strictlyIncreasing(seqs(resumed.log), "a resumed client's events");
  });
});
