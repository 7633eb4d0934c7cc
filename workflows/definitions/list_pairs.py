"""Pairing the items of two versions of a list (a decision table's columns or rules) by their keys, for
the DMN diff (dmn_diff.py)."""

from __future__ import annotations

from collections import deque
from typing import Any


def pair_by_keys(old: list[Any], new: list[Any], keys: list[Any]) -> list[tuple[int | None, int | None]]:
    """Pair items of two lists by each key in turn (the first key that is equal and not empty wins); the
    unpaired are (i, None) or (None, j). Ordered by the new list, removed items where they stood.

    Each new item takes the first free old item with its key, found through a dict of the old items by
    key, and removed items are placed in one pass: linear in the rules, so a table of thousands of rules
    whose ids all changed is compared in a fraction of a second (pairwise scanning took seconds).
    """
    taken: set[int] = set()
    paired: dict[int, int] = {}
    for key in keys:
        by_key: dict[Any, deque[int]] = {}
        for i, item in enumerate(old):
            if i not in taken:
                by_key.setdefault(key(item), deque()).append(i)
        for j, item in enumerate(new):
            if j in paired:
                continue
            value = key(item)
            if value in ("", None):
                continue
            free = by_key.get(value)
            if free:
                paired[j] = free.popleft()
                taken.add(paired[j])
    # A removed item goes after the last kept item (in the new order) that stood before it in the old list,
    # after any removed item placed there before it; at the top when none did.
    after: dict[int, list[int]] = {}
    kept = sorted((i, j) for j, i in paired.items())
    last, k = -1, 0
    for i in (i for i in range(len(old)) if i not in taken):
        while k < len(kept) and kept[k][0] < i:
            last = max(last, kept[k][1])
            k += 1
        after.setdefault(last, []).append(i)
    result: list[tuple[int | None, int | None]] = [(i, None) for i in after.get(-1, [])]
    for j in range(len(new)):
        result.append((paired.get(j), j))
        result.extend((i, None) for i in after.get(j, []))
    return result
