"""What a what-if upload asks to replay: each edited table over its own decision's log rows, and, for an
edited diagram that points a business rule task at another decision, that decision's table over the rows the
task logged with its old one."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

from sqlalchemy.orm import Session

from workflows.definitions.versions import get_definition, latest_definition
from workflows.errors import BadRequest, Invalid, NotFound
from workflows.messages import _
from workflows.store.models import Deployment
from workflows.what_if.diagram import Repointed, decision_changes
from workflows.what_if.replay import LoggedAs
from workflows.what_if.tables import EditedTable, edited_tables

Job = tuple[EditedTable, LoggedAs]


def replay_jobs(
    session: Session, key: str, files: Mapping[str, bytes], version: int | None = None
) -> tuple[list[Job], list[Repointed]]:
    """The tables to replay with the rows each replays, and the diagram's repointed tasks. An edited diagram
    is compared with `version` (the one the edit page edits; default: the newest active one).

    Raises:
        NotFound: `key` has no active version (or no `version`).
        BadRequest: more than one diagram.
        Invalid: the diagram changes more than decision references, or calls an unknown decision.
        InvalidBundle: a table fails the deploy's checks, a file is neither DMN nor BPMN.
    """
    definition = (
        get_definition(session, key, version) if version is not None else latest_definition(session, key)
    )
    assert definition is not None  # noqa: S101 - required=True raised otherwise
    diagrams = {n: d for n, d in files.items() if PurePosixPath(n).suffix.lower() == ".bpmn"}
    if len(diagrams) > 1:
        raise BadRequest(
            _("a what-if takes at most one edited diagram, %(count)s were sent", count=len(diagrams))
        )
    tables = edited_tables({n: d for n, d in files.items() if n not in diagrams})
    jobs: list[Job] = [(t, LoggedAs(t.decision_id)) for t in tables]
    if not diagrams:
        return jobs, []
    deployment = session.get(Deployment, definition.deployment_id)
    if deployment is None:
        raise NotFound(
            _(
                "the deployment of %(process_key)s v%(definition_version)s is missing",
                process_key=key,
                definition_version=definition.version,
            )
        )
    deployed: dict[str, str] = dict(deployment.files)
    [(name, data)] = diagrams.items()
    repointed = decision_changes(name, deployed[definition.bpmn_file], data)
    if repointed:
        known = {t.decision_id: t for t in _deployed_tables(deployed, tables)}
        known.update({t.decision_id: t for t in tables})  # an edited table wins over its deployed text
        for task in repointed:
            if task.new_decision not in known:
                raise Invalid(
                    _(
                        "%(file)s: business rule task %(task)s calls decision '%(decision)s', which no "
                        "uploaded or deployed decision table of %(key)s defines",
                        file=name,
                        task=task.bpmn_id,
                        decision=task.new_decision,
                        key=key,
                    )
                )
            jobs.append((known[task.new_decision], LoggedAs(task.old_decision, task.bpmn_id)))
    return jobs, repointed


def _deployed_tables(deployed: Mapping[str, str], edited: list[EditedTable]) -> list[EditedTable]:
    """The deployed version's decision tables not replaced by an uploaded file of the same name."""
    replaced = {t.file for t in edited}
    return edited_tables(
        {
            n: t.encode("utf-8")
            for n, t in deployed.items()
            if n.lower().endswith(".dmn") and n not in replaced
        }
    )
