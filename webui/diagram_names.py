"""Task, lane (group) and process names in the page's language, as the diagram of the task's version names
them (`name_zh`, workflows/definitions/display_names.py); the stored English name when it gives none.

Templates call `task_title(t)`, `task_text(t, "subject")`, `task_groups(t)`,
`element_name(instance_id, bpmn_id, english)` and `process_label(instance_id, process_key)`; a list page
first calls `prime(items)` so its rows' versions are read in one query. The instance -> version map lives
for the request (flask.g).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, g
from flask_babel import gettext

from webui.group_labels import group_label
from webui.i18n import current_language
from webui.services import services
from workflows.definitions.display_names import (
    ENGLISH,
    NO_NAMES,
    DiagramNames,
    definition_names,
    instance_versions,
)
from workflows.definitions.versions import latest_definition
from workflows.store.shown_json import Unreadable

_VERSIONS = "diagram_names_versions"  # flask.g: instance id -> definition id


def _versions() -> dict[int, int]:
    found: dict[int, int] | None = g.get(_VERSIONS)
    if found is None:
        found = {}
        setattr(g, _VERSIONS, found)
    return found


def prime(instance_ids: Iterable[int]) -> None:
    """Read the versions of these instances in one query (a page of inbox rows)."""
    versions = _versions()
    wanted = sorted({i for i in instance_ids if i not in versions})
    if not wanted:
        return
    with services().rt.factory() as session:
        versions.update(instance_versions(session, wanted))


def _names(instance_id: int) -> DiagramNames:
    versions = _versions()
    rt = services().rt
    with rt.factory() as session:
        if instance_id not in versions:
            versions.update(instance_versions(session, [instance_id]))
        if instance_id not in versions:
            return NO_NAMES
        return definition_names(session, rt.definition(session, versions[instance_id]))


def task_title(task: Any) -> str:
    """An inbox row's title in the page's language."""
    language = current_language()
    if language == ENGLISH:
        return str(task.title)
    return _names(task.instance_id).element(task.bpmn_id, language, str(task.title))


def task_text(task: Any, which: str) -> str:
    """A task's "subject" or "instructions" in the page's language: written when the task opened (from the
    diagram's `subject_zh` / `instructions_zh`, stored on the row, so a page of rows costs no query), else
    the English one."""
    english = str(getattr(task, which) or "")
    language = current_language()
    if language == ENGLISH:
        return english
    translated = (task.translations or {}).get(language) or {}
    return str(translated.get(which) or english)


def task_groups(task: Any) -> str:
    """The groups a task is offered to, as its diagram's lanes name them in the page's language; in English
    by the groups' names ("Credit analyst"), as lanes name them by id only."""
    if isinstance(task.candidate_groups, Unreadable):  # a hand edit: only admins may act (Actor.in_any)
        return str(gettext("groups no one can read (only administrators)"))
    language = current_language()
    groups = list(task.candidate_groups or [])
    if language == ENGLISH or not groups:
        return ", ".join(group_label(group) for group in groups)
    names = _names(task.instance_id)
    return "、".join(names.group(group, language) for group in groups)


def element_name(instance_id: int, bpmn_id: str | None, english: str | None) -> str:
    """A history line's task: its name in the page's language; the English name (the one stored, else the
    diagram's), else the element's id."""
    fallback = english or bpmn_id or ""
    language = current_language()
    if language == ENGLISH:
        if english or not bpmn_id:
            return fallback
        return _names(instance_id).elements.get(bpmn_id, {}).get(ENGLISH) or fallback
    return _names(instance_id).element(bpmn_id, language, fallback)


def process_label(instance_id: int, process_key: str) -> str:
    """The process's name in the page's language, as the instance's version names it (English: its
    diagram's `name`); the key itself when the diagram names none."""
    return _names(instance_id).process.get(current_language()) or process_key


def key_label(process_key: str) -> str:
    """A process key (a filter's choice) as its newest active version names the process in the page's
    language (English: its diagram's `name`); the key itself when no version names it."""
    language = current_language()
    with services().rt.factory() as session:
        definition = latest_definition(session, process_key, required=False)
        if definition is None:
            return process_key
        return definition_names(session, definition).process.get(language) or process_key


def definition_name(definition: Any) -> str:
    """A deployed version's process name in the page's language (its diagram's `name_zh`); its English name
    in English or when the diagram gives none, else its key."""
    english = str(definition.name or definition.process_key)
    language = current_language()
    if language == ENGLISH:
        return english
    with services().rt.factory() as session:
        return definition_names(session, definition).process.get(language) or english


def register(app: Flask) -> None:
    app.jinja_env.globals.update(
        key_label=key_label,
        task_title=task_title,
        task_text=task_text,
        task_groups=task_groups,
        element_name=element_name,
        process_label=process_label,
        definition_name=definition_name,
    )
