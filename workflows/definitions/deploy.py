"""Deploy BPMN/DMN/form bundles as numbered versions of their process keys (looking them up: versions.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.collection_priority import PRIORITY_DECISION, PRIORITY_FILE, priority_problems
from workflows.credit.concentration_cap import CAP_DECISION, CAP_FILE, cap_problems
from workflows.credit.dunning_ladder import (
    CHARGES_DECISION,
    CHARGES_FILE,
    LADDER_DECISION,
    LADDER_FILE,
    charges_problems,
    ladder_problems,
)
from workflows.credit.exposure_policy import EXPOSURE_DECISION, EXPOSURE_FILE, exposure_policy_problems
from workflows.credit.provision_matrix import MATRIX_DECISION, MATRIX_FILE, matrix_problems
from workflows.credit.watchlist_rules import RULES_DECISION, RULES_FILE, rules_problems
from workflows.definitions.compile import CompiledProcess, compile_bundle
from workflows.definitions.shipped import READ_FROM_DEPLOYMENT
from workflows.definitions.validation import InvalidBundle, Problem, ValidatedBundle, validate_bundle
from workflows.definitions.versions import latest_definition, newest_version
from workflows.errors import Conflict, Forbidden, NotFound
from workflows.messages import _
from workflows.store.audit import record_event
from workflows.store.models import (
    DefinitionStatus,
    Deployment,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
    Timer,
)
from workflows.users import SYSTEM_ACTOR

DEPLOYABLE_SUFFIXES = (".bpmn", ".dmn", ".json")
REJECTED = DefinitionStatus.REJECTED
# The timer of an instance queued by deploy: its first sweep starts it.
QUEUED_START = "queued_start"


@dataclass(frozen=True)
class DeployedVersion:
    key: str
    version: int
    unchanged: bool = False  # the same content was already the latest version
    pending: bool = False  # it moves money: usable once a second process owner approves it

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"key": self.key, "version": self.version}
        if self.pending:
            body["status"] = DefinitionStatus.PENDING
        return body


def read_files(paths: list[Path]) -> dict[str, bytes]:
    """Read files for deployment, keyed by base name (form references use base names)."""
    return {p.name: p.read_bytes() for p in paths}


def validate_files(files: Mapping[str, bytes], operations: Collection[str]) -> ValidatedBundle:
    """Validate a bundle against the registered service operations.

    Raises:
        InvalidBundle: with every problem found, as FILE:LINE: ELEMENT_ID: message.
    """
    return validate_bundle(files, set(operations))


def check_files(files: Mapping[str, bytes], operations: Collection[str]) -> ValidatedBundle:
    """Every check deploy_files makes before it stores anything (POST /api/definitions/validate): the bundle's
    validation, UTF-8 text, and the policy tables the code reads (provision matrix, ladder, ...).

    Raises:
        InvalidBundle: with every problem of the first check that failed.
    """
    bundle = validate_files(files, operations)
    _check_provision_matrix(_utf8_texts(files))
    return bundle


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
            message = _("files must be UTF-8 text: %(error)s; save the file as UTF-8", error=str(exc))
            problems.append(Problem(name, 0, "-", message))
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

    `operations` is the operation table (name -> Operation). A process that calls an operation marked
    `moves_money` deployed by a person is stored pending, and a `definition_approval` instance is queued for
    a second process owner; it becomes the latest version only once approved. The system's deployments
    (`creditflow init` deploying the shipped diagrams) are active at once, like every other diagram.
    Re-deploying content identical to a key's newest version keeps that version (so `init` is idempotent).

    Raises:
        InvalidBundle: nothing is stored.
    """
    bundle = validate_files(files, operations)
    content_hash = _content_hash(files)
    texts = _utf8_texts(files)
    _check_provision_matrix(texts)
    money = _money_operations(operations)
    deployment: Deployment | None = None
    result = []
    for compiled in compile_bundle(bundle):
        latest = newest_version(session, compiled.process_key)
        # A rejected version deployed again is a new version, with a new approval.
        if latest is not None and latest.content_hash == content_hash and latest.status != REJECTED:
            pending = latest.status == DefinitionStatus.PENDING
            result.append(
                DeployedVersion(latest.process_key, latest.version, unchanged=True, pending=pending)
            )
            continue
        if deployment is None:
            deployment = Deployment(
                content_hash=content_hash, files=texts, deployed_by=deployed_by, deployed_at=now
            )
            session.add(deployment)
            session.flush()
        version = (latest.version if latest else 0) + 1
        moving = sorted(set(compiled.operations) & money) + _changed_money_tables(session, compiled, texts)
        pending = bool(moving) and deployed_by != SYSTEM_ACTOR
        definition = ProcessDefinition(
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
            status=DefinitionStatus.PENDING if pending else DefinitionStatus.ACTIVE,
        )
        session.add(definition)
        record_event(
            session,
            actor=deployed_by,
            action="definition_deployed",
            now=now,
            process_key=compiled.process_key,
            version=version,
            content_hash=content_hash,
            status=definition.status,
        )
        if pending:
            session.flush()
            _queue_approval(session, definition, compiled, moving, now)
        result.append(DeployedVersion(compiled.process_key, version, pending=pending))
    session.flush()
    return result


