"""E-mail templates (Jinja, per language under config/templates/) and the filters they format with.

English templates are config/templates/NAME.{subject.txt,txt,html}; a language's own version lives in a folder
of its code, config/templates/zh/NAME.*, and is chosen for a recipient who reads that language (the customer's
or supplier's `language` for their mail, the user's for internal mail). A template with no version in the
reader's language falls back to English. Each language's `money` and `when` filters write amounts and dates as
its readers do (format_money for the language's locale; `2027年1月14日` in Chinese).

Templates render in jinja2's sandbox: they are files an administrator may edit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, getcontext
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import jinja2
from babel.dates import format_date
from jinja2.sandbox import SandboxedEnvironment

from workflows.languages import LANGUAGES
from workflows.mail.sender import CompanyNames
from workflows.messages import _
from workflows.money import format_money
from workflows.settings import TEMPLATE_DIR

_TEMPLATE_PARTS = ("subject.txt", "txt", "html")
# Longer names are no template: a diagram's 300-character name reached the file system, whose "File name too
# long" (OSError) failed notify.email with the server's path instead of "no e-mail template" (attack A24).
_MAX_NAME = 100


class TemplateError(ValueError):
    """An e-mail template could not be rendered; the message names the file and the cause."""


class UnknownTemplate(TemplateError):
    """No complete template (NAME.subject.txt, NAME.txt and NAME.html) exists under that name."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    language: str = "en"  # the language the template was written in (the reader's, or the English fallback)


def available_templates(template_dir: Path = TEMPLATE_DIR) -> list[str]:
    """Names of the complete e-mail templates in `template_dir`, sorted."""
    names = {path.name.removesuffix(".subject.txt") for path in template_dir.glob("*.subject.txt")}
    complete = (n for n in names if all((template_dir / f"{n}.{p}").is_file() for p in _TEMPLATE_PARTS))
    return sorted(complete)


# How a reader of each language writes a day: "14 Jan 2027" (as English pages and letters do), 2027年1月14日.
_DATE_FORMATS = {"en": "d MMM y", "zh": "long"}


def format_when(value: datetime | date | str | None) -> str:
    """A time or a day as an English reader writes it: "14 Jan 2027 09:30 UTC", "14 Jan 2027"."""
    return format_when_for(value, language="en")


def format_when_for(value: datetime | date | str | None, *, language: str = "en") -> str:
    """A time or a day (ISO strings too: task data) as a reader of `language` writes it: "14 Jan 2027",
    Chinese "2027年1月14日", with "09:30 UTC" after a time; "-" for none."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        text = value
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            return text  # not a date (task data may hold anything): shown as it is
    locale = LANGUAGES.get(language, "en")
    pattern = _DATE_FORMATS.get(language, "long")
    if isinstance(value, datetime):
        # Task data may carry naive times; everything creditflow stores is UTC.
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return f"{format_date(aware.date(), format=pattern, locale=locale)} {aware:%H:%M} UTC"
    return format_date(value, format=pattern, locale=locale)


def format_week(value: Any, *, language: str = "en") -> str:
    """An ISO week ("2026-W10", the watchlist summary's) as a reader of `language` names it: Chinese
    "2026年第10周"; English, and anything that is no ISO week, as given."""
    text = str(value)
    year, _, week = text.partition("-W")
    if language == "zh" and year.isdigit() and week.isdigit():
        return f"{year}年第{int(week)}周"
    return text


def format_field_value(value: Any, key: str, currency: str | None = None, *, language: str = "en") -> str:
    """A contract field's value as the reader writes it: a day (`*_date`) by `when`, the `value` as money,
    "-" for nothing, anything else as typed. A filter, not a macro of _labels.txt: a macro of a .txt file
    called from an .html template returned its body unescaped (attack A24)."""
    if value is None or value == "":
        return "-"
    if key.endswith("_date"):
        return format_when_for(value, language=language)
    if key == "value":
        return format_money(value, currency, locale=LANGUAGES.get(language, "en"))
    return str(value)


# Characters a name may meet in Chinese text without a space: CJK ideographs (the unified ones, extension
# A, extensions B to H beyond the BMP: 𠮷; compatibility ideographs: 﨑), radicals, kana and bopomofo (a
# Japanese name: 山田たろう), CJK and full-width punctuation, blanks. Hangul is spaced, as Latin is.
_CJK_EDGE = re.compile(
    r"[\u2e80-\u2fdf\u3000-\u30ff\u3100-\u312f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    r"\uff00-\uffef\U00020000-\U000323af\s]"
)


def cjk_spaced(value: Any) -> str:
    """A name set between Chinese characters as Chinese typesetting sets it: a space on a side where it begins
    or ends with a Latin letter, a digit or other Western text ("放行 Acme Machinery GmbH 的订单", "尊敬的 Eva
    Lind 先生/女士"), none beside Chinese ("放行上海精密零件有限公司的订单")."""
    text = str(value)
    if not text:
        return text
    before = "" if _CJK_EDGE.match(text[0]) else " "
    after = "" if _CJK_EDGE.match(text[-1]) else " "
    return f"{before}{text}{after}"


def template_language(template: str, language: str | None, template_dir: Path = TEMPLATE_DIR) -> str:
    """The language `template` renders in for a reader of `language`: theirs when the template has a complete
    version in it (config/templates/LANG/NAME.*), else English."""
    if not language or language == "en" or language not in LANGUAGES or not _simple_name(template):
        return "en"
    folder = template_dir / language
    return language if all((folder / f"{template}.{p}").is_file() for p in _TEMPLATE_PARTS) else "en"


def _simple_name(template: str) -> bool:
    """Whether `template` can name a template: letters, digits and "_" only (no paths: a diagram must not read
    other files), and short enough for a file name."""
    return len(template) <= _MAX_NAME and template.replace("_", "").isalnum()


# Babel parses the locale and the pattern on every call (~18 µs an amount), and a notice writes each amount
# in its subject, text and HTML parts, so the filters keep what they wrote (issue 19), keyed by the value
# exactly: a Decimal by its digits and exponent (1.0 and 1.00 are equal, but the text of one past 10**40 is
# the value as stored), a day or time with its type and zone, and the decimal context's rounding (Babel
# rounds in it). Other values (floats, odd task data) are written each time.
_EXACT_KEYS: dict[type, Any] = {
    str: str,
    int: int,
    Decimal: Decimal.as_tuple,
    date: date.isoformat,
    datetime: lambda value: (value.isoformat(), value.tzinfo),
}


def _exact(value: Any) -> Any:
    """The value's cache key, or None when it is not kept."""
    key = _EXACT_KEYS.get(type(value))
    # A signalling NaN cannot be hashed (lru_cache would raise TypeError); format_money writes it as stored.
    if key is None or (type(value) is Decimal and value.is_snan()):
        return None
    return type(value), key(value)


def _money_text(value: Any, currency: Any = None, *, empty: Any = "-", locale: str | None = None) -> str:
    exact = _exact(value)
    if exact is None or not isinstance(currency, str | None) or type(empty) is not str:
        return format_money(value, currency, empty=empty, locale=locale)
    return _kept_money(exact, value, currency, empty, locale, getcontext().rounding)


@lru_cache(maxsize=4096)
def _kept_money(_key: Any, value: Any, currency: str | None, empty: str, locale: str | None, _r: Any) -> str:
    return format_money(value, currency, empty=empty, locale=locale)


def _when_text(value: Any, *, language: str) -> str:
    exact = _exact(value)
    return format_when_for(value, language=language) if exact is None else _kept_when(exact, value, language)


@lru_cache(maxsize=4096)
def _kept_when(_exact_key: Any, value: Any, language: str) -> str:
    return format_when_for(value, language=language)


@lru_cache(maxsize=8)
def _environment(template_dir: Path, language: str = "en") -> jinja2.Environment:
    # Cached per directory and language so compiled templates are reused; FileSystemLoader still reloads
    # edited files. A language's folder comes first, so its templates extend its own _layout.html.
    search = [template_dir / language, template_dir] if language != "en" else [template_dir]
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(search),
        undefined=jinja2.StrictUndefined,
        # Escape only the HTML body: the subject and the plain-text body must show `<` and `&` as typed.
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False, default=False),
        keep_trailing_newline=True,
    )
    env.filters["when"] = partial(_when_text, language=language)
    env.filters["money"] = partial(_money_text, locale=LANGUAGES[language] if language != "en" else None)
    # Python filters return plain text: escaped in an .html part, as typed in the .txt and subject.
    env.filters["week"] = partial(format_week, language=language)
    env.filters["field_value"] = partial(format_field_value, language=language)
    env.filters["cjk_spaced"] = cjk_spaced
    return env


