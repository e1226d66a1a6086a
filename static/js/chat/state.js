// @ts-check
// State transitions of the open conversation, its streaming replies and the requests waiting for an answer.
// No DOM: main.js applies what these functions decide. Unit-tested in tests/js/state.test.mjs.
//
//   stream:  streaming ──delta/snapshot──▶ streaming (text grows; end = the server's end)
//               │  └─ gap ──▶ awaiting snapshot ──snapshot──▶ streaming
//               │                  └─ no snapshot in time ──▶ streaming + reload the conversation
//               └─ chat.done ──▶ done (late frames are ignored)
//   request: pending ──chat.accepted──▶ gone · ──error──▶ gone · ──timeout──▶ timed out (kept for a late accept)
//               └─ socket lost ──▶ gone (unconfirmed: the person is told)

import { applyOffsets } from "./protocol.js";

/**
 * @typedef {object} Stream
 * @property {number} id  the assistant message id
 * @property {string} text  the reply text so far, exactly as the server has it up to `end`
 * @property {number} end  code points the client has (the server's number)
 * @property {boolean} done
 * @property {boolean} awaitingSnapshot  a gap was seen and a rejoin sent
 */

/**
 * @typedef {{kind: "none"} | {kind: "append", text: string} | {kind: "rejoin"}} StreamStep
 */

/**
 * @param {number} id
 * @param {{text: string, end: number}} base  text already shown (from the API or an earlier stream)
 * @returns {Stream}
 */
export function createStream(id, base) {
  return { id, text: base.text, end: base.end, done: false, awaitingSnapshot: false };
}

/**
 * A chat.delta or chat.snapshot for this stream.
 * @param {Stream} stream
 * @param {import("./protocol.js").StreamFrame} frame
 * @param {boolean} isSnapshot
 * @returns {StreamStep}
 */
export function streamReceive(stream, frame, isSnapshot) {
  if (stream.done) return { kind: "none" };
  if (isSnapshot) stream.awaitingSnapshot = false;
  const decision = applyOffsets(stream.end, frame);
  if (decision.action === "ignore") return { kind: "none" };
  if (decision.action === "gap") {
    if (stream.awaitingSnapshot) return { kind: "none" }; // one rejoin at a time
    stream.awaitingSnapshot = true;
    return { kind: "rejoin" };
  }
  stream.text += decision.text;
  stream.end = decision.end;
  return { kind: "append", text: decision.text };
}

/**
 * The rejoin brought no snapshot in time: should the conversation be re-read? (Once per rejoin.)
 * @param {Stream} stream
 * @returns {boolean}
 */
export function streamRejoinExpired(stream) {
  if (!stream.awaitingSnapshot || stream.done) return false;
  stream.awaitingSnapshot = false;
  return true;
}

/**
 * chat.done: the stream ends; later frames for it change nothing.
 * @param {Stream} stream
 * @returns {string} the text it had
 */
export function streamFinish(stream) {
  stream.done = true;
  stream.awaitingSnapshot = false;
  return stream.text;
}

/**
 * The newest stream still running (the one a rejoin asks about), or null.
 * @param {Iterable<Stream>} streams
 * @returns {Stream | null}
 */
export function latestRunning(streams) {
  /** @type {Stream | null} */
  let latest = null;
  for (const stream of streams) {
    if (!stream.done && (latest === null || stream.id > latest.id)) latest = stream;
  }
  return latest;
}

/**
 * After a re-read of the conversation: keep the live text when it is ahead of what the API returned.
 * @param {Stream | undefined} previous
 * @param {{text: string, end: number}} fromApi
 * @returns {{text: string, end: number}}
 */
export function resumeBase(previous, fromApi) {
  if (previous && !previous.done && previous.end >= fromApi.end) return { text: previous.text, end: previous.end };
  return fromApi;
}

// ---------------------------------------------------------------------------------------------------------------
// Requests waiting for chat.accepted

/** @typedef {"send" | "regenerate" | "edit"} RequestKind */

