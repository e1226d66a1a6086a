"""Edit branches and regenerated versions (docs/websocket-protocol.md, "Versions").

A conversation is a tree of messages: each message's ``parent`` is the message it follows (a question follows an
answer, an answer follows its question; the first question has none). Editing a question adds a sibling question
under the same parent; regenerating adds a sibling answer under the same question. The page, the model's context
and the Markdown export show one path through the tree, the *active* one: its messages have ``superseded=False``,
every other message ``superseded=True``. Switching versions (the "< 1/2 >" arrows) moves the active path;
nothing is deleted.

The functions here are pure: they take ``(id, parent_id)`` pairs (ids rise with creation, so a child's id is
always above its parent's) and return ids.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

Edge = tuple[int, int | None]  # (message id, parent id)


def children_of(edges: Iterable[Edge]) -> dict[int | None, list[int]]:
    """Children by parent (``None``: the first questions), oldest first."""
    children: dict[int | None, list[int]] = defaultdict(list)
    for pk, parent in sorted(edges):
        children[parent].append(pk)
    return children


def active_path(edges: Iterable[Edge], *, through: int, descend: bool = True) -> list[int]:
    """The path that shows ``through``: its ancestors, itself, and (``descend``) below it the newest child at each
    step down to a leaf. In order from the first question."""
    edges = list(edges)
    parent_of = dict(edges)
    if through not in parent_of:
        raise KeyError(through)
    path = [through]
    seen = {through}
    node = parent_of[through]
    while node is not None and node in parent_of and node not in seen:  # a cycle cannot be stored; guard anyway
        path.append(node)
        seen.add(node)
        node = parent_of[node]
    path.reverse()
    if descend:
        children = children_of(edges)
        node = through
        while children.get(node):
            node = children[node][-1]
            if node in seen:
                break
            path.append(node)
            seen.add(node)
    return path


@dataclass(frozen=True)
class Versions:
    """A message and its siblings (the versions of one question or one answer), oldest first."""

    ids: tuple[int, ...]
    index: int  # this message's place in ``ids``

    def as_json(self) -> dict[str, object]:
        return {"ids": list(self.ids), "index": self.index}


def versions_of(edges: Iterable[Edge], ids: Iterable[int]) -> dict[int, Versions]:
    """For each of ``ids`` that has siblings, its versions. A message with none is left out (no "1/1")."""
    edges = list(edges)
    parent_of = dict(edges)
    children = children_of(edges)
    found = {}
    for pk in ids:
        if pk not in parent_of:
            continue
        siblings = children[parent_of[pk]]
        if len(siblings) > 1:
            found[pk] = Versions(ids=tuple(siblings), index=siblings.index(pk))
    return found


def versions_json(siblings: Iterable[int], pk: int) -> dict[str, object] | None:
    """The ``versions`` of a message with these siblings (itself included), or None when it is the only one."""
    ids = sorted(siblings)
    return Versions(ids=tuple(ids), index=ids.index(pk)).as_json() if len(ids) > 1 else None


def backfill_parents(rows: Iterable[tuple[int, str, bool]]) -> dict[int, int | None]:
    """Parents for one conversation's messages stored before the tree (``(id, role, superseded)`` in id order).

    Before, an edit overwrote the question and a regenerate kept the earlier answers marked superseded, so: a
    question follows the last active message before it; an answer (active or not) follows the last question."""
    parents: dict[int, int | None] = {}
    tail: int | None = None
    question: int | None = None
    for pk, role, superseded in rows:
        if role == "user":
            parents[pk] = tail
            question = tail = pk
        else:
            parents[pk] = question
            if not superseded:
                tail = pk
    return parents
