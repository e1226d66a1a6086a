// Streaming Markdown (static/js/chat/markdown.js): after every piece of a stream, the HTML committed so far plus
// the tail is exactly the one-shot render of the text received so far; committed text is never rendered again
// (except once when link reference definitions change).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import test from "node:test";

import { IncrementalMarkdown, createMarkdown, keptClasses, lineStarts, ALLOWED_URI } from "../../static/js/chat/markdown.js";

const require = createRequire(import.meta.url);
const markdownit = require("../../static/vendor/markdown-it/markdown-it.min.js");
const md = createMarkdown(markdownit);

/** Streams `text` in pieces of the given sizes (cycled) and checks the invariant after each piece. */
function streamAndCheck(text, sizes = [1]) {
  const incremental = new IncrementalMarkdown(md);
  let committed = "";
  let position = 0;
  let index = 0;
  let resets = 0;
  let commits = 0;
  while (position < text.length) {
    const size = sizes[index++ % sizes.length];
    const piece = text.slice(position, position + size);
    position += piece.length;
    incremental.append(piece);
    const step = incremental.render();
    if (step.reset) {
      committed = "";
      resets += 1;
    }
    if (step.commit) commits += 1;
    committed += step.commit;
    const soFar = text.slice(0, position);
    assert.equal(committed + step.tail, md.render(soFar), `after ${JSON.stringify(soFar)}`);
  }
  return { resets, commits, committedUpTo: incremental.committedUpTo };
}

const SAMPLES = {
  paragraphs: "First paragraph with **bold** and *em*.\n\nSecond one, `code` too.\n\nThird.\n",
  bold_split: "Some **bold text that spans** a while and __under__ too.\n\nNext **one",
  fence: "Intro:\n\n```js\nconst a = 1;\n\nconst b = 2;\n```\n\nAfter the code.\n\n```\nunclosed\n",
  tilde_fence: "~~~python\nprint('x')\n~~~\n\nText ~~strike~~.\n",
  lists: "- a\n- b\n\n- c loose\n\nPara.\n\n1. one\n2. two\n\n3. three\n\n10) ten\n\nEnd.\n",
  ordered_after_blank: "1. a\n\n2\n\n2. b\n\nx\n",
  nested: "- item\n  - nested\n\n    more in item\n\n  back\n\nout\n",
  table: "| a | b |\n|:--|--:|\n| 1 | 2 |\n| 3 | 4 |\n\ntext\n| x |\n|-x\n\n| h |\n|---|\n| r |\n",
  headings: "# Title\nText under.\n\nSetext\n===\n\nAnother\n-\n\n## H2 ##\n\n---\n\n***\n",
  quotes: "> quote\ncontinued lazily\n\n> second\n\n>\n\nafter\n",
  indented_code: "Para\n\n    code line\n\n    more code\n\nnot code\n",
  references: "See [the docs][d] and [x].\n\nMore text.\n\n[d]: https://example.com/docs \"Docs\"\n\nLater [d] again.\n\n[x]: /relative\n",
  reference_revoked: "Use [a].\n\n[a]: /url 'title\n\nend\n",
  images: "![chart](https://evil.example/p.png?x=1) and ![](javascript:alert(1))\n\n[click](javascript:alert(1))\n",
  html: "<script>window.__xss=1</script>\n\n<img src=x onerror=\"window.__xss=2\">\n\n<svg onload=\"alert(1)\"></svg>\n",
  crlf: "Line one\r\n\r\nLine two\r\n- a\r\n- b\r\n\r\nend\r\n",
  japanese: "こんにちは、**世界**。\n\n- 項目一\n- 項目二\n\n絵文字 😀 も。\n",
  hard_breaks: "line with two spaces  \nnext\\\nthird\n\nentity &amp; &copy; &#x1F600;\n",
  empty_items: "- a\n\n-\n\n+\n\n*\n\n**\n\n***\n\ntext\n",
};

for (const [name, text] of Object.entries(SAMPLES)) {
  test(`incremental equals one-shot at every character: ${name}`, () => {
    streamAndCheck(text, [1]);
  });
  test(`incremental equals one-shot in uneven pieces: ${name}`, () => {
    streamAndCheck(text, [3, 1, 7, 2, 13]);
  });
}

test("completed blocks are committed and not rendered again", () => {
  const text = Array.from({ length: 200 }, (_, i) => `Paragraph ${i} with **bold** words.`).join("\n\n") + "\n";
  const { resets, commits, committedUpTo } = streamAndCheck(text, [5]);
  assert.equal(resets, 0);
  assert.ok(commits >= 195, `only ${commits} commits`);
  assert.ok(committedUpTo > text.length - 80, "the tail is the last block only");
});

test("a link reference definition arriving later renders everything again once", () => {
  const text = "See [d].\n\nMore.\n\n[d]: https://example.com\n\nEnd.\n";
  const { resets } = streamAndCheck(text, [1]);
  assert.ok(resets >= 1);
  const incremental = new IncrementalMarkdown(md);
  incremental.append(text);
  const step = incremental.render();
  assert.match(step.commit + step.tail, /<a href="https:\/\/example.com">d<\/a>/);
});

