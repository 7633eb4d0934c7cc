"""The browser's share of the catalogues (issue 20): our JavaScript's sentences in the page's language.

JavaScript under webui/static (not vendor/) marks its sentences with `_("...")`, as Python does; babel.cfg
extracts them into the same catalogues, so `make messages`, the zh_Hans translations and
tests/webui/test_translations.py treat them like every other msgid. Every page embeds the current locale's
translations of those msgids (the catalogue entries whose location is under webui/static/) as a JSON data
block, `<script type="application/json" id="creditflow-i18n">` (data, not code: the Content-Security-Policy
allows no inline script), keyed by a hash of the msgid (message_key); static/i18n.js reads it into
`window.CREDITFLOW_I18N` and defines
`window.creditflowGettext(msgid, params)`, which fills `%(name)s` placeholders. English pages embed nothing:
the msgid is the English sentence. The labels of bpmn-js, its properties panel and dmn-js are listed in
studio/library_labels.js with the library as context, and reach the libraries through their translate service
(studio/i18n.js).
"""

from __future__ import annotations

from functools import lru_cache

from babel.messages.pofile import read_po
from flask import Flask

from webui.formatting import page_locale

# Where the catalogues name our scripts (Makefile: --add-location=file, paths from the checkout).
_JS_LOCATION = "webui/static/"


@lru_cache(maxsize=4)
def js_translations(locale: str) -> dict[str, str]:
    """msgid -> translation of our scripts' sentences for `locale` ("zh_Hans"); read once per process.

    Only translated entries are given; an untranslated one falls back to English in the browser, as gettext
    does for Python.
    """
    from webui.i18n import TRANSLATIONS  # webui.i18n imports the app's services; keep this module light

    path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    if locale == "en" or not path.is_file():
        return {}
    with path.open("rb") as fh:
        catalogue = read_po(fh, locale=locale)
    found: dict[str, str] = {}
    for message in catalogue:
        if not message.id or message.fuzzy or not isinstance(message.id, str):
            continue
        if message.string and any(where.startswith(_JS_LOCATION) for where, _line in message.locations):
            # A library's label (studio/library_labels.js) is keyed "context\x04msgid", as GNU gettext does.
            key = f"{message.context}\x04{message.id}" if message.context else message.id
            found[key] = str(message.string)
    return found


def message_key(key: str) -> str:
    """The key a page embeds a translation under: FNV-1a (32 bits, over the UTF-8 bytes) of the msgid, or of
    "context\x04msgid", in hex; static/i18n.js and studio/i18n.js compute the same. The page so carries no
    English sentence (a zh page's text stays Chinese for readers and for the tests that look for English)."""
    digest = 0x811C9DC5
    for byte in key.encode("utf-8"):
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{digest:08x}"


@lru_cache(maxsize=8)
def embedded(locale: str, libraries: bool) -> dict[str, str]:
    """What a page embeds: message_key -> translation; the libraries' labels (keys with a context, about
    15 KB) only for a page that loads the editors (`{% set js_libraries = true %}`).

    Raises:
        RuntimeError: two msgids share a key (then the hash must grow): tests/webui/test_js_i18n.py.
    """
    found: dict[str, str] = {}
    for key, text in js_translations(locale).items():
        if libraries or "\x04" not in key:
            hashed = message_key(key)
            if hashed in found:
                raise RuntimeError(f"two script msgids share the key {hashed}, one is {key!r}")
            found[hashed] = text
    return found


def page_js_translations(libraries: bool = False) -> dict[str, str]:
    """The translations of the scripts' sentences for the page being rendered."""
    return embedded(page_locale(), libraries)


def register(app: Flask) -> None:
    app.jinja_env.globals.update(js_translations=page_js_translations)
