// @ts-check
// The sidebar: the person's conversations (newest first), title search, rename, delete, and keyboard navigation.
//
// Keyboard: the list is one tab stop (roving tabindex). Up/Down move between conversations, Home/End to the
// first/last, Enter opens (it is a link), F2 renames, Delete deletes; Tab goes on to the focused conversation's
// Rename and Delete buttons, then out of the list.

import { api, urlFor } from "./api.js";
import { debounce, h, icon, isImeEnter, relativeTime } from "./dom.js";
import { t } from "./i18n.js";

const SEARCH_DEBOUNCE_MS = 250;

/**
 * @typedef {object} ConversationSummary
 * @property {number} id
 * @property {string} [title]
 * @property {string} [updated_at]
 * @property {string} [model_label]
 */

/**
 * @typedef {object} SidebarOptions
 * @property {HTMLUListElement} list
 * @property {HTMLElement} empty  the "No chats yet" line
 * @property {HTMLInputElement} search
 * @property {Record<string, string>} urls
 * @property {() => number | null} activeId  the open conversation
 * @property {(id: number) => void} onOpen  a conversation was chosen (not the open one)
 * @property {() => void} onClose  the open one was chosen again (closes the sidebar on small screens)
 * @property {(id: number) => void} onDeleted
 * @property {(id: number, title: string) => void} onTitle  the title of a conversation changed here
 * @property {(message: string, code?: string) => void} onError
 */

