// @ts-check
// The conversation's header: its title (and the tab's), the model picker, the system prompt panel and the export
// links. A model or system prompt chosen for a new chat goes with its first message; for a saved conversation it
// is saved at once (POST …/settings/).

import { api, urlFor } from "./api.js";
import { updateCounter, validateSystemPrompt } from "./composer.js";
import { t } from "./i18n.js";
import { renderModelInfo } from "./modelinfo.js";
import { isInt } from "./protocol.js";

/**
 * @typedef {object} HeaderElements
 * @property {HTMLElement} title
 * @property {HTMLSelectElement} picker
 * @property {HTMLButtonElement} systemButton
 * @property {HTMLElement} systemPanel
 * @property {HTMLTextAreaElement} systemInput
 * @property {HTMLButtonElement} systemSave
 * @property {HTMLButtonElement} systemCancel
 * @property {HTMLElement} systemCounter
 * @property {HTMLElement} exportLinks
 * @property {HTMLAnchorElement} exportMd
 * @property {HTMLAnchorElement} exportJson
 * @property {HTMLTextAreaElement} composer  where the focus goes after saving
 * @property {HTMLElement | null} modelInfo  the chosen model's description and hints
 */

/**
 * @typedef {object} SharedState  main.js's state (the header reads and updates these)
 * @property {{id: number, title?: string, system_prompt?: string, model_version_id?: number | null} | null} conversation
 * @property {string} draftSystemPrompt  a new chat's system prompt, sent with its first message
 * @property {{max_system_prompt: number}} limits
 */

export class ConversationHeader {
  /**
   * @param {object} options
   * @param {HeaderElements} options.els
   * @param {Record<string, string>} options.urls
   * @param {number | null} options.defaultModelId
   * @param {import("./modelinfo.js").ModelSummary[]} options.models
   * @param {SharedState} options.state
   * @param {import("./state.js").View} options.view
   * @param {(message: string, code?: string) => void} options.onError
   */
  constructor({ els, urls, defaultModelId, models, state, view, onError }) {
    this.els = els;
    this.models = models;
    this.urls = urls;
    this.defaultModelId = defaultModelId;
    this.state = state;
    this.view = view;
    this.onError = onError;
  }

  bind() {
    const { els } = this;
    els.picker.addEventListener("change", () => {
      this.updateModelInfo();
      this.onModelChange();
    });
    this.updateModelInfo();
    els.systemButton.addEventListener("click", () => {
      if (els.systemPanel.hidden) this.openSystemPanel();
      else this.closeSystemPanel(true);
    });
    els.systemSave.addEventListener("click", () => this.saveSystemPrompt());
    els.systemCancel.addEventListener("click", () => this.closeSystemPanel(true));
    els.systemInput.addEventListener("input", () =>
      updateCounter(els.systemInput.value, this.state.limits.max_system_prompt, els.systemCounter),
    );
    els.systemPanel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.closeSystemPanel(true);
      }
    });
  }

  /** Title, tab title, export links and the system prompt marker for the open conversation. */
  update() {
    const { els, state } = this;
    const title = (state.conversation && state.conversation.title) || t("new_chat");
    els.title.textContent = title;
    document.title = title + " · Office AI";
    const id = this.view.conversationId;
    els.exportLinks.hidden = id === null;
    if (id !== null) {
      els.exportMd.href = urlFor(this.urls, "export_md", id);
      els.exportJson.href = urlFor(this.urls, "export_json", id);
    }
    this.updateSystemButton();
  }

  /** @returns {number | null} the chosen model version */
  pickerValue() {
    const value = Number(this.els.picker.value);
    return this.els.picker.value !== "" && Number.isInteger(value) ? value : null;
  }

  /**
   * Shows the conversation's model (or the company's default).
   * @param {number | null | undefined} modelVersionId
   */
  syncModelPicker(modelVersionId) {
    const { picker } = this.els;
    const wanted = isInt(modelVersionId) ? modelVersionId : this.defaultModelId;
    const option = Array.from(picker.options).find((o) => o.value === String(wanted));
    if (option) picker.value = option.value;
    else if (this.defaultModelId !== null) picker.value = String(this.defaultModelId);
    picker.dataset.current = picker.value;
    this.updateModelInfo();
  }

  /** The chosen model's description and hints, under the picker. */
  updateModelInfo() {
    if (!this.els.modelInfo) return;
    const id = this.pickerValue();
    renderModelInfo(this.els.modelInfo, this.models.find((m) => m.id === id) || null);
  }

  async onModelChange() {
    const { picker } = this.els;
    const { state, view } = this;
    const value = this.pickerValue();
    if (view.conversationId === null || !view.loaded || !state.conversation) {
      picker.dataset.current = picker.value; // used with the first message
      return;
    }
    const id = view.conversationId;
    picker.disabled = true;
    try {
      const data = await api("POST", urlFor(this.urls, "settings", id), {
        system_prompt: state.conversation.system_prompt || "",
        model_version_id: value,
      });
      if (id === view.conversationId) {
        state.conversation = { ...state.conversation, ...(data.conversation || {}) };
        picker.dataset.current = picker.value;
      }
    } catch (err) {
      this.onError(err.message, err.code);
      picker.value = picker.dataset.current || "";
      this.updateModelInfo();
    } finally {
      picker.disabled = false;
    }
  }

  currentSystemPrompt() {
    const { state } = this;
    if (this.view.conversationId === null) return state.draftSystemPrompt;
    return (state.conversation && state.conversation.system_prompt) || "";
  }

  updateSystemButton() {
    this.els.systemButton.classList.toggle("has-value", this.currentSystemPrompt().trim() !== "");
  }

  openSystemPanel() {
    const { els } = this;
    els.systemInput.value = this.currentSystemPrompt();
    els.systemPanel.hidden = false;
    els.systemButton.setAttribute("aria-expanded", "true");
    updateCounter(els.systemInput.value, this.state.limits.max_system_prompt, els.systemCounter);
    els.systemInput.focus();
  }

  /** @param {boolean} restoreFocus */
  closeSystemPanel(restoreFocus) {
    const { els } = this;
    if (els.systemPanel.hidden) return;
    els.systemPanel.hidden = true;
    els.systemButton.setAttribute("aria-expanded", "false");
    if (restoreFocus) els.systemButton.focus();
  }

  async saveSystemPrompt() {
    const { els, state, view } = this;
    const value = els.systemInput.value;
    const checked = validateSystemPrompt(value, state.limits.max_system_prompt);
    if (!checked.ok) {
      this.onError(checked.message, checked.code);
      return;
    }
    if (view.conversationId === null) {
      state.draftSystemPrompt = value; // sent with the first message
      this.updateSystemButton();
      this.closeSystemPanel(false);
      els.composer.focus();
      return;
    }
    const id = view.conversationId;
    els.systemSave.disabled = true;
    try {
      const data = await api("POST", urlFor(this.urls, "settings", id), {
        system_prompt: value,
        model_version_id: this.pickerValue(),
      });
      if (id === view.conversationId) {
        const saved = data.conversation || {};
        state.conversation = { ...state.conversation, ...saved, system_prompt: saved.system_prompt ?? value };
        this.updateSystemButton();
        this.closeSystemPanel(false);
        els.composer.focus();
      }
    } catch (err) {
      this.onError(err.message, err.code); // the panel stays open with the text
    } finally {
      els.systemSave.disabled = false;
    }
  }
}
