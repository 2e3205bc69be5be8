import { host } from "./host.mjs";
export function nowMs() {
  return BigInt(host.nowMs);
}