test("partial bold and fences render as the one-shot renderer does mid-stream", () => {
  const incremental = new IncrementalMarkdown(md);
  incremental.append("Here is **bo");
  let step = incremental.render();
  assert.equal(step.commit + step.tail, "<p>Here is **bo</p>\n");
  incremental.append("ld** and\n\n```py\nx = 1");
  step = incremental.render();
  assert.equal(step.commit, "<p>Here is <strong>bold</strong> and</p>\n");
  assert.equal(step.tail, '<pre><code class="language-py">x = 1</code></pre>\n'); // an open fence: code so far
});

test("images become links, raw HTML stays text, like the server", () => {
  assert.equal(
    md.render('![a "b"](https://x.example/p.png)'),
    '<p><a href="https://x.example/p.png" title="https://x.example/p.png">🖼 a &quot;b&quot;</a></p>\n',
  );
  assert.equal(md.render("![](https://x.example/p.png)"), '<p><a href="https://x.example/p.png" title="https://x.example/p.png">🖼 https://x.example/p.png</a></p>\n');
  assert.equal(md.render("<b>x</b>"), "<p>&lt;b&gt;x&lt;/b&gt;</p>\n");
  assert.equal(md.render("[x](javascript:alert(1))"), "<p>[x](javascript:alert(1))</p>\n");
  assert.equal(md.render("a\nb"), "<p>a\nb</p>\n"); // no breaks
  assert.equal(md.render("https://example.com"), "<p>https://example.com</p>\n"); // no linkify
  assert.equal(md.render('"quotes" -- (c)'), "<p>&quot;quotes&quot; -- (c)</p>\n"); // no typographer
});

test("the sanitiser's URL rule and class filter match the server's", () => {
  for (const ok of ["https://a.example/x", "http://a", "mailto:x@y", "/path", "rel/ative", "#frag", "?q=1"]) {
    assert.ok(ALLOWED_URI.test(ok), ok);
  }
  for (const bad of ["javascript:alert(1)", "JAVASCRIPT:x", "data:text/html,x", "vbscript:x", "file:///etc"]) {
    assert.ok(!ALLOWED_URI.test(bad), bad);
  }
  assert.equal(keptClasses("language-js hl-k evil"), "language-js hl-k");
  assert.equal(keptClasses("evil"), "");
});

test("line starts count \\r\\n, \\r and \\n as one break each", () => {
  assert.deepEqual(lineStarts("a\r\nb\rc\nd"), [0, 3, 5, 7]);
  assert.deepEqual(lineStarts("a\n"), [0, 2]);
});

// Random documents made of the pieces that decide block structure, streamed in random pieces (seeded: the same
// documents on every run).
test("incremental equals one-shot on 300 random documents", () => {
  let seed = 20240611;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const pick = (items) => items[Math.floor(random() * items.length)];
  const PIECES = [
    "text", "**b", "**", "_e_", "`c`", "\n", "\n\n", "\n\n\n", "  ", "    ", "- ", "* ", "+ ", "1. ", "2. ", "3) ",
    "# ", "## ", "> ", "```", "~~~", "```js", "---", "===", "| a | b |", "|---|---|", "|:-|", "[x]", "[x]: /u",
    "[y]: https://e.x 'T'", "[y]", "![i](/p.png)", "<b>", "&amp;", "\\", "~~s~~", "\t", "\r\n", "1", "10", "-", "|",
  ];
  for (let doc = 0; doc < 300; doc++) {
    let text = "";
    const length = 5 + Math.floor(random() * 40);
    for (let i = 0; i < length; i++) text += pick(PIECES);
    const sizes = Array.from({ length: 5 }, () => 1 + Math.floor(random() * 6));
    streamAndCheck(text, sizes);
  }
});

test("the work stays linear: each render parses only the tail", () => {
  let text = "";
  for (let i = 0; i < 400; i++) {
    text += `## Section ${i}\n\nSome **bold** text and a [link](https://e.x/${i}).\n\n- a\n- b\n\n\`\`\`js\nconst x = ${i};\n\`\`\`\n\n`;
  }
  let parsed = 0;
  const counting = Object.create(md);
  counting.parse = (src, env) => {
    parsed += src.length;
    return md.parse(src, env);
  };
  const incremental = new IncrementalMarkdown(counting);
  let renders = 0;
  for (let i = 0; i < text.length; i += 20) {
    incremental.append(text.slice(i, i + 20));
    incremental.render();
    renders += 1;
  }
  // A full render per piece would parse about renders × length / 2 characters (quadratic).
  assert.ok(parsed < 8 * text.length, `parsed ${parsed} characters for ${text.length}`);
  assert.ok(renders * text.length / 2 > 100 * parsed);
});
