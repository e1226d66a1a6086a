// @ts-check
// Office AI chat page: wires the sidebar, the conversation view, the composer and the websocket client
// (docs/websocket-protocol.md). Native ES modules, no build step; everything dynamic comes from the `chat-config`
// JSON element rendered by chat/views.py chat_page. Modules:
//   protocol.js  frames, code-point offsets, overlap/gap rules        state.js     stream/request/view transitions
//   markdown.js  streaming Markdown render + sanitiser                messages.js  message elements
//   sidebar.js   conversations by day, folders, search, menus         composer.js  validation, counter
//   grouping.js  the sidebar's order and date groups                  highlight.js search terms marked in hits
//   menu.js      the ⋯ popup menus                                    library.js   the "/" prompt picker, prompt dialogs
//   prompts.js   prompt variables, filling (the server's rules)       feedback.js  thumbs up/down on answers
//   socket.js    connection, reconnect, heartbeat                     api.js       JSON API
//   header.js    title, model picker, system prompt, export           modelinfo.js the chosen model's description, hints
//   i18n.js      strings from the server (no copies here)             dom.js       element helpers
// The import graph has no cycle (config/storage.py rewrites the imports to hashed names in production).

import { ApiError, api, conversationIdFromPath, setCsrfToken, urlFor } from "./api.js";
import { autoGrow, updateCounter, validateMessage } from "./composer.js";
import { $, copyText, debounce, h, icon, isImeEnter } from "./dom.js";
import { FeedbackController } from "./feedback.js";
import { FileTray, renderSentFiles } from "./files.js";
import { ConversationHeader } from "./header.js";
import { setStrings, t } from "./i18n.js";
import { PromptLibrary } from "./library.js";
import { StreamingView, createMarkdown, createSanitizer } from "./markdown.js";
import {
  ERROR_STATUSES,
  buildAssistantMessage,
  buildUserMessage,
  contentOf,
  enhanceRenderedHtml,
  finishAssistant,
  markStreaming,
  setModelLabel,
  setSafeHtml,
  setVersions,
  showCopied,
  useSanitizer,
} from "./messages.js";
import {
  editFrame,
  isInt,
  isStreamFrame,
  joinFrame,
  leaveFrame,
  newRequestId,
  parseFrame,
  parseVersions,
  regenerateFrame,
  sendFrame,
} from "./protocol.js";
import { Sidebar } from "./sidebar.js";
import { ChatSocket } from "./socket.js";
import {
  PendingRequests,
  createStream,
  createView,
  latestRunning,
  resumeBase,
  streamFinish,
  streamReceive,
  streamRejoinExpired,
  viewAdopt,
  viewLoaded,
  viewOpen,
  viewShows,
  viewStartNew,
} from "./state.js";

const ACCEPT_TIMEOUT_MS = 20000;
const REJOIN_TIMEOUT_MS = 5000; // a rejoin that brings no snapshot: reload the conversation instead
const STICK_TO_BOTTOM_PX = 80;

/**
 * @typedef {object} ChatConfig
 * @property {string} ws_url
 * @property {number | null} conversation_id
 * @property {import("./modelinfo.js").ModelSummary[]} models
 * @property {number | null} default_model_id
 * @property {string} csrf_token
 * @property {{version: number, html: string, acknowledged: boolean} | null} notice
 * @property {Record<string, string>} i18n
 * @property {{max_text: number, max_system_prompt: number}} limits
 * @property {Record<string, string>} urls
 */

/**
 * @typedef {import("./state.js").Stream & {el: HTMLElement, view: StreamingView, rejoinTimer: number | undefined}} LiveStream
 */

/** @returns {ChatConfig} */
function readConfig() {
  const element = document.getElementById("chat-config");
  let parsed = {};
  try {
    parsed = JSON.parse(element ? element.textContent || "{}" : "{}") || {};
  } catch (err) {
    console.error("chat: bad chat-config", err);
  }
  const given = /** @type {Partial<ChatConfig>} */ (parsed);
  return {
    ws_url: "/ws/",
    conversation_id: null,
    models: [],
    default_model_id: null,
    csrf_token: "",
    notice: null,
    ...given,
    i18n: given.i18n || {},
    limits: { max_text: 32000, max_system_prompt: 8000, ...(given.limits || {}) },
    urls: given.urls || {},
  };
}

const config = readConfig();
setStrings(config.i18n);
setCsrfToken(config.csrf_token);

// Markdown while streaming: the vendored libraries are classic scripts loaded before this module.
const globals = /** @type {any} */ (globalThis);
const markdown = typeof globals.markdownit === "function" ? createMarkdown(globals.markdownit) : null;
const sanitize = typeof globals.DOMPurify === "function" ? createSanitizer(globals.DOMPurify) : null;
if (sanitize) useSanitizer(sanitize);

// ---------------------------------------------------------------------------------------------------------------
// State

const view = createView();
const pending = new PendingRequests();
/** @type {Map<string, number>} request id → its timeout */
const pendingTimers = new Map();
const state = {
  /** @type {{id: number, title?: string, system_prompt?: string, model_version_id?: number | null, updated_at?: string} | null} */
  conversation: null,
  refreshing: false,
  refreshAgain: false,
  switchingVersion: false,
  /** @type {Map<number, LiveStream>} assistant message id → its stream */
  streams: new Map(),
  /** @type {{messageId: number} | null} */
  editing: null,
  draftSystemPrompt: "", // for a new chat: sent with the first chat.send
  notice: config.notice,
  /** @type {number | null} */
  ackedVersion: null,
  /** @type {number | null} */
  pendingAck: null,
  limits: { ...config.limits },
  stickToBottom: true,
};

/** @type {WeakSet<Element>} answers whose chat.done came, shown as streamed until the next frame swaps them */
const finishing = new WeakSet();

/** @type {ReturnType<typeof collectElements>} */
let els;

