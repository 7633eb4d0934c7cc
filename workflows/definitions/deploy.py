"""Deploy BPMN/DMN/form bundles as numbered versions of their process keys, and look versions up."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.definitions.compile import compile_bundle
from workflows.definitions.validation import InvalidBundle, Problem, ValidatedBundle, validate_bundle
from workflows.errors import NotFound
from workflows.store.audit import record_event
from workflows.store.models import Deployment, ProcessDefinition
from workflows.store.paging import page_rows

DEPLOYABLE_SUFFIXES = (".bpmn", ".dmn", ".json")


@dataclass(frozen=True)
class DeployedVersion:
    key: str
    version: int
    unchanged: bool = False  # the same content was already the latest version

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "version": self.version}


def read_files(paths: list[Path]) -> dict[str, bytes]:
    """Read files for deployment, keyed by base name (form references use base names)."""
    return {p.name: p.read_bytes() for p in paths}


def validate_files(files: Mapping[str, bytes], operations: Collection[str]) -> ValidatedBundle:
    """Validate a bundle against the registered service operations.

    Raises:
        InvalidBundle: with every problem found, as FILE:LINE: ELEMENT_ID: message.
    """
    return validate_bundle(files, set(operations))



def _utf8_texts(files: Mapping[str, bytes]) -> dict[str, str]:
    """The files as stored text. Validation accepts any encoding XML declares (and UTF-16 JSON).

    Raises:
        InvalidBundle: a file is not UTF-8.
    """
    problems, texts = [], {}
    for name, data in sorted(files.items()):
        try:
            texts[name] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(name, 0, "-", f"files must be UTF-8 text: {exc}; save the file as UTF-8"))
    if problems:
        raise InvalidBundle(problems)
    return texts


def deploy_files(
    session: Session,
    files: Mapping[str, bytes],
    operations: Collection[str],
    *,
    deployed_by: str,
    now: datetime,
) -> list[DeployedVersion]:
    """Validate and store a bundle; each executable process gets version N+1 of its key.

    Re-deploying content identical to a key's latest version keeps that version (so `init` is idempotent).

    Raises:
        InvalidBundle: nothing is stored.
    """
    bundle = validate_files(files, operations)
    content_hash = _content_hash(files)
    texts = _utf8_texts(files)
    deployment: Deployment | None = None
    result = []
    for compiled in compile_bundle(bundle):
        latest = latest_definition(session, compiled.process_key, required=False)
        if latest is not None and latest.content_hash == content_hash:
            result.append(DeployedVersion(latest.process_key, latest.version, unchanged=True))
            continue
        if deployment is None:
            deployment = Deployment(
                content_hash=content_hash, files=texts, deployed_by=deployed_by, deployed_at=now
            )
            session.add(deployment)
            session.flush()
        version = (latest.version if latest else 0) + 1
        session.add(
            ProcessDefinition(
                process_key=compiled.process_key,
                version=version,
                name=compiled.name,
                deployment_id=deployment.id,
                content_hash=content_hash,
                spec_json=compiled.spec_json,
                start_groups=compiled.start_groups,
                bpmn_file=compiled.bpmn_file,
                deployed_by=deployed_by,
                deployed_at=now,
            )
        )
        record_event(
            session,
            actor=deployed_by,
            action="definition_deployed",
            now=now,
            process_key=compiled.process_key,
            version=version,
            content_hash=content_hash,
        )
        result.append(DeployedVersion(compiled.process_key, version))
    session.flush()
    return result


def _content_hash(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def latest_definition(session: Session, key: str, *, required: bool = True) -> ProcessDefinition | None:
    """The newest version of a process key.

    Raises:
        NotFound: when `required` and the key was never deployed.
    """
    definition = session.scalar(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_key == key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )
    if definition is None and required:
        raise NotFound(f"process {key!r} is not deployed; deploy its diagram with `creditflow deploy`")
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
        raise NotFound(f"{key} version {version} is not deployed; see the Definitions page for what is")
    return definition


def latest_definitions(session: Session) -> list[ProcessDefinition]:
    """The newest version of every process key, by key."""
    latest = (
        select(ProcessDefinition.process_key, func.max(ProcessDefinition.version).label("version"))
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
    text = deployment.files.get(form_file)
    if text is None:  # validation refuses this at deploy time; a hand-edited database could still get here
        raise NotFound(f"form {form_file!r} is not part of {definition.process_key} v{definition.version}")
    schema: dict[str, Any] = json.loads(text)
    return schema
