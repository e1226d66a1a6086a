// @ts-check
// Thumbs up / down on a finished answer (POST /api/messages/<id>/feedback/ {"rating": 1 | -1 | 0, "comment"}).
// The buttons are toggles (aria-pressed); pressing the active one again takes the rating back (0). Thumbs down
// opens an optional comment field under the answer. The person's own rating comes with the conversation
// (`feedback` of each message), so it shows again after a reload.

import { api, urlFor } from "./api.js";
import { h, icon } from "./dom.js";
import { t } from "./i18n.js";

const THANKS_MS = 4000;
const MAX_COMMENT = 2000; // chat/services.py MAX_FEEDBACK_COMMENT

/** @typedef {{rating: 1 | -1, comment: string}} Rating */

/** @type {WeakMap<Element, Rating | null>} answer element → the person's rating */
const ratings = new WeakMap();

/**
 * @param {unknown} value  `feedback` from the API (or null)
 * @returns {Rating | null}
 */
function normalise(value) {
  if (!value || typeof value !== "object") return null;
  const given = /** @type {{rating?: unknown, comment?: unknown}} */ (value);
  if (given.rating !== 1 && given.rating !== -1) return null;
  return { rating: given.rating, comment: typeof given.comment === "string" ? given.comment : "" };
}

/**
 * Draws the thumbs of an answer (after its meta line's actions).
 * @param {HTMLElement} element  the answer
 * @param {unknown} [feedback]  the person's rating from the API; undefined keeps what the page has
 * @param {boolean} [enabled]  false for answers that cannot be rated (failed, streaming)
 */
export function renderFeedback(element, feedback, enabled = true) {
  if (feedback !== undefined) ratings.set(element, normalise(feedback));
  const meta = element.querySelector(".msg-meta");
  if (!meta) return;
  let box = meta.querySelector(".msg-feedback");
  if (!enabled || !Number(element.dataset.messageId)) {
    if (box) box.remove();
    return;
  }
  const current = ratings.get(element) || null;
  const focused = box && box.contains(document.activeElement) ? document.activeElement.getAttribute("data-rating") : null;
  if (!box) {
    box = h("span", { class: "msg-feedback", role: "group", "aria-label": t("feedback_label") });
    meta.append(box);
  }
  /**
   * @param {1 | -1} rating
   * @returns {HTMLButtonElement}
   */
  const button = (rating) => {
    const label = rating === 1 ? t("feedback_up") : t("feedback_down");
    const pressed = current !== null && current.rating === rating;
    return h(
      "button",
      {
        type: "button",
        class: "icon-button feedback-button" + (pressed ? " is-pressed" : ""),
        "data-testid": rating === 1 ? "feedback-up" : "feedback-down",
        "data-rating": rating,
        "aria-label": label,
        title: label,
        "aria-pressed": String(pressed),
      },
      icon(rating === 1 ? "thumbUp" : "thumbDown"),
    );
  };
  /** @type {Element} */ (box).replaceChildren(button(1), button(-1));
  if (focused) focusThumb(element, focused === "1" ? 1 : -1); // a redraw keeps the focus on its thumb
}

export class FeedbackController {
  /**
   * @param {object} options
   * @param {Record<string, string>} options.urls
   * @param {(message: string, code?: string) => void} options.onError
   */
  constructor({ urls, onError }) {
    this.urls = urls;
    this.onError = onError;
    /** @type {WeakMap<Element, Promise<boolean>>} the rating being saved (a comment waits for it) */
    this.saving = new WeakMap();
  }

  /**
   * @param {HTMLElement} element  the answer
   * @param {1 | -1 | 0} rating
   * @param {string} comment
   * @returns {Promise<boolean>} whether it was saved
   */
  async save(element, rating, comment) {
    const id = Number(element.dataset.messageId);
    try {
      const data = await api("POST", urlFor(this.urls, "feedback", id), { rating, comment });
      ratings.set(element, normalise(data.feedback));
      renderFeedback(element);
      return true;
    } catch (err) {
      this.onError(err.message, err.code);
      return false;
    }
  }

  /**
   * A thumb was pressed.
   * @param {HTMLButtonElement} button
   */
  async onClick(button) {
    const element = /** @type {HTMLElement | null} */ (button.closest(".msg"));
    if (!element) return;
    const clicked = Number(button.dataset.rating) === 1 ? 1 : -1;
    const previous = ratings.get(element) || null;
    const taken = previous !== null && previous.rating === clicked;
    /** @type {Rating | null} */
    const next = taken ? null : { rating: clicked, comment: "" };
    ratings.set(element, next); // optimistic
    renderFeedback(element);
    this.closeForm(element, false);
    focusThumb(element, clicked);
    if (next && next.rating === -1) this.openForm(element, previous && previous.rating === -1 ? previous.comment : "");
    const saving = this.save(element, next ? next.rating : 0, "");
    this.saving.set(element, saving);
    const saved = await saving;
    if (!saved) {
      ratings.set(element, previous);
      renderFeedback(element);
      this.closeForm(element, false);
    }
  }

  /**
   * The optional comment under a thumbs down.
   * @param {HTMLElement} element
   * @param {string} value
   */
  openForm(element, value) {
    const id = "feedback-comment-" + element.dataset.messageId;
    const input = h("textarea", { id, class: "feedback-input", rows: 2, maxlength: MAX_COMMENT, "data-testid": "feedback-comment" });
    input.value = value;
    const skip = h("button", { type: "button", class: "feedback-skip" }, t("feedback_skip"));
    const form = h(
      "form",
      { class: "feedback-form", "data-testid": "feedback-form" },
      h("label", { for: id }, t("feedback_comment_label")),
      input,
      h("div", { class: "feedback-form-actions" }, skip, h("button", { type: "submit", class: "primary", "data-testid": "feedback-send" }, t("feedback_send"))),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const send = /** @type {HTMLButtonElement} */ (form.querySelector("[type=submit]"));
      send.disabled = true;
      await this.saving.get(element); // the thumbs down first, then its comment
      const saved = await this.save(element, -1, input.value);
      send.disabled = false;
      if (saved) {
        this.closeForm(element, true);
        this.thank(element);
      }
    });
    skip.addEventListener("click", () => this.closeForm(element, true));
    form.addEventListener("keydown", (/** @type {KeyboardEvent} */ event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.closeForm(element, true);
      }
    });
    const meta = element.querySelector(".msg-meta");
    if (meta) meta.after(form);
    input.focus();
  }

  /**
   * @param {HTMLElement} element
   * @param {boolean} restoreFocus
   */
  closeForm(element, restoreFocus) {
    const form = element.querySelector(".feedback-form");
    if (!form) return;
    form.remove();
    if (restoreFocus) focusThumb(element, -1);
  }

  /** @param {HTMLElement} element */
  thank(element) {
    const old = element.querySelector(".feedback-thanks");
    if (old) old.remove();
    const note = h("p", { class: "feedback-thanks", role: "status", "data-testid": "feedback-thanks" }, t("feedback_thanks"));
    const meta = element.querySelector(".msg-meta");
    if (meta) meta.after(note);
    window.setTimeout(() => note.remove(), THANKS_MS);
  }
}

/**
 * @param {HTMLElement} element
 * @param {1 | -1} rating
 */
function focusThumb(element, rating) {
  const button = /** @type {HTMLElement | null} */ (element.querySelector(`.feedback-button[data-rating="${rating}"]`));
  if (button) button.focus();
}