export class Sidebar {
  /** @param {SidebarOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {ConversationSummary[]} */
    this.conversations = [];
    this.query = "";
    this.listToken = 0;
    /** @type {{id: number, value: string} | null} */
    this.renaming = null;
    this.rendering = false;
    /** @type {number | null} the conversation that holds the list's tab stop */
    this.focusId = null;
    /** @type {Set<number>} conversations deleted while the page is open */
    this.deleted = new Set();
  }

  bind() {
    const { list, search } = this.options;
    list.addEventListener("click", (event) => this.onClick(event));
    list.addEventListener("keydown", (event) => this.onKeydown(event));
    list.addEventListener("focusin", (event) => {
      const item = /** @type {HTMLElement} */ (event.target).closest(".conv-item");
      if (item && !this.rendering) this.setFocusItem(Number(item.getAttribute("data-conversation-id")));
    });
    list.addEventListener("input", (event) => {
      const target = /** @type {HTMLInputElement} */ (event.target);
      if (this.renaming && target.classList.contains("rename-input")) this.renaming.value = target.value;
    });
    list.addEventListener("focusout", (event) => {
      // Clicking elsewhere saves, like Enter. (Enter/Escape already cleared `renaming`; redraws are ignored.)
      const target = /** @type {HTMLElement} */ (event.target);
      if (!this.rendering && target.classList.contains("rename-input")) this.commitRename();
    });
    const searchNow = debounce(() => {
      this.query = search.value.trim();
      this.load();
    }, SEARCH_DEBOUNCE_MS);
    search.addEventListener("input", searchNow);
    search.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && search.value) {
        event.preventDefault();
        search.value = "";
        searchNow();
      } else if (event.key === "ArrowDown" && this.conversations.length) {
        event.preventDefault(); // from the search box straight into the results
        this.focusItem(this.conversations[0].id);
      }
    });
  }

  async load() {
    const token = ++this.listToken;
    const url = new URL(this.options.urls.conversations || "/api/conversations/", window.location.href);
    if (this.query) url.searchParams.set("q", this.query);
    try {
      const data = await api("GET", url.pathname + url.search);
      if (token !== this.listToken) return;
      this.conversations = Array.isArray(data.conversations) ? data.conversations : [];
      this.render();
    } catch (err) {
      if (token === this.listToken) this.options.onError(err.status ? err.message : t("error_list"), err.code);
    }
  }

  /** @param {number} id */
  find(id) {
    return this.conversations.find((c) => c.id === id) || null;
  }

  /**
   * A conversation changed (or appeared): update it in place and keep the newest first.
   * @param {ConversationSummary} conversation
   */
  upsert(conversation) {
    if (this.deleted.has(conversation.id)) return;
    const existing = this.find(conversation.id);
    const clean = Object.fromEntries(Object.entries(conversation).filter(([, v]) => v !== undefined && v !== null));
    if (existing) Object.assign(existing, clean);
    else if (!this.query) this.conversations.unshift({ title: "", updated_at: "", ...clean, id: conversation.id });
    else return;
    this.conversations.sort((a, b) => String(b.updated_at || "").localeCompare(String(a.updated_at || "")));
    this.render();
  }

  /**
   * A conversation was deleted (maybe in another tab): drop it, and never let a late update bring it back.
   * @param {number} id
   */
  remove(id) {
    this.deleted.add(id);
    if (!this.find(id)) return;
    this.conversations = this.conversations.filter((c) => c.id !== id);
    if (this.focusId === id) this.focusId = null;
    this.render();
  }

  render() {
    const { list, empty } = this.options;
    const focused = this.focusedControl();
    this.rendering = true;
    const items = this.conversations.map((conversation) => this.buildItem(conversation));
    list.replaceChildren(...items);
    this.rendering = false;
    empty.hidden = items.length > 0;
    empty.textContent = this.query ? t("no_results") : t("no_conversations");
    this.setFocusItem(this.focusId);
    const input = /** @type {HTMLInputElement | null} */ (list.querySelector(".rename-input"));
    if (input) {
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    } else if (focused) {
      // A redraw (a new title, a reordering) keeps the focus where it was.
      const control = this.control(focused.id, focused.selector);
      if (control) control.focus();
    }
  }

  /**
   * Which control of the list has the focus, to find it again after a redraw.
   * @returns {{id: number, selector: string} | null}
   */
  focusedControl() {
    const active = document.activeElement;
    if (!(active instanceof HTMLElement) || !this.options.list.contains(active)) return null;
    const item = active.closest(".conv-item");
    if (!item) return null;
    const selector = active.classList.contains("rename") ? ".rename" : active.classList.contains("delete") ? ".delete" : ".conv-link";
    return { id: Number(item.getAttribute("data-conversation-id")), selector };
  }

  /**
   * @param {number | null} id
   * @param {string} selector
   * @returns {HTMLElement | null}
   */
  control(id, selector) {
    return this.options.list.querySelector(`.conv-item[data-conversation-id="${Number(id)}"] ${selector}`);
  }

  /**
   * @param {ConversationSummary} conversation
   * @returns {HTMLLIElement}
   */
  buildItem(conversation) {
    const title = conversation.title || t("new_chat");
    const active = conversation.id === this.options.activeId();
    const item = h("li", {
      class: "conv-item" + (active ? " is-active" : ""),
      "data-testid": "conversation-item",
      "data-conversation-id": conversation.id,
    });
    if (this.renaming && this.renaming.id === conversation.id) {
      const input = h("input", {
        type: "text",
        class: "rename-input",
        "data-testid": "rename-input",
        "aria-label": t("rename_label"),
        maxlength: 200,
      });
      input.value = this.renaming.value;
      item.append(input);
      return item;
    }
    item.append(
      h(
        "a",
        {
          class: "conv-link",
          href: urlFor(this.options.urls, "page", conversation.id),
          "aria-current": active ? "page" : null,
          "aria-keyshortcuts": "F2 Delete",
          title,
        },
        h("span", { class: "conv-title" }, title),
        h("time", { class: "conv-time", datetime: conversation.updated_at || "" }, relativeTime(conversation.updated_at || "")),
      ),
      h(
        "div",
        { class: "conv-actions" },
        h(
          "button",
          { type: "button", class: "icon-button rename", "data-testid": "rename-conversation", "aria-label": t("rename") + ": " + title, title: t("rename") },
          icon("pencil"),
        ),
        h(
          "button",
          { type: "button", class: "icon-button delete", "data-testid": "delete-conversation", "aria-label": t("delete") + ": " + title, title: t("delete") },
          icon("trash"),
        ),
      ),
    );
    return item;
  }

  /**
   * Roving tabindex: only one conversation (the focused one, else the open one, else the first) is in the tab
   * order, with its buttons.
   * @param {number | null} id
   */
  setFocusItem(id) {
    const items = Array.from(this.options.list.querySelectorAll(".conv-item"));
    const ids = items.map((item) => Number(item.getAttribute("data-conversation-id")));
    const activeId = this.options.activeId();
    let chosen = id !== null && ids.includes(id) ? id : activeId !== null && ids.includes(activeId) ? activeId : ids[0];
    if (chosen === undefined) chosen = null;
    this.focusId = chosen;
    items.forEach((item, index) => {
      const tabindex = ids[index] === chosen ? "0" : "-1";
      item.querySelectorAll(".conv-link, .conv-actions button").forEach((control) => control.setAttribute("tabindex", tabindex));
    });
  }

  /** @param {number} id */
  focusItem(id) {
    this.setFocusItem(id);
    const link = this.control(id, ".conv-link");
    if (link) {
      link.focus();
      link.scrollIntoView({ block: "nearest" });
    }
  }

  highlightActive() {
    const activeId = this.options.activeId();
    for (const item of Array.from(this.options.list.querySelectorAll(".conv-item"))) {
      const active = Number(item.getAttribute("data-conversation-id")) === activeId;
      item.classList.toggle("is-active", active);
      const link = item.querySelector(".conv-link");
      if (link) {
        if (active) link.setAttribute("aria-current", "page");
        else link.removeAttribute("aria-current");
      }
    }
    if (!this.options.list.contains(document.activeElement)) this.setFocusItem(null);
  }

  refreshTimes() {
    for (const time of Array.from(this.options.list.querySelectorAll("time.conv-time"))) {
      time.textContent = relativeTime(time.getAttribute("datetime") || "");
    }
  }

  /** @param {MouseEvent} event */
  onClick(event) {
    const target = /** @type {HTMLElement} */ (event.target);
    const item = target.closest(".conv-item");
    if (!item) return;
    const id = Number(item.getAttribute("data-conversation-id"));
    if (target.closest(".rename")) {
      event.preventDefault();
      this.startRename(id);
    } else if (target.closest(".delete")) {
      event.preventDefault();
      this.delete(id);
    } else if (target.closest(".conv-link")) {
      // Let the browser handle new-tab clicks.
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      if (id !== this.options.activeId()) this.options.onOpen(id);
      else this.options.onClose();
    }
  }

  /** @param {KeyboardEvent} event */
  onKeydown(event) {
    const target = /** @type {HTMLElement} */ (event.target);
    if (target.classList.contains("rename-input")) {
      if (event.key === "Escape") {
        event.preventDefault();
        this.cancelRename();
      } else if (event.key === "Enter" && !isImeEnter(event)) {
        event.preventDefault();
        this.commitRename();
      }
      return;
    }
    const item = target.closest(".conv-item");
    if (!item || event.altKey || event.ctrlKey || event.metaKey) return;
    const id = Number(item.getAttribute("data-conversation-id"));
    const index = this.conversations.findIndex((c) => c.id === id);
    const last = this.conversations.length - 1;
    /** @type {number | null} */
    let next = null;
    if (event.key === "ArrowDown") next = Math.min(last, index + 1);
    else if (event.key === "ArrowUp") next = Math.max(0, index - 1);
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = last;
    else if (event.key === "F2") {
      event.preventDefault();
      this.startRename(id);
      return;
    } else if (event.key === "Delete") {
      event.preventDefault();
      this.delete(id);
      return;
    }
    if (next === null || next < 0) return;
    event.preventDefault();
    this.focusItem(this.conversations[next].id);
  }

  /** @param {number} id */
  startRename(id) {
    const conversation = this.find(id);
    if (!conversation) return;
    this.renaming = { id, value: conversation.title || "" };
    this.render();
    const input = /** @type {HTMLInputElement | null} */ (this.options.list.querySelector(".rename-input"));
    if (input) input.select();
  }

  cancelRename() {
    const id = this.renaming && this.renaming.id;
    this.renaming = null;
    this.render();
    const button = this.control(id, ".rename");
    if (button) button.focus();
  }

  async commitRename() {
    if (!this.renaming) return;
    const { id, value } = this.renaming;
    this.renaming = null;
    const conversation = this.find(id);
    const title = value.trim();
    if (!conversation || !title || title === conversation.title) {
      this.render();
      return;
    }
    const previous = conversation.title || "";
    conversation.title = title; // optimistic; reverted on failure
    this.render();
    this.options.onTitle(id, title);
    try {
      const data = await api("POST", urlFor(this.options.urls, "rename", id), { title });
      if (data.conversation) this.upsert(data.conversation);
    } catch (err) {
      conversation.title = previous;
      this.render();
      this.options.onTitle(id, previous);
      this.options.onError(err.message, err.code);
    }
  }

  /** @param {number} id */
  async delete(id) {
    const conversation = this.find(id);
    if (!conversation) return;
    if (!window.confirm(t("confirm_delete", { title: conversation.title || t("new_chat") }))) return;
    const index = this.conversations.indexOf(conversation);
    try {
      await api("POST", urlFor(this.options.urls, "delete", id), {});
    } catch (err) {
      this.options.onError(err.message, err.code);
      return;
    }
    this.deleted.add(id);
    this.conversations = this.conversations.filter((c) => c.id !== id);
    const neighbour = this.conversations[Math.min(index, this.conversations.length - 1)];
    this.focusId = neighbour ? neighbour.id : null;
    this.render();
    if (neighbour && (!document.activeElement || document.activeElement === document.body)) this.focusItem(neighbour.id);
    this.options.onDeleted(id);
  }
}
