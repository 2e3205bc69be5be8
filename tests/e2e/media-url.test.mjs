// Media named by URL (`media.url`): the gateway fetches the file itself, so the tests run a
// file server on loopback. One gateway is allowed to reach loopback (the operator's
// `media.fetch.allow`) and fetches from it; another keeps the default and must refuse every
// way of reaching a private address: literals in any spelling, names that resolve to one,
// and redirects to one.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHash } from "node:crypto";
import { Gateway, record, emitWithAck, sleep } from "./lib/gateway.mjs";

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489", "hex");
const PDF = Buffer.from("%PDF-1.4\n% a tiny document\n");
const ARTICLE = `<!doctype html><html><head><title>Plain title</title>
<meta property="og:title" content="Nasi Goreng – Menu">
<meta property="og:description" content="Open   every day, 9 to 5.">
</head><body><p>the menu</p></body></html>`;
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");
const CONTACT = "+628123456789";

let files, base, hits = [];
/** The file server: each path is one behaviour a fetched URL can have. */
function serve(req, res) {
  const path = new URL(req.url, "http://x").pathname;
  hits.push(path);
  const send = (type, body) => {
    res.writeHead(200, { "content-type": type, "content-length": body.length });
    res.end(body);
  };
  switch (path) {
    case "/logo.png":
      return send("image/png", PNG);
    case "/invoice.pdf":
      return send("application/octet-stream", PDF);
    case "/slow.png":
      return setTimeout(() => send("image/png", PNG), 800);
    case "/restart.png":
      return setTimeout(() => send("image/png", PNG), 1500);
    case "/article":
      return send("text/html; charset=utf-8", Buffer.from(ARTICLE));
    case "/titled":
      return send("text/html", Buffer.from("<html><head><title> Just a title </title></head><body>hi</body></html>"));
    case "/page.png":
      return send("text/html", Buffer.from("<!doctype html><title>not an image</title>"));
    case "/big.png":
      // Announces its length: refused before the body is read.
      return send("image/png", Buffer.concat([PNG, Buffer.alloc(6 * 1024 * 1024)]));
    case "/endless.png": {
      // No length: refused once what arrived passes the limit.
      res.writeHead(200, { "content-type": "image/png" });
      res.write(PNG);
      // 8 MiB in all (past the 5 MB limit), so a stream the gateway stops reading can never
      // keep this process busy writing.
      const chunk = Buffer.alloc(256 * 1024);
      let left = 32;
      const timer = setInterval(() => (left-- > 0 ? res.write(chunk) : (clearInterval(timer), res.end())), 5);
      res.on("close", () => clearInterval(timer));
      return;
    }
    case "/hang.png":
      return; // never answers
    case "/missing.png":
      res.writeHead(404);
      return res.end("not here");
    case "/to-logo":
      res.writeHead(302, { location: "/logo.png" });
      return res.end();
    case "/to-metadata":
      res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" });
      return res.end();
    case "/loop":
      res.writeHead(302, { location: "/loop" });
      return res.end();
    default:
      res.writeHead(404);
      res.end();
  }
}

