// {{name}}: a wagate plugin in TypeScript. See docs/plugins.md ("TypeScript") in the wagate
// repository. The imports and hook types come from the contract (wit/plugin.wit): a hook
// whose shape does not match fails the build.
import { log } from "wagate:plugin/log@1.3.0";
import type * as ConfigHook from "wagate:plugin/config@1.3.0";
import type * as TransformHook from "wagate:plugin/transform@1.3.0";
import type { Emit, Event } from "wagate:plugin/types@1.3.0";

let prefix = "{{name}}";

// The binding's config: plugin.toml's [config] with the tenant's merged over it, as JSON
// text. A thrown string refuses the binding; the tenant sees it.
export const config: typeof ConfigHook = {
  init(json: string): void {
    const c = JSON.parse(json) as { prefix?: unknown };
    if (typeof c.prefix !== "string" || c.prefix === "") throw "invalid config at 'prefix': a non-empty string";
    prefix = c.prefix;
    log("info", `{{name}} ready with prefix ${prefix}`);
  },
  schema(): string | undefined {
    return JSON.stringify({ type: "object", properties: { prefix: { type: "string", minLength: 1 } }, required: ["prefix"] });
  },
};

// Every canonical event, renamed, to every socket of the tenant. `payload` is the event's
// JSON text (docs/events.schema.json), passed on as it is.
function renamed(event: Event): Emit[] {
  return [{ event: `${prefix}:${event.name}`, payload: event.payload, target: { tag: "tenant" } }];
}

export const transform: typeof TransformHook = {
  transform: renamed,
  transformBatch: (events: Event[]) => events.map(renamed),
};
