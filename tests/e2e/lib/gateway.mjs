// Starts the real wagate binary on a free port with a fresh data directory and millisecond
// timings, and offers small helpers for REST and Socket.IO.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { io } from "socket.io-client";

export const ADMIN = "wga_e2e-admin-key-0123456789-abcdefghij";

const FAST = {
  WAGATE_SIM__ENABLED: "true",
  WAGATE_SESSIONS__QR_FIRST_TTL_MS: "600",
  WAGATE_SESSIONS__QR_NEXT_TTL_MS: "250",
  WAGATE_SESSIONS__MAX_QR_CODES: "3",
  WAGATE_SESSIONS__PAIRING_CODE_TTL_MS: "800",
  WAGATE_SESSIONS__BACKOFF_INITIAL_MS: "30",
  WAGATE_SESSIONS__BACKOFF_MAX_MS: "120",
  WAGATE_SESSIONS__MAX_RECONNECT_ATTEMPTS: "4",
  WAGATE_SESSIONS__RESUME_STAGGER_MS: "20",
  WAGATE_SIM__CONNECT_DELAY_MS: "30",
  WAGATE_SIM__SENT_DELAY_MS: "30",
  WAGATE_SIM__DELIVERED_DELAY_MS: "30",
  WAGATE_SIM__READ_DELAY_MS: "30",
  WAGATE_EVENTS__STATS_INTERVAL_MS: "100",
  // The helpers poll REST every 10 ms; the security suite sets small quotas where it tests them.
  WAGATE_QUOTAS__REQUESTS_PER_MINUTE: "60000",
  // Compiled components are shared by every gateway of the run (keyed by content and engine,
  // written atomically): each start loads them in a millisecond instead of compiling them.
  WAGATE_PLUGINS__CACHE_DIR: join(tmpdir(), "wagate-e2e-plugin-cache"),
};

/**
 * The database a gateway on `dataDir` runs with: its SQLite file (the default), or, when
 * scripts/test.sh runs the suite a second time on PostgreSQL (WAGATE_E2E_DATABASE_URL), a
 * schema of that database named after the directory, so a restart finds its data again.
 */
export function databaseEnv(dataDir) {
  const url = process.env.WAGATE_E2E_DATABASE_URL;
  if (!url) return {};
  const schema = `wagate_e2e_${createHash("sha256").update(dataDir).digest("hex").slice(0, 16)}`;
  return { WAGATE_DATABASE_URL: url, WAGATE_DATABASE_SCHEMA: schema };
}

/**
 * The settings of cluster node `id` on `schema` (the nodes of one cluster share it): short
 * leases so a test sees a failover in seconds; `more` adds or overrides settings.
 */
export function clusterNodeEnv(schema, id, more = {}) {
  return {
    WAGATE_DATABASE_SCHEMA: schema,
    WAGATE_CLUSTER__ENABLED: "true",
    WAGATE_CLUSTER__NODE_ID: id,
    WAGATE_CLUSTER__LEASE_TTL_MS: "3000",
    WAGATE_CLUSTER__RENEW_INTERVAL_MS: "500",
    ...more,
  };
}

/** The WAGATE_* settings a node of the deployment examples in docs/examples/cluster/ is
 *  started with: `compose.yaml`'s shared node environment and that service's own, or the
 *  Kubernetes StatefulSet's env with the pod name `node` put in for `$(POD_NAME)`; values that
 *  come from a Secret are left out. Read with patterns for the layout those files keep. */
export function exampleNodeEnv(file, node) {
  const text = readFileSync(join(import.meta.dirname, "../../../docs/examples/cluster", file), "utf8");
  const env = {};
  if (file.endsWith("compose.yaml")) {
    const shared = text.split(/^x-wagate-env:.*$/m)[1].split(/^\S/m)[0];
    const own = text.split(new RegExp(`^  ${node}:$`, "m"))[1].split(/^  \S/m)[0];
    for (const block of [shared, own]) {
      for (const m of block.matchAll(/^\s+(WAGATE_[A-Z_]+): "([^"]*)"$/gm)) env[m[1]] = m[2];
    }
  } else {
    for (const m of text.matchAll(/- name: (WAGATE_[A-Z_]+)\n\s+value: "([^"]*)"/g)) env[m[1]] = m[2].replaceAll("$(POD_NAME)", node);
  }
  return env;
}

