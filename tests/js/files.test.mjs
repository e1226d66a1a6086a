// The composer's file chips (static/js/chat/files.js): the size and type labels a chip shows.
import assert from "node:assert/strict";
import test from "node:test";

import { formatSize, typeLabel } from "../../static/js/chat/files.js";

test("sizes read as people say them", () => {
  assert.equal(formatSize(12), "12 B");
  assert.equal(formatSize(2048), "2 KB");
  assert.equal(formatSize(1.5 * 1024 * 1024), "1.5 MB");
  assert.equal(formatSize(20 * 1024 * 1024), "20 MB");
});

test("the type is the extension, upper case, and FILE without one", () => {
  assert.equal(typeLabel("議事録.pdf"), "PDF");
  assert.equal(typeLabel("screen.PNG"), "PNG");
  assert.equal(typeLabel("archive.tar.gz"), "GZ");
  assert.equal(typeLabel("README"), "FILE");
  assert.equal(typeLabel(".env"), "FILE");
  assert.equal(typeLabel("trailing."), "FILE");
});
