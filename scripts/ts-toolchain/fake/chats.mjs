import { host } from "./host.mjs";
const page = (list, limit, offset) => (list ?? []).slice(offset, offset + limit);
export function recent(session, limit, offset) {
  return JSON.stringify(page(host.chats[session], limit, offset));
}
export function get(chat) {
  const found = Object.values(host.chats).flat().find((c) => c.id === chat);
  return found ? JSON.stringify(found) : undefined;
}
export function history(session, chat, limit, offset) {
  return JSON.stringify(page(host.history[chat], limit, offset));
}
