"""Sentences the domain says to people (error messages, deploy problems, validation messages) that the web UI
and the JSON API say again in the reader's language.

The domain layer knows no Flask and no locale: it builds a `Text`, which *is* the English sentence (a str,
so logs, the CLI and every existing comparison keep working) and also remembers its msgid and parameters.
webui/errors.py (and whatever renders such a sentence) translates it with `translated` in the request's
language. `pybabel extract` finds the msgids because the constructor is called `_` (babel.cfg scans
workflows/ and handlers/ too), exactly as in the web UI's own code.

    from workflows.messages import _
    raise NotFound(_("no customer %(id)s: list them with GET /api/customers", id=customer_id))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self


class Text(str):
    """An English sentence with the msgid and parameters it was made from."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Self:
        text = super().__new__(cls, msgid % params if params else msgid)
        text.msgid, text.params = msgid, params
        return text


def _(msgid: str, **params: Any) -> Text:
    """The sentence `msgid` (old-style named placeholders: %(name)s) filled with `params`."""
    return Text(msgid, **params)


class Worded(Text):
    """A word the catalogue does not hold because its author wrote it in each language (a form's choice
    labels: `enum_titles`, `enum_titles_zh`): said in the language of the catalogue that says the sentence
    around it, else in English (the str itself)."""

    words: dict[str, str]

    def __new__(cls, english: str, words: dict[str, str]) -> Self:
        text = super().__new__(cls, english)  # no parameters: the label as it is, never a format
        text.words = words
        return text

    def __getnewargs__(self) -> tuple[str, dict[str, str]]:  # type: ignore[override]
        """What copy and pickle pass to __new__ (str's own gives the text only)."""
        return str(self), self.words


# The catalogue's own language: its msgstr of this msgid is its code ("zh"); English has none, so the msgid's
# last word. How a Worded knows which of its words the sentence around it is said in.
LANGUAGE_MSGID = _("language of this catalogue: en").msgid


def catalogue_language(gettext: Callable[[str], str]) -> str:
    """The code of the language `gettext` says sentences in ("en", "zh")."""
    return gettext(LANGUAGE_MSGID).rsplit(" ", 1)[-1].strip()


# A `status` in a sentence ("instance 5 is running, not error") is one of our codes; each code's msgid is the
# word itself (webui/i18n.STATUS_LABELS), so the same catalogue says it. A code without one stays as it is.
# A status the sentence quotes ('%(status)s': "no dispute status 'customers'") is what the asker typed, echoed
# as typed: said through the catalogue, a typed 'customers' read 没有争议状态 '客户' (attack A21).
_CODE_PARAMS = frozenset({"status"})


def quoted(msgid: str, name: str) -> bool:
    """Whether `msgid` quotes its parameter `name` ('%(name)s' or %(name)r): what the asker typed, echoed."""
    return f"%({name})r" in msgid or f"'%({name})s'" in msgid


def _param(
    name: str, param: Any, gettext: Callable[[str], str], value: Callable[[Any], Any] | None, msgid: str
) -> Any:
    if isinstance(param, Text):
        return translated(param, gettext, value)
    # A typed text the sentence quotes is echoed as typed: never said as a code, nor written as a day (a
    # typed ?status=2026-01-01 read "no dispute status '1 Jan 2026'", a value nobody sent).
    if isinstance(param, str) and quoted(msgid, name):
        return param
    if name in _CODE_PARAMS and isinstance(param, str) and param.isidentifier():
        return gettext(param)
    return value(param) if value else param


def translated(
    sentence: str, gettext: Callable[[str], str], value: Callable[[Any], Any] | None = None
) -> str:
    """`sentence` in the language of `gettext` (the catalogue's lookup: msgid -> msgstr, the msgid when it has
    none): a Text is looked up and filled again (its Text parameters said the same way); any other str is
    returned as it is (nothing to look up). `value` writes the other parameters as the reader writes them (a
    page writes a day as "2027年1月14日"); without it they are filled in as given."""
    if not isinstance(sentence, Text):
        return sentence
    if isinstance(sentence, Worded):
        return sentence.words.get(catalogue_language(gettext)) or str(sentence)
    said = gettext(sentence.msgid)
    if not sentence.params:
        return said
    # A parameter may itself be a Text (a deploy problem's "condition: <the sandbox's sentence>"): said too.
    params = {
        name: _param(name, param, gettext, value, sentence.msgid) for name, param in sentence.params.items()
    }
    try:
        return said % params
    except (KeyError, TypeError, ValueError):  # a msgstr whose placeholders do not match: English, not a 500
        return str(sentence)
