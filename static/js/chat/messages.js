// @ts-check
// Message elements: a person's message, an answer (streaming or finished), their badges, notes and errors.
// HTML from the server (a finished answer, a notice, a person's escaped text) goes through the same sanitiser as
// the streaming render before it touches the page (markdown.js), so both paths keep the same allow-list.

import { h, icon } from "./dom.js";
import { renderFeedback } from "./feedback.js";
import { t } from "./i18n.js";
import { versionStep } from "./protocol.js";

export const ERROR_STATUSES = new Set(["error", "prompt_filtered"]);

/**
 * The badge text of a finished answer's status, or "" for none.
 * @param {string} status
 * @returns {string}
 */
export function statusLabel(status) {
  switch (status) {
    case "stopped":
      return t("status_stopped");
    case "error":
      return t("status_error");
    case "prompt_filtered":
      return t("status_prompt_filtered");
    case "completion_filtered":
      return t("status_completion_filtered");
    case "truncated":
      return t("status_truncated");
    case "length":
      return t("status_length");
    default:
      return "";
  }
}

/** @type {(html: string) => DocumentFragment} */
let toFragment = (html) => {
  const template = document.createElement("template"); // inert: nothing in it loads or runs
  template.innerHTML = html;
  return template.content;
};

/**
 * Use this sanitiser for all server HTML (markdown.js createSanitizer).
 * @param {(html: string) => DocumentFragment} sanitize
 */
export function useSanitizer(sanitize) {
  toFragment = sanitize;
}

/**
 * Replaces the children of `element` with sanitised HTML.
 * @param {Element} element
 * @param {string} html
 */
export function setSafeHtml(element, html) {
  element.replaceChildren(toFragment(html || ""));
}

/** @type {WeakMap<Element, string>} message element → raw text (for copy and edit) */
export const contentOf = new WeakMap();

/**
 * @param {Element} root
 * @param {string} selector
 * @returns {any}
 */
function q(root, selector) {
  return root.querySelector(selector);
}

/**
 * @param {{id: number, content?: string, html?: string, status?: string}} message
 * @returns {HTMLElement}
 */
export function buildUserMessage(message) {
  const body = h("div", { class: "msg-body", "data-testid": "message-body" });
  const element = h(
    "article",
    {
      class: "msg msg-user",
      "data-testid": "message",
      "data-role": "user",
      "data-message-id": message.id,
      "data-status": message.status || "ok",
      "aria-label": t("you"),
    },
    h("div", { class: "msg-bubble" }, body),
    h("div", { class: "msg-actions" }),
  );
  setUserContent(element, message);
  return element;
}

/**
 * @param {Element} element
 * @param {{content?: string, html?: string}} message
 */
export function setUserContent(element, message) {
  const body = q(element, ".msg-body");
  if (typeof message.html === "string") setSafeHtml(body, message.html);
  else body.textContent = message.content || "";
  contentOf.set(element, message.content || body.textContent);
}

/**
 * @param {{id: number, status?: string, modelLabel?: string, contextTrimmed?: number}} answer
 * @returns {HTMLElement}
 */
export function buildAssistantMessage({ id, status, modelLabel, contextTrimmed }) {
  const element = h(
    "article",
    {
      class: "msg msg-assistant",
      "data-testid": "message",
      "data-role": "assistant",
      "data-message-id": id,
      "data-status": status || "ok",
      "aria-label": t("assistant"),
    },
    h("div", { class: "msg-avatar", "aria-hidden": "true" }, "AI"),
    h(
      "div",
      { class: "msg-main" },
      h("div", { class: "msg-body md", "data-testid": "message-body" }),
      h(
        "div",
        { class: "msg-meta" },
        h("span", { class: "model-label", "data-testid": "model-label" }, modelLabel || ""),
        h("span", { class: "msg-badges" }),
        h("span", { class: "msg-actions" }),
      ),
    ),
  );
  setContextNote(element, contextTrimmed);
  return element;
}

/**
 * @param {Element} element
 * @param {string | undefined} label
 */
export function setModelLabel(element, label) {
  const target = q(element, "[data-testid='model-label']");
  if (target && label) target.textContent = label;
}

/**
 * @param {Element} element
 * @param {unknown} trimmed  how many earlier messages were left out
 */
export function setContextNote(element, trimmed) {
  const existing = q(element, ".context-note");
  if (!(Number(trimmed) > 0)) {
    if (existing) existing.remove();
    return;
  }
  if (existing) return;
  const note = h("p", { class: "context-note", "data-testid": "context-note" }, t("context_trimmed"));
  q(element, ".msg-main").prepend(note);
}

/**
 * The answer is streaming: the body is the streaming render's (markdown.js StreamingView).
 * @param {HTMLElement} element
 * @returns {HTMLElement} the body to render into
 */
export function markStreaming(element) {
  const body = q(element, ".msg-body");
  body.replaceChildren();
  body.classList.add("is-streaming");
  element.dataset.status = "streaming";
  element.setAttribute("aria-busy", "true"); // screen readers wait for the finished answer
  q(element, ".msg-badges").replaceChildren();
  const note = q(element, ".filter-note");
  if (note) note.remove();
  renderFeedback(element, undefined, false);
  return body;
}

/**
 * @typedef {object} Finished
 * @property {string} status
 * @property {string} html  the server's render (sanitised again here)
 * @property {string} [modelLabel]
 * @property {{code?: string, message?: string} | null} [error]
 * @property {number} [contextTrimmed]
 * @property {string} [note]  the sentence under an answer the content filter cut (the server's, translated)
 * @property {unknown} [feedback]  the person's thumbs on it (undefined: as the page has it)
 */