/** The page's elements (from templates/chat/index.html). */
function collectElements() {
  return {
    app: /** @type {HTMLElement} */ ($("chat-app")),
    sidebar: /** @type {HTMLElement} */ ($("chat-sidebar")),
    scrim: /** @type {HTMLElement} */ ($("sidebar-scrim")),
    sidebarToggle: /** @type {HTMLButtonElement} */ ($("sidebar-toggle")),
    newChat: /** @type {HTMLButtonElement} */ ($("new-chat")),
    search: /** @type {HTMLInputElement} */ ($("conversation-search")),
    list: /** @type {HTMLUListElement} */ ($("conversation-list")),
    listEmpty: /** @type {HTMLElement} */ ($("conversation-empty")),
    newFolder: /** @type {HTMLButtonElement | null} */ ($("new-folder")),
    title: /** @type {HTMLElement} */ ($("chat-title")),
    connection: /** @type {HTMLElement} */ ($("connection-status")),
    picker: /** @type {HTMLSelectElement} */ ($("model-picker")),
    modelInfo: /** @type {HTMLElement | null} */ ($("model-info")),
    systemButton: /** @type {HTMLButtonElement} */ ($("system-prompt-button")),
    systemPanel: /** @type {HTMLElement} */ ($("system-prompt-panel")),
    systemInput: /** @type {HTMLTextAreaElement} */ ($("system-prompt-input")),
    systemSave: /** @type {HTMLButtonElement} */ ($("system-prompt-save")),
    systemCancel: /** @type {HTMLButtonElement} */ ($("system-prompt-cancel")),
    systemCounter: /** @type {HTMLElement} */ ($("system-prompt-counter")),
    exportLinks: /** @type {HTMLElement} */ ($("export-links")),
    exportMd: /** @type {HTMLAnchorElement} */ ($("export-md")),
    exportJson: /** @type {HTMLAnchorElement} */ ($("export-json")),
    notice: /** @type {HTMLElement} */ ($("notice-banner")),
    noticeText: /** @type {HTMLElement} */ ($("notice-text")),
    noticeAck: /** @type {HTMLButtonElement} */ ($("notice-ack")),
    scroller: /** @type {HTMLElement} */ ($("chat-scroll")),
    empty: /** @type {HTMLElement} */ ($("chat-empty")),
    messages: /** @type {HTMLElement} */ ($("message-list")),
    scrollBottom: /** @type {HTMLButtonElement} */ ($("scroll-bottom")),
    toasts: /** @type {HTMLElement} */ ($("toast-region")),
    form: /** @type {HTMLFormElement} */ ($("composer-form")),
    fileTray: /** @type {HTMLElement} */ ($("file-tray")),
    fileInput: /** @type {HTMLInputElement} */ ($("file-input")),
    attachButton: /** @type {HTMLButtonElement} */ ($("attach-button")),
    composer: /** @type {HTMLTextAreaElement} */ ($("composer")),
    counter: /** @type {HTMLElement} */ ($("composer-counter")),
    send: /** @type {HTMLButtonElement} */ ($("send")),
    promptsButton: /** @type {HTMLButtonElement | null} */ ($("prompts-button")),
    promptPicker: /** @type {HTMLElement} */ ($("prompt-picker")),
    managePrompts: /** @type {HTMLButtonElement | null} */ ($("manage-prompts")),
    stop: /** @type {HTMLButtonElement} */ ($("stop")),
  };
}

/** @type {Sidebar} the conversation list (made in init(), once the page's elements are known) */
let sidebar;
/** @type {ConversationHeader} title, model picker, system prompt, export (made in init()) */
let header;
/** @type {PromptLibrary} the "/" prompt picker and the prompt dialogs (made in init()) */
let library;
const feedback = new FeedbackController({ urls: config.urls, onError: (message, code) => showError(message, code) });
/** @type {FileTray} files in the composer (made in init()) */
let files;

const socket = new ChatSocket(config.ws_url, {
  onOpen: onSocketOpen,
  onMessage: onFrame,
  onLost: onSocketLost,
  onState: setConnectionState,
});

// ---------------------------------------------------------------------------------------------------------------
// Errors (toasts above the composer)

/**
 * @param {string} [message]
 * @param {string} [code]
 */
function showError(message, code) {
  const text = message || t("error_generic");
  for (const existing of Array.from(els.toasts.querySelectorAll(".toast"))) {
    if (existing.getAttribute("data-message") === text) existing.remove(); // re-show at the end instead of stacking copies
  }
  const close = h("button", { type: "button", class: "toast-close", "aria-label": t("dismiss") }, icon("close"));
  const toast = h(
    "div",
    { class: "toast", "data-testid": "error-banner", "data-code": code || "", "data-message": text },
    icon("alert"),
    h("span", { class: "toast-text" }, text),
    close,
  );
  close.addEventListener("click", () => {
    toast.remove();
    els.composer.focus();
  });
  els.toasts.append(toast);
  while (els.toasts.children.length > 3) els.toasts.firstElementChild.remove();
}

function clearErrors() {
  els.toasts.replaceChildren();
}

// ---------------------------------------------------------------------------------------------------------------
// Websocket

/** @param {boolean} reconnected */
function onSocketOpen(reconnected) {
  document.body.dataset.socket = "open";
  if (state.pendingAck !== null && socket.send({ type: "notice.ack", version: state.pendingAck })) {
    state.pendingAck = null;
  }
  if (view.conversationId !== null && view.loaded) {
    joinConversation();
    // Frames sent while we were away (a chat.done, another tab's message) are gone: reconcile with the API.
    if (reconnected) refreshConversation();
  }
  updateComposerState();
}

function onSocketLost() {
  document.body.dataset.socket = "closed";
  failPendingRequests();
}

/** @param {"connecting" | "reconnecting" | "open"} connection */
function setConnectionState(connection) {
  els.connection.dataset.state = connection;
  els.connection.textContent =
    connection === "open" ? t("connected") : connection === "connecting" ? t("connecting") : t("reconnecting");
  els.connection.hidden = connection === "open";
}

