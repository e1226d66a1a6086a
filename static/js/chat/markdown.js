// @ts-check
// Markdown while an answer streams, rendered in the browser exactly like the server renders the finished answer
// (chat/rendering.py) and sanitised with the same allow-list; the server's HTML (chat.done) replaces it at the end.
//
// Linear work: text is committed block by block. A top-level block is final once a later top-level block starts
// after a blank line on a complete line (nothing appended afterwards can pull that line back into the block above:
// a paragraph ends at a blank line, a list or indented code only continues with an indented or same-marker line,
// and that line is already there). Committed blocks are rendered once and stay in the page as DOM; each animation
// frame only re-parses the uncommitted tail (the last block or two). Link reference definitions are the one
// markdown feature that reaches backwards (a definition at the end turns `[x]` at the top into a link): when the
// set of definitions changes, everything is rendered again once. tests/js/markdown.test.mjs checks that after every
// piece of a stream the committed HTML plus the tail is byte for byte the one-shot render of the same text.
//
// Safety: markdown-it runs with raw HTML off (a `<script>` is text), images become links (the browser never
// fetches anything), and every fragment is sanitised by DOMPurify with the server's nh3 allow-list before it
// touches the page: tags, per-tag attributes, http/https/mailto (and relative) URLs only. The page's CSP
// (script-src 'self', img-src 'self' data:) is the third layer.

/** Tags the server's nh3 allows (chat/rendering.py ALLOWED_TAGS). No <img>: images are links. */
export const ALLOWED_TAGS = [
  "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a",
  "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "span", "div",
];

/** Attributes per tag (chat/rendering.py ALLOWED_ATTRIBUTES). @type {Record<string, string[]>} */
export const ALLOWED_ATTRIBUTES = {
  a: ["href", "title"],
  span: ["class"],
  div: ["class"],
  code: ["class"],
  pre: ["class"],
  th: ["style"],
  td: ["style"],
  ol: ["start"],
};

/** Table alignment only (chat/rendering.py _attribute_filter). */
const ALLOWED_STYLES = ["text-align:left", "text-align:right", "text-align:center"];

/**
 * http, https and mailto, or a relative URL (nh3 passes those through too); never javascript:, data:, vbscript:…
 * The scheme-less branches are DOMPurify's own.
 */
