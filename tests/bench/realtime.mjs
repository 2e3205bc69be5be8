// Realtime benchmark: wagate against a Node socket.io 4.8 reference server (reference-server.mjs)
// in the same run, rounds alternating which goes first; the table gives medians and the ratio.
//   fan-out    one inbound -> the last of N websocket clients, per event; server CPU per inbound;
//              RSS per idle connected client; again with the light raw client
//   latency    inbound -> client at a steady rate, 100 clients (socket.io-client, then a light
//              raw client at higher rates)
//   inbound    messages/s one gateway sustains for one client, delivered live (wagate only)
//   sessions   1,000 simulated sessions: RSS each, time to log them all in, time until all are
//              CONNECTED again after a restart (wagate only)
// Clients run in forked processes (clients.mjs). Run by scripts/bench-realtime.sh.
import { fork, spawn } from "node:child_process";
import http from "node:http";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN, Gateway, emitWithAck, sleep } from "../e2e/lib/gateway.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FANOUT = (process.env.BENCH_FANOUT ?? "10000,5000").split(",").map(Number).filter(Boolean);
// The same with the light raw client, whose own cost per frame is small: closer to what the
// servers alone take, on a machine where clients and server share the cores.
const FANOUT_RAW = (process.env.BENCH_FANOUT_RAW ?? "10000").split(",").map(Number).filter(Boolean);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
const RATES = (process.env.BENCH_RATES ?? "sio:200,raw:500,raw:1000").split(",").filter(Boolean);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 8);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 1000);
const TICK_MS = 10; // /proc times are in clock ticks, 100 a second on Linux

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const median = (xs) => pct(xs, 50);
const now = () => performance.timeOrigin + performance.now();

function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * TICK_MS; // utime + stime
}
function rssKb(pid) {
  return Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]);
}

// ---- the two servers -------------------------------------------------------------------

const gw = await Gateway.start({
  WAGATE_LOG: "error",
  WAGATE_QUOTAS__MAX_SOCKETS_PER_TENANT: "50000",
  WAGATE_QUOTAS__MAX_SOCKETS_PER_USER: "50000",
  WAGATE_QUOTAS__REQUESTS_PER_MINUTE: "100000000",
  WAGATE_QUOTAS__SUBSCRIBES_PER_MINUTE: "1000000",
  WAGATE_QUOTAS__MAX_SESSIONS: String(SESSIONS + 10),
  WAGATE_EVENTS__STATS_INTERVAL_MS: "60000",
});
const acme = await gw.tenant("acme");
await gw.connectedSession(acme, "s1", "+15550000001");
const token = await gw.token(acme, "bench");
// Plain keep-alive HTTP: lighter than fetch, so the sender is not what limits a rate.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function post(base, path, body, headers = {}) {
  const u = new URL(base);
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, method: "POST", agent,
      headers: { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(data) } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
    req.end(data);
  });
}
const inboundWagate = (text) =>
  post(gw.url, "/api/v1/sim/sessions/s1/inbound", { from: "+628123456789", name: "Bench Contact", text }, { authorization: `Bearer ${acme.apiKey}` });

// The reference emits payloads wagate made, so frames are the same size.
await inboundWagate("template");
await sleep(200);
const journal = (await gw.api("GET", "/api/v1/events?limit=1000", acme.apiKey)).body.events;
const template = ["message.received", "chat.updated"].map((n) => journal.findLast((e) => e.event === n).payload);
const dir = mkdtempSync(join(tmpdir(), "wagate-bench-"));
writeFileSync(join(dir, "template.json"), JSON.stringify(template));
const ref = spawn(process.execPath, [new URL("./reference-server.mjs", import.meta.url).pathname, join(dir, "template.json")], {
  stdio: ["ignore", "pipe", "inherit"],
});
const refUrl = await new Promise((resolve) => ref.stdout.on("data", (d) => {
  const m = String(d).match(/listening (\S+)/);
  if (m) resolve(m[1]);
}));
const frameBytes = JSON.stringify(["message.received", template[0]]).length;