/** @type {Record<string, (frame: any) => void>} */
const FRAME_HANDLERS = {
  "session.ready": onSessionReady,
  pong: () => {},
  "chat.accepted": onAccepted,
  "chat.snapshot": (frame) => onStreamFrame(frame, true),
  "chat.delta": (frame) => onStreamFrame(frame, false),
  "chat.done": onDone,
  "conversation.updated": onConversationUpdated,
  "folders.updated": (frame) => sidebar.setFolders(frame.folders),
  "notice.updated": onNoticeUpdated,
  "session.ended": onSessionEnded,
  error: onErrorFrame,
};

/** @param {string} data */
function onFrame(data) {
  const frame = parseFrame(data);
  if (!frame) return;
  const handler = FRAME_HANDLERS[frame.type];
  if (!handler) return;
  try {
    handler(frame);
  } catch (err) {
    console.error("chat: frame", frame.type, err);
  }
}

/** @param {any} frame */
function onSessionReady(frame) {
  socket.sessionReady();
  if (frame.limits) state.limits = { ...state.limits, ...frame.limits };
}

// The account ended (signed out elsewhere, deactivated): stop reconnecting and say so. No reload: text typed in
// the composer stays until the person has copied what they want.
function onSessionEnded() {
  socket.end();
  showError(t("session_ended"), "session_ended");
}

// ---------------------------------------------------------------------------------------------------------------
// Joining and streaming

function isRunning() {
  return latestRunning(state.streams.values()) !== null;
}

function joinConversation() {
  if (view.conversationId === null || !view.loaded) return;
  const stream = latestRunning(state.streams.values());
  socket.send(joinFrame(view.conversationId, stream ? { message_id: stream.id, end: stream.end } : null));
}

function leaveConversation() {
  if (view.conversationId !== null) socket.send(leaveFrame(view.conversationId));
}

/**
 * A gap in the text: ask again from what we have (one rejoin at a time); if no snapshot follows, reload.
 * @param {LiveStream} stream
 */
function requestRejoin(stream) {
  if (view.conversationId === null) return;
  socket.send(joinFrame(view.conversationId, { message_id: stream.id, end: stream.end }));
  window.clearTimeout(stream.rejoinTimer);
  stream.rejoinTimer = window.setTimeout(() => {
    if (streamRejoinExpired(stream)) refreshConversation();
  }, REJOIN_TIMEOUT_MS);
}

/**
 * chat.snapshot and chat.delta: the offset rules of the protocol (state.js streamReceive).
 * @param {any} frame
 * @param {boolean} isSnapshot
 */
function onStreamFrame(frame, isSnapshot) {
  if (!isStreamFrame(frame) || !viewShows(view, frame.conversation_id)) return;
  let stream = state.streams.get(frame.message_id);
  if (!stream) {
    const element = findMessage(frame.message_id);
    if (!element) {
      // A reply we have not seen start (another tab, or a regenerate): fetch the conversation to place it.
      scheduleRefresh();
      return;
    }
    if (element.dataset.status !== "streaming" || finishing.has(element)) return; // already finished: a late frame
    stream = startStreaming(element, { text: "", end: 0 });
  }
  if (isSnapshot && !stream.done) {
    window.clearTimeout(stream.rejoinTimer);
    if (frame.model && frame.model.label) setModelLabel(stream.el, frame.model.label);
  }
  const step = streamReceive(stream, frame, isSnapshot);
  if (step.kind === "rejoin") requestRejoin(stream);
  else if (step.kind === "append") stream.view.append(step.text);
}

/** @param {any} frame */
function onDone(frame) {
  if (!isInt(frame.message_id) || !viewShows(view, frame.conversation_id)) return;
  const stream = state.streams.get(frame.message_id);
  const element = stream ? stream.el : findMessage(frame.message_id);
  if (!element) {
    scheduleRefresh();
    return;
  }
  const hadFocusOnStop = document.activeElement === els.stop;
  const finished = {
    status: frame.status || "ok",
    html: typeof frame.html === "string" ? frame.html : "",
    modelLabel: frame.model_label,
    error: frame.error,
    contextTrimmed: frame.context_trimmed,
    note: typeof frame.note === "string" ? frame.note : "",
  };
  if (stream) {
    contentOf.set(element, streamFinish(stream));
    window.clearTimeout(stream.rejoinTimer);
    state.streams.delete(stream.id);
    // Everything that streamed in is on screen now; the server's render (the same Markdown, highlighted) replaces
    // it on the next frame, in one step.
    stream.view.flush();
    finishing.add(element);
    swapOnNextFrame(() => {
      finishing.delete(element);
      finishAssistant(element, finished);
      refreshLastActions();
    });
  } else {
    finishAssistant(element, finished);
  }
  refreshLastActions();
  updateRunningUi();
  if (hadFocusOnStop) els.composer.focus();
  followBottom();
  document.dispatchEvent(new CustomEvent("officeai:answer-done", { detail: { messageId: frame.message_id } }));
}

/**
 * Runs `swap` on the next animation frame (a timer in a hidden tab, which gets none), then keeps the view at the
 * bottom if it was there.
 * @param {() => void} swap
 */
function swapOnNextFrame(swap) {
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    swap();
    followBottom();
  };
  if (document.hidden) window.setTimeout(run, 0);
  else {
    window.requestAnimationFrame(run);
    window.setTimeout(run, 250); // in case the tab is hidden before the frame comes
  }
}

