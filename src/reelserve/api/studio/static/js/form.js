// The "Create a video" form, built from the chosen route's JSON schema (GET /api/v3/models) and the abilities of
// the engine that serves it: what the route does not take is not offered, and what the engine cannot do is said.

import { api, describe } from "./api.js";
import { errorLine, h, icon } from "./dom.js";
import { usd } from "./format.js";
import { ImageDrop } from "./images.js";
import { SegmentEditor } from "./segments.js";

// Parameters with a control of their own; the studio follows jobs by their stream and plays files by link.
const HANDLED = new Set([
  "prompt", "image", "end_image", "multi_prompt", "duration", "aspect_ratio", "sound", "voice_list",
  "negative_prompt", "guidance_scale", "seed", "enable_sync_mode", "enable_base64_output",
]);

/** A property without its "or null" branch, with the outer title, default and description kept. */
export function unwrap(property) {
  if (!property) return null;
  if (!property.anyOf) return property;
  const branch = property.anyOf.find((option) => option.type !== "null") ?? {};
  const { anyOf: _ignored, ...outer } = property;
  return { ...branch, ...outer };
}

function shapeFor(ratio) {
  const [w, hgt] = ratio.split(":").map(Number);
  const scale = 18 / Math.max(w, hgt);
  const shape = h("span", { class: "shape", "aria-hidden": "true" });
  shape.style.width = `${Math.round(w * scale)}px`;
  shape.style.height = `${Math.round(hgt * scale)}px`;
  return shape;
}

