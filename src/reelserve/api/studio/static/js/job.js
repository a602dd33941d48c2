// The Result panel: one prediction followed from the queue to its end over GET /api/v3/predictions/{id}/stream,
// with its queue position, its progress, a cancel button, and at the end the video, its download and its price.

import { api, ApiError, describe, headers, unwrap } from "./api.js";
import { h, icon } from "./dom.js";
import { ENDED, STATUS_WORDS, dateTime, duration, inSeconds, shortModel, usd } from "./format.js";
import { serverEvents } from "./sse.js";

const POLL_MS = 1000;

function emptyState() {
  return h("div", { class: "empty-state" },
    icon("film"),
    h("strong", {}, "Your video appears here"),
    h("span", {}, "Choose an image, write a prompt and press Generate. You can follow the queue and the rendering here."),
  );
}

export class JobPanel {
  constructor(container, { models, onChange }) {
    this.container = container;
    this.models = models;
    this.onChange = onChange;
    this.view = null;
    this.follow = null;
    container.replaceChildren(emptyState());
  }

  stop() {
    this.follow?.abort();
    this.follow = null;
  }

  /** Shows `prediction` and, while it has not ended, follows it. */
  show(prediction) {
    this.stop();
    this.view = new JobView(prediction, this.models, () => this.cancel());
    this.container.replaceChildren(this.view.element);
    if (!ENDED.has(prediction.status)) this.track(prediction.id);
  }

  get current() {
    return this.view?.prediction ?? null;
  }

  forget(id) {
    if (this.current?.id !== id) return;
    this.stop();
    this.view = null;
    this.container.replaceChildren(emptyState());
  }

  update(prediction) {
    if (this.view?.prediction.id !== prediction.id) return;
    this.view.update(prediction);
    this.onChange(prediction);
  }

  async track(id) {
    const follow = new AbortController();
    this.follow = follow;
    let last = this.view.prediction;
    try {
      const response = await fetch(`/api/v3/predictions/${encodeURIComponent(id)}/stream`, {
        headers: { ...headers(), Accept: "text/event-stream" }, signal: follow.signal, cache: "no-store",
      });
      if (!response.ok) await unwrap(response);
      for await (const event of serverEvents(response)) {
        if (event.type !== "prediction") continue;
        last = JSON.parse(event.data);
        this.update(last);
      }
    } catch (error) {
      if (follow.signal.aborted) return;
      if (error instanceof ApiError && error.status !== 0 && error.status < 500) {
        this.view?.problem(describe(error));
        return;
      }
    }
    // The stream ended before the prediction did (a restart, a proxy's timeout): ask until it has.
    while (!follow.signal.aborted && !ENDED.has(last.status)) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (follow.signal.aborted) return;
      try {
        last = await api(`/api/v3/predictions/${encodeURIComponent(id)}/result`, { signal: follow.signal });
        this.update(last);
      } catch (error) {
        if (follow.signal.aborted) return;
        this.view?.problem(describe(error));
      }
    }
  }

  async cancel() {
    const prediction = this.view?.prediction;
    if (!prediction) return;
    this.view.cancelling(true);
    try {
      const answer = await api(`/api/v3/predictions/${encodeURIComponent(prediction.id)}/cancel`, { method: "POST" });
      this.update(answer);
    } catch (error) {
      this.view?.cancelling(false, describe(error));
    }
  }
}

class JobView {
  constructor(prediction, models, cancel) {
    this.prediction = prediction;
    this.models = models;
    this.badge = h("span", { class: "badge" });
    this.steps = ["Queued", "Rendering", "Ready"].map((label) => h("li", {}, label));
    this.bar = h("span");
    this.progress = h("div", {
      class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-label": "Progress",
    }, this.bar);
    this.statusText = h("p", { class: "job-status-text", id: "job-status", "aria-live": "polite" });
    this.statusSub = h("p", { class: "job-status-sub" });
    this.progressBlock = h("div", { class: "job-progress" }, this.progress, this.statusText, this.statusSub);
    this.cancelButton = h("button", { type: "button", class: "button danger", id: "cancel-job" }, icon("stop"), "Cancel");
    this.cancelButton.addEventListener("click", cancel);
    this.cancelError = h("p", { class: "form-error", role: "alert" });
    this.media = h("div");
    this.actions = h("div", { class: "job-actions" }, this.cancelButton);
    this.message = h("div");
    this.facts = h("dl", { class: "facts" });
    this.element = h("article", { class: "job", "aria-labelledby": "job-title" },
      h("div", { class: "job-head" },
        h("h3", { id: "job-title", class: "visually-hidden" }, "Prediction"),
        this.badge,
        h("code", { class: "job-id", title: "Prediction id" }, prediction.id),
      ),
      h("p", { class: "job-prompt" }, prediction.input?.prompt ?? ""),
      h("ol", { class: "steps", "aria-label": "Steps" }, this.steps),
      this.progressBlock,
      this.media,
      this.message,
      this.actions,
      this.cancelError,
      this.facts,
    );
    this.update(prediction);
  }

