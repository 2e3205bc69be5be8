// A webhook receiver on loopback: records every request and answers as the test says
// (a status, a status and body, or "hang" for no answer at all).
import { createServer } from "node:http";
import { sleep } from "./gateway.mjs";

export async function receiver() {
  const got = [];
  let respond = () => 200;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const entry = { path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString(), at: Date.now() };
      entry.json = JSON.parse(entry.body || "null");
      got.push(entry);
      const r = await respond(entry);
      if (r === "hang") return;
      const { status, body } = typeof r === "number" ? { status: r, body: "ok" } : r;
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(body);
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    got,
    respond(f) {
      respond = f;
    },
    /** The requests of one event type (or of every type). */
    of(type) {
      return got.filter((e) => !type || e.json?.type === type);
    },
    /** At least one request matching `pred`: all that match. */
    waitFor(pred, timeout = 5000) {
      return this.waitCount(pred, 1, timeout);
    },
    /** At least `n` requests matching `pred`: all that match. */
    async waitCount(pred, n, timeout = 10000) {
      const deadline = Date.now() + timeout;
      while (Date.now() < deadline) {
        const hit = got.filter(pred);
        if (hit.length >= n) return hit;
        await sleep(10);
      }
      const types = JSON.stringify(got.map((g) => g.json?.type));
      throw new Error(`${got.filter(pred).length} of ${n} deliveries within ${timeout} ms; got ${types}`);
    },
    close() {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}
