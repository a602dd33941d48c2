// The admin page: keys, usage over time, queues, workers and recent failures, for keys with the admin role.

import { ApiError, api, describe } from "./api.js";
import { KeysPanel } from "./admin-keys.js";
import { timeChart } from "./chart.js";
import { errorLine, h, icon } from "./dom.js";
import { STATUS_WORDS, ago, dateTime, shortModel, usd } from "./format.js";
import { checkKey, refreshBalance, startShell } from "./shell.js";

const QUEUE_REFRESH_MS = 10_000;

function head(id, title, lead, onRefresh) {
  const refresh = h("button", { type: "button", class: "button secondary small", "aria-label": `Refresh ${title.toLowerCase()}` }, icon("refresh"), "Refresh");
  refresh.addEventListener("click", onRefresh);
  return h("div", { class: "card-head" }, h("div", {}, h("h2", { id }, title), h("p", {}, lead)), refresh);
}

function table(id, columns, rows) {
  return h("div", { class: "table-wrap" }, h("table", { class: "responsive", id },
    h("thead", {}, h("tr", {}, columns.map(([label, numeric]) => h("th", { scope: "col", class: numeric ? "num" : null }, label)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell, index) => h("td", {
      "data-label": columns[index][0], class: columns[index][1] ? "num" : null,
    }, cell))))),
  ));
}

class UsagePanel {
  constructor(section) {
    this.section = section;
    this.keys = [];
    this.keySelect = h("select", { id: "usage-key" }, h("option", { value: "" }, "All keys"));
    this.keySelect.addEventListener("change", () => this.load());
    this.bucket = "day";
    const choices = [["day", "Daily, 30 days"], ["hour", "Hourly, 48 hours"]].map(([value, label]) => {
      const radio = h("input", { type: "radio", name: "usage-bucket", value, checked: value === this.bucket });
      radio.addEventListener("change", () => {
        this.bucket = value;
        this.load();
      });
      return h("label", {}, radio, label);
    });
    this.error = errorLine("usage-error");
    this.body = h("div", { id: "usage-body" });
    section.replaceChildren(
      head("usage-title", "Usage and balances", "What each account spent and held over time, from the ledger.", () => this.load()),
      h("div", { class: "filters" },
        h("div", { class: "field" }, h("label", { for: "usage-key" }, "Account"), this.keySelect),
        h("fieldset", { class: "field" }, h("legend", {}, "Buckets"), h("div", { class: "segmented" }, choices)),
      ),
      this.error.element,
      this.body,
    );
  }

  setKeys(keys) {
    const chosen = this.keySelect.value;
    this.keys = keys;
    this.keySelect.replaceChildren(h("option", { value: "" }, "All keys"),
      ...keys.map((key) => h("option", { value: key.id }, `${key.name} (${key.prefix}…)`)));
    this.keySelect.value = keys.some((key) => key.id === chosen) ? chosen : "";
  }

  show(keyId) {
    this.keySelect.value = keyId;
    this.load();
    this.section.scrollIntoView({ behavior: "smooth", block: "start" });
    this.keySelect.focus({ preventScroll: true });
  }

  async load() {
    const query = new URLSearchParams({ bucket: this.bucket });
    if (this.keySelect.value) query.set("key_id", this.keySelect.value);
    this.asked = (this.asked ?? 0) + 1;
    const ticket = this.asked;
    try {
      const usage = await api(`/admin/usage?${query}`);
      if (ticket !== this.asked) return; // a later question is on its way: its answer is the one to show
      this.error.show("");
      this.render(usage);
    } catch (error) {
      this.error.show(`Usage could not be loaded. ${describe(error)}`);
    }
  }

  render(usage) {
    const hourly = usage.bucket === "hour";
    const label = (iso) => {
      const moment = new Date(iso);
      return hourly
        ? moment.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
        : moment.toLocaleDateString(undefined, { month: "short", day: "numeric" });
    };
    const items = usage.items;
    const width = this.body.clientWidth || 720;
    const axisFormat = (value) => (Math.abs(value) >= 100 ? `$${Math.round(value).toLocaleString("en-US")}` : usd(value));
    const sum = (field) => items.reduce((total, item) => total + item[field], 0);
    const closing = items.at(-1)?.balance ?? usage.opening_balance;
    const who = this.keySelect.value ? this.keySelect.selectedOptions[0].textContent : "all keys";
    const span = hourly ? "the last 48 hours" : "the last 30 days";
    const stat = (name, value, id) => h("div", { class: "stat" }, h("div", { class: "label" }, name), h("div", { class: "value", id }, value));
    this.body.replaceChildren(
      h("div", { class: "stat-row" },
        stat("Spent", usd(sum("spent")), "usage-spent"),
        stat("Jobs", String(sum("jobs")), "usage-jobs"),
        stat("Refunded", usd(sum("refunded")), "usage-refunded"),
        stat("Topped up", usd(sum("topped_up")), "usage-topped-up"),
        stat("Balance now", usd(closing), "usage-balance"),
      ),
      h("p", { class: "chart-title" }, `Spent per ${hourly ? "hour" : "day"}`),
      timeChart({
        kind: "bar", className: "spent-chart", yFormat: usd, axisFormat, width,
        title: `Spent per ${hourly ? "hour" : "day"} by ${who}`,
        description: `Charges less refunds in each ${usage.bucket} of ${span}: ${usd(sum("spent"))} in all.`,
        points: items.map((item) => ({ label: label(item.start), value: item.spent, note: `${item.jobs} jobs` })),
      }),
      h("p", { class: "chart-title" }, "Balance"),
      timeChart({
        kind: "line", className: "balance-chart", yFormat: usd, axisFormat, width,
        title: `Balance of ${who}`,
        description: `The balance at the end of each ${usage.bucket} of ${span}, from ${usd(usage.opening_balance)} to ${usd(closing)}.`,
        points: items.map((item) => ({ label: label(item.start), value: item.balance })),
      }),
      h("details", {}, h("summary", {}, "Show as a table"),
        table("usage-table", [["Period"], ["Spent", true], ["Jobs", true], ["Refunded", true], ["Topped up", true], ["Balance", true]],
          items.filter((item) => item.jobs || item.refunded || item.topped_up).map((item) => [
            dateTime(item.start), usd(item.spent), String(item.jobs), usd(item.refunded), usd(item.topped_up), usd(item.balance),
          ]))),
    );
  }
}

