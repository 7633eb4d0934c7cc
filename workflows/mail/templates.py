"""E-mail templates (Jinja, per language under config/templates/) and the filters they format with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from workflows.money import format_money
from workflows.settings import TEMPLATE_DIR

_TEMPLATE_PARTS = ("subject.txt", "txt", "html")


class TemplateError(ValueError):
    """An e-mail template could not be rendered; the message names the file and the cause."""


class UnknownTemplate(TemplateError):
    """No complete template (NAME.subject.txt, NAME.txt and NAME.html) exists under that name."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def available_templates(template_dir: Path = TEMPLATE_DIR) -> list[str]:
    """Names of the complete e-mail templates in `template_dir`, sorted."""
    names = {path.name.removesuffix(".subject.txt") for path in template_dir.glob("*.subject.txt")}
    complete = (n for n in names if all((template_dir / f"{n}.{p}").is_file() for p in _TEMPLATE_PARTS))
    return sorted(complete)


def format_when(value: datetime | date | str | None) -> str:
    """Show a time as `YYYY-MM-DD HH:MM UTC` and a date as `YYYY-MM-DD`; ISO strings (task data) too."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    if isinstance(value, datetime):
        # Task data may carry naive times; everything creditflow stores is UTC.
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


@lru_cache(maxsize=4)
def _environment(template_dir: Path) -> jinja2.Environment:
    # Cached per directory so compiled templates are reused; FileSystemLoader still reloads edited files.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir),
        undefined=jinja2.StrictUndefined,
        # Escape only the HTML body: the subject and the plain-text body must show `<` and `&` as typed.
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False, default=False),
        keep_trailing_newline=True,
    )
    env.filters["when"] = format_when
    env.filters["money"] = format_money
    return env


def render_email(
    template: str, context: Mapping[str, Any], *, template_dir: Path = TEMPLATE_DIR
) -> RenderedEmail:
    """Render the subject, plain-text and HTML parts of a template.

    Raises:
        UnknownTemplate: no complete template of that name exists.
        TemplateError: a variable is missing from `context`, or a template is broken.
    """
    simple_name = template.replace("_", "").isalnum()  # no paths: a diagram must not read other files
    complete = simple_name and all((template_dir / f"{template}.{p}").is_file() for p in _TEMPLATE_PARTS)
    if not complete:
        available = available_templates(template_dir)
        raise UnknownTemplate(
            f"no e-mail template {template!r} in {template_dir} "
            f"(available: {', '.join(available) or 'none'}); "
            f"use one of those or add {template}.subject.txt, {template}.txt and {template}.html"
        )
    env = _environment(template_dir)
    parts = []
    for part in _TEMPLATE_PARTS:
        filename = f"{template}.{part}"
        try:
            parts.append(env.get_template(filename).render(dict(context)))
        except jinja2.UndefinedError as exc:
            raise TemplateError(
                f"e-mail template {filename}: {exc.message}; add it to the context "
                f"(given: {', '.join(sorted(context)) or 'nothing'})"
            ) from exc
        except jinja2.TemplateSyntaxError as exc:
            where = f"{exc.filename or filename}:{exc.lineno}"
            raise TemplateError(f"e-mail template {where}: {exc.message}") from exc
        except (jinja2.TemplateError, TypeError, ValueError) as exc:
            raise TemplateError(f"e-mail template {filename}: {exc}") from exc
    subject, text, html = parts
    # A header cannot span lines, and user data inside a subject must not smuggle in a second header.
    return RenderedEmail(subject=" ".join(subject.split()), text=text, html=html)