/** @param {any} frame */
function onAccepted(frame) {
  const request = pending.resolve(frame.request_id);
  if (!request) return;
  window.clearTimeout(pendingTimers.get(frame.request_id));
  pendingTimers.delete(frame.request_id);
  if (!frame.conversation || !isInt(frame.conversation.id)) return;
  clearErrors(); // earlier failures are moot once a request went through
  const conversation = frame.conversation;
  sidebar.upsert({ ...conversation, model_label: frame.model && frame.model.label });

  if (request.kind === "send") {
    // Only now is the text safe on the server: clear it (unless the person already typed something else).
    if (els.composer.value === request.text) {
      els.composer.value = "";
      onComposerInput();
    }
    files.clear(); // they went with the message (listed under it)
    if (request.conversationId === null) {
      if (viewAdopt(view, conversation.id, request.viewToken)) adoptNewConversation(conversation, frame.model);
      else socket.send(leaveFrame(conversation.id)); // the person moved on
    }
  }
  updateComposerState();
  if (!viewShows(view, conversation.id)) return;

  state.conversation = { ...state.conversation, ...conversation };
  header.update();
  const userMessage = frame.user_message || {};
  let userEl = isInt(userMessage.id) ? findMessage(userMessage.id) : null;
  if (request.kind === "edit") {
    // A new version of the question: it takes the edited one's place, and what followed steps aside.
    const edited = isInt(request.messageId) ? findMessage(request.messageId) : null;
    closeEditor(false);
    els.composer.focus();
    if (edited && !userEl && isInt(userMessage.id)) {
      userEl = buildUserMessage(userMessage);
      edited.replaceWith(userEl);
    }
    if (userEl) setVersions(userEl, parseVersions(userMessage.versions));
  } else if (request.kind === "send" && !userEl && isInt(userMessage.id)) {
    userEl = buildUserMessage(userMessage);
    renderSentFiles(userEl, userMessage.attachments, config.urls);
    appendMessage(userEl);
  }
  if (request.kind !== "send") {
    if (userEl) dropMessagesAfter(userEl);
    else scheduleRefresh(); // the question is not on this page (another tab moved on): read it again
  }
  if (isInt(frame.assistant_message_id) && !findMessage(frame.assistant_message_id)) {
    const assistant = buildAssistantMessage({
      id: frame.assistant_message_id,
      status: "streaming",
      modelLabel: frame.model && frame.model.label,
    });
    setVersions(assistant, parseVersions(frame.assistant_versions));
    appendMessage(assistant);
    startStreaming(assistant, { text: "", end: 0 });
  }
  refreshLastActions();
  updateRunningUi();
  updateEmptyState();
  scrollToBottom();
}

/**
 * @param {{id: number, title?: string, updated_at?: string}} conversation
 * @param {{id?: number} | undefined} model
 */
function adoptNewConversation(conversation, model) {
  state.conversation = {
    id: conversation.id,
    title: conversation.title,
    updated_at: conversation.updated_at,
    system_prompt: state.draftSystemPrompt,
    model_version_id: model && isInt(model.id) ? model.id : header.pickerValue(),
  };
  state.draftSystemPrompt = "";
  window.history.pushState({ conversationId: conversation.id }, "", urlFor(config.urls, "page", conversation.id));
  sidebar.highlightActive();
  header.update();
}

/** @param {any} frame */
function onErrorFrame(frame) {
  const request = frame.request_id ? pending.resolve(frame.request_id) : null;
  if (request) {
    window.clearTimeout(pendingTimers.get(frame.request_id));
    pendingTimers.delete(frame.request_id);
    updateComposerState();
    updateEditorState();
    // Someone (another tab) is already answering here: show that reply.
    if (frame.code === "busy" && request.conversationId === view.conversationId) scheduleRefresh();
  }
  showError(frame.message || t("error_generic"), frame.code);
}

/** @param {any} frame */
function onConversationUpdated(frame) {
  const conversation = frame.conversation;
  if (!conversation || !isInt(conversation.id)) return;
  if (conversation.deleted) {
    // Deleted (here or in another tab): gone from the list; if it is open here, a new chat takes its place.
    sidebar.remove(conversation.id);
    if (conversation.id === view.conversationId) {
      startNewChat({ replace: true });
      showError(t("conversation_not_found"), "not_found");
    }
    return;
  }
  sidebar.upsert(conversation);
  if (conversation.id === view.conversationId && state.conversation) {
    state.conversation = { ...state.conversation, ...conversation };
    header.update();
    if (frame.reload === true) scheduleRefresh(); // another version was shown in another tab
  }
}

// The socket may drop between a send and its chat.accepted: we cannot know whether it arrived.
function failPendingRequests() {
  for (const timer of pendingTimers.values()) window.clearTimeout(timer);
  pendingTimers.clear();
  if (pending.failAll()) showError(t("send_unconfirmed"), "disconnected");
  updateComposerState();
  updateEditorState();
}

/**
 * @param {"send" | "regenerate" | "edit"} kind
 * @param {string} text
 * @param {number | null} [messageId]  an edit: the question edited
 * @returns {string} the request id
 */
function trackRequest(kind, text, messageId = null) {
  const requestId = newRequestId();
  pending.add(requestId, { kind, text, conversationId: view.conversationId, viewToken: view.token, messageId });
  pendingTimers.set(
    requestId,
    window.setTimeout(() => {
      // Keep the entry: a late chat.accepted still clears the composer. Just give the controls back.
      pendingTimers.delete(requestId);
      if (!pending.timeOut(requestId)) return;
      updateComposerState();
      updateEditorState();
      showError(t("no_reply"), "timeout");
    }, ACCEPT_TIMEOUT_MS),
  );
  updateComposerState();
  updateEditorState();
  return requestId;
}

// ---------------------------------------------------------------------------------------------------------------
// Loading and switching conversations

/**
 * @param {number | null} id
 * @param {{push?: boolean}} [options]
 */
