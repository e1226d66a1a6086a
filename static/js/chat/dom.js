// @ts-check
// Small DOM helpers. Text always goes in as text: nothing here parses HTML except the constant icon markup.

import { pageLanguage } from "./i18n.js";

/**
 * @param {string} id
 * @returns {any} the element (typed loosely: callers know which kind it is)
 */
export function $(id) {
  return document.getElementById(id);
}

/**
 * Builds an element. Attributes are set as attributes (never as HTML); children are nodes or text.
 * @param {string} tag
 * @param {Record<string, string | number | boolean | null | undefined>} [attrs]
 * @param {...(Node | string | number | null | undefined | false | (Node | string)[])} children
 * @returns {any}
 */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = String(value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

// Constant SVG markup only (no data ever goes in here).
const ICONS = {
  copy: '<rect x="9" y="9" width="11" height="11" rx="2"/><path d="M5 15V6a2 2 0 0 1 2-2h9"/>',
  check: '<path d="m5 12 5 5 9-10"/>',
  pencil: '<path d="M4 20h4L19 9l-4-4L4 16v4Z"/><path d="m13.5 6.5 4 4"/>',
  trash: '<path d="M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3"/>',
  refresh: '<path d="M20 11a8 8 0 1 0-2.3 5.7"/><path d="M20 4v7h-7"/>',
  close: '<path d="M6 6l12 12M18 6 6 18"/>',
  alert: '<circle cx="12" cy="12" r="9"/><path d="M12 7.5v5.5m0 3v.01"/>',
  more: '<circle cx="5" cy="12" r="1.2"/><circle cx="12" cy="12" r="1.2"/><circle cx="19" cy="12" r="1.2"/>',
  pin: '<path d="M9 4h6l-1 6 4 4H6l4-4-1-6Z"/><path d="M12 14v6"/>',
  folder: '<path d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V7Z"/>',
  chevron: '<path d="m9 6 6 6-6 6"/>',
  chevronLeft: '<path d="m15 6-6 6 6 6"/>',
  thumbUp: '<path d="M7 11v9H4v-9h3Z"/><path d="M7 11l4-7a2 2 0 0 1 3 2l-1 4h5a2 2 0 0 1 2 2.3l-1.2 6A2 2 0 0 1 16.8 20H7"/>',
  thumbDown: '<path d="M17 13V4h3v9h-3Z"/><path d="M17 13l-4 7a2 2 0 0 1-3-2l1-4H6a2 2 0 0 1-2-2.3l1.2-6A2 2 0 0 1 7.2 4H17"/>',
  slash: '<rect x="3" y="3" width="18" height="18" rx="4"/><path d="m14.5 7-5 10"/>',
};

/** @typedef {keyof typeof ICONS} IconName */

/**
 * @param {IconName} name
 * @returns {HTMLSpanElement}
 */
export function icon(name) {
  const holder = document.createElement("span");
  holder.className = "icon";
  holder.setAttribute("aria-hidden", "true");
  holder.innerHTML =
    '<svg viewBox="0 0 24 24" width="16" height="16" fill="none" stroke="currentColor" stroke-width="2" ' +
    'stroke-linecap="round" stroke-linejoin="round">' +
    ICONS[name] +
    "</svg>";
  return holder;
}

/**
 * @template {unknown[]} A
 * @param {(...args: A) => void} fn
 * @param {number} wait
 * @returns {(...args: A) => void}
 */
export function debounce(fn, wait) {
  /** @type {number | undefined} */
  let timer;
  return (...args) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), wait);
  };
}

/**
 * Enter that confirms an IME conversion (Japanese input) must never act. Chrome and Firefox mark its keydown with
 * isComposing; Safari fires compositionend first and then the keydown with isComposing false but keyCode 229.
 * The key event alone decides: a flag kept from composition events would race a quick real Enter.
 * @param {KeyboardEvent} event
 * @returns {boolean}
 */
export function isImeEnter(event) {
  return event.isComposing || event.keyCode === 229;
}

/**
 * "5 min. ago", "yesterday", "Mar 3" in the page's language.
 * @param {string} iso
 * @returns {string}
 */
export function relativeTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const lang = pageLanguage();
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  let format;
  try {
    format = new Intl.RelativeTimeFormat(lang, { numeric: "auto", style: "short" });
  } catch (err) {
    return date.toLocaleString();
  }
  if (abs < 45) return format.format(0, "second");
  if (abs < 45 * 60) return format.format(Math.round(seconds / 60), "minute");
  if (abs < 22 * 3600) return format.format(Math.round(seconds / 3600), "hour");
  if (abs < 7 * 86400) return format.format(Math.round(seconds / 86400), "day");
  const sameYear = date.getFullYear() === new Date().getFullYear();
  return date.toLocaleDateString(lang, sameYear ? { month: "short", day: "numeric" } : { dateStyle: "medium" });
}

/**
 * Copies text. The Clipboard API needs a secure context; intranet http pages fall back to execCommand.
 * @param {string} text
 * @returns {Promise<boolean>}
 */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (err) {
      /* fall back below */
    }
  }
  const focused = document.activeElement;
  const area = h("textarea", { readonly: true, class: "clipboard-helper", "aria-hidden": "true" });
  area.value = text;
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch (err) {
    copied = false;
  }
  area.remove();
  if (focused instanceof HTMLElement) focused.focus();
  return copied;
}
