// {{name}}'s logic under Node, against the fake host the gateway's scripts provide
// ("wagate:testing"): run them with scripts/test-ts-plugin.sh from the wagate checkout.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { host, reset } from "wagate:testing";
import { config, transform } from "../src/plugin.js";

beforeEach(() => reset());

test("renames events", () => {
  config.init(JSON.stringify({ prefix: "demo" }));
  const event = { name: "session.connected", tenant: "t1", session: "s1", seq: 1n, payload: '{"sessionId":"s1"}' };
  const [emit] = transform.transform(event);
  assert.equal(emit.event, "demo:session.connected");
  assert.equal(emit.payload, event.payload);
  assert.deepEqual(host.logs, [["info", "{{name}} ready with prefix demo"]]);
});

test("an empty prefix is refused", () => {
  assert.throws(() => config.init(JSON.stringify({ prefix: "" })), (e) => String(e).includes("invalid config at 'prefix'"));
});