async function openConversation(id, { push = false } = {}) {
  closeSidebar();
  if (id === null) {
    startNewChat({ push });
    return;
  }
  leaveConversation();
  resetConversationView();
  const token = viewOpen(view, id);
  state.conversation = null;
  if (push) window.history.pushState({ conversationId: id }, "", urlFor(config.urls, "page", id));
  sidebar.highlightActive();
  header.update();
  updateEmptyState();
  els.scroller.classList.add("is-loading");
  els.messages.setAttribute("aria-busy", "true");
  let data;
  try {
    data = await api("GET", urlFor(config.urls, "conversation", id));
  } catch (err) {
    if (token !== view.token) return;
    els.scroller.classList.remove("is-loading");
    els.messages.removeAttribute("aria-busy");
    const error = /** @type {ApiError} */ (err);
    if (error.status === 404) {
      startNewChat({ replace: true });
      showError(t("conversation_not_found"), "not_found");
    } else {
      showError(error.status ? error.message : t("error_load"), error.code);
    }
    return;
  }
  if (token !== view.token) return;
  els.scroller.classList.remove("is-loading");
  els.messages.removeAttribute("aria-busy");
  renderConversation(data);
  viewLoaded(view, token);
  updateEmptyState();
  joinConversation();
  els.composer.focus();
}

/** @param {{push?: boolean, replace?: boolean}} [options] */
function startNewChat({ push = false, replace = false } = {}) {
  closeSidebar();
  leaveConversation();
  resetConversationView();
  viewStartNew(view);
  state.conversation = null;
  state.draftSystemPrompt = "";
  const home = config.urls.home || "/";
  if (push) window.history.pushState({ conversationId: null }, "", home);
  if (replace) window.history.replaceState({ conversationId: null }, "", home);
  header.syncModelPicker(null);
  sidebar.highlightActive();
  header.update();
  updateEmptyState();
  updateRunningUi();
  els.composer.focus();
}

function resetConversationView() {
  dropStreams(state.streams);
  state.streams = new Map();
  state.editing = null;
  els.messages.replaceChildren();
  clearErrors();
  header.closeSystemPanel(false);
  state.stickToBottom = true;
  updateRunningUi();
}

/** @param {Map<number, LiveStream>} streams */
function dropStreams(streams) {
  for (const stream of streams.values()) {
    window.clearTimeout(stream.rejoinTimer);
    stream.view.cancel();
  }
}

// Re-read the open conversation (after a reconnect, an unknown reply, a failed rejoin) and redraw it,
// keeping live text that is ahead of what the server has saved so far.
async function refreshConversation() {
  const id = view.conversationId;
  if (id === null || !view.loaded) return;
  if (state.refreshing) {
    state.refreshAgain = true;
    return;
  }
  state.refreshing = true;
  const token = view.token;
  try {
    const data = await api("GET", urlFor(config.urls, "conversation", id));
    if (token === view.token && id === view.conversationId) renderConversation(data);
  } catch (err) {
    if (token === view.token && /** @type {ApiError} */ (err).status === 404) {
      startNewChat({ replace: true });
      showError(t("conversation_not_found"), "not_found");
    }
  } finally {
    state.refreshing = false;
    if (state.refreshAgain) {
      state.refreshAgain = false;
      refreshConversation();
    }
  }
}

const scheduleRefresh = debounce(refreshConversation, 150);

/** @param {any} data  the conversation API's answer */
function renderConversation(data) {
  const conversation = data.conversation || {};
  state.conversation = conversation;
  header.update();
  header.syncModelPicker(conversation.model_version_id);
  header.updateSystemButton();

  const wasAtBottom = state.stickToBottom;
  const scrollTop = els.scroller.scrollTop;
  const editor = captureEditor();
  const running = data.running && isInt(data.running.message_id) ? data.running : null;
  const previousStreams = state.streams;
  state.streams = new Map();
  els.messages.replaceChildren();

  for (const message of data.messages || []) {
    const isRunningMessage = running !== null && running.message_id === message.id && message.role === "assistant";
    if (message.role === "user") {
      const element = buildUserMessage(message);
      renderSentFiles(element, message.attachments, config.urls);
      setVersions(element, parseVersions(message.versions));
      appendMessage(element);
      continue;
    }
    const element = buildAssistantMessage({
      id: message.id,
      status: isRunningMessage ? "streaming" : message.status,
      modelLabel: message.model_label,
      contextTrimmed: message.context_trimmed,
    });
    setVersions(element, parseVersions(message.versions));
    appendMessage(element);
    if (isRunningMessage) {
      startStreaming(element, resumeBase(previousStreams.get(message.id), { text: message.content || "", end: running.end }));
    } else {
      contentOf.set(element, message.content || "");
      finishAssistant(element, {
        status: message.status,
        html: message.html || "",
        modelLabel: message.model_label,
        error: message.error,
        contextTrimmed: message.context_trimmed,
        note: message.note || "",
        feedback: message.feedback || null,
      });
    }
  }
  dropStreams(previousStreams);

  refreshLastActions();
  restoreEditor(editor);
  updateRunningUi();
  updateEmptyState();
  if (wasAtBottom) scrollToBottom();
  else els.scroller.scrollTop = scrollTop;
}

// ---------------------------------------------------------------------------------------------------------------
// Message elements on the page

/**
 * @param {number} id
 * @returns {HTMLElement | null}
 */
function findMessage(id) {
  return els.messages.querySelector('.msg[data-message-id="' + Number(id) + '"]');
}

/**
 * @param {string} selector
 * @returns {HTMLElement | null}
 */
function lastOf(selector) {
  const all = els.messages.querySelectorAll(selector);
  return all.length ? /** @type {HTMLElement} */ (all[all.length - 1]) : null;
}

/** @param {HTMLElement} element */
function appendMessage(element) {
  els.messages.append(element);
}

/**
 * After an edit or a regenerate, what followed the question is another version's: off the page (one arrow away).
 * @param {HTMLElement} userEl
 */
function dropMessagesAfter(userEl) {
  while (userEl.nextElementSibling) {
    const node = userEl.nextElementSibling;
    const id = Number(node.getAttribute("data-message-id"));
    const stream = state.streams.get(id);
    if (stream) dropStreams(new Map([[id, stream]]));
    state.streams.delete(id);
    node.remove();
  }
}

/**
 * The "‹ 1/2 ›" arrows: show that version. The server moves the conversation's path and answers with the page's
 * new content; refused while an answer is written.
 * @param {number} messageId
 */
