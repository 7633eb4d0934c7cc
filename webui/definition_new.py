"""/definitions/new: a process owner starts a new process in the browser from a template (a pool, a lane
carrying the starting group, a start and an end event), names it, edits it in the modeler and deploys it as
version 1.

The modeler page is the edit page's (modeler.js, the studio's properties panel), pointed at the routes below:
the template's XML, and validate/deploy of the posted diagram alone (with the forms the panel created).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy.exc import IntegrityError

from webui.auth import login_required_view, require_groups
from webui.operation_texts import said_operations
from webui.services import services
from webui.studio_previews import new_forms
from workflows.credit.roles import GROUPS, PROCESS_OWNERS
from workflows.definitions.deploy import check_files, deploy_files
from workflows.definitions.new_diagram import START_LANE_GROUPS, NewProcess, check_new_process, template_xml
from workflows.definitions.operation_catalog import describe_operations
from workflows.definitions.validation import InvalidBundle, Problem
from workflows.definitions.versions import newest_version
from workflows.errors import BadRequest, one_after_another
from workflows.messages import Text, _, translated
from workflows.store.db import transaction

bp = Blueprint("definition_new", __name__)

WORKBENCH = _("create process definitions")


@bp.get("/definitions/new")
@login_required_view
def choose() -> str:
    """The template's choices: key, name and the group whose lane starts the process."""
    require_groups(PROCESS_OWNERS, WORKBENCH)
    return render_template("definitions/new.html", groups=START_LANE_GROUPS, values={}, problems={})


@bp.get("/definitions/new/edit")
@login_required_view
def edit() -> tuple[str, int]:
    """The modeler on the template, once key, name and group are valid and the key is not deployed yet."""
    require_groups(PROCESS_OWNERS, WORKBENCH)
    values = {name: request.args.get(name, "")[:500] for name in ("key", "name", "group")}
    process, problems = check_new_process(values["key"], values["name"], values["group"])
    if process is not None and _deployed(process.key):
        problems = {"key": _taken(process.key)}
        process = None
    if process is None:
        said = {field: translated(problem, gettext) for field, problem in problems.items()}
        return render_template(
            "definitions/new.html", groups=START_LANE_GROUPS, values=values, problems=said
        ), 400
    return render_template(
        "definitions/new_edit.html",
        process=process,
        template_url=url_for(
            "definition_new.template", key=process.key, name=process.name, group=process.group
        ),
        validate_url=url_for("definition_new.validate", key=process.key),
        deploy_url=url_for("definition_new.deploy", key=process.key),
        studio={
            "operations": said_operations(describe_operations(services().rt.operations)),
            "groups": sorted(GROUPS),
            "forms": [],
            "decisions": [],
            # The panel's previews (studio_previews.py): over no data, since no case of it exists yet.
            "previewTextsUrl": url_for("studio_previews.texts"),
            "previewTimerUrl": url_for("studio_previews.timer"),
            "instances": [],
        },
    ), 200


@bp.get("/definitions/new/template.bpmn")
@login_required_view
def template() -> Response:
    """The template's BPMN for the chosen key, name and group (400 naming what is wrong)."""
    require_groups(PROCESS_OWNERS, WORKBENCH)
    process = _process_from_args()
    response = Response(template_xml(process), mimetype="application/xml")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"  # as every served diagram
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# The key rides in the query string, never as a path segment: /definitions/new/<key>/validate would shadow
# /definitions/<key>/<int:version>/validate of a process keyed "new" (a static segment wins the match).
@bp.post("/definitions/new/validate")
@login_required_view
def validate() -> Response:
    """?key=K: the deploy's checks on the posted diagram (and the forms the panel created): {ok, problems}."""
    require_groups(PROCESS_OWNERS, WORKBENCH)
    key = request.args.get("key", "")
    files = _posted_bundle(key)
    try:
        check_files(files, services().rt.operations)
    except InvalidBundle as exc:
        return jsonify({"ok": False, "problems": [p.as_json(gettext) for p in exc.problems]})
    return jsonify({"ok": True, "problems": []})


