// Compiles every shipped and test plugin once into the compile cache the e2e gateways share
// (WAGATE_PLUGINS__CACHE_DIR in gateway.mjs), so no test's gateway compiles a component while
// other tests run beside it on a small machine. Run by scripts/test.sh before the e2e files.
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Gateway } from "./gateway.mjs";

const dir = mkdtempSync(join(tmpdir(), "wagate-warm-"));
for (const root of [process.env.WAGATE_SHIPPED_PLUGINS, process.env.WAGATE_TEST_PLUGINS]) {
  for (const name of readdirSync(root)) cpSync(join(root, name), join(dir, name), { recursive: true });
}
const started = Date.now();
// Compiling them all from cold (the TypeScript runtime is the largest) may take a while on a
// busy 2-core machine; every later start finds them compiled.
const gw = await Gateway.start({ WAGATE_PLUGINS__DIR: dir }, { startTimeoutMs: 180000 });
await gw.stop();
rmSync(dir, { recursive: true, force: true });
console.log(`plugin compile cache warm (${Date.now() - started} ms)`);
