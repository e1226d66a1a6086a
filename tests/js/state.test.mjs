// State transitions (static/js/chat/state.js): a stream through deltas, a gap, its rejoin and chat.done; the
// requests waiting for chat.accepted; the open conversation's view tokens.
import assert from "node:assert/strict";
import test from "node:test";

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
} from "../../static/js/chat/state.js";

const frame = (offset, text, end = offset + Array.from(text).length) => ({
  type: "chat.delta", conversation_id: 1, message_id: 7, offset, end, text,
});

test("a stream appends deltas and ends on chat.done", () => {
  const stream = createStream(7, { text: "", end: 0 });
  assert.deepEqual(streamReceive(stream, frame(0, "Hel"), false), { kind: "append", text: "Hel" });
  assert.deepEqual(streamReceive(stream, frame(1, "ello"), false), { kind: "append", text: "lo" });
  assert.deepEqual(streamReceive(stream, frame(0, "He"), false), { kind: "none" });
  assert.equal(stream.text, "Hello");
  assert.equal(stream.end, 5);
  assert.equal(streamFinish(stream), "Hello");
  assert.equal(stream.done, true);
  assert.deepEqual(streamReceive(stream, frame(5, " late"), false), { kind: "none" }); // after done: nothing
  assert.equal(stream.text, "Hello");
});

test("a gap asks for one rejoin; the snapshot repairs it", () => {
  const stream = createStream(7, { text: "ab", end: 2 });
  assert.deepEqual(streamReceive(stream, frame(4, "ef"), false), { kind: "rejoin" });
  assert.equal(stream.awaitingSnapshot, true);
  assert.deepEqual(streamReceive(stream, frame(6, "gh"), false), { kind: "none" }); // one rejoin at a time
  assert.deepEqual(streamReceive(stream, { ...frame(2, "cdefgh"), type: "chat.snapshot" }, true), { kind: "append", text: "cdefgh" });
  assert.equal(stream.awaitingSnapshot, false);
  assert.equal(stream.text, "abcdefgh");
});

test("a rejoin without a snapshot in time asks for a reload once", () => {
  const stream = createStream(7, { text: "", end: 0 });
  streamReceive(stream, frame(3, "x"), false);
  assert.equal(streamRejoinExpired(stream), true);
  assert.equal(streamRejoinExpired(stream), false);
  streamReceive(stream, frame(3, "x"), false);
  streamFinish(stream);
  assert.equal(streamRejoinExpired(stream), false); // finished meanwhile: nothing to reload
});

test("the latest running stream is the one a join asks about", () => {
  const a = createStream(3, { text: "", end: 0 });
  const b = createStream(9, { text: "", end: 0 });
  const c = createStream(5, { text: "", end: 0 });
  assert.equal(latestRunning([a, b, c]), b);
  streamFinish(b);
  assert.equal(latestRunning([a, b, c]), c);
  assert.equal(latestRunning([]), null);
});

test("a re-read keeps live text that is ahead of the API's", () => {
  const live = createStream(7, { text: "abcdef", end: 6 });
  assert.deepEqual(resumeBase(live, { text: "abc", end: 3 }), { text: "abcdef", end: 6 });
  assert.deepEqual(resumeBase(live, { text: "abcdefgh", end: 8 }), { text: "abcdefgh", end: 8 });
  assert.deepEqual(resumeBase(undefined, { text: "abc", end: 3 }), { text: "abc", end: 3 });
  streamFinish(live);
  assert.deepEqual(resumeBase(live, { text: "abc", end: 3 }), { text: "abc", end: 3 });
});

test("requests: accepted, refused, timed out (then accepted late), lost with the socket", () => {
  const pending = new PendingRequests();
  pending.add("s1", { kind: "send", text: "hi", conversationId: null, viewToken: 1 });
  assert.equal(pending.has(), true);
  assert.equal(pending.has("send"), true);
  assert.equal(pending.has("edit"), false);
  assert.equal(pending.resolve("s1").text, "hi");
  assert.equal(pending.resolve("s1"), null);
  assert.equal(pending.has(), false);

  pending.add("r1", { kind: "regenerate", text: "", conversationId: 4, viewToken: 2 });
  assert.equal(pending.timeOut("r1"), true);
  assert.equal(pending.timeOut("r1"), false);
  assert.equal(pending.has(), false); // the controls come back
  assert.equal(pending.failAll(), false); // timed out already: nothing unconfirmed to report
  pending.add("r2", { kind: "regenerate", text: "", conversationId: 4, viewToken: 2 });
  pending.timeOut("r2");
  assert.equal(pending.resolve("r2").kind, "regenerate"); // a late accept still resolves

  pending.add("e1", { kind: "edit", text: "x", conversationId: 4, viewToken: 2 });
  assert.equal(pending.failAll(), true); // the socket dropped before the answer
  assert.equal(pending.has(), false);
});

test("the view: opening, loading, switching away, adopting a new conversation", () => {
  const view = createView();
  viewStartNew(view);
  assert.equal(viewShows(view, 1), false);
  const sentFrom = view.token;

  const token = viewOpen(view, 5);
  assert.equal(viewShows(view, 5), false); // not loaded yet: frames wait
  const other = viewOpen(view, 6); // switched before the load finished
  assert.equal(viewLoaded(view, token), false); // the late load is dropped
  assert.equal(viewLoaded(view, other), true);
  assert.equal(viewShows(view, 6), true);
  assert.equal(viewShows(view, 5), false);

  assert.equal(viewAdopt(view, 9, sentFrom), false); // the person moved on: not adopted
  viewStartNew(view);
  assert.equal(viewAdopt(view, 9, view.token), true);
  assert.equal(view.conversationId, 9);
  assert.equal(viewShows(view, 9), true);
  assert.equal(viewAdopt(view, 10, view.token), false); // already a conversation
});