const targets = {
  wagate: { pid: () => gw.proc.pid, url: () => gw.url, token, subscribe: true, inbound: inboundWagate },
  node: {
    pid: () => ref.pid,
    url: () => refUrl,
    token: undefined,
    subscribe: false,
    inbound: (text) => post(refUrl, "/emit", { text }),
  },
};

// ---- client processes ------------------------------------------------------------------

class Clients {
  static async start(target, count, kind, workers = WORKERS) {
    const c = new Clients();
    c.procs = Array.from({ length: workers }, () => fork(new URL("./clients.mjs", import.meta.url).pathname));
    const share = Math.ceil(count / workers);
    await Promise.all(c.procs.map((p, i) =>
      c.ask(p, { op: "connect", url: target.url(), token: target.token, subscribe: target.subscribe, kind, count: Math.max(0, Math.min(share, count - i * share)) }, "connected")));
    return c;
  }
  ask(p, msg, want) {
    return new Promise((resolve, reject) => {
      const on = (m) => {
        if (m.op === "error") reject(new Error(m.message));
        else if (m.op === want) resolve(m);
        else return;
        p.off("message", on);
      };
      p.on("message", on);
      p.send(msg);
    });
  }
  async report(prefix, all = false) {
    const parts = await Promise.all(this.procs.map((p) => this.ask(p, { op: "report", prefix, all }, "report")));
    return parts.map((r) => r.out);
  }
  async close() {
    await Promise.all(this.procs.map((p) => new Promise((r) => { p.once("exit", r); p.send({ op: "close" }); })));
  }
}

async function settle(ms = 1500) {
  await sleep(ms);
}

// ---- measures --------------------------------------------------------------------------

/** The gateway's fan-out latency histogram (commit -> handed to every socket): count per bucket. */
async function fanoutBuckets() {
  const text = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
  const buckets = [];
  for (const m of text.matchAll(/^wagate_fanout_latency_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)) {
    buckets.push({ le: m[1] === "+Inf" ? Infinity : Number(m[1]) * 1000, n: Number(m[2]) });
  }
  return buckets;
}

/** The bucket bound (ms) under which `p` percent of the events between two readings fell. */
function bucketPct(before, after, p) {
  const delta = after.map((b, i) => ({ le: b.le, n: b.n - (before[i]?.n ?? 0) }));
  const total = delta.at(-1)?.n ?? 0;
  return total ? delta.find((b) => b.n >= (p / 100) * total).le : NaN;
}

let tagNo = 0;

/** One inbound at a time to `n` clients: ms until the last client had each event. */
async function fanout(name, n, kind = "sio", inbounds = 5) {
  const target = targets[name];
  await settle(500);
  const before = rssKb(target.pid());
  const clients = await Clients.start(target, n, kind);
  await settle(2000);
  const perClientKb = (rssKb(target.pid()) - before) / n;
  const firsts = [], seconds = [];
  const cpuStart = cpuMs(target.pid());
  for (let k = 0; k < inbounds; k++) {
    const tag = `fo${++tagNo}`;
    const t0 = now();
    await target.inbound(tag);
    let got;
    for (let wait = 0; wait < 600; wait++) {
      await sleep(50);
      const parts = await clients.report(tag);
      got = got ?? { "message.received": [], "chat.updated": [] };
      for (const p of parts) for (const ev of Object.keys(got)) if (p[ev][tag]) got[ev].push(p[ev][tag]);
      const total = (ev) => got[ev].reduce((a, x) => a + x.n, 0);
      if (total("message.received") >= n && total("chat.updated") >= n) break;
    }
    const last = (ev) => Math.max(...got[ev].map((x) => x.last)) - t0;
    firsts.push(last("message.received"));
    seconds.push(last("chat.updated"));
  }
  const cpuPerInbound = (cpuMs(target.pid()) - cpuStart) / inbounds;
  await clients.close();
  return { first: median(firsts), second: median(seconds), cpu: cpuPerInbound, rss: perClientKb };
}