/** Runs `work` on every item, at most `width` at once. */
export async function inParallel(items, width, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/** Whether this run keeps its data in PostgreSQL rather than a SQLite file. */
export const onPostgres = () => Boolean(process.env.WAGATE_E2E_DATABASE_URL);

function binary() {
  const bin = process.env.WAGATE_BIN;
  if (!bin) throw new Error("WAGATE_BIN must point at the wagate binary (scripts/test.sh sets it)");
  return bin;
}

const STDERR_KEPT = 1 << 20;

export class Gateway {
  constructor(dataDir, env) {
    this.dataDir = dataDir;
    this.env = env;
    this.sockets = [];
  }

  /** Starts a gateway; `env` adds or overrides settings. */
  static async start(env = {}, { startTimeoutMs = 15000 } = {}) {
    const dataDir = mkdtempSync(join(tmpdir(), "wagate-e2e-"));
    const gw = new Gateway(dataDir, { WAGATE_PLUGINS__DIR: join(dataDir, "plugins"), ...env });
    await gw.launch(startTimeoutMs);
    return gw;
  }

  launch(startTimeoutMs = 15000) {
    const env = {
      ...process.env,
      ...FAST,
      WAGATE_ADMIN_KEY: ADMIN,
      WAGATE_DATA_DIR: this.dataDir,
      WAGATE_LISTEN: this.port ? `127.0.0.1:${this.port}` : "127.0.0.1:0",
      WAGATE_LOG: process.env.WAGATE_E2E_LOG ?? "warn",
      ...databaseEnv(this.dataDir),
      ...this.env,
    };
    this.proc = spawn(binary(), ["serve"], { env, stdio: ["ignore", "pipe", "pipe"] });
    // Passed on as it comes, and the last of it kept for tests that read what the process said.
    this.stderr = "";
    this.proc.stderr.on("data", (chunk) => {
      process.stderr.write(chunk);
      this.stderr = (this.stderr + chunk).slice(-STDERR_KEPT);
    });
    return new Promise((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`gateway did not start: ${out}`)), startTimeoutMs);
      this.proc.once("exit", (code) => reject(new Error(`gateway exited with ${code}: ${out}`)));
      this.proc.stdout.on("data", (chunk) => {
        out += chunk;
        const m = out.match(/wagate listening on (http:\/\/[\d.:]+)/);
        if (m && !this.ready) {
          this.ready = true;
          clearTimeout(timer);
          this.url = m[1];
          this.port = Number(new URL(this.url).port);
          resolve(this);
        }
      });
    });
  }

  /** Stops the process (SIGTERM, a graceful shutdown) and waits for it; `exit` is how it ended. */
  async stop(signal = "SIGTERM") {
    for (const s of this.sockets) s.disconnect();
    this.sockets = [];
    // A process killed by a signal has a null exitCode too: its signalCode says it is gone.
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.removeAllListeners("exit");
      const exited = new Promise((r) => this.proc.once("exit", (code, sig) => r({ code, signal: sig })));
      this.proc.kill(signal);
      this.exit = await exited;
    }
    this.ready = false;
  }

  /** Kills the process outright (SIGKILL: no shutdown at all, as a crash) and waits for it. */
  kill() {
    return this.stop("SIGKILL");
  }

  /** Stops and starts again on the same port and data directory. */
  async restart() {
    await this.stop();
    await this.launch();
  }

  async close() {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  async api(method, path, token, body, extraHeaders = {}) {
    const headers = { ...extraHeaders };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(this.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  }

  /** Creates a tenant; returns {id, apiKey, jwtSecret}. */
  async tenant(id) {
    const r = await this.api("POST", "/api/v1/tenants", ADMIN, { id, name: `Tenant ${id}` });
    if (r.status !== 201) throw new Error(`tenant: ${JSON.stringify(r)}`);
    return r.body;
  }

  async token(tenant, sub = "user-1", claims = undefined, ttlSeconds = undefined) {
    const r = await this.api("POST", "/api/v1/tokens", tenant.apiKey, { sub, claims, ttlSeconds });
    if (r.status !== 200) throw new Error(`token: ${JSON.stringify(r)}`);
    return r.body.token;
  }

  /** A connected socket.io-client; rejects with the connect_error. */
  connect(opts = {}) {
    const socket = io(this.url, { reconnection: false, forceNew: true, ...opts });
    // Listening from the start, as frontends do: over polling, events sent right after the
    // handshake arrive in the same response as the connect packet.
    socket.log = record(socket);
    this.sockets.push(socket);
    return new Promise((resolve, reject) => {
      socket.once("connect", () => resolve(socket));
      socket.once("connect_error", (err) => {
        socket.close();
        reject(err);
      });
    });
  }

  /** Creates a session and links it through the simulated phone. */
  async connectedSession(tenant, id, phone = "+15550000001") {
    let r = await this.api("POST", "/api/v1/sessions", tenant.apiKey, { id });
    if (r.status !== 201) throw new Error(JSON.stringify(r));
    r = await this.api("POST", `/api/v1/sessions/${id}/connect`, tenant.apiKey, {});
    if (r.status !== 202) throw new Error(JSON.stringify(r));
    for (let i = 0; i < 200; i++) {
      r = await this.api("POST", `/api/v1/sim/sessions/${id}/scan`, tenant.apiKey, { phoneNumber: phone, displayName: "E2E" });
      if (r.status === 200) break;
      await sleep(10);
    }
    await this.waitStatus(tenant, id, "CONNECTED");
  }

  async waitStatus(tenant, id, status) {
    for (let i = 0; i < 300; i++) {
      const r = await this.api("GET", `/api/v1/sessions/${id}`, tenant.apiKey);
      if (r.body?.status === status) return r.body;
      await sleep(10);
    }
    throw new Error(`session ${id} never reached ${status}`);
  }
}

/** Copies a built plugin folder (test or shipped) into `dir/name`. */
export function installPlugin(src, dir, name = basename(src)) {
  mkdirSync(dir, { recursive: true });
  cpSync(src, join(dir, name), { recursive: true });
}

export const testPlugin = (name) => join(requiredEnv("WAGATE_TEST_PLUGINS"), name);
export const shippedPlugins = () => requiredEnv("WAGATE_SHIPPED_PLUGINS");

function requiredEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (scripts/test.sh sets it)`);
  return v;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Records every event a socket receives, in order. */
export function record(socket) {
  const log = [];
  socket.onAny((name, payload) => log.push({ name, payload }));
  log.waitFor = async (name, pred = () => true, timeout = 4000) => {
    const deadline = Date.now() + timeout;
    while (Date.now() < deadline) {
      const hit = log.find((e) => e.name === name && pred(e.payload));
      if (hit) return hit.payload;
      await sleep(5);
    }
    throw new Error(`no ${name} within ${timeout} ms; got ${JSON.stringify(log.map((e) => e.name))}`);
  };
  log.names = (filter = () => true) => log.filter((e) => filter(e.name)).map((e) => e.name);
  return log;
}

export function emitWithAck(socket, event, payload, timeout = 3000) {
  return socket.timeout(timeout).emitWithAck(event, payload);
}

export const TRANSPORTS = [["websocket"], ["polling"]];

/** Signs an HS256 JWT the way a tenant's own backend would. */
export async function signHS256(secret, claims) {
  const { createHmac } = await import("node:crypto");
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const head = b64({ alg: "HS256", typ: "JWT" });
  const body = b64(claims);
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

export const now = () => Math.floor(Date.now() / 1000);

/**
 * Asserts `obj` has exactly the documented fields with their JSON types. A spec value is a
 * type name (`string`, `number`, `boolean`, `object`, `array`, `null`), several joined by
 * `|`, with a trailing `?` for a field that may be absent. Fields not in the spec are refused:
 * a frontend written against the seed should find nothing it does not expect.
 */
export function assertTypes(obj, spec, where = "payload") {
  const type = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
  if (type(obj) !== "object") throw new Error(`${where}: expected an object, got ${JSON.stringify(obj)}`);
  for (const [field, want] of Object.entries(spec)) {
    const optional = want.endsWith("?");
    const types = want.replace(/\?$/, "").split("|");
    if (!(field in obj)) {
      if (optional) continue;
      throw new Error(`${where}: missing ${field} in ${JSON.stringify(obj)}`);
    }
    if (!types.includes(type(obj[field]))) {
      throw new Error(`${where}.${field}: expected ${want}, got ${type(obj[field])} (${JSON.stringify(obj[field])})`);
    }
  }
  const extra = Object.keys(obj).filter((k) => !(k in spec));
  if (extra.length) throw new Error(`${where}: undocumented fields ${extra.join(", ")} in ${JSON.stringify(obj)}`);
}

/** Binds a plugin for a tenant (PUT /api/v1/tenant/plugins/{name}); throws unless 200. */
export async function bindPlugin(gw, tenant, name, config = {}) {
  const r = await gw.api("PUT", `/api/v1/tenant/plugins/${name}`, tenant.apiKey, { enabled: true, config });
  if (r.status !== 200) throw new Error(`bind ${name}: ${JSON.stringify(r)}`);
  return r.body;
}

/**
 * Waits `ms` and returns what the log gained meanwhile: for "nothing else happens".
 * `except` names tenant-wide broadcasts that earlier activity may still schedule (the
 * coalesced stats push lands up to a second after the session change that caused it), so a
 * test about one request does not fail on a push it did not cause.
 */
export async function during(log, ms, action = async () => {}, { except = [] } = {}) {
  const start = log.length;
  await action();
  await sleep(ms);
  return log.slice(start).filter((e) => !except.includes(e.name));
}

/** The ISO 8601 timestamps the seeds show (`2024-01-15T10:30:00.000Z`). */
export const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
