// Search hits in the sidebar (static/js/chat/highlight.js): the query's terms marked as the server matches them,
// case and width folded, Japanese by two-character pieces when the whole run is not there.
import assert from "node:assert/strict";
import test from "node:test";

import { fold, highlightRanges, highlightSegments, queryTerms } from "../../static/js/chat/highlight.js";

const marked = (text, query) =>
  highlightSegments(text, query)
    .map((s) => (s.mark ? `[${s.text}]` : s.text))
    .join("");

test("terms: words and CJK runs, punctuation and operators dropped, folded, each once", () => {
  assert.deepEqual(queryTerms("Zoom会議 & zoom | (plan)"), ["zoom", "会議", "plan"]);
  assert.deepEqual(queryTerms("ＡＢＣ　１２３"), ["abc", "123"]);
  assert.deepEqual(queryTerms("snake_case-name"), ["snake", "case", "name"]);
  assert.deepEqual(queryTerms("  "), []);
});

test("folding keeps positions", () => {
  assert.equal(fold("ＡＢＣ Straße İx").length, "ＡＢＣ Straße İx".length);
  assert.equal(fold("ＡＢＣ"), "abc");
});

test("Japanese: the term, or its pieces", () => {
  assert.equal(marked("明日の会議室の予約をお願いします", "会議"), "明日の[会議]室の予約をお願いします");
  assert.equal(marked("会議と議室", "会議室"), "[会議]と[議室]");
  assert.equal(marked("会議室で会議", "会議室"), "[会議室]で会議");
  assert.equal(marked("会議室", "室"), "会議[室]");
});

test("case, width, several terms, overlaps merged", () => {
  assert.equal(marked("Budget review: BUDGET 2025", "budget"), "[Budget] review: [BUDGET] 2025");
  assert.equal(marked("ｚｏｏｍ meeting", "Zoom"), "[ｚｏｏｍ] meeting");
  assert.equal(marked("planning the plan", "plan planning"), "[planning] the [plan]");
  assert.deepEqual(highlightRanges("aaaa", "aa a"), [[0, 4]]);
});

test("nothing to mark: the text whole, never split", () => {
  assert.deepEqual(highlightSegments("Hello", "xyz"), [{ text: "Hello", mark: false }]);
  assert.deepEqual(highlightSegments("", "xyz"), [{ text: "", mark: false }]);
  assert.deepEqual(highlightSegments("<b>x</b>", "b"), [
    { text: "<", mark: false },
    { text: "b", mark: true },
    { text: ">x</", mark: false },
    { text: "b", mark: true },
    { text: ">", mark: false },
  ]);
});
