// Chats of one session: the chat list, a chat's history, and a box to send a text. Messages
// and their receipts arrive live; each outbound message shows its status as ticks.

import { enc } from "./api.js";
import { h, replace, time, errorText, busy } from "./dom.js";

const TICKS = { PENDING: "🕓", SENT: "✓", DELIVERED: "✓✓", READ: "✓✓", FAILED: "!" };
const HISTORY = 100;

export function chatsSection(ctx, el, [sessionId, chatId]) {
  const { api, hub } = ctx;
  const picker = h("select", { id: "chat-session", "aria-label": "Session" });
  const chatList = h("ul", { class: "chat-list", role: "list" });
  const pane = h("div", { class: "card chat-pane" });
  let session = sessionId || null;
  let chats = [];
  let open = null;
  let messages = [];
  // The text being written survives the redraws that arriving messages cause.
  let draft = "";

  replace(el, h("h1", {}, "Chats"),
    h("div", { class: "card inline" }, h("div", { class: "field" }, h("label", { for: "chat-session" }, "Session"), picker)),
    h("div", { class: "chats" }, h("nav", { class: "card chat-nav", "aria-label": "Chats" }, chatList), pane));

  picker.addEventListener("change", () => pickSession(picker.value, null));

  function remember() {
    const parts = ["chats", session, open && open.id].filter(Boolean).map(enc);
    history.replaceState(null, "", `#/${parts.join("/")}`);
  }

  async function pickSession(id, chat) {
    session = id;
    open = null;
    messages = [];
    remember();
    drawPane();
    if (!session) return replace(chatList);
    try {
      chats = await api.get(`/api/v1/sessions/${enc(session)}/chats?limit=200`);
    } catch (e) {
      chats = [];
      ctx.notify(e.message);
    }
    drawChats();
    if (chat) openChat(chat);
  }

  function drawChats() {
    replace(chatList, chats.length ? chats.map((c) => h("li", {},
      h("button", { class: `chat${open && open.id === c.id ? " selected" : ""}`, dataset: { chat: c.id }, onclick: () => openChat(c.id) },
        h("span", { class: "chat-name" }, c.name || c.number || c.jid),
        c.unreadCount ? h("span", { class: "unread", "aria-label": `${c.unreadCount} unread` }, c.unreadCount) : null,
        h("span", { class: "chat-last muted" }, c.lastMessage || ""),
        h("span", { class: "chat-time muted" }, time(c.lastMessageAt)))))
      : h("li", { class: "muted" }, "No chats yet."));
  }

  async function openChat(id) {
    if (!open || open.id !== id) draft = "";
    open = chats.find((c) => c.id === id) || { id };
    remember();
    drawChats();
    try {
      messages = (await api.get(`/api/v1/sessions/${enc(session)}/chats/${enc(id)}/messages?limit=${HISTORY}`)).reverse();
    } catch (e) {
      messages = [];
      ctx.notify(e.message);
    }
    drawPane();
  }

  function bubble(m) {
    const out = m.direction === "outbound";
    return h("li", { class: `msg ${out ? "out" : "in"}`, dataset: { message: m.id, status: m.status } },
      !out && open && open.isGroup ? h("div", { class: "from" }, m.fromName || m.fromNumber || m.fromJid) : null,
      h("div", { class: "text" }, m.content || `[${m.type}]`),
      h("div", { class: "meta" }, time(m.timestamp), out ? h("span", { class: `ticks ticks-${m.status.toLowerCase()}`, title: m.error || m.status, "aria-label": m.status }, TICKS[m.status] || m.status) : null),
      m.status === "FAILED" && m.error ? h("div", { class: "error" }, m.error) : null);
  }

  let list = null;
  function drawPane() {
    if (!open) {
      replace(pane, h("p", { class: "muted" }, session ? "Choose a chat." : "Choose a session."));
      list = null;
      return;
    }
    list = h("ol", { class: "messages", "aria-live": "polite" }, messages.map(bubble));
    const typing = document.activeElement && document.activeElement.id === "compose";
    const text = h("textarea", { id: "compose", rows: 2, placeholder: "Write a message", "aria-label": "Message", required: true,
      oninput: () => (draft = text.value) }, draft);
    const sendError = h("div", { class: "form-error" });
    const form = h("form", { class: "compose", onsubmit: async (e) => {
      e.preventDefault();
      replace(sendError);
      const body = text.value.trim();
      if (!body) return;
      // The message's own events redraw the pane while it is sent: the box they draw is empty,
      // and gets the text back if the gateway refuses it.
      draft = "";
      text.value = "";
      const current = () => pane.querySelector("#compose") || text;
      try {
        await busy(e.submitter, () => api.post(`/api/v1/sessions/${enc(session)}/messages`, { to: open.jid, text: body }));
        current().focus();
      } catch (err) {
        draft = body;
        current().value = body;
        replace(pane.querySelector(".compose .form-error") || sendError, errorText(err.message));
      }
    } }, text, h("button", { type: "submit", class: "primary" }, "Send"), sendError);
    text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    replace(pane, h("header", {}, h("h2", {}, open.name || open.number || open.jid || open.id), h("small", { class: "muted" }, open.jid || "")),
      list, form);
    list.scrollTop = list.scrollHeight;
    if (typing) {
      text.focus();
      text.setSelectionRange(draft.length, draft.length);
    }
  }

  function upsertMessage(m) {
    const i = messages.findIndex((x) => x.id === m.id);
    if (i >= 0) messages[i] = m;
    else messages.push(m);
    drawPane();
  }

  const off = hub.on((name, p) => {
    if (p.sessionId !== session) return;
    if (p.chat) {
      const i = chats.findIndex((c) => c.id === p.chat.id);
      if (i >= 0) chats[i] = p.chat;
      else chats.unshift(p.chat);
      chats.sort((a, b) => String(b.lastMessageAt || "").localeCompare(String(a.lastMessageAt || "")));
      if (open && open.id === p.chat.id) open = p.chat;
      drawChats();
    }
    if (!open) return;
    if (p.message && p.message.chatId === open.id) upsertMessage(p.message);
    if (name === "message.status" && p.chatId === open.id) {
      const m = messages.find((x) => x.id === p.messageId);
      if (m) {
        m.status = p.status;
        m.error = p.error;
        const li = list && list.querySelector(`[data-message="${CSS.escape(m.id)}"]`);
        if (li) li.replaceWith(bubble(m));
      }
    }
  });

  api.get("/api/v1/sessions").then((sessions) => {
    replace(picker, h("option", { value: "" }, "—"), sessions.map((s) => h("option", { value: s.id, selected: s.id === session }, `${s.name || s.id} (${s.status})`)));
    if (!session && sessions.length) session = sessions[0].id;
    picker.value = session || "";
    pickSession(session, chatId);
  }, (e) => ctx.notify(e.message));
  return off;
}
