// The command line: --help explains the commands, `wagate token` mints a working user token,
// `wagate openapi` prints the REST document, a bad config is refused with a clear message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Gateway, databaseEnv, record } from "./lib/gateway.mjs";

const run = promisify(execFile);
const bin = () => process.env.WAGATE_BIN;

test("--help explains serve, token and openapi", async () => {
  const { stdout } = await run(bin(), ["--help"]);
  for (const cmd of ["serve", "token", "openapi"]) assert.match(stdout, new RegExp(`\\n\\s+${cmd}\\s+\\S`), cmd);
  const serve = (await run(bin(), ["serve", "--help"])).stdout;
  assert.match(serve, /--listen/);
  assert.match(serve, /--config/);
});

test("wagate token prints a token the gateway accepts", async () => {
  const gw = await Gateway.start();
  try {
    const acme = await gw.tenant("acme");
    // The command reads the same database the gateway writes.
    const env = { env: { ...process.env, ...databaseEnv(gw.dataDir) } };
    const args = ["token", "--tenant", "acme", "--sub", "cli-user", "--claim", "role=admin", "--data-dir", gw.dataDir];
    const { stdout } = await run(bin(), args, env);
    const token = stdout.trim();
    const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url"));
    assert.equal(claims.sub, "cli-user");
    assert.equal(claims.tenant, "acme");
    assert.equal(claims.role, "admin");
    const s = await gw.connect({ auth: { token } });
    const log = record(s);
    await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: "cli" });
    assert.equal((await log.waitFor("session.status")).sessionId, "cli");
    const rest = await gw.api("GET", "/api/v1/sessions", token);
    assert.equal(rest.status, 200);
    await assert.rejects(run(bin(), ["token", "--tenant", "ghost", "--sub", "x", "--data-dir", gw.dataDir], env), /unknown tenant 'ghost'/);
  } finally {
    await gw.close();
  }
});

test("openapi prints the document; bad settings are refused at start", async () => {
  const spec = JSON.parse((await run(bin(), ["openapi"])).stdout);
  assert.ok(spec.paths["/api/v1/sessions/{id}/connect"]);
  await assert.rejects(
    run(bin(), ["serve"], { env: { ...process.env, WAGATE_LISTEN: "not-an-address" } }),
    (e) => /wagate: invalid configuration/.test(e.stderr),
  );
  await assert.rejects(run(bin(), ["serve", "--config", "/nonexistent.toml"]), (e) => /does not exist/.test(e.stderr));
});