def _changed_money_tables(session: Session, compiled: CompiledProcess, texts: Mapping[str, str]) -> list[str]:
    """The tables the code reads from this key's newest active version to move money (the provision
    matrix of dunning: READ_FROM_DEPLOYMENT) that this bundle changes: a person's change waits for a second
    process owner as a money-moving operation does, whatever else the diagram calls."""
    names = [f"{decision}.dmn" for decision in READ_FROM_DEPLOYMENT.get(compiled.process_key, ())]
    if not names:
        return []
    active = latest_definition(session, compiled.process_key, required=False)
    files = active.deployment.files if active is not None else {}
    return [name for name in names if name in texts and texts[name] != (files or {}).get(name)]


def _check_provision_matrix(texts: Mapping[str, str]) -> None:
    """A provision matrix that cannot price every receivable is refused here, not on a month end.

    Raises:
        InvalidBundle: naming each problem of provision_matrix.dmn.
    """
    if MATRIX_FILE in texts:
        problems = matrix_problems(texts[MATRIX_FILE])
        if problems:
            raise InvalidBundle([Problem(MATRIX_FILE, 0, MATRIX_DECISION, p) for p in problems])
    if LADDER_FILE in texts:  # a dunning ladder that falls back or starts before the due date
        problems = ladder_problems(texts[LADDER_FILE])
        if problems:
            raise InvalidBundle([Problem(LADDER_FILE, 0, LADDER_DECISION, p) for p in problems])
    if PRIORITY_FILE in texts:  # the collectors' worklist: every case gets an exact score
        problems = priority_problems(texts[PRIORITY_FILE])
        if problems:
            raise InvalidBundle([Problem(PRIORITY_FILE, 0, PRIORITY_DECISION, p) for p in problems])
    if CHARGES_FILE in texts:  # fees and interest: every currency gets an answer, in amounts
        problems = charges_problems(texts[CHARGES_FILE])
        if problems:
            raise InvalidBundle([Problem(CHARGES_FILE, 0, CHARGES_DECISION, p) for p in problems])
    if CAP_FILE in texts:  # the concentration cap: a percentage above 0 and at most 100
        problems = cap_problems(texts[CAP_FILE])
        if problems:
            raise InvalidBundle([Problem(CAP_FILE, 0, CAP_DECISION, p) for p in problems])
    if EXPOSURE_FILE in texts:  # the top-N exposures' review frequency: whole numbers in range
        problems = exposure_policy_problems(texts[EXPOSURE_FILE])
        if problems:
            raise InvalidBundle([Problem(EXPOSURE_FILE, 0, EXPOSURE_DECISION, p) for p in problems])
    if RULES_FILE in texts:  # early-warning indicators: every signal evaluates to known actions
        problems = rules_problems(texts[RULES_FILE])
        if problems:
            raise InvalidBundle([Problem(RULES_FILE, 0, RULES_DECISION, p) for p in problems])


