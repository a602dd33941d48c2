// The History panel: GET /api/v3/predictions a page at a time, filtered by status and model, a poster frame per
// video, reopen and delete.

import { api, describe } from "./api.js";
import { errorLine, h, icon } from "./dom.js";
import { STATUS_WORDS, ago, shortModel, usd } from "./format.js";

const PAGE_SIZE = 12;

export class HistoryPanel {
  constructor(container, { models, counter, onOpen, onDeleted }) {
    this.container = container;
    this.models = models;
    this.counter = counter;
    this.onOpen = onOpen;
    this.onDeleted = onDeleted;
    this.items = [];
    this.page = 1;
    this.total = 0;
    this.selected = null;

    this.status = h("select", { id: "history-status" },
      h("option", { value: "" }, "All statuses"),
      Object.entries(STATUS_WORDS).map(([value, label]) => h("option", { value }, label)));
    this.model = h("select", { id: "history-model" },
      h("option", { value: "" }, "All models"),
      models.map((model) => h("option", { value: model.id }, shortModel(model.id, models))));
    for (const select of [this.status, this.model]) select.addEventListener("change", () => this.load());
    const refresh = h("button", { type: "button", class: "button secondary", id: "history-refresh" }, icon("refresh"), "Refresh");
    refresh.addEventListener("click", () => this.load());
    this.error = errorLine("history-error");
    this.list = h("ul", { class: "history-grid", id: "history-list", "aria-label": "Your videos" });
    this.more = h("button", { type: "button", class: "button secondary", id: "history-more", hidden: true }, "Show more");
    this.more.addEventListener("click", () => this.load(this.page + 1));
    container.replaceChildren(
      h("div", { class: "filters", role: "search", "aria-label": "Filter the history" },
        h("div", { class: "field" }, h("label", { for: "history-status" }, "Status"), this.status),
        h("div", { class: "field" }, h("label", { for: "history-model" }, "Model"), this.model),
        refresh,
      ),
      this.error.element,
      h("div", { class: "history-body" }, this.list),
      h("div", { class: "history-footer" }, this.more),
    );
  }

  async load(page = 1) {
    const query = new URLSearchParams({ page: String(page), page_size: String(PAGE_SIZE) });
    if (this.status.value) query.set("status", this.status.value);
    if (this.model.value) query.set("model", this.model.value);
    this.asked = (this.asked ?? 0) + 1;
    const ticket = this.asked;
    try {
      const data = await api(`/api/v3/predictions?${query}`);
      if (ticket !== this.asked) return; // a later question is on its way: its answer is the one to show
      this.error.show("");
      this.items = page === 1 ? data.items : [...this.items, ...data.items.filter((item) => !this.items.some((known) => known.id === item.id))];
      this.page = data.page;
      this.total = data.total;
      this.render();
    } catch (error) {
      this.error.show(`The history could not be loaded. ${describe(error)}`);
    }
  }

  /** A prediction that changed (followed in the Result panel): its card follows. */
  update(prediction) {
    const index = this.items.findIndex((item) => item.id === prediction.id);
    if (index === -1) return;
    this.items[index] = prediction;
    const old = this.list.querySelector(`[data-id="${CSS.escape(prediction.id)}"]`);
    if (old) old.replaceWith(this.card(prediction));
  }

  select(id) {
    this.selected = id;
    for (const card of this.list.children) card.classList.toggle("selected", card.dataset.id === id);
  }

  render() {
    const filtered = this.status.value || this.model.value;
    this.counter.textContent = this.total
      ? `${this.total} ${this.total === 1 ? "video" : "videos"}${filtered ? (this.total === 1 ? " matches the filters" : " match the filters") : ""}, newest first.`
      : "Your videos, newest first.";
    if (!this.items.length) {
      this.list.replaceChildren(h("li", { class: "empty-state" }, icon("film"),
        filtered ? "No videos match these filters." : "No videos yet: the ones you make appear here."));
    } else {
      this.list.replaceChildren(...this.items.map((item) => this.card(item)));
    }
    this.more.hidden = this.items.length >= this.total;
  }

  card(item) {
    const label = item.input?.prompt || "(no prompt)";
    const poster = item.posters?.[0];
    const thumb = h("figure", { class: "thumb" },
      poster ? h("img", { src: poster, alt: `Poster frame of “${label}”`, loading: "lazy" }) : icon({ completed: "film", cancelled: "x", created: "clock", processing: "clock" }[item.status] ?? "alert"),
      h("span", { class: `badge ${item.status}` }, STATUS_WORDS[item.status] ?? item.status),
      item.input?.duration ? h("span", { class: "chip" }, `${item.input.duration} s`) : null,
    );
    const error = errorLine(`history-error-${item.id}`);
    const open = h("button", { type: "button", class: "button secondary small", "aria-label": `Open “${label}”` }, "Open");
    open.addEventListener("click", () => {
      this.select(item.id);
      this.onOpen(item);
    });
    const remove = h("button", { type: "button", class: "button danger small", "aria-label": `Delete “${label}”` }, icon("trash"), "Delete");
    const actions = h("div", { class: "history-actions" }, open, remove);
    remove.addEventListener("click", () => this.confirmDelete(item, actions, error, remove));
    const card = h("li", { class: `history-item${this.selected === item.id ? " selected" : ""}`, dataset: { id: item.id, status: item.status } },
      thumb,
      h("div", { class: "history-meta" },
        h("span", { class: "prompt", title: label }, label),
        h("span", { class: "sub" }, `${shortModel(item.model, this.models)} · ${ago(item.created_at)} · ${usd(item.price)}`),
      ),
      actions,
      error.element,
    );
    return card;
  }

  confirmDelete(item, actions, error, remove) {
    const keep = h("button", { type: "button", class: "button secondary small" }, "Keep");
    const yes = h("button", { type: "button", class: "button danger solid small" }, "Delete for good");
    const question = h("span", { class: "confirm" }, "Delete this video? This cannot be undone.");
    const original = [...actions.childNodes];
    actions.replaceChildren(question, yes, keep);
    yes.focus();
    keep.addEventListener("click", () => {
      actions.replaceChildren(...original);
      remove.focus();
    });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        await api(`/api/v3/predictions/${encodeURIComponent(item.id)}`, { method: "DELETE" });
        this.items = this.items.filter((known) => known.id !== item.id);
        this.total = Math.max(0, this.total - 1);
        this.render();
        this.onDeleted(item.id);
      } catch (problem) {
        actions.replaceChildren(...original);
        error.show(describe(problem));
        remove.focus();
      }
    });
  }
}