export class CreateForm {
  constructor(form, { models, voices, onSubmitted }) {
    this.form = form;
    this.models = models;
    this.voices = voices;
    this.onSubmitted = onSubmitted;
    this.fields = [];
    this.model = null;

    this.modelSelect = h("select", { id: "model", "aria-describedby": "model-about" },
      models.map((model) => h("option", { value: model.id }, model.name || model.id)));
    this.modelAbout = h("p", { class: "model-about", id: "model-about" });
    this.modelSelect.addEventListener("change", () => this.choose(this.modelSelect.value));

    this.image = new ImageDrop({
      id: "image", label: "Image",
      hint: "JPEG, PNG or WebP, at least 300 px on each side, at most 10 MB. It becomes the first frame.",
    });

    this.prompt = h("textarea", {
      id: "prompt", rows: "3", required: true, "aria-describedby": "prompt-count prompt-error",
      placeholder: "Slowly zoom in on the lighthouse as the waves roll in",
    });
    this.promptCount = h("span", { class: "counter", id: "prompt-count", "aria-live": "off" });
    this.promptError = errorLine("prompt-error");
    this.prompt.addEventListener("input", () => this.countPrompt());

    this.dynamic = h("div");
    this.estimate = h("span", { class: "estimate", "aria-live": "polite" });
    this.submitButton = h("button", { type: "submit", class: "button large", id: "generate" }, icon("play"), "Generate");
    this.formError = h("p", { class: "form-error", id: "form-error", role: "alert" });

    form.replaceChildren(
      h("div", { class: "field" }, h("label", { for: "model" }, "Model"), this.modelSelect, this.modelAbout),
      this.image.element,
      h("div", { class: "field" },
        h("div", { class: "range-head" }, h("label", { for: "prompt" }, "Prompt"), this.promptCount),
        this.prompt, this.promptError.element),
      this.dynamic,
      h("div", { class: "submit-row" }, this.estimate, this.submitButton),
      this.formError,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.choose(models[0]?.id);
  }

  countPrompt() {
    const limit = this.prompt.maxLength > 0 ? this.prompt.maxLength : null;
    this.promptCount.textContent = limit ? `${this.prompt.value.length} / ${limit}` : "";
  }

  choose(modelId) {
    const model = this.models.find((candidate) => candidate.id === modelId);
    if (!model) return;
    this.model = model;
    this.modelSelect.value = model.id;
    const caps = model.engine?.capabilities ?? {};
    const props = model.schema?.properties ?? {};
    this.modelAbout.replaceChildren(
      h("strong", {}, `${model.engine?.name ?? "engine"} engine`), ": ",
      model.engine?.description || model.description || "",
      ` · ${usd(model.price?.per_second_usd)} a second`,
    );
    const promptSchema = unwrap(props.prompt);
    if (promptSchema?.maxLength) this.prompt.maxLength = promptSchema.maxLength;
    this.countPrompt();
    this.imageOptional = !("image" in props) || Boolean(caps.text_to_video);
    this.image.element.hidden = !("image" in props);

    const kept = {
      duration: this.durationInput ? Number(this.durationInput.value) : null,
      aspect: this.form.querySelector('input[name="aspect_ratio"]:checked')?.value ?? null,
    };
    this.fields = [];
    const parts = [];
    const advanced = [];
    if ("end_image" in props) parts.push(this.endFrame(caps));
    const duration = this.durationField(unwrap(props.duration), kept.duration);
    parts.push(duration);
    if ("multi_prompt" in props && caps.multi_prompt !== false) {
      this.segments = new SegmentEditor(unwrap(props.multi_prompt), () => this.durationValue(), () => this.update());
      this.fields.push({ params: ["multi_prompt"], collect: (body) => this.segments.collect(body), error: this.segments });
      parts.push(this.segments.element);
    } else {
      this.segments = null;
    }
    if ("aspect_ratio" in props) parts.push(this.aspectField(unwrap(props.aspect_ratio), kept.aspect));
    if ("sound" in props && caps.sound) parts.push(this.soundField());
    if ("voice_list" in props && caps.voices !== false) parts.push(this.voiceField(unwrap(props.voice_list)));
    if ("negative_prompt" in props) advanced.push(this.textField("negative_prompt", "Negative prompt", unwrap(props.negative_prompt), "What the video should avoid.", true));
    if ("guidance_scale" in props) advanced.push(this.numberField("guidance_scale", "Guidance scale", unwrap(props.guidance_scale), "How closely to follow the prompt (0 to 1). Empty: the engine's default."));
    if ("seed" in props) advanced.push(this.numberField("seed", "Seed", unwrap(props.seed), "The same seed and inputs give the same video on generative engines. Empty: random."));
    for (const [name, property] of Object.entries(props)) {
      if (HANDLED.has(name)) continue;
      const field = this.genericField(name, unwrap(property));
      if (field) advanced.push(field);
    }
    if (advanced.length) parts.push(h("details", { class: "more" }, h("summary", {}, "More settings"), advanced));
    this.dynamic.replaceChildren(...parts);
    this.update();
  }

  endFrame(caps) {
    if (!caps.end_frame) {
      this.endImage = null;
      return h("p", { class: "notice", id: "end-image-note" },
        `This route takes an end frame, but the ${this.model.engine?.name ?? ""} engine serving it here cannot follow one, so none is offered.`);
    }
    this.endImage = new ImageDrop({ id: "end-image", label: "End frame", hint: "The last frame of the video.", optional: true });
    this.fields.push({
      params: ["end_image", "last_image", "image_tail"],
      collect: async (body) => {
        const url = await this.endImage.value();
        if (url) body.end_image = url;
      },
      error: this.endImage,
    });
    return this.endImage.element;
  }

  durationValue() {
    return Number(this.durationInput?.value ?? 5);
  }

  /** `kept`: the duration chosen on the model before, kept where this route allows it. */
  durationField(schema, kept) {
    const min = schema?.minimum ?? 1;
    const max = schema?.maximum ?? Math.max(min, 10);
    const value = kept !== null && kept >= min && kept <= max ? kept : schema?.default ?? min;
    this.durationInput = h("input", {
      type: "range", id: "duration", min, max, step: 1, value, "aria-describedby": "duration-error",
    });
    const output = h("output", { for: "duration", id: "duration-output" }, `${value} s`);
    const error = errorLine("duration-error");
    this.durationInput.addEventListener("input", () => {
      output.textContent = `${this.durationInput.value} s`;
      this.durationInput.setAttribute("aria-valuetext", `${this.durationInput.value} seconds`);
      this.segments?.refresh();
      this.update();
    });
    this.fields.push({
      params: ["duration"],
      collect: (body) => {
        body.duration = this.durationValue();
      },
      error: { showError: (text) => error.show(text, this.durationInput), focus: () => this.durationInput.focus() },
    });
    return h("div", { class: "field" },
      h("div", { class: "range-head" }, h("label", { for: "duration" }, "Duration"), output),
      this.durationInput,
      h("div", { class: "range-scale", "aria-hidden": "true" }, h("span", {}, `${min} s`), h("span", {}, `${max} s`)),
      error.element,
    );
  }

  aspectField(schema, kept) {
    const choices = schema?.enum ?? ["16:9"];
    const chosen = choices.includes(kept) ? kept : schema?.default ?? choices[0];
    const error = errorLine("aspect-error");
    const radios = choices.map((ratio) => h("input", {
      type: "radio", name: "aspect_ratio", value: ratio, checked: ratio === chosen,
    }));
    this.fields.push({
      params: ["aspect_ratio"],
      collect: (body) => {
        const picked = radios.find((radio) => radio.checked);
        if (picked) body.aspect_ratio = picked.value;
      },
      error: { showError: (text) => error.show(text), focus: () => radios[0].focus() },
    });
    return h("fieldset", { "aria-describedby": "aspect-error" },
      h("legend", {}, "Aspect ratio"),
      h("div", { class: "segmented" }, radios.map((radio, index) => h("label", {}, radio, shapeFor(choices[index]), choices[index]))),
      error.element,
    );
  }

  soundField() {
    const box = h("input", { type: "checkbox", id: "sound", checked: true, "aria-describedby": "sound-error" });
    const error = errorLine("sound-error");
    this.fields.push({
      params: ["sound"],
      collect: (body) => {
        body.sound = box.checked;
      },
      error: { showError: (text) => error.show(text, box), focus: () => box.focus() },
    });
    return h("div", { class: "field" },
      h("label", { class: "check", for: "sound" }, box, "With sound"),
      h("p", { class: "hint" }, `The ${this.model.engine?.name} engine makes the video's sound.`),
      error.element);
  }

  voiceField(schema) {
    const most = schema?.maxItems ?? 2;
    const error = errorLine("voices-error");
    const boxes = this.voices.map((voice) => h("input", { type: "checkbox", value: voice.voice_id ?? voice.id }));
    const limit = () => {
      const checked = boxes.filter((box) => box.checked).length;
      for (const box of boxes) box.disabled = !box.checked && checked >= most;
      this.update();
    };
    for (const box of boxes) box.addEventListener("change", limit);
    this.voiceBoxes = boxes;
    this.fields.push({
      params: ["voice_list"],
      collect: (body) => {
        const chosen = boxes.filter((box) => box.checked).map((box) => box.value);
        if (chosen.length) body.voice_list = chosen;
      },
      error: { showError: (text) => error.show(text), focus: () => boxes[0]?.focus() },
    });
    return h("fieldset", { "aria-describedby": "voices-hint voices-error" },
      h("legend", {}, `Voices (up to ${most})`),
      boxes.length
        ? h("div", { class: "segmented" }, boxes.map((box, index) => h("label", {}, box, this.voices[index].name || box.value)))
        : null,
      h("p", { class: "hint", id: "voices-hint" }, boxes.length
        ? "The chosen voices speak the prompt's quoted lines (\"Hello.\"); mark whose line it is with <<<voice_1>>>."
        : "You have no custom voices yet: voices made from a sample (the create_voice endpoint) appear here."),
      error.element,
    );
  }

  textField(name, label, schema, hint, multiline = false) {
    const id = `field-${name}`;
    const control = h(multiline ? "textarea" : "input", { id, type: multiline ? null : "text", rows: multiline ? "2" : null, "aria-describedby": `${id}-hint ${id}-error` });
    if (schema?.maxLength) control.maxLength = schema.maxLength;
    return this.simpleField(name, label, control, hint, () => control.value.trim() || null);
  }

  numberField(name, label, schema, hint) {
    const id = `field-${name}`;
    const control = h("input", {
      id, type: "number", inputmode: schema?.type === "integer" ? "numeric" : "decimal",
      min: schema?.minimum, max: schema?.maximum, step: schema?.type === "integer" ? 1 : "any",
      "aria-describedby": `${id}-hint ${id}-error`,
    });
    return this.simpleField(name, label, control, hint, () => (control.value === "" ? null : Number(control.value)));
  }

  genericField(name, schema) {
    if (!schema) return null;
    const label = schema.title ?? name;
    const hint = schema.description ?? "";
    const id = `field-${name}`;
    if (schema.enum) {
      const select = h("select", { id, "aria-describedby": `${id}-hint ${id}-error` },
        h("option", { value: "" }, "Default"), schema.enum.map((value) => h("option", { value: String(value) }, String(value))));
      return this.simpleField(name, label, select, hint, () => (select.value === "" ? null : schema.enum.find((v) => String(v) === select.value)));
    }
    if (schema.type === "boolean") {
      const box = h("input", { type: "checkbox", id, checked: Boolean(schema.default), "aria-describedby": `${id}-error` });
      const error = errorLine(`${id}-error`);
      this.fields.push({
        params: [name],
        collect: (body) => {
          if (box.checked !== Boolean(schema.default)) body[name] = box.checked;
        },
        error: { showError: (text) => error.show(text, box), focus: () => box.focus() },
      });
      return h("div", { class: "field" }, h("label", { class: "check", for: id }, box, label), error.element);
    }
    if (schema.type === "integer" || schema.type === "number") return this.numberField(name, label, schema, hint);
    if (schema.type === "string") return this.textField(name, label, schema, hint);
    return null;
  }

  simpleField(name, label, control, hint, read) {
    const id = control.id;
    const error = errorLine(`${id}-error`);
    this.fields.push({
      params: [name],
      collect: (body) => {
        const value = read();
        if (value !== null && value !== undefined) body[name] = value;
      },
      error: { showError: (text) => error.show(text, control), focus: () => control.focus() },
    });
    return h("div", { class: "field" },
      h("label", { for: id }, label), control, hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null, error.element);
  }

  price() {
    const seconds = this.durationValue();
    let perSecond = Number(this.model?.price?.per_second_usd ?? 0);
    if (this.voiceBoxes?.some((box) => box.checked)) perSecond += Number(this.model?.price?.voice_per_second_usd ?? 0);
    return perSecond * seconds;
  }

  update() {
    this.estimate.replaceChildren("Estimated price ", h("strong", { id: "estimate" }, usd(this.price())));
    this.submitButton.replaceChildren(icon("play"), `Generate · ${usd(this.price())}`);
  }

  clearErrors() {
    this.formError.textContent = "";
    this.image.showError("");
    this.promptError.show("", this.prompt);
    for (const field of this.fields) field.error.showError("");
  }

  /** Puts a refusal next to the field it names (the error's `param`), else under the button. */
  showError(error) {
    const text = describe(error);
    const param = error?.param ?? "";
    const root = param.split(/[.[]/)[0];
    if (root === "image") {
      this.image.showError(text);
      this.image.focus();
      return;
    }
    if (root === "prompt") {
      this.promptError.show(text, this.prompt);
      this.prompt.focus();
      return;
    }
    const field = this.fields.find((candidate) => candidate.params.includes(root));
    if (field) {
      field.error.showError(text);
      field.error.focus?.();
      return;
    }
    this.formError.textContent = text;
  }

  async submit() {
    if (this.submitting) return;
    this.clearErrors();
    if (!this.prompt.value.trim()) {
      this.promptError.show("Write a prompt: what should happen in the video?", this.prompt);
      this.prompt.focus();
      return;
    }
    if (this.segments && !this.segments.valid()) {
      this.segments.focus();
      return;
    }
    this.submitting = true;
    this.submitButton.disabled = true;
    this.submitButton.replaceChildren("Submitting…");
    try {
      const body = { prompt: this.prompt.value };
      if (!this.image.element.hidden) {
        if (this.image.busy) this.submitButton.replaceChildren("Waiting for the upload…");
        const image = await this.image.value();
        if (image) body.image = image;
        else if (!this.imageOptional) {
          if (!this.image.error.element.textContent) this.image.showError("Add an image: drop one above or choose a file.");
          this.image.focus();
          return;
        }
      }
      for (const field of this.fields) await field.collect(body);
      const prediction = await api(this.model.endpoint, { method: "POST", body });
      this.onSubmitted(prediction, this.model);
    } catch (error) {
      this.showError(error);
    } finally {
      this.submitting = false;
      this.submitButton.disabled = false;
      this.update();
    }
  }
}
