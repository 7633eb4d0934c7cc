"""Sentences the domain wrote into the database as English text, shown in the page's language.

An incident's message, a credit check's reason or a KPI snapshot's reason was stored as the English
sentence a `workflows.messages.Text` said (the column is plain text; rows from before issue 20 are too).
Their msgid and parameters are gone, but the sentence still has the msgid's shape: `said_stored` finds the
catalogue msgid whose placeholders match the whole sentence (the most specific one first), says each
parameter again the same way (a parameter may itself be a sentence: "credit.score failed: no exchange
rate ..."), and fills the translation. A sentence no msgid matches is shown as stored.

Only the few columns that hold such sentences are passed through it (never free text a person typed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from threading import Lock
from typing import Any

from babel.support import Translations
from flask_babel import get_translations, gettext

from webui.i18n import current_language
from webui.page_dates import format_day, format_time
from workflows.messages import Text, _, quoted, translated

ENGLISH = "en"

# SpiffWorkflow's own sentences around a failure, as an incident stores them (its exceptions' text and notes):
# marked as msgids here (SpiffWorkflow has no catalogue) so that said_stored says their frame in the reader's
# language; the expression, Python's own error and the names inside stay as stored.
SPIFF_FRAMES = (
    _("Error evaluating expression %(expression)s: %(error)s"),
    _("%(error)s. Business Rule Task %(task)s."),
    _("%(error)s.  Did you mean %(name)s?"),
    _("%(error)s.  Did you mean one of %(names)s?"),
    _("%(error)s. Rule failed on row %(row)s"),
    _("%(error)s. Failed to execute DMN Rule on row %(row)s"),
    _("%(error)s. Python script error on line %(line)s: %(code)s"),
    _("No conditions satisfied on gateway."),
    _("No conditions satisfied for %(task)s."),
)
_PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdrfi]")
# An exception's name (CamelCase, one inner capital at least: ValueError, MissingRates) before a sentence.
_TYPED = re.compile(r"([A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+): (.+)", re.S)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?")
_DEPTH = 3  # a sentence inside a sentence inside a sentence: enough for "op failed: file: problem"
# A msgid with k placeholders is k lazy groups: on a sentence that has its literal parts over and over but
# fails at the end, trying every split backtracks in about n**k steps (a 1,300-character sentence took 2.5 s
# against one 7-placeholder msgid, twice that length a minute). Each shape is first tried with every
# placeholder taking the text up to the FIRST occurrence of the literal after it (an atomic group: linear);
# the full search, which also finds a parameter that holds its next literal, only on sentences this short.
_FULL_SEARCH_MAX = 300
# Placeholders that hold what a person or a client system wrote (an ERP order reference, a user or file name,
# a typed value): shown as stored, never re-read as a sentence of ours. An order an ERP calls "credit
# application" read 订单 授信申请 on a Chinese page, a reference nobody can look up.
_DATA = frozenset(
    "order order_ref ref reference held_reference user username name names who customer number "
    "invoice_number raiser starter owner recorder proposer deployer closed_by recipient address title "
    "subject file path value values text literal external_id expression code key process_key".split()
)


@dataclass(frozen=True)
class _Shape:
    msgid: str
    pattern: re.Pattern[str]
    quick: re.Pattern[str]  # the same shape, each placeholder up to the first occurrence of its next literal
    anchor: str  # the longest literal part: a cheap test before the regular expression


_SHAPES: dict[int, tuple[Mapping[str, Any], list[_Shape]]] = {}
_LOCK = Lock()


def _shape(msgid: str) -> _Shape | None:
    parts, seen, literals, last = [], set(), [], 0
    for found in _PLACEHOLDER.finditer(msgid):
        literal = msgid[last : found.start()].replace("%%", "%")  # the sentence wrote "%%" as "%"
        literals.append(literal)
        parts.append(re.escape(literal))
        name = found.group(1)
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        last = found.end()
    if not seen:
        return None
    literals.append(msgid[last:].replace("%%", "%"))
    parts.append(re.escape(literals[-1]))
    anchor = max(literals, key=len)
    if len("".join(literals).strip()) < 3:  # "%(a)s: %(b)s" and the like match anything: too loose
        return None
    return _Shape(msgid, re.compile("".join(parts), re.S), re.compile(_atomic(parts), re.S), anchor)


def _atomic(parts: list[str]) -> str:
    """`parts` (literal, group, literal, ..., literal) with each lazy group and the literal after it in one
    atomic group: the group ends at that literal's first occurrence and is never tried longer. The last
    group stays free (the sentence's end decides it), as does a group followed by another group."""
    out = list(parts)
    for at in range(1, len(parts) - 2, 2):
        if parts[at].endswith(".+?)") and parts[at + 1]:
            out[at], out[at + 1] = f"(?>{parts[at]}{parts[at + 1]}", ")"
    return "".join(out)


def _shapes(translations: Any = None) -> tuple[Mapping[str, Any], list[_Shape]]:
    """The page's catalogue (or `translations`') and the shapes of its msgids with placeholders, most
    literal text first."""
    translations = translations or get_translations()
    catalog: Mapping[str, Any] = getattr(translations, "_catalog", {})
    key = id(catalog)
    found = _SHAPES.get(key)
    if found is None:
        shapes = [s for m in catalog if isinstance(m, str) and "%(" in m if (s := _shape(m)) is not None]
        shapes.sort(key=lambda s: -len(_PLACEHOLDER.sub("", s.msgid)))
        found = (catalog, shapes)
        with _LOCK:
            _SHAPES[key] = found
    return found


# A recognised sentence: its msgid and its parameters, each the text as matched or a sentence recognised.
Recognised = tuple[str, dict[str, "str | Recognised"]]


@cache
def _msgids() -> Any:
    """A catalogue that holds every msgid: the zh one (English has no msgstrs to hold them)."""
    return Translations.load(str(Path(__file__).parent / "translations"), ["zh_Hans"])


def _recognised(sentence: str, depth: int, source: Any = None) -> Recognised | None:
    """The msgid and parameters `sentence` was said from, read back from the page's catalogue (or from
    `source`); None if none fits."""
    catalog, shapes = _shapes(source)
    if sentence in catalog:
        return sentence, {}
    if depth >= _DEPTH:
        return None
    for shape in shapes:
        if shape.anchor not in sentence:
            continue
        match = shape.quick.fullmatch(sentence)
        if match is None and len(sentence) <= _FULL_SEARCH_MAX:
            match = shape.pattern.fullmatch(sentence)
        if match is None:
            continue
        params: dict[str, str | Recognised] = {}
        for name, value in match.groupdict().items():
            inner = _recognised(value, depth + 1, source) if " " in value and name not in _DATA else None
            params[name] = value if inner is None else inner
        return shape.msgid, params
    return None


# How a parameter holding a code (not a sentence) is said, by its placeholder's name: the caller knows what
# its sentences' codes are ("missing": case-data keys, "trigger": a review's trigger).
Sayers = Mapping[str, Callable[[str], str]]


def _value(name: str, value: str | Recognised, sayers: Sayers, msgid: str) -> str:
    if not isinstance(value, str):
        return _say(value, sayers)
    if quoted(msgid, name):  # what someone typed, quoted by the sentence: as typed, never re-dated
        return value
    return sayers[name](value) if name in sayers else dated(value)


def dated(value: Any) -> Any:
    """A sentence's parameter as a reader of the page (or of a JSON `message`) writes it when it is a day
    or a time (a date, a datetime, or its ISO text): "14 Jan 2027" in English, "2027年1月14日" in Chinese;
    any other value as it is. The Text itself keeps ISO days (logs, the CLI), and so do the JSON's own
    fields."""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return format_day(value)
    if isinstance(value, str) and (_ISO_DAY.fullmatch(value) or _ISO_TIME.fullmatch(value)):
        try:
            if len(value) == 10:
                return format_day(value)
            return format_time(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:  # the shape of a day but no real one
            return value
    return value


def _say(found: Recognised, sayers: Sayers) -> str:
    msgid, params = found
    said = str(gettext(msgid))
    if not params:
        return said
    # The matched values are the text as the sentence showed it (a %r's quotes, a %d's digits included).
    said = _PLACEHOLDER.sub(lambda m: f"%({m.group(1)})s", said)
    values = {name: _value(name, value, sayers, msgid) for name, value in params.items()}
    try:
        return said % values
    except (KeyError, TypeError, ValueError):  # a msgstr whose placeholders do not match: English
        return _PLACEHOLDER.sub(lambda m: f"%({m.group(1)})s", msgid) % values


def said_stored(sentence: object, sayers: Sayers | None = None) -> str:
    """`sentence` (a stored domain sentence, or a Text) in the page's language; as it is when English or
    not recognised. `sayers` say the parameters that hold codes, by placeholder name."""
    if sentence is None:
        return ""
    if isinstance(sentence, Text):
        return translated(sentence, gettext, dated)
    text = str(sentence)
    if not text:
        return text
    if current_language() == ENGLISH:
        return _english(text)
    found = _recognised(text.strip(), 0)  # SpiffWorkflow's sentences end in ". " (incidents before 2026-12)
    if found is not None:
        return _say(found, sayers or {})
    # "ConflictError: <sentence>": a failure stored with its exception's name (a job day's error, an
    # incident recorded around the engine); the name stays, the sentence is said.
    typed = _TYPED.fullmatch(text)
    inner = _recognised(typed.group(2), 0) if typed else None
    return text if typed is None or inner is None else f"{typed.group(1)}: {_say(inner, sayers or {})}"


def _english(text: str) -> str:
    """A stored English sentence with a day in it (ISO, as the domain stores it) with that day written as
    an English reader writes it ("14 Jan 2027"); any other text as stored (our sentences are English)."""
    if not _ISO_DAY.search(text):
        return text
    found = _recognised(text.strip(), 0, _msgids())
    if found is not None:
        return _say(found, {})
    typed = _TYPED.fullmatch(text)  # "MissingRate: <sentence>", as said_stored reads it in zh
    inner = _recognised(typed.group(2), 0, _msgids()) if typed else None
    return text if typed is None or inner is None else f"{typed.group(1)}: {_say(inner, {})}"


def stored_msgid(sentence: str) -> str | None:
    """The msgid a stored sentence was said from, read back from the page's catalogue; None if none fits."""
    found = _recognised(sentence.strip(), 0)
    return None if found is None else found[0]
