// The tenant's sections: sessions (login by QR or pairing code, live status), the live event
// log, plugin bindings, webhooks and the audit log. Chats live in chats.js.

import { enc } from "./api.js";
import { h, replace, time, badge, errorText, busy, emptyRow } from "./dom.js";
import { ConfigForm } from "./form.js";
import { chatsSection } from "./chats.js";

/// Keeps the section's sub-path in the address without drawing the section again.
function remember(section, ...parts) {
  history.replaceState(null, "", `#/${[section, ...parts].map(enc).join("/")}`);
}

// ---- sessions ----

function sessionsSection(ctx, el, [selectedId]) {
  const { api, hub } = ctx;
  const rows = h("tbody");
  const detail = h("aside", { class: "card detail", "aria-live": "polite" });
  const formError = h("div", { class: "form-error" });
  const sessions = new Map();
  // Each session's send queue (GET .../queue), read with the session.
  const queues = new Map();
  let selected = selectedId || null;
  let qr = null;
  let pairing = null;
  // What the user is typing survives the redraws that live events cause.
  let pairPhone = "";
  // The pacing being edited (its session and fields), and why the last save was refused.
  let pacingDraft = null;
  let pacingError = "";

  const idInput = h("input", { id: "new-id", placeholder: "optional", autocomplete: "off" });
  const nameInput = h("input", { id: "new-name", placeholder: "optional", autocomplete: "off" });
  const connector = h("select", { id: "new-connector" }, h("option", { value: "" }, "default"),
    h("option", { value: "sim" }, "sim (simulator)"), h("option", { value: "whatsapp" }, "whatsapp"));
  const create = h("form", { class: "card inline", onsubmit: async (e) => {
    e.preventDefault();
    replace(formError);
    const body = {};
    if (idInput.value.trim()) body.id = idInput.value.trim();
    if (nameInput.value.trim()) body.name = nameInput.value.trim();
    if (connector.value) body.connector = connector.value;
    try {
      const s = await busy(e.submitter, () => api.post("/api/v1/sessions", body));
      idInput.value = nameInput.value = "";
      sessions.set(s.id, s);
      select(s.id);
    } catch (err) {
      replace(formError, errorText(err.message));
    }
  } },
  h("h2", {}, "New session"),
  h("div", { class: "field" }, h("label", { for: "new-id" }, "Id"), idInput),
  h("div", { class: "field" }, h("label", { for: "new-name" }, "Name"), nameInput),
  h("div", { class: "field" }, h("label", { for: "new-connector" }, "Connector"), connector),
  h("button", { type: "submit", class: "primary" }, "Create"), formError);

  replace(el, h("h1", {}, "Sessions"), create,
    h("div", { class: "split" },
      h("div", { class: "card table-wrap" }, h("table", { class: "list" },
        h("thead", {}, h("tr", {}, h("th", {}, "Session"), h("th", {}, "Status"), h("th", {}, "Phone"), h("th", {}, "Connector"))),
        rows)),
      detail));

  function drawRows() {
    const list = [...sessions.values()].sort((a, b) => a.id.localeCompare(b.id));
    replace(rows, list.length ? list.map((s) => h("tr", {
      class: s.id === selected ? "selected" : "", dataset: { session: s.id }, tabindex: 0,
      onclick: () => select(s.id), onkeydown: (e) => e.key === "Enter" && select(s.id),
    }, h("td", {}, h("strong", {}, s.name || s.id), s.name ? h("div", { class: "muted" }, s.id) : null),
    h("td", {}, badge(s.status)), h("td", {}, s.phone || "—"), h("td", {}, s.connector))) : emptyRow(4, "No sessions yet: create one above."));
  }

  function select(id) {
    selected = id;
    qr = null;
    pairing = null;
    pairPhone = "";
    remember("sessions", id);
    drawRows();
    refresh(id, true);
  }

  async function refresh(id, loadQr) {
    try {
      const s = await api.get(`/api/v1/sessions/${enc(id)}`);
      sessions.set(id, s);
      if (id === selected) queues.set(id, await api.get(`/api/v1/sessions/${enc(id)}/queue`).catch(() => null));
      if (loadQr && s.status === "QR_REQUIRED") {
        qr = await api.get(`/api/v1/sessions/${enc(id)}/qr`).catch(() => null);
      }
    } catch (e) {
      if (e.status === 404) sessions.delete(id);
      else ctx.notify(e.message);
    }
    drawRows();
    if (id === selected) drawDetail();
  }

  function drawDetail() {
    const s = sessions.get(selected);
    if (!s) {
      replace(detail, h("p", { class: "muted" }, "Select a session to see it and to log it in."));
      return;
    }
    const actionError = h("div", { class: "form-error" });
    const act = (label, path, body, cls = "secondary") => h("button", { class: cls, onclick: async (e) => {
      replace(actionError);
      try {
        await busy(e.currentTarget, () => api.post(`/api/v1/sessions/${enc(s.id)}/${path}`, body));
      } catch (err) {
        replace(actionError, errorText(err.message));
      }
    } }, label);
    const focused = document.activeElement && document.activeElement.id;
    const phone = h("input", { id: "pair-phone", type: "tel", placeholder: "+6281234567890", autocomplete: "off",
      value: pairPhone, oninput: () => (pairPhone = phone.value) });
    const canLogin = ["INIT", "DISCONNECTED", "ERROR", "QR_REQUIRED"].includes(s.status);
    const live = ["CONNECTED", "RECONNECTING", "PAIRING", "QR_REQUIRED"].includes(s.status);
    replace(detail,
      h("h2", {}, s.name || s.id, " ", badge(s.status, "big")),
      h("dl", { class: "facts" },
        h("dt", {}, "Id"), h("dd", {}, s.id),
        h("dt", {}, "Phone"), h("dd", {}, s.phone ? `${s.phone}${s.displayName ? ` (${s.displayName})` : ""}` : "—"),
        h("dt", {}, "Connector"), h("dd", {}, s.connector),
        s.disconnectReason ? [h("dt", {}, "Reason"), h("dd", {}, s.disconnectReason)] : null,
        s.lastError ? [h("dt", {}, "Last error"), h("dd", { class: "error" }, s.lastError)] : null,
        s.liveness ? [h("dt", {}, "Last traffic"), h("dd", {}, `${Math.round(s.liveness.silentForMs / 1000)} s ago${s.liveness.probing ? " (probing)" : ""}`)] : null,
        h("dt", {}, "Last connected"), h("dd", {}, time(s.lastConnectedAt) || "never"),
        queueFacts(queues.get(s.id))),
      pacingEditor(s),
      qrPanel(s),
      pairing && pairing.sessionId === s.id ? h("div", { class: "pairing" }, h("p", {}, "Enter this code on the phone (Linked devices → Link with phone number):"),
        h("code", { class: "pairing-code" }, pairing.code), h("small", { class: "muted" }, `expires ${time(pairing.expiresAt)}`)) : null,
      h("div", { class: "actions" },
        canLogin ? act("Log in with QR", "connect", { method: "qr" }, "primary") : null,
        live ? act("Disconnect", "disconnect", {}) : null,
        s.status !== "INIT" ? act("Log out", "logout", {}, "danger") : null,
        h("button", { class: "danger link", onclick: async (e) => {
          if (!confirm(`Delete session ${s.id} with its chats and messages?`)) return;
          try {
            await busy(e.currentTarget, () => api.delete(`/api/v1/sessions/${enc(s.id)}`));
            sessions.delete(s.id);
            selected = null;
            remember("sessions");
            drawRows();
            drawDetail();
          } catch (err) {
            replace(actionError, errorText(err.message));
          }
        } }, "Delete")),
      canLogin ? h("form", { class: "inline", onsubmit: async (e) => {
        e.preventDefault();
        replace(actionError);
        try {
          await busy(e.submitter, () => api.post(`/api/v1/sessions/${enc(s.id)}/connect`, { method: "code", phoneNumber: phone.value.trim() }));
        } catch (err) {
          replace(actionError, errorText(err.message));
        }
      } }, h("div", { class: "field" }, h("label", { for: "pair-phone" }, "Or link by pairing code for"), phone),
      h("button", { type: "submit", class: "secondary" }, "Get pairing code")) : null,
      actionError);
    if (focused) document.getElementById(focused)?.focus();
  }

  /// The session's pacing, which its administrator changes here (`PUT .../queue`) or hands
  /// back to the gateway's default (`DELETE .../queue`).
  function pacingEditor(s) {
    const q = queues.get(s.id);
    if (!q) return null;
    if (!pacingDraft || pacingDraft.session !== s.id) {
      return h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", id: "pacing-edit", onclick: () => {
        const p = q.policy;
        pacingDraft = { session: s.id, perMinute: p.perMinute, perRecipientSecs: p.perRecipientSecs, jitterMs: p.jitterMs,
          humanlike: p.humanlike, warmUpDays: p.warmUp ? p.warmUp.days : 0, warmUpPerDay: p.warmUp ? p.warmUp.perDay : 0,
          maxDepth: p.maxDepth, humanlikeMsPerChar: p.humanlikeMsPerChar };
        pacingError = "";
        drawDetail();
      } }, "Change pacing"));
    }
    const d = pacingDraft;
    const num = (key, label) => {
      const input = h("input", { id: `pacing-${key}`, type: "number", min: 0, step: 1, value: d[key], oninput: () => (d[key] = input.value) });
      return h("div", { class: "field" }, h("label", { for: input.id }, label), input);
    };
    const human = h("input", { id: "pacing-humanlike", type: "checkbox", checked: d.humanlike, onchange: () => (d.humanlike = human.checked) });
    const n = (v) => Number(v) || 0;
    const policy = () => {
      const b = { perMinute: n(d.perMinute), perRecipientSecs: n(d.perRecipientSecs), jitterMs: n(d.jitterMs), humanlike: d.humanlike,
        humanlikeMsPerChar: d.humanlikeMsPerChar, maxDepth: n(d.maxDepth) };
      if (n(d.warmUpDays) || n(d.warmUpPerDay)) b.warmUp = { days: n(d.warmUpDays), perDay: n(d.warmUpPerDay) };
      return b;
    };
    const apply = async (button, call) => {
      try {
        await busy(button, call);
        pacingDraft = null;
        pacingError = "";
        await refresh(s.id);
      } catch (err) {
        pacingError = err.message;
        drawDetail();
      }
    };
    return h("form", { class: "pacing", onsubmit: (e) => {
      e.preventDefault();
      apply(e.submitter, () => api.put(`/api/v1/sessions/${enc(s.id)}/queue`, policy()));
    } },
    h("h3", {}, "Pacing"),
    h("div", { class: "inline" }, num("perMinute", "Messages per minute (0: no limit)"),
      num("perRecipientSecs", "Seconds between messages to one chat"), num("jitterMs", "Random extra delay up to (ms)")),
    h("div", { class: "field check" }, h("label", {}, human, " Show typing before each message")),
    h("div", { class: "inline" }, num("warmUpDays", "Warm-up: days after linking"), num("warmUpPerDay", "Warm-up: messages a day"),
      num("maxDepth", "Messages the queue holds")),
    pacingError ? h("div", { class: "form-error" }, errorText(pacingError)) : null,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save pacing"),
      h("button", { type: "button", class: "secondary", onclick: (e) => apply(e.currentTarget, () => api.delete(`/api/v1/sessions/${enc(s.id)}/queue`)) }, "Use the gateway's default"),
      h("button", { type: "button", class: "link", onclick: () => { pacingDraft = null; drawDetail(); } }, "Cancel")));
  }

  /// What the session's send queue holds and waits for, and the pacing it goes by.
  function queueFacts(q) {
    if (!q) return null;
    const waits = { not_connected: "the connection", rate: "its rate", recipient: "the spacing per chat",
      warm_up: "the warm-up cap", typing: "typing to show", media: "a file to be fetched" };
    const waiting = q.waitingFor ? ` (waiting for ${waits[q.waitingFor] || q.waitingFor}${q.nextSendAt ? `, next ${time(q.nextSendAt)}` : ""})` : "";
    const p = q.policy;
    const pacing = [
      p.perMinute ? `${p.perMinute} per minute` : "no rate limit",
      p.perRecipientSecs ? `${p.perRecipientSecs} s between messages to a chat` : null,
      p.jitterMs ? `up to ${p.jitterMs} ms jitter` : null,
      p.humanlike ? "typing shown first" : null,
      p.warmUp ? `warm-up: ${p.warmUp.perDay} a day for ${p.warmUp.days} days` : null,
      q.policySource === "default" ? "(the gateway's default)" : null,
    ].filter(Boolean).join(", ");
    return [
      h("dt", {}, "Send queue"), h("dd", { dataset: { fact: "queue" } }, `${q.depth} of ${q.maxDepth} waiting${waiting}; ${q.sentLastMinute} sent in the last minute, ${q.sentLastDay} in 24 hours`),
      h("dt", {}, "Pacing"), h("dd", { dataset: { fact: "pacing" } }, pacing),
    ];
  }

  function qrPanel(s) {
    if (s.status !== "QR_REQUIRED" || !qr) return null;
    const sim = s.connector === "sim"
      ? h("button", { class: "secondary", onclick: async (e) => {
        try {
          await busy(e.currentTarget, () => api.post(`/api/v1/sim/sessions/${enc(s.id)}/scan`, {}));
        } catch (err) {
          ctx.notify(err.message);
        }
      } }, "Scan with the simulated phone")
      : null;
    return h("figure", { class: "qr" },
      h("img", { src: qr.dataUrl, alt: "QR code: scan it with WhatsApp on the phone (Linked devices)", width: 240, height: 240, dataset: { attempt: qr.attempt } }),
      h("figcaption", {}, `Code ${qr.attempt}${qr.maxAttempts ? ` of ${qr.maxAttempts}` : ""}, valid until ${time(qr.expiresAt)}. It refreshes on its own.`),
      sim);
  }

  const off = hub.on((name, p) => {
    if (!p.sessionId) return;
    if (name === "session.qr" && p.sessionId === selected) qr = p;
    if (name === "session.pairing_code") pairing = p;
    if (name.startsWith("session.")) refresh(p.sessionId, false);
  });

  api.get("/api/v1/sessions").then((list) => {
    for (const s of list) sessions.set(s.id, s);
    drawRows();
    if (selected) refresh(selected, true);
    else drawDetail();
  }, (e) => ctx.notify(e.message));
  drawRows();
  drawDetail();
  return off;
}

