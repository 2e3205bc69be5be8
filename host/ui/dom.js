// Building the page: elements from data, never from HTML strings (every text a user or a
// contact wrote is set as text, so nothing in it can run).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : value);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function time(value) {
  if (!value) return "";
  const d = new Date(value);
  const today = new Date();
  return d.toDateString() === today.toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

/// A status as a coloured badge; `kind` picks the palette (session or message statuses).
export function badge(text, extra = "") {
  return h("span", { class: `badge badge-${String(text).toLowerCase()} ${extra}`, dataset: { status: text } }, text);
}

/// A message under a field or a form, announced to screen readers.
export function errorText(message) {
  return h("p", { class: "error", role: "alert" }, message);
}

/// Runs `action` for a button (none when a form was sent with Enter), disabled meanwhile.
export async function busy(button, action) {
  if (button) button.disabled = true;
  try {
    return await action();
  } finally {
    if (button) button.disabled = false;
  }
}

export function emptyRow(columns, text) {
  return h("tr", {}, h("td", { colspan: columns, class: "muted" }, text));
}
