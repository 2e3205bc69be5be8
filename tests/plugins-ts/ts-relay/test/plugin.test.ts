// ts-relay's logic under Node against the fake host (scripts/test-ts-plugin.sh).
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { host, reset } from "wagate:testing";
import { config, transform, bot } from "../src/plugin.js";
import type { Event } from "wagate:plugin/types@1.3.0";

const event = (seq: number): Event => ({ name: "session.status", tenant: "t1", session: "s1", seq: BigInt(seq), payload: "{}" });

beforeEach(() => reset());

test("relays every event with its seq and the binding's label", () => {
  config.init(JSON.stringify({ label: "a", mode: "relay" }));
  const [emit] = transform.transform(event(7));
  assert.equal(emit.event, "ts:session.status");
  assert.deepEqual(JSON.parse(emit.payload), { seq: 7, label: "a", session: "s1" });
  assert.deepEqual(emit.target, { tag: "tenant" });
  assert.deepEqual(transform.transformBatch([event(1), event(2)]).map((e) => JSON.parse(e[0].payload).seq), [1, 2]);
});

test("the bot hook answers with the same emits and logs through the host", () => {
  config.init(JSON.stringify({ label: "b", mode: "relay" }));
  const [action] = bot.onEvent(event(3));
  assert.equal(action.tag, "emit");
  assert.deepEqual(host.logs, [["debug", "ts-relay saw session.status"]]);
});

test("a bad config is refused with the field it names", () => {
  assert.throws(() => config.init(JSON.stringify({ label: "x", mode: "sideways" })), (e) => String(e).includes("invalid config at 'mode'"));
  config.init(JSON.stringify({ label: "x", mode: "throw" }));
  assert.throws(() => transform.transform(event(1)), /ts-relay refuses session.status/);
});
