// The cluster's proof: three gateway processes on one PostgreSQL schema run 300 simulated
// sessions of one tenant while messages flow at 100/s through all of them (inbound from a
// contact and sends to the contact, by turns). The node running a third of the sessions is
// killed (-9): each of its sessions must be running on another node within 10 s, every inbound
// message acknowledged (by any node, the dead one included) must be in the journal once, every accepted send handed to WhatsApp
// and none twice, and clients (one per node, the dead node's resuming on another) must get every event
// of their sessions in seq order. Then a rolling restart of the three nodes must lose nothing.
// Needs PostgreSQL (WAGATE_E2E_DATABASE_URL, set by scripts/test.sh when it answers).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Gateway, ADMIN, clusterNodeEnv, emitWithAck, inParallel, onPostgres, sleep } from "./lib/gateway.mjs";

const skip = onPostgres()
  ? false
  : "cluster mode needs PostgreSQL: WAGATE_E2E_DATABASE_URL is not set (scripts/test.sh sets it when PostgreSQL answers on 127.0.0.1:5432)";

const SESSIONS = Number(process.env.WAGATE_E2E_CLUSTER_SESSIONS ?? 300);
const RATE_PER_S = 100;
const FAILOVER_LIMIT_MS = 10000;
const CONTACT = "+628123456789";
// An inbound made again after a refusal keeps its WhatsApp id, so it is stored once.
const waId = (text) => `W${Buffer.from(text).toString("hex")}`;
const schema = `wagate_e2e_proof_${process.pid}_${Date.now() % 1e6}`;
const nodeEnv = (id) =>
  clusterNodeEnv(schema, id, { WAGATE_QUOTAS__MAX_SESSIONS: String(SESSIONS), WAGATE_SESSIONS__RESUME_STAGGER_MS: "5" });

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

