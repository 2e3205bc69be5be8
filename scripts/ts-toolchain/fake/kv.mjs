import { host } from "./host.mjs";
export function get(key) {
  return host.kv.get(key);
}
export function set(key, value) {
  host.kv.set(key, value);
}
function remove(key) {
  host.kv.delete(key);
}
export { remove as delete };