export const ALLOWED_URI = /^(?:(?:https?|mailto):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i;

/**
 * Keeps only the classes the server keeps (Pygments' hl-… and language-…).
 * @param {string} value
 * @returns {string}
 */
export function keptClasses(value) {
  return value
    .split(/\s+/)
    .filter((name) => name.startsWith("hl-") || name.startsWith("language-"))
    .join(" ");
}

/**
 * markdown-it configured like chat/rendering.py: the CommonMark preset with tables and strikethrough, raw HTML
 * off, no linkify, no typographer, no soft-break <br>; an image becomes a link "🖼 alt".
 * @param {any} markdownit  the vendored constructor (static/vendor/markdown-it)
 * @returns {any}
 */
export function createMarkdown(markdownit) {
  const md = markdownit("commonmark", { html: false, linkify: false, typographer: false, breaks: false });
  md.enable(["table", "strikethrough"]);
  const escape = md.utils.escapeHtml;
  md.renderer.rules.image = (
    /** @type {any[]} */ tokens,
    /** @type {number} */ idx,
    /** @type {any} */ options,
    /** @type {any} */ env,
    /** @type {any} */ self,
  ) => {
    const token = tokens[idx];
    const src = String(token.attrGet("src") || "");
    const alt = self.renderInlineAsText(token.children || [], options, env) || src;
    return `<a href="${escape(src)}" title="${escape(src)}">🖼 ${escape(alt)}</a>`;
  };
  return md;
}

/**
 * Start offsets of the lines of `text` (line breaks as markdown-it counts them: \r\n, \r or \n). A last entry
 * after a final break stands for the (empty) line being written.
 * @param {string} text
 * @returns {number[]}
 */
export function lineStarts(text) {
  const starts = [0];
  const breaks = /\r\n|\r|\n/g;
  let match;
  while ((match = breaks.exec(text)) !== null) starts.push(match.index + match[0].length);
  return starts;
}

/**
 * @param {string} text
 * @param {number[]} starts
 * @param {number} line
 * @returns {boolean}
 */
function isBlankLine(text, starts, line) {
  const end = line + 1 < starts.length ? starts[line + 1] : text.length;
  return /^[ \t]*(?:\r\n|\r|\n)?$/.test(text.slice(starts[line], end));
}

/**
 * @typedef {object} RenderStep
 * @property {boolean} reset  drop everything committed before: `commit` starts from the top
 * @property {string} commit  HTML of blocks that are final now (append after the committed ones)
 * @property {string} tail  HTML of the rest (replaces the previous tail)
 */

/** The incremental renderer, as strings (no DOM): what tests/js/markdown.test.mjs checks. */
export class IncrementalMarkdown {
  /** @param {any} md  from createMarkdown */
  constructor(md) {
    this.md = md;
    /** Everything received. */
    this.text = "";
    /** UTF-16 index in `text`: what is before it is rendered for good. Always the start of a line. */
    this.committedUpTo = 0;
    /** @type {Record<string, unknown>} link reference definitions in the committed text */
    this.committedRefs = {};
    /** The definitions (committed and tail) the committed HTML was rendered with. */
    this.refsKey = "{}";
  }

  /** @param {string} text */
  append(text) {
    this.text += text;
  }

  /** @returns {RenderStep} */
  render() {
    const step = this.pass(false);
    if (step !== null) return step;
    // The definitions changed: what was committed may read differently now. Once, from the top.
    this.committedUpTo = 0;
    this.committedRefs = {};
    return { ...(/** @type {RenderStep} */ (this.pass(true))), reset: true };
  }

  /**
   * @param {boolean} fromTop
   * @returns {RenderStep | null} null when the reference definitions changed under committed text
   */
  pass(fromTop) {
    const md = this.md;
    const tail = this.text.slice(this.committedUpTo);
    const env = { references: { ...this.committedRefs } };
    const tokens = md.parse(tail, env);
    const refsKey = JSON.stringify(env.references);
    if (!fromTop && this.committedUpTo > 0 && refsKey !== this.refsKey) return null;
    this.refsKey = refsKey;

    // The last top-level block that starts after a blank line, on a line that is complete.
    const starts = lineStarts(tail);
    let cut = -1;
    let cutLine = 0;
    for (let i = tokens.length - 1; i > 0; i--) {
      const token = tokens[i];
      if (token.level !== 0 || token.nesting === -1 || !token.map) continue;
      const line = token.map[0];
      if (line < 1 || line + 1 >= starts.length) continue;
      if (!isBlankLine(tail, starts, line - 1)) continue;
      cut = i;
      cutLine = line;
      break;
    }
    let commit = "";
    let rest = tokens;
    if (cut > 0) {
      commit = md.renderer.render(tokens.slice(0, cut), md.options, env);
      rest = tokens.slice(cut);
      const offset = starts[cutLine];
      if (Object.keys(env.references).length > Object.keys(this.committedRefs).length) {
        // Which of the definitions are in the part committed now (the rest stay the tail's).
        const committedEnv = { references: { ...this.committedRefs } };
        md.parse(tail.slice(0, offset), committedEnv);
        this.committedRefs = committedEnv.references;
      }
      this.committedUpTo += offset;
    }
    return { reset: false, commit, tail: md.renderer.render(rest, md.options, env) };
  }
}

/**
 * A function that turns rendered HTML into a sanitised DocumentFragment, with the server's allow-list.
 * @param {any} createDOMPurify  the vendored DOMPurify (static/vendor/dompurify)
 * @returns {(html: string) => DocumentFragment}
 */
export function createSanitizer(createDOMPurify) {
  const purify = createDOMPurify(window); // an instance of our own: its hook affects nothing else
  purify.addHook("uponSanitizeAttribute", (/** @type {Element} */ node, /** @type {any} */ data) => {
    const allowed = ALLOWED_ATTRIBUTES[node.nodeName.toLowerCase()];
    if (!allowed || !allowed.includes(data.attrName)) {
      data.keepAttr = false;
    } else if (data.attrName === "style" && !ALLOWED_STYLES.includes(data.attrValue)) {
      data.keepAttr = false;
    } else if (data.attrName === "class") {
      data.attrValue = keptClasses(data.attrValue);
      if (!data.attrValue) data.keepAttr = false;
    }
  });
  const options = {
    ALLOWED_TAGS,
    ALLOWED_ATTR: ["href", "title", "class", "style", "start"],
    ALLOWED_URI_REGEXP: ALLOWED_URI,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    ALLOW_UNKNOWN_PROTOCOLS: false,
    KEEP_CONTENT: true,
    RETURN_DOM_FRAGMENT: true,
  };
  return (html) => purify.sanitize(html, options);
}

/**
 * Text as a fragment, for when the libraries did not load: the stream still shows, unformatted.
 * @param {string} text
 * @returns {DocumentFragment}
 */
function plainFragment(text) {
  const fragment = document.createDocumentFragment();
  const paragraph = document.createElement("p");
  paragraph.className = "stream-plain";
  paragraph.textContent = text;
  fragment.append(paragraph);
  return fragment;
}

/**
 * @typedef {object} StreamingOptions
 * @property {any} md  from createMarkdown, or null (libraries missing: plain text)
 * @property {((html: string) => DocumentFragment) | null} sanitize  from createSanitizer
 * @property {(fragment: DocumentFragment) => void} enhance  code block headers, table wrappers, link targets
 * @property {() => void} [onRender]  after each render (keeps the view at the bottom)
 */

/** The DOM side: one streaming answer's body, rendered at most once per animation frame. */
export class StreamingView {
  /**
   * @param {HTMLElement} container  the answer's `.msg-body`
   * @param {StreamingOptions} options
   */
  constructor(container, options) {
    this.container = container;
    this.options = options;
    this.incremental = options.md ? new IncrementalMarkdown(options.md) : null;
    this.plain = "";
    /** @type {ChildNode[]} */
    this.tailNodes = [];
    this.dirty = false;
    /** @type {number | null} */
    this.timer = null;
    /** @type {number | null} */
    this.frame = null;
    this.notBefore = 0;
  }

  /** @param {string} text */
  append(text) {
    if (!text) return;
    if (this.incremental) this.incremental.append(text);
    else this.plain += text;
    this.dirty = true;
    this.schedule();
  }

  /**
   * Renders on the next animation frame, and no sooner than three times the last render's cost after it ended (at
   * most a quarter of the time goes to rendering, however long the tail). Hidden tabs get no animation frames: a
   * timer.
   */
  schedule() {
    if (this.timer !== null || this.frame !== null) return;
    const wait = Math.max(0, this.notBefore - performance.now());
    this.timer = window.setTimeout(() => {
      this.timer = null;
      if (document.hidden) this.flush();
      else this.frame = window.requestAnimationFrame(() => this.flush());
    }, wait);
  }

  /** Renders what arrived now (also used before the finished HTML replaces the stream). */
  flush() {
    this.cancel();
    if (!this.dirty) return;
    this.dirty = false;
    const started = performance.now();
    const { container, options } = this;
    for (const node of this.tailNodes) node.remove();
    /** @type {DocumentFragment} */
    let tail;
    if (this.incremental && options.sanitize) {
      const step = this.incremental.render();
      if (step.reset) container.replaceChildren();
      if (step.commit) {
        const committed = options.sanitize(step.commit);
        options.enhance(committed);
        container.append(committed);
      }
      tail = options.sanitize(step.tail);
    } else {
      tail = plainFragment(this.incremental ? this.incremental.text : this.plain);
    }
    options.enhance(tail);
    this.tailNodes = Array.from(tail.childNodes);
    container.append(tail);
    const finished = performance.now();
    this.notBefore = finished + 3 * (finished - started);
    if (options.onRender) options.onRender();
  }

  cancel() {
    if (this.timer !== null) window.clearTimeout(this.timer);
    if (this.frame !== null) window.cancelAnimationFrame(this.frame);
    this.timer = null;
    this.frame = null;
  }
}
