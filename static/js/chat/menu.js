// @ts-check
// A small popup menu (the sidebar's ⋯ menus): role="menu" of buttons with role="menuitem" (or "menuitemradio"),
// opened from a button with aria-haspopup="menu". Keyboard: the first item gets the focus; Up/Down (wrapping),
// Home/End move; Enter/Space choose; Escape closes and gives the focus back to the button; Tab closes; a click
// outside closes. An item with `submenu` shows its items in the same popup, after a "Back" item (Left arrow too).

import { h, icon } from "./dom.js";
import { t } from "./i18n.js";

/**
 * @typedef {object} MenuItem
 * @property {string} label
 * @property {() => void} [action]  run after the menu has closed
 * @property {() => MenuItem[]} [submenu]
 * @property {string} [testid]
 * @property {boolean} [checked]  a radio item: aria-checked
 * @property {boolean} [disabled]
 * @property {boolean} [danger]
 * @property {Record<string, string | number>} [data]  data-* attributes
 */

let menuCount = 0;

export class PopupMenu {
  constructor() {
    /** @type {HTMLElement | null} */
    this.element = null;
    /** @type {HTMLElement | null} */
    this.anchor = null;
    /** @type {MenuItem[][]} the levels shown (the last one is on screen) */
    this.levels = [];
    this.label = "";
    this.onPointerDown = (/** @type {PointerEvent} */ event) => {
      const target = /** @type {Node} */ (event.target);
      if (this.element && !this.element.contains(target) && !(this.anchor && this.anchor.contains(target))) this.close(false);
    };
    this.onResize = () => this.close(false);
  }

  /** @returns {boolean} */
  isOpen() {
    return this.element !== null;
  }

  /**
   * @param {HTMLElement} anchor  the button that opened it (aria-expanded follows)
   * @param {MenuItem[]} items
   * @param {string} label  the menu's accessible name
   */
  open(anchor, items, label) {
    this.close(false);
    menuCount += 1;
    this.anchor = anchor;
    this.label = label;
    this.levels = [items];
    const element = h("div", { class: "popup-menu", role: "menu", id: "popup-menu-" + menuCount, "aria-label": label, "data-testid": "popup-menu" });
    element.addEventListener("keydown", (/** @type {KeyboardEvent} */ event) => this.onKeydown(event));
    element.addEventListener("click", (/** @type {MouseEvent} */ event) => this.onClick(event));
    this.element = element;
    document.body.append(element);
    anchor.setAttribute("aria-expanded", "true");
    anchor.setAttribute("aria-controls", element.id);
    this.draw();
    document.addEventListener("pointerdown", this.onPointerDown, true);
    window.addEventListener("resize", this.onResize);
  }

  /**
   * The anchor was redrawn (the sidebar re-rendered): follow the new button, or close when it is gone.
   * @param {HTMLElement | null} anchor
   */
  reanchor(anchor) {
    if (!this.element) return;
    if (!anchor) {
      this.close(false);
      return;
    }
    this.anchor = anchor;
    anchor.setAttribute("aria-expanded", "true");
    anchor.setAttribute("aria-controls", this.element.id);
    this.place();
  }

  /** @param {boolean} restoreFocus  give the focus back to the button */
  close(restoreFocus) {
    const { element, anchor } = this;
    if (!element) return;
    this.element = null;
    this.levels = [];
    element.remove();
    document.removeEventListener("pointerdown", this.onPointerDown, true);
    window.removeEventListener("resize", this.onResize);
    if (anchor) {
      anchor.setAttribute("aria-expanded", "false");
      anchor.removeAttribute("aria-controls");
      if (restoreFocus && anchor.isConnected) anchor.focus();
    }
  }

  draw() {
    const element = this.element;
    if (!element) return;
    const items = this.levels[this.levels.length - 1];
    /** @type {HTMLElement[]} */
    const buttons = [];
    if (this.levels.length > 1) {
      buttons.push(h("button", { type: "button", role: "menuitem", class: "menu-item menu-back", tabindex: -1, "data-index": "back", "data-testid": "menu-back" }, t("back")));
    }
    items.forEach((item, index) => {
      /** @type {Record<string, string | number | boolean | null | undefined>} */
      const attrs = {
        type: "button",
        role: item.checked === undefined ? "menuitem" : "menuitemradio",
        "aria-checked": item.checked === undefined ? null : String(item.checked),
        "aria-haspopup": item.submenu ? "menu" : null,
        class: "menu-item" + (item.danger ? " is-danger" : ""),
        tabindex: -1,
        "data-index": index,
        "data-testid": item.testid || null,
        "aria-disabled": item.disabled ? "true" : null,
      };
      for (const [name, value] of Object.entries(item.data || {})) attrs["data-" + name] = value;
      buttons.push(h("button", attrs, h("span", { class: "menu-label" }, item.label), item.submenu ? icon("chevron") : null));
    });
    element.replaceChildren(...buttons);
    this.place();
    const first = buttons.find((button) => button.getAttribute("aria-disabled") !== "true" && !button.classList.contains("menu-back")) || buttons[0];
    if (first) first.focus();
  }

  // Under the button, its right edges lined up; above it when there is no room below; always inside the window.
  place() {
    const { element, anchor } = this;
    if (!element || !anchor) return;
    const rect = anchor.getBoundingClientRect();
    const width = element.offsetWidth;
    const height = element.offsetHeight;
    const margin = 8;
    let left = Math.min(rect.right - width, window.innerWidth - width - margin);
    left = Math.max(margin, left);
    let top = rect.bottom + 4;
    if (top + height > window.innerHeight - margin) top = Math.max(margin, rect.top - height - 4);
    element.style.left = left + "px";
    element.style.top = top + "px";
  }

  /** @returns {HTMLElement[]} */
  buttons() {
    return this.element ? Array.from(this.element.querySelectorAll(".menu-item")) : [];
  }

  /** @param {KeyboardEvent} event */
  onKeydown(event) {
    const buttons = this.buttons();
    const index = buttons.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    /** @type {number | null} */
    let next = null;
    if (event.key === "ArrowDown") next = (index + 1) % buttons.length;
    else if (event.key === "ArrowUp") next = (index - 1 + buttons.length) % buttons.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = buttons.length - 1;
    else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation(); // the sidebar on a phone stays open
      if (this.levels.length > 1) this.back();
      else this.close(true);
      return;
    } else if (event.key === "ArrowLeft" && this.levels.length > 1) {
      event.preventDefault();
      this.back();
      return;
    } else if (event.key === "ArrowRight") {
      const button = buttons[index];
      if (button && button.hasAttribute("aria-haspopup")) {
        event.preventDefault();
        button.click();
      }
      return;
    } else if (event.key === "Tab") {
      this.close(true); // the focus goes on from the button
      return;
    }
    if (next === null || !buttons.length) return;
    event.preventDefault();
    buttons[next].focus();
  }

  back() {
    if (this.levels.length < 2) return;
    this.levels.pop();
    this.draw();
  }

  /** @param {MouseEvent} event */
  onClick(event) {
    const button = /** @type {HTMLElement} */ (event.target).closest(".menu-item");
    if (!button || button.getAttribute("aria-disabled") === "true") return;
    const at = button.getAttribute("data-index");
    if (at === "back") {
      this.back();
      return;
    }
    const item = this.levels[this.levels.length - 1][Number(at)];
    if (!item) return;
    if (item.submenu) {
      this.levels.push(item.submenu());
      this.draw();
      return;
    }
    this.close(false);
    if (item.action) item.action();
  }
}
