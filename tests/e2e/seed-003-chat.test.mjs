// Seed 003 (WaBox): its useWaBoxSocket hook, unchanged — request/response over the socket
// plus pushed updates — with dialect-chat bound ({}). Number 1 is the session with id "1".
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Gateway, ISO, TRANSPORTS, assertTypes, bindPlugin, during, shippedPlugins, sleep } from "./lib/gateway.mjs";

const CHAT = {
  id: "string", contactName: "string", contactNumber: "string|null", contactJid: "string", lastMessage: "string|null",
  lastMessageTime: "string|null", unreadCount: "number", isGroup: "boolean", isPinned: "boolean", isArchived: "boolean",
};
const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489", "hex");
const MESSAGE = {
  id: "string", messageId: "string", fromJid: "string", fromNumber: "string|null", fromName: "string|null",
  content: "string", type: "string", isFromMe: "boolean", status: "string", timestamp: "string",
};
const STATUS = { whatsappNumberId: "number", status: "string", lastConnected: "string|null", phoneNumber: "string|null" };

let gw, acme, other, foreignChat;
before(async () => {
  gw = await Gateway.start({ WAGATE_PLUGINS__DIR: shippedPlugins() });
  acme = await gw.tenant("acme");
  other = await gw.tenant("other");
  await bindPlugin(gw, acme, "dialect-chat", {});
  await gw.connectedSession(other, "9");
  await gw.api("POST", "/api/v1/sim/sessions/9/inbound", other.apiKey, { from: "+15550009999", text: "not yours" });
  await sleep(100);
  foreignChat = (await gw.api("GET", "/api/v1/sessions/9/chats", other.apiKey)).body[0].id;
});
after(() => gw.close());

/** The seed's hook: connect with auth.token, then ask for the list and the status. */
async function useWaBoxSocket(transports, whatsappNumberId) {
  const socket = await gw.connect({ transports, auth: { token: await gw.token(acme, "agent-1") } });
  socket.emit("chat:get-list", { whatsappNumberId });
  socket.emit("whatsapp:get-status", { whatsappNumberId });
  return socket;
}

