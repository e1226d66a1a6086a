// @ts-check
// The sidebar: the person's conversations grouped by day (grouping.js) and their folders, search with snippets,
// and each conversation's and folder's ⋯ menu (rename, pin, move to a folder, delete; a folder's rename, move up or
// down, delete). A conversation can also be dragged onto a folder (or out of one, onto the date groups). Changes
// made in another tab arrive as conversation.updated / folders.updated and are applied here (main.js).
//
// Keyboard: the list is one tab stop (roving tabindex) across all groups and folders. Up/Down move between the
// rows (conversations and folder headers), Home/End to the first/last; Enter opens a conversation (it is a link)
// or folds a folder, Right/Left unfold/fold it; F2 renames, Delete deletes, Shift+F10 (or the menu key) opens the
// row's menu. Tab goes on to the focused row's ⋯ button, then out of the list.

import { api, urlFor } from "./api.js";
import { debounce, h, icon, isImeEnter, relativeTime } from "./dom.js";
import { groupSidebar, groupingSignature, sortConversations } from "./grouping.js";
import { highlightSegments } from "./highlight.js";
import { pageLanguage, t } from "./i18n.js";
import { PopupMenu } from "./menu.js";

const SEARCH_DEBOUNCE_MS = 250;
const COLLAPSED_KEY = "officeai-collapsed-folders";
const DRAG_TYPE = "application/x-officeai-conversation";

/** @typedef {import("./grouping.js").Summary} ConversationSummary */
/** @typedef {import("./grouping.js").FolderSummary} FolderSummary */
/** @typedef {import("./menu.js").MenuItem} MenuItem */

/**
 * @typedef {object} SidebarOptions
 * @property {HTMLElement} list
 * @property {HTMLElement} empty  the "No chats yet" line
 * @property {HTMLInputElement} search
 * @property {HTMLButtonElement | null} newFolder
 * @property {Record<string, string>} urls
 * @property {() => number | null} activeId  the open conversation
 * @property {(id: number) => void} onOpen  a conversation was chosen (not the open one)
 * @property {() => void} onClose  the open one was chosen again (closes the sidebar on small screens)
 * @property {(id: number) => void} onDeleted
 * @property {(id: number, title: string) => void} onTitle  the title of a conversation changed here
 * @property {(message: string, code?: string) => void} onError
 */

/**
 * @typedef {{kind: "conversation" | "folder", id: number, value: string}} Renaming
 */

/** @returns {Set<number>} */
function loadCollapsed() {
  try {
    const saved = JSON.parse(window.localStorage.getItem(COLLAPSED_KEY) || "[]");
    return new Set(Array.isArray(saved) ? saved.filter((id) => Number.isInteger(id)) : []);
  } catch (err) {
    return new Set();
  }
}

/**
 * @param {string} text
 * @param {string} query
 * @returns {(string | HTMLElement)[]}  text nodes and <mark>s: never HTML
 */
function marked(text, query) {
  return highlightSegments(text, query).map((segment) => (segment.mark ? h("mark", {}, segment.text) : segment.text));
}

