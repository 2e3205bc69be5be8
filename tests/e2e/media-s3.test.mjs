// Media files in an S3-compatible bucket (`media.store = "s3"`), against a local S3 server:
// moto's, which scripts/test.sh installs from PyPI into the cache directory. Without it
// (no python3 on the machine) the test says so and is skipped; the bucket settings are
// still checked by the config unit tests.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { Gateway, sleep } from "./lib/gateway.mjs";

const MOTO = process.env.WAGATE_TEST_MOTO;
const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489", "hex");
const BUCKET = "wagate-media";

async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

describe("media in an S3 bucket", { skip: MOTO ? false : "no local S3 server (WAGATE_TEST_MOTO unset: scripts/test.sh installs moto when python3 is there)" }, () => {
  let s3, s3url, gw, acme;
  before(async () => {
    const port = await freePort();
    s3url = `http://127.0.0.1:${port}`;
    s3 = spawn(MOTO, ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${s3url}/${BUCKET}`, { method: "PUT" })).ok) break;
      } catch (e) {
        if (i > 150) throw new Error(`the S3 server did not start: ${e}`);
      }
      await sleep(100);
    }
    gw = await Gateway.start({
      WAGATE_MEDIA__STORE: "s3",
      WAGATE_MEDIA__S3__BUCKET: BUCKET,
      WAGATE_MEDIA__S3__REGION: "us-east-1",
      WAGATE_MEDIA__S3__ENDPOINT: s3url,
      WAGATE_MEDIA__S3__ALLOW_HTTP: "true",
      WAGATE_MEDIA__S3__ACCESS_KEY_ID: "test",
      WAGATE_MEDIA__S3__SECRET_ACCESS_KEY: "test",
    });
    acme = await gw.tenant("acme");
  });
  after(async () => {
    await gw?.close();
    s3?.kill();
  });

  const keys = async () => {
    const xml = await (await fetch(`${s3url}/${BUCKET}?list-type=2`)).text();
    return [...xml.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]);
  };

  test("a sent file is kept in the bucket, served byte for byte, and deleted with its session", async () => {
    const id = "s3";
    await gw.connectedSession(acme, id);
    const r = await gw.api("POST", `/api/v1/sessions/${id}/messages`, acme.apiKey, {
      to: "+628123456789",
      type: "image",
      media: { base64: PNG.toString("base64") },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.deepEqual(await keys(), [`t/acme/s/${id}/${r.body.id}`]);
    const got = await fetch(gw.url + r.body.mediaUrl, { headers: { authorization: `Bearer ${acme.apiKey}` } });
    assert.equal(got.status, 200);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(PNG));
    for (let i = 0; i < 100; i++) {
      const m = (await gw.api("GET", `/api/v1/sessions/${id}/messages/${r.body.id}`, acme.apiKey)).body;
      if (m.status === "READ") break;
      await sleep(20);
    }
    assert.equal((await gw.api("DELETE", `/api/v1/sessions/${id}`, acme.apiKey)).status, 204);
    assert.deepEqual(await keys(), []);
  });
});
