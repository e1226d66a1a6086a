// @ts-check
// The prompt library in the composer (/api/prompts/, chat/views_library.py; docs/prompts-and-import.md).
//
// Typing "/" at the start of an empty composer (or the composer's Prompts button) opens a listbox of the person's
// prompts and the company's shared ones, filtered by what follows the "/". The focus stays in the composer:
// Up/Down choose (aria-activedescendant), Enter inserts, Escape closes (and "/…" can then be typed as text); the
// mouse works too. A prompt with {{variables}} first asks for them in a small dialog (one field per variable, in
// order) and is filled here with the server's rules (prompts.js); one without is inserted as it is.
// "Manage prompts" (the last option, and the sidebar's button) opens a dialog that lists them (shared ones marked,
// changed only where `editable`) and creates, edits and deletes them. Dialogs are native modal <dialog>s: the rest of
// the page is inert while one is open (the focus stays inside), Escape closes it, the focus goes back.

import { api, urlFor } from "./api.js";
import { h, icon, isImeEnter } from "./dom.js";
import { t } from "./i18n.js";
import { filterPrompts, promptFill, promptVariables, slashQuery } from "./prompts.js";

const STALE_MS = 30000; // the list is read again when the picker opens after this long (another tab may have changed it)

/** @typedef {import("./prompts.js").PromptSummary} PromptSummary */

/**
 * @typedef {object} LibraryOptions
 * @property {HTMLTextAreaElement} composer
 * @property {HTMLElement} picker  the listbox's container, above the composer
 * @property {HTMLButtonElement | null} button  the composer's Prompts button
 * @property {HTMLButtonElement | null} manageButton  the sidebar's Prompts button
 * @property {HTMLElement} dialogHost  where the dialogs go (inside the chat's theme)
 * @property {Record<string, string>} urls
 * @property {() => void} onComposerChanged  the composer's text was changed here (counter, send button, height)
 * @property {(message: string, code?: string) => void} onError
 */

let fieldCount = 0;

/**
 * A modal dialog: heading, close button, body. Escape closes it (the browser's "cancel").
 * @param {string} testid
 * @param {string} title
 * @returns {{dialog: HTMLDialogElement, heading: HTMLElement, body: HTMLElement}}
 */
function makeDialog(testid, title) {
  fieldCount += 1;
  const headingId = "dialog-title-" + fieldCount;
  const heading = h("h2", { id: headingId, class: "dialog-title" }, title);
  const close = h("button", { type: "button", class: "icon-button dialog-close", "aria-label": t("close"), title: t("close") }, icon("close"));
  const body = h("div", { class: "dialog-body" });
  const dialog = /** @type {HTMLDialogElement} */ (
    h("dialog", { class: "chat-dialog", "aria-labelledby": headingId, "data-testid": testid }, h("div", { class: "dialog-head" }, heading, close), body)
  );
  close.addEventListener("click", () => dialog.close());
  return { dialog, heading, body };
}

/**
 * A labelled field.
 * @param {string} label
 * @param {HTMLElement} control
 * @param {string} [help]
 * @returns {HTMLElement}
 */
function field(label, control, help) {
  fieldCount += 1;
  const id = "field-" + fieldCount;
  control.id = id;
  /** @type {HTMLElement | null} */
  let helpEl = null;
  if (help) {
    helpEl = h("p", { class: "field-help muted", id: id + "-help" }, help);
    control.setAttribute("aria-describedby", id + "-help");
  }
  return h("div", { class: "field" }, h("label", { for: id }, label), control, helpEl);
}

