// The model picker's hints (static/js/chat/modelinfo.js): context sizes short ("128K tokens"), hints in order.
import assert from "node:assert/strict";
import test from "node:test";

import { setStrings } from "../../static/js/chat/i18n.js";
import { formatTokens, modelHints } from "../../static/js/chat/modelinfo.js";

setStrings({ model_reasoning: "Reasoning", model_vision: "Understands images", model_context: "{size} tokens" });

test("context sizes", () => {
  assert.equal(formatTokens(128000), "128K");
  assert.equal(formatTokens(200000), "200K");
  assert.equal(formatTokens(8192), "8K");
  assert.equal(formatTokens(1048576), "1M");
  assert.equal(formatTokens(1500000), "1.5M");
  assert.equal(formatTokens(2000000), "2M");
  assert.equal(formatTokens(512), "512");
  assert.equal(formatTokens(0), "");
  assert.equal(formatTokens(NaN), "");
});

test("hints in order, only what the model has", () => {
  assert.deepEqual(
    modelHints({ id: 1, reasoning: true, vision: true, context_window: 200000 }).map((h) => h.text),
    ["Reasoning", "Understands images", "200K tokens"],
  );
  assert.deepEqual(modelHints({ id: 2, reasoning: false, vision: false, context_window: 128000 }).map((h) => h.key), ["context"]);
  assert.deepEqual(modelHints({ id: 3 }), []);
});