/** `rate` inbound/s for LATENCY_SECONDS to 100 clients: p50/p99 of inbound -> client, and the rate reached. */
async function latency(name, kind, rate) {
  const target = targets[name];
  const clients = await Clients.start(target, 100, kind, 2);
  await settle(500);
  const server0 = name === "wagate" ? await fanoutBuckets() : undefined;
  const prefix = `lat${++tagNo}-`;
  const count = rate * LATENCY_SECONDS;
  const sent = new Array(count);
  const started = now();
  const pending = [];
  for (let i = 0; i < count; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - now();
    if (wait > 1) await sleep(wait);
    sent[i] = now();
    pending.push(target.inbound(`${prefix}${i}`));
  }
  await Promise.all(pending);
  const reached = count / ((now() - started) / 1000);
  await settle(3000);
  const server1 = server0 && (await fanoutBuckets());
  const lat = [];
  let delivered = 0;
  for (const p of await clients.report(prefix, true)) {
    for (const [tag, times] of Object.entries(p["message.received"])) {
      const i = Number(tag.slice(prefix.length));
      for (const t of times) lat.push(t - sent[i]);
      delivered += times.length;
    }
  }
  await clients.close();
  return {
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    reached,
    complete: delivered / (count * 100),
    serverP50: server0 ? bucketPct(server0, server1, 50) : undefined,
    serverP99: server0 ? bucketPct(server0, server1, 99) : undefined,
  };
}

/** As many inbound messages as one client gets through, 32 requests in flight: messages/s. */
async function sustained(count = 6000) {
  const s = await gw.connect({ transports: ["websocket"], auth: { token } });
  await emitWithAck(s, "session.subscribe", "s1");
  const prefix = `rate${++tagNo}-`;
  // A lane that overflows sheds events as a `delivery.gap` (docs/events.md): counted, so the
  // measure ends instead of waiting for frames that will never come.
  let seen = 0, shed = 0;
  let finish;
  const done = new Promise((resolve) => (finish = resolve));
  // Two events per inbound (message.received, chat.updated) are shed together.
  const check = () => seen + shed / 2 >= count && finish();
  s.on("message.received", (p) => {
    if (!p.message.content.startsWith(prefix)) return;
    seen += 1;
    check();
  });
  s.on("delivery.gap", (g) => {
    shed += g.count;
    check();
  });
  const cpu0 = cpuMs(gw.proc.pid);
  const t0 = now();
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < count) await inboundWagate(`${prefix}${next++}`);
  }));
  await done;
  const took = (now() - t0) / 1000;
  const cpu = (cpuMs(gw.proc.pid) - cpu0) / 1000 / took;
  s.close();
  return { rate: seen / took, cpu, shed };
}

/** SESSIONS simulated sessions logged in; RSS each; then a restart until all are CONNECTED. */
async function sessions() {
  const sgw = await Gateway.start({
    WAGATE_LOG: "error",
    WAGATE_QUOTAS__MAX_SESSIONS: String(SESSIONS + 10),
    WAGATE_QUOTAS__REQUESTS_PER_MINUTE: "100000000",
    WAGATE_SIM__CONNECT_DELAY_MS: "300",
    WAGATE_SESSIONS__RESUME_STAGGER_MS: "500",
  });
  try {
    const t = await sgw.tenant("many");
    await settle(1000);
    const before = rssKb(sgw.proc.pid);
    const t0 = now();
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < SESSIONS) {
        const i = next++;
        await sgw.connectedSession(t, `n${i}`, `+1555${String(1000000 + i).slice(1)}`);
      }
    }));
    const login = (now() - t0) / 1000;
    await settle(2000);
    const perSessionKb = (rssKb(sgw.proc.pid) - before) / SESSIONS;
    await sgw.stop();
    const t1 = now();
    await sgw.launch();
    let connected = 0;
    for (let i = 0; i < 1200 && connected < SESSIONS; i++) {
      connected = (await sgw.api("GET", "/api/v1/stats", t.apiKey)).body.connected;
      if (connected < SESSIONS) await sleep(100);
    }
    const back = (now() - t1) / 1000;
    return { perSessionKb, login, back, connected };
  } finally {
    await sgw.close();
  }
}