describe("cluster proof: three nodes, 300 sessions", { skip }, () => {
  const nodes = {};
  const sessions = []; // {id, node}
  let acme;

  before(async () => {
    for (const id of ["a", "b", "c"]) nodes[id] = await Gateway.start(nodeEnv(id));
    acme = await nodes.a.tenant("acme");
    // Each node creates and links a third of the sessions, so it runs them.
    const plan = Array.from({ length: SESSIONS }, (_, i) => ({ id: `s${i}`, node: "abc"[i % 3], phone: `+1555${String(i).padStart(7, "0")}` }));
    await inParallel(plan, 12, async (s) => {
      await nodes[s.node].connectedSession(acme, s.id, s.phone);
      sessions.push(s);
    });
  });
  after(async () => {
    for (const gw of Object.values(nodes)) await gw.close();
  });

  const alive = () => Object.entries(nodes).filter(([, gw]) => gw.ready);

  /** RATE_PER_S messages a second, every session in turn, through the nodes alive in turn:
   *  inbound from a contact and sends to the contact, one each by turns. One refused while its
   *  session moves is made again (a send with the same Idempotency-Key, so it is one send).
   *  `acked`: inbound text -> node; `sent`: send text -> {session, id}. */
  function traffic(prefix) {
    const acked = new Map();
    const sent = new Map();
    let stop = false;
    let k = 0;
    const pending = [];
    const inflight = new Set();
    const make = async (kind, text, session) => {
      const live = alive();
      const [via, gw] = live[Math.floor(Math.random() * live.length)];
      try {
        const r =
          kind === "in"
            ? await gw.api("POST", `/api/v1/sim/sessions/${session}/inbound`, acme.apiKey, { from: CONTACT, text, waMessageId: waId(text) })
            : await gw.api("POST", `/api/v1/sessions/${session}/messages`, acme.apiKey, { to: CONTACT, text }, { "idempotency-key": text });
        if (r.status === 202 && kind === "in") acked.set(text, r.headers.get("wagate-answered-by") ?? via);
        else if (r.status === 202) sent.set(text, { session, id: r.body.id });
        else if ([409, 503].includes(r.status)) pending.push([kind, text, session]); // moving, or not stored: again
        else throw new Error(`${kind} ${session}: ${r.status} ${JSON.stringify(r.body)}`);
      } catch (e) {
        if (e.message.startsWith(`${kind} `)) throw e;
        pending.push([kind, text, session]); // the node died under the request
      }
    };
    const start = (item) => {
      const p = make(...item).finally(() => inflight.delete(p));
      inflight.add(p);
    };
    const loop = (async () => {
      const started = Date.now();
      while (!stop) {
        const due = Math.floor(((Date.now() - started) * RATE_PER_S) / 1000);
        while (k < due) {
          start(pending.length ? pending.shift() : [k % 2 ? "out" : "in", `${prefix}${k}`, sessions[Math.floor(k / 2) % sessions.length].id]);
          k++;
        }
        await sleep(5);
      }
      while (pending.length || inflight.size) {
        await Promise.all([...inflight]);
        const again = pending.splice(0);
        again.forEach(start);
        if (again.length) await sleep(100);
      }
    })();
    return {
      async end() {
        stop = true;
        await loop;
        return { acked, sent };
      },
    };
  }

  /** The journal's events after `after`, read through `gw`. */
  async function journal(gw, after = 0) {
    const out = [];
    for (;;) {
      const page = (await gw.api("GET", `/api/v1/events?afterSeq=${after}&limit=1000`, acme.apiKey)).body;
      out.push(...page.events);
      if (page.events.length < 1000) return out;
      after = page.events.at(-1).seq;
    }
  }

  async function everyAckedMessageOnce(gw, acked) {
    await sleep(500);
    const counts = new Map();
    for (const e of await journal(gw)) {
      if (e.event === "message.received" && acked.has(e.payload.message.content)) counts.set(e.payload.message.content, (counts.get(e.payload.message.content) ?? 0) + 1);
    }
    const missing = [...acked.keys()].filter((text) => !counts.has(text));
    const twice = [...counts].filter(([, n]) => n > 1).map(([t]) => t);
    assert.deepEqual(missing, [], "acknowledged messages missing from the journal");
    assert.deepEqual(twice, [], "messages stored twice");
  }

  /** Every accepted send is stored once and handed to WhatsApp (it has its WhatsApp id), and
   *  never goes out as two messages: whatever a network carried of it carries its one WhatsApp
   *  id, and at most one SENT is recorded. One whose session never changed node (not in `moved`) is SENT;
   *  one the dead node had handed may have had its acknowledgement die with that node's
   *  simulated network, but is never handed again. */
  async function noSendTwice(gw, sent, moved) {
    const ids = new Map([...sent].map(([text, s]) => [s.id, { text, ...s }]));
    const handed = new Map(); // message id -> its WhatsApp id
    const settled = Date.now() + 20000;
    for (;;) {
      await inParallel([...ids].filter(([id]) => !handed.has(id)), 8, async ([id, s]) => {
        const r = await gw.api("GET", `/api/v1/sessions/${s.session}/messages/${id}`, acme.apiKey);
        if (r.status === 200 && r.body.waMessageId) handed.set(id, r.body.waMessageId);
      });
      if (handed.size === ids.size || Date.now() > settled) break;
      await sleep(500);
    }
    assert.deepEqual([...ids].filter(([id]) => !handed.has(id)).map(([, s]) => s.text), [], "every accepted send handed to WhatsApp");
    const stored = new Map();
    const sentStatus = new Map();
    for (const e of await journal(gw)) {
      if (e.event === "message.sent" && ids.has(e.payload.message.id)) stored.set(e.payload.message.id, (stored.get(e.payload.message.id) ?? 0) + 1);
      if (e.event === "message.status" && e.payload.status === "SENT" && ids.has(e.payload.messageId)) sentStatus.set(e.payload.messageId, (sentStatus.get(e.payload.messageId) ?? 0) + 1);
    }
    assert.deepEqual([...ids.keys()].filter((id) => stored.get(id) !== 1), [], "every accepted send stored once");
    assert.deepEqual([...sentStatus].filter(([, n]) => n > 1), [], "no send recorded SENT twice");
    const unsent = [...ids].filter(([id, s]) => !moved.has(s.session) && !sentStatus.has(id)).map(([, s]) => s.text);
    assert.deepEqual(unsent, [], "sends of sessions that kept their node are SENT");
    const bySession = new Map();
    for (const [id, s] of ids) bySession.set(s.session, [...(bySession.get(s.session) ?? []), { text: s.text, waId: handed.get(id) }]);
    let carriedAll = 0;
    let repeats = 0;
    await inParallel([...bySession], 8, async ([session, sends]) => {
      const r = await gw.api("GET", `/api/v1/sim/sessions/${session}/network`, acme.apiKey);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      for (const { text, waId } of sends) {
        const carried = r.body.filter((x) => x.op === "message" && x.text === text);
        // Handed again only where a node could not record the first hand-off (its lease moved
        // meanwhile): under the same WhatsApp id, which WhatsApp takes as the same message.
        assert.deepEqual([...new Set(carried.map((x) => x.waMessageId))].filter((w) => w !== waId), [], `session ${session}: '${text}' went out as another message`);
        carriedAll += carried.length ? 1 : 0;
        repeats += Math.max(0, carried.length - 1);
      }
    });
    console.log(`sends: ${ids.size} accepted, all handed to WhatsApp, ${sentStatus.size} SENT, ${carriedAll} on the live nodes' networks, none as two messages (${repeats} handed again under their WhatsApp id)`);
  }

  test("kill -9 of the node running a third: its sessions run elsewhere within 10 s, nothing acknowledged is lost, clients miss nothing", async () => {
    // One client per node, each subscribed to ten sessions of every node.
    const watched = [...sessions.filter((s) => s.node === "a").slice(0, 10), ...sessions.filter((s) => s.node === "b").slice(0, 10), ...sessions.filter((s) => s.node === "c").slice(0, 10)].map((s) => s.id);
    const clients = {};
    for (const [id, gw] of Object.entries(nodes)) {
      clients[id] = await gw.connect({ transports: ["websocket"], auth: { token: await gw.token(acme) } });
      for (const s of watched) await emitWithAck(clients[id], "session.subscribe", s);
    }
    const startSeq = Math.max(0, ...(await journal(nodes.b)).map((e) => e.seq));
    const run = traffic("kill-");
    await sleep(2000);
    const ofA = new Set(sessions.filter((s) => s.node === "a").map((s) => s.id));
    const seqOfA = Math.max(0, ...clients.a.log.filter((e) => typeof e.payload?.seq === "number").map((e) => e.payload.seq));
    await nodes.a.kill();
    const killedAt = Date.now();

    // Each of a's sessions is connected again on b or c: the first session.connected after the kill.
    let moved = new Map();
    const deadline = killedAt + FAILOVER_LIMIT_MS + 2000;
    while (moved.size < ofA.size && Date.now() < deadline) {
      for (const e of await journal(nodes.b, startSeq)) {
        const at = Date.parse(e.payload.timestamp);
        if (e.event === "session.connected" && ofA.has(e.payload.sessionId) && at >= killedAt && !moved.has(e.payload.sessionId)) {
          moved.set(e.payload.sessionId, at - killedAt);
        }
      }
      await sleep(250);
    }
    await sleep(2000);
    const { acked, sent } = await run.end();
    const times = [...moved.values()].sort((x, y) => x - y);
    console.log(
      `failover of ${ofA.size} sessions after kill -9: moved ${times.length}; ms min ${times[0]} p50 ${pct(times, 50)} p90 ${pct(times, 90)} max ${times.at(-1)}; ${acked.size} inbound acknowledged`,
    );
    assert.equal(moved.size, ofA.size, "every session of the dead node runs again");
    assert.ok(times.at(-1) <= FAILOVER_LIMIT_MS, `the last one moved after ${times.at(-1)} ms`);
    const live = await nodes.b.api("GET", "/api/v1/cluster/nodes", ADMIN);
    const shares = live.body.nodes.map((n) => `${n.id}:${n.sessions}`).join(" ");
    console.log(`sessions per node after the failover: ${shares}`);

    // An inbound is acknowledged once stored, so none is lost, whichever node acknowledged it.
    await everyAckedMessageOnce(nodes.b, acked);
    await noSendTwice(nodes.b, sent, ofA);

    // The clients of the live nodes got every event of their sessions, in order; the dead
    // node's client resumes on b from its last seq and gets what it missed.
    const resumed = await nodes.b.connect({ transports: ["websocket"], auth: { token: await nodes.b.token(acme), lastSeq: seqOfA, sessions: watched } });
    await resumed.log.waitFor("session.resumed", () => true, 10000);
    await sleep(500);
    const stored = (await journal(nodes.b, startSeq)).filter((e) => e.event === "message.received" && watched.includes(e.payload.sessionId));
    for (const [name, c] of [["b", clients.b], ["c", clients.c]]) {
      const got = c.log.filter((e) => e.name === "message.received" && e.payload.seq > startSeq).map((e) => e.payload.seq);
      assert.deepEqual(got, stored.map((e) => e.seq), `client on ${name}: every message of its sessions, in seq order`);
    }
    const got = resumed.log.filter((e) => e.name === "message.received").map((e) => e.payload.seq);
    assert.deepEqual(got, stored.filter((e) => e.seq > seqOfA).map((e) => e.seq), "the resumed client: what it missed, then live, in seq order");
  });

  test("a rolling restart of the three nodes loses nothing", async () => {
    await nodes.a.launch(60000);
    const run = traffic("rolling-");
    for (const id of ["a", "b", "c"]) {
      await sleep(1500);
      await nodes[id].stop();
      await nodes[id].launch(60000);
    }
    // Every session runs somewhere again.
    for (let i = 0; ; i++) {
      const r = await nodes.a.api("GET", "/api/v1/cluster/nodes", ADMIN);
      const running = r.body.nodes.reduce((n, node) => n + node.sessions, 0);
      if (running === SESSIONS) break;
      assert.ok(i < 150, `only ${running} of ${SESSIONS} sessions run again after the rolling restart`);
      await sleep(100);
    }
    const { acked, sent } = await run.end();
    console.log(`rolling restart: ${acked.size} inbound and ${sent.size} sends acknowledged`);
    await everyAckedMessageOnce(nodes.a, acked);
    // Every session changed node once, so a send's acknowledgement may have stopped with one.
    await noSendTwice(nodes.a, sent, new Set(sessions.map((s) => s.id)));
  });
});