@bp.post("/definitions/new/deploy")
@login_required_view
def deploy() -> tuple[Response, int]:
    """?key=K: deploy the posted diagram as version 1 of each process it holds; a process key that is
    deployed already is refused (409: open that process and edit it as a new version instead)."""
    actor = require_groups(PROCESS_OWNERS, WORKBENCH)
    key = request.args.get("key", "")
    files = _posted_bundle(key)
    svc = services()
    try:
        with transaction(svc.rt.factory) as session:
            process_ids = check_files(files, svc.rt.operations).process_ids
            taken = [pid for pid in process_ids if newest_version(session, pid) is not None]
            if taken:
                problems = [Problem(f"{key}.bpmn", 0, pid, _taken(pid)) for pid in taken]
                return jsonify({"ok": False, "problems": [p.as_json(gettext) for p in problems]}), 409
            deployed = deploy_files(
                session, files, svc.rt.operations, deployed_by=actor.username, now=svc.clock()
            )
            meanwhile = [d.key for d in deployed if d.unchanged or d.version != 1]
            if meanwhile:
                # Another owner's version 1 committed between the check and the deploy (PostgreSQL reads
                # it then): deploy_files found "the same content" deployed, or made a version 2 of a
                # process this owner did not create (other content, or the second process of a bundle).
                # Theirs is version 1; roll back.
                raise _TakenMeanwhile(meanwhile)
    except InvalidBundle as exc:
        return jsonify({"ok": False, "problems": [p.as_json(gettext) for p in exc.problems]}), 422
    except (IntegrityError, _TakenMeanwhile) as exc:  # another owner deployed it at the same moment
        keys = exc.keys if isinstance(exc, _TakenMeanwhile) else [key]
        problems = [Problem(f"{key}.bpmn", 0, pid, _taken(pid)) for pid in keys]
        return jsonify({"ok": False, "problems": [p.as_json(gettext) for p in problems]}), 409
    return jsonify(
        {
            "ok": True,
            "deployed": [
                {
                    **d.as_dict(),
                    "unchanged": d.unchanged,
                    "message": gettext("Deployed %(key)s version %(version)s.", key=d.key, version=d.version),
                    "url": url_for("definitions.show", key=d.key, version=d.version),
                }
                for d in deployed
            ],
        }
    ), 201


# --- helpers ----------------------------------------------------------------------------------------------


def _process_from_args() -> NewProcess:
    """Raises: BadRequest naming each bad choice."""
    values = {name: request.args.get(name, "")[:500] for name in ("key", "name", "group")}
    process, problems = check_new_process(values["key"], values["name"], values["group"])
    if process is None:
        raise BadRequest(one_after_another([problems[field] for field in sorted(problems)]))
    return process


def _posted_bundle(key: str) -> dict[str, bytes]:
    """The posted diagram as KEY.bpmn, plus the forms the properties panel created ("forms").

    Raises:
        BadRequest: the key is not a valid new key, no XML was posted, or "forms" is malformed.
    """
    process, problems = check_new_process(key, key, START_LANE_GROUPS[0])  # only the key is checked here
    if process is None:
        raise BadRequest(one_after_another([problems["key"]]))
    body: Any = request.get_json(silent=True)
    xml = body.get("xml") if isinstance(body, dict) else None
    if not isinstance(xml, str) or not xml.strip():
        raise BadRequest(_('post the edited diagram as JSON {"xml": "..."}'))
    try:
        files = {f"{key}.bpmn": xml.encode("utf-8")}
    except UnicodeEncodeError as exc:  # a lone surrogate (JSON's \ud800) is no text a file can hold
        raise BadRequest(_("the diagram is not valid text: %(problem)s", problem=str(exc.reason))) from exc
    files.update(new_forms(body, files))
    return files


def _deployed(key: str) -> bool:
    with services().rt.factory() as session:
        return newest_version(session, key) is not None


class _TakenMeanwhile(Exception):
    """Rolls a new diagram's deploy back: `keys` were deployed by another owner after the check."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__(", ".join(keys))
        self.keys = keys


def _taken(key: str) -> Text:
    return _(
        "a process with the key %(key)s is deployed already: choose another key, or open %(key)s and edit it "
        "as a new version",
        key=key,
    )
