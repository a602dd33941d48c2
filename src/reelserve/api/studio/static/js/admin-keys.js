// Keys on the admin page: create (the new key shown once), top up, limits, revoke (the /admin/keys endpoints).

import { api, describe } from "./api.js";
import { errorLine, h, icon } from "./dom.js";
import { dateTime, shortModel, usd } from "./format.js";

function numberOrNull(input) {
  return input.value.trim() === "" ? null : Number(input.value);
}

function modelChoices(models, chosen, idPrefix) {
  const boxes = models.map((model) => h("input", {
    type: "checkbox", value: model.id, id: `${idPrefix}-${model.id.replaceAll("/", "-")}`, checked: chosen?.includes(model.id),
  }));
  const element = h("fieldset", { class: "field" },
    h("legend", {}, "Models"),
    h("p", { class: "hint" }, "None ticked: every model."),
    h("div", { class: "models-choice" }, boxes.map((box, index) => h("label", { class: "check", for: box.id }, box, shortModel(models[index].id, models)))),
  );
  return { element, read: () => {
    const picked = boxes.filter((box) => box.checked).map((box) => box.value);
    return picked.length ? picked : null;
  } };
}

/** A labelled input with an error line under it; `fail(text)` shows a refusal there. */
function inputField(id, label, attrs, hint = "") {
  const input = h("input", { id, "aria-describedby": `${id}-hint ${id}-error`, ...attrs });
  const error = errorLine(`${id}-error`);
  const element = h("div", { class: "field" }, h("label", { for: id }, label), input,
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null, error.element);
  return { input, element, fail: (text) => error.show(text, input) };
}

export class KeysPanel {
  constructor(section, { models, onUsage, onLoaded }) {
    this.section = section;
    this.models = models;
    this.onUsage = onUsage;
    this.onLoaded = onLoaded;
    this.keys = [];
    this.tableError = errorLine("keys-error");
    this.body = h("tbody");
    this.created = h("div", { "aria-live": "polite" });
    section.replaceChildren(
      h("div", { class: "card-head" },
        h("div", {}, h("h2", { id: "keys-title" }, "API keys"), h("p", {}, "Every key has its own account and balance.")),
      ),
      this.createForm(),
      this.created,
      this.tableError.element,
      h("div", { class: "table-wrap" }, h("table", { class: "responsive", id: "keys-table" },
        h("thead", {}, h("tr", {}, ["Name", "Key", "Role", "Balance", "Limits", "Created", "Status", "Actions"]
          .map((name) => h("th", { scope: "col", class: name === "Balance" ? "num" : null }, name)))),
        this.body,
      )),
    );
  }

