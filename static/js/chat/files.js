// @ts-check
// Files in the composer (docs/attachments.md): a paperclip button, drag and drop onto the composer, or paste (a
// screenshot). Each file becomes a chip with its name, size and type, uploaded at once (POST /api/attachments/)
// and then read on the server; the chip shows the progress and, if the file is refused, why. Chips can be removed
// until the message is sent; chat.send carries the ready files' ids.

import { api, uploadFile, urlFor } from "./api.js";
import { h, icon } from "./dom.js";
import { formatNumber, t } from "./i18n.js";

const POLL_MS = 600;

/**
 * @typedef {object} Chip
 * @property {HTMLElement} el
 * @property {string} name
 * @property {number | null} id  the server's id once uploaded
 * @property {"uploading" | "processing" | "ready" | "failed"} status
 */

/**
 * "1.2 MB", "320 KB", "12 B".
 * @param {number} bytes
 * @returns {string}
 */
export function formatSize(bytes) {
  if (bytes >= 1024 * 1024) return formatNumber(Math.round((bytes / (1024 * 1024)) * 10) / 10) + " MB";
  if (bytes >= 1024) return formatNumber(Math.round(bytes / 1024)) + " KB";
  return formatNumber(bytes) + " B";
}

/**
 * The chip's short type label: the file's extension, upper case ("PDF", "PNG").
 * @param {string} name
 * @returns {string}
 */
export function typeLabel(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 && dot < name.length - 1 ? name.slice(dot + 1).toUpperCase() : "FILE";
}

