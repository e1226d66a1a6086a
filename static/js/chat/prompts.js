// @ts-check
// The prompt library's text rules, ported from chat/prompts/variables.py (prompt_variables, prompt_fill) so the page
// fills a prompt exactly as the server's fill endpoint would, and the picker's filter. Pure; unit-tested in
// tests/js/prompts.test.mjs with the cases of tests/chat/test_prompts.py.
//
// A placeholder is "{{" + a name + "}}". A name is one or more words of letters (any script), digits, "_" and "-",
// separated by spaces (and ideographic spaces); spaces around and between the words are normalised to one, so
// "{{ 対象　言語 }}" is the variable "対象 言語". Anything else in braces stays as written. Names are case-sensitive and
// at most 50 characters. Filling is one pass: a value is inserted literally and never scanned again.

const MAX_NAME = 50;
// Python's Unicode \w: letters, digits (any numeric character) and "_"; the server's PLACEHOLDER with it.
const SPACE = "[ \\t\\u3000]";
const WORD = "[\\p{L}\\p{N}_-]+";
const PLACEHOLDER = new RegExp("\\{\\{" + SPACE + "*(" + WORD + "(?:" + SPACE + "+" + WORD + ")*)" + SPACE + "*\\}\\}", "gu");

/**
 * @param {string} raw  the words as written between the braces
 * @returns {string | null} the normalised name, or null when it is too long to be one
 */
function nameOf(raw) {
  const name = raw.split(/[ \t\u3000]+/).filter(Boolean).join(" ");
  return Array.from(name).length <= MAX_NAME ? name : null;
}

/**
 * The prompt's variable names in order of first appearance, each once.
 * @param {string} content
 * @returns {string[]}
 */
export function promptVariables(content) {
  /** @type {string[]} */
  const names = [];
  for (const match of String(content).matchAll(PLACEHOLDER)) {
    const name = nameOf(match[1]);
    if (name !== null && !names.includes(name)) names.push(name);
  }
  return names;
}

/**
 * `content` with each placeholder whose name has a value replaced by that value, literally (never expanded again);
 * placeholders without a value stay as they are.
 * @param {string} content
 * @param {Record<string, string>} values
 * @returns {string}
 */
export function promptFill(content, values) {
  return String(content).replace(PLACEHOLDER, (whole, raw) => {
    const name = nameOf(raw);
    if (name === null || !Object.prototype.hasOwnProperty.call(values, name)) return whole;
    return String(values[name]); // a function's return value is inserted as is ("$1" stays "$1")
  });
}

/**
 * @typedef {object} PromptSummary  a prompt as GET /api/prompts/ gives it
 * @property {number} id
 * @property {string} name
 * @property {string} [description]
 * @property {string} content
 * @property {string} [folder_name]
 * @property {string[]} [variables]
 * @property {boolean} [shared]
 * @property {boolean} [editable]
 */

/**
 * The prompts that match what follows the "/" (case-insensitive): names that start with it first, then names that
 * contain it, then those whose folder or description does; each group in the library's order.
 * @template {PromptSummary} T
 * @param {T[]} prompts
 * @param {string} query
 * @returns {T[]}
 */
export function filterPrompts(prompts, query) {
  const wanted = query.trim().toLocaleLowerCase();
  if (!wanted) return prompts.slice();
  /** @type {T[][]} */
  const ranks = [[], [], []];
  for (const prompt of prompts) {
    const name = String(prompt.name || "").toLocaleLowerCase();
    const other = (String(prompt.folder_name || "") + "\n" + String(prompt.description || "")).toLocaleLowerCase();
    if (name.startsWith(wanted)) ranks[0].push(prompt);
    else if (name.includes(wanted)) ranks[1].push(prompt);
    else if (other.includes(wanted)) ranks[2].push(prompt);
  }
  return ranks.flat();
}

/**
 * The "/" command in the composer: the text after the slash when the composer holds only "/something" on one
 * line, else null.
 * @param {string} value
 * @returns {string | null}
 */
export function slashQuery(value) {
  const match = /^\/([^\n]*)$/.exec(value);
  return match ? match[1] : null;
}
