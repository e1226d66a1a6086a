// The prompt library's text rules (static/js/chat/prompts.js), with the cases of tests/chat/test_prompts.py: the page
// fills a prompt exactly as chat/prompts/variables.py does.
import assert from "node:assert/strict";
import test from "node:test";

import { filterPrompts, promptFill, promptVariables, slashQuery } from "../../static/js/chat/prompts.js";

test("variables in order of first appearance, each once", () => {
  assert.deepEqual(promptVariables("Dear {{name}}, about {{topic}}: {{ name }} again, {{topic}}."), ["name", "topic"]);
});

test("names allow spaces, hyphens, digits and Japanese", () => {
  const text = "{{ target language }} {{tone-2}} {{snake_case}} {{ 対象　言語 }} {{会議名}} {{  a   b  }}";
  assert.deepEqual(promptVariables(text), ["target language", "tone-2", "snake_case", "対象 言語", "会議名", "a b"]);
});

test("what is not a variable stays text", () => {
  const values = { "user.name": "X", x: "X", a: "X", "line\nbreak": "X" };
  for (const text of [
    "{{user.name}}",
    "{{a|upper}}",
    "{{}}",
    "{{   }}",
    "{{line\nbreak}}",
    "{ {x} }",
    "{{x",
    "{{" + "x".repeat(51) + "}}",
    "{{#if x}}",
  ]) {
    assert.deepEqual(promptVariables(text), [], text);
    assert.equal(promptFill(text, values), text, text);
  }
  assert.deepEqual(promptVariables("{{" + "x".repeat(50) + "}}"), ["x".repeat(50)]);
  assert.deepEqual(promptVariables("{{" + "😀".repeat(10) + "}}"), []); // not letters
  assert.deepEqual(promptVariables("{{" + "漢".repeat(50) + "}}"), ["漢".repeat(50)]); // 50 code points
});

test("names are case-sensitive and triple braces keep the outer ones", () => {
  assert.deepEqual(promptVariables("{{Name}} {{name}}"), ["Name", "name"]);
  assert.equal(promptFill("{{{x}}}", { x: "1" }), "{1}");
});

test("fill replaces every occurrence and leaves missing ones", () => {
  const text = "Translate into {{ language }}: {{text}}. ({{language}}; {{unknown}})";
  assert.equal(promptFill(text, { language: "日本語", text: "Hello" }), "Translate into 日本語: Hello. (日本語; {{unknown}})");
  assert.equal(promptFill("{{ 対象　言語 }}", { "対象 言語": "英語" }), "英語");
});

test("values are inserted literally, never expanded again", () => {
  assert.equal(promptFill("A: {{a}} B: {{b}}", { a: "{{b}}", b: "\\1 \\g<0> {{a}} $1 $& $$" }), "A: {{b}} B: \\1 \\g<0> {{a}} $1 $& $$");
  assert.equal(promptFill("{{toString}} {{constructor}}", {}), "{{toString}} {{constructor}}"); // no inherited names
});

test("the / command and the picker's filter", () => {
  assert.equal(slashQuery("/"), "");
  assert.equal(slashQuery("/tra"), "tra");
  assert.equal(slashQuery("/two words"), "two words");
  assert.equal(slashQuery("a/b"), null);
  assert.equal(slashQuery("/x\nmore"), null);
  assert.equal(slashQuery(""), null);
  const prompts = [
    { id: 1, name: "Summarise", content: "", folder_name: "Translate" },
    { id: 2, name: "Translate", content: "" },
    { id: 3, name: "Mail: translate politely", content: "" },
    { id: 4, name: "Other", content: "", description: "translate docs" },
    { id: 5, name: "議事録", content: "" },
  ];
  assert.deepEqual(filterPrompts(prompts, "TRANS").map((p) => p.id), [2, 3, 1, 4]);
  assert.deepEqual(filterPrompts(prompts, "").map((p) => p.id), [1, 2, 3, 4, 5]);
  assert.deepEqual(filterPrompts(prompts, "議事").map((p) => p.id), [5]);
  assert.deepEqual(filterPrompts(prompts, "zzz"), []);
});
