// multi_prompt: the video told in shots, each with its prompt and its seconds; the seconds must add up exactly
// to the video's duration (the server refuses any other sum, and says so; this says it before sending).

import { errorLine, h, icon } from "./dom.js";

const MILLIS = 1000;

function seconds(value) {
  return Math.round(Number(value) * MILLIS);
}

function shown(value) {
  return String(Number((value / MILLIS).toFixed(3)));
}

export class SegmentEditor {
  constructor(schema, duration, changed) {
    this.most = schema?.maxItems ?? 6;
    this.least = Math.max(1, schema?.minItems ?? 1);
    this.duration = duration;
    this.changed = changed;
    this.rows = [];
    this.toggle = h("input", { type: "checkbox", id: "multi-prompt-on", "aria-controls": "multi-prompt-editor" });
    this.list = h("ol", { class: "segments", "aria-label": "Shots" });
    this.sum = h("p", { class: "segment-sum", id: "segment-sum", "aria-live": "polite" });
    this.error = errorLine("multi-prompt-error");
    this.addButton = h("button", { type: "button", class: "button secondary small" }, icon("plus"), "Add shot");
    this.addButton.addEventListener("click", () => {
      this.add("", this.remaining());
      this.rows.at(-1).prompt.focus();
    });
    const even = h("button", { type: "button", class: "button secondary small" }, "Share the seconds evenly");
    even.addEventListener("click", () => this.spread());
    this.editor = h("div", { id: "multi-prompt-editor", hidden: true },
      this.list, h("div", { class: "row" }, this.addButton, even), this.sum, this.error.element);
    this.toggle.addEventListener("change", () => {
      this.editor.hidden = !this.toggle.checked;
      if (this.toggle.checked && this.rows.length === 0) {
        this.add("", 0);
        this.add("", 0);
        this.spread();
      }
      this.refresh();
      this.changed();
    });
    this.element = h("div", { class: "field" },
      h("label", { class: "check", for: "multi-prompt-on" }, this.toggle, "Tell it in shots (multi_prompt)"),
      h("p", { class: "hint" }, "Each shot has its own prompt and length; the lengths add up to the duration."),
      this.editor,
    );
  }

  get on() {
    return this.toggle.checked;
  }

  remaining() {
    const used = this.rows.reduce((total, row) => total + seconds(row.length.value || 0), 0);
    return Math.max(MILLIS, seconds(this.duration()) - used);
  }

  add(prompt, millis) {
    if (this.rows.length >= this.most) return;
    const index = this.rows.length + 1;
    const row = {
      prompt: h("textarea", { rows: "1", "aria-label": `Shot ${index} prompt`, placeholder: `What happens in shot ${index}` }),
      length: h("input", {
        type: "number", min: "1", step: "0.5", inputmode: "decimal", value: shown(millis),
        "aria-label": `Shot ${index} seconds`, class: "segment-duration",
      }),
      remove: h("button", { type: "button", class: "button secondary small segment-remove", "aria-label": `Remove shot ${index}` }, icon("x")),
    };
    row.prompt.value = prompt;
    row.length.addEventListener("input", () => this.refresh());
    row.remove.addEventListener("click", () => {
      this.rows = this.rows.filter((candidate) => candidate !== row);
      this.renumber();
      this.refresh();
    });
    this.rows.push(row);
    this.renumber();
    this.refresh();
  }

  renumber() {
    this.list.replaceChildren(...this.rows.map((row, position) => {
      const index = position + 1;
      row.prompt.setAttribute("aria-label", `Shot ${index} prompt`);
      row.length.setAttribute("aria-label", `Shot ${index} seconds`);
      row.remove.setAttribute("aria-label", `Remove shot ${index}`);
      row.remove.disabled = this.rows.length <= this.least;
      return h("li", { class: "segment" }, h("span", { class: "segment-index", "aria-hidden": "true" }, index), row.prompt, row.length, row.remove);
    }));
    this.addButton.disabled = this.rows.length >= this.most;
  }

  /** Whole seconds shared out, the remainder to the first shots. */
  spread() {
    const total = Math.round(this.duration());
    const count = this.rows.length;
    if (!count) return;
    this.rows.forEach((row, position) => {
      const share = Math.floor(total / count) + (position < total % count ? 1 : 0);
      row.length.value = String(share);
    });
    this.refresh();
  }

  total() {
    return this.rows.reduce((sum, row) => sum + seconds(row.length.value || 0), 0);
  }

  refresh() {
    if (!this.on) {
      this.sum.textContent = "";
      return;
    }
    const total = this.total();
    const wanted = seconds(this.duration());
    const parts = this.rows.map((row) => row.length.value || "0").join(" + ");
    const matches = total === wanted;
    this.sum.className = `segment-sum ${matches ? "ok" : "bad"}`;
    this.sum.textContent = matches
      ? `${parts} = ${shown(total)} s, the whole video. ✓`
      : `${parts} = ${shown(total)} s, but the video is ${shown(wanted)} s long: the shots must add up to it exactly.`;
    if (matches) this.error.show("");
  }

  valid() {
    if (!this.on) return true;
    this.refresh();
    const empty = this.rows.findIndex((row) => !row.prompt.value.trim());
    if (empty !== -1) {
      this.error.show(`Shot ${empty + 1} needs a prompt.`);
      return false;
    }
    const short = this.rows.findIndex((row) => seconds(row.length.value || 0) < MILLIS);
    if (short !== -1) {
      this.error.show(`Shot ${short + 1} must last at least 1 s.`);
      return false;
    }
    if (this.total() !== seconds(this.duration())) {
      this.error.show(`The shots add up to ${shown(this.total())} s; make them add up to the ${shown(seconds(this.duration()))} s of the video.`);
      return false;
    }
    return true;
  }

  collect(body) {
    if (!this.on) return;
    body.multi_prompt = this.rows.map((row, position) => ({
      index: position + 1,
      prompt: row.prompt.value,
      duration: shown(seconds(row.length.value)),
    }));
  }

  showError(text) {
    this.error.show(text);
  }

  focus() {
    (this.rows.find((row) => !row.prompt.value.trim())?.prompt ?? this.rows[0]?.length ?? this.toggle).focus();
  }
}