/**
 * A finished answer: the server's HTML, the status badge, the filter note, the error box, the thumbs.
 * @param {HTMLElement} element
 * @param {Finished} finished
 */
export function finishAssistant(element, { status, html, modelLabel, error, contextTrimmed, note, feedback }) {
  const finalStatus = status || "ok";
  element.dataset.status = finalStatus;
  element.removeAttribute("aria-busy");
  const body = q(element, ".msg-body");
  body.classList.remove("is-streaming");
  const fragment = toFragment(html);
  enhanceRenderedHtml(fragment);
  body.replaceChildren(fragment);
  if (modelLabel) setModelLabel(element, modelLabel);
  setContextNote(element, contextTrimmed);

  const badges = q(element, ".msg-badges");
  badges.replaceChildren();
  const label = statusLabel(finalStatus);
  if (label) {
    badges.append(
      h("span", { class: "badge badge-" + finalStatus, "data-testid": "status-badge", "data-status": finalStatus }, label),
    );
  }
  const oldNote = q(element, ".filter-note");
  if (oldNote) oldNote.remove();
  if (note) body.after(h("p", { class: "filter-note", "data-testid": "filter-note" }, icon("alert"), h("span", {}, note)));
  const oldError = q(element, ".msg-error");
  if (oldError) oldError.remove();
  if (ERROR_STATUSES.has(finalStatus) || (error && error.message)) {
    const box = h(
      "div",
      { class: "msg-error", role: "alert", "data-testid": "answer-error", "data-code": (error && error.code) || "" },
      icon("alert"),
      h("p", {}, (error && error.message) || t("answer_failed")),
    );
    q(element, ".msg-meta").before(box);
  }
  renderFeedback(element, feedback, !ERROR_STATUSES.has(finalStatus));
}

/**
 * Rendered answers (streaming and finished alike, so the swap does not move anything): a header with the language
 * and a Copy button on each code block, scrollable tables, links opening in a new tab (the chat must not be
 * navigated away) without telling the other site where they came from.
 * @param {ParentNode} root
 */
export function enhanceRenderedHtml(root) {
  for (const pre of Array.from(root.querySelectorAll("pre"))) {
    if (pre.parentElement && pre.parentElement.classList.contains("code-block")) continue;
    const code = pre.querySelector("code");
    const match = code && /(?:^|\s)language-([\w+#.-]+)/.exec(code.className);
    const copy = h(
      "button",
      { type: "button", class: "copy-code", "data-testid": "copy-code", "aria-label": t("copy_code") },
      icon("copy"),
      h("span", { class: "copy-text" }, t("copy")),
    );
    const wrapper = h("div", { class: "code-block" });
    pre.replaceWith(wrapper);
    wrapper.append(h("div", { class: "code-header" }, h("span", { class: "code-lang" }, match ? match[1] : ""), copy), pre);
  }
  for (const table of Array.from(root.querySelectorAll("table"))) {
    if (table.parentElement && table.parentElement.classList.contains("table-wrap")) continue;
    const wrapper = h("div", { class: "table-wrap" });
    table.replaceWith(wrapper);
    wrapper.append(table);
  }
  for (const link of Array.from(root.querySelectorAll("a[href]"))) {
    link.setAttribute("target", "_blank");
    link.setAttribute("rel", "noopener noreferrer nofollow");
  }
}

/**
 * "‹ 2 / 3 ›" on a message with other versions (an edited question, a regenerated answer); removed without.
 * The arrows carry the id of the version they show (`data-version-id`); the page asks the server to show it.
 * @param {Element} element
 * @param {import("./protocol.js").Versions | null} versions
 */
export function setVersions(element, versions) {
  const existing = q(element, ".msg-versions");
  if (existing) existing.remove();
  if (!versions) return;
  const n = versions.index + 1;
  const count = versions.ids.length;
  /** @param {-1 | 1} step */
  const arrow = (step) => {
    const target = versionStep(versions, step);
    const label = step < 0 ? t("previous_version") : t("next_version");
    return h(
      "button",
      {
        type: "button",
        class: "icon-button version-button",
        "data-testid": step < 0 ? "version-previous" : "version-next",
        "data-version-id": target === null ? "" : String(target),
        "aria-label": label,
        title: label,
        disabled: target === null,
      },
      icon(step < 0 ? "chevronLeft" : "chevron"),
    );
  };
  const nav = h(
    "nav",
    { class: "msg-versions", "data-testid": "versions", "aria-label": t("version_of", { n, count }) },
    arrow(-1),
    h("span", { class: "version-count", "data-testid": "version-count", "aria-hidden": "true" }, n + " / " + count),
    arrow(1),
  );
  q(element, ".msg-actions").prepend(nav);
}

/**
 * The Copy button's feedback: "Copied" (or "Could not copy") for a moment.
 * @param {HTMLButtonElement} button
 * @param {boolean} copied
 */
export function showCopied(button, copied) {
  const isCode = button.classList.contains("copy-code");
  const label = q(button, ".copy-text");
  button.classList.toggle("is-copied", copied);
  button.classList.toggle("is-failed", !copied);
  q(button, ".icon").replaceWith(icon(copied ? "check" : "close"));
  if (label) label.textContent = copied ? t("copied") : t("copy_failed");
  button.setAttribute("aria-label", copied ? t("copied") : t("copy_failed"));
  const holder = /** @type {HTMLButtonElement & {_resetTimer?: number}} */ (button);
  window.clearTimeout(holder._resetTimer);
  holder._resetTimer = window.setTimeout(() => {
    button.classList.remove("is-copied", "is-failed");
    q(button, ".icon").replaceWith(icon("copy"));
    if (label) label.textContent = t("copy");
    button.setAttribute("aria-label", isCode ? t("copy_code") : t("copy_answer"));
  }, 1600);
}
