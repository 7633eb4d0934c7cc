"""/api/process-definitions: the deployed versions, and deploying a bundle of BPMN, DMN and form files."""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, jsonify, request
from flask_babel import gettext
from pydantic import Field, RootModel

from webui.api import bp, current_actor, require_groups
from webui.api.openapi import Body, Id, Model, Query, Timestamp, api, responses
from webui.services import services
from workflows.credit.roles import DEFINITION_READERS, PROCESS_OWNERS
from workflows.definitions.deploy import deploy_files
from workflows.definitions.validation import InvalidBundle
from workflows.definitions.version_diff import default_versions, diff_versions
from workflows.definitions.versions import list_definitions
from workflows.errors import BadRequest, Forbidden
from workflows.messages import _
from workflows.store.db import transaction
from workflows.store.models import ProcessDefinition
from workflows.store.shown_json import readable_or, unreadable_said


class Definition(Model):
    key: str
    version: int
    name: str | None
    bpmn_file: str
    content_hash: str
    start_groups: list[str]
    deployed_by: str
    deployed_at: Timestamp
    status: Literal["active", "pending", "rejected"] = Field(
        description="pending: it moves money and waits for a second process owner; only active versions start"
    )
    decided_by: str | None = Field(None, description="the process owner who approved or rejected it")


class Upload(Body):
    files: list[bytes] = Field(
        description="the BPMN, DMN and form (.json) files of one bundle",
        json_schema_extra={"items": {"type": "string", "format": "binary"}},
    )


class Deployed(Model):
    key: str
    version: int


class Deployment(RootModel[Deployed | list[Deployed]]):
    """The deployed process, or a list when the bundle held several."""


@bp.get("/process-definitions")
@api.validate(resp=responses(200, list[Definition]))
def get_definitions() -> Response:
    """Every deployed version of every process, by key, newest version first."""
    current_actor()
    with services().rt.factory() as session:
        return jsonify(
            [
                {
                    "key": d.process_key,
                    "version": d.version,
                    "name": d.name,
                    "bpmn_file": d.bpmn_file,
                    "content_hash": d.content_hash,
                    "start_groups": readable_or(d.start_groups, []),  # only admins start it (start_rights)
                    "deployed_by": d.deployed_by,
                    "deployed_at": d.deployed_at.isoformat(),
                    "status": d.status,
                    "decided_by": d.decided_by,
                    **_unreadable(d),
                }
                for d in list_definitions(session)
            ]
        )


def _unreadable(definition: ProcessDefinition) -> dict[str, Any]:
    """A definition's start_groups no one can read (a hand edit), said by its stored text."""
    said = unreadable_said({"start_groups": definition.start_groups})
    return {"unreadable": said} if said else {}


@bp.post("/process-definitions")
@api.validate(form=Upload, resp=responses(201, Deployment, 403, 413, 422))
def post_definitions() -> tuple[Response, int]:
    """Validate and deploy a bundle (process owners); invalid files deploy nothing (422, every problem)."""
    actor = current_actor()
    if not actor.in_any(PROCESS_OWNERS):
        raise Forbidden(_("%(user)s may not deploy: only process_owner or admin may", user=actor.username))
    uploads = request.files.getlist("files")
    if not uploads:
        raise BadRequest(_("upload the BPMN, DMN and form files as multipart field 'files'"))
    files = {u.filename or f"file{i}": u.read() for i, u in enumerate(uploads)}
    svc = services()
    try:
        with transaction(svc.rt.factory) as session:
            deployed = deploy_files(
                session, files, svc.rt.operations, deployed_by=actor.username, now=svc.clock()
            )
    except InvalidBundle as exc:
        problems = [p.said(gettext) for p in exc.problems]  # the caller's language; FILE:LINE: ID as they are
        body = {"error": {"code": "invalid_definition", "message": "\n".join(problems), "problems": problems}}
        return jsonify(body), 422
    result = [d.as_dict() for d in deployed]
    return jsonify(result[0] if len(result) == 1 else result), 201


class DiffQuery(Query):
    from_: Id | None = Field(
        None, alias="from", description="the older version (default: the one before `to`)"
    )
    to: Id | None = Field(None, description="the newer version (default: the newest deployed)")


class PolicyChange(Model):
    kind: str = Field(
        description="decision_added, decision_removed, decision_renamed, hit_policy, input_added, "
        "input_removed, input_renamed, input_changed, inputs_reordered, output_* likewise, rule_added, "
        "rule_removed, rule_changed, rule_moved",
        examples=["rule_changed"],
    )
    text: str = Field(
        examples=[
            "rule 4 (above_hundred_thousand): Recommended limit in the base currency > 100000 → > 150000"
        ]
    )
    rule: str | None = Field(None, description="the rule's id")
    column: str | None = Field(None, description="the column's label (or expression, name, id)")
    old: str | None = None
    new: str | None = None


class DecisionChanges(Model):
    decision_id: str
    name: str
    status: Literal["added", "removed", "changed", "unchanged"]
    changes: list[PolicyChange]


class ChangedFiles(Model):
    added: list[str]
    removed: list[str]
    changed: list[str]


class PolicyDiff(Model):
    key: str
    from_: int = Field(alias="from")
    to: int
    decisions: list[DecisionChanges] = Field(
        description="every decision of either version, changed ones first"
    )
    files: ChangedFiles = Field(description="the deployment's files that differ (BPMN, DMN, forms)")


@bp.get("/process-definitions/<key>/diff")
@api.validate(resp=responses(200, PolicyDiff, 403, 404))
def get_definition_diff(key: str, query: DiffQuery) -> Response:
    """What changed between two versions of a process: its decision tables rule by rule, cell old → new, in
    words (a policy change is a diff), and which files differ. Process owners and auditors."""
    actor = current_actor()
    require_groups(actor, DEFINITION_READERS, _("compare process definitions"))
    with services().rt.factory() as session:
        old, new = default_versions(session, key, query.to, query.from_)
        body: dict[str, Any] = diff_versions(session, key, old, new).as_json()
        return jsonify(body)
