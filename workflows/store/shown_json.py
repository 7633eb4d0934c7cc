"""Stored JSON as an answer can show it, whatever older versions or a hand edit left in a row.

Nothing creditflow writes today holds a lone surrogate or nests deeper than MAX_SHOWN_DEPTH: requests are
checked (webui.input_checks), and so are start data, forms, messages (process_data) and scripts' and
handlers' results (engine.script_builtins). A row written otherwise must still read: the reader did nothing
wrong, so neither a 500 nor a 4xx is the answer. JSON encoders refuse such data (orjson: lone surrogates,
more than 254 levels; pydantic's parser, which checks responses in tests: more than 200), so it is shown
repaired: a lone surrogate as U+FFFD (the replacement character), anything nested past MAX_SHOWN_DEPTH as
"…". The stored row is left as it is. HTML pages and CSV exports, which show such values in many places,
repair lone surrogates where the body is encoded (webui/responses.ShownResponse, through shown_text).
"""

from __future__ import annotations

import json
import re
from typing import Any

# The deepest task data the engine stores (script_builtins.MAX_RESULT_DEPTH); the answer's own wrapping
# (items, context, data) adds a few levels and stays far below the encoders' limits.
MAX_SHOWN_DEPTH = 100
CUT = "…"
_SURROGATE = re.compile("[\ud800-\udfff]")
# In JSON text: a surrogate written as an escape (json.dumps writes every non-ASCII character so).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class Unreadable:
    """A stored JSON value no decoder reads (no JSON at all, or nested past Python's recursion limit), kept
    as its text. Not a str, dict or list, so code that needs the value fails as before; answers show it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def read_json(text: str | bytes) -> Any:
    """The engines' JSON decoder (workflows.store.db): json.loads, but a row it cannot decode reads as
    Unreadable instead of failing the query that loads it, which would fail every page listing that row."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return Unreadable(text.decode(errors="replace") if isinstance(text, bytes) else text)


def shown_json(value: Any, depth: int = 0) -> Any:
    """`value` (decoded JSON) with lone surrogates replaced and containers past MAX_SHOWN_DEPTH cut; equal
    to `value` for anything creditflow writes. Recursion stops at MAX_SHOWN_DEPTH, whatever the nesting."""
    if isinstance(value, str):
        return value if value.isascii() else shown_text(value)
    if isinstance(value, Unreadable):
        return shown_text(value.text)
    if isinstance(value, dict):
        if depth >= MAX_SHOWN_DEPTH:
            return CUT
        return {shown_json(key): shown_json(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        if depth >= MAX_SHOWN_DEPTH:
            return CUT
        return [shown_json(item, depth + 1) for item in value]
    return value


def shown_text(text: str) -> str:
    """`text` with each lone surrogate as U+FFFD: what UTF-8 can encode (a page showing stored values)."""
    return _SURROGATE.sub("\ufffd", text)


def shown_from_text(text: str, value: Any) -> Any:
    """shown_json(value) for `value` decoded from `text`, walked only when the text could need it (a
    surrogate's escape, or more brackets than MAX_SHOWN_DEPTH): the inbox list decodes a row per task."""
    if text.count("[") + text.count("{") < MAX_SHOWN_DEPTH and not (
        _SURROGATE_ESCAPE.search(text) or _SURROGATE.search(text)
    ):
        return value
    return shown_json(value)


def shown_context(instructions: Any, four_eyes: Any, data: Any) -> dict[str, Any]:
    """A task's "context" as the API shows it (inbox.task_json): four-eyes record and case data shown_json'd,
    as the inbox list's rows are (shown_from_text)."""
    return {"instructions": instructions, "four_eyes": shown_json(four_eyes), "data": shown_json(data)}


def readable_or(value: Any, instead: Any) -> Any:
    """`value`, or `instead` (an empty value of the type the answer promises) for an Unreadable one: an
    answer whose model says a list or an object keeps its shape; unreadable_said says the stored text."""
    return instead if isinstance(value, Unreadable) else value


def unreadable_said(values: dict[str, Any]) -> dict[str, str]:
    """The stored text of each Unreadable value, by the answer's name for it: what an answer lists under
    "unreadable" (only when there is one), so a reader sees what is stored instead of an empty value."""
    return {name: shown_text(value.text) for name, value in values.items() if isinstance(value, Unreadable)}


def unreadable_note(values: dict[str, Any]) -> dict[str, Any]:
    """{"unreadable": unreadable_said(values)} when one of `values` is Unreadable, else {}: spread into an
    answer, it adds the field only where there is something to say."""
    said = unreadable_said(values)
    return {"unreadable": said} if said else {}