// ---- live event log ----

const LOG_LIMIT = 500;

function eventsSection(ctx, el) {
  const rows = h("tbody");
  const name = h("input", { id: "filter-name", placeholder: "message.*", autocomplete: "off" });
  const session = h("input", { id: "filter-session", placeholder: "any", autocomplete: "off" });
  const pause = h("input", { type: "checkbox", id: "pause" });
  const kept = [];
  const matches = (ev) => {
    const pattern = name.value.trim();
    if (pattern) {
      const re = new RegExp("^" + pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$");
      if (!re.test(ev.name)) return false;
    }
    return !session.value.trim() || ev.payload.sessionId === session.value.trim();
  };
  const draw = () => {
    const shown = kept.filter(matches);
    replace(rows, shown.length ? shown.map((ev) => h("tr", { dataset: { event: ev.name } },
      h("td", {}, ev.payload.seq), h("td", {}, time(ev.payload.timestamp)), h("td", {}, h("code", {}, ev.name)),
      h("td", {}, ev.payload.sessionId || "—"),
      h("td", {}, h("details", {}, h("summary", {}, summary(ev)), h("pre", {}, JSON.stringify(ev.payload, null, 2))))))
      : emptyRow(5, "No events yet. They appear here as they are committed."));
  };
  name.addEventListener("input", draw);
  session.addEventListener("input", draw);
  replace(el, h("h1", {}, "Live events"),
    h("div", { class: "card inline filters" },
      h("div", { class: "field" }, h("label", { for: "filter-name" }, "Event (globs: message.*)"), name),
      h("div", { class: "field" }, h("label", { for: "filter-session" }, "Session"), session),
      h("div", { class: "field check" }, h("label", {}, pause, " Pause")),
      h("button", { class: "secondary", onclick: () => { kept.length = 0; draw(); } }, "Clear")),
    h("div", { class: "card table-wrap" }, h("table", { class: "list events" },
      h("thead", {}, h("tr", {}, h("th", {}, "Seq"), h("th", {}, "Time"), h("th", {}, "Event"), h("th", {}, "Session"), h("th", {}, "Payload"))),
      rows)));
  draw();
  return ctx.hub.on((evName, payload) => {
    if (pause.checked) return;
    kept.unshift({ name: evName, payload });
    kept.length = Math.min(kept.length, LOG_LIMIT);
    draw();
  });
}

function summary(ev) {
  const p = ev.payload;
  if (p.message) return `${p.message.direction === "inbound" ? "from" : "to"} ${p.chat ? p.chat.name || p.chat.number || p.chat.jid : p.message.chatId}: ${p.message.content || p.message.type}`;
  if (p.status) return p.previousStatus ? `${p.previousStatus} → ${p.status}` : String(p.status);
  if (p.stats) return Object.entries(p.stats).map(([k, v]) => `${k} ${v}`).join(", ");
  if (p.reason) return p.reason;
  return "…";
}

// ---- plugins ----

function pluginsSection(ctx, el, [open]) {
  const { api } = ctx;
  const list = h("div", { class: "bindings" });
  const editor = h("div");
  let catalog = [];
  let bindings = [];

  async function load() {
    try {
      [catalog, bindings] = await Promise.all([api.get("/api/v1/tenant/catalog/plugins"), api.get("/api/v1/tenant/plugins")]);
    } catch (e) {
      ctx.notify(e.message);
    }
    draw();
    if (open) edit(open);
  }

  function draw() {
    const rows = catalog.map((p) => {
      const b = bindings.find((x) => x.plugin === p.name);
      return h("article", { class: "card plugin", dataset: { plugin: p.name } },
        h("header", {}, h("h2", {}, p.name, " ", h("small", { class: "muted" }, p.version)),
          b ? badge(b.enabled ? "ENABLED" : "DISABLED") : badge("NOT BOUND"),
          b ? badge(`breaker ${b.breaker.state}`.toUpperCase(), `breaker-${b.breaker.state}`) : null),
        h("p", {}, p.description || ""),
        h("p", { class: "muted" }, `hooks: ${p.hooks.join(", ")} · capabilities: ${p.capabilities.join(", ") || "none"}`),
        b ? callsTable(b.calls) : null,
        b && b.breaker.lastFault ? h("p", { class: "error" }, `last fault: ${b.breaker.lastFault}`) : null,
        h("div", { class: "actions" },
          h("button", { class: b ? "secondary" : "primary", onclick: () => edit(p.name) }, b ? "Configure" : "Bind"),
          b ? h("button", { class: "secondary", onclick: (e) => toggle(e, p.name, !b.enabled) }, b.enabled ? "Disable" : "Enable") : null,
          b ? h("button", { class: "danger link", onclick: (e) => unbind(e, p.name) }, "Unbind") : null));
    });
    replace(list, rows.length ? rows : h("p", { class: "muted" }, "The operator has loaded no plugins."));
  }

  async function toggle(e, name, enabled) {
    try {
      await busy(e.currentTarget, () => api.put(`/api/v1/tenant/plugins/${enc(name)}`, { enabled }));
      bindings = await api.get("/api/v1/tenant/plugins");
      draw();
    } catch (err) {
      ctx.notify(err.message);
    }
  }

  async function unbind(e, name) {
    if (!confirm(`Unbind ${name}?`)) return;
    try {
      await busy(e.currentTarget, () => api.delete(`/api/v1/tenant/plugins/${enc(name)}`));
      bindings = await api.get("/api/v1/tenant/plugins");
      replace(editor);
      draw();
    } catch (err) {
      ctx.notify(err.message);
    }
  }

  function edit(name) {
    const p = catalog.find((x) => x.name === name);
    if (!p) return;
    remember("plugins", name);
    const b = bindings.find((x) => x.plugin === name);
    const form = new ConfigForm(p.configSchema, b ? b.config : p.defaultConfig);
    const enabled = h("input", { type: "checkbox", checked: b ? b.enabled : true });
    const priority = h("input", { id: "bind-priority", type: "number", step: 1, value: b ? b.priority : 100 });
    const onError = h("select", { id: "bind-on-error" }, ["passthrough", "drop"].map((v) => h("option", { value: v, selected: b && b.onError === v }, v)));
    // Only a plugin granted http:outbound sends requests; the binding says where it may.
    const calls = p.capabilities.includes("http:outbound");
    const hosts = h("input", { id: "bind-hosts", type: "text", placeholder: "api.example.com, *.example.org",
      value: b ? b.allowedHosts.join(", ") : "" });
    const saved = h("p", { class: "ok", role: "status" });
    replace(editor, h("form", { class: "card binding-form", dataset: { plugin: name }, onsubmit: async (e) => {
      e.preventDefault();
      saved.textContent = "";
      let config;
      try {
        config = form.value();
      } catch {
        return;
      }
      try {
        const body = { enabled: enabled.checked, config, priority: Number(priority.value), onError: onError.value };
        if (calls) body.allowedHosts = hosts.value.split(",").map((x) => x.trim()).filter(Boolean);
        await busy(e.submitter, () => api.put(`/api/v1/tenant/plugins/${enc(name)}`, body));
        bindings = await api.get("/api/v1/tenant/plugins");
        draw();
        saved.textContent = `Saved: ${name} is ${enabled.checked ? "on" : "off"}.`;
      } catch (err) {
        if (err.status === 422) form.showRefusal(err.message);
        else form.showError(null, err.message);
      }
    } },
    h("h2", {}, `${b ? "Configure" : "Bind"} ${name}`),
    h("div", { class: "field check" }, h("label", {}, enabled, " Enabled")),
    h("div", { class: "inline" },
      h("div", { class: "field" }, h("label", { for: "bind-priority" }, "Priority (lower runs first)"), priority),
      h("div", { class: "field" }, h("label", { for: "bind-on-error" }, "When it fails"), onError)),
    calls ? h("div", { class: "field" },
      h("label", { for: "bind-hosts" }, "Hosts it may send requests to (comma-separated)"), hosts,
      h("small", { class: "hint" }, `The plugin asks for ${p.httpHosts.join(", ")}; the gateway's operator allows some hosts, and only hosts allowed by all three are reached.`)) : null,
    h("h3", {}, "Config"),
    form.el,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"),
      h("button", { type: "button", class: "link", onclick: () => { replace(editor); remember("plugins"); } }, "Close")),
    saved));
    editor.scrollIntoView({ block: "nearest" });
  }

  replace(el, h("h1", {}, "Plugins"), h("div", { class: "split" }, list, editor));
  load();
  const timer = setInterval(async () => {
    bindings = await api.get("/api/v1/tenant/plugins").catch(() => bindings);
    draw();
  }, 5000);
  return () => clearInterval(timer);
}

