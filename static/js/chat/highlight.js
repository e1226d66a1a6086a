// @ts-check
// Search hits: which parts of a title or snippet to mark for a query. Pure text in, ranges out; the sidebar wraps
// the marked parts in <mark> as text nodes (never as HTML). Unit-tested in tests/js/highlight.test.mjs.
//
// The server matches whole words and, in Japanese, two-character pieces after folding case and width (docs/search.md),
// so a term is looked for the same way: case and fullwidth/halfwidth forms do not matter, and a CJK run that is not
// found whole is marked piece by piece (会議室 in "会議と議室").

// chat/search.py _CJK: Han (with its iteration and closing marks), Hiragana, Katakana (not its middle dot), Hangul.
const CJK_CLASS =
  "\\u3005-\\u3007\\u3021-\\u3029\\u3031-\\u3035\\u303b\\u303c\\u3041-\\u309f\\u30a1-\\u30fa\\u30fc-\\u30ff\\u31f0-\\u31ff" +
  "\\u1100-\\u11ff\\u3131-\\u318e\\ua960-\\ua97f\\uac00-\\ud7a3\\ud7b0-\\ud7ff\\u3400-\\u4dbf\\u4e00-\\u9fff\\uf900-\\ufaff" +
  "\\u{20000}-\\u{323af}";
const CJK_RUN = new RegExp("^[" + CJK_CLASS + "]+$", "u");
// A CJK run, or a word: letters and digits that are not CJK (underscores and punctuation separate words).
const TOKEN = new RegExp("[" + CJK_CLASS + "]+|(?:(?![" + CJK_CLASS + "])[\\p{L}\\p{N}])+", "gu");

/**
 * The query's terms: runs of letters and digits (punctuation and spaces separate them, as on the server), folded.
 * @param {string} query
 * @returns {string[]}
 */
export function queryTerms(query) {
  const terms = [];
  for (const match of fold(query).matchAll(TOKEN)) {
    if (!terms.includes(match[0])) terms.push(match[0]);
  }
  return terms;
}

/**
 * Case and width folded, one UTF-16 unit for one (so positions in the folded text are positions in the original):
 * a character whose folded form has another length is kept as it is.
 * @param {string} text
 * @returns {string}
 */
export function fold(text) {
  let out = "";
  for (const ch of text) {
    let folded = ch.normalize("NFKC").toLowerCase();
    if (folded.length !== ch.length) {
      folded = ch.toLowerCase();
      if (folded.length !== ch.length) folded = ch;
    }
    out += folded;
  }
  return out;
}

/**
 * @param {string} haystack  folded
 * @param {string} needle  folded
 * @returns {[number, number][]}
 */
function occurrences(haystack, needle) {
  /** @type {[number, number][]} */
  const found = [];
  if (!needle) return found;
  let from = 0;
  for (;;) {
    const at = haystack.indexOf(needle, from);
    if (at < 0) break;
    found.push([at, at + needle.length]);
    from = at + needle.length;
  }
  return found;
}

/**
 * Where the query's terms are in `text`: sorted, merged [start, end) ranges in UTF-16 units.
 * @param {string} text
 * @param {string} query
 * @returns {[number, number][]}
 */
export function highlightRanges(text, query) {
  const folded = fold(text);
  /** @type {[number, number][]} */
  let ranges = [];
  for (const term of queryTerms(query)) {
    const whole = occurrences(folded, term);
    if (whole.length || !CJK_RUN.test(term) || Array.from(term).length < 3) {
      ranges = ranges.concat(whole);
      continue;
    }
    const chars = Array.from(term);
    for (let i = 0; i + 1 < chars.length; i += 1) ranges = ranges.concat(occurrences(folded, chars[i] + chars[i + 1]));
  }
  ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  /** @type {[number, number][]} */
  const merged = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
    else merged.push([range[0], range[1]]);
  }
  return merged;
}

/**
 * `text` cut into pieces, each marked or not.
 * @param {string} text
 * @param {string} query
 * @returns {{text: string, mark: boolean}[]}
 */
export function highlightSegments(text, query) {
  /** @type {{text: string, mark: boolean}[]} */
  const segments = [];
  let at = 0;
  for (const [start, end] of highlightRanges(text, query)) {
    if (start > at) segments.push({ text: text.slice(at, start), mark: false });
    segments.push({ text: text.slice(start, end), mark: true });
    at = end;
  }
  if (at < text.length || !segments.length) segments.push({ text: text.slice(at), mark: false });
  return segments;
}
