// @ts-check
// What the model picker says about the chosen model: its description (in the reader's language, from the server)
// and hints of what it can do (reasoning, understands images, context size "128K tokens"). The formatting is pure
// and unit-tested in tests/js/modelinfo.test.mjs; the picker itself is header.js's.

import { h } from "./dom.js";
import { t } from "./i18n.js";

/**
 * @typedef {object} ModelSummary  a model in the page's configuration (chat/views.py _model_json)
 * @property {number} id
 * @property {string} [display_name]
 * @property {string} [label]
 * @property {string} [status]
 * @property {string} [description]
 * @property {boolean} [reasoning]
 * @property {boolean} [vision]
 * @property {number} [context_window]
 */

/**
 * A context size, short: 128000 → "128K", 1048576 → "1M", 1500000 → "1.5M", 512 → "512".
 * @param {number} tokens
 * @returns {string}
 */
export function formatTokens(tokens) {
  if (!Number.isFinite(tokens) || tokens <= 0) return "";
  if (tokens >= 1e6) return String(Math.round(tokens / 1e5) / 10).replace(/\.0$/, "") + "M";
  if (tokens >= 1000) return Math.round(tokens / 1000) + "K";
  return String(Math.round(tokens));
}

/**
 * The hints for a model, translated, in a fixed order.
 * @param {ModelSummary} model
 * @returns {{key: string, text: string}[]}
 */
export function modelHints(model) {
  const hints = [];
  if (model.reasoning) hints.push({ key: "reasoning", text: t("model_reasoning") });
  if (model.vision) hints.push({ key: "vision", text: t("model_vision") });
  const size = formatTokens(Number(model.context_window));
  if (size) hints.push({ key: "context", text: t("model_context", { size }) });
  return hints;
}

/**
 * Fills the line under the picker for `model` (empty when there is none).
 * @param {HTMLElement} container
 * @param {ModelSummary | null} model
 */
export function renderModelInfo(container, model) {
  if (!model) {
    container.replaceChildren();
    container.hidden = true;
    return;
  }
  container.hidden = false;
  const description = (model.description || "").trim();
  const parts = [h("span", { class: "model-info-name", "data-testid": "model-info-name" }, model.display_name || model.label || "")];
  if (description) parts.push(h("span", { class: "model-info-description", "data-testid": "model-description", title: description }, description));
  parts.push(
    h(
      "span",
      { class: "model-hints" },
      modelHints(model).map((hint) => h("span", { class: "model-hint", "data-hint": hint.key, "data-testid": "model-hint" }, hint.text)),
    ),
  );
  container.replaceChildren(...parts);
}
