import { host } from "./host.mjs";
export function all() {
  return JSON.stringify(host.sessions);
}
