"""The languages creditflow speaks: the codes stored on users and customers, and their Babel locales."""

from __future__ import annotations

import re
from collections.abc import Sequence

from workflows.messages import _

# Stored code -> Babel locale of the catalogue (webui/translations/<locale>) and the formats.
LANGUAGES: dict[str, str] = {"en": "en", "zh": "zh_Hans"}
# Stored code -> the <html lang> tag (BCP 47).
HTML_LANG: dict[str, str] = {"en": "en", "zh": "zh-Hans"}
# What the header's switch shows for each language, in that language.
NATIVE_NAMES: dict[str, str] = {"en": "English", "zh": "中文"}


def check_language(code: str) -> str:
    """The stored code for `code` ("en", "zh"; case and surrounding blanks ignored).

    Raises:
        ValueError: a sentence naming the languages there are.
    """
    normal = code.strip().lower() if isinstance(code, str) else ""
    if normal not in LANGUAGES:
        raise ValueError(
            _(
                "language must be one of %(languages)s, got '%(code)s'",
                languages=", ".join(LANGUAGES),
                code=str(code)[:20],
            )
        )
    return normal


# What joins clauses in Chinese, and a part's own closing stops it would double ("继续催收。；"), also inside
# the closing tags of a marked-up value ('<span data-value="">继续催收。</span>').
ZH_CLAUSE_SEPARATOR = "；"
_CLOSING_STOPS = re.compile(r"[。；]+\s*((?:</[a-z]+>\s*)*)$")
# A part that ends a sentence with its own mark (also inside a marked-up value's closing tags).
_QUESTION_END = re.compile(r"[？！?!]\s*(?:</[a-z]+>\s*)*$")


def clauses_joined(parts: Sequence[str], separator: str) -> str:
    """`parts` joined by `separator`; before a Chinese ；, each part's own closing 。 or ； (a typed note's:
    "不同意，继续催收。") is dropped, as the ； after it would double the stop. The last part keeps its own.
    A part that ends in a question or an exclamation (？！?!) keeps its mark and ends the sentence: no ； or ;
    follows it ("是否指以下流程之一：credit_hold？请加入…"; in English the next part starts a sentence:
    "credit_hold? Add …"). A Markup separator and Markup parts give Markup."""
    chinese = separator.strip() == ZH_CLAUSE_SEPARATOR
    joined = type(separator)("")
    for index, part in enumerate(parts):
        if index and _QUESTION_END.search(str(parts[index - 1])):
            joined += type(separator)("" if chinese else " ")
            part = part if chinese else _capitalised(part)
        elif index:
            joined += separator
        joined += _unclosed(part) if chinese and index < len(parts) - 1 else part
    return joined


def _capitalised(part: str) -> str:
    # An English sentence after a question starts with a capital: "credit_hold? Add the BPMN file ...".
    text = str(part)
    if not text[:1].islower():
        return part
    said = text[:1].upper() + text[1:]
    return type(part)(said) if hasattr(part, "__html__") else said  # Markup stays Markup


def _unclosed(part: str) -> str:
    # On the plain text: re.sub rebuilds a Markup by joining, which would escape its closing tags.
    said = _CLOSING_STOPS.sub(r"\1", str(part).rstrip())
    # Markup stays Markup (it was escaped already); a plain str stays plain.
    return type(part)(said) if hasattr(part, "__html__") else said
