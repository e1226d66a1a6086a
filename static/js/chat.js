// Office AI chat page: sidebar, conversation view, composer and the websocket client (docs/websocket-protocol.md).
// Plain ES2020, no framework. Everything dynamic comes from the `chat-config` JSON element rendered by the view.
// Only server-sanitised HTML (message `html`, notice `html`) is ever assigned to innerHTML; everything else is text.
(() => {
  "use strict";

  // Every user-visible string, with its English source. The view sends translations in chat_config.i18n;
  // a missing key falls back to the English here. Placeholders in {braces} must be kept as they are.
  const DEFAULT_STRINGS = {
    new_chat: "New chat",
    no_conversations: "No chats yet",
    no_results: "No chats match your search",
    rename: "Rename",
    rename_label: "New title",
    delete: "Delete",
    confirm_delete: "Delete “{title}”? This cannot be undone.",
    system_prompt_too_long: "The system prompt is too long: {count} characters, the limit is {max}.",
    message_too_long: "Your message is too long: {count} characters, the limit is {max}. Shorten it and send again.",
    message_empty: "Write a message first.",
    char_count: "{count} / {max}",
    connecting: "Connecting…",
    reconnecting: "Reconnecting…",
    connected: "Connected",
    not_connected: "Not connected. Your text is kept: send it again when the connection is back.",
    session_ended: "Your session has ended (signed out, or your access was removed). Copy any text you want to keep, then reload the page.",
    send_unconfirmed: "The connection dropped before your message was confirmed. Your text is kept; check the chat before sending it again.",
    no_reply: "The server did not confirm your message. Your text is kept; try again.",
    regenerate: "Regenerate",
    regenerate_label: "Regenerate this answer",
    edit: "Edit",
    edit_label: "Edit your last message",
    edit_input_label: "Your message",
    save_and_send: "Save and send",
    cancel: "Cancel",
    retry: "Retry",
    copy: "Copy",
    copy_code: "Copy code",
    copy_answer: "Copy answer",
    copied: "Copied",
    copy_failed: "Could not copy",
    previous_answer: "Previous answer",
    context_trimmed: "Earlier messages were left out to fit the model's context window.",
    status_stopped: "Stopped",
    status_error: "Error",
    status_prompt_filtered: "Blocked by the content filter",
    status_completion_filtered: "Cut by the content filter",
    status_truncated: "Cut off",
    status_length: "Reached the length limit",
    answer_failed: "The model could not answer.",
    error_generic: "Something went wrong. Please try again.",
    error_network: "The server cannot be reached. Check your connection and try again.",
    error_session: "Your session has ended. Reload the page to sign in again.",
    error_load: "Could not load this chat.",
    error_list: "Could not load your chats.",
    conversation_not_found: "This chat does not exist or was deleted.",
    dismiss: "Dismiss",
    you: "You",
    assistant: "Office AI",
  };

  const RECONNECT_MIN_MS = 500;
  const RECONNECT_MAX_MS = 10000;
  const HEARTBEAT_MS = 25000; // ping when the socket has been quiet this long (keeps proxies from idling it out)
  const PONG_TIMEOUT_MS = 10000; // no frame at all this long after a ping: the connection is dead
  const ACCEPT_TIMEOUT_MS = 20000;
  const REJOIN_TIMEOUT_MS = 5000; // a rejoin that brings no snapshot: reload the conversation instead
  const SEARCH_DEBOUNCE_MS = 250;
  const STICK_TO_BOTTOM_PX = 80;
  const COUNTER_FROM = 0.9; // show the character counter from 90 % of the limit
  const ERROR_STATUSES = new Set(["error", "prompt_filtered"]);
  const BADGE_STATUSES = new Set(["stopped", "error", "prompt_filtered", "completion_filtered", "truncated", "length"]);

  // ---------------------------------------------------------------------------------------------------------------
  // Configuration and small helpers

  const config = readConfig();
  const lang = document.documentElement.lang || navigator.language || "en";

  function readConfig() {
    const element = document.getElementById("chat-config");
    let parsed = {};
    try {
      parsed = JSON.parse(element ? element.textContent : "{}") || {};
    } catch (err) {
      console.error("chat: bad chat-config", err);
    }
    return {
      ws_url: "/ws/",
      conversation_id: null,
      models: [],
      default_model_id: null,
      csrf_token: "",
      notice: null,
      i18n: {},
      ...parsed,
      limits: { max_text: 32000, max_system_prompt: 8000, ...(parsed.limits || {}) },
      urls: parsed.urls || {},
    };
  }

  function t(key, params) {
    let text = (config.i18n && config.i18n[key]) || DEFAULT_STRINGS[key] || key;
    if (params) {
      text = text.replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
    }
    return text;
  }

  const $ = (id) => document.getElementById(id);

  // Builds an element. Attributes are set as attributes (never as HTML); children are nodes or text.
  function h(tag, attrs, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") element.className = value;
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
  };

  function icon(name) {
    const holder = document.createElement("span");
    holder.className = "icon";
    holder.setAttribute("aria-hidden", "true");
    holder.innerHTML =
      '<svg viewBox="0 0 24 24" width="16" height="16" fill="none" stroke="currentColor" stroke-width="2" ' +
      'stroke-linecap="round" stroke-linejoin="round">' + ICONS[name] + "</svg>";
    return holder;
  }

  // "/api/conversations/0/rename/" → "/api/conversations/42/rename/"
  function urlFor(name, id) {
    const template = config.urls[name] || "";
    return id === null || id === undefined ? template : template.replace("/0/", "/" + encodeURIComponent(id) + "/");
  }

  function conversationIdFromPath(pathname) {
    const template = config.urls.page || "/c/0/";
    const cut = template.indexOf("/0/");
    if (cut < 0) return null;
    const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const pattern = new RegExp("^" + escape(template.slice(0, cut)) + "/(\\d+)/" + escape(template.slice(cut + 3)) + "$");
    const match = pattern.exec(pathname);
    return match ? Number(match[1]) : null;
  }

  // Code points, like the server (JavaScript's .length counts UTF-16 units).
  function codePointLength(text) {
    let count = 0;
    for (const _ of text) count += 1; // eslint-disable-line no-unused-vars
    return count;
  }

  function dropCodePoints(text, count) {
    if (count <= 0) return text;
    let index = 0;
    let dropped = 0;
    for (const ch of text) {
      if (dropped === count) break;
      index += ch.length;
      dropped += 1;
    }
    return text.slice(index);
  }

  // crypto.randomUUID only exists in secure contexts; intranet pages may be plain http.
  function newRequestId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function" && window.isSecureContext) {
      return window.crypto.randomUUID();
    }
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  function isInt(value) {
    return Number.isInteger(value);
  }

  // Enter that confirms an IME conversion (Japanese input) must never act. Chrome and Firefox mark its keydown with
  // isComposing; Safari fires compositionend first and then the keydown with isComposing false but keyCode 229.
  // The key event alone decides: a flag kept from composition events would race a quick real Enter (the keydown
  // can be dispatched before a timer that clears the flag).
  function isImeEnter(event) {
    return event.isComposing || event.keyCode === 229;
  }

  function debounce(fn, wait) {
    let timer = null;
    return (...args) => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => fn(...args), wait);
    };
  }

  function relativeTime(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
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

  // ---------------------------------------------------------------------------------------------------------------
  // State and elements

  const state = {
    conversationId: null, // the open conversation (null: a new chat not yet sent)
    conversation: null, // {id, title, system_prompt, model_version_id, updated_at}
    loaded: false, // the open conversation's messages are on screen (join only then)
    viewToken: 0, // bumps on every switch; stale loads and accepts compare against it
    refreshing: false,
    refreshAgain: false,
    conversations: [],
    query: "",
    listToken: 0,
    renaming: null, // {id, value}
    renderingList: false,
    streams: new Map(), // assistant message id → {id, el, node, end, done, awaitingSnapshot, rejoinTimer}
    pending: new Map(), // request_id → {kind, conversationId, text, viewToken, timer, timedOut}
    editing: null, // {messageId}
    draftSystemPrompt: "", // for a new chat: sent with the first chat.send
    notice: config.notice,
    ackedVersion: null,
    pendingAck: null,
    limits: { ...config.limits },
    stickToBottom: true,
  };

  const contentOf = new WeakMap(); // message element → raw text (for copy and edit)

  let els = {};

  function collectElements() {
    els = {
      app: $("chat-app"),
      sidebar: $("chat-sidebar"),
      scrim: $("sidebar-scrim"),
      sidebarToggle: $("sidebar-toggle"),
      newChat: $("new-chat"),
      search: $("conversation-search"),
      list: $("conversation-list"),
      listEmpty: $("conversation-empty"),
      title: $("chat-title"),
      connection: $("connection-status"),
      picker: $("model-picker"),
      systemButton: $("system-prompt-button"),
      systemPanel: $("system-prompt-panel"),
      systemInput: $("system-prompt-input"),
      systemSave: $("system-prompt-save"),
      systemCancel: $("system-prompt-cancel"),
      systemCounter: $("system-prompt-counter"),
      exportLinks: $("export-links"),
      exportMd: $("export-md"),
      exportJson: $("export-json"),
      notice: $("notice-banner"),
      noticeText: $("notice-text"),
      noticeAck: $("notice-ack"),
      scroller: $("chat-scroll"),
      empty: $("chat-empty"),
      messages: $("message-list"),
      scrollBottom: $("scroll-bottom"),
      toasts: $("toast-region"),
      form: $("composer-form"),
      composer: $("composer"),
      counter: $("composer-counter"),
      send: $("send"),
      stop: $("stop"),
    };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // JSON API

  class ApiError extends Error {
    constructor(status, message, code) {
      super(message);
      this.status = status;
      this.code = code || "";
    }
  }

  async function api(method, url, body) {
    const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = config.csrf_token;
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

  // ---------------------------------------------------------------------------------------------------------------
  // Errors (toasts above the composer)

  function showError(message, code) {
    const text = message || t("error_generic");
    for (const existing of els.toasts.querySelectorAll(".toast")) {
      if (existing.dataset.message === text) existing.remove(); // re-show at the end instead of stacking copies
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

  const socket = { ws: null, attempt: 0, timer: null, everOpened: false, heartbeat: null, lastFrameAt: 0, ended: false };

  function socketUrl() {
    const url = new URL(config.ws_url || "/ws/", window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  function isOpen() {
    return socket.ws !== null && socket.ws.readyState === WebSocket.OPEN;
  }

  function sendFrame(frame) {
    if (!isOpen()) return false;
    socket.ws.send(JSON.stringify(frame));
    return true;
  }

  function connectSocket() {
    window.clearTimeout(socket.timer);
    socket.timer = null;
    if (socket.ws) return;
    setConnectionState(socket.everOpened ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (err) {
      scheduleReconnect();
      return;
    }
    socket.ws = ws;
    ws.onopen = () => {
      if (ws === socket.ws) onSocketOpen();
    };
    ws.onmessage = (event) => {
      if (ws === socket.ws) onFrame(event.data);
    };
    ws.onclose = () => {
      if (ws === socket.ws) onSocketLost();
    };
  }

  function onSocketOpen() {
    const reconnected = socket.everOpened;
    socket.everOpened = true;
    socket.lastFrameAt = Date.now();
    document.body.dataset.socket = "open";
    setConnectionState("open");
    startHeartbeat();
    if (state.pendingAck !== null && sendFrame({ type: "notice.ack", version: state.pendingAck })) {
      state.pendingAck = null;
    }
    if (state.conversationId !== null && state.loaded) {
      joinConversation();
      // Frames sent while we were away (a chat.done, another tab's message) are gone: reconcile with the API.
      if (reconnected) refreshConversation();
    }
    updateComposerState();
  }

  function onSocketLost() {
    socket.ws = null;
    stopHeartbeat();
    document.body.dataset.socket = "closed";
    setConnectionState("reconnecting");
    failPendingRequests();
    scheduleReconnect();
  }

  // Close a socket that looks dead without waiting for the browser's closing handshake.
  function dropSocket() {
    const ws = socket.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close();
    } catch (err) {
      /* already closed */
    }
    onSocketLost();
  }

  function scheduleReconnect() {
    if (socket.timer !== null || socket.ended) return;
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** socket.attempt);
    socket.attempt += 1;
    socket.timer = window.setTimeout(connectSocket, delay);
  }

  function reconnectNow() {
    if (socket.ws) return;
    socket.attempt = 0;
    window.clearTimeout(socket.timer);
    socket.timer = null;
    connectSocket();
  }

  function startHeartbeat() {
    stopHeartbeat();
    socket.heartbeat = window.setInterval(() => {
      if (!isOpen() || Date.now() - socket.lastFrameAt < HEARTBEAT_MS) return;
      const sentAt = Date.now();
      sendFrame({ type: "ping" });
      window.setTimeout(() => {
        if (isOpen() && socket.lastFrameAt < sentAt) dropSocket();
      }, PONG_TIMEOUT_MS);
    }, HEARTBEAT_MS / 5);
  }

  function stopHeartbeat() {
    window.clearInterval(socket.heartbeat);
    socket.heartbeat = null;
  }

  function setConnectionState(connection) {
    els.connection.dataset.state = connection;
    els.connection.textContent = t(connection === "open" ? "connected" : connection);
    els.connection.hidden = connection === "open";
  }

  const FRAME_HANDLERS = {
    "session.ready": onSessionReady,
    pong: () => {},
    "chat.accepted": onAccepted,
    "chat.snapshot": (frame) => applyStreamText(frame, true),
    "chat.delta": (frame) => applyStreamText(frame, false),
    "chat.done": onDone,
    "conversation.updated": onConversationUpdated,
    "notice.updated": onNoticeUpdated,
    "session.ended": onSessionEnded,
    error: onErrorFrame,
  };

  // The account ended (signed out elsewhere, deactivated): stop reconnecting and say so. No reload: text typed in
  // the composer stays until the person has copied what they want.
  function onSessionEnded() {
    socket.ended = true;
    window.clearTimeout(socket.timer);
    showError(t("session_ended"), "session_ended");
  }

  function onFrame(data) {
    socket.lastFrameAt = Date.now();
    let frame;
    try {
      frame = JSON.parse(data);
    } catch (err) {
      return;
    }
    if (!frame || typeof frame.type !== "string") return;
    const handler = FRAME_HANDLERS[frame.type];
    if (!handler) return;
    try {
      handler(frame);
    } catch (err) {
      console.error("chat: frame", frame.type, err);
    }
  }

  function onSessionReady(frame) {
    socket.attempt = 0; // a real session: the next drop starts the backoff from the bottom again
    if (frame.limits) state.limits = { ...state.limits, ...frame.limits };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Joining and streaming

  function latestStream() {
    let latest = null;
    for (const stream of state.streams.values()) {
      if (!stream.done && (latest === null || stream.id > latest.id)) latest = stream;
    }
    return latest;
  }

  function isRunning() {
    return latestStream() !== null;
  }

  function joinConversation() {
    if (state.conversationId === null || !state.loaded) return;
    const stream = latestStream();
    sendFrame({
      type: "chat.join",
      conversation_id: state.conversationId,
      after: stream ? { message_id: stream.id, end: stream.end } : null,
    });
  }

  function leaveConversation() {
    if (state.conversationId !== null) sendFrame({ type: "chat.leave", conversation_id: state.conversationId });
  }

  // A gap in the text: ask again from what we have. One rejoin at a time; if no snapshot follows, reload.
  function requestRejoin(stream) {
    if (stream.awaitingSnapshot) return;
    stream.awaitingSnapshot = true;
    sendFrame({
      type: "chat.join",
      conversation_id: state.conversationId,
      after: { message_id: stream.id, end: stream.end },
    });
    window.clearTimeout(stream.rejoinTimer);
    stream.rejoinTimer = window.setTimeout(() => {
      if (stream.awaitingSnapshot && !stream.done) {
        stream.awaitingSnapshot = false;
        refreshConversation();
      }
    }, REJOIN_TIMEOUT_MS);
  }

  function isStreamFrame(frame) {
    return (
      isInt(frame.conversation_id) &&
      isInt(frame.message_id) &&
      isInt(frame.offset) &&
      isInt(frame.end) &&
      typeof frame.text === "string"
    );
  }

  // chat.snapshot and chat.delta: the offset rules of the protocol. `end` is always the server's number.
  function applyStreamText(frame, isSnapshot) {
    if (!isStreamFrame(frame) || frame.conversation_id !== state.conversationId || !state.loaded) return;
    let stream = state.streams.get(frame.message_id);
    if (!stream) {
      const element = findMessage(frame.message_id);
      if (!element) {
        // A reply we have not seen start (another tab, or a regenerate): fetch the conversation to place it.
        scheduleRefresh();
        return;
      }
      if (element.dataset.status !== "streaming") return; // already finished: a late frame
      stream = startStreaming(element, { text: "", end: 0 });
    }
    if (stream.done) return;
    if (isSnapshot) {
      stream.awaitingSnapshot = false;
      window.clearTimeout(stream.rejoinTimer);
      if (frame.model && frame.model.label) setModelLabel(stream.el, frame.model.label);
    }
    if (frame.end <= stream.end) return; // nothing we do not have
    if (frame.offset > stream.end) {
      requestRejoin(stream);
      return;
    }
    const fresh = frame.offset < stream.end ? dropCodePoints(frame.text, stream.end - frame.offset) : frame.text;
    stream.node.appendData(fresh);
    stream.end = frame.end;
    stream.textEl.classList.remove("is-waiting");
    followBottom();
  }

  function onDone(frame) {
    if (!isInt(frame.message_id) || frame.conversation_id !== state.conversationId || !state.loaded) return;
    const stream = state.streams.get(frame.message_id);
    const element = stream ? stream.el : findMessage(frame.message_id);
    if (!element) {
      scheduleRefresh();
      return;
    }
    const hadFocusOnStop = document.activeElement === els.stop;
    if (stream) {
      stream.done = true;
      window.clearTimeout(stream.rejoinTimer);
      contentOf.set(element, stream.node.data);
      state.streams.delete(stream.id);
    }
    finishAssistant(element, {
      status: frame.status || "ok",
      html: typeof frame.html === "string" ? frame.html : "",
      modelLabel: frame.model_label,
      error: frame.error,
      contextTrimmed: frame.context_trimmed,
    });
    refreshLastActions();
    updateRunningUi();
    if (hadFocusOnStop) els.composer.focus();
    followBottom();
    document.dispatchEvent(new CustomEvent("officeai:answer-done", { detail: { messageId: frame.message_id } }));
  }

  function onAccepted(frame) {
    const pending = state.pending.get(frame.request_id);
    if (!pending || !frame.conversation || !isInt(frame.conversation.id)) return;
    state.pending.delete(frame.request_id);
    window.clearTimeout(pending.timer);
    clearErrors(); // earlier failures are moot once a request went through
    const conversation = frame.conversation;
    upsertConversation({ ...conversation, model_label: frame.model && frame.model.label });

    if (pending.kind === "send") {
      // Only now is the text safe on the server: clear it (unless the person already typed something else).
      if (els.composer.value === pending.text) {
        els.composer.value = "";
        onComposerInput();
      }
      if (pending.conversationId === null) {
        if (state.conversationId === null && pending.viewToken === state.viewToken) {
          adoptNewConversation(conversation, frame.model);
        } else {
          sendFrame({ type: "chat.leave", conversation_id: conversation.id }); // the person moved on
        }
      }
    }
    updateComposerState();
    if (conversation.id !== state.conversationId || !state.loaded) return;

    state.conversation = { ...state.conversation, ...conversation };
    updateHeader();
    const userMessage = frame.user_message || {};
    let userEl = isInt(userMessage.id) ? findMessage(userMessage.id) : null;
    if (pending.kind === "send" && !userEl && isInt(userMessage.id)) {
      userEl = buildUserMessage(userMessage);
      appendMessage(userEl, false);
    } else if (userEl && pending.kind === "edit") {
      setUserContent(userEl, userMessage);
    }
    if (pending.kind === "edit") {
      closeEditor(false);
      els.composer.focus();
    }
    if (pending.kind !== "send") {
      supersedeAnswersAfter(userEl || lastOf(".message-list > .msg[data-role='user']"), frame.assistant_message_id);
    }
    if (isInt(frame.assistant_message_id) && !findMessage(frame.assistant_message_id)) {
      const assistant = buildAssistantMessage({
        id: frame.assistant_message_id,
        status: "streaming",
        modelLabel: frame.model && frame.model.label,
      });
      appendMessage(assistant, false);
      startStreaming(assistant, { text: "", end: 0 });
    }
    refreshLastActions();
    updateRunningUi();
    updateEmptyState();
    scrollToBottom();
  }

  function adoptNewConversation(conversation, model) {
    state.conversationId = conversation.id;
    state.conversation = {
      id: conversation.id,
      title: conversation.title,
      updated_at: conversation.updated_at,
      system_prompt: state.draftSystemPrompt,
      model_version_id: model && isInt(model.id) ? model.id : pickerValue(),
    };
    state.draftSystemPrompt = "";
    state.loaded = true;
    window.history.pushState({ conversationId: conversation.id }, "", urlFor("page", conversation.id));
    highlightActiveConversation();
    updateHeader();
  }

  function onErrorFrame(frame) {
    const pending = frame.request_id ? state.pending.get(frame.request_id) : null;
    if (pending) {
      state.pending.delete(frame.request_id);
      window.clearTimeout(pending.timer);
      updateComposerState();
      updateEditorState();
      // Someone (another tab) is already answering here: show that reply.
      if (frame.code === "busy" && pending.conversationId === state.conversationId) scheduleRefresh();
    }
    showError(frame.message || t("error_generic"), frame.code);
  }

  function onConversationUpdated(frame) {
    const conversation = frame.conversation;
    if (!conversation || !isInt(conversation.id)) return;
    upsertConversation(conversation);
    if (conversation.id === state.conversationId && state.conversation) {
      state.conversation = { ...state.conversation, ...conversation };
      updateHeader();
    }
  }

  // The socket may drop between a send and its chat.accepted: we cannot know whether it arrived.
  function failPendingRequests() {
    let unconfirmed = false;
    for (const pending of state.pending.values()) {
      window.clearTimeout(pending.timer);
      if (!pending.timedOut) unconfirmed = true;
    }
    state.pending.clear();
    if (unconfirmed) showError(t("send_unconfirmed"), "disconnected");
    updateComposerState();
    updateEditorState();
  }

  function trackRequest(requestId, kind, text) {
    const pending = { kind, text, conversationId: state.conversationId, viewToken: state.viewToken, timedOut: false };
    pending.timer = window.setTimeout(() => {
      // Keep the entry: a late chat.accepted still clears the composer. Just give the controls back.
      pending.timedOut = true;
      updateComposerState();
      updateEditorState();
      showError(t("no_reply"), "timeout");
    }, ACCEPT_TIMEOUT_MS);
    state.pending.set(requestId, pending);
    updateComposerState();
    updateEditorState();
  }

  function hasPending(kind) {
    for (const pending of state.pending.values()) {
      if (!pending.timedOut && (!kind || pending.kind === kind)) return true;
    }
    return false;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Loading and switching conversations

  async function openConversation(id, { push = false } = {}) {
    closeSidebar();
    if (id === null) {
      startNewChat({ push });
      return;
    }
    leaveConversation();
    resetConversationView();
    state.conversationId = id;
    state.conversation = null;
    state.loaded = false;
    const token = ++state.viewToken;
    if (push) window.history.pushState({ conversationId: id }, "", urlFor("page", id));
    highlightActiveConversation();
    updateHeader();
    updateEmptyState();
    els.scroller.classList.add("is-loading");
    els.messages.setAttribute("aria-busy", "true");
    let data;
    try {
      data = await api("GET", urlFor("conversation", id));
    } catch (err) {
      if (token !== state.viewToken) return;
      els.scroller.classList.remove("is-loading");
      els.messages.removeAttribute("aria-busy");
      if (err.status === 404) {
        startNewChat({ replace: true });
        showError(t("conversation_not_found"), "not_found");
      } else {
        showError(err.status ? err.message : t("error_load"), err.code);
      }
      return;
    }
    if (token !== state.viewToken) return;
    els.scroller.classList.remove("is-loading");
    els.messages.removeAttribute("aria-busy");
    renderConversation(data);
    state.loaded = true;
    joinConversation();
    els.composer.focus();
  }

  function startNewChat({ push = false, replace = false } = {}) {
    closeSidebar();
    leaveConversation();
    resetConversationView();
    state.viewToken += 1;
    state.conversationId = null;
    state.conversation = null;
    state.loaded = true;
    state.draftSystemPrompt = "";
    const home = config.urls.home || "/";
    if (push) window.history.pushState({ conversationId: null }, "", home);
    if (replace) window.history.replaceState({ conversationId: null }, "", home);
    syncModelPicker(null);
    highlightActiveConversation();
    updateHeader();
    updateEmptyState();
    updateRunningUi();
    els.composer.focus();
  }

  function resetConversationView() {
    for (const stream of state.streams.values()) window.clearTimeout(stream.rejoinTimer);
    state.streams.clear();
    state.editing = null;
    els.messages.replaceChildren();
    clearErrors();
    closeSystemPanel(false);
    state.stickToBottom = true;
    updateRunningUi();
  }

  // Re-read the open conversation (after a reconnect, an unknown reply, a failed rejoin) and redraw it,
  // keeping live text that is ahead of what the server has saved so far.
  async function refreshConversation() {
    const id = state.conversationId;
    if (id === null || !state.loaded) return;
    if (state.refreshing) {
      state.refreshAgain = true;
      return;
    }
    state.refreshing = true;
    const token = state.viewToken;
    try {
      const data = await api("GET", urlFor("conversation", id));
      if (token === state.viewToken && id === state.conversationId) renderConversation(data);
    } catch (err) {
      if (token === state.viewToken && err.status === 404) {
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

  function renderConversation(data) {
    const conversation = data.conversation || {};
    state.conversation = conversation;
    updateHeader();
    syncModelPicker(conversation.model_version_id);
    updateSystemButton();

    const wasAtBottom = state.stickToBottom;
    const scrollTop = els.scroller.scrollTop;
    const editor = captureEditor();
    const openPrevious = new Set(
      Array.from(els.messages.querySelectorAll("details.superseded[open] .msg"), (el) => el.dataset.messageId),
    );
    const running = data.running && isInt(data.running.message_id) ? data.running : null;
    const previousStreams = state.streams;
    state.streams = new Map();
    els.messages.replaceChildren();

    for (const message of data.messages || []) {
      const isRunning = running !== null && running.message_id === message.id && message.role === "assistant";
      if (message.role === "user") {
        appendMessage(buildUserMessage(message), false);
        continue;
      }
      const element = buildAssistantMessage({
        id: message.id,
        status: isRunning ? "streaming" : message.status,
        modelLabel: message.model_label,
        contextTrimmed: message.context_trimmed,
      });
      appendMessage(element, Boolean(message.superseded));
      if (isRunning) {
        const previous = previousStreams.get(message.id);
        const base =
          previous && !previous.done && previous.end >= running.end
            ? { text: previous.node.data, end: previous.end }
            : { text: message.content || "", end: running.end };
        startStreaming(element, base);
      } else {
        contentOf.set(element, message.content || "");
        finishAssistant(element, {
          status: message.status,
          html: message.html || "",
          modelLabel: message.model_label,
          error: message.error,
          contextTrimmed: message.context_trimmed,
        });
      }
      if (openPrevious.has(String(message.id))) {
        const details = element.closest("details");
        if (details) details.open = true;
      }
    }
    for (const stream of previousStreams.values()) window.clearTimeout(stream.rejoinTimer);

    refreshLastActions();
    restoreEditor(editor);
    updateRunningUi();
    updateEmptyState();
    if (wasAtBottom) scrollToBottom();
    else els.scroller.scrollTop = scrollTop;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Message elements

  function findMessage(id) {
    return els.messages.querySelector('.msg[data-message-id="' + Number(id) + '"]');
  }

  function lastOf(selector) {
    const all = els.messages.querySelectorAll(selector);
    return all.length ? all[all.length - 1] : null;
  }

  function appendMessage(element, superseded) {
    els.messages.append(superseded ? wrapSuperseded(element) : element);
  }

  // Collapses an answer behind a "Previous answer" toggle, in place when it is already on the page.
  function wrapSuperseded(element) {
    const label = element.querySelector("[data-testid='model-label']");
    const summaryText = t("previous_answer") + (label && label.textContent ? " · " + label.textContent : "");
    const details = h("details", { class: "superseded" }, h("summary", {}, summaryText));
    if (element.parentNode) element.before(details);
    details.append(element);
    return details;
  }

  // After a regenerate or an edit the earlier answers stay in history, collapsed (not the new one).
  function supersedeAnswersAfter(userEl, keepId) {
    if (!userEl) return;
    let node = userEl.nextElementSibling;
    while (node) {
      const next = node.nextElementSibling;
      if (node.matches(".msg[data-role='assistant']") && Number(node.dataset.messageId) !== keepId) {
        wrapSuperseded(node);
      }
      node = next;
    }
  }

  function buildUserMessage(message) {
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

  function setUserContent(element, message) {
    const body = element.querySelector(".msg-body");
    if (typeof message.html === "string") body.innerHTML = message.html; // sanitised by the server
    else body.textContent = message.content || "";
    contentOf.set(element, message.content || body.textContent);
  }

  function buildAssistantMessage({ id, status, modelLabel, contextTrimmed }) {
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

  function setModelLabel(element, label) {
    const target = element.querySelector("[data-testid='model-label']");
    if (target && label) target.textContent = label;
  }

  function setContextNote(element, trimmed) {
    const existing = element.querySelector(".context-note");
    if (!(Number(trimmed) > 0)) {
      if (existing) existing.remove();
      return;
    }
    if (existing) return;
    const note = h("p", { class: "context-note", "data-testid": "context-note" }, t("context_trimmed"));
    element.querySelector(".msg-main").prepend(note);
  }

  // While a reply streams its text is shown as plain text (one Text node, appended to) with a cursor.
  function startStreaming(element, base) {
    const body = element.querySelector(".msg-body");
    const node = document.createTextNode(base.text);
    const textEl = h("div", { class: "stream-text" + (base.text ? "" : " is-waiting") }, node);
    body.replaceChildren(textEl);
    element.dataset.status = "streaming";
    element.setAttribute("aria-busy", "true"); // screen readers wait for the finished answer
    element.querySelector(".msg-badges").replaceChildren();
    const stream = {
      id: Number(element.dataset.messageId),
      el: element,
      node,
      textEl,
      end: base.end,
      done: false,
      awaitingSnapshot: false,
      rejoinTimer: null,
    };
    state.streams.set(stream.id, stream);
    return stream;
  }

  function finishAssistant(element, { status, html, modelLabel, error, contextTrimmed }) {
    const finalStatus = status || "ok";
    element.dataset.status = finalStatus;
    element.removeAttribute("aria-busy");
    const body = element.querySelector(".msg-body");
    body.innerHTML = html; // sanitised by the server
    enhanceRenderedHtml(body);
    if (modelLabel) setModelLabel(element, modelLabel);
    setContextNote(element, contextTrimmed);

    const badges = element.querySelector(".msg-badges");
    badges.replaceChildren();
    if (BADGE_STATUSES.has(finalStatus)) {
      badges.append(
        h(
          "span",
          { class: "badge badge-" + finalStatus, "data-testid": "status-badge", "data-status": finalStatus },
          t("status_" + finalStatus),
        ),
      );
    }
    const oldError = element.querySelector(".msg-error");
    if (oldError) oldError.remove();
    if (ERROR_STATUSES.has(finalStatus) || (error && error.message)) {
      const box = h(
        "div",
        { class: "msg-error", role: "alert", "data-testid": "answer-error", "data-code": (error && error.code) || "" },
        icon("alert"),
        h("p", {}, (error && error.message) || t("answer_failed")),
      );
      element.querySelector(".msg-meta").before(box);
    }
  }

  // Rendered answers: a header with the language and a Copy button on each code block, scrollable tables,
  // links opening in a new tab (the chat must not be navigated away).
  function enhanceRenderedHtml(body) {
    for (const pre of body.querySelectorAll("pre")) {
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
    for (const table of body.querySelectorAll("table")) {
      if (table.parentElement && table.parentElement.classList.contains("table-wrap")) continue;
      const wrapper = h("div", { class: "table-wrap" });
      table.replaceWith(wrapper);
      wrapper.append(table);
    }
    for (const link of body.querySelectorAll("a[href]")) {
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
    }
  }

  // Regenerate / Retry go on the last answer, Edit on the last user message; never while a reply runs.
  function refreshLastActions() {
    for (const node of els.messages.querySelectorAll("[data-last-action]")) node.remove();
    const running = isRunning();
    const busy = hasPending();
    const lastAnswer = lastOf(".message-list > .msg[data-role='assistant']");
    const lastUser = lastOf(".message-list > .msg[data-role='user']");

    for (const element of els.messages.querySelectorAll(".msg[data-role='assistant']")) {
      const actions = element.querySelector(".msg-actions");
      if (actions && !actions.querySelector(".copy-message") && element.dataset.status !== "streaming") {
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

    if (lastUser && !state.editing) {
      lastUser.querySelector(".msg-actions").append(
        h(
          "button",
          { type: "button", class: "icon-button edit-last", "data-testid": "edit-last", "data-last-action": "", "aria-label": t("edit_label"), title: t("edit"), disabled: busy },
          icon("pencil"),
        ),
      );
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

  function onMessageListClick(event) {
    const button = event.target.closest("button");
    if (!button || !els.messages.contains(button)) return;
    if (button.classList.contains("copy-code")) {
      const pre = button.closest(".code-block").querySelector("pre");
      copyWithFeedback(button, pre.textContent);
    } else if (button.classList.contains("copy-message")) {
      const element = button.closest(".msg");
      copyWithFeedback(button, contentOf.get(element) || element.querySelector(".msg-body").innerText);
    } else if (button.classList.contains("regenerate") || button.classList.contains("retry-button")) {
      regenerate();
    } else if (button.classList.contains("edit-last")) {
      openEditor(button.closest(".msg"));
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Copy to clipboard (the Clipboard API needs a secure context; intranet http pages fall back to execCommand)

  async function copyText(text) {
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
    if (focused && typeof focused.focus === "function") focused.focus();
    return copied;
  }

  async function copyWithFeedback(button, text) {
    const copied = await copyText(text);
    const label = button.querySelector(".copy-text");
    const original = t(button.classList.contains("copy-code") ? "copy" : "copy_answer");
    button.classList.toggle("is-copied", copied);
    button.classList.toggle("is-failed", !copied);
    button.querySelector(".icon").replaceWith(icon(copied ? "check" : "close"));
    if (label) label.textContent = t(copied ? "copied" : "copy_failed");
    button.setAttribute("aria-label", t(copied ? "copied" : "copy_failed"));
    window.clearTimeout(button._resetTimer);
    button._resetTimer = window.setTimeout(() => {
      button.classList.remove("is-copied", "is-failed");
      button.querySelector(".icon").replaceWith(icon("copy"));
      if (label) label.textContent = t("copy");
      button.setAttribute("aria-label", button.classList.contains("copy-code") ? t("copy_code") : original);
    }, 1600);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Composer

  function onComposerInput() {
    autoGrow(els.composer);
    updateCounter(els.composer.value, state.limits.max_text, els.counter);
    updateComposerState();
  }

  function autoGrow(textarea) {
    textarea.style.height = "auto";
    textarea.style.height = textarea.scrollHeight + 2 + "px";
  }

  // Counting code points is only needed near the limit (UTF-16 length ≥ code points).
  function updateCounter(text, max, counter) {
    if (text.length < max * COUNTER_FROM) {
      counter.hidden = true;
      counter.classList.remove("is-over");
      return;
    }
    const count = codePointLength(text.trim());
    counter.hidden = count < max * COUNTER_FROM;
    counter.textContent = t("char_count", { count: count.toLocaleString(lang), max: max.toLocaleString(lang) });
    counter.classList.toggle("is-over", count > max);
  }

  function updateComposerState() {
    const empty = els.composer.value.trim() === "";
    const sending = hasPending("send");
    els.send.disabled = empty || sending;
    els.send.classList.toggle("is-sending", sending);
    els.form.classList.toggle("is-sending", sending);
    for (const button of els.messages.querySelectorAll("[data-last-action]")) button.disabled = hasPending();
  }

  function updateRunningUi() {
    const running = isRunning();
    els.send.hidden = running;
    els.stop.hidden = !running;
    els.stop.disabled = false;
    els.app.dataset.running = running ? "true" : "false";
  }

  function onComposerKeydown(event) {
    if (event.key !== "Enter" || isImeEnter(event)) return;
    if (event.shiftKey || event.altKey) return; // a new line
    event.preventDefault();
    if (!isRunning()) sendMessage();
  }

  function sendMessage() {
    const raw = els.composer.value;
    const text = raw.trim();
    if (!text || isRunning() || hasPending("send")) return;
    const count = codePointLength(text);
    if (count > state.limits.max_text) {
      showError(t("message_too_long", { count: count.toLocaleString(lang), max: state.limits.max_text.toLocaleString(lang) }), "too_long");
      return;
    }
    if (!isOpen()) {
      showError(t("not_connected"), "disconnected");
      return;
    }
    const requestId = newRequestId();
    const frame = { type: "chat.send", request_id: requestId, conversation_id: state.conversationId, text: raw };
    const model = pickerValue();
    if (model !== null) frame.model_version_id = model;
    if (state.conversationId === null && state.draftSystemPrompt.trim()) frame.system_prompt = state.draftSystemPrompt;
    trackRequest(requestId, "send", raw);
    sendFrame(frame);
    state.stickToBottom = true;
    els.composer.focus();
  }

  function stopReply() {
    if (state.conversationId === null) return;
    if (!sendFrame({ type: "chat.stop", conversation_id: state.conversationId })) {
      showError(t("not_connected"), "disconnected");
      return;
    }
    els.stop.disabled = true; // until chat.done arrives
    window.setTimeout(() => {
      els.stop.disabled = false;
    }, 3000);
  }

  function regenerate() {
    if (state.conversationId === null || isRunning() || hasPending()) return;
    const requestId = newRequestId();
    const frame = { type: "chat.regenerate", request_id: requestId, conversation_id: state.conversationId };
    const model = pickerValue();
    if (model !== null) frame.model_version_id = model;
    if (!isOpen()) {
      showError(t("not_connected"), "disconnected");
      return;
    }
    trackRequest(requestId, "regenerate", "");
    sendFrame(frame);
    refreshLastActions();
    state.stickToBottom = true;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Editing the last user message

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
    input.addEventListener("keydown", (event) => {
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

  function closeEditor(restoreFocus) {
    const element = state.editing ? findMessage(state.editing.messageId) : null;
    state.editing = null;
    for (const editor of els.messages.querySelectorAll(".msg-editor")) editor.remove();
    for (const editing of els.messages.querySelectorAll(".msg.is-editing")) editing.classList.remove("is-editing");
    refreshLastActions();
    if (restoreFocus) {
      const button = element && element.querySelector(".edit-last");
      (button || els.composer).focus();
    }
  }

  function saveEdit() {
    const input = els.messages.querySelector(".edit-input");
    if (!input || state.conversationId === null || hasPending()) return;
    const text = input.value.trim();
    if (!text) {
      showError(t("message_empty"), "empty");
      return;
    }
    const count = codePointLength(text);
    if (count > state.limits.max_text) {
      showError(t("message_too_long", { count: count.toLocaleString(lang), max: state.limits.max_text.toLocaleString(lang) }), "too_long");
      return;
    }
    if (!isOpen()) {
      showError(t("not_connected"), "disconnected");
      return;
    }
    const requestId = newRequestId();
    trackRequest(requestId, "edit", input.value);
    sendFrame({ type: "chat.edit", request_id: requestId, conversation_id: state.conversationId, text: input.value });
  }

  function updateEditorState() {
    const save = els.messages.querySelector(".edit-save");
    if (save) save.disabled = hasPending();
  }

  // A redraw (reconnect, refresh) must not lose what is being typed in the editor.
  function captureEditor() {
    const input = els.messages.querySelector(".edit-input");
    return state.editing && input ? { messageId: state.editing.messageId, value: input.value } : null;
  }

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
  // Header: title, model picker, system prompt, export

  function updateHeader() {
    const title = (state.conversation && state.conversation.title) || t("new_chat");
    els.title.textContent = title;
    document.title = title + " · Office AI";
    const id = state.conversationId;
    els.exportLinks.hidden = id === null;
    if (id !== null) {
      els.exportMd.href = urlFor("export_md", id);
      els.exportJson.href = urlFor("export_json", id);
    }
    updateSystemButton();
  }

  function pickerValue() {
    const value = Number(els.picker.value);
    return els.picker.value !== "" && Number.isInteger(value) ? value : null;
  }

  function syncModelPicker(modelVersionId) {
    const wanted = isInt(modelVersionId) ? modelVersionId : config.default_model_id;
    const option = Array.from(els.picker.options).find((o) => o.value === String(wanted));
    if (option) {
      els.picker.value = option.value;
    } else if (config.default_model_id !== null) {
      els.picker.value = String(config.default_model_id);
    }
    els.picker.dataset.current = els.picker.value;
  }

  async function onModelChange() {
    const value = pickerValue();
    if (state.conversationId === null || !state.loaded || !state.conversation) {
      els.picker.dataset.current = els.picker.value; // used with the first message
      return;
    }
    const id = state.conversationId;
    els.picker.disabled = true;
    try {
      const data = await api("POST", urlFor("settings", id), {
        system_prompt: state.conversation.system_prompt || "",
        model_version_id: value,
      });
      if (id === state.conversationId) {
        state.conversation = { ...state.conversation, ...(data.conversation || {}) };
        els.picker.dataset.current = els.picker.value;
      }
    } catch (err) {
      showError(err.message, err.code);
      els.picker.value = els.picker.dataset.current || "";
    } finally {
      els.picker.disabled = false;
    }
  }

  function currentSystemPrompt() {
    return state.conversationId === null ? state.draftSystemPrompt : (state.conversation && state.conversation.system_prompt) || "";
  }

  function updateSystemButton() {
    els.systemButton.classList.toggle("has-value", currentSystemPrompt().trim() !== "");
  }

  function toggleSystemPanel() {
    if (els.systemPanel.hidden) openSystemPanel();
    else closeSystemPanel(true);
  }

  function openSystemPanel() {
    els.systemInput.value = currentSystemPrompt();
    els.systemPanel.hidden = false;
    els.systemButton.setAttribute("aria-expanded", "true");
    updateCounter(els.systemInput.value, state.limits.max_system_prompt, els.systemCounter);
    els.systemInput.focus();
  }

  function closeSystemPanel(restoreFocus) {
    if (els.systemPanel.hidden) return;
    els.systemPanel.hidden = true;
    els.systemButton.setAttribute("aria-expanded", "false");
    if (restoreFocus) els.systemButton.focus();
  }

  async function saveSystemPrompt() {
    const value = els.systemInput.value;
    const count = codePointLength(value.trim());
    if (count > state.limits.max_system_prompt) {
      showError(
        t("system_prompt_too_long", { count: count.toLocaleString(lang), max: state.limits.max_system_prompt.toLocaleString(lang) }),
        "too_long",
      );
      return;
    }
    if (state.conversationId === null) {
      state.draftSystemPrompt = value; // sent with the first message
      updateSystemButton();
      closeSystemPanel(false);
      els.composer.focus();
      return;
    }
    const id = state.conversationId;
    els.systemSave.disabled = true;
    try {
      const data = await api("POST", urlFor("settings", id), { system_prompt: value, model_version_id: pickerValue() });
      if (id === state.conversationId) {
        state.conversation = { ...state.conversation, ...(data.conversation || {}), system_prompt: (data.conversation || {}).system_prompt ?? value };
        updateSystemButton();
        closeSystemPanel(false);
        els.composer.focus();
      }
    } catch (err) {
      showError(err.message, err.code); // the panel stays open with the text
    } finally {
      els.systemSave.disabled = false;
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Sidebar: list, search, rename, delete

  async function loadConversationList() {
    const token = ++state.listToken;
    const url = new URL(config.urls.conversations || "/api/conversations/", window.location.href);
    if (state.query) url.searchParams.set("q", state.query);
    try {
      const data = await api("GET", url.pathname + url.search);
      if (token !== state.listToken) return;
      state.conversations = Array.isArray(data.conversations) ? data.conversations : [];
      renderConversationList();
    } catch (err) {
      if (token === state.listToken) showError(err.status ? err.message : t("error_list"), err.code);
    }
  }

  function sortConversations() {
    state.conversations.sort((a, b) => String(b.updated_at || "").localeCompare(String(a.updated_at || "")));
  }

  // A conversation changed (or appeared): update it in place and keep the newest first.
  function upsertConversation(conversation) {
    const existing = state.conversations.find((c) => c.id === conversation.id);
    const clean = Object.fromEntries(Object.entries(conversation).filter(([, v]) => v !== undefined && v !== null));
    if (existing) Object.assign(existing, clean);
    else if (!state.query) state.conversations.unshift({ title: "", updated_at: "", ...clean });
    else return;
    sortConversations();
    renderConversationList();
  }

  function renderConversationList() {
    state.renderingList = true;
    const items = state.conversations.map(buildConversationItem);
    els.list.replaceChildren(...items);
    state.renderingList = false;
    els.listEmpty.hidden = items.length > 0;
    els.listEmpty.textContent = state.query ? t("no_results") : t("no_conversations");
    const input = els.list.querySelector(".rename-input");
    if (input) {
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    }
  }

  function buildConversationItem(conversation) {
    const title = conversation.title || t("new_chat");
    const active = conversation.id === state.conversationId;
    const item = h("li", {
      class: "conv-item" + (active ? " is-active" : ""),
      "data-testid": "conversation-item",
      "data-conversation-id": conversation.id,
    });
    if (state.renaming && state.renaming.id === conversation.id) {
      const input = h("input", {
        type: "text",
        class: "rename-input",
        "data-testid": "rename-input",
        "aria-label": t("rename_label"),
        maxlength: 200,
      });
      input.value = state.renaming.value;
      item.append(input);
      return item;
    }
    item.append(
      h(
        "a",
        { class: "conv-link", href: urlFor("page", conversation.id), "aria-current": active ? "page" : null, title },
        h("span", { class: "conv-title" }, title),
        h("time", { class: "conv-time", datetime: conversation.updated_at || "" }, relativeTime(conversation.updated_at)),
      ),
      h(
        "div",
        { class: "conv-actions" },
        h(
          "button",
          { type: "button", class: "icon-button rename", "data-testid": "rename-conversation", "aria-label": t("rename") + ": " + title, title: t("rename") },
          icon("pencil"),
        ),
        h(
          "button",
          { type: "button", class: "icon-button delete", "data-testid": "delete-conversation", "aria-label": t("delete") + ": " + title, title: t("delete") },
          icon("trash"),
        ),
      ),
    );
    return item;
  }

  function highlightActiveConversation() {
    for (const item of els.list.querySelectorAll(".conv-item")) {
      const active = Number(item.dataset.conversationId) === state.conversationId;
      item.classList.toggle("is-active", active);
      const link = item.querySelector(".conv-link");
      if (link) {
        if (active) link.setAttribute("aria-current", "page");
        else link.removeAttribute("aria-current");
      }
    }
  }

  function refreshRelativeTimes() {
    for (const time of els.list.querySelectorAll("time.conv-time")) {
      time.textContent = relativeTime(time.getAttribute("datetime"));
    }
  }

  function onConversationListClick(event) {
    const item = event.target.closest(".conv-item");
    if (!item) return;
    const id = Number(item.dataset.conversationId);
    if (event.target.closest(".rename")) {
      event.preventDefault();
      startRename(id);
    } else if (event.target.closest(".delete")) {
      event.preventDefault();
      deleteConversation(id);
    } else if (event.target.closest(".conv-link")) {
      // Let the browser handle new-tab clicks.
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      if (id !== state.conversationId) openConversation(id, { push: true });
      else closeSidebar();
    }
  }

  function startRename(id) {
    const conversation = state.conversations.find((c) => c.id === id);
    if (!conversation) return;
    state.renaming = { id, value: conversation.title || "" };
    renderConversationList();
    const input = els.list.querySelector(".rename-input");
    if (input) input.select();
  }

  function onRenameKeydown(event) {
    if (!event.target.classList.contains("rename-input")) return;
    if (event.key === "Escape") {
      event.preventDefault();
      cancelRename();
    } else if (event.key === "Enter" && !isImeEnter(event)) {
      event.preventDefault();
      commitRename();
    }
  }

  function cancelRename() {
    const id = state.renaming && state.renaming.id;
    state.renaming = null;
    renderConversationList();
    const button = els.list.querySelector('.conv-item[data-conversation-id="' + id + '"] .rename');
    if (button) button.focus();
  }

  async function commitRename() {
    if (!state.renaming) return;
    const { id, value } = state.renaming;
    state.renaming = null;
    const conversation = state.conversations.find((c) => c.id === id);
    const title = value.trim();
    if (!conversation || !title || title === conversation.title) {
      renderConversationList();
      return;
    }
    const previous = conversation.title;
    conversation.title = title; // optimistic; reverted on failure
    renderConversationList();
    if (id === state.conversationId && state.conversation) {
      state.conversation.title = title;
      updateHeader();
    }
    try {
      const data = await api("POST", urlFor("rename", id), { title });
      if (data.conversation) onConversationUpdated({ conversation: data.conversation });
    } catch (err) {
      conversation.title = previous;
      renderConversationList();
      if (id === state.conversationId && state.conversation) {
        state.conversation.title = previous;
        updateHeader();
      }
      showError(err.message, err.code);
    }
  }

  async function deleteConversation(id) {
    const conversation = state.conversations.find((c) => c.id === id);
    if (!conversation) return;
    if (!window.confirm(t("confirm_delete", { title: conversation.title || t("new_chat") }))) return;
    try {
      await api("POST", urlFor("delete", id), {});
    } catch (err) {
      showError(err.message, err.code);
      return;
    }
    state.conversations = state.conversations.filter((c) => c.id !== id);
    renderConversationList();
    if (id === state.conversationId) startNewChat({ replace: true });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Notice banner

  function renderNotice() {
    const notice = state.notice;
    const show = Boolean(notice) && !notice.acknowledged && notice.version !== state.ackedVersion;
    els.notice.hidden = !show;
    if (!show) return;
    els.noticeText.innerHTML = notice.html || ""; // sanitised by the server
    els.noticeAck.dataset.version = notice.version;
  }

  function onNoticeUpdated(frame) {
    state.notice = frame.notice || null;
    renderNotice();
  }

  function acknowledgeNotice() {
    if (!state.notice) return;
    const version = state.notice.version;
    state.ackedVersion = version;
    renderNotice();
    if (!sendFrame({ type: "notice.ack", version })) state.pendingAck = version; // sent when the socket opens
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
    els.empty.hidden = els.messages.childElementCount > 0 || !state.loaded;
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
    els.form.addEventListener("submit", (event) => {
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
      if (state.conversationId === null && els.messages.childElementCount === 0) {
        closeSidebar();
        els.composer.focus();
        return;
      }
      startNewChat({ push: true });
    });
    els.list.addEventListener("click", onConversationListClick);
    els.list.addEventListener("keydown", onRenameKeydown);
    els.list.addEventListener("input", (event) => {
      if (state.renaming && event.target.classList.contains("rename-input")) state.renaming.value = event.target.value;
    });
    els.list.addEventListener("focusout", (event) => {
      // Clicking elsewhere saves, like Enter. (Enter/Escape already cleared `renaming`; redraws are ignored.)
      if (!state.renderingList && event.target.classList.contains("rename-input")) commitRename();
    });
    const search = debounce(() => {
      state.query = els.search.value.trim();
      loadConversationList();
    }, SEARCH_DEBOUNCE_MS);
    els.search.addEventListener("input", search);
    els.search.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && els.search.value) {
        event.preventDefault();
        els.search.value = "";
        search();
      }
    });

    els.picker.addEventListener("change", onModelChange);
    els.systemButton.addEventListener("click", toggleSystemPanel);
    els.systemSave.addEventListener("click", saveSystemPrompt);
    els.systemCancel.addEventListener("click", () => closeSystemPanel(true));
    els.systemInput.addEventListener("input", () =>
      updateCounter(els.systemInput.value, state.limits.max_system_prompt, els.systemCounter),
    );
    els.systemPanel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        closeSystemPanel(true);
      }
    });
    els.noticeAck.addEventListener("click", acknowledgeNotice);

    els.sidebarToggle.addEventListener("click", () => {
      if (els.app.dataset.sidebar === "open") closeSidebar();
      else openSidebar();
    });
    els.scrim.addEventListener("click", closeSidebar);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && els.app.dataset.sidebar === "open") closeSidebar();
    });

    window.addEventListener("popstate", (event) => {
      const fromState = event.state && "conversationId" in event.state;
      const id = fromState ? event.state.conversationId : conversationIdFromPath(window.location.pathname);
      if (id === state.conversationId) return;
      if (id === null) startNewChat();
      else openConversation(id);
    });
    window.addEventListener("online", reconnectNow);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") reconnectNow();
    });
    window.setInterval(refreshRelativeTimes, 60000);
  }

  function init() {
    collectElements();
    if (!els.app) return;
    document.body.dataset.socket = "closed";
    bindEvents();
    renderNotice();
    onComposerInput();
    const initial = isInt(config.conversation_id) ? config.conversation_id : null;
    window.history.replaceState({ conversationId: initial }, "", window.location.href);
    if (initial !== null) openConversation(initial);
    else startNewChat();
    loadConversationList();
    connectSocket();
    window.OfficeChat = {
      state,
      config,
      send: sendFrame,
      reconnect: () => {
        dropSocket();
        reconnectNow();
      },
      strings: DEFAULT_STRINGS,
    };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