before(async () => {
  files = createServer(serve);
  await new Promise((r) => files.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${files.address().port}`;
});
after(() => {
  files.closeAllConnections();
  files.close();
});

async function subscribed(gw, tenant, id) {
  await gw.connectedSession(tenant, id);
  const s = await gw.connect({ transports: ["websocket"], auth: { token: await gw.token(tenant) } });
  const log = record(s);
  // A new gateway beside other suites' on two cores can take a while to answer the first ack.
  await emitWithAck(s, "session.subscribe", id, 10000);
  return log;
}

const send = (gw, tenant, id, body) => gw.api("POST", `/api/v1/sessions/${id}/messages`, tenant.apiKey, { to: CONTACT, ...body });
const network = async (gw, tenant, id) =>
  (await gw.api("GET", `/api/v1/sim/sessions/${id}/network`, tenant.apiKey)).body.filter((o) => o.op === "message");

async function failure(log, messageId) {
  const ev = await log.waitFor("message.status", (p) => p.messageId === messageId && p.status === "FAILED", 8000);
  return ev.error;
}

describe("a gateway allowed to fetch from loopback", () => {
  let gw, acme;
  before(async () => {
    gw = await Gateway.start({ WAGATE_MEDIA__FETCH__ALLOW: "127.0.0.0/8", WAGATE_MEDIA__FETCH__TIMEOUT_SECS: "2" });
    acme = await gw.tenant("acme");
  });
  after(() => gw.close());

  test("an image and a document from URLs: accepted PENDING, fetched, announced with message.media, sent byte for byte", async () => {
    const id = "url-ok";
    const log = await subscribed(gw, acme, id);
    const image = await send(gw, acme, id, { type: "image", caption: "the logo", media: { url: `${base}/to-logo` } });
    assert.equal(image.status, 202, JSON.stringify(image.body));
    assert.deepEqual([image.body.status, image.body.type, image.body.content, image.body.mediaUrl], ["PENDING", "image", "the logo", null]);
    const ready = (await log.waitFor("message.media", (p) => p.message.id === image.body.id)).message;
    assert.deepEqual([ready.media.mimeType, ready.media.size, ready.media.sha256], ["image/png", PNG.length, sha256(PNG)]);
    assert.equal(ready.mediaUrl, `/api/v1/sessions/${id}/messages/${image.body.id}/media`);
    await log.waitFor("message.status", (p) => p.messageId === image.body.id && p.status === "READ");

    const doc = await send(gw, acme, id, { type: "document", media: { url: `${base}/invoice.pdf`, fileName: "invoice.pdf" } });
    assert.equal(doc.status, 202, JSON.stringify(doc.body));
    await log.waitFor("message.status", (p) => p.messageId === doc.body.id && p.status === "SENT");

    const wire = await network(gw, acme, id);
    assert.deepEqual(wire.map((o) => [o.type, o.media.sha256, o.text ?? ""]), [
      ["image", sha256(PNG), "the logo"],
      ["document", sha256(PDF), ""],
    ]);
    assert.equal(wire[1].media.fileName, "invoice.pdf");
    const served = await fetch(gw.url + ready.mediaUrl, { headers: { authorization: `Bearer ${acme.apiKey}` } });
    assert.ok(Buffer.from(await served.arrayBuffer()).equals(PNG), "served byte for byte");
    const stored = (await gw.api("GET", `/api/v1/sessions/${id}/messages/${doc.body.id}`, acme.apiKey)).body;
    assert.deepEqual([stored.media.mimeType, stored.status !== "PENDING"], ["application/pdf", true]);
  });

  test("a slow file holds back the later messages of its chat only, so the chat sees them in order", async () => {
    const id = "url-order";
    const log = await subscribed(gw, acme, id);
    const image = await send(gw, acme, id, { type: "image", media: { url: `${base}/slow.png` } });
    const after = await send(gw, acme, id, { text: "that was the logo" });
    const elsewhere = await send(gw, acme, id, { to: "+628999000111", text: "another chat" });
    for (const r of [image, after, elsewhere]) assert.equal(r.status, 202, JSON.stringify(r.body));
    for (const r of [image, after, elsewhere]) {
      await log.waitFor("message.status", (p) => p.messageId === r.body.id && p.status === "SENT", 8000);
    }
    const order = (await network(gw, acme, id)).map((o) => o.text || o.type);
    assert.deepEqual(order, ["another chat", "image", "that was the logo"]);
  });

  test("every way a fetch can fail ends its message FAILED with the reason; nothing is sent", async () => {
    const id = "url-fail";
    const log = await subscribed(gw, acme, id);
    const cases = [
      [{ type: "image", media: { url: `${base}/missing.png` } }, /answered HTTP 404/],
      [{ type: "image", media: { url: `${base}/page.png` } }, /image must be JPEG or PNG/],
      [{ type: "image", media: { url: `${base}/big.png` } }, /larger than 5242880 bytes, WhatsApp's limit for a image/],
      [{ type: "image", media: { url: `${base}/endless.png` } }, /larger than 5242880 bytes/],
      [{ type: "sticker", media: { url: `${base}/logo.png` } }, /sticker must be WebP/],
      [{ type: "image", media: { url: `${base}/hang.png` } }, /no file within 2 s/],
      [{ type: "image", media: { url: `${base}/to-metadata` } }, /169\.254\.169\.254, which is not a public address/],
      [{ type: "image", media: { url: `${base}/loop` } }, /redirected more than 5 times/],
      [{ type: "image", media: { url: "http://127.0.0.1:1/closed.png" } }, /could not be fetched/],
    ];
    const started = Date.now();
    for (const [body, why] of cases) {
      const r = await send(gw, acme, id, body);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const error = await failure(log, r.body.id);
      assert.match(error, why, `${body.media.url}: ${error}`);
      const stored = (await gw.api("GET", `/api/v1/sessions/${id}/messages/${r.body.id}`, acme.apiKey)).body;
      assert.deepEqual([stored.status, stored.error, stored.mediaUrl], ["FAILED", error, null]);
    }
    assert.ok(Date.now() - started < 20000, "no fetch hangs past its deadline");
    assert.deepEqual(await network(gw, acme, id), []);
    assert.deepEqual(log.names((n) => n === "message.media"), []);
  });

  test("a fetch cut short by a restart starts again and the message is sent", async () => {
    const id = "url-restart";
    await gw.connectedSession(acme, id);
    const r = await send(gw, acme, id, { type: "image", media: { url: `${base}/restart.png` } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const fetches = () => hits.filter((p) => p === "/restart.png").length;
    while (fetches() === 0) await sleep(20);
    const before = fetches();
    await gw.restart();
    let stored;
    for (let i = 0; i < 100; i++) {
      stored = (await gw.api("GET", `/api/v1/sessions/${id}/messages/${r.body.id}`, acme.apiKey)).body;
      if (stored.status !== "PENDING") break;
      await sleep(100);
    }
    assert.notEqual(stored.status, "PENDING", "sent after the restart");
    assert.notEqual(stored.status, "FAILED", stored.error);
    assert.equal(stored.media.sha256, sha256(PNG));
    assert.ok(fetches() > before, "fetched again after the restart");
  });

  test("a signed link serves the file without credentials, until it expires, and only that file", async () => {
    const id = "links";
    await gw.connectedSession(acme, id);
    const image = await send(gw, acme, id, { type: "image", media: { base64: PNG.toString("base64") } });
    const text = await send(gw, acme, id, { text: "no file" });
    const link = await gw.api("GET", `/api/v1/sessions/${id}/messages/${image.body.id}/media/link`, acme.apiKey);
    assert.equal(link.status, 200, JSON.stringify(link.body));
    assert.match(link.body.url, new RegExp(`^/api/v1/media/acme/${id}/${image.body.id}\\?expires=\\d+&signature=[\\w-]+$`));
    const lifetime = Date.parse(link.body.expiresAt) - Date.now();
    assert.ok(lifetime > 880_000 && lifetime <= 900_000, `default lifetime 900 s, got ${lifetime} ms`);
    // No Authorization header: what an <img src> sends.
    const got = await fetch(gw.url + link.body.url);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get("content-type"), "image/png");
    assert.equal(got.headers.get("x-content-type-options"), "nosniff");
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(PNG));

    const refused = async (url, status, code) => {
      const r = await fetch(gw.url + url);
      const body = await r.json();
      assert.deepEqual([r.status, body.error.code], [status, code], `${url}: ${JSON.stringify(body)}`);
    };
    const [path, query] = link.body.url.split("?");
    const params = new URLSearchParams(query);
    await refused(path, 403, "invalid_link");
    await refused(`${path}?expires=${Number(params.get("expires")) + 3600}&signature=${params.get("signature")}`, 403, "invalid_link");
    await refused(`/api/v1/media/acme/${id}/${text.body.id}?${query}`, 403, "invalid_link");
    await refused(`/api/v1/media/other/${id}/${image.body.id}?${query}`, 403, "invalid_link");

    const short = await gw.api("GET", `/api/v1/sessions/${id}/messages/${image.body.id}/media/link?ttlSeconds=1`, acme.apiKey);
    assert.equal(short.status, 200);
    await sleep(2100);
    await refused(short.body.url, 403, "link_expired");

    for (const [q, status, code] of [["ttlSeconds=0", 422, "invalid_ttl"], ["ttlSeconds=90000", 422, "invalid_ttl"], ["ttl=5", 400, "invalid_query"]]) {
      const r = await gw.api("GET", `/api/v1/sessions/${id}/messages/${image.body.id}/media/link?${q}`, acme.apiKey);
      assert.deepEqual([r.status, r.body.error.code], [status, code], JSON.stringify(r.body));
    }
    const none = await gw.api("GET", `/api/v1/sessions/${id}/messages/${text.body.id}/media/link`, acme.apiKey);
    assert.deepEqual([none.status, none.body.error.code], [404, "media_not_found"]);

    assert.equal((await gw.api("DELETE", `/api/v1/sessions/${id}`, acme.apiKey)).status, 204);
    await refused(link.body.url, 404, "media_not_found");
  });

  test("linkPreview: a text carries its first link's title and description; a page that cannot be read gives none and the text goes out", async () => {
    const id = "preview";
    const log = await subscribed(gw, acme, id);
    const sent = async (body) => {
      const r = await send(gw, acme, id, body);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      await log.waitFor("message.status", (p) => p.messageId === r.body.id && p.status === "SENT");
      return r.body;
    };
    const withOg = await sent({ text: `Our menu: ${base}/article.`, linkPreview: true });
    const preview = { url: `${base}/article`, title: "Nasi Goreng – Menu", description: "Open every day, 9 to 5." };
    assert.deepEqual(withOg.linkPreview, preview);
    const announced = (await log.waitFor("message.sent", (p) => p.message.id === withOg.id)).message;
    assert.deepEqual(announced.linkPreview, preview);
    const stored = (await gw.api("GET", `/api/v1/sessions/${id}/messages/${withOg.id}`, acme.apiKey)).body;
    assert.deepEqual(stored.linkPreview, preview);

    const titled = await sent({ text: `${base}/titled and more`, linkPreview: true });
    assert.deepEqual(titled.linkPreview, { url: `${base}/titled`, title: "Just a title" });
    const missing = await sent({ text: `gone: ${base}/missing.png`, linkPreview: true });
    const notHtml = await sent({ text: `a file: ${base}/logo.png`, linkPreview: true });
    const hitsBefore = hits.length;
    const unasked = await sent({ text: `no preview asked: ${base}/article` });
    assert.equal(hits.length, hitsBefore, "without linkPreview the page is not fetched");
    for (const m of [missing, notHtml, unasked]) assert.equal(m.linkPreview, undefined, m.content);

    const wire = await network(gw, acme, id);
    assert.deepEqual(wire.map((o) => [o.text, o.linkPreview]), [
      [withOg.content, preview],
      [titled.content, { url: `${base}/titled`, title: "Just a title" }],
      [missing.content, null],
      [notHtml.content, null],
      [unasked.content, null],
    ]);
    const image = await send(gw, acme, id, { type: "image", media: { url: `${base}/logo.png` }, linkPreview: true });
    assert.deepEqual([image.status, image.body.error.code], [422, "mixed_content"]);
  });

  test("linkPreview does not hold a send longer than the fetch timeout", async () => {
    const id = "preview-hang";
    const log = await subscribed(gw, acme, id);
    const started = Date.now();
    const r = await send(gw, acme, id, { text: `${base}/hang.png`, linkPreview: true });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.ok(Date.now() - started < 4500, `accepted after ${Date.now() - started} ms`);
    assert.equal(r.body.linkPreview, undefined);
    await log.waitFor("message.status", (p) => p.messageId === r.body.id && p.status === "SENT");
  });

  test("bad URLs are refused at once, before anything is stored", async () => {
    const id = "url-bad";
    const log = await subscribed(gw, acme, id);
    const cases = [
      [{ type: "image", media: { url: "ftp://example.com/a.png" } }, "invalid_media_url", /http or https/],
      [{ type: "image", media: { url: "not a url" } }, "invalid_media_url", /not a URL/],
      [{ type: "image", media: { url: `https://example.com/${"a".repeat(2100)}` } }, "invalid_media_url", /at most 2048/],
      [{ type: "image", media: { url: `${base}/logo.png`, base64: PNG.toString("base64") } }, "invalid_media", /exactly one of base64, url/],
      [{ type: "image", media: {} }, "invalid_media", /exactly one of base64, url/],
      [{ type: "audio", caption: "x", media: { url: `${base}/logo.png` } }, "invalid_caption", /no caption/],
    ];
    for (const [body, code, message] of cases) {
      const r = await send(gw, acme, id, body);
      assert.equal(r.status, 422, `${JSON.stringify(body).slice(0, 100)} -> ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, code);
      assert.match(r.body.error.message, message);
    }
    assert.deepEqual(log.names((n) => n === "message.sent"), []);
  });
});

describe("a gateway on the default fetch policy", () => {
  let gw, acme;
  before(async () => {
    gw = await Gateway.start();
    acme = await gw.tenant("acme");
  });
  after(() => gw.close());

  test("private addresses are refused in every spelling, by name and by redirect; the file server is never reached", async () => {
    const id = "ssrf";
    const log = await subscribed(gw, acme, id);
    const port = files.address().port;
    const hitsBefore = hits.length;
    for (const url of [
      `${base}/logo.png`,
      `http://2130706433:${port}/logo.png`,
      `http://0x7f.0.0.1:${port}/logo.png`,
      `http://[::1]:${port}/logo.png`,
      `http://[::ffff:127.0.0.1]:${port}/logo.png`,
      "http://169.254.169.254/latest/meta-data/",
      "http://10.0.0.1/a.png",
    ]) {
      const r = await send(gw, acme, id, { type: "image", media: { url } });
      assert.equal(r.status, 422, `${url} -> ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, "media_url_forbidden");
      assert.match(r.body.error.message, /not a public address .*media\.fetch\.allow/);
    }
    // A name that resolves to loopback passes the first check and fails at the connection.
    const byName = await send(gw, acme, id, { type: "image", media: { url: `http://localhost:${port}/logo.png` } });
    assert.equal(byName.status, 202, JSON.stringify(byName.body));
    assert.match(await failure(log, byName.body.id), /(127\.0\.0\.1|::1), which is not a public address/);
    assert.equal(hits.length, hitsBefore, "the file server was never reached");
    assert.deepEqual(await network(gw, acme, id), []);
  });

  test("linkPreview of a private address: the text is sent without a preview and the page is never fetched", async () => {
    const id = "ssrf-preview";
    const log = await subscribed(gw, acme, id);
    const hitsBefore = hits.length;
    for (const text of [`see ${base}/article`, `see http://localhost:${files.address().port}/article`]) {
      const r = await send(gw, acme, id, { text, linkPreview: true });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.equal(r.body.linkPreview, undefined);
      await log.waitFor("message.status", (p) => p.messageId === r.body.id && p.status === "SENT");
    }
    assert.equal(hits.length, hitsBefore, "the file server was never reached");
    assert.deepEqual((await network(gw, acme, id)).map((o) => o.linkPreview), [null, null]);
  });
});

