import { host } from "./host.mjs";
export function link(session, message, ttlSecs) {
  return host.mediaLinks[message];
}
