import { host } from "./host.mjs";
export function send(session, message) {
  host.queued.push([session, { send: JSON.parse(message) }]);
}
export function react(session, message, emoji) {
  host.queued.push([session, { react: { message, emoji } }]);
}
export function edit(session, message, text) {
  host.queued.push([session, { edit: { message, text } }]);
}
export function revoke(session, message) {
  host.queued.push([session, { revoke: { message } }]);
}
