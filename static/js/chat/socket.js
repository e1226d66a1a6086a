// @ts-check
// The page's one websocket: connect, reconnect with backoff, and the heartbeat (docs/websocket-protocol.md,
// "Heartbeat"). What the frames mean is main.js's business.

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;
export const HEARTBEAT_MS = 25000; // ping when the socket has been quiet this long (keeps proxies from idling it out)
export const PONG_TIMEOUT_MS = 10000; // no frame at all this long after a ping: the connection is dead

/**
 * @typedef {object} SocketHandlers
 * @property {(reconnected: boolean) => void} onOpen
 * @property {(data: string) => void} onMessage
 * @property {() => void} onLost  the socket closed or was dropped (a reconnect is scheduled)
 * @property {(state: "connecting" | "reconnecting" | "open") => void} onState
 */

export class ChatSocket {
  /**
   * @param {string} path  e.g. "/ws/"
   * @param {SocketHandlers} handlers
   */
  constructor(path, handlers) {
    this.path = path;
    this.handlers = handlers;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.attempt = 0;
    /** @type {number | null} */
    this.timer = null;
    /** @type {number | null} */
    this.heartbeat = null;
    this.everOpened = false;
    this.lastFrameAt = 0;
    /** The account ended: never reconnect. */
    this.ended = false;
  }

  url() {
    const url = new URL(this.path || "/ws/", window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * @param {unknown} frame
   * @returns {boolean} whether it was sent (false: not connected)
   */
  send(frame) {
    if (!this.ws || !this.isOpen()) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  connect() {
    if (this.timer !== null) window.clearTimeout(this.timer);
    this.timer = null;
    if (this.ws || this.ended) return;
    this.handlers.onState(this.everOpened ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (ws === this.ws) this.opened();
    };
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      this.lastFrameAt = Date.now();
      this.handlers.onMessage(String(event.data));
    };
    ws.onclose = () => {
      if (ws === this.ws) this.lost();
    };
  }

  opened() {
    const reconnected = this.everOpened;
    this.everOpened = true;
    this.lastFrameAt = Date.now();
    this.handlers.onState("open");
    this.startHeartbeat();
    this.handlers.onOpen(reconnected);
  }

  lost() {
    this.ws = null;
    this.stopHeartbeat();
    this.handlers.onState("reconnecting");
    this.handlers.onLost();
    this.scheduleReconnect();
  }

  /** Close a socket that looks dead without waiting for the browser's closing handshake. */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close();
    } catch (err) {
      /* already closed */
    }
    this.lost();
  }

  scheduleReconnect() {
    if (this.timer !== null || this.ended) return;
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    this.timer = window.setTimeout(() => this.connect(), delay);
  }

  /** The network is back or the tab is visible again: try at once. */
  reconnectNow() {
    if (this.ws || this.ended) return;
    this.attempt = 0;
    this.connect();
  }

  /** A real session started: the next drop starts the backoff from the bottom again. */
  sessionReady() {
    this.attempt = 0;
  }

  /** The account ended (signed out elsewhere, deactivated): stop reconnecting. */
  end() {
    this.ended = true;
    if (this.timer !== null) window.clearTimeout(this.timer);
    this.timer = null;
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.heartbeat = window.setInterval(() => {
      if (!this.isOpen() || Date.now() - this.lastFrameAt < HEARTBEAT_MS) return;
      const sentAt = Date.now();
      this.send({ type: "ping" });
      window.setTimeout(() => {
        if (this.isOpen() && this.lastFrameAt < sentAt) this.drop();
      }, PONG_TIMEOUT_MS);
    }, HEARTBEAT_MS / 5);
  }

  stopHeartbeat() {
    if (this.heartbeat !== null) window.clearInterval(this.heartbeat);
    this.heartbeat = null;
  }
}
