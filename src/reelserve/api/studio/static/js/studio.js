// The studio page: sign in, the Create form, the Result panel and the History panel.

import { api, describe } from "./api.js";
import { h } from "./dom.js";
import { ENDED } from "./format.js";
import { CreateForm } from "./form.js";
import { HistoryPanel } from "./history.js";
import { JobPanel } from "./job.js";
import { checkKey, refreshBalance, startShell } from "./shell.js";

async function isAdmin() {
  try {
    await api("/admin/queues", { quietAuth: true });
    return true;
  } catch {
    return false;
  }
}

async function start() {
  const [models, voices, admin] = await Promise.all([
    api("/api/v3/models"),
    api("/api/v3/voices").catch(() => []),
    isAdmin(),
  ]);
  document.getElementById("admin-link").hidden = !admin;
  const result = document.getElementById("result");
  const form = document.getElementById("create-form");
  if (!models.length) {
    form.replaceChildren(h("p", { class: "notice warn" }, "This server serves no video routes."));
  }
  const history = new HistoryPanel(document.getElementById("history"), {
    models,
    counter: document.getElementById("history-count"),
    onOpen: (prediction) => {
      jobs.show(prediction);
      document.getElementById("result-title").focus();
    },
    onDeleted: (id) => jobs.forget(id),
  });
  let lastStatus = null;
  const jobs = new JobPanel(result, {
    models,
    onChange: (prediction) => {
      history.update(prediction);
      if (prediction.status !== lastStatus && ENDED.has(prediction.status)) {
        refreshBalance();
        history.load();
      }
      lastStatus = prediction.status;
    },
  });
  if (models.length) {
    new CreateForm(form, {
      models,
      voices,
      onSubmitted: (prediction) => {
        lastStatus = prediction.status;
        jobs.show(prediction);
        history.select(prediction.id);
        refreshBalance();
        history.load();
      },
    });
  }
  await history.load();
  return () => jobs.stop();
}

startShell({
  title: "Sign in to the studio",
  lead: "Make videos from your images with this reelserve server.",
  check: checkKey,
  start: () => start().catch((error) => {
    document.getElementById("create-form").replaceChildren(h("p", { class: "notice error", role: "alert" }, describe(error)));
    return null;
  }),
});
