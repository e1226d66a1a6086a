// @ts-check
// What a person writes: the one validation that sending, editing and the system prompt all use (the server checks
// the same limits again: docs/websocket-protocol.md `empty`, `too_long`), the character counter and the auto-grow.

import { formatNumber, t } from "./i18n.js";
import { codePointLength } from "./protocol.js";

const COUNTER_FROM = 0.9; // show the character counter from 90 % of the limit

/**
 * @typedef {object} Validation
 * @property {boolean} ok
 * @property {string} text  the trimmed text
 * @property {"" | "empty" | "too_long"} code  why not (the server's error code for the same refusal)
 * @property {string} message  for the person, when not ok
 */

/**
 * A message to send or an edit to save: not empty after trimming, at most `max` code points (the server counts
 * code points of the trimmed text). The text sent is the raw text; `text` is the trimmed one.
 * @param {string} raw
 * @param {number} max
 * @returns {Validation}
 */
export function validateMessage(raw, max) {
  const text = raw.trim();
  if (!text) return { ok: false, text, code: "empty", message: t("message_empty") };
  const count = codePointLength(text);
  if (count > max) {
    return {
      ok: false,
      text,
      code: "too_long",
      message: t("message_too_long", { count: formatNumber(count), max: formatNumber(max) }),
    };
  }
  return { ok: true, text, code: "", message: "" };
}

/**
 * A system prompt: may be empty (no instructions), at most `max` code points once trimmed.
 * @param {string} raw
 * @param {number} max
 * @returns {Validation}
 */
export function validateSystemPrompt(raw, max) {
  const text = raw.trim();
  const count = codePointLength(text);
  if (count > max) {
    return {
      ok: false,
      text,
      code: "too_long",
      message: t("system_prompt_too_long", { count: formatNumber(count), max: formatNumber(max) }),
    };
  }
  return { ok: true, text, code: "", message: "" };
}

/**
 * The "count / max" counter under a text box, shown from 90 % of the limit. Counting code points is only needed
 * near the limit (UTF-16 length ≥ code points).
 * @param {string} text
 * @param {number} max
 * @param {HTMLElement} counter
 */
export function updateCounter(text, max, counter) {
  if (text.length < max * COUNTER_FROM) {
    counter.hidden = true;
    counter.classList.remove("is-over");
    return;
  }
  const count = codePointLength(text.trim());
  counter.hidden = count < max * COUNTER_FROM;
  counter.textContent = t("char_count", { count: formatNumber(count), max: formatNumber(max) });
  counter.classList.toggle("is-over", count > max);
}

/**
 * A text box as tall as its text (up to its CSS max-height).
 * @param {HTMLTextAreaElement} textarea
 */
export function autoGrow(textarea) {
  textarea.style.height = "auto";
  textarea.style.height = textarea.scrollHeight + 2 + "px";
}