// ---- the run ---------------------------------------------------------------------------

const rows = {}; // measure -> name -> [values]
const put = (measure, name, v) => ((rows[measure] ??= {})[name] ??= []).push(v);
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? ["wagate", "node"] : ["node", "wagate"];
  for (const n of FANOUT) {
    for (const name of order) {
      const r = await fanout(name, n);
      put(`${n} clients: inbound -> last client, message.received (ms)`, name, r.first);
      put(`${n} clients: inbound -> last client, chat.updated (ms)`, name, r.second);
      put(`${n} clients: server CPU per inbound (ms)`, name, r.cpu);
      put(`${n} clients: RSS per idle client (KB)`, name, r.rss);
      console.error(`round ${round + 1} fan-out ${n} ${name}: ${JSON.stringify(r)}`);
    }
  }
  for (const n of FANOUT_RAW) {
    for (const name of order) {
      const r = await fanout(name, n, "raw");
      put(`${n} light raw clients: inbound -> last client, message.received (ms)`, name, r.first);
      put(`${n} light raw clients: inbound -> last client, chat.updated (ms)`, name, r.second);
      put(`${n} light raw clients: server CPU per inbound (ms)`, name, r.cpu);
      console.error(`round ${round + 1} fan-out raw ${n} ${name}: ${JSON.stringify(r)}`);
    }
  }
  for (const spec of RATES) {
    const [kind, rate] = spec.split(":");
    for (const name of order) {
      const r = await latency(name, kind, Number(rate));
      const what = `${kind === "raw" ? "light raw client" : "socket.io-client"}, 100 clients, ${rate} msg/s`;
      put(`${what}: p50 (ms)`, name, r.p50);
      put(`${what}: p99 (ms)`, name, r.p99);
      put(`${what}: msg/s reached`, name, r.reached);
      put(`${what}: share of frames delivered`, name, r.complete);
      if (r.serverP99 !== undefined) {
        put(`${what}: server side, commit -> handed to every socket, p50 (ms, bucket bound)`, name, r.serverP50);
        put(`${what}: server side, commit -> handed to every socket, p99 (ms, bucket bound)`, name, r.serverP99);
      }
      console.error(`round ${round + 1} latency ${spec} ${name}: ${JSON.stringify(r)}`);
    }
  }
  const s = await sustained();
  put("inbound messages/s sustained (1 client)", "wagate", s.rate);
  put("server CPU while sustaining it (cores)", "wagate", s.cpu);
  put("events shed as delivery.gap while sustaining it", "wagate", s.shed);
  console.error(`round ${round + 1} sustained: ${JSON.stringify(s)}`);
}
if (SESSIONS > 0) {
  const s = await sessions();
  put(`${SESSIONS} simulated sessions: RSS each (KB)`, "wagate", s.perSessionKb);
  put(`${SESSIONS} simulated sessions: time to log all in (s)`, "wagate", s.login);
  put(`${SESSIONS} simulated sessions: restart -> all CONNECTED (s)`, "wagate", s.back);
  console.error(`sessions: ${JSON.stringify(s)}`);
}

const fmt = (v) => (v === undefined || Number.isNaN(v) ? "-" : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
console.log(`\nwagate vs Node socket.io 4.8, ${ROUNDS} alternating rounds, medians; frame ${frameBytes} B`);
console.log("| measure | wagate | node | wagate / node |");
console.log("|---|---|---|---|");
for (const [measure, by] of Object.entries(rows)) {
  const w = by.wagate ? median(by.wagate) : undefined;
  const n = by.node ? median(by.node) : undefined;
  const ratio = w !== undefined && n !== undefined && n !== 0 ? (w / n).toFixed(2) : "-";
  console.log(`| ${measure} | ${fmt(w)} | ${fmt(n)} | ${ratio} |`);
}
ref.kill();
await gw.close();
