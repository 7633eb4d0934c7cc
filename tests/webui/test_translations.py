"""The web UI's message catalogues (webui/translations, issue 20): every string our code marks for translation
is in both catalogues, the zh_Hans one translates each of them (no empty, no fuzzy entry, the same
placeholders), and the .mo files `make setup` compiles hold what the .po files say."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from webui.i18n import TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ("en", "zh_Hans")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]")


def catalogue(locale: str) -> Catalog:
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=locale)


def marked_in_code() -> set[str]:
    """The msgids `make messages` extracts (babel.cfg), singular forms."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    # pgettext: the JS libraries' labels, with the library as context (webui/static/studio/library_labels.js)
    keywords = {
        "_": None,
        "gettext": None,
        "ngettext": (1, 2),
        "lazy_gettext": None,
        "pgettext": ((1, "c"), 2),
    }
    found = set()
    # babel.cfg names paths from the checkout (webui/, and the domain's workflows/ and handlers/, whose
    # sentences workflows.messages._ marks); one directory at a time keeps tests/ and .venv/ out of the walk.
    for top in sorted({pattern.split("/", 1)[0] for pattern, _method in method_map}):
        relative = [(p.removeprefix(f"{top}/"), m) for p, m in method_map if p.startswith(f"{top}/")]
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / top, relative, options_map, keywords=keywords
        ):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def ids(cat: Catalog) -> set[str]:
    return {m.id[0] if isinstance(m.id, tuple) else m.id for m in cat if m.id}


def test_both_catalogues_hold_exactly_the_messages_the_code_marks() -> None:
    marked = marked_in_code()
    assert len(marked) > 100  # the layout, login, inbox and task pages at least
    for locale in LOCALES:
        have = ids(catalogue(locale))
        assert not marked - have, (
            f"{locale}: not in the catalogue (run `make messages`): {sorted(marked - have)}"
        )
        assert not have - marked, (
            f"{locale}: no longer in the code (run `make messages`): {sorted(have - marked)}"
        )


def test_the_zh_hans_catalogue_translates_every_message_with_its_placeholders_and_nothing_fuzzy() -> None:
    cat = catalogue("zh_Hans")
    assert cat.num_plurals == 1  # Chinese has one plural form
    problems = []
    for m in cat:
        if not m.id:
            continue
        singular = m.id[0] if isinstance(m.id, tuple) else m.id
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if m.fuzzy:
            problems.append(f"fuzzy: {singular!r}")
        if not all(s and s.strip() for s in strings):
            problems.append(f"untranslated: {singular!r}")
        for s in strings:
            # As sets: a sentence may name a parameter twice ("between -%(most)s and %(most)s").
            if set(PLACEHOLDER.findall(s)) != set(PLACEHOLDER.findall(singular)) and not (
                isinstance(m.id, tuple) and set(PLACEHOLDER.findall(s)) == {"num"}
            ):
                problems.append(f"placeholders differ: {singular!r} -> {s!r}")
            if s == singular and re.search(r"[A-Za-z]{3}", s):
                problems.append(f"left in English: {singular!r}")
    problems += [f"{m.id!r}: {error}" for m, errors in cat.check() for error in errors]
    assert not problems, "\n".join(problems)


def test_the_compiled_catalogues_hold_what_the_po_files_say() -> None:
    for locale in LOCALES:
        mo = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo"
        assert mo.is_file(), f"{mo} is missing: `make setup` compiles it"
        with mo.open("rb") as fh:
            compiled = read_mo(fh)
        po = catalogue(locale)
        translated = {
            (m.id, m.context): m.string
            for m in po
            if m.id and any(m.string if isinstance(m.string, tuple) else [m.string])
        }
        stale = [
            key
            for (key, context), value in translated.items()
            if (found := compiled.get(key, context)) is None or _strings(found.string) != _strings(value)
        ]
        assert not stale, f"{mo} is older than its .po (run `make setup`): {stale[:5]}"


def _strings(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)
