// The protocol's offset rules (static/js/chat/protocol.js, docs/websocket-protocol.md "Offsets"): code points,
// overlaps dropped, gaps detected; a reply rebuilt from shuffled, repeated and overlapping frames.
import assert from "node:assert/strict";
import test from "node:test";

import {
  applyOffsets,
  codePointLength,
  dropCodePoints,
  editFrame,
  isStreamFrame,
  joinFrame,
  parseFrame,
  parseVersions,
  regenerateFrame,
  sendFrame,
  versionStep,
} from "../../static/js/chat/protocol.js";

const delta = (offset, text, end = offset + codePointLength(text)) => ({
  type: "chat.delta", conversation_id: 1, message_id: 2, offset, end, text,
});

test("code points, not UTF-16 units", () => {
  assert.equal(codePointLength("abc"), 3);
  assert.equal(codePointLength("日本語"), 3);
  assert.equal(codePointLength("😀a"), 2); // one astral character is two UTF-16 units
  assert.equal("😀a".length, 3);
  assert.equal(dropCodePoints("😀😁x", 1), "😁x");
  assert.equal(dropCodePoints("😀😁x", 2), "x");
  assert.equal(dropCodePoints("abc", 0), "abc");
  assert.equal(dropCodePoints("abc", 5), "");
});

test("a delta that starts where the client ends is appended", () => {
  assert.deepEqual(applyOffsets(5, delta(5, "hello")), { action: "append", text: "hello", end: 10 });
});

test("an overlap is trimmed by code points", () => {
  assert.deepEqual(applyOffsets(2, delta(0, "😀😁日本")), { action: "append", text: "日本", end: 4 });
});

test("a frame that brings nothing new is ignored", () => {
  assert.deepEqual(applyOffsets(10, delta(3, "abc")), { action: "ignore" });
  assert.deepEqual(applyOffsets(10, delta(5, "12345")), { action: "ignore" }); // ends exactly where we are
});

test("a frame that starts after the client's end is a gap", () => {
  assert.deepEqual(applyOffsets(4, delta(6, "xy")), { action: "gap" });
});

test("the client trusts the server's end (it never counts itself)", () => {
  assert.deepEqual(applyOffsets(0, delta(0, "ab", 7)), { action: "append", text: "ab", end: 7 });
});

test("a reply is rebuilt exactly from repeated and overlapping frames", () => {
  const reply = "Hello 😀 世界, this is a reply with astral 𝕏 characters.";
  const points = Array.from(reply);
  const frames = [];
  for (let start = 0; start < points.length; start += 4) {
    const from = Math.max(0, start - 3); // every frame overlaps the one before
    frames.push(delta(from, points.slice(from, start + 4).join(""), Math.min(points.length, start + 4)));
    frames.push(delta(0, points.slice(0, Math.min(points.length, start + 2)).join(""))); // a stale repeat
  }
  let text = "";
  let end = 0;
  for (const frame of frames) {
    const decision = applyOffsets(end, frame);
    assert.notEqual(decision.action, "gap");
    if (decision.action === "append") {
      text += decision.text;
      end = decision.end;
    }
  }
  assert.equal(text, reply);
  assert.equal(end, points.length);
});

test("frames are validated", () => {
  assert.equal(isStreamFrame(delta(0, "a")), true);
  assert.equal(isStreamFrame({ ...delta(0, "a"), offset: "0" }), false);
  assert.equal(isStreamFrame({ ...delta(0, "a"), text: null }), false);
  assert.equal(isStreamFrame({ ...delta(3, "a"), end: 2 }), false);
  assert.equal(isStreamFrame(null), false);
  assert.equal(parseFrame("not json"), null);
  assert.equal(parseFrame("[1]"), null);
  assert.equal(parseFrame('{"type": 1}'), null);
  assert.deepEqual(parseFrame('{"type": "pong"}'), { type: "pong" });
});

test("client frames carry what the protocol asks for", () => {
  assert.deepEqual(joinFrame(3, { message_id: 9, end: 12 }), { type: "chat.join", conversation_id: 3, after: { message_id: 9, end: 12 } });
  assert.deepEqual(sendFrame({ requestId: "r", conversationId: null, text: "hi", modelVersionId: 4, systemPrompt: "Be brief" }), {
    type: "chat.send", request_id: "r", conversation_id: null, text: "hi", model_version_id: 4, system_prompt: "Be brief",
  });
  // The system prompt goes only with a new conversation, and never blank.
  assert.equal("system_prompt" in sendFrame({ requestId: "r", conversationId: 5, text: "hi", modelVersionId: null, systemPrompt: "x" }), false);
  assert.equal("system_prompt" in sendFrame({ requestId: "r", conversationId: null, text: "hi", modelVersionId: null, systemPrompt: "  " }), false);
  assert.equal("model_version_id" in regenerateFrame({ requestId: "r", conversationId: 5, modelVersionId: null }), false);
  assert.deepEqual(editFrame({ requestId: "r", conversationId: 5, text: "new" }), { type: "chat.edit", request_id: "r", conversation_id: 5, text: "new" });
  assert.deepEqual(editFrame({ requestId: "r", conversationId: 5, text: "new", messageId: 9 }), {
    type: "chat.edit", request_id: "r", conversation_id: 5, text: "new", message_id: 9,
  });
  assert.equal("message_id" in editFrame({ requestId: "r", conversationId: 5, text: "x", messageId: null }), false);
});

test("versions: only a well-formed list of two or more, with the shown one inside it", () => {
  assert.deepEqual(parseVersions({ ids: [3, 5, 7], index: 1 }), { ids: [3, 5, 7], index: 1 });
  for (const bad of [null, undefined, {}, { ids: [3], index: 0 }, { ids: [3, 5], index: 2 }, { ids: [3, 5], index: -1 },
    { ids: [3, "5"], index: 0 }, { ids: [3, 5], index: 0.5 }, { ids: "3,5", index: 0 }]) {
    assert.equal(parseVersions(bad), null, JSON.stringify(bad));
  }
});

test("versions: the arrows step to the neighbour, and stop at either end", () => {
  const versions = { ids: [3, 5, 7], index: 1 };
  assert.equal(versionStep(versions, -1), 3);
  assert.equal(versionStep(versions, 1), 7);
  assert.equal(versionStep({ ids: [3, 5], index: 0 }, -1), null);
  assert.equal(versionStep({ ids: [3, 5], index: 1 }, 1), null);
});
