// The operator's sections (admin key): tenants with their quotas and keys, the plugins loaded
// with their load errors and reload history, gateway health, and the audit log.

import { enc } from "./api.js";
import { h, replace, time, badge, errorText, busy, emptyRow } from "./dom.js";
import { auditSection } from "./tenant.js";

const QUOTAS = [
  ["maxSessions", "Sessions"],
  ["maxSocketsPerTenant", "Sockets (tenant)"],
  ["maxSocketsPerUser", "Sockets (user)"],
  ["requestsPerMinute", "Requests / minute"],
  ["maxWebhooks", "Webhook endpoints"],
  ["pluginKvBytes", "Plugin KV bytes"],
];

function tenantsSection(ctx, el) {
  const { api } = ctx;
  const rows = h("tbody");
  const shown = h("div");
  const id = h("input", { id: "tenant-id", placeholder: "optional", autocomplete: "off" });
  const name = h("input", { id: "tenant-name", required: true, autocomplete: "off" });
  const formError = h("div", { class: "form-error" });
  const editor = h("div");

  const once = (title, pairs) => replace(shown, h("div", { class: "card secret", role: "status" }, h("h2", {}, title),
    h("p", {}, "Shown once: copy them now."), h("dl", { class: "facts" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, h("code", {}, v))]))));

  async function load() {
    try {
      const list = await api.get("/api/v1/tenants");
      replace(rows, list.length ? list.map((t) => h("tr", { dataset: { tenant: t.id } },
        h("td", {}, h("strong", {}, t.name), h("div", { class: "muted" }, t.id)),
        h("td", {}, t.sessionAccess), h("td", {}, Object.entries(t.quotas || {}).map(([k, v]) => `${k} ${v}`).join(", ") || "defaults"),
        h("td", {}, time(t.createdAt)),
        h("td", {}, h("div", { class: "actions" },
          h("button", { class: "secondary", onclick: () => edit(t) }, "Quotas"),
          h("button", { class: "secondary", onclick: async (e) => {
            if (!confirm(`Rotate the API key of ${t.id}? The old one keeps working for 10 minutes.`)) return;
            try {
              const r = await busy(e.currentTarget, () => api.post(`/api/v1/tenants/${enc(t.id)}/rotate`, { apiKey: true, graceSeconds: 600 }));
              once(`New API key of ${t.id}`, [["API key", r.apiKey], ["Old key valid until", time(r.previousValidUntil)]]);
            } catch (err) {
              ctx.notify(err.message);
            }
          } }, "Rotate key"),
          h("button", { class: "danger link", onclick: async (e) => {
            if (!confirm(`Delete tenant ${t.id} with all its sessions, chats and messages?`)) return;
            try {
              await busy(e.currentTarget, () => api.delete(`/api/v1/tenants/${enc(t.id)}`));
              load();
            } catch (err) {
              ctx.notify(err.message);
            }
          } }, "Delete"))))) : emptyRow(5, "No tenants yet."));
    } catch (e) {
      ctx.notify(e.message);
    }
  }

  function edit(t) {
    const inputs = QUOTAS.map(([key, label]) => [key, label, h("input", { id: `q-${key}`, type: "number", min: 0, step: 1, placeholder: "default", value: t.quotas[key] ?? "" })]);
    const err = h("div", { class: "form-error" });
    replace(editor, h("form", { class: "card", onsubmit: async (e) => {
      e.preventDefault();
      replace(err);
      const quotas = { ...t.quotas };
      for (const [key, , input] of inputs) {
        if (input.value === "") delete quotas[key];
        else quotas[key] = Number(input.value);
      }
      try {
        await busy(e.submitter, () => api.patch(`/api/v1/tenants/${enc(t.id)}`, { quotas }));
        replace(editor);
        load();
      } catch (x) {
        replace(err, errorText(x.message));
      }
    } }, h("h2", {}, `Quotas of ${t.id}`), h("p", { class: "muted" }, "Empty: the gateway's default."),
    h("div", { class: "inline wrap" }, inputs.map(([key, label, input]) => h("div", { class: "field" }, h("label", { for: `q-${key}` }, label), input))),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"),
      h("button", { type: "button", class: "link", onclick: () => replace(editor) }, "Cancel")), err));
  }

  replace(el, h("h1", {}, "Tenants"),
    h("form", { class: "card inline", onsubmit: async (e) => {
      e.preventDefault();
      replace(formError);
      const body = { name: name.value.trim() };
      if (id.value.trim()) body.id = id.value.trim();
      try {
        const t = await busy(e.submitter, () => api.post("/api/v1/tenants", body));
        id.value = name.value = "";
        once(`Tenant ${t.id} created`, [["API key", t.apiKey], ["JWT secret", t.jwtSecret]]);
        load();
      } catch (err) {
        replace(formError, errorText(err.message));
      }
    } }, h("h2", {}, "New tenant"),
    h("div", { class: "field" }, h("label", { for: "tenant-id" }, "Id"), id),
    h("div", { class: "field" }, h("label", { for: "tenant-name" }, "Name"), name),
    h("button", { type: "submit", class: "primary" }, "Create"), formError),
    shown, editor,
    h("div", { class: "card table-wrap" }, h("table", { class: "list" },
      h("thead", {}, h("tr", {}, h("th", {}, "Tenant"), h("th", {}, "Session access"), h("th", {}, "Quotas"), h("th", {}, "Created"), h("th", {}, ""))), rows)));
  load();
}