for (const [i, transports] of TRANSPORTS.entries()) {
  const t = transports[0];
  const number = i + 1;
  describe(`seed 003 over ${t}`, () => {
    before(async () => {
      await gw.connectedSession(acme, String(number), `+6281100000${number}`);
      for (const [from, name, text] of [["+628123456789", "John Doe", "Hello there!"], ["+628123456789", "John Doe", "Are you open?"], ["+628555000111", null, "Price?"]]) {
        await gw.api("POST", `/api/v1/sim/sessions/${number}/inbound`, acme.apiKey, { from, name, text });
      }
      await sleep(150);
    });

    test("chat list, status, history, mark read", async () => {
      const socket = await useWaBoxSocket(transports, number);
      const log = socket.log;
      const list = await log.waitFor("chat:list");
      assertTypes(list, { whatsappNumberId: "number", chats: "array" }, "chat:list");
      assert.equal(list.whatsappNumberId, number);
      assert.equal(list.chats.length, 2);
      list.chats.forEach((c, k) => assertTypes(c, CHAT, `chat:list.chats[${k}]`));
      list.chats.forEach((c) => assert.match(c.lastMessageTime, ISO, "timestamps as the seed shows them"));
      const john = list.chats.find((c) => c.contactNumber === "+628123456789");
      assert.deepEqual([john.contactName, john.contactJid, john.lastMessage, john.unreadCount], ["John Doe", "628123456789@s.whatsapp.net", "Are you open?", 2]);
      assert.equal(list.chats[0].contactNumber, "+628555000111", "most recent first: that chat spoke last");

      const status = await log.waitFor("whatsapp:status");
      assertTypes(status, STATUS, "whatsapp:status");
      assert.deepEqual([status.whatsappNumberId, status.status, status.phoneNumber], [number, "CONNECTED", `+6281100000${number}`]);

      socket.emit("chat:get-history", { chatId: john.id });
      const history = await log.waitFor("chat:history");
      assertTypes(history, { chatId: "string", messages: "array" }, "chat:history");
      assert.equal(history.chatId, john.id);
      history.messages.forEach((m, k) => assertTypes(m, MESSAGE, `chat:history.messages[${k}]`));
      history.messages.forEach((m) => assert.match(m.timestamp, ISO));
      assert.deepEqual(history.messages.map((m) => m.content), ["Are you open?", "Hello there!"], "newest first; the hook reverses");
      assert.deepEqual([history.messages[0].type, history.messages[0].isFromMe, history.messages[0].fromName], ["TEXT", false, "John Doe"]);

      socket.emit("chat:get-history", { chatId: john.id, limit: 1, offset: 1 });
      const page = await log.waitFor("chat:history", (d) => d.messages.length === 1);
      assert.equal(page.messages[0].content, "Hello there!");

      socket.emit("chat:mark-read", { chatId: john.id });
      const read = await log.waitFor("chat:read");
      assert.deepEqual(read, { chatId: john.id, whatsappNumberId: number });
      const rest = (await gw.api("GET", `/api/v1/sessions/${number}/chats`, acme.apiKey)).body;
      assert.equal(rest.find((c) => c.id === john.id).unreadCount, 0, "the unread count really dropped");
      const updated = await log.waitFor("chat:updated", (d) => d.chat.id === john.id);
      assertTypes(updated, { whatsappNumberId: "number", chat: "object" });
      assertTypes(updated.chat, { id: "string", contactName: "string", lastMessage: "string|null", lastMessageTime: "string|null", unreadCount: "number" }, "chat:updated.chat");
      assert.equal(updated.chat.unreadCount, 0);
    });

    test("pushed: message:new, chat:updated, message:status, whatsapp:status, whatsapp:qr", async () => {
      const socket = await useWaBoxSocket(transports, number);
      const log = socket.log;
      await log.waitFor("chat:list");
      await gw.api("POST", `/api/v1/sim/sessions/${number}/inbound`, acme.apiKey, { from: "+628123456789", name: "John Doe", text: "New message here" });
      const incoming = await log.waitFor("message:new", (d) => d.message.content === "New message here");
      assertTypes(incoming, { whatsappNumberId: "number", chatId: "string", message: "object" }, "message:new");
      assertTypes(incoming.message, MESSAGE, "message:new.message");
      assert.match(incoming.message.timestamp, ISO);
      assert.deepEqual([incoming.whatsappNumberId, incoming.message.isFromMe, incoming.message.fromNumber], [number, false, "+628123456789"]);
      const bump = await log.waitFor("chat:updated", (d) => d.chat.lastMessage === "New message here");
      assert.equal(bump.chat.id, incoming.chatId);
      assert.equal(incoming.message.mediaUrl, undefined, "a text has no file");
      // A photo: its type, and a mediaUrl the page loads without a token.
      await gw.api("POST", `/api/v1/sim/sessions/${number}/inbound`, acme.apiKey, { from: "+628123456789", type: "image", text: "the menu", media: { base64: PNG.toString("base64") } });
      const photo = await log.waitFor("message:new", (d) => d.message.content === "the menu");
      assert.equal(photo.message.type, "IMAGE");
      const file = await fetch(new URL(photo.message.mediaUrl, gw.url));
      assert.equal(file.status, 200);
      assert.deepEqual(Buffer.from(await file.arrayBuffer()), PNG);

      const sent = await gw.api("POST", `/api/v1/sessions/${number}/messages`, acme.apiKey, { phoneNumber: undefined, to: "+628123456789", text: "Hello from REST API!" });
      assert.equal(sent.status, 202);
      const mine = await log.waitFor("message:new", (d) => d.message.content === "Hello from REST API!");
      assert.equal(mine.message.isFromMe, true);
      await log.waitFor("message:status", (d) => d.status === "READ");
      const statuses = log.filter((e) => e.name === "message:status").map((e) => e.payload);
      statuses.forEach((s) => assertTypes(s, { whatsappNumberId: "number", chatId: "string", messageId: "string", status: "string" }, "message:status"));
      assert.deepEqual(statuses.map((s) => s.status), ["SENT", "DELIVERED", "READ"]);
      const stored = (await gw.api("GET", `/api/v1/sessions/${number}/messages/${sent.body.id}`, acme.apiKey)).body;
      assert.equal(statuses[0].messageId, stored.waMessageId, "the WhatsApp message id, as the seed shows");

      await gw.api("POST", `/api/v1/sessions/${number}/disconnect`, acme.apiKey);
      const down = await log.waitFor("whatsapp:status", (d) => d.status === "DISCONNECTED");
      assertTypes(down, STATUS, "whatsapp:status (pushed)");
      await gw.api("POST", `/api/v1/sessions/${number}/connect`, acme.apiKey, {});
      const up = await log.waitFor("whatsapp:status", (d) => d.status === "CONNECTED" && d !== down);
      assert.equal(typeof up.lastConnected, "string");

      // A new number's login: the QR comes as a PNG data URL, PAIRING before CONNECTED.
      const fresh = number + 10;
      await gw.api("POST", "/api/v1/sessions", acme.apiKey, { id: String(fresh) });
      socket.emit("whatsapp:get-status", { whatsappNumberId: fresh });
      const pending = await log.waitFor("whatsapp:status", (d) => d.whatsappNumberId === fresh);
      assert.equal(pending.status, "PENDING");
      await gw.api("POST", `/api/v1/sessions/${fresh}/connect`, acme.apiKey, {});
      const qr = await log.waitFor("whatsapp:qr", (d) => d.whatsappNumberId === fresh);
      assertTypes(qr, { whatsappNumberId: "number", qrCode: "string" }, "whatsapp:qr");
      assert.match(qr.qrCode, /^data:image\/png;base64,iVBORw0KGgo/);
      const seen = log.filter((e) => e.name === "whatsapp:status" && e.payload.whatsappNumberId === fresh).map((e) => e.payload.status);
      assert.ok(seen.includes("PAIRING"), JSON.stringify(seen));
      for (const s of seen) assert.ok(["PENDING", "PAIRING", "CONNECTED", "DISCONNECTED", "RECONNECTING"].includes(s), s);
      await gw.api("POST", `/api/v1/sessions/${fresh}/disconnect`, acme.apiKey);
    });

    test("a token of another tenant is refused; a bad one too", async () => {
      const otherToken = await gw.token(other, "agent-1");
      const s = await gw.connect({ transports, auth: { token: otherToken } });
      const got = await during(s.log, 300, () => s.emit("chat:get-list", { whatsappNumberId: number }));
      // dialect-chat is not bound for the other tenant: the canonical dialect does not know the event.
      assert.deepEqual(got.map((e) => [e.name, e.payload.code]), [["error", "unknown_event"]]);
      const err = await gw.connect({ transports, auth: { token: "abc.def.ghi" } }).then(() => null, (e) => e);
      assert.match(err.message, /^malformed token/);
    });

    test("unknown, foreign and malformed requests: error { message } and nothing else", async () => {
      const socket = await useWaBoxSocket(transports, number);
      await socket.log.waitFor("whatsapp:status");
      const chats = (await gw.api("GET", `/api/v1/sessions/${number}/chats`, acme.apiKey)).body;
      const unreadBefore = chats.map((c) => c.unreadCount);
      const cases = [
        ["chat:get-history", { chatId: foreignChat }, "Chat not found or unauthorized"],
        ["chat:mark-read", { chatId: foreignChat }, "Chat not found or unauthorized"],
        ["chat:get-history", { chatId: "chat-uuid-here" }, "Chat not found or unauthorized"],
        ["chat:get-list", { whatsappNumberId: 9 }, "WhatsApp number not found or unauthorized"],
        ["whatsapp:get-status", { whatsappNumberId: 9 }, "WhatsApp number not found or unauthorized"],
        ["chat:get-list", { whatsappNumberId: true }, "whatsappNumberId must be a number or a string"],
        ["chat:get-list", { limit: 50 }, "whatsappNumberId must be a number or a string"],
        ["chat:get-list", { whatsappNumberId: number, limit: "50" }, "limit must be an integer from 0 to 500"],
        ["chat:get-history", { chatId: 12.5 }, "chatId must be a string"],
        ["chat:mark-read", "just-a-string", "chat:mark-read expects an object payload"],
        ["chat:mark-read", { chatId: "c".repeat(60000) }, "chatId must be a string"],
      ];
      for (const [event, payload, message] of cases) {
        const got = await during(socket.log, 120, () => socket.emit(event, payload));
        assert.deepEqual(got, [{ name: "error", payload: { message } }], `${event} ${JSON.stringify(payload).slice(0, 40)}`);
      }
      const after = (await gw.api("GET", `/api/v1/sessions/${number}/chats`, acme.apiKey)).body;
      assert.deepEqual(after.map((c) => c.unreadCount), unreadBefore, "nothing was marked read");
      const theirs = (await gw.api("GET", "/api/v1/sessions/9/chats", other.apiKey)).body[0];
      assert.equal(theirs.unreadCount, 1, "the other tenant's chat is untouched");
    });
  });
}
