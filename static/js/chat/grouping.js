// @ts-check
// How the sidebar orders and groups the person's conversations. Pure: no DOM, no strings (the sidebar names the
// groups); unit-tested in tests/js/grouping.test.mjs.
//
//   Pinned            pinned conversations that are in no folder
//   <folders>         each folder holds its own conversations (pinned first, then newest); they are in no date group
//   Today, Yesterday, Previous 7 days, Previous 30 days, then one group per month (newest first)
//
// Days are calendar days in the person's local time (the browser's time zone), from `updated_at`.

/**
 * @typedef {object} Summary  a conversation as the sidebar knows it (GET /api/conversations/, conversation.updated)
 * @property {number} id
 * @property {string} [title]
 * @property {string} [updated_at]  ISO 8601
 * @property {string} [model_label]
 * @property {boolean} [pinned]
 * @property {number | null} [folder_id]
 * @property {"title" | "message" | null} [match]  with a search: where it matched
 * @property {string} [snippet]  with a search: the matching message's text around the hit (plain text)
 */

/**
 * @typedef {object} FolderSummary
 * @property {number} id
 * @property {string} name
 * @property {number} [position]
 */

/**
 * @typedef {"today" | "yesterday" | "week" | "month" | "older"} DateKind
 */

/**
 * @typedef {object} DateGroup
 * @property {DateKind} kind
 * @property {string} key  "today", "yesterday", "week", "month", or "2024-03" for an older month
 * @property {number} [year]  (older months)
 * @property {number} [month]  0–11 (older months)
 * @property {Summary[]} conversations
 */

/**
 * @typedef {object} SidebarGroups
 * @property {Summary[]} pinned
 * @property {{folder: FolderSummary, conversations: Summary[]}[]} folders  in the folders' order
 * @property {DateGroup[]} dates  newest first; empty groups left out
 */

const DAY_MS = 86400000;

/**
 * @param {string | undefined} iso
 * @returns {number} milliseconds, or NaN
 */
function timeOf(iso) {
  return iso ? new Date(iso).getTime() : NaN;
}

/**
 * Pinned first, then the newest first (the server's order); a conversation without a time goes last of its kind.
 * Returns a new array.
 * @template {Summary} T
 * @param {T[]} conversations
 * @returns {T[]}
 */
export function sortConversations(conversations) {
  return conversations
    .map((conversation, index) => ({ conversation, index }))
    .sort((a, b) => {
      const pinned = Number(Boolean(b.conversation.pinned)) - Number(Boolean(a.conversation.pinned));
      if (pinned) return pinned;
      const ta = timeOf(a.conversation.updated_at);
      const tb = timeOf(b.conversation.updated_at);
      if (Number.isNaN(ta) !== Number.isNaN(tb)) return Number.isNaN(ta) ? 1 : -1;
      if (!Number.isNaN(ta) && ta !== tb) return tb - ta;
      return a.index - b.index; // stable
    })
    .map((entry) => entry.conversation);
}

/**
 * Calendar days from `date` to `now` in local time (0: the same day; negative: a later day).
 * @param {Date} date
 * @param {Date} now
 * @returns {number}
 */
export function daysBetween(date, now) {
  const start = new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  return Math.round((today - start) / DAY_MS); // round: a day with a daylight-saving change has 23 or 25 hours
}

/**
 * The date group of a time.
 * @param {string | undefined} iso
 * @param {Date} now
 * @returns {{kind: DateKind, key: string, year?: number, month?: number}}
 */
export function dateGroupOf(iso, now) {
  const time = timeOf(iso);
  if (Number.isNaN(time)) return { kind: "today", key: "today" }; // a brand-new conversation not yet dated
  const date = new Date(time);
  const days = daysBetween(date, now);
  if (days <= 0) return { kind: "today", key: "today" }; // a clock a little ahead counts as today
  if (days === 1) return { kind: "yesterday", key: "yesterday" };
  if (days <= 7) return { kind: "week", key: "week" };
  if (days <= 30) return { kind: "month", key: "month" };
  const year = date.getFullYear();
  const month = date.getMonth();
  return { kind: "older", key: `${year}-${String(month + 1).padStart(2, "0")}`, year, month };
}

/**
 * The sidebar's sections. A conversation whose folder is not (or no longer) in `folders` is in no folder.
 * @param {Summary[]} conversations
 * @param {FolderSummary[]} folders
 * @param {Date} now
 * @returns {SidebarGroups}
 */
export function groupSidebar(conversations, folders, now) {
  const sorted = sortConversations(conversations);
  /** @type {Map<number, Summary[]>} */
  const byFolder = new Map(folders.map((folder) => [folder.id, []]));
  /** @type {Summary[]} */
  const pinned = [];
  /** @type {DateGroup[]} */
  const dates = [];
  /** @type {Map<string, DateGroup>} */
  const dateIndex = new Map();
  for (const conversation of sorted) {
    const inFolder = conversation.folder_id !== null && conversation.folder_id !== undefined ? byFolder.get(conversation.folder_id) : undefined;
    if (inFolder) {
      inFolder.push(conversation);
      continue;
    }
    if (conversation.pinned) {
      pinned.push(conversation);
      continue;
    }
    const group = dateGroupOf(conversation.updated_at, now);
    let entry = dateIndex.get(group.key);
    if (!entry) {
      entry = { ...group, conversations: [] };
      dateIndex.set(group.key, entry);
      dates.push(entry);
    }
    entry.conversations.push(conversation);
  }
  const order = { today: 0, yesterday: 1, week: 2, month: 3, older: 4 };
  dates.sort((a, b) => order[a.kind] - order[b.kind] || (a.kind === "older" ? b.key.localeCompare(a.key) : 0));
  return {
    pinned,
    folders: folders.map((folder) => ({ folder, conversations: byFolder.get(folder.id) || [] })),
    dates,
  };
}

/**
 * A short fingerprint of which date group each conversation is in (the sidebar redraws when a day passes).
 * @param {Summary[]} conversations
 * @param {Date} now
 * @returns {string}
 */
export function groupingSignature(conversations, now) {
  return conversations.map((c) => c.id + ":" + dateGroupOf(c.updated_at, now).key).join(",");
}
