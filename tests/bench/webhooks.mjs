// Webhook delivery benchmark: (1) deliveries per second to a local receiver, replaying the
// journal (delivery alone, nothing else running) and live while messages arrive as fast as one
// client sends them; (2) inbound -> webhook latency at a steady rate, beside the same events'
// inbound -> socket latency in the same run. Rounds alternate; the table gives medians.
// Run by scripts/bench-webhooks.sh.
import { Gateway, emitWithAck, sleep } from "../e2e/lib/gateway.mjs";
import { receiver } from "../e2e/lib/receiver.mjs";

const RATE = Number(process.env.BENCH_RATE ?? 500); // inbound messages per second
const COUNT = Number(process.env.BENCH_COUNT ?? 2000); // messages per round
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16); // the endpoint's maxConcurrency

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const median = (xs) => pct(xs, 50);

const gw = await Gateway.start({
  WAGATE_WEBHOOKS__ALLOW: "127.0.0.0/8",
  WAGATE_QUOTAS__REQUESTS_PER_MINUTE: "1000000",
  WAGATE_LOG: "error",
});
const acme = await gw.tenant("acme");
await gw.connectedSession(acme, "s1");
const rx = await receiver();
const hook = (await gw.api("POST", "/api/v1/webhooks", acme.apiKey, { url: rx.url, events: ["message.received"], maxConcurrency: CONCURRENCY })).body;
const socket = await gw.connect({ transports: ["websocket"], auth: { token: await gw.token(acme) } });
await emitWithAck(socket, "session.subscribe", "s1");

const inbound = (text) => gw.api("POST", "/api/v1/sim/sessions/s1/inbound", acme.apiKey, { from: "+628123456789", text });

async function waitFor(pred, n, timeout = 120000) {
  const deadline = Date.now() + timeout;
  while (rx.got.filter(pred).length < n) {
    if (Date.now() > deadline) throw new Error(`only ${rx.got.filter(pred).length} of ${n}`);
    await sleep(2);
  }
}

/** Messages as fast as CONCURRENCY clients send them; deliveries/s until the last arrived. */
async function burst(round) {
  const tag = `burst${round}-`;
  const start = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < COUNT) await inbound(`${tag}${next++}`);
  }));
  await waitFor((e) => e.json.data.message.content.startsWith(tag), COUNT);
  return COUNT / ((performance.now() - start) / 1000);
}

/** Replays the last COUNT message events: delivery alone. */
async function replay(round) {
  const page = (await gw.api("GET", "/api/v1/events?afterSeq=0&limit=1", acme.apiKey)).body;
  const before = rx.got.length;
  const start = performance.now();
  const r = await gw.api("POST", `/api/v1/webhooks/${hook.id}/replay`, acme.apiKey, { fromSeq: page.firstSeq });
  const n = r.body.queued;
  while (rx.got.length - before < n) await sleep(2);
  return n / ((performance.now() - start) / 1000);
}

/** Steady RATE: inbound -> webhook and inbound -> socket latency of the same messages. */
async function steady(round) {
  const tag = `steady${round}-`;
  const sentAt = new Map();
  const hookLat = [];
  const sockLat = [];
  const onSocket = (p) => {
    const t = sentAt.get(p.message.content);
    if (t !== undefined) sockLat.push(performance.now() - t);
  };
  socket.on("message.received", onSocket);
  const seen = rx.got.length;
  const gap = 1000 / RATE;
  const start = performance.now();
  const sends = [];
  for (let i = 0; i < COUNT; i++) {
    const wait = start + i * gap - performance.now();
    if (wait > 1) await sleep(wait);
    const text = `${tag}${i}`;
    sentAt.set(text, performance.now());
    sends.push(inbound(text));
  }
  await Promise.all(sends);
  await waitFor((e) => e.json.data.message.content.startsWith(tag), COUNT);
  for (const e of rx.got.slice(seen)) {
    const t = sentAt.get(e.json.data.message.content);
    if (t !== undefined) hookLat.push(e.at - (performance.timeOrigin + t));
  }
  while (sockLat.length < COUNT) await sleep(5);
  socket.off("message.received", onSocket);
  const achieved = COUNT / ((performance.now() - start) / 1000);
  return { hook50: pct(hookLat, 50), hook99: pct(hookLat, 99), sock50: pct(sockLat, 50), sock99: pct(sockLat, 99), achieved };
}

const rows = { burst: [], replay: [], hook50: [], hook99: [], sock50: [], sock99: [], achieved: [] };
for (let round = 0; round < ROUNDS; round++) {
  rows.burst.push(await burst(round));
  const s = await steady(round);
  for (const k of ["hook50", "hook99", "sock50", "sock99", "achieved"]) rows[k].push(s[k]);
  rows.replay.push(await replay(round));
}
const f = (x) => x.toFixed(1);
console.log(`\nwebhook delivery, ${COUNT} messages per round, ${ROUNDS} rounds (medians; rounds in brackets)\n`);
console.log("| measure | median | rounds |");
console.log("|---|---|---|");
console.log(`| deliveries/s, replaying the journal (delivery alone) | ${f(median(rows.replay))} | ${rows.replay.map(f).join(", ")} |`);
console.log(`| deliveries/s, live while messages arrive as fast as 16 clients send | ${f(median(rows.burst))} | ${rows.burst.map(f).join(", ")} |`);
console.log(`| inbound rate reached (target ${RATE}/s) | ${f(median(rows.achieved))} | ${rows.achieved.map(f).join(", ")} |`);
console.log(`| inbound -> webhook p50 ms | ${f(median(rows.hook50))} | ${rows.hook50.map(f).join(", ")} |`);
console.log(`| inbound -> webhook p99 ms | ${f(median(rows.hook99))} | ${rows.hook99.map(f).join(", ")} |`);
console.log(`| inbound -> socket p50 ms (same messages) | ${f(median(rows.sock50))} | ${rows.sock50.map(f).join(", ")} |`);
console.log(`| inbound -> socket p99 ms (same messages) | ${f(median(rows.sock99))} | ${rows.sock99.map(f).join(", ")} |`);
await rx.close();
await gw.close();
process.exit(0);
