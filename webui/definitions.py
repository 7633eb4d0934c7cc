"""/definitions: the process owners' workbench: versions, instance counts, upload, diagram view, modeler."""

from __future__ import annotations

from collections import defaultdict
from pathlib import PurePath
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from webui.auth import login_required_view, require_groups, web_actor
from webui.diagram_labels import labelled_xml
from webui.diagrams import check_may_read_diagram, deployment_files, diagram_xml
from webui.i18n import current_language
from webui.operation_texts import said_operations
from webui.services import page_arg, services
from webui.studio_previews import new_forms, studio_preview_choices
from webui.what_if_lines import what_if_lines
from workflows.audit_trail import period_bound
from workflows.credit.roles import DEFINITION_READERS, GROUPS, PROCESS_OWNERS
from workflows.definitions.decision_tables import read_decision_tables
from workflows.definitions.deploy import DEPLOYABLE_SUFFIXES, DeployedVersion, check_files, deploy_files
from workflows.definitions.dmn_diff import compare_dmn
from workflows.definitions.operation_catalog import describe_operations
from workflows.definitions.validation import InvalidBundle
from workflows.definitions.version_diff import default_versions, diff_versions
from workflows.definitions.versions import find_process_keys, get_definition, versions_of
from workflows.errors import BadRequest
from workflows.instances import instance_counts
from workflows.messages import translated
from workflows.store.db import transaction
from workflows.store.models import ProcessDefinition
from workflows.store.paging import Page
from workflows.what_if.run import what_if

bp = Blueprint("definitions", __name__)

WORKBENCH = "manage process definitions"
READ = "read process definitions"
WHAT_IF_ROWS = 20  # the first page of changed decisions the edit page shows


@bp.get("/definitions")
@login_required_view
def index() -> tuple[str, int]:
    require_groups(DEFINITION_READERS, READ)
    return _list_page()


@bp.post("/definitions/upload")
@login_required_view
def upload() -> BaseResponse | tuple[str, int]:
    """Validate and deploy uploaded files; on any problem nothing is deployed and every problem is listed."""
    actor = require_groups(PROCESS_OWNERS, WORKBENCH)
    uploads = [u for u in request.files.getlist("files") if u.filename]
    if not uploads:
        return _list_page(["Choose one or more .bpmn, .dmn or .json files to upload."], status=400)
    # Forms are referenced by base name, so directories a browser may send are dropped.
    files = {PurePath(u.filename or "").name: u.read() for u in uploads}
    wrong = [name for name in files if not name.lower().endswith(DEPLOYABLE_SUFFIXES)]
    if wrong:
        wrong_type = _("not a .bpmn, .dmn or .json file")
        return _list_page([f"{name}:0: -: {wrong_type}" for name in wrong], status=422)
    try:
        deployed = _deploy(files, actor.username)
    except InvalidBundle as exc:
        return _list_page([p.said(_) for p in exc.problems], status=422)  # in the page's language
    for version in deployed:
        flash(_deployed_sentence(version))  # in the page's language, as the modeler's deploy answer
    return redirect(url_for("definitions.index"))


@bp.get("/definitions/<key>/<int:version>")
@login_required_view
def show(key: str, version: int) -> str:
    actor = require_groups(DEFINITION_READERS, READ)
    with services().rt.factory() as session:
        definition = get_definition(session, key, version)
        files = deployment_files(session, definition)
        versions = versions_of(session, [key])
        numbers = [v.version for v in versions]
        earlier = [n for n in numbers if n < version]
        old = _version_arg("from", numbers, max(earlier) if earlier else version)  # the version just before
        new = _version_arg("to", numbers, version)
        # The tables in the page's language where their DMN gives the words (`name_zh`, `label_zh`, ...).
        tables = read_decision_tables(files, current_language())
        return render_template(
            "definitions/show.html",
            d=definition,
            diff=diff_versions(session, key, old, new),
            files=sorted((name, len(text)) for name, text in files.items()),
            tables=tables,
            decision_names={t.decision_id: t.name for t in tables if t.name},
            versions=versions,
            counts=instance_counts(session, [d.id for d in versions]),
            can_deploy=actor.in_any(PROCESS_OWNERS),
        )


def _version_arg(name: str, versions: list[int], default: int) -> int:
    """A version to compare from the query string; anything but a deployed version number is the default."""
    value = request.args.get(name, "")
    if value.isascii() and value.isdigit() and len(value) <= 10 and int(value) in versions:
        return int(value)
    return default


