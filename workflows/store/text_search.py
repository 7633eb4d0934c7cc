"""Substring search on names as people type them, on SQLite and PostgreSQL alike.

`contains(column, text)` matches when `text` occurs anywhere in the column: Chinese names by any part
(上海精密零件有限公司 by 精密; CJK has no case, so lowering leaves it as it is), Latin letters without regard
to case (lower() on both sides: the database's for the column, Python's for the text; SQLite lowers ASCII
only, so a non-ASCII capital such as Ä matches only as typed there). `%`, `_` and `\\` in the text are
literal characters, not LIKE wildcards.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func

ESCAPE = "\\"


def like_pattern(text: str) -> str:
    """`%text%` in lower case with LIKE's wildcards escaped."""
    escaped = text.lower().replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    return f"%{escaped}%"


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """The column holds `text` (any case, wildcards literal)."""
    return func.lower(column).like(like_pattern(text), escape=ESCAPE)