export class FileTray {
  /**
   * @param {{form: HTMLElement, composer: HTMLTextAreaElement, tray: HTMLElement, button: HTMLButtonElement,
   *   input: HTMLInputElement, urls: Record<string, string>, onChange: () => void}} options
   */
  constructor(options) {
    this.options = options;
    /** @type {Chip[]} */
    this.chips = [];
    const { form, composer, button, input } = options;
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      this.add(Array.from(input.files || []));
      input.value = "";
    });
    form.addEventListener("dragover", (event) => {
      if (!event.dataTransfer || !Array.from(event.dataTransfer.types).includes("Files")) return;
      event.preventDefault();
      form.classList.add("is-dropping");
    });
    form.addEventListener("dragleave", () => form.classList.remove("is-dropping"));
    form.addEventListener("drop", (event) => {
      form.classList.remove("is-dropping");
      const dropped = event.dataTransfer ? Array.from(event.dataTransfer.files) : [];
      if (!dropped.length) return;
      event.preventDefault();
      this.add(dropped);
    });
    composer.addEventListener("paste", (event) => {
      const pasted = event.clipboardData ? Array.from(event.clipboardData.files) : [];
      if (!pasted.length) return; // text pastes as text
      event.preventDefault();
      this.add(pasted);
    });
  }

  /** @param {File[]} files */
  add(files) {
    for (const file of files) this.upload(file);
  }

  /** @param {File} file */
  async upload(file) {
    const remove = h(
      "button",
      { type: "button", class: "icon-button file-remove", "data-testid": "file-remove", "aria-label": t("file_remove", { name: file.name }), title: t("file_remove", { name: file.name }) },
      icon("close"),
    );
    const state = h("span", { class: "file-state", "data-testid": "file-state" }, t("file_uploading"));
    const el = h(
      "div",
      { class: "file-chip", "data-testid": "file-chip", "data-status": "uploading", role: "group", "aria-label": file.name },
      h("span", { class: "file-type", "aria-hidden": "true" }, typeLabel(file.name)),
      h("span", { class: "file-name" }, file.name),
      h("span", { class: "file-size" }, formatSize(file.size)),
      state,
      remove,
    );
    /** @type {Chip} */
    const chip = { el, name: file.name, id: null, status: "uploading" };
    this.chips.push(chip);
    this.options.tray.append(el);
    this.options.tray.hidden = false;
    remove.addEventListener("click", () => this.remove(chip));
    this.changed();
    try {
      const data = await uploadFile(this.options.urls.attachments, file);
      if (!this.chips.includes(chip)) return; // removed while uploading
      chip.id = data.attachment.id;
      this.show(chip, data.attachment);
    } catch (err) {
      this.fail(chip, /** @type {Error} */ (err).message);
    }
  }

  /**
   * @param {Chip} chip
   * @param {any} attachment  the API's view of the file
   */
  show(chip, attachment) {
    if (attachment.status === "failed") {
      this.fail(chip, attachment.error ? attachment.error.message : t("error_generic"));
      return;
    }
    chip.status = attachment.status === "ready" ? "ready" : "processing";
    chip.el.dataset.status = chip.status;
    const state = /** @type {HTMLElement} */ (chip.el.querySelector(".file-state"));
    state.textContent = chip.status === "ready" ? t("file_ready") : t("file_reading", { percent: attachment.progress || 0 });
    this.changed();
    if (chip.status === "processing") window.setTimeout(() => this.poll(chip), POLL_MS);
  }

  /** @param {Chip} chip */
  async poll(chip) {
    if (!this.chips.includes(chip) || chip.id === null) return;
    try {
      const data = await api("GET", urlFor(this.options.urls, "attachment", chip.id));
      this.show(chip, data.attachment);
    } catch (err) {
      window.setTimeout(() => this.poll(chip), POLL_MS * 4);
    }
  }

  /**
   * @param {Chip} chip
   * @param {string} message
   */
  fail(chip, message) {
    chip.status = "failed";
    chip.el.dataset.status = "failed";
    const state = /** @type {HTMLElement} */ (chip.el.querySelector(".file-state"));
    state.textContent = message;
    state.setAttribute("role", "alert");
    this.changed();
  }

  /** @param {Chip} chip */
  remove(chip) {
    this.chips = this.chips.filter((c) => c !== chip);
    chip.el.remove();
    if (chip.id !== null && chip.status !== "failed") {
      api("POST", urlFor(this.options.urls, "attachment_delete", chip.id)).catch(() => {});
    }
    this.options.tray.hidden = this.chips.length === 0;
    this.changed();
    this.options.composer.focus();
  }

  /** @returns {number[]} the ids of the files that go with the next message */
  readyIds() {
    return this.chips.filter((c) => c.status === "ready" && c.id !== null).map((c) => /** @type {number} */ (c.id));
  }

  /** @returns {boolean} a file is still uploading or being read */
  busy() {
    return this.chips.some((c) => c.status === "uploading" || c.status === "processing");
  }

  /** @returns {boolean} a refused file is still in the tray */
  hasFailed() {
    return this.chips.some((c) => c.status === "failed");
  }

  /** The message went out with its files: the tray starts empty again. */
  clear() {
    for (const chip of this.chips) chip.el.remove();
    this.chips = [];
    this.options.tray.hidden = true;
    this.changed();
  }

  changed() {
    this.options.onChange();
  }
}

/**
 * The files a sent question carried, under its bubble: name and size, each a download link of the person's own file.
 * @param {HTMLElement} element  a user message
 * @param {Array<{id: number, name: string, size: number, kind: string}>} attachments
 * @param {Record<string, string>} urls
 */
export function renderSentFiles(element, attachments, urls) {
  const existing = element.querySelector(".msg-files");
  if (existing) existing.remove();
  if (!Array.isArray(attachments) || !attachments.length) return;
  const list = h(
    "ul",
    { class: "msg-files", "data-testid": "message-files", "aria-label": t("files_sent") },
    ...attachments.map((a) =>
      h(
        "li",
        { class: "file-chip is-sent", "data-kind": a.kind },
        h("span", { class: "file-type", "aria-hidden": "true" }, typeLabel(a.name)),
        h("a", { class: "file-name", href: urlFor(urls, "attachment_download", a.id), download: a.name }, a.name),
        h("span", { class: "file-size" }, formatSize(a.size)),
      ),
    ),
  );
  const bubble = element.querySelector(".msg-bubble");
  if (bubble) bubble.after(list);
}