@bp.get("/definitions/<key>/<int:version>/diagram.bpmn")
@login_required_view
def diagram(key: str, version: int) -> Response:
    """The version's BPMN as deployed, for bpmn-js (anyone who may see the process's cases); `?names=zh`
    (the viewer's) labels it in Chinese where the diagram says (the editor asks for the diagram as it is)."""
    with services().rt.factory() as session:
        definition = get_definition(session, key, version)
        check_may_read_diagram(session, web_actor(), definition)
        xml = labelled_xml(diagram_xml(session, definition), request.args.get("names"))
    response = Response(xml, mimetype="application/xml")
    # Uploaded XML must never run as a document of this site, even when opened directly.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600"  # a deployed version never changes
    return response


@bp.get("/definitions/<key>/<int:version>/edit")
@login_required_view
def edit(key: str, version: int) -> str:
    actor = require_groups(PROCESS_OWNERS, WORKBENCH)
    with services().rt.factory() as session:
        definition = get_definition(session, key, version)
        files = deployment_files(session, definition)
        previews = studio_preview_choices(session, actor, key, version)
    tables = {name: text for name, text in sorted(files.items()) if name.lower().endswith(".dmn")}
    return render_template(
        "definitions/edit.html",
        d=definition,
        studio=_studio_choices(files) | previews,
        dmn_files=tables,
    )


@bp.post("/definitions/<key>/<int:version>/validate")
@login_required_view
def validate(key: str, version: int) -> Response:
    """Validate edited XML together with the version's other files, as `creditflow validate` would."""
    require_groups(PROCESS_OWNERS, WORKBENCH)
    files = _edited_bundle(key, version)
    try:
        check_files(files, services().rt.operations)  # every check deploy makes, policy tables included
    except InvalidBundle as exc:
        return jsonify({"ok": False, "problems": [p.as_json(_) for p in exc.problems]})
    return jsonify({"ok": True, "problems": []})


@bp.post("/definitions/<key>/<int:version>/deploy")
@login_required_view
def deploy(key: str, version: int) -> tuple[Response, int]:
    """Deploy edited XML with the version's other files as the next version (nothing when invalid)."""
    actor = require_groups(PROCESS_OWNERS, WORKBENCH)
    files = _edited_bundle(key, version)
    try:
        deployed = _deploy(files, actor.username)
    except InvalidBundle as exc:
        return jsonify({"ok": False, "problems": [p.as_json(_) for p in exc.problems]}), 422
    return jsonify(
        {
            "ok": True,
            "deployed": [
                {
                    **d.as_dict(),
                    "unchanged": d.unchanged,
                    "message": _deployed_sentence(d),
                    "url": url_for("definitions.show", key=d.key, version=d.version),
                }
                for d in deployed
            ],
        }
    ), 201


@bp.post("/definitions/<key>/<int:version>/dmn-diff")
@login_required_view
def dmn_diff(key: str, version: int) -> Response:
    """The edited decision tables against the newest deployed version's, in words (dmn_diff)."""
    require_groups(PROCESS_OWNERS, WORKBENCH)
    edited = _edited_tables(key, version)
    with services().rt.factory() as session:
        newest, _older = default_versions(session, key, None, None)
        current = deployment_files(session, get_definition(session, key, newest))
    decisions = []
    for name, text in sorted(edited.items()):
        if name in current:
            decisions += [
                {
                    **d.as_json(),
                    "file": name,
                    "changes": [{**c.as_json(), "text": translated(c.text, _)} for c in d.changes],
                }
                for d in compare_dmn(current[name], text)
                if d.status != "unchanged"
            ]
    return jsonify({"against": newest, "decisions": decisions})


@bp.post("/definitions/<key>/<int:version>/what-if")
@login_required_view
def what_if_replay(key: str, version: int) -> tuple[Response, int]:
    """The page's what-if: the edited decision tables replayed over the decisions logged from `from` to `to`
    (POST /api/what-if's replay, for a signed-in process owner). The edited diagram ("xml") goes along: one
    that points a business rule task at another decision has that table replayed over the task's rows, one
    that changes how the process runs is refused (422). Reads only: the session is rolled back."""
    require_groups(PROCESS_OWNERS, WORKBENCH)
    edited = _edited_tables(key, version)
    body: Any = request.get_json(silent=True) or {}
    xml = body.get("xml") if isinstance(body, dict) else None
    if not edited and not (isinstance(xml, str) and xml.strip()):
        raise BadRequest(_("edit a decision table first: a what-if replays the edited tables"))
    try:
        start = period_bound(str(body.get("from", "")), end=False)
        end = period_bound(str(body.get("to", "")), end=True)
    except ValueError as exc:
        raise BadRequest(_("'from' and 'to': %(problem)s", problem=str(exc))) from exc
    svc = services()
    session = svc.rt.factory()
    try:
        files = {name: text.encode("utf-8") for name, text in edited.items()}
        if isinstance(xml, str) and xml.strip():
            files[get_definition(session, key, version).bpmn_file] = xml.encode("utf-8")
        base = svc.rt.settings.credit.base_currency
        result = what_if(
            session, key, files, start, end, base=base, page=1, per_page=WHAT_IF_ROWS, version=version
        )  # the diagram is compared with the version this page edits, not the newest
    except InvalidBundle as exc:
        return jsonify({"ok": False, "problems": [p.as_json(_) for p in exc.problems]}), 422
    finally:
        session.rollback()  # a what-if writes nothing, whatever a cell did
        session.close()
    if not edited and not result["summary"]["repointed"]:
        raise BadRequest(_("edit a decision table first: a what-if replays the edited tables"))
    return jsonify({"ok": True, "lines": what_if_lines(result["summary"]), "changes": result["changes"]}), 200


