// The one validation for sending and editing (static/js/chat/composer.js): trimmed, code points, the server's codes.
import assert from "node:assert/strict";
import test from "node:test";

import { validateMessage, validateSystemPrompt } from "../../static/js/chat/composer.js";
import { setStrings, t } from "../../static/js/chat/i18n.js";

setStrings({
  message_empty: "Write a message first.",
  message_too_long: "Too long: {count} of {max}.",
  system_prompt_too_long: "Prompt too long: {count} of {max}.",
});

test("empty after trimming is refused as the server does (empty)", () => {
  const result = validateMessage(" \n\t ", 10);
  assert.equal(result.ok, false);
  assert.equal(result.code, "empty");
  assert.equal(result.message, "Write a message first.");
});

test("the limit counts code points of the trimmed text", () => {
  assert.equal(validateMessage("  😀😀😀  ", 3).ok, true); // 3 code points, 6 UTF-16 units
  const over = validateMessage("😀😀😀😀", 3);
  assert.equal(over.ok, false);
  assert.equal(over.code, "too_long");
  assert.equal(over.message, "Too long: 4 of 3.");
  assert.equal(validateMessage("  hi  ", 3).text, "hi");
});

test("a system prompt may be empty but not too long", () => {
  assert.equal(validateSystemPrompt("", 5).ok, true);
  const over = validateSystemPrompt("abcdef", 5);
  assert.equal(over.ok, false);
  assert.equal(over.message, "Prompt too long: 6 of 5.");
});

test("an unknown key shows as itself; placeholders are filled", () => {
  assert.equal(t("no_such_key"), "no_such_key");
  assert.equal(t("message_too_long", { count: 1 }), "Too long: 1 of {max}.");
});
