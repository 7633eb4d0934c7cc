"""POST /api/definitions/validate: the deploy's checks on a bundle, without deploying it (issue 18)."""

from __future__ import annotations

from pathlib import PurePath

from flask import Response, jsonify, request
from flask_babel import gettext
from pydantic import Field

from webui.api import bp, current_actor, require_groups
from webui.api.openapi import Body, Model, api, responses
from webui.diagrams import deployment_files
from webui.services import services
from workflows.credit.roles import PROCESS_OWNERS
from workflows.definitions.deploy import check_files
from workflows.definitions.validation import InvalidBundle
from workflows.definitions.versions import get_definition, latest_definition
from workflows.errors import BadRequest
from workflows.messages import _

MAX_FILES = 100  # a bundle of the shipped diagrams has about 60 files
_KEY_LENGTH = 120  # ProcessDefinition.process_key
MAX_VERSION = 2**31 - 1  # ProcessDefinition.version is an INTEGER


class ValidateUpload(Body):
    files: list[bytes] = Field(
        description="the BPMN, DMN and form (.json) files to check, as for POST /api/process-definitions",
        json_schema_extra={"items": {"type": "string", "format": "binary"}},
    )
    definition_key: str | None = Field(
        None,
        max_length=_KEY_LENGTH,
        description="check the files together with this deployed process's other files (an edited table or "
        "diagram replaces the file of the same name)",
    )
    version: str | None = Field(
        None,
        pattern=r"^[0-9]{1,10}$",  # and at most MAX_VERSION
        description="the version of definition_key (default: the newest active)",
    )


class CheckedProblem(Model):
    file: str
    line: int = Field(description="the line of the element's start tag; 0 when the problem has no line")
    element_id: str = Field(description="the element's id; - when the problem is the file's")
    message: str = Field(description="in the language of Accept-Language")
    text: str = Field(description="FILE:LINE: ELEMENT_ID: message, as `creditflow validate` prints it")


class Checked(Model):
    ok: bool = Field(description="true when deploying these files would pass every check")
    problems: list[CheckedProblem]


@bp.post("/definitions/validate")
@api.validate(form=ValidateUpload, resp=responses(200, Checked, 400, 403, 404, 413))
def post_definitions_validate() -> Response:
    """Run every check of a deploy on the uploaded files and list the problems (element id, FILE:LINE,
    message); nothing is deployed or stored. Process owners (a POST: auditors are refused, as on every
    POST)."""
    actor = current_actor()
    require_groups(actor, PROCESS_OWNERS, _("validate process definitions"))
    uploads = request.files.getlist("files")
    if not uploads:
        raise BadRequest(_("upload the BPMN, DMN and form files as multipart field 'files'"))
    if len(uploads) > MAX_FILES:
        raise BadRequest(_("upload at most %(most)s files at once", most=MAX_FILES))
    # Forms are referenced by base name, as the deploy page reads them.
    files = {PurePath(u.filename or f"file{i}").name: u.read() for i, u in enumerate(uploads)}
    key = request.form.get("definition_key", "").strip()
    if key:
        files = {**_deployed_files(key, request.form.get("version", "").strip()), **files}
    try:
        check_files(files, services().rt.operations)
    except InvalidBundle as exc:
        problems = [
            p.as_json(gettext) for p in exc.problems
        ]  # in the caller's language; locations as they are
        return jsonify({"ok": False, "problems": problems})
    return jsonify({"ok": True, "problems": []})


def _deployed_files(key: str, version: str) -> dict[str, bytes]:
    """The files of a deployed version, which the uploaded ones replace or add to.

    Raises:
        BadRequest: the key or version is not a plausible one. NotFound: no such deployed version.
    """
    if len(key) > _KEY_LENGTH or "\x00" in key:
        raise BadRequest(
            _("definition_key must be a process key of at most %(most)s characters", most=_KEY_LENGTH)
        )
    if version and not (version.isascii() and version.isdigit() and 1 <= int(version[:12]) <= MAX_VERSION):
        raise BadRequest(_("version must be a whole number from 1 to %(most)s", most=MAX_VERSION))
    with services().rt.factory() as session:
        definition = (
            get_definition(session, key, int(version)) if version else latest_definition(session, key)
        )
        assert definition is not None  # required=True raises NotFound instead
        return {name: text.encode("utf-8") for name, text in deployment_files(session, definition).items()}
