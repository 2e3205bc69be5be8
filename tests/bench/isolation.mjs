// Tenant isolation under a slow plugin: tenant "quiet" (canonical dialect) receives inbound
// messages at a steady rate while tenant "noisy" does the same through a plugin that sleeps
// almost to its call deadline on every event. Rounds alternate quiet-alone / quiet-beside-
// noisy; the table gives quiet's inbound -> client latency, medians of the rounds, and the
// ratio. Run by scripts/bench-isolation.sh.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Gateway, emitWithAck, installPlugin, testPlugin, sleep } from "../e2e/lib/gateway.mjs";

const RATE = Number(process.env.BENCH_RATE ?? 50); // messages per second, per tenant
const COUNT = Number(process.env.BENCH_COUNT ?? 200); // messages per round
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SLEEP_MS = Number(process.env.BENCH_SLEEP_MS ?? 45); // the call deadline is 50 ms

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const median = (xs) => pct(xs, 50);

async function pump(gw, tenant, session, label, count, rate, socket) {
  const sentAt = new Map();
  const latencies = [];
  const done = new Promise((resolve) => {
    socket.on("message.received", (p) => {
      const t = sentAt.get(p.message.content);
      if (t !== undefined) {
        latencies.push(performance.now() - t);
        sentAt.delete(p.message.content);
        if (latencies.length === count) resolve();
      }
    });
  });
  const gapMs = 1000 / rate;
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const text = `${label}-${i}`;
    const due = start + i * gapMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    sentAt.set(text, performance.now());
    gw.api("POST", `/api/v1/sim/sessions/${session}/inbound`, tenant.apiKey, { from: "+15550009999", text });
  }
  await Promise.race([done, sleep(30000)]);
  socket.off("message.received");
  return latencies;
}

async function main() {
  const plugins = mkdtempSync(join(tmpdir(), "wagate-bench-plugins-"));
  installPlugin(testPlugin("sleeper"), plugins);
  const gw = await Gateway.start({ WAGATE_PLUGINS__DIR: plugins, WAGATE_LOG: "error" });
  const quiet = await gw.tenant("quiet");
  const noisy = await gw.tenant("noisy");
  const bound = await gw.api("PUT", "/api/v1/tenant/plugins/sleeper", noisy.apiKey, { config: { sleepMs: SLEEP_MS } });
  if (bound.status !== 200) throw new Error(JSON.stringify(bound.body));
  await gw.connectedSession(quiet, "q");
  await gw.connectedSession(noisy, "n");
  const qs = await gw.connect({ transports: ["websocket"], auth: { token: await gw.token(quiet) } });
  const ns = await gw.connect({ transports: ["websocket"], auth: { token: await gw.token(noisy) } });
  await emitWithAck(qs, "session.subscribe", "q");
  await emitWithAck(ns, "session.subscribe", "n");
  // The noisy tenant's socket hears its messages through the plugin (sleeper:*), or in the
  // canonical dialect when a call missed its deadline (onError passthrough).
  const noisyDelivered = { plugin: 0, fallback: 0 };
  ns.onAny((name) => {
    if (name === "sleeper:message.received") noisyDelivered.plugin++;
    if (name === "message.received") noisyDelivered.fallback++;
  });

  const rows = { alone: [], beside: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of ["alone", "beside"]) {
      const quietRun = pump(gw, quiet, "q", `${mode}${r}`, COUNT, RATE, qs);
      if (mode === "beside") {
        // The noisy tenant's own traffic needs no listener here: its plugin is what matters.
        for (let i = 0; i < COUNT; i++) {
          gw.api("POST", "/api/v1/sim/sessions/n/inbound", noisy.apiKey, { from: "+15550008888", text: `noise${r}-${i}` });
          await sleep(1000 / RATE);
        }
      }
      const lat = await quietRun;
      rows[mode].push({ p50: pct(lat, 50), p99: pct(lat, 99), n: lat.length });
      await sleep(mode === "beside" ? COUNT * SLEEP_MS + 500 : 300); // let the noisy lane drain
    }
  }
  await gw.close();
  rmSync(plugins, { recursive: true, force: true });

  const fmt = (x) => x.toFixed(1).padStart(8);
  console.log(`quiet tenant inbound -> client latency, ${RATE} msg/s each, ${COUNT} per round, ${ROUNDS} alternating rounds;`);
  console.log(`noisy tenant's plugin sleeps ${SLEEP_MS} ms per event (deadline 50 ms)\n`);
  console.log("| round | alone p50 ms | alone p99 ms | beside noisy p50 ms | beside noisy p99 ms |");
  console.log("|---|---|---|---|---|");
  for (let r = 0; r < ROUNDS; r++) {
    const a = rows.alone[r], b = rows.beside[r];
    console.log(`| ${r + 1} | ${fmt(a.p50)} | ${fmt(a.p99)} | ${fmt(b.p50)} | ${fmt(b.p99)} |`);
  }
  const med = (mode, k) => median(rows[mode].map((x) => x[k]));
  console.log(`| median | ${fmt(med("alone", "p50"))} | ${fmt(med("alone", "p99"))} | ${fmt(med("beside", "p50"))} | ${fmt(med("beside", "p99"))} |`);
  console.log(`\np99 beside / alone: ${(med("beside", "p99") / med("alone", "p99")).toFixed(2)}x (target <= 2x)`);
  console.log(`messages received per round (quiet): ${rows.alone.concat(rows.beside).map((x) => x.n).join(", ")}`);
  console.log(
    `noisy tenant's ${ROUNDS * COUNT} messages: ${noisyDelivered.plugin} through its plugin, ` +
      `${noisyDelivered.fallback} canonical after a missed deadline or an open breaker`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
