// @ts-check
// The page's strings. The only source is the server: chat/views.py CHAT_STRINGS, translated there and sent in the
// `chat-config` element as `i18n`. This module keeps no copy of its own; tests/js/test_chat_modules.py checks that
// every t("key") used by the modules is one of CHAT_STRINGS and that every CHAT_STRINGS key is used.
// Keys are always written out as literals (t("status_stopped"), never t("status_" + status)) so that check sees them.

/** @type {Record<string, string>} */
let strings = {};

/** @param {unknown} translated the `i18n` object of the page's configuration */
export function setStrings(translated) {
  strings = {};
  if (translated && typeof translated === "object") {
    for (const [key, value] of Object.entries(translated)) {
      if (typeof value === "string") strings[key] = value;
    }
  }
}

/**
 * The translated string for `key`, with {placeholders} filled in. An unknown key shows as itself (a bug the
 * key test catches, never an empty label).
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 * @returns {string}
 */
export function t(key, params) {
  let text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
  }
  return text;
}

/** The page's language (for number and date formats). @returns {string} */
export function pageLanguage() {
  if (typeof document !== "undefined" && document.documentElement.lang) return document.documentElement.lang;
  return typeof navigator !== "undefined" ? navigator.language || "en" : "en";
}

/**
 * A number in the page's language ("32,000").
 * @param {number} value
 * @returns {string}
 */
export function formatNumber(value) {
  return value.toLocaleString(pageLanguage());
}