/**
 * @typedef {object} PendingRequest
 * @property {RequestKind} kind
 * @property {string} text  what was sent (kept until the server has it)
 * @property {number | null} conversationId  the conversation it was sent in (null: a new one)
 * @property {number} viewToken  the view it was sent from
 * @property {number | null} [messageId]  an edit: the question edited
 * @property {boolean} timedOut
 */

export class PendingRequests {
  constructor() {
    /** @type {Map<string, PendingRequest>} */
    this.entries = new Map();
  }

  /**
   * @param {string} requestId
   * @param {Omit<PendingRequest, "timedOut">} request
   * @returns {PendingRequest}
   */
  add(requestId, request) {
    const entry = { ...request, timedOut: false };
    this.entries.set(requestId, entry);
    return entry;
  }

  /**
   * chat.accepted or an error frame for the request: it is answered. A timed-out request still resolves here
   * (a late accept clears the composer).
   * @param {string} requestId
   * @returns {PendingRequest | null}
   */
  resolve(requestId) {
    const entry = this.entries.get(requestId);
    if (!entry) return null;
    this.entries.delete(requestId);
    return entry;
  }

  /**
   * No answer in time: the controls come back, the entry stays for a late answer.
   * @param {string} requestId
   * @returns {boolean} whether it was still waiting
   */
  timeOut(requestId) {
    const entry = this.entries.get(requestId);
    if (!entry || entry.timedOut) return false;
    entry.timedOut = true;
    return true;
  }

  /**
   * The socket dropped: nothing can be answered any more.
   * @returns {boolean} whether any request was still unconfirmed (not already timed out)
   */
  failAll() {
    let unconfirmed = false;
    for (const entry of this.entries.values()) if (!entry.timedOut) unconfirmed = true;
    this.entries.clear();
    return unconfirmed;
  }

  /**
   * Whether a request (of `kind`, or any) is waiting and not timed out.
   * @param {RequestKind} [kind]
   * @returns {boolean}
   */
  has(kind) {
    for (const entry of this.entries.values()) {
      if (!entry.timedOut && (!kind || entry.kind === kind)) return true;
    }
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The open conversation

/**
 * @typedef {object} View
 * @property {number | null} conversationId  null: a new chat not yet sent
 * @property {boolean} loaded  its messages are on screen (joins and frames apply only then)
 * @property {number} token  bumps on every switch; late loads and accepts compare against it
 */

/** @returns {View} */
export function createView() {
  return { conversationId: null, loaded: false, token: 0 };
}

/**
 * Start opening a conversation: frames for it are ignored until its messages are on screen.
 * @param {View} view
 * @param {number} id
 * @returns {number} the token a finished load must still match
 */
export function viewOpen(view, id) {
  view.conversationId = id;
  view.loaded = false;
  view.token += 1;
  return view.token;
}

/**
 * The load started with `token` finished: true when it still is the open conversation (then it is loaded).
 * @param {View} view
 * @param {number} token
 * @returns {boolean}
 */
export function viewLoaded(view, token) {
  if (token !== view.token) return false;
  view.loaded = true;
  return true;
}

/**
 * A new, empty chat (nothing to load).
 * @param {View} view
 */
export function viewStartNew(view) {
  view.conversationId = null;
  view.loaded = true;
  view.token += 1;
}

/**
 * The first message of a new chat was accepted: the view becomes that conversation, if the person is still on the
 * new chat the request was sent from.
 * @param {View} view
 * @param {number} conversationId
 * @param {number} sentFromToken
 * @returns {boolean} whether the view adopted it
 */
export function viewAdopt(view, conversationId, sentFromToken) {
  if (view.conversationId !== null || sentFromToken !== view.token) return false;
  view.conversationId = conversationId;
  view.loaded = true;
  return true;
}

/**
 * Frames about `conversationId` apply to what is on screen.
 * @param {View} view
 * @param {unknown} conversationId
 * @returns {boolean}
 */
export function viewShows(view, conversationId) {
  return view.loaded && view.conversationId !== null && conversationId === view.conversationId;
}
