// The TypeScript test plugin: the contract's types come from the WIT (jco), the hooks are
// plain objects whose shape the compiler checks against them.
import { log } from "wagate:plugin/log@1.3.0";
import type * as ConfigHook from "wagate:plugin/config@1.3.0";
import type * as TransformHook from "wagate:plugin/transform@1.3.0";
import type * as BotHook from "wagate:plugin/bot@1.3.0";
import type { Emit, Event, Action } from "wagate:plugin/types@1.3.0";

type Mode = "relay" | "throw" | "loop" | "bomb";
let label = "ts";
let mode: Mode = "relay";

export const config: typeof ConfigHook = {
  init(json: string): void {
    const c = JSON.parse(json) as { label?: unknown; mode?: unknown };
    if (typeof c.label !== "string") throw "invalid config at 'label': a string";
    if (c.mode !== "relay" && c.mode !== "throw" && c.mode !== "loop" && c.mode !== "bomb") {
      throw "invalid config at 'mode': relay, throw, loop or bomb";
    }
    label = c.label;
    mode = c.mode;
  },
  schema(): string | undefined {
    return JSON.stringify({ type: "object", properties: { label: { type: "string" }, mode: { enum: ["relay", "throw", "loop", "bomb"] } } });
  },
};

function relay(event: Event): Emit[] {
  if (mode === "throw") throw new Error(`ts-relay refuses ${event.name}`);
  if (mode === "loop") for (;;) {}
  if (mode === "bomb") {
    const hoard: ArrayBuffer[] = [];
    for (;;) hoard.push(new ArrayBuffer(4 << 20));
  }
  const payload = { seq: Number(event.seq), label, session: event.session ?? null };
  return [{ event: `ts:${event.name}`, payload: JSON.stringify(payload), target: { tag: "tenant" } }];
}

export const transform: typeof TransformHook = {
  transform: relay,
  transformBatch: (events: Event[]) => events.map(relay),
};

export const bot: typeof BotHook = {
  onEvent(event: Event): Action[] {
    log("debug", `ts-relay saw ${event.name}`);
    return relay(event).map((emit) => ({ tag: "emit", val: emit }));
  },
};
