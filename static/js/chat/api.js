// @ts-check
// The chat's JSON API (/api/conversations/…, chat/views.py). Refusals come back as {"error": {"code", "message"}}
// with a translated message (docs/websocket-protocol.md, "The JSON API's errors").

import { t } from "./i18n.js";

export class ApiError extends Error {
  /**
   * @param {number} status  HTTP status, 0 when the server could not be reached
   * @param {string} message  for the person (translated)
   * @param {string} [code]
   */
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code || "";
  }
}

let csrfToken = "";

/** @param {string} token  from the page's configuration */
export function setCsrfToken(token) {
  csrfToken = token || "";
}

/**
 * @param {"GET" | "POST"} method
 * @param {string} url
 * @param {unknown} [body]  JSON for POST
 * @returns {Promise<any>}
 */
export async function api(method, url, body) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  /** @type {RequestInit} */
  const options = { method, credentials: "same-origin", headers };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["X-CSRFToken"] = csrfToken;
    options.body = JSON.stringify(body || {});
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (err) {
    throw new ApiError(0, t("error_network"), "network");
  }
  let data = null;
  const isJson = (response.headers.get("Content-Type") || "").includes("json");
  if (isJson) {
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.message || t("error_generic"), error.code);
  }
  // A redirect to the sign-in page answers 200 with HTML.
  if (!isJson || data === null) throw new ApiError(response.status, t("error_session"), "session");
  return data;
}

/**
 * "/api/conversations/0/rename/" → "/api/conversations/42/rename/"
 * @param {Record<string, string>} urls  the page's configuration
 * @param {string} name
 * @param {number | null} [id]
 * @returns {string}
 */
export function urlFor(urls, name, id) {
  const template = urls[name] || "";
  return id === null || id === undefined ? template : template.replace("/0/", "/" + encodeURIComponent(id) + "/");
}

/**
 * The conversation id in a chat page path ("/c/42/" → 42), by the page URL pattern in the configuration.
 * @param {Record<string, string>} urls
 * @param {string} pathname
 * @returns {number | null}
 */
export function conversationIdFromPath(urls, pathname) {
  const template = urls.page || "/c/0/";
  const cut = template.indexOf("/0/");
  if (cut < 0) return null;
  const escape = (/** @type {string} */ s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp("^" + escape(template.slice(0, cut)) + "/(\\d+)/" + escape(template.slice(cut + 3)) + "$");
  const match = pattern.exec(pathname);
  return match ? Number(match[1]) : null;
}

/**
 * POST one file as multipart (field `file`), answered in JSON like `api`.
 * @param {string} url
 * @param {File} file
 * @returns {Promise<any>}
 */
export async function uploadFile(url, file) {
  const body = new FormData();
  body.append("file", file, file.name);
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken },
      body,
    });
  } catch (err) {
    throw new ApiError(0, t("error_network"), "network");
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (!response.ok || data === null) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.message || t("error_generic"), error.code);
  }
  return data;
}