async function showVersion(messageId) {
  const id = view.conversationId;
  if (id === null || isRunning() || pending.has() || state.switchingVersion) return;
  state.switchingVersion = true;
  const token = view.token;
  try {
    const data = await api("POST", urlFor(config.urls, "versions", id), { message_id: messageId });
    if (token === view.token && id === view.conversationId) {
      renderConversation(data);
      const shown = findMessage(messageId);
      const button = shown && /** @type {HTMLButtonElement | null} */ (shown.querySelector(".version-button:not([disabled])"));
      if (button) button.focus(); // keep the keyboard on the arrows
    }
  } catch (err) {
    const error = /** @type {ApiError} */ (err);
    showError(error.message || t("error_generic"), error.code || "error");
  } finally {
    state.switchingVersion = false;
  }
}

/**
 * While a reply streams its Markdown renders as it comes (markdown.js StreamingView).
 * @param {HTMLElement} element
 * @param {{text: string, end: number}} base
 * @returns {LiveStream}
 */
function startStreaming(element, base) {
  const body = markStreaming(element);
  const streamingView = new StreamingView(body, {
    md: markdown,
    sanitize,
    enhance: enhanceRenderedHtml,
    onRender: followBottom,
  });
  const stream = /** @type {LiveStream} */ ({
    ...createStream(Number(element.dataset.messageId), base),
    el: element,
    view: streamingView,
    rejoinTimer: undefined,
  });
  state.streams.set(stream.id, stream);
  if (base.text) {
    streamingView.append(base.text);
    streamingView.flush(); // the text so far is there at once
  }
  return stream;
}

// Regenerate / Retry go on the last answer, Edit on every question; never while a reply runs.
function refreshLastActions() {
  for (const node of Array.from(els.messages.querySelectorAll("[data-last-action]"))) node.remove();
  const running = isRunning();
  const busy = pending.has();
  const lastAnswer = lastOf(".message-list > .msg[data-role='assistant']");

  for (const element of Array.from(els.messages.querySelectorAll(".msg[data-role='assistant']"))) {
    const actions = element.querySelector(".msg-actions");
    if (actions && !actions.querySelector(".copy-message") && element.getAttribute("data-status") !== "streaming") {
      actions.append(
        h(
          "button",
          { type: "button", class: "icon-button copy-message", "data-testid": "copy-message", "aria-label": t("copy_answer"), title: t("copy_answer") },
          icon("copy"),
        ),
      );
    }
  }
  if (running) return;

  if (!state.editing) {
    for (const question of Array.from(els.messages.querySelectorAll(".message-list > .msg[data-role='user']"))) {
      question.querySelector(".msg-actions").append(
        h(
          "button",
          { type: "button", class: "icon-button edit-message", "data-testid": "edit-message", "data-last-action": "", "aria-label": t("edit_label"), title: t("edit"), disabled: busy },
          icon("pencil"),
        ),
      );
    }
  }
  if (!lastAnswer) return;
  const errorBox = lastAnswer.querySelector(".msg-error");
  if (errorBox && ERROR_STATUSES.has(lastAnswer.dataset.status)) {
    errorBox.append(
      h(
        "button",
        { type: "button", class: "retry-button", "data-testid": "retry", "data-last-action": "", disabled: busy },
        icon("refresh"),
        h("span", {}, t("retry")),
      ),
    );
  } else {
    lastAnswer.querySelector(".msg-actions").append(
      h(
        "button",
        { type: "button", class: "icon-button regenerate", "data-testid": "regenerate", "data-last-action": "", "aria-label": t("regenerate_label"), title: t("regenerate"), disabled: busy },
        icon("refresh"),
      ),
    );
  }
}

