// The shipped AI bot in a real gateway, against a local fake chat-completions endpoint: it
// answers with the chat's history, falls back when the endpoint is too slow (while the tenant's
// rules bot answers at once beside it), stops at its daily budget, and reaches only the hosts
// the operator and the binding allow.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { join } from "node:path";
import { ADMIN, Gateway, installPlugin, shippedPlugins, sleep } from "./lib/gateway.mjs";

/** The fake endpoint: answers "AI: <last user text>", or waits `delayMs` first. */
const endpoint = { requests: [], delayMs: 0 };
const server = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const parsed = JSON.parse(body);
    endpoint.requests.push({ path: req.url, auth: req.headers.authorization, body: parsed });
    const last = parsed.messages.at(-1).content;
    const answer = JSON.stringify({
      choices: [{ index: 0, message: { role: "assistant", content: `AI: ${last}` } }],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
    });
    setTimeout(() => {
      if (res.destroyed) return;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(answer);
    }, endpoint.delayMs);
  });
});

let gw, url, host;
before(async () => {
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  host = `127.0.0.1:${server.address().port}`;
  url = `http://${host}/v1/chat/completions`;
  gw = await Gateway.start({
    WAGATE_PLUGINS__HTTP__ALLOW_HOSTS: host,
    WAGATE_PLUGINS__HTTP__ALLOW_NETWORKS: "127.0.0.1/32",
    WAGATE_PLUGINS__HTTP__TIMEOUT_MS: "1500",
  });
  for (const name of ["ai-answer", "auto-reply"]) {
    installPlugin(join(shippedPlugins(), name), join(gw.dataDir, "plugins"));
    const r = await gw.api("POST", `/api/v1/plugins/${name}/reload`, ADMIN);
    assert.ok(["loaded", "unchanged"].includes(r.body.outcome), JSON.stringify(r.body));
  }
});
after(async () => {
  await gw.close();
  server.close();
});

const config = (extra = {}) => ({
  url,
  apiKey: "sk-test",
  model: "fake-1",
  systemPrompt: "Be brief.",
  fallback: "Sorry, an agent will answer soon.",
  takeoverMins: 0,
  maxRepliesPerMinute: 0,
  ...extra,
});

async function setUp(tenantId, bind) {
  const t = await gw.tenant(tenantId);
  await gw.connectedSession(t, "shop");
  const r = await gw.api("PUT", "/api/v1/tenant/plugins/ai-answer", t.apiKey, { enabled: true, ...bind });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return t;
}

const inbound = (t, from, text) => gw.api("POST", "/api/v1/sim/sessions/shop/inbound", t.apiKey, { from, name: "Ana", text });
const sent = async (t) =>
  (await gw.api("GET", "/api/v1/sim/sessions/shop/network", t.apiKey)).body.filter((r) => r.op === "message");
async function waitSent(t, n, ms = 10_000) {
  const until = Date.now() + ms;
  let got = [];
  while (Date.now() < until && (got = await sent(t)).length < n) await sleep(25);
  assert.ok(got.length >= n, `${got.length} of ${n} sent: ${JSON.stringify(got.map((r) => r.text))}`);
  return got;
}

test("bound through REST, it answers from the endpoint with the chat's history, as a bot", async () => {
  const t = await setUp("ai-history", { allowedHosts: [host], config: config({ history: 5 }) });
  const view = await gw.api("GET", "/api/v1/tenant/plugins", t.apiKey);
  assert.deepEqual(view.body.find((b) => b.plugin === "ai-answer").allowedHosts, [host]);
  const socket = await gw.connect({ auth: { token: await gw.token(t, "watcher") } });
  await new Promise((r) => socket.emit("session.subscribe", "shop", r));
  endpoint.requests.length = 0;
  await inbound(t, "+15550901001", "Do you ship to Lisbon?");
  assert.equal((await waitSent(t, 1))[0].text, "AI: Do you ship to Lisbon?");
  const mine = await socket.log.waitFor("message.sent", (p) => p.message.content === "AI: Do you ship to Lisbon?");
  assert.deepEqual(mine.message.origin, { kind: "bot", plugin: "ai-answer" });
  await socket.log.waitFor("message.status", (p) => p.messageId === mine.message.id && p.status === "SENT");
  await inbound(t, "+15550901001", "How much?");
  assert.equal((await waitSent(t, 2))[1].text, "AI: How much?");
  assert.equal(endpoint.requests.length, 2);
  const [first, second] = endpoint.requests;
  assert.equal(first.path, "/v1/chat/completions");
  assert.equal(first.auth, "Bearer sk-test");
  assert.equal(first.body.model, "fake-1");
  assert.deepEqual(first.body.messages, [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Do you ship to Lisbon?" },
  ]);
  assert.deepEqual(second.body.messages, [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Do you ship to Lisbon?" },
    { role: "assistant", content: "AI: Do you ship to Lisbon?" },
    { role: "user", content: "How much?" },
  ]);
});