export class PromptLibrary {
  /** @param {LibraryOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {PromptSummary[]} */
    this.prompts = [];
    this.canShare = false;
    /** @type {Record<string, number>} */
    this.limits = {};
    this.loadedAt = 0;
    /** @type {Promise<boolean> | null} */
    this.loading = null;
    this.open = false;
    /** @type {"slash" | "button"} */
    this.mode = "slash";
    this.query = "";
    /** @type {PromptSummary[]} */
    this.shown = [];
    this.active = -1; // -1: nothing chosen (Enter sends as usual)
    /** Escape closed the picker: "/…" is text until the composer no longer starts with "/". */
    this.dismissed = false;
    this.inserting = false;
    /** @type {{start: number, end: number, replaceAll: boolean}} where a chosen prompt goes */
    this.target = { start: 0, end: 0, replaceAll: true };
    /** @type {HTMLDialogElement | null} */
    this.manageDialog = null;
    /** @type {HTMLElement | null} */
    this.manageBody = null;
  }

  bind() {
    const { composer, picker, button, manageButton } = this.options;
    composer.setAttribute("aria-autocomplete", "list");
    picker.addEventListener("mousedown", (event) => event.preventDefault()); // the focus stays in the composer
    picker.addEventListener("click", (event) => {
      const option = /** @type {HTMLElement} */ (event.target).closest("[role=option]");
      if (option && option.getAttribute("aria-disabled") !== "true") this.choose(Number(option.getAttribute("data-index")));
    });
    composer.addEventListener("blur", () => {
      if (this.open) this.close();
    });
    if (button) {
      button.addEventListener("mousedown", (event) => event.preventDefault());
      button.addEventListener("click", () => {
        if (this.open) {
          this.close();
          composer.focus();
          return;
        }
        this.dismissed = false;
        if (!composer.value) {
          composer.value = "/";
          this.options.onComposerChanged(); // opens the picker through onComposerInput
        } else {
          this.openPicker("button", "");
        }
        composer.focus();
      });
    }
    if (manageButton) manageButton.addEventListener("click", () => this.openManage());
  }

  // ------------------------------------------------------------------------------------------------------------
  // Data

  /**
   * Reads the library (again).
   * @returns {Promise<boolean>} whether it was read
   */
  load() {
    if (this.loading) return this.loading;
    this.loading = (async () => {
      try {
        const data = await api("GET", this.options.urls.prompts || "/api/prompts/");
        this.prompts = Array.isArray(data.prompts) ? data.prompts : [];
        this.canShare = Boolean(data.can_share);
        this.limits = data.limits || {};
        this.loadedAt = Date.now();
        return true;
      } catch (err) {
        this.options.onError(err.status ? err.message : t("error_prompts"), err.code);
        return false;
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  // ------------------------------------------------------------------------------------------------------------
  // The picker

  /** The composer's text changed (main.js calls this on every input). */
  onComposerInput() {
    if (this.inserting) return;
    const query = slashQuery(this.options.composer.value);
    if (query === null) {
      this.dismissed = false;
      if (this.open) this.close();
      return;
    }
    if (this.dismissed) return;
    this.openPicker("slash", query);
  }

  /**
   * The composer's keys while the picker is open.
   * @param {KeyboardEvent} event
   * @returns {boolean} true when the picker used the key (the composer must not act on it)
   */
  onComposerKeydown(event) {
    if (!this.open) return false;
    const count = this.optionCount();
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!count) return true;
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.setActive(this.active < 0 ? (step > 0 ? 0 : count - 1) : (this.active + step + count) % count);
      return true;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      this.dismissed = this.mode === "slash";
      this.close();
      return true;
    }
    if (event.key === "Enter" && !isImeEnter(event) && !event.shiftKey && !event.altKey) {
      if (this.active < 0) {
        this.close(); // nothing chosen: the message is sent as typed
        return false;
      }
      event.preventDefault();
      this.choose(this.active);
      return true;
    }
    if (event.key === "Tab") this.close();
    return false;
  }

  /**
   * @param {"slash" | "button"} mode
   * @param {string} query
   */
  async openPicker(mode, query) {
    const { composer } = this.options;
    this.mode = mode;
    this.query = query;
    const wasOpen = this.open;
    this.open = true;
    if (!wasOpen) {
      this.active = -1;
      const fresh = this.loadedAt && Date.now() - this.loadedAt < STALE_MS;
      if (!fresh) {
        this.render(true);
        const loaded = await this.load();
        if (!this.open) return;
        if (!loaded && !this.loadedAt) {
          this.close();
          return;
        }
      }
    }
    this.shown = filterPrompts(this.prompts, this.mode === "slash" ? this.query : "");
    // The first match is chosen, so Enter inserts it; without a match Enter sends what was typed.
    if (!wasOpen || this.active >= this.shown.length || this.active < 0) this.active = this.shown.length ? 0 : -1;
    this.render(false);
    composer.setAttribute("aria-controls", "prompt-listbox");
    if (this.options.button) this.options.button.setAttribute("aria-expanded", "true");
  }

  close() {
    const { composer, picker, button } = this.options;
    this.open = false;
    this.active = -1;
    picker.hidden = true;
    picker.replaceChildren();
    composer.removeAttribute("aria-activedescendant");
    composer.removeAttribute("aria-controls");
    if (button) button.setAttribute("aria-expanded", "false");
  }

  /** @returns {number} the options: the prompts shown, then "Manage prompts" */
  optionCount() {
    return this.shown.length + 1;
  }

  /** @param {boolean} loading */
  render(loading) {
    const { picker, composer } = this.options;
    picker.hidden = false;
    if (loading) {
      picker.replaceChildren(h("p", { class: "prompt-status muted", role: "status" }, t("prompts_loading")));
      return;
    }
    const options = this.shown.map((prompt, index) =>
      h(
        "li",
        {
          role: "option",
          id: "prompt-option-" + index,
          class: "prompt-option",
          "data-index": index,
          "data-testid": "prompt-option",
          "aria-selected": String(index === this.active),
        },
        h(
          "span",
          { class: "prompt-option-line" },
          h("span", { class: "prompt-option-name" }, prompt.name),
          prompt.shared ? h("span", { class: "prompt-badge" }, t("prompt_shared")) : null,
          prompt.folder_name ? h("span", { class: "prompt-option-folder" }, prompt.folder_name) : null,
        ),
        prompt.description ? h("span", { class: "prompt-option-desc" }, prompt.description) : null,
      ),
    );
    const manageIndex = this.shown.length;
    options.push(
      h(
        "li",
        {
          role: "option",
          id: "prompt-option-manage",
          class: "prompt-option prompt-manage",
          "data-index": manageIndex,
          "data-testid": "prompt-manage-option",
          "aria-selected": String(manageIndex === this.active),
        },
        t("manage_prompts"),
      ),
    );
    /** @type {HTMLElement[]} */
    const children = [];
    if (!this.shown.length) {
      const text = this.prompts.length && this.query.trim() ? t("prompts_no_match", { query: this.query.trim() }) : t("prompts_none");
      children.push(h("p", { class: "prompt-status muted", role: "status" }, text));
    }
    children.push(h("ul", { role: "listbox", id: "prompt-listbox", class: "prompt-list", "aria-label": t("prompts") }, options));
    picker.replaceChildren(...children);
    this.setActive(this.active);
    if (document.activeElement !== composer && this.mode === "slash") composer.focus();
  }

  /** @param {number} index */
  setActive(index) {
    const { composer, picker } = this.options;
    this.active = index;
    let activeId = "";
    for (const option of Array.from(picker.querySelectorAll("[role=option]"))) {
      const selected = Number(option.getAttribute("data-index")) === index;
      option.setAttribute("aria-selected", String(selected));
      option.classList.toggle("is-active", selected);
      if (selected) {
        activeId = option.id;
        option.scrollIntoView({ block: "nearest" });
      }
    }
    if (activeId) composer.setAttribute("aria-activedescendant", activeId);
    else composer.removeAttribute("aria-activedescendant");
  }

  /** @param {number} index */
  choose(index) {
    const { composer } = this.options;
    const replaceAll = this.mode === "slash" && slashQuery(composer.value) !== null;
    this.target = { start: composer.selectionStart, end: composer.selectionEnd, replaceAll };
    this.dismissed = false;
    if (index === this.shown.length) {
      this.close();
      this.openManage();
      return;
    }
    const prompt = this.shown[index];
    this.close();
    if (!prompt) return;
    const names = promptVariables(prompt.content);
    if (names.length) this.openFill(prompt, names);
    else this.insert(prompt.content);
  }

  /**
   * Puts text into the composer: in place of the "/…" command, or at the caret.
   * @param {string} text
   */
  insert(text) {
    const { composer } = this.options;
    const { start, end, replaceAll } = this.target;
    let caret;
    if (replaceAll || slashQuery(composer.value) !== null) {
      composer.value = text;
      caret = text.length;
    } else {
      const value = composer.value;
      const from = Math.min(start, value.length);
      const to = Math.min(Math.max(end, from), value.length);
      composer.value = value.slice(0, from) + text + value.slice(to);
      caret = from + text.length;
    }
    this.inserting = true;
    try {
      this.options.onComposerChanged();
    } finally {
      this.inserting = false;
    }
    composer.focus();
    composer.setSelectionRange(caret, caret);
  }

  // ------------------------------------------------------------------------------------------------------------
  // The variables dialog

  /**
   * @param {PromptSummary} prompt
   * @param {string[]} names  its variables, in order
   */
  openFill(prompt, names) {
    const { dialog, body } = makeDialog("prompt-fill-dialog", t("prompt_fill_title", { name: prompt.name }));
    /** @type {Map<string, HTMLTextAreaElement>} */
    const inputs = new Map();
    const fields = names.map((name) => {
      const input = /** @type {HTMLTextAreaElement} */ (h("textarea", { rows: 2, class: "prompt-variable", "data-testid": "prompt-variable", "data-name": name }));
      inputs.set(name, input);
      return field(name, input);
    });
    const insert = h("button", { type: "submit", class: "primary", "data-testid": "prompt-insert" }, t("prompt_insert"));
    const cancel = h("button", { type: "button", "data-testid": "prompt-fill-cancel" }, t("cancel"));
    const form = h(
      "form",
      { class: "dialog-form", novalidate: true },
      prompt.description ? h("p", { class: "muted dialog-lead" }, prompt.description) : null,
      fields,
      h("div", { class: "dialog-actions" }, cancel, insert),
    );
    body.append(form);
    let filled = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      /** @type {Record<string, string>} */
      const values = {};
      for (const [name, input] of inputs) values[name] = input.value;
      filled = true;
      dialog.close();
      this.insert(promptFill(prompt.content, values));
    });
    form.addEventListener("keydown", (/** @type {KeyboardEvent} */ event) => {
      // Enter goes to the next field (a value may need Shift+Enter for a line); on the last it inserts.
      if (event.key !== "Enter" || event.shiftKey || isImeEnter(event)) return;
      const target = /** @type {HTMLElement} */ (event.target);
      if (!(target instanceof HTMLTextAreaElement)) return;
      event.preventDefault();
      const all = Array.from(inputs.values());
      const next = all[all.indexOf(target) + 1];
      if (next && !(event.ctrlKey || event.metaKey)) next.focus();
      else form.requestSubmit();
    });
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (!filled) this.options.composer.focus();
    });
    this.options.dialogHost.append(dialog);
    dialog.showModal();
    const first = inputs.values().next().value;
    if (first) first.focus();
  }

  // ------------------------------------------------------------------------------------------------------------
  // Managing the library

  async openManage() {
    if (this.manageDialog) return;
    const opener = /** @type {HTMLElement | null} */ (document.activeElement instanceof HTMLElement ? document.activeElement : null);
    const { dialog, body } = makeDialog("prompt-manage-dialog", t("manage_prompts"));
    dialog.classList.add("chat-dialog-wide");
    this.manageDialog = dialog;
    this.manageBody = body;
    dialog.addEventListener("close", () => {
      dialog.remove();
      this.manageDialog = null;
      this.manageBody = null;
      const back = opener && opener.isConnected && opener !== document.body ? opener : this.options.composer;
      back.focus();
    });
    this.options.dialogHost.append(dialog);
    body.append(h("p", { class: "prompt-status muted", role: "status" }, t("prompts_loading")));
    dialog.showModal();
    await this.load();
    if (this.manageDialog === dialog) this.showList();
  }

  /** @param {number} [focusId]  the prompt whose row gets the focus */
  showList(focusId) {
    const body = this.manageBody;
    if (!body) return;
    const create = h("button", { type: "button", class: "primary", "data-testid": "prompt-new" }, t("prompt_new"));
    create.addEventListener("click", () => this.showEditor(null));
    const rows = this.prompts.map((prompt) => {
      const actions = [];
      if (prompt.editable) {
        const edit = h("button", { type: "button", class: "prompt-edit", "data-testid": "prompt-edit", "aria-label": t("prompt_edit_label", { name: prompt.name }) }, t("edit"));
        const remove = h("button", { type: "button", class: "prompt-delete", "data-testid": "prompt-delete", "aria-label": t("prompt_delete_label", { name: prompt.name }) }, t("delete"));
        edit.addEventListener("click", () => this.showEditor(prompt));
        remove.addEventListener("click", () => this.remove(prompt));
        actions.push(edit, remove);
      }
      return h(
        "li",
        { class: "prompt-row", "data-testid": "prompt-row", "data-prompt-id": prompt.id, "data-shared": prompt.shared ? "true" : null },
        h(
          "div",
          { class: "prompt-row-text" },
          h(
            "span",
            { class: "prompt-option-line" },
            h("span", { class: "prompt-option-name" }, prompt.name),
            prompt.shared ? h("span", { class: "prompt-badge", "data-testid": "prompt-shared" }, t("prompt_shared")) : null,
            prompt.folder_name ? h("span", { class: "prompt-option-folder" }, prompt.folder_name) : null,
          ),
          prompt.description ? h("span", { class: "prompt-option-desc" }, prompt.description) : null,
        ),
        actions.length ? h("div", { class: "prompt-row-actions" }, actions) : null,
      );
    });
    body.replaceChildren(
      h("p", { class: "muted dialog-lead" }, t("prompts_hint")),
      rows.length ? h("ul", { class: "prompt-rows" }, rows) : h("p", { class: "prompt-status muted" }, t("prompts_none")),
      h("div", { class: "dialog-actions" }, create),
    );
    const target = focusId !== undefined ? body.querySelector(`[data-prompt-id="${Number(focusId)}"] button`) : null;
    /** @type {HTMLElement} */ (target || create).focus();
  }

  /** @param {PromptSummary | null} prompt  null: a new one */
  showEditor(prompt) {
    const body = this.manageBody;
    const dialog = this.manageDialog;
    if (!body || !dialog) return;
    const limits = this.limits;
    const name = h("input", { type: "text", required: true, maxlength: limits.max_name || 100, "data-testid": "prompt-name" });
    const description = h("input", { type: "text", maxlength: limits.max_description || 300, "data-testid": "prompt-description" });
    const folders = Array.from(new Set(this.prompts.map((p) => p.folder_name).filter(Boolean)));
    fieldCount += 1;
    const listId = "prompt-folders-" + fieldCount;
    const folder = h("input", { type: "text", maxlength: limits.max_folder_name || 100, list: listId, "data-testid": "prompt-folder" });
    const content = h("textarea", { rows: 8, required: true, maxlength: limits.max_content || 32000, "data-testid": "prompt-content" });
    const found = h("p", { class: "field-help prompt-found", "aria-live": "polite" });
    const share = h("input", { type: "checkbox", "data-testid": "prompt-share" });
    const error = h("p", { class: "dialog-error", role: "alert", hidden: true, "data-testid": "prompt-error" });
    name.value = prompt ? prompt.name : "";
    description.value = prompt ? prompt.description || "" : "";
    folder.value = prompt ? prompt.folder_name || "" : "";
    content.value = prompt ? prompt.content : "";
    const showFound = () => {
      const names = promptVariables(content.value);
      found.textContent = names.length ? t("prompt_variables_found", { names: names.join(", ") }) : "";
    };
    content.addEventListener("input", showFound);
    showFound();
    const save = h("button", { type: "submit", class: "primary", "data-testid": "prompt-save" }, t("save"));
    const cancel = h("button", { type: "button", "data-testid": "prompt-cancel" }, t("cancel"));
    cancel.addEventListener("click", () => this.showList(prompt ? prompt.id : undefined));
    const form = h(
      "form",
      { class: "dialog-form", novalidate: true },
      h("h3", { class: "dialog-subtitle" }, prompt ? t("prompt_edit_title") : t("prompt_new")),
      error,
      field(t("prompt_name"), name),
      field(t("prompt_content"), content, t("prompt_content_help")),
      found,
      field(t("prompt_description"), description),
      field(t("prompt_folder"), folder),
      h("datalist", { id: listId }, folders.map((f) => h("option", { value: f }))),
      !prompt && this.canShare ? h("label", { class: "check-field" }, share, " ", t("prompt_share")) : null,
      h("div", { class: "dialog-actions" }, cancel, save),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      save.disabled = true;
      const fields = { name: name.value, content: content.value, description: description.value, folder_name: folder.value };
      try {
        const data = prompt
          ? await api("POST", urlFor(this.options.urls, "prompt", prompt.id), fields)
          : await api("POST", this.options.urls.prompts || "/api/prompts/", { ...fields, shared: Boolean(share.checked) });
        await this.load();
        if (this.manageDialog === dialog) this.showList(data.prompt ? data.prompt.id : undefined);
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
        save.disabled = false;
      }
    });
    body.replaceChildren(form);
    name.focus();
  }

  /** @param {PromptSummary} prompt */
  async remove(prompt) {
    if (!window.confirm(t("confirm_delete_prompt", { name: prompt.name }))) return;
    try {
      await api("POST", urlFor(this.options.urls, "prompt_delete", prompt.id), {});
    } catch (err) {
      this.options.onError(err.message, err.code);
      return;
    }
    await this.load();
    this.showList();
  }
}