describe("a gateway that keeps files for one second", () => {
  let gw, acme;
  before(async () => {
    gw = await Gateway.start({ WAGATE_MEDIA__RETENTION_SECS: "1" });
    acme = await gw.tenant("acme");
  });
  after(() => gw.close());

  test("an older file is deleted: the message keeps its metadata, loses mediaUrl, and the file answers 410", async () => {
    const id = "retention";
    await gw.connectedSession(acme, id);
    const image = await send(gw, acme, id, { type: "image", media: { base64: PNG.toString("base64") } });
    assert.equal(image.status, 202, JSON.stringify(image.body));
    const link = (await gw.api("GET", `/api/v1/sessions/${id}/messages/${image.body.id}/media/link`, acme.apiKey)).body;
    let stored;
    for (let i = 0; i < 60 && !stored?.mediaExpiredAt; i++) {
      await sleep(100);
      stored = (await gw.api("GET", `/api/v1/sessions/${id}/messages/${image.body.id}`, acme.apiKey)).body;
    }
    assert.ok(stored.mediaExpiredAt, "expired within the sweep interval");
    assert.deepEqual([stored.mediaUrl, stored.media.sha256, stored.media.size], [null, sha256(PNG), PNG.length]);
    const gone = await gw.api("GET", `/api/v1/sessions/${id}/messages/${image.body.id}/media`, acme.apiKey);
    assert.deepEqual([gone.status, gone.body.error.code], [410, "media_expired"]);
    assert.match(gone.body.error.message, /retention/);
    const viaLink = await fetch(gw.url + link.url);
    assert.equal(viaLink.status, 410);
    const again = await gw.api("GET", `/api/v1/sessions/${id}/messages/${image.body.id}/media/link`, acme.apiKey);
    assert.equal(again.status, 410);
    // The file itself is gone from the media directory.
    const { readdirSync, existsSync } = await import("node:fs");
    const dir = `${gw.dataDir}/media/t/acme/s/${id}`;
    assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], []);
  });
});
