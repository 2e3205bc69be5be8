// A form generated from a plugin's config schema (JSON Schema, as plugin-sdk derives it): one
// field per property, nested objects as groups, lists of objects as repeatable groups. Every
// field knows its path (`rules[0].reply`), so an error, found here or by the plugin when it
// refuses the config ("invalid config at 'rules[0].reply': ..."), is shown under that field.

import { h, replace, errorText } from "./dom.js";

export class ConfigForm {
  constructor(schema, value) {
    this.root = schema || null;
    this.el = h("div", { class: "config-form" });
    this.fields = [];
    if (this.root) {
      this.top = this.object(this.resolve(this.root), value || {}, "", true);
    } else {
      const area = h("textarea", { rows: 8, spellcheck: false, "aria-label": "config (JSON)" }, JSON.stringify(value || {}, null, 2));
      const wrap = field("config", "Config (JSON)", area, "");
      this.top = { wrap, read: () => JSON.parse(area.value || "{}") };
    }
    this.formError = h("div", { class: "form-error" });
    this.el.append(this.formError, this.top.wrap);
  }

  resolve(schema) {
    if (schema && schema.$ref) {
      const name = schema.$ref.split("/").pop();
      const defs = this.root.$defs || this.root.definitions || {};
      return { ...defs[name], ...withoutRef(schema) };
    }
    if (schema && schema.allOf && schema.allOf.length === 1) return { ...this.resolve(schema.allOf[0]), ...schema, allOf: undefined };
    // An optional value (`Option<T>`): T, or nothing.
    const some = schema && schema.anyOf && schema.anyOf.length === 2 && schema.anyOf.filter((s) => s.type !== "null");
    if (some && some.length === 1) {
      const inner = this.resolve(some[0]);
      const type = [].concat(inner.type || (inner.properties ? "object" : "string"));
      return { ...inner, ...schema, anyOf: undefined, type: [...type, "null"] };
    }
    return schema || {};
  }

  /// Reads the form; throws after marking the fields it could not read.
  value() {
    this.clearErrors();
    const problems = [];
    const v = this.top.read(problems);
    if (problems.length) {
      for (const p of problems) this.showError(p.path, p.message);
      throw new Error("the form has errors");
    }
    return v;
  }

  clearErrors() {
    replace(this.formError);
    for (const el of this.el.querySelectorAll(".field > .error")) el.remove();
    for (const el of this.el.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  /// Shows `message` under the field at `path`, or the nearest enclosing one, or the form.
  showError(path, message) {
    let target = null;
    for (let p = path; p !== null; p = parent(p)) {
      target = this.el.querySelector(`.field[data-path="${cssEscape(p)}"]`);
      if (target) break;
    }
    if (!target) {
      replace(this.formError, errorText(message));
      return;
    }
    const input = target.querySelector("input, select, textarea");
    if (input) input.setAttribute("aria-invalid", "true");
    target.append(errorText(message));
  }

  /// A refusal from the plugin: under its field when the message names one.
  showRefusal(message) {
    const m = /invalid config at '([^']+)'/.exec(message);
    this.showError(m ? m[1] : null, message);
  }

  // ---- fields ----

  make(schema, value, path, label, required) {
    schema = this.resolve(schema);
    const types = [].concat(schema.type || (schema.properties ? "object" : "string"));
    const nullable = types.includes("null");
    const type = types.find((t) => t !== "null") || "string";
    if (schema.enum) return this.choice(schema, value, path, label, nullable || !required);
    if (type === "object" && schema.properties) return this.object(schema, value || {}, path, false, label, nullable || !required);
    if (type === "array") {
      const items = this.resolve(schema.items || {});
      const itemType = [].concat(items.type || (items.properties ? "object" : "string")).find((t) => t !== "null");
      if (itemType === "object") return this.list(schema, items, value || [], path, label);
      return this.lines(schema, itemType, value, path, label, nullable || !required);
    }
    if (type === "boolean") return this.check(schema, value, path, label);
    if (type === "integer" || type === "number") return this.number(schema, type, value, path, label, nullable || !required);
    if (type === "string") return this.text(schema, value, path, label, nullable || !required);
    return this.json(schema, value, path, label);
  }

  /// An `optional` object whose fields are all left empty is left out altogether: its fields
  /// are drawn as optional (a choice starts empty), and the ones it requires are asked for
  /// only once something in it is filled.
  object(schema, value, path, top, label, optional = false) {
    const required = new Set(schema.required || []);
    const children = Object.entries(schema.properties || {}).map(([name, sub]) =>
      this.make(sub, value[name], join(path, name), humanise(name), required.has(name) && !optional).with(name),
    );
    const body = children.map((c) => c.wrap);
    const wrap = top
      ? h("div", { class: "field group", dataset: { path } }, body)
      : h("fieldset", { class: "field group", dataset: { path } }, h("legend", {}, label), describe(schema), body);
    return new Field(wrap, (problems) => {
      const out = {};
      const own = [];
      for (const c of children) {
        const v = c.read(own);
        if (v !== undefined) out[c.name] = v;
      }
      if (optional && Object.values(out).every((v) => v === false)) return undefined;
      if (optional) {
        for (const name of required) if (out[name] === undefined) own.push({ path: join(path, name), message: "required" });
      }
      problems.push(...own);
      return out;
    });
  }