# --- helpers ----------------------------------------------------------------------------------------------


def _list_page(problems: list[str] | None = None, status: int = 200) -> tuple[str, int]:
    """Process keys (paged, filtered by `q`) with their versions and instance counts per version."""
    text = request.args.get("q", "").strip()
    page = page_arg()
    per_page = services().rt.settings.web.page_size
    with services().rt.factory() as session:
        keys, total = find_process_keys(session, text=text or None, page=page, per_page=per_page)
        versions = versions_of(session, keys)
        by_key: dict[str, list[ProcessDefinition]] = defaultdict(list)
        for definition in versions:
            by_key[definition.process_key].append(definition)
        return render_template(
            "definitions/list.html",
            found=Page(keys, total, page, per_page),
            by_key=by_key,
            counts=instance_counts(session, [d.id for d in versions]),
            problems=problems or [],
            can_deploy=web_actor().in_any(PROCESS_OWNERS),
            q=text,
            args={"q": text} if text else {},
        ), status


def _deploy(files: dict[str, bytes], username: str) -> list[DeployedVersion]:
    """Raises: InvalidBundle (nothing is stored)."""
    svc = services()
    with transaction(svc.rt.factory) as session:
        return deploy_files(session, files, svc.rt.operations, deployed_by=username, now=svc.clock())


def _edited_bundle(key: str, version: int) -> dict[str, bytes]:
    """The version's deployed files with its diagram replaced by the posted XML, and its decision tables by
    the posted "files" (name → DMN text; the decision table editor's edits), plus the posted "forms" (new
    JSON schema files the properties panel created).

    Raises:
        BadRequest: no XML was posted, a file that is not one of the version's decision tables, or a
            "forms" entry that is not a new .json file.
    """
    body: Any = request.get_json(silent=True) or {}
    xml = body.get("xml") if isinstance(body, dict) else None
    if not isinstance(xml, str) or not xml.strip():
        raise BadRequest(_('post the edited diagram as JSON {"xml": "..."}'))
    edited = _edited_tables(key, version)
    with services().rt.factory() as session:
        definition = get_definition(session, key, version)
        files = {name: text.encode("utf-8") for name, text in deployment_files(session, definition).items()}
        files[definition.bpmn_file] = xml.encode("utf-8")
    files.update({name: text.encode("utf-8") for name, text in edited.items()})
    files.update(new_forms(body, files))  # forms the panel created from a field list
    return files


def _edited_tables(key: str, version: int) -> dict[str, str]:
    """The posted JSON's "files": edited decision tables, each replacing a .dmn file of the version.

    Raises:
        BadRequest: "files" is not a mapping of the version's .dmn file names to text.
    """
    body: Any = request.get_json(silent=True)
    body = {} if body is None else body
    edited = body.get("files", {}) if isinstance(body, dict) else None  # a list or a number: refused
    with services().rt.factory() as session:
        names = set(deployment_files(session, get_definition(session, key, version)))
    if not isinstance(edited, dict) or not all(
        isinstance(name, str) and name.lower().endswith(".dmn") and name in names and isinstance(text, str)
        for name, text in edited.items()
    ):
        raise BadRequest(_('"files" must map decision table files of this version to their DMN text'))
    return edited


def _studio_choices(files: dict[str, str]) -> dict[str, Any]:
    """What the properties panel offers to choose from: the live operations, the known groups, and the
    version's forms and decision tables (the files deployed with the edited diagram)."""
    return {
        "operations": said_operations(describe_operations(services().rt.operations)),
        "groups": sorted(GROUPS),
        "forms": sorted(name for name in files if name.lower().endswith(".json")),
        "decisions": sorted({t.decision_id for t in read_decision_tables(files)}),
    }


def _deployed_sentence(version: DeployedVersion) -> str:
    if version.unchanged:
        return str(
            _(
                "%(key)s version %(version)s already has this content; nothing new was deployed.",
                key=version.key,
                version=version.version,
            )
        )
    return str(_("Deployed %(key)s version %(version)s.", key=version.key, version=version.version))