export class Sidebar {
  /** @param {SidebarOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {ConversationSummary[]} */
    this.conversations = [];
    /** @type {FolderSummary[]} */
    this.folders = [];
    this.query = "";
    /** the query the shown results are for (the search box may already say more) */
    this.shownQuery = "";
    this.listToken = 0;
    /** @type {Renaming | null} */
    this.renaming = null;
    this.rendering = false;
    /** @type {string | null} the row ("c:12", "f:3") that holds the list's tab stop */
    this.focusKey = null;
    /** @type {Set<number>} conversations deleted while the page is open */
    this.deleted = new Set();
    this.collapsed = loadCollapsed();
    this.menu = new PopupMenu();
    /** @type {string | null} the row whose menu is open */
    this.menuKey = null;
    /** @type {number | null} the conversation being dragged */
    this.dragId = null;
    this.signature = "";
  }

  bind() {
    const { list, search, newFolder } = this.options;
    list.addEventListener("click", (event) => this.onClick(event));
    list.addEventListener("keydown", (event) => this.onKeydown(event));
    list.addEventListener("focusin", (event) => {
      const row = /** @type {HTMLElement} */ (event.target).closest("[data-row-key]");
      if (row && !this.rendering) this.setFocusKey(row.getAttribute("data-row-key"));
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
    list.addEventListener("dragstart", (event) => this.onDragStart(event));
    list.addEventListener("dragover", (event) => this.onDragOver(event));
    list.addEventListener("dragleave", (event) => {
      const zone = /** @type {HTMLElement} */ (event.target).closest("[data-drop]");
      if (zone && !zone.contains(/** @type {Node | null} */ (event.relatedTarget))) zone.classList.remove("is-drop-target");
    });
    list.addEventListener("drop", (event) => this.onDrop(event));
    list.addEventListener("dragend", () => this.endDrag());
    if (newFolder) newFolder.addEventListener("click", () => this.createFolder());

    const searchNow = debounce(() => {
      this.query = search.value.trim();
      this.load();
    }, SEARCH_DEBOUNCE_MS);
    search.addEventListener("input", searchNow);
    search.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && search.value) {
        event.preventDefault();
        event.stopPropagation();
        search.value = "";
        searchNow();
      } else if (event.key === "ArrowDown") {
        const first = this.rows()[0];
        if (!first) return;
        event.preventDefault(); // from the search box straight into the results
        this.focusRow(first.getAttribute("data-row-key"));
      }
    });
  }

  async load() {
    const token = ++this.listToken;
    const query = this.query;
    const url = new URL(this.options.urls.conversations || "/api/conversations/", window.location.href);
    if (query) url.searchParams.set("q", query);
    try {
      const data = await api("GET", url.pathname + url.search);
      if (token !== this.listToken) return;
      this.conversations = Array.isArray(data.conversations) ? data.conversations : [];
      if (Array.isArray(data.folders)) this.folders = this.sortFolders(data.folders);
      this.shownQuery = query;
      this.render();
    } catch (err) {
      if (token === this.listToken) this.options.onError(err.status ? err.message : t("error_list"), err.code);
    }
  }

  /** @param {number} id */
  find(id) {
    return this.conversations.find((c) => c.id === id) || null;
  }

  /** @param {number} id */
  findFolder(id) {
    return this.folders.find((f) => f.id === id) || null;
  }

  /**
   * The folder a conversation is in, if that folder still exists.
   * @param {ConversationSummary} conversation
   * @returns {number | null}
   */
  folderOf(conversation) {
    const id = conversation.folder_id;
    return id !== null && id !== undefined && this.findFolder(id) ? id : null;
  }

  /**
   * @param {FolderSummary[]} folders
   * @returns {FolderSummary[]}
   */
  sortFolders(folders) {
    return folders
      .filter((f) => f && Number.isInteger(f.id))
      .slice()
      .sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
  }

  /**
   * A conversation changed (or appeared): update it in place (a `folder_id` of null too) and keep the order.
   * @param {ConversationSummary} conversation
   */
  upsert(conversation) {
    if (this.deleted.has(conversation.id)) return;
    const existing = this.find(conversation.id);
    const clean = Object.fromEntries(
      Object.entries(conversation).filter(([key, v]) => v !== undefined && (v !== null || key === "folder_id")),
    );
    if (existing) Object.assign(existing, clean);
    else if (!this.shownQuery) this.conversations.unshift({ title: "", updated_at: "", ...clean, id: conversation.id });
    else return;
    this.conversations = sortConversations(this.conversations);
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
    if (this.focusKey === "c:" + id) this.focusKey = null;
    this.render();
  }

  /**
   * folders.updated (or a folder answer here): the person's folders, in order.
   * @param {FolderSummary[]} folders
   */
  setFolders(folders) {
    if (!Array.isArray(folders)) return;
    this.folders = this.sortFolders(folders);
    this.render();
  }

  // ------------------------------------------------------------------------------------------------------------
  // Drawing

  render() {
    const { list, empty } = this.options;
    const renaming = this.renaming;
    if (renaming && !(renaming.kind === "folder" ? this.findFolder(renaming.id) : this.find(renaming.id))) {
      this.renaming = null; // deleted meanwhile (another tab)
    }
    const focused = this.focusedControl();
    this.rendering = true;
    const nodes = this.shownQuery ? this.buildResults() : this.buildGroups();
    list.replaceChildren(...nodes);
    this.rendering = false;
    empty.hidden = this.conversations.length > 0;
    empty.textContent = this.shownQuery ? t("no_results") : t("no_conversations");
    this.setFocusKey(this.focusKey);
    const input = /** @type {HTMLInputElement | null} */ (list.querySelector(".rename-input"));
    if (input) {
      if (document.activeElement !== input) {
        input.focus();
        input.setSelectionRange(input.value.length, input.value.length);
      }
    } else if (focused && !this.menu.isOpen()) {
      // A redraw (a new title, a reordering, another tab's change) keeps the focus where it was.
      const control = this.control(focused.key, focused.selector) || this.control(focused.key, ".row-primary");
      if (control) control.focus();
    }
    if (this.menu.isOpen()) this.menu.reanchor(this.menuKey ? this.control(this.menuKey, ".row-menu") : null);
  }

  /** @returns {HTMLElement[]} */
  buildGroups() {
    const now = new Date();
    const groups = groupSidebar(this.conversations, this.folders, now);
    this.signature = groupingSignature(this.conversations, now);
    /** @type {HTMLElement[]} */
    const sections = [];
    if (groups.pinned.length) sections.push(this.section("pinned", t("group_pinned"), groups.pinned));
    if (groups.folders.length) {
      sections.push(
        h(
          "section",
          { class: "conv-group conv-folders", "data-group": "folders", "aria-labelledby": "conv-group-folders" },
          h("h2", { class: "conv-group-title", id: "conv-group-folders" }, t("folders")),
          h("ul", { class: "folder-list", "aria-labelledby": "conv-group-folders" }, groups.folders.map((entry, index) => this.buildFolder(entry.folder, entry.conversations, index, groups.folders.length))),
        ),
      );
    }
    for (const group of groups.dates) {
      let label;
      if (group.kind === "today") label = t("group_today");
      else if (group.kind === "yesterday") label = t("group_yesterday");
      else if (group.kind === "week") label = t("group_week");
      else if (group.kind === "month") label = t("group_month");
      else label = this.monthLabel(group.year || 0, group.month || 0, now);
      sections.push(this.section(group.key, label, group.conversations));
    }
    return sections;
  }

  /**
   * "March" this year, "March 2024" before (in the page's language).
   * @param {number} year
   * @param {number} month
   * @param {Date} now
   */
  monthLabel(year, month, now) {
    const date = new Date(year, month, 1);
    const options = /** @type {Intl.DateTimeFormatOptions} */ (year === now.getFullYear() ? { month: "long" } : { year: "numeric", month: "long" });
    try {
      return date.toLocaleDateString(pageLanguage(), options);
    } catch (err) {
      return `${year}-${String(month + 1).padStart(2, "0")}`;
    }
  }

  /**
   * A date group (or Pinned): dropping a conversation here takes it out of its folder.
   * @param {string} key
   * @param {string} label
   * @param {ConversationSummary[]} conversations
   * @returns {HTMLElement}
   */
  section(key, label, conversations) {
    const id = "conv-group-" + key;
    return h(
      "section",
      { class: "conv-group", "data-group": key, "data-drop": "none", "data-testid": "conversation-group", "aria-labelledby": id },
      h("h2", { class: "conv-group-title", id }, label),
      h("ul", { class: "conv-group-list", "aria-labelledby": id }, conversations.map((c) => this.buildItem(c, false))),
    );
  }

  /**
   * @param {FolderSummary} folder
   * @param {ConversationSummary[]} conversations
   * @param {number} index
   * @param {number} count
   * @returns {HTMLElement}
   */
  buildFolder(folder, conversations, index, count) {
    const open = !this.collapsed.has(folder.id);
    const key = "f:" + folder.id;
    const listId = "folder-items-" + folder.id;
    const item = h("li", {
      class: "folder" + (open ? " is-open" : ""),
      "data-testid": "folder",
      "data-folder-id": folder.id,
      "data-drop": "folder",
      "data-position": index,
      "data-last": index === count - 1 ? "true" : null,
    });
    const head = h("div", { class: "folder-head", "data-row-key": key });
    if (this.renaming && this.renaming.kind === "folder" && this.renaming.id === folder.id) {
      head.append(this.renameInput(t("folder_name_label"), 100));
    } else {
      head.append(
        h(
          "button",
          {
            type: "button",
            class: "folder-toggle row-primary",
            "data-testid": "folder-toggle",
            "aria-expanded": String(open),
            "aria-controls": open ? listId : null,
            "aria-keyshortcuts": "F2 Delete",
          },
          h("span", { class: "folder-chevron" }, icon("chevron")),
          icon("folder"),
          h("span", { class: "folder-name", "data-testid": "folder-name" }, folder.name),
          h("span", { class: "folder-count", "aria-hidden": "true" }, conversations.length ? String(conversations.length) : ""),
        ),
        h(
          "button",
          {
            type: "button",
            class: "icon-button row-menu",
            "data-testid": "folder-menu",
            "aria-label": t("folder_options", { name: folder.name }),
            title: t("folder_options", { name: folder.name }),
            "aria-haspopup": "menu",
            "aria-expanded": "false",
          },
          icon("more"),
        ),
      );
    }
    item.append(head);
    if (open) {
      const children = conversations.map((c) => this.buildItem(c, true));
      if (!children.length) children.push(h("li", { class: "folder-empty muted" }, t("folder_empty")));
      item.append(h("ul", { class: "conv-group-list folder-items", id: listId }, children));
    }
    return item;
  }

  /** @returns {HTMLElement[]} */
  buildResults() {
    return [h("ul", { class: "conv-group-list search-results", "data-testid": "search-results" }, this.conversations.map((c) => this.buildItem(c, false)))];
  }

  /**
   * @param {string} label
   * @param {number} maxlength
   * @returns {HTMLInputElement}
   */
  renameInput(label, maxlength) {
    const input = h("input", { type: "text", class: "rename-input", "data-testid": "rename-input", "aria-label": label, maxlength });
    input.value = this.renaming ? this.renaming.value : "";
    return input;
  }

  /**
   * @param {ConversationSummary} conversation
   * @param {boolean} inFolder
   * @returns {HTMLLIElement}
   */
  buildItem(conversation, inFolder) {
    const title = conversation.title || t("new_chat");
    const active = conversation.id === this.options.activeId();
    const key = "c:" + conversation.id;
    const item = h("li", {
      class: "conv-item" + (active ? " is-active" : ""),
      "data-testid": "conversation-item",
      "data-conversation-id": conversation.id,
      "data-row-key": key,
      "data-pinned": conversation.pinned ? "true" : null,
      draggable: this.shownQuery ? null : "true",
    });
    if (this.renaming && this.renaming.kind === "conversation" && this.renaming.id === conversation.id) {
      item.append(this.renameInput(t("rename_label"), 200));
      return item;
    }
    const query = this.shownQuery;
    /** @type {(string | HTMLElement)[]} */
    const details = [];
    if (query) {
      if (conversation.match === "title" || conversation.match === "message") {
        details.push(
          h(
            "span",
            { class: "conv-hint", "data-testid": "match-hint", "data-match": conversation.match },
            conversation.match === "title" ? t("match_title") : t("match_message"),
          ),
        );
      }
      if (conversation.snippet) details.push(h("span", { class: "conv-snippet", "data-testid": "snippet" }, marked(conversation.snippet, query)));
    } else {
      details.push(h("time", { class: "conv-time", datetime: conversation.updated_at || "" }, relativeTime(conversation.updated_at || "")));
    }
    item.append(
      h(
        "a",
        {
          class: "conv-link row-primary",
          href: urlFor(this.options.urls, "page", conversation.id),
          "aria-current": active ? "page" : null,
          "aria-keyshortcuts": "F2 Delete",
          title,
          draggable: "false",
        },
        h(
          "span",
          { class: "conv-title-line" },
          conversation.pinned && (inFolder || query) ? h("span", { class: "conv-pin", title: t("group_pinned") }, icon("pin")) : null,
          h("span", { class: "conv-title" }, query && conversation.match === "title" ? marked(title, query) : title),
        ),
        details.length ? h("span", { class: "conv-details" }, details) : null,
      ),
      h(
        "div",
        { class: "conv-actions" },
        h(
          "button",
          {
            type: "button",
            class: "icon-button row-menu",
            "data-testid": "conversation-menu",
            "aria-label": t("conversation_options", { title }),
            title: t("conversation_options", { title }),
            "aria-haspopup": "menu",
            "aria-expanded": "false",
          },
          icon("more"),
        ),
      ),
    );
    return item;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Focus (roving tabindex over the rows)

  /** @returns {HTMLElement[]} the rows in order (conversations and folder headers) */
  rows() {
    return Array.from(this.options.list.querySelectorAll("[data-row-key]"));
  }

  /**
   * Which control of the list has the focus, to find it again after a redraw.
   * @returns {{key: string, selector: string} | null}
   */
  focusedControl() {
    const active = document.activeElement;
    if (!(active instanceof HTMLElement) || !this.options.list.contains(active)) return null;
    const row = active.closest("[data-row-key]");
    if (!row) return null;
    const selector = active.classList.contains("row-menu") ? ".row-menu" : ".row-primary";
    return { key: String(row.getAttribute("data-row-key")), selector };
  }

  /**
   * @param {string | null} key
   * @param {string} selector
   * @returns {HTMLElement | null}
   */
  control(key, selector) {
    if (!key) return null;
    return this.options.list.querySelector(`[data-row-key="${CSS.escape(key)}"] ${selector}`);
  }

  /**
   * Roving tabindex: only one row (the focused one, else the open conversation, else the first) is in the tab
   * order, with its ⋯ button.
   * @param {string | null} key
   */
  setFocusKey(key) {
    const rows = this.rows();
    const keys = rows.map((row) => row.getAttribute("data-row-key"));
    const activeId = this.options.activeId();
    const activeKey = activeId !== null ? "c:" + activeId : null;
    /** @type {string | null | undefined} */
    let chosen = key !== null && keys.includes(key) ? key : activeKey !== null && keys.includes(activeKey) ? activeKey : keys[0];
    if (chosen === undefined) chosen = null;
    this.focusKey = chosen;
    rows.forEach((row, index) => {
      const tabindex = keys[index] === chosen ? "0" : "-1";
      row.querySelectorAll(".row-primary, .row-menu").forEach((control) => {
        if (control.closest("[data-row-key]") === row) control.setAttribute("tabindex", tabindex);
      });
    });
  }

  /** @param {string | null} key */
  focusRow(key) {
    this.setFocusKey(key);
    const control = this.control(key, ".row-primary") || this.control(key, ".rename-input");
    if (control) {
      control.focus();
      control.scrollIntoView({ block: "nearest" });
    }
  }

  /** @param {number} id */
  focusItem(id) {
    this.focusRow("c:" + id);
  }

  /**
   * After a change made from a menu (whose item is gone): the focus goes to the changed row, unless the person
   * has already moved on elsewhere.
   * @param {string} key
   */
  refocus(key) {
    const active = document.activeElement;
    if (!active || active === document.body || this.options.list.contains(active)) this.focusRow(key);
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
    if (!this.options.list.contains(document.activeElement)) this.setFocusKey(null);
  }

  // Relative times move on; when a day passes, conversations move to another group.
  refreshTimes() {
    if (!this.shownQuery && !this.renaming && !this.menu.isOpen() && !this.dragId) {
      if (groupingSignature(this.conversations, new Date()) !== this.signature) {
        this.render();
        return;
      }
    }
    for (const time of Array.from(this.options.list.querySelectorAll("time.conv-time"))) {
      time.textContent = relativeTime(time.getAttribute("datetime") || "");
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Events

  /** @param {MouseEvent} event */
  onClick(event) {
    const target = /** @type {HTMLElement} */ (event.target);
    const row = target.closest("[data-row-key]");
    if (!row) return;
    const key = String(row.getAttribute("data-row-key"));
    const id = Number(key.slice(2));
    const menuButton = target.closest(".row-menu");
    if (menuButton) {
      event.preventDefault();
      this.toggleMenu(key, /** @type {HTMLElement} */ (menuButton));
    } else if (target.closest(".folder-toggle")) {
      event.preventDefault();
      this.toggleFolder(id);
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
        event.stopPropagation();
        this.cancelRename();
      } else if (event.key === "Enter" && !isImeEnter(event)) {
        event.preventDefault();
        this.commitRename();
      }
      return;
    }
    const row = target.closest("[data-row-key]");
    if (!row || event.altKey || event.ctrlKey || event.metaKey) return;
    const key = String(row.getAttribute("data-row-key"));
    const id = Number(key.slice(2));
    const isFolder = key.startsWith("f:");
    if (event.key === "ContextMenu" || (event.key === "F10" && event.shiftKey)) {
      event.preventDefault();
      const button = this.control(key, ".row-menu");
      if (button) this.toggleMenu(key, button);
      return;
    }
    if (event.key === "F2") {
      event.preventDefault();
      if (isFolder) this.startFolderRename(id);
      else this.startRename(id);
      return;
    }
    if (event.key === "Delete") {
      event.preventDefault();
      if (isFolder) this.deleteFolder(id);
      else this.delete(id);
      return;
    }
    if (!target.classList.contains("row-primary")) return; // arrows move from a row's title, not from its ⋯ button
    if (isFolder && (event.key === "ArrowRight" || event.key === "ArrowLeft")) {
      event.preventDefault();
      const open = !this.collapsed.has(id);
      if (open !== (event.key === "ArrowRight")) this.toggleFolder(id);
      return;
    }
    if (!isFolder && event.key === "ArrowLeft") {
      const folder = row.closest(".folder");
      if (folder) {
        event.preventDefault();
        this.focusRow("f:" + folder.getAttribute("data-folder-id"));
      }
      return;
    }
    const keys = this.rows().map((r) => String(r.getAttribute("data-row-key")));
    const index = keys.indexOf(key);
    const last = keys.length - 1;
    /** @type {number | null} */
    let next = null;
    if (event.key === "ArrowDown") next = Math.min(last, index + 1);
    else if (event.key === "ArrowUp") next = Math.max(0, index - 1);
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = last;
    if (next === null || next < 0) return;
    event.preventDefault();
    this.focusRow(keys[next]);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Menus

  /**
   * @param {string} key
   * @param {HTMLElement} button
   */
  toggleMenu(key, button) {
    if (this.menu.isOpen() && this.menuKey === key) {
      this.menu.close(true);
      return;
    }
    const id = Number(key.slice(2));
    this.menuKey = key;
    this.setFocusKey(key);
    if (key.startsWith("f:")) {
      const folder = this.findFolder(id);
      if (folder) this.menu.open(button, this.folderMenu(folder), t("folder_options", { name: folder.name }));
    } else {
      const conversation = this.find(id);
      if (conversation) this.menu.open(button, this.conversationMenu(conversation), t("conversation_options", { title: conversation.title || t("new_chat") }));
    }
  }

  /**
   * @param {ConversationSummary} conversation
   * @returns {MenuItem[]}
   */
  conversationMenu(conversation) {
    const id = conversation.id;
    return [
      { label: t("rename"), testid: "menu-rename", action: () => this.startRename(id) },
      {
        label: conversation.pinned ? t("unpin") : t("pin"),
        testid: "menu-pin",
        action: () => this.setPinned(id, !conversation.pinned),
      },
      { label: t("move_to_folder"), testid: "menu-move", submenu: () => this.folderChoices(id) },
      { label: t("delete"), testid: "menu-delete", danger: true, action: () => this.delete(id) },
    ];
  }

  /**
   * @param {number} id  the conversation
   * @returns {MenuItem[]}
   */
  folderChoices(id) {
    const conversation = this.find(id);
    const current = conversation ? this.folderOf(conversation) : null;
    /** @type {MenuItem[]} */
    const items = [
      { label: t("no_folder"), testid: "menu-folder-none", checked: current === null, action: () => this.moveToFolder(id, null) },
    ];
    for (const folder of this.folders) {
      items.push({
        label: folder.name,
        testid: "menu-folder",
        checked: current === folder.id,
        data: { "folder-id": folder.id },
        action: () => this.moveToFolder(id, folder.id),
      });
    }
    if (!this.folders.length) items.push({ label: t("no_folders"), disabled: true });
    return items;
  }

  /**
   * @param {FolderSummary} folder
   * @returns {MenuItem[]}
   */
  folderMenu(folder) {
    const index = this.folders.findIndex((f) => f.id === folder.id);
    const id = folder.id;
    return [
      { label: t("rename"), testid: "menu-rename", action: () => this.startFolderRename(id) },
      { label: t("move_up"), testid: "menu-move-up", disabled: index <= 0, action: () => this.moveFolder(id, index - 1) },
      {
        label: t("move_down"),
        testid: "menu-move-down",
        disabled: index >= this.folders.length - 1,
        action: () => this.moveFolder(id, index + 1),
      },
      { label: t("delete"), testid: "menu-delete", danger: true, action: () => this.deleteFolder(id) },
    ];
  }

  // ------------------------------------------------------------------------------------------------------------
  // Drag a conversation onto a folder (or back onto the date groups: out of its folder)

  /** @param {DragEvent} event */
  onDragStart(event) {
    const item = /** @type {HTMLElement} */ (event.target).closest(".conv-item");
    if (!item || !event.dataTransfer || this.shownQuery) return;
    const id = Number(item.getAttribute("data-conversation-id"));
    this.dragId = id;
    this.menu.close(false);
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData(DRAG_TYPE, String(id));
    event.dataTransfer.setData("text/uri-list", new URL(urlFor(this.options.urls, "page", id), window.location.href).href);
    item.classList.add("is-dragging");
  }

  /**
   * Where a drop at this event would put the dragged conversation: a folder id, null (no folder), or undefined
   * (not a place to drop it, or where it already is).
   * @param {DragEvent} event
   * @returns {{zone: HTMLElement, folderId: number | null} | null}
   */
  dropTarget(event) {
    if (this.dragId === null) return null;
    const zone = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (event.target).closest("[data-drop]"));
    const conversation = this.find(this.dragId);
    if (!zone || !conversation) return null;
    const folderId = zone.getAttribute("data-drop") === "folder" ? Number(zone.getAttribute("data-folder-id")) : null;
    if (folderId === this.folderOf(conversation)) return null;
    return { zone, folderId };
  }

  /** @param {DragEvent} event */
  onDragOver(event) {
    const target = this.dropTarget(event);
    for (const zone of Array.from(this.options.list.querySelectorAll(".is-drop-target"))) {
      if (!target || zone !== target.zone) zone.classList.remove("is-drop-target");
    }
    if (!target) return;
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "move";
    target.zone.classList.add("is-drop-target");
  }

  /** @param {DragEvent} event */
  onDrop(event) {
    const target = this.dropTarget(event);
    const id = this.dragId;
    this.endDrag();
    if (!target || id === null) return;
    event.preventDefault();
    this.moveToFolder(id, target.folderId);
  }

  endDrag() {
    this.dragId = null;
    for (const element of Array.from(this.options.list.querySelectorAll(".is-drop-target, .is-dragging"))) {
      element.classList.remove("is-drop-target", "is-dragging");
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Conversations: rename, pin, folder, delete

  /** @param {number} id */
  startRename(id) {
    const conversation = this.find(id);
    if (!conversation) return;
    this.renaming = { kind: "conversation", id, value: conversation.title || "" };
    this.render();
    const input = /** @type {HTMLInputElement | null} */ (this.options.list.querySelector(".rename-input"));
    if (input) input.select();
  }

  /** @param {number} id */
  startFolderRename(id) {
    const folder = this.findFolder(id);
    if (!folder) return;
    this.renaming = { kind: "folder", id, value: folder.name };
    this.render();
    const input = /** @type {HTMLInputElement | null} */ (this.options.list.querySelector(".rename-input"));
    if (input) input.select();
  }

  cancelRename() {
    const renaming = this.renaming;
    this.renaming = null;
    this.render();
    if (renaming) this.focusRow((renaming.kind === "folder" ? "f:" : "c:") + renaming.id);
  }

  async commitRename() {
    if (!this.renaming) return;
    const { kind, id, value } = this.renaming;
    this.renaming = null;
    if (kind === "folder") {
      await this.renameFolder(id, value.trim());
      return;
    }
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

  /**
   * @param {number} id
   * @param {boolean} pinned
   */
  async setPinned(id, pinned) {
    const conversation = this.find(id);
    if (!conversation) return;
    const previous = Boolean(conversation.pinned);
    conversation.pinned = pinned; // optimistic
    this.conversations = sortConversations(this.conversations);
    this.focusKey = "c:" + id;
    this.render();
    this.refocus("c:" + id);
    try {
      const data = await api("POST", urlFor(this.options.urls, "pin", id), { pinned });
      if (data.conversation) this.upsert(data.conversation);
    } catch (err) {
      conversation.pinned = previous;
      this.conversations = sortConversations(this.conversations);
      this.render();
      this.options.onError(err.message, err.code);
    }
  }

  /**
   * @param {number} id
   * @param {number | null} folderId
   */
  async moveToFolder(id, folderId) {
    const conversation = this.find(id);
    if (!conversation) return;
    const previous = conversation.folder_id === undefined ? null : conversation.folder_id;
    conversation.folder_id = folderId; // optimistic
    if (folderId !== null && this.collapsed.has(folderId)) {
      this.collapsed.delete(folderId); // show where it went
      this.saveCollapsed();
    }
    this.focusKey = "c:" + id;
    this.render();
    this.refocus("c:" + id);
    try {
      const data = await api("POST", urlFor(this.options.urls, "conversation_folder", id), { folder_id: folderId });
      if (data.conversation) this.upsert(data.conversation);
    } catch (err) {
      conversation.folder_id = previous;
      this.render();
      this.options.onError(err.message, err.code);
    }
  }

  /** @param {number} id */
  async delete(id) {
    const conversation = this.find(id);
    if (!conversation) return;
    if (!window.confirm(t("confirm_delete", { title: conversation.title || t("new_chat") }))) return;
    const keys = this.rows().map((r) => String(r.getAttribute("data-row-key")));
    const index = keys.indexOf("c:" + id);
    try {
      await api("POST", urlFor(this.options.urls, "delete", id), {});
    } catch (err) {
      this.options.onError(err.message, err.code);
      return;
    }
    this.deleted.add(id);
    this.conversations = this.conversations.filter((c) => c.id !== id);
    const remaining = keys.filter((key) => key !== "c:" + id);
    const neighbour = remaining[Math.min(Math.max(index, 0), remaining.length - 1)];
    this.focusKey = neighbour || null;
    this.render();
    if (neighbour && (!document.activeElement || document.activeElement === document.body)) this.focusRow(neighbour);
    this.options.onDeleted(id);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Folders: create, fold, rename, move, delete

  saveCollapsed() {
    try {
      window.localStorage.setItem(COLLAPSED_KEY, JSON.stringify(Array.from(this.collapsed)));
    } catch (err) {
      /* private mode: folding is not remembered */
    }
  }

  /** @param {number} id */
  toggleFolder(id) {
    if (this.collapsed.has(id)) this.collapsed.delete(id);
    else this.collapsed.add(id);
    this.saveCollapsed();
    this.focusKey = "f:" + id;
    this.render();
    this.focusRow("f:" + id);
  }

  // A new folder is made at once with a default name, then named in place (like a rename).
  async createFolder() {
    let data;
    try {
      data = await api("POST", this.options.urls.folders || "/api/folders/", { name: t("new_folder") });
    } catch (err) {
      this.options.onError(err.message, err.code);
      return;
    }
    const folder = data.folder;
    if (!folder || !Number.isInteger(folder.id)) return;
    if (this.shownQuery) {
      this.options.search.value = "";
      this.query = "";
      await this.load();
    }
    if (!this.findFolder(folder.id)) this.folders = this.sortFolders([...this.folders, folder]);
    this.startFolderRename(folder.id);
  }

  /**
   * @param {number} id
   * @param {string} name
   */
  async renameFolder(id, name) {
    const folder = this.findFolder(id);
    if (!folder || !name || name === folder.name) {
      this.render();
      this.refocus("f:" + id);
      return;
    }
    const previous = folder.name;
    folder.name = name; // optimistic
    this.focusKey = "f:" + id;
    this.render();
    this.refocus("f:" + id);
    try {
      const data = await api("POST", urlFor(this.options.urls, "folder_rename", id), { name });
      if (data.folder && this.findFolder(id)) Object.assign(/** @type {FolderSummary} */ (this.findFolder(id)), data.folder);
      this.render();
    } catch (err) {
      const current = this.findFolder(id);
      if (current) current.name = previous;
      this.render();
      this.options.onError(err.message, err.code);
    }
  }

  /**
   * @param {number} id
   * @param {number} position  0 is the top
   */
  async moveFolder(id, position) {
    const from = this.folders.findIndex((f) => f.id === id);
    if (from < 0 || position < 0 || position >= this.folders.length) return;
    const previous = this.folders.slice();
    const moved = this.folders.slice();
    const [folder] = moved.splice(from, 1);
    moved.splice(position, 0, folder);
    this.folders = moved.map((f, index) => ({ ...f, position: index })); // optimistic
    this.focusKey = "f:" + id;
    this.render();
    this.refocus("f:" + id);
    try {
      const data = await api("POST", urlFor(this.options.urls, "folder_move", id), { position });
      if (Array.isArray(data.folders)) this.setFolders(data.folders);
    } catch (err) {
      this.folders = previous;
      this.render();
      this.options.onError(err.message, err.code);
    }
  }

  /** @param {number} id */
  async deleteFolder(id) {
    const folder = this.findFolder(id);
    if (!folder) return;
    if (!window.confirm(t("confirm_delete_folder", { name: folder.name }))) return;
    try {
      await api("POST", urlFor(this.options.urls, "folder_delete", id), {});
    } catch (err) {
      this.options.onError(err.message, err.code);
      return;
    }
    this.folders = this.folders.filter((f) => f.id !== id);
    for (const conversation of this.conversations) {
      if (conversation.folder_id === id) conversation.folder_id = null; // its conversations stay, in no folder
    }
    this.collapsed.delete(id);
    this.saveCollapsed();
    if (this.focusKey === "f:" + id) this.focusKey = null;
    this.render();
    const first = this.rows()[0];
    if (first && (!document.activeElement || document.activeElement === document.body)) this.focusRow(first.getAttribute("data-row-key"));
  }
}
