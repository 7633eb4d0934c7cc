"""The shipped groups' names in the page's language (the header's "who" tooltip and anywhere a page lists a
user's groups): "credit_analyst" -> "Credit analyst" / "信用分析师". The names follow the lanes of the shipped
diagrams (`name_zh`); a group the deployment added itself is shown by its id."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask
from flask_babel import lazy_gettext

from webui.i18n import list_separator
from workflows.group_names import GROUP_NAMES
from workflows.users import SYSTEM_ACTOR

# The names live in workflows/group_names.py (domain sentences name groups too); said here in the page's
# language.
GROUP_LABELS = {group: lazy_gettext(name.msgid) for group, name in GROUP_NAMES.items()}
# creditflow itself as an actor (workflows.users.SYSTEM_ACTOR, timers and jobs): "the system", 系统.
SYSTEM_NAME = lazy_gettext("the system")


def group_label(group: str) -> str:
    """A group's name in the page's language; an unknown group as its id."""
    label = GROUP_LABELS.get(group)
    return str(label) if label is not None else group


def group_list(groups: Iterable[str]) -> str:
    """Several groups, sorted by id, joined as the page's language lists things ("、" in Chinese)."""
    return list_separator().join(group_label(g) for g in sorted(groups))


def actor_label(name: str | None) -> str:
    """Who acted, as a history or audit row names them: creditflow itself ("system": timers, jobs, the
    shipped deployments) in the page's language ("the system", 系统); a person by their user name, as
    stored. The audit filter and the CSV export keep the stored "system"."""
    if name == SYSTEM_ACTOR:
        return str(SYSTEM_NAME)
    return name or ""


def register(app: Flask) -> None:
    app.jinja_env.globals.update(group_label=group_label, group_list=group_list, actor_label=actor_label)
