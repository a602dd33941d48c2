// Building the page from data without ever parsing data as HTML: every text goes in as a text node.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el, attrs) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.setAttribute("class", value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "value" && el instanceof HTMLInputElement) el.defaultValue = String(value);
    else if (name === "value" && "value" in el && el.namespaceURI !== SVG_NS) el.value = value;
    else if (name === "checked" || name === "disabled" || name === "selected") el[name] = Boolean(value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

let counter = 0;
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

const ICONS = {
  upload: "M12 16V4m0 0-4 4m4-4 4 4M4 16v2a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-2",
  film: "M4 5h16v14H4zM8 5v14M16 5v14M4 9h4M4 15h4M16 9h4M16 15h4",
  download: "M12 4v12m0 0-4-4m4 4 4-4M4 20h16",
  stop: "M7 7h10v10H7z",
  play: "M8 5v14l11-7z",
  trash: "M4 7h16M9 7V4h6v3m-8 0 1 13h8l1-13",
  refresh: "M20 12a8 8 0 1 1-2.34-5.66M20 4v5h-5",
  clock: "M12 7v5l3 3m6-3a9 9 0 1 1-18 0 9 9 0 0 1 18 0",
  alert: "M12 9v4m0 4h.01M10.3 3.9 2.4 18a2 2 0 0 0 1.7 3h15.8a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0",
  x: "M6 6l12 12M18 6 6 18",
  key: "M15 7a4 4 0 1 1-3.9 4.9L4 19v-3h3v-3h3l1.1-1.1A4 4 0 0 1 15 7z",
  plus: "M12 5v14M5 12h14",
};

export function icon(name) {
  return s("svg", { viewBox: "0 0 24 24", "aria-hidden": "true", fill: "none", stroke: "currentColor",
    "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round" }, s("path", { d: ICONS[name] }));
}

/** A field's error line, tied to its control with aria-describedby; `show(text)` with "" clears it. */
export function errorLine(id) {
  const line = h("p", { class: "field-error", id, role: "alert" });
  return {
    element: line,
    show(text, control) {
      line.textContent = text ?? "";
      if (control) control.setAttribute("aria-invalid", text ? "true" : "false");
    },
  };
}
