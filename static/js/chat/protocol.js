// @ts-check
// The websocket protocol's data rules (docs/websocket-protocol.md): frames, code-point offsets, overlaps and gaps.
// No DOM and no socket here: everything is a pure function, unit-tested in tests/js/protocol.test.mjs.

/**
 * @typedef {object} StreamFrame  a chat.delta or chat.snapshot
 * @property {string} type
 * @property {number} conversation_id
 * @property {number} message_id
 * @property {number} offset  code point where `text` starts
 * @property {number} end  code point where the reply now ends
 * @property {string} text
 * @property {{label?: string}} [model]  (snapshots after a join)
 */

/**
 * @typedef {{action: "ignore"} | {action: "gap"} | {action: "append", text: string, end: number}} OffsetDecision
 */

/**
 * @param {unknown} value
 * @returns {value is number}
 */
export function isInt(value) {
  return Number.isInteger(value);
}

/**
 * Code points, like the server (JavaScript's .length counts UTF-16 units).
 * @param {string} text
 * @returns {number}
 */
export function codePointLength(text) {
  let count = 0;
  for (const _ of text) count += 1; // eslint-disable-line no-unused-vars
  return count;
}

/**
 * `text` without its first `count` code points.
 * @param {string} text
 * @param {number} count
 * @returns {string}
 */
export function dropCodePoints(text, count) {
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

/**
 * A JSON frame from the socket, or null when it is not an object with a string `type`.
 * @param {string} data
 * @returns {Record<string, any> | null}
 */
export function parseFrame(data) {
  let frame;
  try {
    frame = JSON.parse(data);
  } catch (err) {
    return null;
  }
  if (!frame || typeof frame !== "object" || Array.isArray(frame) || typeof frame.type !== "string") return null;
  return frame;
}

/**
 * @param {any} frame
 * @returns {frame is StreamFrame}
 */
export function isStreamFrame(frame) {
  return (
    Boolean(frame) &&
    isInt(frame.conversation_id) &&
    isInt(frame.message_id) &&
    isInt(frame.offset) &&
    isInt(frame.end) &&
    frame.offset >= 0 &&
    frame.end >= frame.offset &&
    typeof frame.text === "string"
  );
}

/**
 * The offset rules. `have` is the `end` of the text the client already applied (always a number the server sent;
 * the client never counts). A frame that ends at or before it brings nothing; one that starts after it leaves a
 * gap (rejoin from `have`); otherwise the overlap is dropped and the rest appended, and `end` becomes the frame's.
 * @param {number} have
 * @param {StreamFrame} frame
 * @returns {OffsetDecision}
 */
export function applyOffsets(have, frame) {
  if (frame.end <= have) return { action: "ignore" };
  if (frame.offset > have) return { action: "gap" };
  const text = frame.offset < have ? dropCodePoints(frame.text, have - frame.offset) : frame.text;
  return { action: "append", text, end: frame.end };
}

/**
 * chat.join: watch a conversation; `after` says which reply text the client already has.
 * @param {number} conversationId
 * @param {{message_id: number, end: number} | null} after
 */
export function joinFrame(conversationId, after) {
  return { type: "chat.join", conversation_id: conversationId, after };
}

/**
 * @param {number} conversationId
 */
export function leaveFrame(conversationId) {
  return { type: "chat.leave", conversation_id: conversationId };
}

/**
 * @param {{requestId: string, conversationId: number | null, text: string, modelVersionId: number | null,
 *   systemPrompt?: string, attachmentIds?: number[]}} fields
 */
export function sendFrame(fields) {
  /** @type {Record<string, unknown>} */
  const frame = {
    type: "chat.send",
    request_id: fields.requestId,
    conversation_id: fields.conversationId,
    text: fields.text,
  };
  if (fields.modelVersionId !== null) frame.model_version_id = fields.modelVersionId;
  if (fields.conversationId === null && fields.systemPrompt && fields.systemPrompt.trim()) {
    frame.system_prompt = fields.systemPrompt;
  }
  if (fields.attachmentIds && fields.attachmentIds.length) frame.attachment_ids = fields.attachmentIds;
  return frame;
}

/**
 * @param {{requestId: string, conversationId: number, modelVersionId: number | null}} fields
 */
export function regenerateFrame(fields) {
  /** @type {Record<string, unknown>} */
  const frame = { type: "chat.regenerate", request_id: fields.requestId, conversation_id: fields.conversationId };
  if (fields.modelVersionId !== null) frame.model_version_id = fields.modelVersionId;
  return frame;
}

/**
 * @param {{requestId: string, conversationId: number, text: string, messageId?: number | null}} fields
 */
export function editFrame(fields) {
  /** @type {Record<string, unknown>} */
  const frame = { type: "chat.edit", request_id: fields.requestId, conversation_id: fields.conversationId, text: fields.text };
  if (isInt(fields.messageId)) frame.message_id = fields.messageId;
  return frame;
}

/**
 * @typedef {{ids: number[], index: number}} Versions  a message and its other versions, oldest first
 */

/**
 * The `versions` of a message as the server sent them, or null when there is nothing to step through.
 * @param {unknown} value
 * @returns {Versions | null}
 */
export function parseVersions(value) {
  const versions = /** @type {any} */ (value);
  if (!versions || !Array.isArray(versions.ids) || versions.ids.length < 2 || !versions.ids.every(isInt)) return null;
  if (!isInt(versions.index) || versions.index < 0 || versions.index >= versions.ids.length) return null;
  return { ids: versions.ids, index: versions.index };
}

/**
 * The version one step before (-1) or after (+1) the shown one, or null at either end.
 * @param {Versions} versions
 * @param {-1 | 1} step
 * @returns {number | null}
 */
export function versionStep(versions, step) {
  const next = versions.index + step;
  return next >= 0 && next < versions.ids.length ? versions.ids[next] : null;
}

/**
 * A request id for frames that are answered (`chat.accepted` or `error`). crypto.randomUUID only exists in
 * secure contexts; intranet pages may be plain http.
 * @returns {string}
 */
export function newRequestId() {
  const crypto = globalThis.crypto;
  if (crypto && typeof crypto.randomUUID === "function" && globalThis.isSecureContext) return crypto.randomUUID();
  return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
}