test("a slow endpoint gets the fallback, while the tenant's rules bot and its sockets are not held up", async () => {
  const t = await setUp("ai-slow", { allowedHosts: [host], config: config({ history: 0, timeoutMs: 60_000 }) });
  const rules = await gw.api("PUT", "/api/v1/tenant/plugins/auto-reply", t.apiKey, {
    enabled: true,
    config: { rules: [{ contains: "hours", reply: "We are open 9-18." }], takeoverMins: 0 },
  });
  assert.equal(rules.status, 200, JSON.stringify(rules.body));
  const socket = await gw.connect({ auth: { token: await gw.token(t, "watcher") } });
  await new Promise((r) => socket.emit("session.subscribe", "shop", r));
  endpoint.delayMs = 4_000;
  try {
    const started = Date.now();
    await inbound(t, "+15550902001", "What are your hours?");
    // The rules bot answers and the socket hears of it while the AI bot waits.
    const first = await waitSent(t, 1, 1_400);
    assert.equal(first[0].text, "We are open 9-18.");
    await socket.log.waitFor("message.received", (p) => p.message.content === "What are your hours?");
    // The operator's 1.5 s caps the plugin's 60 s: the fallback comes then, not after 4 s.
    const both = await waitSent(t, 2, 3_500);
    assert.equal(both[1].text, "Sorry, an agent will answer soon.");
    const took = Date.now() - started;
    assert.ok(took >= 1_400 && took < 3_800, `fallback after ${took} ms`);
  } finally {
    endpoint.delayMs = 0;
  }
  const views = await gw.api("GET", "/api/v1/tenant/plugins", t.apiKey);
  assert.equal(views.body.find((b) => b.plugin === "ai-answer").breaker.state, "closed", "a slow endpoint is no plugin fault");
});

test("it stops at its daily budget and answers again the next day", async () => {
  const t = await setUp("ai-budget", {
    allowedHosts: [host],
    config: config({ history: 0, budget: { requestsPerDay: 2, tokensPerDay: 100000 } }),
  });
  endpoint.requests.length = 0;
  await inbound(t, "+15550903001", "one");
  await waitSent(t, 1);
  await inbound(t, "+15550903002", "two");
  await waitSent(t, 2);
  await inbound(t, "+15550903003", "three");
  await sleep(800);
  assert.equal((await sent(t)).length, 2, "the third is not answered");
  assert.equal(endpoint.requests.length, 2, "nor asked of the endpoint");
  await gw.api("POST", "/api/v1/sim/clock", ADMIN, { advanceMs: 86_400_000 });
  try {
    await inbound(t, "+15550903003", "four");
    assert.equal((await waitSent(t, 3))[2].text, "AI: four");
  } finally {
    await gw.api("POST", "/api/v1/sim/clock", ADMIN, { advanceMs: -86_400_000 });
  }
});

test("only hosts the binding allows are reached, and allowedHosts is checked at bind", async () => {
  const t = await setUp("ai-denied", { allowedHosts: ["api.example.com"], config: config({ history: 0 }) });
  endpoint.requests.length = 0;
  await inbound(t, "+15550904001", "hello?");
  assert.equal((await waitSent(t, 1))[0].text, "Sorry, an agent will answer soon.");
  assert.equal(endpoint.requests.length, 0, "the endpoint never heard of it");
  const put = (body, key = t.apiKey) => gw.api("PUT", "/api/v1/tenant/plugins/ai-answer", key, body);
  const bad = await put({ allowedHosts: ["http://x.com/"], config: config() });
  assert.equal(bad.status, 422);
  assert.match(bad.body.error.message, /is not a host pattern/);
  const tooMany = await put({ allowedHosts: Array.from({ length: 33 }, (_, i) => `h${i}.example.com`), config: config() });
  assert.equal(tooMany.status, 422);
  assert.match(tooMany.body.error.message, /at most 32 hosts/);
  const notCalling = await gw.api("PUT", "/api/v1/tenant/plugins/auto-reply", t.apiKey, {
    allowedHosts: [host],
    config: { fallback: "x" },
  });
  assert.equal(notCalling.status, 422);
  assert.match(notCalling.body.error.message, /not granted 'http:outbound'/);
  // Binding is the tenant administrator's: a user token without the admin role is refused.
  const user = await gw.token(t, "agent");
  const refused = await put({ allowedHosts: [host], config: config() }, user);
  assert.equal(refused.status, 403);
  assert.equal((await gw.api("GET", "/api/v1/tenant/plugins", t.apiKey)).body[0].allowedHosts[0], "api.example.com");
});

test("the operator sees every request by outcome", async () => {
  const text = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
  const count = (outcome) => {
    const line = text.split("\n").find((l) => l.startsWith("wagate_plugin_http_requests_total") && l.includes('plugin="ai-answer"') && l.includes(`outcome="${outcome}"`));
    return line ? Number(line.split(" ").at(-1)) : 0;
  };
  // The tests above: two answers with history, one timeout, three within and after the budget, one denied host.
  assert.deepEqual([count("answered"), count("timeout"), count("denied")], [5, 1, 1]);
  assert.match(text, /wagate_plugin_http_request_duration_seconds_count\{plugin="ai-answer"\} 7/);
});