def render_email(
    template: str,
    context: Mapping[str, Any],
    *,
    template_dir: Path = TEMPLATE_DIR,
    language: str | None = "en",
    company: CompanyNames | None = None,
) -> RenderedEmail:
    """Render the subject, plain-text and HTML parts of a template, in `language` when it has a version in it
    (else in English; RenderedEmail.language says which). Templates sign with `company_name`, the
    `company`'s name in that language ("" when none is given: the department alone signs).

    Raises:
        UnknownTemplate: no complete template of that name exists.
        TemplateError: a variable is missing from `context`, or a template is broken.
    """
    complete = _simple_name(template) and all(
        (template_dir / f"{template}.{p}").is_file() for p in _TEMPLATE_PARTS
    )
    if not complete:
        available = available_templates(template_dir)
        raise UnknownTemplate(
            _(
                "no e-mail template '%(template)s' in %(folder)s (available: %(available)s); use one of"
                " those "
                "or add %(name)s.subject.txt, %(name)s.txt and %(name)s.html",
                template=template,
                folder=str(template_dir),
                available=", ".join(available) if available else _("none"),
                name=template,
            )
        )
    written_in = template_language(template, language, template_dir)
    env = _environment(template_dir, written_in)
    signed_by = company.in_language(written_in) if company else ""
    parts = []
    for part in _TEMPLATE_PARTS:
        filename = f"{template}.{part}"
        try:
            parts.append(env.get_template(filename).render({**context, "company_name": signed_by}))
        except jinja2.UndefinedError as exc:
            raise TemplateError(
                _(
                    "e-mail template %(file)s: %(problem)s; add it to the context (given: %(given)s)",
                    file=filename,
                    problem=str(exc.message),
                    given=", ".join(sorted(context)) if context else _("nothing"),
                )
            ) from exc
        except jinja2.TemplateSyntaxError as exc:
            where = f"{exc.filename or filename}:{exc.lineno}"
            raise TemplateError(
                _("e-mail template %(file)s: %(problem)s", file=where, problem=exc.message)
            ) from exc
        # ArithmeticError: a `when` of a time whose UTC day leaves years 1-9999 (OverflowError), a division.
        except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
            raise TemplateError(
                _("e-mail template %(file)s: %(problem)s", file=filename, problem=str(exc))
            ) from exc
    subject, text, html = parts
    # A header cannot span lines, and user data inside a subject must not smuggle in a second header.
    return RenderedEmail(subject=" ".join(subject.split()), text=text, html=html, language=written_in)