def _money_operations(operations: Collection[str]) -> set[str]:
    """The names of the operations that move money, when given the operation table (names alone: none)."""
    if not isinstance(operations, Mapping):
        return set()
    return {name for name, op in operations.items() if getattr(op, "moves_money", False)}


def _queue_approval(
    session: Session,
    definition: ProcessDefinition,
    compiled: CompiledProcess,
    moving: list[str],
    now: datetime,
) -> None:
    """Queue a `definition_approval` instance for the pending version, started by its uploader.

    Deploy sits below the engine and cannot run an instance; the queued one has no state yet and a timer due
    now, so the next timer sweep (the scheduler, `tick`) starts it and its task lands in the inbox.

    Raises:
        InvalidBundle: the approval process is not deployed.
    """
    approval = latest_definition(session, roles.DEFINITION_APPROVAL, required=False)
    if approval is None:
        message = _(
            "it calls %(operations)s, which move money, so a second process owner must approve it, "
            "but %(approval)s is not deployed; run `creditflow init`, then deploy again",
            operations=", ".join(moving),
            approval=roles.DEFINITION_APPROVAL,
        )
        raise InvalidBundle([Problem(compiled.bpmn_file, 0, definition.process_key, message)])
    # Due already: a timer fires only once its time has passed, and a simulated clock standing at the
    # deploy's time never passes it (no approval task until somebody moved the clock).
    due = now - timedelta(microseconds=1)
    instance = ProcessInstance(
        definition_id=approval.id,
        process_key=approval.process_key,
        version=approval.version,
        business_key=f"{definition.process_key}:v{definition.version}",
        status=InstanceStatus.RUNNING,
        state="",  # queued: the first timer sweep starts it (engine.step.resume)
        data={
            "definition_id": definition.id,
            "process_key": definition.process_key,
            "version": definition.version,
            "deployed_by": definition.deployed_by,
            "operations": moving,
        },
        waits=[["timer", QUEUED_START, due.isoformat()]],
        started_by=definition.deployed_by,
        started_at=now,
        updated_at=now,
    )
    session.add(instance)
    session.flush()
    session.add(Timer(instance_id=instance.id, bpmn_id=QUEUED_START, due_at=due))


def decide_definition(
    session: Session, definition_id: int, *, approve: bool, decided_by: str, now: datetime
) -> ProcessDefinition:
    """Activate (or reject) a pending version on a second process owner's decision.

    Raises:
        NotFound: no such version.  Conflict: it is not pending.  Forbidden: the decider deployed it.
    """
    definition = session.scalar(
        select(ProcessDefinition).where(ProcessDefinition.id == definition_id).with_for_update()
    )
    if definition is None:
        raise NotFound(_("process definition %(id)s does not exist", id=definition_id))
    name = f"{definition.process_key} v{definition.version}"
    if definition.status != DefinitionStatus.PENDING:
        raise Conflict(
            _("%(name)s is %(status)s, not pending; nothing to decide", name=name, status=definition.status)
        )
    if decided_by == definition.deployed_by:
        raise Forbidden(
            _(
                "%(user)s deployed %(name)s and may not also decide on it; a second process owner must",
                user=decided_by,
                name=name,
            )
        )
    definition.status = DefinitionStatus.ACTIVE if approve else DefinitionStatus.REJECTED
    definition.decided_by, definition.decided_at = decided_by, now
    record_event(
        session,
        actor=decided_by,
        action="definition_approved" if approve else "definition_rejected",
        now=now,
        process_key=definition.process_key,
        version=definition.version,
        deployed_by=definition.deployed_by,
    )
    return definition


def _content_hash(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()