class QueuesPanel {
  constructor(section) {
    this.error = errorLine("queues-error");
    this.body = h("div");
    section.replaceChildren(head("queues-title", "Queues", "Jobs waiting and running, per engine queue.", () => this.load()), this.error.element, this.body);
  }

  async load() {
    try {
      const queues = await api("/admin/queues");
      this.error.show("");
      this.body.replaceChildren(table("queues-table", [["Queue"], ["Waiting", true], ["Running", true], ["Oldest waiting"]],
        queues.map((queue) => [h("code", {}, queue.queue || "(default)"), String(queue.waiting), String(queue.running),
          queue.oldest_waiting_since ? ago(queue.oldest_waiting_since) : "—"])));
    } catch (error) {
      this.error.show(`The queues could not be loaded. ${describe(error)}`);
    }
  }
}

class WorkersPanel {
  constructor(section) {
    this.error = errorLine("workers-error");
    this.body = h("div", { id: "workers-body" });
    section.replaceChildren(head("workers-title", "Workers", "Worker processes taking jobs from the queues.", () => this.load()), this.error.element, this.body);
  }

  async load() {
    let workers;
    try {
      workers = await api("/admin/workers");
      this.error.show("");
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        this.body.replaceChildren(h("p", { class: "notice" },
          "This server does not list worker processes: GET /admin/workers answered 404 (no such endpoint)."));
        return;
      }
      this.error.show(`The workers could not be loaded. ${describe(error)}`);
      return;
    }
    const list = Array.isArray(workers) ? workers : workers?.items ?? [];
    if (!list.length) {
      this.body.replaceChildren(h("p", { class: "notice" }, "No worker processes have registered with this server."));
      return;
    }
    this.body.replaceChildren(table("workers-table", [["Worker"], ["Host"], ["Queues"], ["Status"], ["Jobs", true], ["Last seen"]],
      list.map((worker) => [
        h("code", {}, worker.id),
        worker.host,
        worker.queues.map((queue) => (queue === "*" ? "every queue" : queue)).join(", ") || "—",
        worker.alive ? "alive" : "silent",
        `${worker.jobs_running} of ${worker.concurrency}`,
        ago(worker.last_heartbeat_at) || "—",
      ])));
  }
}

class FailuresPanel {
  constructor(section, models) {
    this.models = models;
    this.error = errorLine("failures-error");
    this.body = h("div");
    section.replaceChildren(head("failures-title", "Recent failures", "The last 20 jobs that failed or ran out of time, with their errors.", () => this.load()),
      this.error.element, this.body);
  }

  async load() {
    try {
      const failures = await api("/admin/failures?limit=20");
      this.error.show("");
      if (!failures.length) {
        this.body.replaceChildren(h("p", { class: "notice ok" }, "No failed jobs."));
        return;
      }
      this.body.replaceChildren(table("failures-table", [["Ended"], ["Key"], ["Model"], ["Status"], ["Error"]],
        failures.map((failure) => [
          dateTime(failure.ended_at ?? failure.created_at),
          failure.key_name ?? failure.key_id,
          shortModel(failure.model, this.models),
          h("span", { class: `badge ${failure.status}` }, STATUS_WORDS[failure.status] ?? failure.status),
          h("span", { class: "error-text" }, failure.error ?? "(no message)"),
        ])));
    } catch (error) {
      this.error.show(`The failures could not be loaded. ${describe(error)}`);
    }
  }
}

async function checkAdmin(key) {
  await checkKey(key);
  await api("/admin/queues", { key, quietAuth: true });
}

async function start() {
  const models = await api("/api/v3/models");
  const usage = new UsagePanel(document.getElementById("usage"));
  const keys = new KeysPanel(document.getElementById("keys"), {
    models,
    onUsage: (keyId) => usage.show(keyId),
    onLoaded: (loaded) => {
      usage.setKeys(loaded);
      usage.load();
      refreshBalance();
    },
  });
  const queues = new QueuesPanel(document.getElementById("queues"));
  const workers = new WorkersPanel(document.getElementById("workers"));
  const failures = new FailuresPanel(document.getElementById("failures"), models);
  await Promise.all([keys.load(), queues.load(), workers.load(), failures.load()]);
  const timer = setInterval(() => {
    if (!document.hidden) queues.load();
  }, QUEUE_REFRESH_MS);
  return () => clearInterval(timer);
}

startShell({
  title: "Sign in to the admin page",
  lead: "Keys, balances, usage, queues and failures of this reelserve server. It needs a key with the admin role.",
  check: checkAdmin,
  start,
});
