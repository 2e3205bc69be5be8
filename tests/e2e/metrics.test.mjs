// Prometheus metrics from the real binary: behind the admin key on the main listener, keyless
// on metrics.listen (and nothing else there); sockets counted as real clients come and go; a
// session's send queue and status seen while its connection is down, and drained after.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { Gateway, ADMIN, sleep } from "./lib/gateway.mjs";

const freePort = () =>
  new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

let gw, acme, metricsUrl;
before(async () => {
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}`;
  gw = await Gateway.start({
    WAGATE_METRICS__LISTEN: `127.0.0.1:${port}`,
    // One slow reconnect, so an outage lasts long enough to be scraped.
    WAGATE_SESSIONS__BACKOFF_INITIAL_MS: "1500",
    WAGATE_SESSIONS__BACKOFF_MAX_MS: "1500",
    // WhatsApp's "sent" receipt comes late: a message handed over waits for it.
    WAGATE_SIM__SENT_DELAY_MS: "4000",
  });
  acme = await gw.tenant("acme");
  await gw.connectedSession(acme, "s1");
});
after(() => gw.close());

/** The keyless listener's metrics, once it is up (it starts beside the main one). */
async function scrape() {
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${metricsUrl}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type"), /^application\/openmetrics-text/);
      return await res.text();
    } catch (e) {
      if (i > 100) throw e;
      await sleep(50);
    }
  }
}

const value = (text, series) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1).split(" ")[0]);
};

async function until(series, want) {
  let text;
  for (let i = 0; i < 100; i++) {
    text = await scrape();
    if (value(text, series) === want) return text;
    await sleep(50);
  }
  assert.fail(`${series} never read ${want}:\n${text}`);
}

test("the main listener asks for the admin key; the metrics listener serves /metrics alone, without one", async () => {
  const none = await fetch(`${gw.url}/metrics`);
  assert.equal(none.status, 401);
  assert.equal((await none.json()).error.code, "missing_token");
  const tenantKey = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${acme.apiKey}` } });
  assert.equal(tenantKey.status, 401);
  assert.equal((await tenantKey.json()).error.code, "invalid_admin_key");
  const admin = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(admin.status, 200);
  assert.match(await admin.text(), /^wagate_sessions\{connector="sim",status="CONNECTED"\} 1$/m);

  const text = await scrape();
  assert.ok(text.endsWith("# EOF\n"));
  assert.equal((await fetch(`${metricsUrl}/api/v1/tenants`, { headers: { authorization: `Bearer ${ADMIN}` } })).status, 404);
});

test("sockets are counted as clients connect and leave", async () => {
  const token = await gw.token(acme);
  const base = value(await scrape(), "wagate_sockets");
  const sockets = await Promise.all([1, 2, 3].map(() => gw.connect({ transports: ["websocket"], auth: { token } })));
  await until("wagate_sockets", base + 3);
  sockets[0].disconnect();
  await until("wagate_sockets", base + 2);
  for (const s of sockets) s.disconnect();
  await until("wagate_sockets", base);
});

test("a session's send queue and status show while its connection is down, and drain after", async () => {
  assert.equal((await gw.api("POST", "/api/v1/sim/sessions/s1/drop", acme.apiKey, { outageMs: 1000 })).status, 204);
  await gw.waitStatus(acme, "s1", "RECONNECTING");
  for (const text of ["queued 1", "queued 2"]) {
    const r = await gw.api("POST", "/api/v1/sessions/s1/messages", acme.apiKey, { to: "+15559990000", text });
    assert.equal(r.status, 202, JSON.stringify(r.body));
  }
  const down = await scrape();
  assert.equal(value(down, 'wagate_outbound_pending{tenant="acme",session="s1"}'), 2, down);
  assert.equal(value(down, 'wagate_sessions{connector="sim",status="RECONNECTING"}'), 1, down);
  assert.equal(value(down, 'wagate_sessions{connector="sim",status="CONNECTED"}'), undefined, "a status no session has is not a series");

  await gw.waitStatus(acme, "s1", "CONNECTED");
  const up = await until('wagate_outbound_pending{tenant="acme",session="s1"}', undefined);
  // Handed to WhatsApp, the queue is empty, though the messages wait for their receipt.
  const [chat] = (await gw.api("GET", "/api/v1/sessions/s1/chats", acme.apiKey)).body;
  const sent = (await gw.api("GET", `/api/v1/sessions/s1/chats/${chat.id}/messages`, acme.apiKey)).body;
  const waiting = sent.filter((m) => m.content.startsWith("queued"));
  assert.deepEqual(waiting.map((m) => [m.status, Boolean(m.waMessageId)]), [["PENDING", true], ["PENDING", true]]);
  assert.equal(value(up, 'wagate_sessions{connector="sim",status="CONNECTED"}'), 1);
  assert.ok(value(up, 'wagate_events_committed_total{event="message.sent"}') >= 2, up);
  assert.ok(value(up, 'wagate_http_requests_total{method="POST",route="/api/v1/sessions/{id}/messages",status="202"}') >= 2, up);
});