function callsTable(calls) {
  const hooks = Object.entries(calls || {});
  if (!hooks.length) return h("p", { class: "muted" }, "No calls yet.");
  return h("table", { class: "list compact calls" },
    h("thead", {}, h("tr", {}, h("th", {}, "Hook"), h("th", {}, "Calls"), h("th", {}, "Errors"), h("th", {}, "p50"), h("th", {}, "p99"))),
    h("tbody", {}, hooks.map(([hook, c]) => h("tr", {}, h("td", {}, hook), h("td", {}, c.calls), h("td", {}, c.errors),
      h("td", {}, `${c.p50Us} µs`), h("td", {}, `${c.p99Us} µs`)))));
}

// ---- webhooks ----

function webhooksSection(ctx, el) {
  const { api } = ctx;
  const rows = h("tbody");
  const deliveries = h("div");
  const url = h("input", { id: "hook-url", type: "url", required: true, placeholder: "https://example.com/hooks/whatsapp" });
  const events = h("input", { id: "hook-events", placeholder: "message.*, session.status (empty: all)" });
  const formError = h("div", { class: "form-error" });
  const secret = h("div");

  async function load() {
    try {
      const list = await api.get("/api/v1/webhooks");
      replace(rows, list.length ? list.map((w) => h("tr", { dataset: { webhook: w.id } },
        h("td", {}, h("code", {}, w.url), w.description ? h("div", { class: "muted" }, w.description) : null),
        h("td", {}, (w.events || []).join(", ") || "all"),
        h("td", {}, badge(w.enabled ? "ENABLED" : "DISABLED"), w.disabledReason ? h("div", { class: "error" }, w.disabledReason) : null),
        h("td", {}, h("div", { class: "actions" },
          h("button", { class: "secondary", onclick: () => showDeliveries(w) }, "Deliveries"),
          h("button", { class: "secondary", onclick: async (e) => {
            try {
              await busy(e.currentTarget, () => api.post(`/api/v1/webhooks/${enc(w.id)}/test`, {}));
              showDeliveries(w);
            } catch (err) {
              ctx.notify(err.message);
            }
          } }, "Send test"),
          h("button", { class: "danger link", onclick: async (e) => {
            if (!confirm(`Delete the endpoint ${w.url}?`)) return;
            try {
              await busy(e.currentTarget, () => api.delete(`/api/v1/webhooks/${enc(w.id)}`));
              load();
            } catch (err) {
              ctx.notify(err.message);
            }
          } }, "Delete"))))) : emptyRow(4, "No endpoints yet."));
    } catch (e) {
      ctx.notify(e.message);
    }
  }

  async function showDeliveries(w) {
    try {
      const page = await api.get(`/api/v1/webhooks/${enc(w.id)}/deliveries`);
      const list = page;
      replace(deliveries, h("div", { class: "card table-wrap" }, h("h2", {}, `Deliveries to ${w.url}`),
        h("table", { class: "list compact" },
          h("thead", {}, h("tr", {}, h("th", {}, "Event"), h("th", {}, "Seq"), h("th", {}, "Status"), h("th", {}, "Attempts"), h("th", {}, "Last answer"))),
          h("tbody", {}, list.length ? list.map((d) => h("tr", {},
            h("td", {}, h("code", {}, d.event)), h("td", {}, d.seq), h("td", {}, badge(String(d.state).toUpperCase())),
            h("td", {}, d.attempts), h("td", {}, d.lastStatus ? `HTTP ${d.lastStatus}` : d.lastError || "—"))) : emptyRow(5, "Nothing delivered yet.")))));
    } catch (e) {
      ctx.notify(e.message);
    }
  }

  replace(el, h("h1", {}, "Webhooks"),
    h("form", { class: "card inline", onsubmit: async (e) => {
      e.preventDefault();
      replace(formError);
      replace(secret);
      const body = { url: url.value.trim() };
      const names = events.value.split(",").map((s) => s.trim()).filter(Boolean);
      if (names.length) body.events = names;
      try {
        const created = await busy(e.submitter, () => api.post("/api/v1/webhooks", body));
        url.value = events.value = "";
        replace(secret, h("p", { class: "ok" }, "Signing secret (shown once, keep it): ", h("code", {}, created.secret)));
        load();
      } catch (err) {
        replace(formError, errorText(err.message));
      }
    } },
    h("h2", {}, "New endpoint"),
    h("div", { class: "field grow" }, h("label", { for: "hook-url" }, "URL"), url),
    h("div", { class: "field grow" }, h("label", { for: "hook-events" }, "Events"), events),
    h("button", { type: "submit", class: "primary" }, "Add"), formError),
    secret,
    h("div", { class: "card table-wrap" }, h("table", { class: "list" },
      h("thead", {}, h("tr", {}, h("th", {}, "URL"), h("th", {}, "Events"), h("th", {}, "State"), h("th", {}, ""))), rows)),
    deliveries);
  load();
}

