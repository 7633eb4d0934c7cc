"""Look deployed versions up: the newest active one of a key (what new instances start), one version, every
key, and the forms deployed with a version. The write side (deploy, second-owner approval) is deploy.py."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.definitions.form_checks import bundle_form
from workflows.errors import NotFound
from workflows.messages import _
from workflows.store.models import DefinitionStatus, Deployment, ProcessDefinition, ProcessInstance
from workflows.store.paging import page_rows


def latest_definition(session: Session, key: str, *, required: bool = True) -> ProcessDefinition | None:
    """The newest active version of a process key: what new instances start (pending versions wait for
    a second process owner, rejected ones never run).

    Raises:
        NotFound: when `required` and the key has no active version.
    """
    definition = session.scalar(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_key == key, ProcessDefinition.status == DefinitionStatus.ACTIVE)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )
    if definition is None and required:
        newest = newest_version(session, key)
        if newest is not None:
            if newest.status == DefinitionStatus.PENDING:
                raise NotFound(
                    _(
                        "process '%(key)s' has no active version: v%(version)s is %(status)s"
                        " and waits for a second process owner's approval",
                        key=key,
                        version=newest.version,
                        status=newest.status,
                    )
                )
            raise NotFound(
                _(
                    "process '%(key)s' has no active version: v%(version)s is %(status)s",
                    key=key,
                    version=newest.version,
                    status=newest.status,
                )
            )
        raise NotFound(
            _("process '%(key)s' is not deployed; deploy its diagram with `creditflow deploy`", key=key)
        )
    return definition


def get_definition(session: Session, key: str, version: int) -> ProcessDefinition:
    """One deployed version of a process key.

    Raises:
        NotFound: naming the key and version.
    """
    definition = session.scalar(
        select(ProcessDefinition).where(
            ProcessDefinition.process_key == key, ProcessDefinition.version == version
        )
    )
    if definition is None:
        raise NotFound(
            _(
                "%(key)s version %(version)s is not deployed; see the Definitions page for what is",
                key=key,
                version=version,
            )
        )
    return definition


def latest_definitions(session: Session) -> list[ProcessDefinition]:
    """The newest active version of every process key, by key."""
    latest = (
        select(ProcessDefinition.process_key, func.max(ProcessDefinition.version).label("version"))
        .where(ProcessDefinition.status == DefinitionStatus.ACTIVE)
        .group_by(ProcessDefinition.process_key)
        .subquery()
    )
    return list(
        session.scalars(
            select(ProcessDefinition)
            .join(
                latest,
                (ProcessDefinition.process_key == latest.c.process_key)
                & (ProcessDefinition.version == latest.c.version),
            )
            .order_by(ProcessDefinition.process_key)
        )
    )


def process_keys(session: Session) -> list[str]:
    """Every deployed process key, sorted (the choices of a process filter)."""
    return list(
        session.scalars(
            select(ProcessDefinition.process_key).distinct().order_by(ProcessDefinition.process_key)
        )
    )


def find_process_keys(
    session: Session, *, text: str | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[str], int]:
    """One page of deployed process keys containing `text` (any case), sorted, and the total."""
    query = select(ProcessDefinition.process_key).distinct()
    if text:
        query = query.where(func.lower(ProcessDefinition.process_key).contains(text.lower(), autoescape=True))
    return page_rows(session, query.order_by(ProcessDefinition.process_key), page, per_page)


def versions_of(session: Session, keys: Iterable[str]) -> list[ProcessDefinition]:
    """Every deployed version of the keys, by key, newest version first."""
    return list(
        session.scalars(
            select(ProcessDefinition)
            .where(ProcessDefinition.process_key.in_(list(keys)))
            .order_by(ProcessDefinition.process_key, ProcessDefinition.version.desc())
        )
    )


def list_definitions(session: Session) -> list[ProcessDefinition]:
    """Every deployed version, newest first within each key."""
    return list(
        session.scalars(
            select(ProcessDefinition).order_by(
                ProcessDefinition.process_key, ProcessDefinition.version.desc()
            )
        )
    )


def form_schema(
    definition: ProcessDefinition, deployment: Deployment, form_file: str | None
) -> dict[str, Any]:
    """The JSON schema deployed with the definition under `form_file` ({} when the task has no form)."""
    if not form_file:
        return {}

    def load(name: str) -> dict[str, Any]:
        text = deployment.files.get(name)
        if text is None:  # validation refuses this at deploy; a hand-edited database could still get here
            raise NotFound(
                _(
                    "form '%(name)s' is not part of %(key)s v%(version)s",
                    name=name,
                    key=definition.process_key,
                    version=definition.version,
                )
            )
        schema: dict[str, Any] = json.loads(text)
        return schema

    # Forms it refers to are embedded, so validation needs nothing but this schema (and never fetches).
    return bundle_form(form_file, load(form_file), load)


def definition_file(session: Session, definition: ProcessDefinition, name: str) -> str | None:
    """The text of `name` (a policy table, a form) deployed with a version; None when deployed without it."""
    files = session.scalar(select(Deployment.files).where(Deployment.id == definition.deployment_id))
    text = (files or {}).get(name)
    return text if isinstance(text, str) else None


def instance_file(session: Session, instance_id: int, name: str) -> str | None:
    """The text of `name` deployed with the version an instance runs (what its steps must read, so a later
    version cannot change the rules of a running instance); None when that version was deployed without it."""
    files = session.scalar(
        select(Deployment.files)
        .join(ProcessDefinition, ProcessDefinition.deployment_id == Deployment.id)
        .join(ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)
        .where(ProcessInstance.id == instance_id)
    )
    text = (files or {}).get(name)
    return text if isinstance(text, str) else None


def newest_version(session: Session, key: str) -> ProcessDefinition | None:
    """The highest version of a key whatever its status (the next one is numbered after it)."""
    return session.scalar(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_key == key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )
