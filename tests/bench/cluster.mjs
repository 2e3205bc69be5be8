// Cluster benchmark: inbound messages per second stored by one node and by three nodes on one
// PostgreSQL database (every message sent through the nodes in turn, forwarded to the node
// that runs its session), and the time the sessions of a node killed with -9 take to be
// connected again on the others. One node and three nodes alternate, each round on a fresh
// schema; the table gives medians. On a machine with few cores the nodes share them: the
// ratio says what a second and third node cost or bring here, not what they bring on their
// own machines. Run by scripts/bench-cluster.sh.
import { Gateway, clusterNodeEnv, inParallel, sleep } from "../e2e/lib/gateway.mjs";

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 300);
const COUNT = Number(process.env.BENCH_COUNT ?? 3000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 24);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const median = (xs) => pct(xs, 50);

async function cluster(size, round) {
  const schema = `wagate_bench_cluster_${process.pid}_${size}_${round}`;
  const env = (id) =>
    clusterNodeEnv(schema, id, {
      WAGATE_DATABASE_URL: process.env.BENCH_DATABASE_URL,
      WAGATE_QUOTAS__MAX_SESSIONS: String(SESSIONS),
      WAGATE_QUOTAS__REQUESTS_PER_MINUTE: "10000000",
      WAGATE_SESSIONS__RESUME_STAGGER_MS: "5",
      WAGATE_LOG: "error",
    });
  const nodes = [];
  for (const id of ["n0", "n1", "n2"].slice(0, size)) nodes.push(await Gateway.start(env(id), { startTimeoutMs: 180000 }));
  const acme = await nodes[0].tenant("acme");
  const plan = Array.from({ length: SESSIONS }, (_, i) => ({ id: `s${i}`, node: i % size }));
  await inParallel(plan, 12, (s) => nodes[s.node].connectedSession(acme, s.id, `+1555${String(s.id.slice(1)).padStart(7, "0")}`));
  return { nodes, acme, plan };
}

async function stored(gw, acme, tag) {
  let n = 0;
  let after = 0;
  for (;;) {
    const page = (await gw.api("GET", `/api/v1/events?afterSeq=${after}&limit=1000`, acme.apiKey)).body;
    n += page.events.filter((e) => e.event === "message.received" && e.payload.message.content.startsWith(tag)).length;
    if (page.events.length < 1000) return n;
    after = page.events.at(-1).seq;
  }
}

/** COUNT messages from CLIENTS senders, each through the nodes in turn; messages/s until the last is stored. */
async function throughput({ nodes, acme, plan }, tag) {
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    while (next < COUNT) {
      const k = next++;
      const gw = nodes[(k + c) % nodes.length];
      const r = await gw.api("POST", `/api/v1/sim/sessions/${plan[k % plan.length].id}/inbound`, acme.apiKey, { from: "+628123456789", text: `${tag}${k}` });
      if (r.status !== 202) throw new Error(`inbound: ${r.status} ${JSON.stringify(r.body)}`);
    }
  }));
  while ((await stored(nodes[0], acme, tag)) < COUNT) await sleep(20);
  return COUNT / ((performance.now() - start) / 1000);
}

/** Kills the last node; ms from the kill until each of its sessions is connected elsewhere. */
async function failover({ nodes, acme, plan }) {
  const victim = nodes.length - 1;
  const ofVictim = new Set(plan.filter((s) => s.node === victim).map((s) => s.id));
  let after = 0;
  await nodes[victim].kill();
  const killedAt = Date.now();
  const moved = new Map();
  while (moved.size < ofVictim.size && Date.now() - killedAt < 30000) {
    const page = (await nodes[0].api("GET", `/api/v1/events?afterSeq=${after}&limit=1000`, acme.apiKey)).body;
    for (const e of page.events) {
      after = e.seq;
      const at = Date.parse(e.payload.timestamp);
      if (e.event === "session.connected" && at >= killedAt && ofVictim.has(e.payload.sessionId) && !moved.has(e.payload.sessionId)) {
        moved.set(e.payload.sessionId, at - killedAt);
      }
    }
    if (page.events.length < 1000) await sleep(100);
  }
  if (moved.size < ofVictim.size) throw new Error(`only ${moved.size} of ${ofVictim.size} sessions moved within 30 s`);
  return [...moved.values()];
}

const rows = { one: [], three: [], p50: [], p90: [], max: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const size of round % 2 ? [3, 1] : [1, 3]) {
    const c = await cluster(size, round);
    const rate = await throughput(c, `r${round}n${size}-`);
    (size === 1 ? rows.one : rows.three).push(rate);
    if (size === 3) {
      const times = await failover(c);
      rows.p50.push(pct(times, 50));
      rows.p90.push(pct(times, 90));
      rows.max.push(Math.max(...times));
    }
    for (const gw of c.nodes) await gw.close();
    console.error(`round ${round + 1}, ${size} node(s): ${rate.toFixed(0)} messages/s`);
  }
}

const f = (x) => x.toFixed(0);
console.log(`\ncluster on PostgreSQL, ${SESSIONS} simulated sessions, ${COUNT} inbound messages per round from ${CLIENTS} senders, ${ROUNDS} rounds (medians; rounds in brackets)\n`);
console.log("| measure | 1 node | 3 nodes | 3 / 1 |");
console.log("|---|---|---|---|");
console.log(`| inbound messages/s stored | ${f(median(rows.one))} (${rows.one.map(f).join(", ")}) | ${f(median(rows.three))} (${rows.three.map(f).join(", ")}) | ${(median(rows.three) / median(rows.one)).toFixed(2)} |`);
console.log(`\nfailover after kill -9 of one node of three (lease ${3000} ms, rounds every 500 ms), ms from the kill until each of its ~${Math.round(SESSIONS / 3)} sessions is connected elsewhere\n`);
console.log("| p50 | p90 | max |");
console.log("|---|---|---|");
console.log(`| ${f(median(rows.p50))} (${rows.p50.map(f).join(", ")}) | ${f(median(rows.p90))} (${rows.p90.map(f).join(", ")}) | ${f(median(rows.max))} (${rows.max.map(f).join(", ")}) |`);
process.exit(0);