  createForm() {
    const name = inputField("new-key-name", "Name", { type: "text", maxlength: "200", required: true, autocomplete: "off" });
    const balance = inputField("new-key-balance", "Opening balance (USD)", { type: "number", min: "0", step: "0.01", value: "0", inputmode: "decimal" });
    const rpm = inputField("new-key-rpm", "Requests a minute", { type: "number", min: "1", step: "1", inputmode: "numeric" }, "Empty: the server's default.");
    const concurrency = inputField("new-key-concurrency", "Jobs at once", { type: "number", min: "1", step: "1", inputmode: "numeric" }, "Empty: the server's default.");
    const admin = h("input", { type: "checkbox", id: "new-key-admin" });
    const models = modelChoices(this.models, null, "new-key-model");
    const formError = h("p", { class: "form-error", role: "alert" });
    const button = h("button", { type: "submit", class: "button", id: "create-key" }, icon("key"), "Create key");
    const form = h("form", { novalidate: true, id: "new-key-form", "aria-label": "Create a key" },
      h("div", { class: "inline-form" }, name.element, balance.element, rpm.element, concurrency.element,
        h("div", { class: "field" }, h("span", { class: "field-label" }, "Role"),
          h("label", { class: "check", for: "new-key-admin" }, admin, "Admin"))),
      h("details", { class: "more" }, h("summary", {}, "Limit to some models"), models.element),
      h("div", { class: "row" }, button, formError),
    );
    const fields = { name, balance, rpm, max_concurrency: concurrency, models: { fail: (text) => { formError.textContent = text; } } };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      for (const field of Object.values(fields)) field.fail("");
      formError.textContent = "";
      if (!name.input.value.trim()) {
        name.fail("Give the key a name, e.g. who it is for.");
        name.input.focus();
        return;
      }
      button.disabled = true;
      try {
        const key = await api("/admin/keys", {
          method: "POST",
          body: {
            name: name.input.value.trim(),
            balance: balance.input.value.trim() || "0",
            rpm: numberOrNull(rpm.input),
            max_concurrency: numberOrNull(concurrency.input),
            models: models.read(),
            role: admin.checked ? "admin" : "user",
          },
        });
        this.showSecret(key);
        form.reset();
        await this.load();
      } catch (error) {
        const field = fields[error.param];
        if (field) {
          field.fail(describe(error));
          field.input?.focus();
        } else formError.textContent = describe(error);
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  showSecret(key) {
    const secret = h("input", { type: "text", readonly: true, id: "new-key-secret", value: key.key, "aria-label": `The new key for ${key.name}` });
    const copied = h("span", { role: "status" });
    const copy = h("button", { type: "button", class: "button secondary" }, "Copy");
    copy.addEventListener("click", async () => {
      secret.select();
      try {
        await navigator.clipboard.writeText(key.key);
        copied.textContent = "Copied.";
      } catch {
        copied.textContent = "Selected: press Ctrl+C to copy.";
      }
    });
    const done = h("button", { type: "button", class: "button secondary" }, "Done");
    done.addEventListener("click", () => this.created.replaceChildren());
    this.created.replaceChildren(h("div", { class: "notice ok", id: "new-key-notice" },
      h("strong", {}, `Key “${key.name}” created.`), " Copy it now: it is shown only this once, and only its hash is kept.",
      h("div", { class: "secret-box" }, secret, copy, done), copied));
    secret.focus();
    secret.select();
  }

  async load() {
    try {
      this.keys = await api("/admin/keys");
      this.tableError.show("");
      this.render();
      this.onLoaded(this.keys);
    } catch (error) {
      this.tableError.show(`The keys could not be loaded. ${describe(error)}`);
    }
  }

  render() {
    this.body.replaceChildren(...this.keys.map((key) => this.row(key)));
  }

  row(key) {
    const revoked = Boolean(key.revoked_at);
    const limits = [
      key.rpm ? `${key.rpm}/min` : "default rpm",
      key.max_concurrency ? `${key.max_concurrency} at once` : "default concurrency",
      key.models ? key.models.map((model) => shortModel(model, this.models)).join(", ") : "all models",
    ].join(" · ");
    const actions = h("div", { class: "row" });
    const tr = h("tr", { class: revoked ? "revoked" : null, dataset: { keyId: key.id } },
      h("td", { "data-label": "Name" }, h("strong", {}, key.name)),
      h("td", { "data-label": "Key" }, h("code", {}, `${key.prefix}…`)),
      h("td", { "data-label": "Role" }, key.role === "admin" ? h("span", { class: "badge admin" }, "admin") : "user"),
      h("td", { "data-label": "Balance", class: "num balance-cell" }, usd(key.balance)),
      h("td", { "data-label": "Limits" }, limits),
      h("td", { "data-label": "Created" }, dateTime(key.created_at)),
      h("td", { "data-label": "Status" }, h("span", { class: `badge ${revoked ? "revoked" : "active"}` }, revoked ? "revoked" : "active")),
      h("td", { "data-label": "Actions" }, actions),
    );
    const button = (text, label, handler, style = "secondary") => {
      const element = h("button", { type: "button", class: `button ${style} small`, "aria-label": `${label} ${key.name}` }, text);
      element.addEventListener("click", () => handler(element));
      return element;
    };
    actions.append(button("Usage", "Usage of", () => this.onUsage(key.id)));
    if (!revoked) {
      actions.append(
        button("Top up", "Top up", (opener) => this.editor(tr, opener, this.topUpForm(key))),
        button("Limits", "Limits of", (opener) => this.editor(tr, opener, this.limitsForm(key))),
        button("Revoke", "Revoke", (opener) => this.editor(tr, opener, this.revokeForm(key)), "danger"),
      );
    }
    return tr;
  }

  /** Opens `form` in a row under the key's row; closing it gives the focus back to the button that opened it. */
  editor(tr, opener, form) {
    this.body.querySelector("tr.editor")?.remove();
    const row = h("tr", { class: "editor" }, h("td", { colspan: "8" }, form));
    form.close = () => {
      row.remove();
      opener.focus();
    };
    tr.after(row);
    form.querySelector("input, button")?.focus();
  }

  topUpForm(key) {
    const amount = inputField(`topup-${key.id}`, `Add to ${key.name}'s balance (USD)`, { type: "number", min: "0.01", step: "0.01", inputmode: "decimal", required: true });
    const add = h("button", { type: "submit", class: "button" }, "Add");
    const cancel = h("button", { type: "button", class: "button secondary" }, "Cancel");
    const form = h("form", { class: "inline-form", novalidate: true, "aria-label": `Top up ${key.name}` }, amount.element, add, cancel);
    cancel.addEventListener("click", () => form.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      amount.fail("");
      if (!amount.input.value.trim()) {
        amount.fail("Enter an amount in USD, e.g. 10.");
        amount.input.focus();
        return;
      }
      add.disabled = true;
      try {
        const answer = await api(`/admin/keys/${encodeURIComponent(key.id)}/topup`, { method: "POST", body: { amount: amount.input.value.trim() } });
        key.balance = answer.balance;
        this.render();
        this.onLoaded(this.keys);
        this.created.replaceChildren(h("p", { class: "notice ok", role: "status", id: "topup-notice" },
          `Added ${usd(amount.input.value)} to “${key.name}”: the balance is now ${usd(answer.balance)}.`));
      } catch (error) {
        amount.fail(describe(error));
        amount.input.focus();
        add.disabled = false;
      }
    });
    return form;
  }

  limitsForm(key) {
    const rpm = inputField(`rpm-${key.id}`, "Requests a minute", { type: "number", min: "1", step: "1", value: key.rpm ?? "" }, "Empty: the server's default.");
    const concurrency = inputField(`concurrency-${key.id}`, "Jobs at once", { type: "number", min: "1", step: "1", value: key.max_concurrency ?? "" }, "Empty: the server's default.");
    const models = modelChoices(this.models, key.models, `limits-${key.id}`);
    const formError = h("p", { class: "form-error", role: "alert" });
    const save = h("button", { type: "submit", class: "button" }, "Save limits");
    const cancel = h("button", { type: "button", class: "button secondary" }, "Cancel");
    const form = h("form", { novalidate: true, "aria-label": `Limits of ${key.name}` },
      h("div", { class: "inline-form" }, rpm.element, concurrency.element), models.element, h("div", { class: "row" }, save, cancel, formError));
    cancel.addEventListener("click", () => form.close());
    const fields = { rpm, max_concurrency: concurrency };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      rpm.fail("");
      concurrency.fail("");
      formError.textContent = "";
      try {
        const answer = await api(`/admin/keys/${encodeURIComponent(key.id)}`, {
          method: "PATCH",
          body: { rpm: numberOrNull(rpm.input), max_concurrency: numberOrNull(concurrency.input), models: models.read() },
        });
        Object.assign(key, answer);
        this.render();
      } catch (error) {
        const field = fields[error.param];
        if (field) field.fail(describe(error));
        else formError.textContent = describe(error);
      }
    });
    return form;
  }

  revokeForm(key) {
    const yes = h("button", { type: "submit", class: "button danger solid" }, "Revoke for good");
    const cancel = h("button", { type: "button", class: "button secondary" }, "Keep it");
    const formError = h("p", { class: "form-error", role: "alert" });
    const form = h("form", { class: "inline-form", "aria-label": `Revoke ${key.name}` },
      h("p", {}, `Revoke “${key.name}”? Every request with it is refused from then on; its history and balance stay.`), yes, cancel, formError);
    cancel.addEventListener("click", () => form.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const answer = await api(`/admin/keys/${encodeURIComponent(key.id)}/revoke`, { method: "POST" });
        Object.assign(key, answer);
        this.render();
      } catch (error) {
        formError.textContent = describe(error);
      }
    });
    return form;
  }
}
