// The WIT world and the tsconfig a TypeScript plugin is built with, from its plugin.toml: the
// plugin's world imports one interface per granted capability and exports `config` and one
// interface per listed hook, so the component asks for nothing its manifest does not grant.
//   node world.mjs PLUGIN_DIR WIT_FILE OUT_DIR TOOLCHAIN_DIR
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

const [pluginDir, witFile, outDir, toolchain] = process.argv.slice(2).map((p) => resolve(p));
const manifest = readFileSync(join(pluginDir, "plugin.toml"), "utf8");
const list = (key) => {
  const m = new RegExp(`^${key}\\s*=\\s*\\[([^\\]]*)\\]`, "m").exec(manifest);
  return m ? [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]) : [];
};
const IMPORTS = {
  log: "log", clock: "clock", kv: "kv", "sessions:read": "sessions", "chats:read": "chats",
  "media:read": "media", "messages:send": "messages", "http:outbound": "http",
};
const EXPORTS = ["auth", "client-events", "transform", "bot", "webhook"];
const imports = list("capabilities").map((c) => {
  if (!IMPORTS[c]) throw new Error(`plugin.toml: unknown capability '${c}'`);
  return IMPORTS[c];
});
const hooks = list("hooks");
for (const h of hooks) if (!EXPORTS.includes(h)) throw new Error(`plugin.toml: unknown hook '${h}'`);

const wit = readFileSync(witFile, "utf8");
const version = /^package wagate:plugin@([\d.]+);/m.exec(wit)[1];
const world = [
  "",
  "world plugin-ts {",
  ...imports.map((i) => `    import ${i};`),
  "    export config;",
  ...hooks.map((h) => `    export ${h};`),
  "}",
  "",
].join("\n");
mkdirSync(join(outDir, "wit"), { recursive: true });
writeFileSync(join(outDir, "wit", "plugin.wit"), wit + world);

// `import { log } from "wagate:plugin/log@1.3.0"` (and `import type` of a hook's interface)
// resolve to the declarations jco generates from that world.
const paths = {};
for (const i of ["types", ...imports, "config", ...hooks]) {
  paths[`wagate:plugin/${i}@${version}`] = [join(outDir, "types", "interfaces", `wagate-plugin-${i}.d.ts`)];
}
// The plugin's sources and its tests (`test/`, run under Node against the fake host, which
// they import as "wagate:testing"), compiled side by side into OUT_DIR/js.
const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "ES2022",
    moduleResolution: "bundler",
    strict: true,
    noEmitOnError: true,
    skipLibCheck: true,
    rootDir: pluginDir,
    outDir: join(outDir, "js"),
    typeRoots: [join(toolchain, "node_modules", "@types")],
    types: ["node"],
    paths,
  },
  include: [join(pluginDir, "src", "**", "*.ts"), join(pluginDir, "test", "**", "*.ts"), join(toolchain, "testing.d.ts")],
};
writeFileSync(join(outDir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
