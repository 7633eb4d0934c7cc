"""The languages creditflow speaks: the codes stored on users and customers, and their Babel locales."""

from __future__ import annotations

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