// ---- audit ----

export function auditSection(path) {
  return (ctx, el) => {
    const rows = h("tbody");
    replace(el, h("h1", {}, "Audit log"), h("p", { class: "muted" }, "What administrators did, newest first."),
      h("div", { class: "card table-wrap" }, h("table", { class: "list" },
        h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Who"), h("th", {}, "What"), h("th", {}, "Target"), h("th", {}, "Detail"))), rows)));
    ctx.api.get(path).then((page) => {
      replace(rows, page.entries.length ? page.entries.map((e) => h("tr", { dataset: { action: e.action } },
        h("td", {}, time(e.at)), h("td", {}, e.actor.kind + (e.actor.user ? ` ${e.actor.user}` : "")),
        h("td", {}, h("code", {}, e.action)), h("td", {}, e.tenantId && path === "/api/v1/audit" ? `${e.tenantId}/${e.target}` : e.target),
        h("td", {}, e.detail || ""))) : emptyRow(5, "Nothing recorded yet."));
    }, (e) => ctx.notify(e.message));
  };
}

export const tenantSections = [
  { id: "sessions", title: "Sessions", render: sessionsSection },
  { id: "chats", title: "Chats", render: chatsSection },
  { id: "events", title: "Events", render: eventsSection },
  { id: "plugins", title: "Plugins", render: pluginsSection },
  { id: "webhooks", title: "Webhooks", render: webhooksSection },
  { id: "audit", title: "Audit", render: auditSection("/api/v1/tenant/audit") },
];