  list(schema, items, value, path, label) {
    const rows = h("div", { class: "rows" });
    let entries = [];
    // Paths name items by index, so the items are drawn again after a removal.
    const draw = (values) => {
      entries = values.map((v, index) => {
        const item = this.object(items, v || {}, `${path}[${index}]`, false, `${singular(label)} ${index + 1}`);
        const remove = h("button", { type: "button", class: "link danger", onclick: () => {
          const kept = entries.map((e) => e.read([]));
          kept.splice(index, 1);
          draw(kept);
        } }, "Remove");
        item.wrap.querySelector("legend").append(" ", remove);
        return item;
      });
      replace(rows, entries.map((e) => e.wrap));
    };
    draw(value || []);
    const addButton = h("button", { type: "button", class: "secondary", onclick: () => draw([...entries.map((e) => e.read([])), {}]) },
      `Add ${singular(label).toLowerCase()}`);
    const wrap = h("fieldset", { class: "field group", dataset: { path } }, h("legend", {}, label), describe(schema), rows, addButton);
    return new Field(wrap, (problems) => entries.map((e) => e.read(problems)));
  }

  lines(schema, itemType, value, path, label, optional) {
    const area = h("textarea", { rows: 3, spellcheck: false }, (value || []).join("\n"));
    const wrap = field(path, label, area, `${schema.description || ""} One per line.`.trim());
    return new Field(wrap, (problems) => {
      const items = area.value.split("\n").map((s) => s.trim()).filter(Boolean);
      if (!items.length && optional) return undefined;
      if (itemType === "integer" || itemType === "number") {
        const nums = items.map(Number);
        if (nums.some(Number.isNaN)) problems.push({ path, message: "every line must be a number" });
        return nums;
      }
      return items;
    });
  }

  text(schema, value, path, label, optional) {
    const input = h("input", { type: "text", value: value ?? "" });
    return new Field(field(path, label, input, schema.description), (problems) => {
      if (input.value === "") {
        if (!optional) problems.push({ path, message: "required" });
        return undefined;
      }
      return input.value;
    });
  }

  number(schema, type, value, path, label, optional) {
    const input = h("input", { type: "number", value: value ?? "", step: type === "integer" ? 1 : "any", min: schema.minimum });
    return new Field(field(path, label, input, schema.description), (problems) => {
      if (input.value === "") {
        if (!optional) problems.push({ path, message: "required" });
        return undefined;
      }
      const n = Number(input.value);
      if (Number.isNaN(n) || (type === "integer" && !Number.isInteger(n))) {
        problems.push({ path, message: type === "integer" ? "a whole number" : "a number" });
      } else if (schema.minimum !== undefined && n < schema.minimum) {
        problems.push({ path, message: `at least ${schema.minimum}` });
      } else if (schema.maximum !== undefined && n > schema.maximum) {
        problems.push({ path, message: `at most ${schema.maximum}` });
      }
      return n;
    });
  }

  check(schema, value, path, label) {
    const input = h("input", { type: "checkbox", checked: Boolean(value ?? schema.default) });
    const wrap = h("div", { class: "field check", dataset: { path } }, h("label", {}, input, " ", label), describe(schema));
    return new Field(wrap, () => input.checked);
  }

  choice(schema, value, path, label, optional) {
    const select = h("select", {},
      optional ? h("option", { value: "" }, "(default)") : null,
      schema.enum.filter((o) => o !== null).map((o) => h("option", { value: o, selected: o === value }, o)));
    return new Field(field(path, label, select, schema.description), () => (select.value === "" ? undefined : select.value));
  }

  json(schema, value, path, label) {
    const area = h("textarea", { rows: 4, spellcheck: false }, value === undefined ? "" : JSON.stringify(value, null, 2));
    return new Field(field(path, label, area, schema.description), (problems) => {
      if (!area.value.trim()) return undefined;
      try {
        return JSON.parse(area.value);
      } catch (e) {
        problems.push({ path, message: `not JSON: ${e.message}` });
        return undefined;
      }
    });
  }
}

class Field {
  constructor(wrap, read) {
    this.wrap = wrap;
    this.read = read;
  }
  with(name) {
    this.name = name;
    return this;
  }
}

let ids = 0;
function field(path, label, input, description) {
  const id = `f${++ids}`;
  input.id = id;
  return h("div", { class: "field", dataset: { path } }, h("label", { for: id }, label), input, describe({ description }));
}

function describe(schema) {
  return schema && schema.description ? h("small", { class: "hint" }, schema.description) : null;
}

function join(path, name) {
  return path ? `${path}.${name}` : name;
}

/// `rules[0].reply` -> `rules[0]` -> `rules` -> `` -> null.
function parent(path) {
  if (path === null || path === "") return null;
  const m = /^(.*)(\[\d+\]|\.[^.[\]]+)$/.exec(path);
  return m ? m[1] : "";
}

function humanise(name) {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/[_-]/g, " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function singular(label) {
  return label.endsWith("s") ? label.slice(0, -1) : label;
}

function withoutRef(schema) {
  const { $ref, ...rest } = schema;
  return rest;
}

function cssEscape(s) {
  return s.replace(/["\\]/g, "\\$&");
}
