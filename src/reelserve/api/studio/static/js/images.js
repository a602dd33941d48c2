// An image field: drop or pick a file, see it, have it uploaded through POST /api/v3/media/upload/binary.
// The server is the judge: its refusal (not an image, too large, later at submit too small) shows under the field.

import { api, describe } from "./api.js";
import { errorLine, h, icon } from "./dom.js";

const ACCEPT = "image/jpeg,image/png,image/webp";

function kilobytes(size) {
  return size >= 1_000_000 ? `${(size / 1_000_000).toFixed(1)} MB` : `${Math.max(1, Math.round(size / 1000))} KB`;
}

export class ImageDrop {
  constructor({ id, label, hint, optional = false }) {
    this.id = id;
    this.upload = null;
    this.pending = null;
    this.previewUrl = null;
    this.error = errorLine(`${id}-error`);
    this.input = h("input", {
      type: "file", id: `${id}-file`, accept: ACCEPT, class: "visually-hidden",
      "aria-describedby": `${id}-hint ${id}-error`,
    });
    this.input.addEventListener("change", () => {
      if (this.input.files?.length) this.take(this.input.files[0]);
    });
    this.target = h("label", { for: `${id}-file`, class: "dropzone-target" },
      icon("upload"),
      h("strong", {}, "Drop an image here"),
      h("span", {}, "or ", h("span", { class: "link" }, "choose a file")),
    );
    this.preview = h("div", { class: "preview", hidden: true });
    this.zone = h("div", { class: "dropzone" }, this.input, this.target, this.preview);
    for (const name of ["dragenter", "dragover"]) {
      this.zone.addEventListener(name, (event) => {
        event.preventDefault();
        this.zone.classList.add("dragging");
      });
    }
    for (const name of ["dragleave", "dragend"]) this.zone.addEventListener(name, () => this.zone.classList.remove("dragging"));
    this.zone.addEventListener("drop", (event) => {
      event.preventDefault();
      this.zone.classList.remove("dragging");
      const file = event.dataTransfer?.files?.[0];
      if (file) this.take(file);
    });
    this.element = h("div", { class: "field", role: "group", "aria-labelledby": `${id}-label` },
      h("span", { class: "field-label", id: `${id}-label` }, label, optional ? h("span", { class: "muted" }, " (optional)") : null),
      this.zone,
      h("p", { class: "hint", id: `${id}-hint` }, hint),
      this.error.element,
    );
  }

  /** The upload's URL for the request, once the upload has finished (waits for one under way). */
  async value() {
    if (this.pending) await this.pending;
    return this.upload?.download_url ?? null;
  }

  get busy() {
    return this.pending !== null;
  }

  showError(text) {
    this.error.show(text, this.input);
    this.zone.classList.toggle("invalid", Boolean(text));
  }

  focus() {
    this.input.focus();
  }

  take(file) {
    this.showError("");
    this.upload = null;
    if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
    this.previewUrl = URL.createObjectURL(file);
    const size = h("span", {}, kilobytes(file.size));
    const state = h("span", { class: "upload-state busy", role: "status" }, "Uploading…");
    const image = h("img", { src: this.previewUrl, alt: `Preview of ${file.name}` });
    image.addEventListener("load", () => {
      size.textContent = `${image.naturalWidth} × ${image.naturalHeight} px · ${kilobytes(file.size)}`;
    });
    image.addEventListener("error", () => {
      image.hidden = true;
    });
    const remove = h("button", { type: "button", class: "button secondary small" }, "Remove");
    remove.addEventListener("click", () => {
      this.clear();
      this.input.focus();
    });
    this.preview.replaceChildren(image, h("div", { class: "meta" }, h("strong", {}, file.name), size, h("div", {}, state)), remove);
    this.preview.hidden = false;
    this.target.hidden = true;
    const form = new FormData();
    form.append("file", file, file.name);
    const attempt = Symbol(file.name);
    this.attempt = attempt;
    this.pending = api("/api/v3/media/upload/binary", { method: "POST", form })
      .then((upload) => {
        if (this.attempt !== attempt) return;
        this.upload = upload;
        state.className = "upload-state ok";
        state.textContent = "✓ Uploaded";
      })
      .catch((error) => {
        if (this.attempt !== attempt) return;
        this.clear();
        this.showError(`Not uploaded. ${describe(error)}`);
      })
      .finally(() => {
        if (this.attempt === attempt || this.attempt === null) this.pending = null;
      });
  }

  clear() {
    this.attempt = null;
    this.upload = null;
    this.input.value = "";
    if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
    this.previewUrl = null;
    this.preview.replaceChildren();
    this.preview.hidden = true;
    this.target.hidden = false;
  }
}