function pluginsSection(ctx, el) {
  const { api } = ctx;
  const list = h("div", { class: "plugins" });
  const history = h("tbody");

  async function load() {
    try {
      const [plugins, reloads] = await Promise.all([api.get("/api/v1/plugins"), api.get("/api/v1/audit?action=plugin.reloaded&limit=50")]);
      replace(list, plugins.length ? plugins.map((p) => h("article", { class: "card plugin", dataset: { plugin: p.name } },
        h("header", {}, h("h2", {}, p.name, " ", h("small", { class: "muted" }, p.version || "")), badge(p.status.toUpperCase())),
        h("p", {}, p.description || ""),
        h("dl", { class: "facts" },
          h("dt", {}, "Hooks"), h("dd", {}, p.hooks.join(", ") || "—"),
          h("dt", {}, "Capabilities"), h("dd", {}, p.capabilities.join(", ") || "none"),
          h("dt", {}, "Contract"), h("dd", {}, p.contract || "—"),
          h("dt", {}, "Loaded"), h("dd", {}, p.loadedAt ? `${time(p.loadedAt)} in ${p.loadMs.toFixed(1)} ms${p.fromCache ? " (cached)" : ""}` : "—"),
          p.lastError ? [h("dt", {}, "Refused"), h("dd", { class: "error" }, `${p.lastError} (${time(p.lastErrorAt)})`)] : null),
        h("div", { class: "actions" }, h("button", { class: "secondary", onclick: async (e) => {
          try {
            const r = await busy(e.currentTarget, () => api.post(`/api/v1/plugins/${enc(p.name)}/reload`, {}));
            ctx.notify(`${p.name}: ${r.outcome}${r.reason ? ` (${r.reason})` : ""}`, r.outcome === "refused" ? "error" : "ok");
            load();
          } catch (err) {
            ctx.notify(err.message);
          }
        } }, "Reload now")))) : h("p", { class: "muted" }, "No plugins in the plugins folder."));
      replace(history, reloads.entries.length ? reloads.entries.map((e) => h("tr", {}, h("td", {}, time(e.at)), h("td", {}, e.target),
        h("td", {}, e.actor.kind), h("td", { class: e.detail && e.detail.startsWith("refused") ? "error" : "" }, e.detail || "")))
        : emptyRow(4, "No reloads yet."));
    } catch (e) {
      ctx.notify(e.message);
    }
  }

  replace(el, h("h1", {}, "Plugins"), list, h("h2", {}, "Hot-reload history"),
    h("div", { class: "card table-wrap" }, h("table", { class: "list" },
      h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Plugin"), h("th", {}, "By"), h("th", {}, "Outcome"))), history)));
  load();
}

function healthSection(ctx, el) {
  const out = h("dl", { class: "facts" });
  replace(el, h("h1", {}, "Gateway health"), h("div", { class: "card" }, out),
    h("p", { class: "muted" }, "Metrics for Prometheus: GET /metrics with the admin key (docs/operations.md)."));
  const draw = async () => {
    const [alive, ready] = await Promise.all([
      fetch("/healthz").then((r) => r.json()).catch((e) => ({ status: e.message })),
      fetch("/readyz").then((r) => r.json()).catch((e) => ({ status: e.message })),
    ]);
    const metrics = await fetch("/metrics", { headers: ctx.api.headers() }).then((r) => (r.ok ? r.text() : "")).catch(() => "");
    const sum = (name) => metrics.split("\n").filter((l) => l.startsWith(name)).reduce((n, l) => n + Number(l.split(" ").pop()), 0);
    replace(out,
      h("dt", {}, "Process"), h("dd", {}, badge(alive.status.toUpperCase()), ` version ${alive.version || "?"}`),
      h("dt", {}, "Store"), h("dd", {}, badge(ready.status.toUpperCase()), ready.reason ? ` ${ready.reason}` : ""),
      h("dt", {}, "Sessions"), h("dd", {}, sum("wagate_sessions{")),
      h("dt", {}, "Sockets"), h("dd", {}, sum("wagate_sockets ")),
      h("dt", {}, "Events committed"), h("dd", {}, sum("wagate_events_committed_total")));
  };
  draw();
  const timer = setInterval(draw, 5000);
  return () => clearInterval(timer);
}

export const operatorSections = [
  { id: "tenants", title: "Tenants", render: tenantsSection },
  { id: "plugins", title: "Plugins", render: pluginsSection },
  { id: "health", title: "Health", render: healthSection },
  { id: "audit", title: "Audit", render: auditSection("/api/v1/audit") },
];
