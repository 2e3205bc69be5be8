// The dashboard's entry: sign-in, who the credential belongs to, the sections it may open, and
// the hash routes between them (`#/sessions/s1`). Each section draws itself into <main> and
// gives back a function that stops what it started.

import { Api, ApiError } from "./api.js";
import { h, replace, errorText } from "./dom.js";
import { EventStream } from "./stream.js";
import { tenantSections } from "./tenant.js";
import { operatorSections } from "./operator.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const banner = document.getElementById("banner");

let ctx = null;
let stopSection = null;

/// Events from the stream, handed to whichever section listens.
class Hub {
  constructor() {
    this.listeners = new Set();
  }
  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  emit(name, payload) {
    for (const fn of this.listeners) {
      try {
        fn(name, payload);
      } catch (e) {
        console.error(e);
      }
    }
  }
}

export function notify(message, kind = "error") {
  banner.className = `banner-${kind}`;
  replace(banner, message, " ", h("button", { class: "link", onclick: () => (banner.hidden = true) }, "Dismiss"));
  banner.hidden = false;
}

async function identify(api) {
  try {
    const tenant = await api.get("/api/v1/tenant");
    return { role: "tenant", tenant };
  } catch (e) {
    if (e.status === 403) throw new ApiError(403, e.code, "This token may not administer its tenant (it needs the admin role).");
    if (e.status !== 401) throw e;
  }
  try {
    await api.get("/api/v1/tenants");
    return { role: "operator" };
  } catch (e) {
    if (e.status === 401) throw new ApiError(401, "invalid_credential", "Neither a tenant's API key or admin token nor the operator's admin key.");
    throw e;
  }
}

function signIn(message) {
  nav.replaceChildren();
  who.replaceChildren();
  const input = h("input", { id: "credential", type: "password", autocomplete: "off", required: true, spellcheck: false,
    placeholder: "wgk_… · wga_… · a user token" });
  const status = h("div", { class: "form-error" }, message ? errorText(message) : null);
  const form = h("form", { class: "card narrow signin", onsubmit: async (e) => {
    e.preventDefault();
    const api = new Api(input.value.trim());
    replace(status);
    try {
      const found = await identify(api);
      api.save();
      start(api, found);
    } catch (err) {
      replace(status, errorText(err.message));
      input.focus();
    }
  } },
  h("h1", {}, "Sign in"),
  h("p", { class: "muted" }, "A tenant's API key or an admin user token opens the tenant's dashboard; the operator's admin key opens the gateway's."),
  h("div", { class: "field" }, h("label", { for: "credential" }, "Key or token"), input),
  status,
  h("button", { type: "submit", class: "primary" }, "Sign in"));
  replace(main, form);
  input.focus();
}

function start(api, found) {
  const hub = new Hub();
  ctx = { api, hub, role: found.role, tenant: found.tenant, notify };
  const sections = found.role === "operator" ? operatorSections : tenantSections;
  ctx.sections = sections;
  const live = h("span", { class: "live", title: "live events" }, "offline");
  if (found.role === "tenant") {
    ctx.stream = new EventStream(api, {
      onEvent: (name, payload) => hub.emit(name, payload),
      onState: (state, why) => {
        live.textContent = state === "live" ? "live" : state;
        live.dataset.state = state;
        live.title = why || "live events";
      },
    }).start();
  }
  replace(nav, sections.map((s) => h("a", { href: `#/${s.id}`, dataset: { section: s.id } }, s.title)));
  const label = found.role === "operator" ? "Operator" : found.tenant.name || found.tenant.id;
  replace(who, found.role === "tenant" ? live : null, h("span", { class: "whoami" }, label),
    h("button", { class: "link", onclick: signOut }, "Sign out"));
  route();
}

function signOut() {
  if (ctx && ctx.stream) ctx.stream.stop();
  if (stopSection) stopSection();
  stopSection = null;
  ctx = null;
  Api.forget();
  location.hash = "";
  signIn();
}

function route() {
  if (!ctx) return;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent).filter(Boolean);
  const section = ctx.sections.find((s) => s.id === parts[0]) || ctx.sections[0];
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.section === section.id) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (stopSection) stopSection();
  banner.hidden = true;
  const el = h("section", { class: `section-${section.id}` });
  replace(main, el);
  stopSection = section.render(ctx, el, parts.slice(1)) || null;
}

window.addEventListener("hashchange", route);

(async () => {
  const api = Api.saved();
  if (!api) return signIn();
  try {
    start(api, await identify(api));
  } catch (e) {
    Api.forget();
    signIn(e.message);
  }
})();