  update(prediction) {
    this.prediction = prediction;
    const status = prediction.status;
    this.element.dataset.status = status;
    this.badge.className = `badge ${status}`;
    this.badge.textContent = STATUS_WORDS[status] ?? status;
    const reached = { created: 0, processing: 1, completed: 3 }[status] ?? 1;
    this.steps.forEach((step, index) => {
      step.className = index < reached ? "done" : index === reached ? "current" : "";
    });
    if (ENDED.has(status) && status !== "completed") {
      // A job that ended otherwise stopped where it was: waiting (progress 0) or rendering.
      const at = prediction.progress > 0 || prediction.executionTime ? 1 : 0;
      this.steps.forEach((step, index) => {
        step.className = index < at ? "done" : index === at ? "stopped" : "";
      });
    }
    this.showProgress(prediction);
    this.cancelButton.hidden = ENDED.has(status);
    if (status === "completed") this.showVideo(prediction);
    else this.showEnding(prediction);
    this.showFacts(prediction);
  }

  showProgress(prediction) {
    const status = prediction.status;
    const percent = status === "completed" ? 100 : Math.max(0, Math.min(100, prediction.progress ?? 0));
    this.progress.classList.toggle("indeterminate", status === "created");
    this.progressBlock.hidden = ENDED.has(status) && status !== "completed";
    this.bar.style.width = status === "created" ? "" : `${percent}%`;
    if (status === "created") {
      this.progress.removeAttribute("aria-valuenow");
      this.progress.setAttribute("aria-valuetext", "Waiting in the queue");
    } else {
      this.progress.setAttribute("aria-valuenow", String(percent));
      this.progress.setAttribute("aria-valuetext", `${percent} percent`);
    }
    let main = "";
    let sub = "";
    if (status === "created") {
      const position = prediction.queue_position;
      main = position === 1 ? "Next in the queue" : position ? `Waiting in the queue: position ${position}` : "Waiting in the queue";
      const wait = inSeconds(prediction.estimated_start_at);
      if (wait !== null) sub = wait <= 1 ? "Starting any moment now." : `Expected to start in about ${wait} s.`;
    } else if (status === "processing") {
      main = `Rendering: ${percent}%`;
      sub = "Frames are being made and encoded.";
    } else if (status === "completed") {
      main = "Ready";
    } else {
      main = STATUS_WORDS[status] ?? status;
    }
    this.statusText.textContent = main;
    this.statusSub.textContent = sub;
  }

  showVideo(prediction) {
    if (this.media.dataset.for === prediction.id) return;
    this.media.dataset.for = prediction.id;
    this.message.replaceChildren();
    const url = prediction.outputs?.[0];
    if (!url) {
      this.message.replaceChildren(h("p", { class: "notice warn" },
        prediction.error ?? "This prediction has no video to show (its outputs were removed)."));
      return;
    }
    const ratio = prediction.input?.aspect_ratio;
    const video = h("video", {
      class: `player${ratio === "9:16" ? " portrait" : ratio === "1:1" ? " square" : ""}`, id: "result-video",
      src: url, poster: prediction.posters?.[0], controls: true, playsinline: true, autoplay: true, muted: true,
      loop: true, preload: "auto", "aria-label": `Generated video: ${prediction.input?.prompt ?? ""}`,
    });
    video.muted = true;
    this.media.replaceChildren(video);
    const download = h("a", {
      class: "button", id: "download", href: url, download: true,
    }, icon("download"), "Download MP4");
    this.actions.replaceChildren(download, this.cancelButton);
  }

  showEnding(prediction) {
    const status = prediction.status;
    const paid = usd(prediction.price);
    if (status === "failed" || status === "timeout") {
      const why = prediction.error ? ` ${prediction.error}` : "";
      this.message.replaceChildren(h("p", { class: "notice error", role: "alert" },
        h("strong", {}, status === "timeout" ? "The job ran out of time." : "The job failed."), why,
        ` The ${paid} charged was refunded.`));
    } else if (status === "cancelled") {
      this.message.replaceChildren(h("p", { class: "notice" }, `Cancelled. The ${paid} charged was refunded.`));
    } else {
      this.message.replaceChildren();
    }
  }

  showFacts(prediction) {
    const input = prediction.input ?? {};
    const facts = [
      ["Model", shortModel(prediction.model, this.models)],
      [{ completed: "Price charged", cancelled: "Price, refunded", failed: "Price, refunded", timeout: "Price, refunded" }[prediction.status] ?? "Price", usd(prediction.price), "price"],
      ["Length", input.duration ? `${input.duration} s` : "—"],
      ["Aspect", input.aspect_ratio ?? "—"],
    ];
    if (prediction.status === "completed") {
      facts.push(["Render time", duration(prediction.timings?.inference)]);
      facts.push(["Total time", duration(prediction.executionTime)]);
    }
    facts.push(["Submitted", dateTime(prediction.created_at)]);
    this.facts.replaceChildren(...facts.map(([label, value, id]) => h("div", {}, h("dt", {}, label), h("dd", { id }, value))));
  }

  cancelling(busy, problem = "") {
    this.cancelButton.disabled = busy;
    this.cancelButton.replaceChildren(icon("stop"), busy ? "Cancelling…" : "Cancel");
    this.cancelError.textContent = problem;
  }

  problem(text) {
    this.cancelError.textContent = text;
  }
}
