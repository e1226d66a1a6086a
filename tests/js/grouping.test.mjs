// The sidebar's order and groups (static/js/chat/grouping.js): pinned first then newest, folders hold their own
// conversations, calendar days in local time (Today, Yesterday, Previous 7 days, Previous 30 days, then months).
import assert from "node:assert/strict";
import test from "node:test";

import { dateGroupOf, daysBetween, groupSidebar, groupingSignature, sortConversations } from "../../static/js/chat/grouping.js";

// Local times (the test does not depend on the machine's time zone).
const local = (y, m, d, h = 12, min = 0) => new Date(y, m - 1, d, h, min);
const iso = (date) => date.toISOString();
const NOW = local(2025, 3, 15, 9, 30);

test("calendar days, not 24-hour periods", () => {
  assert.equal(daysBetween(local(2025, 3, 15, 0, 1), NOW), 0);
  assert.equal(daysBetween(local(2025, 3, 14, 23, 59), NOW), 1); // ten minutes ago by the clock is still yesterday
  assert.equal(daysBetween(local(2025, 3, 16, 1), NOW), -1);
  assert.equal(daysBetween(local(2024, 12, 31), local(2025, 1, 1, 0, 5)), 1);
});

test("each time falls into its group", () => {
  const kinds = [
    [local(2025, 3, 15, 0, 0), "today"],
    [local(2025, 3, 15, 23, 0), "today"],
    [local(2025, 3, 16, 8), "today"], // a clock ahead of ours
    [local(2025, 3, 14, 23, 59), "yesterday"],
    [local(2025, 3, 13), "week"],
    [local(2025, 3, 8), "week"],
    [local(2025, 3, 7), "month"],
    [local(2025, 2, 13), "month"],
    [local(2025, 2, 12), "older"],
  ];
  for (const [date, kind] of kinds) assert.equal(dateGroupOf(iso(date), NOW).kind, kind, date.toString());
  assert.deepEqual(dateGroupOf(iso(local(2024, 11, 3)), NOW), { kind: "older", key: "2024-11", year: 2024, month: 10 });
  assert.equal(dateGroupOf(undefined, NOW).kind, "today");
  assert.equal(dateGroupOf("not a date", NOW).kind, "today");
});

test("pinned first, then newest; stable for equal times", () => {
  const rows = [
    { id: 1, updated_at: iso(local(2025, 3, 10)) },
    { id: 2, updated_at: iso(local(2025, 3, 14)), pinned: true },
    { id: 3, updated_at: iso(local(2025, 3, 15)) },
    { id: 4, updated_at: iso(local(2025, 3, 1)), pinned: true },
    { id: 5 },
    { id: 6, updated_at: iso(local(2025, 3, 10)) },
  ];
  assert.deepEqual(sortConversations(rows).map((c) => c.id), [2, 4, 3, 1, 6, 5]);
  assert.equal(rows[0].id, 1); // a new array; the input is left alone
});

test("the sidebar's sections: pinned, folders (with their own pinned first), dates, months newest first", () => {
  const folders = [{ id: 10, name: "Work", position: 0 }, { id: 11, name: "Empty", position: 1 }];
  const rows = [
    { id: 1, updated_at: iso(local(2025, 3, 15, 8)) },
    { id: 2, updated_at: iso(local(2025, 3, 14)), pinned: true },
    { id: 3, updated_at: iso(local(2025, 3, 14)), folder_id: 10 },
    { id: 4, updated_at: iso(local(2025, 3, 1)), folder_id: 10, pinned: true },
    { id: 5, updated_at: iso(local(2025, 3, 14, 20)) },
    { id: 6, updated_at: iso(local(2025, 3, 10)) },
    { id: 7, updated_at: iso(local(2025, 2, 20)) },
    { id: 8, updated_at: iso(local(2024, 12, 5)) },
    { id: 9, updated_at: iso(local(2025, 1, 5)) },
    { id: 12, updated_at: iso(local(2024, 12, 25)), folder_id: 99 }, // a deleted folder: in no folder
  ];
  const groups = groupSidebar(rows, folders, NOW);
  assert.deepEqual(groups.pinned.map((c) => c.id), [2]);
  assert.deepEqual(groups.folders.map((f) => [f.folder.id, f.conversations.map((c) => c.id)]), [[10, [4, 3]], [11, []]]);
  assert.deepEqual(
    groups.dates.map((g) => [g.key, g.conversations.map((c) => c.id)]),
    [["today", [1]], ["yesterday", [5]], ["week", [6]], ["month", [7]], ["2025-01", [9]], ["2024-12", [12, 8]]],
  );
});

test("the signature changes when a day passes", () => {
  const rows = [{ id: 1, updated_at: iso(local(2025, 3, 15, 8)) }];
  assert.notEqual(groupingSignature(rows, NOW), groupingSignature(rows, local(2025, 3, 16, 0, 1)));
  assert.equal(groupingSignature(rows, NOW), groupingSignature(rows, local(2025, 3, 15, 23, 59)));
});