/** @param {MouseEvent} event */
function onMessageListClick(event) {
  const button = /** @type {HTMLElement} */ (event.target).closest("button");
  if (!button || !els.messages.contains(button)) return;
  if (button.classList.contains("copy-code")) {
    const pre = button.closest(".code-block").querySelector("pre");
    copyText(pre.textContent || "").then((copied) => showCopied(button, copied));
  } else if (button.classList.contains("copy-message")) {
    const element = button.closest(".msg");
    const text = contentOf.get(element) || /** @type {HTMLElement} */ (element.querySelector(".msg-body")).innerText;
    copyText(text).then((copied) => showCopied(button, copied));
  } else if (button.classList.contains("regenerate") || button.classList.contains("retry-button")) {
    regenerate();
  } else if (button.classList.contains("edit-message")) {
    openEditor(button.closest(".msg"));
  } else if (button.classList.contains("version-button")) {
    const target = Number(button.getAttribute("data-version-id"));
    if (isInt(target) && target > 0) showVersion(target);
  } else if (button.classList.contains("feedback-button")) {
    feedback.onClick(/** @type {HTMLButtonElement} */ (button));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Composer

function onComposerInput() {
  autoGrow(els.composer);
  updateCounter(els.composer.value, state.limits.max_text, els.counter);
  updateComposerState();
  if (library) library.onComposerInput();
}

function updateComposerState() {
  const empty = els.composer.value.trim() === "";
  const sending = pending.has("send");
  els.send.disabled = empty || sending || (files !== undefined && files.busy());
  els.send.classList.toggle("is-sending", sending);
  els.form.classList.toggle("is-sending", sending);
  for (const button of Array.from(els.messages.querySelectorAll("button[data-last-action]"))) {
    /** @type {HTMLButtonElement} */ (button).disabled = pending.has();
  }
}

function updateRunningUi() {
  const running = isRunning();
  els.send.hidden = running;
  els.stop.hidden = !running;
  els.stop.disabled = false;
  els.app.dataset.running = running ? "true" : "false";
}

/** @param {KeyboardEvent} event */
function onComposerKeydown(event) {
  if (library.onComposerKeydown(event)) return; // the prompt picker's keys
  if (event.key !== "Enter" || isImeEnter(event)) return;
  if (event.shiftKey || event.altKey) return; // a new line
  event.preventDefault();
  if (!isRunning()) sendMessage();
}

function sendMessage() {
  const raw = els.composer.value;
  if (isRunning() || pending.has("send")) return;
  const checked = validateMessage(raw, state.limits.max_text);
  if (!checked.ok) {
    if (checked.code !== "empty") showError(checked.message, checked.code); // an empty composer just does nothing
    return;
  }
  if (files.busy() || files.hasFailed()) {
    showError(files.busy() ? t("files_wait") : t("files_failed"), "attachments");
    return;
  }
  if (!socket.isOpen()) {
    showError(t("not_connected"), "disconnected");
    return;
  }
  const requestId = trackRequest("send", raw);
  socket.send(
    sendFrame({
      requestId,
      conversationId: view.conversationId,
      text: raw,
      modelVersionId: header.pickerValue(),
      systemPrompt: state.draftSystemPrompt,
      attachmentIds: files.readyIds(),
    }),
  );
  state.stickToBottom = true;
  els.composer.focus();
}

function stopReply() {
  if (view.conversationId === null) return;
  if (!socket.send({ type: "chat.stop", conversation_id: view.conversationId })) {
    showError(t("not_connected"), "disconnected");
    return;
  }
  els.stop.disabled = true; // until chat.done arrives
  window.setTimeout(() => {
    els.stop.disabled = false;
  }, 3000);
}

function regenerate() {
  if (view.conversationId === null || isRunning() || pending.has()) return;
  if (!socket.isOpen()) {
    showError(t("not_connected"), "disconnected");
    return;
  }
  const requestId = trackRequest("regenerate", "");
  socket.send(regenerateFrame({ requestId, conversationId: view.conversationId, modelVersionId: header.pickerValue() }));
  refreshLastActions();
  state.stickToBottom = true;
}

// ---------------------------------------------------------------------------------------------------------------
// Editing the last user message

/**
 * @param {HTMLElement | null} element
 * @param {string} [value]
 */
function openEditor(element, value) {
  if (!element || isRunning()) return;
  closeEditor(false);
  state.editing = { messageId: Number(element.dataset.messageId) };
  const input = h("textarea", { class: "edit-input", "data-testid": "edit-input", rows: 3, "aria-label": t("edit_input_label") });
  input.value = value !== undefined ? value : contentOf.get(element) || "";
  const cancel = h("button", { type: "button", class: "edit-cancel" }, t("cancel"));
  const save = h("button", { type: "button", class: "primary edit-save", "data-testid": "edit-save" }, t("save_and_send"));
  const counter = h("span", { class: "char-counter", hidden: true });
  const editor = h("div", { class: "msg-editor" }, input, h("div", { class: "editor-actions" }, counter, cancel, save));
  element.classList.add("is-editing");
  element.querySelector(".msg-bubble").after(editor);

  input.addEventListener("input", () => {
    autoGrow(input);
    updateCounter(input.value, state.limits.max_text, counter);
  });
  input.addEventListener("keydown", (/** @type {KeyboardEvent} */ event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      closeEditor(true);
    } else if (event.key === "Enter" && !event.shiftKey && !event.altKey && !isImeEnter(event)) {
      event.preventDefault();
      saveEdit();
    }
  });
  cancel.addEventListener("click", () => closeEditor(true));
  save.addEventListener("click", saveEdit);
  refreshLastActions();
  updateEditorState();
  autoGrow(input);
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
}

/** @param {boolean} restoreFocus */
function closeEditor(restoreFocus) {
  const element = state.editing ? findMessage(state.editing.messageId) : null;
  state.editing = null;
  for (const editor of Array.from(els.messages.querySelectorAll(".msg-editor"))) editor.remove();
  for (const editing of Array.from(els.messages.querySelectorAll(".msg.is-editing"))) editing.classList.remove("is-editing");
  refreshLastActions();
  if (restoreFocus) {
    const button = element && /** @type {HTMLButtonElement | null} */ (element.querySelector(".edit-message"));
    (button || els.composer).focus();
  }
}

function saveEdit() {
  const input = /** @type {HTMLTextAreaElement | null} */ (els.messages.querySelector(".edit-input"));
  if (!input || view.conversationId === null || pending.has()) return;
  const checked = validateMessage(input.value, state.limits.max_text);
  if (!checked.ok) {
    showError(checked.message, checked.code);
    return;
  }
  if (!socket.isOpen()) {
    showError(t("not_connected"), "disconnected");
    return;
  }
  const messageId = state.editing ? state.editing.messageId : null;
  const requestId = trackRequest("edit", input.value, messageId);
  socket.send(editFrame({ requestId, conversationId: view.conversationId, text: input.value, messageId }));
}

function updateEditorState() {
  const save = /** @type {HTMLButtonElement | null} */ (els.messages.querySelector(".edit-save"));
  if (save) save.disabled = pending.has();
}

// A redraw (reconnect, refresh) must not lose what is being typed in the editor.
function captureEditor() {
  const input = /** @type {HTMLTextAreaElement | null} */ (els.messages.querySelector(".edit-input"));
  return state.editing && input ? { messageId: state.editing.messageId, value: String(input.value) } : null;
}

/** @param {{messageId: number, value: string} | null} saved */
function restoreEditor(saved) {
  state.editing = null;
  if (!saved) return;
  const element = findMessage(saved.messageId);
  if (element && element === lastOf(".message-list > .msg[data-role='user']") && !isRunning()) {
    openEditor(element, saved.value);
  } else if (saved.value.trim()) {
    // The message can no longer be edited (another reply started): keep the text in the composer.
    const current = els.composer.value;
    els.composer.value = current.trim() ? current + "\n\n" + saved.value : saved.value;
    onComposerInput();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Notice banner

function renderNotice() {
  const notice = state.notice;
  const show = Boolean(notice) && !notice.acknowledged && notice.version !== state.ackedVersion;
  els.notice.hidden = !show;
  if (!show) return;
  setSafeHtml(els.noticeText, notice.html || "");
  els.noticeAck.dataset.version = String(notice.version);
}

/** @param {any} frame */
function onNoticeUpdated(frame) {
  state.notice = frame.notice || null;
  renderNotice();
}

function acknowledgeNotice() {
  if (!state.notice) return;
  const version = state.notice.version;
  state.ackedVersion = version;
  renderNotice();
  if (!socket.send({ type: "notice.ack", version })) state.pendingAck = version; // sent when the socket opens
  els.composer.focus();
}

// ---------------------------------------------------------------------------------------------------------------
// Scrolling, empty state, sidebar on small screens

function isNearBottom() {
  const s = els.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < STICK_TO_BOTTOM_PX;
}

function scrollToBottom() {
  state.stickToBottom = true;
  els.scroller.scrollTop = els.scroller.scrollHeight;
  els.scrollBottom.hidden = true;
}

// Follow a streaming answer only when the reader is already at the bottom.
function followBottom() {
  if (state.stickToBottom) els.scroller.scrollTop = els.scroller.scrollHeight;
  else els.scrollBottom.hidden = false;
}

function onScroll() {
  state.stickToBottom = isNearBottom();
  els.scrollBottom.hidden = state.stickToBottom;
}

function updateEmptyState() {
  els.empty.hidden = els.messages.childElementCount > 0 || !view.loaded;
}

function openSidebar() {
  els.app.dataset.sidebar = "open";
  els.scrim.hidden = false;
  els.sidebarToggle.setAttribute("aria-expanded", "true");
  els.search.focus();
}

function closeSidebar() {
  if (els.app.dataset.sidebar !== "open") return;
  els.app.dataset.sidebar = "closed";
  els.scrim.hidden = true;
  els.sidebarToggle.setAttribute("aria-expanded", "false");
}

// ---------------------------------------------------------------------------------------------------------------
// Wiring

function bindEvents() {
  els.composer.addEventListener("input", onComposerInput);
  els.composer.addEventListener("keydown", onComposerKeydown);
  els.form.addEventListener("submit", (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    sendMessage();
    els.composer.focus();
  });
  els.stop.addEventListener("click", stopReply);
  els.messages.addEventListener("click", onMessageListClick);
  els.scroller.addEventListener("scroll", onScroll, { passive: true });
  els.scrollBottom.addEventListener("click", () => {
    scrollToBottom();
    els.composer.focus();
  });

  els.newChat.addEventListener("click", () => {
    if (view.conversationId === null && els.messages.childElementCount === 0) {
      closeSidebar();
      els.composer.focus();
      return;
    }
    startNewChat({ push: true });
  });
  sidebar.bind();

  header.bind();
  library.bind();
  els.noticeAck.addEventListener("click", acknowledgeNotice);

  els.sidebarToggle.addEventListener("click", () => {
    if (els.app.dataset.sidebar === "open") closeSidebar();
    else openSidebar();
  });
  els.scrim.addEventListener("click", closeSidebar);
  document.addEventListener("keydown", (event) => {
    const inDialog = event.target instanceof Element && event.target.closest("dialog"); // Escape closes the dialog only
    if (event.key === "Escape" && !event.defaultPrevented && !inDialog && els.app.dataset.sidebar === "open") closeSidebar();
  });

  window.addEventListener("popstate", (event) => {
    const fromState = event.state && "conversationId" in event.state;
    const id = fromState ? event.state.conversationId : conversationIdFromPath(config.urls, window.location.pathname);
    if (id === view.conversationId) return;
    if (id === null) startNewChat();
    else openConversation(id);
  });
  window.addEventListener("online", () => socket.reconnectNow());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") socket.reconnectNow();
  });
  window.setInterval(() => sidebar.refreshTimes(), 60000);
}

function init() {
  els = collectElements();
  if (!els.app) return;
  files = new FileTray({
    form: els.form,
    composer: els.composer,
    tray: els.fileTray,
    button: els.attachButton,
    input: els.fileInput,
    urls: config.urls,
    onChange: () => updateComposerState(),
  });
  sidebar = new Sidebar({
    list: els.list,
    empty: els.listEmpty,
    search: els.search,
    newFolder: els.newFolder,
    urls: config.urls,
    activeId: () => view.conversationId,
    onOpen: (id) => openConversation(id, { push: true }),
    onClose: () => closeSidebar(),
    onDeleted: (id) => {
      if (id === view.conversationId) startNewChat({ replace: true });
    },
    onTitle: (id, title) => {
      if (id === view.conversationId && state.conversation) {
        state.conversation.title = title;
        header.update();
      }
    },
    onError: (message, code) => showError(message, code),
  });
  header = new ConversationHeader({
    els,
    urls: config.urls,
    defaultModelId: config.default_model_id,
    models: config.models,
    state,
    view,
    onError: (message, code) => showError(message, code),
  });
  library = new PromptLibrary({
    composer: els.composer,
    picker: els.promptPicker,
    button: els.promptsButton,
    manageButton: els.managePrompts,
    dialogHost: els.app,
    urls: config.urls,
    onComposerChanged: onComposerInput,
    onError: (message, code) => showError(message, code),
  });
  document.body.dataset.socket = "closed";
  bindEvents();
  renderNotice();
  onComposerInput();
  const initial = isInt(config.conversation_id) ? config.conversation_id : null;
  window.history.replaceState({ conversationId: initial }, "", window.location.href);
  if (initial !== null) openConversation(initial);
  else startNewChat();
  sidebar.load();
  socket.connect();
  // For debugging in the browser's console, and for tests.
  globals.OfficeChat = {
    state,
    view,
    config,
    send: (/** @type {unknown} */ frame) => socket.send(frame),
    reconnect: () => {
      socket.drop();
      socket.reconnectNow();
    },
  };
}

// A module runs after the document is parsed; still, be safe when loaded some other way.
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
