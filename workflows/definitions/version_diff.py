"""What changed between two deployed versions of a process: its decision tables in words (dmn_diff), and
which other files of the deployment changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.definitions.dmn_diff import DecisionDiff, Table, compare_tables, read_tables
from workflows.definitions.versions import get_definition
from workflows.errors import NotFound
from workflows.messages import _
from workflows.store.models import Deployment, ProcessDefinition


@dataclass(frozen=True)
class VersionDiff:
    key: str
    old: int
    new: int
    decisions: list[DecisionDiff]  # every decision of either version, changed ones first
    files: dict[str, list[str]]  # "added", "removed", "changed": file names

    @property
    def changed(self) -> list[DecisionDiff]:
        return [d for d in self.decisions if d.status != "unchanged"]

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "from": self.old,
            "to": self.new,
            "decisions": [d.as_json() for d in self.decisions],
            "files": self.files,
        }


def default_versions(session: Session, key: str, new: int | None, old: int | None) -> tuple[int, int]:
    """The versions to compare: `new` defaults to the newest deployed, `old` to the one before `new`
    (or `new` itself when it is the first).

    Raises:
        NotFound: the key is not deployed.
    """
    versions = list(
        session.scalars(
            select(ProcessDefinition.version)
            .where(ProcessDefinition.process_key == key)
            .order_by(ProcessDefinition.version)
        )
    )
    if not versions:
        raise NotFound(_("process '%(key)s' is not deployed", key=key))
    to = versions[-1] if new is None else new
    if old is None:
        earlier = [v for v in versions if v < to]
        old = earlier[-1] if earlier else to
    return old, to


def diff_versions(session: Session, key: str, old: int, new: int) -> VersionDiff:
    """The policy changes from version `old` to version `new` of `key` (either order).

    Raises:
        NotFound: naming a version that is not deployed.
    """
    before = _files(session, get_definition(session, key, old))
    after = _files(session, get_definition(session, key, new))
    old_tables, new_tables = _tables(before), _tables(after)
    ids = list(old_tables) + [d for d in new_tables if d not in old_tables]
    decisions = [compare_tables(old_tables.get(d), new_tables.get(d)) for d in ids]
    decisions.sort(key=lambda d: d.status == "unchanged")
    files = {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(name for name in set(before) & set(after) if before[name] != after[name]),
    }
    return VersionDiff(key, old, new, decisions, files)


def _files(session: Session, definition: ProcessDefinition) -> dict[str, str]:
    files = session.scalar(select(Deployment.files).where(Deployment.id == definition.deployment_id)) or {}
    return {name: text for name, text in files.items() if isinstance(text, str)}


def _tables(files: dict[str, str]) -> dict[str, Table]:
    """Every decision of the deployment's DMN files by id (deploy refuses a decision id given twice)."""
    tables: dict[str, Table] = {}
    for name in sorted(files):
        if name.lower().endswith(".dmn"):
            for decision_id, table in read_tables(files[name], name).items():
                tables.setdefault(decision_id, table)
    return tables
