"""/definitions/KEY/compare: two versions' diagrams side by side, the elements added (green), removed (red)
and changed (amber) coloured by bpmn-js markers; the diff is computed here (definitions.element_diff).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from webui.auth import login_required_view, require_groups
from webui.diagrams import diagram_xml
from webui.services import services
from workflows.credit.roles import DEFINITION_READERS
from workflows.definitions.element_diff import compare_bpmn
from workflows.definitions.versions import get_definition, versions_of
from workflows.errors import NotFound
from workflows.messages import _

bp = Blueprint("definition_compare", __name__)


@bp.get("/definitions/<key>/compare")
@login_required_view
def compare(key: str) -> str:
    """`from` and `to` are deployed version numbers (default: the newest and the one before it); anything
    else falls back to the default, as the definition page's policy comparison does."""
    require_groups(DEFINITION_READERS, _("compare process definitions"))
    with services().rt.factory() as session:
        versions = versions_of(session, [key])
        numbers = [v.version for v in versions]
        if not numbers:
            raise NotFound(_("no process %(key)s is deployed", key=key))
        new = _version_arg("to", numbers, max(numbers))
        earlier = [n for n in numbers if n < new]  # max: versions_of lists the newest first
        old = _version_arg("from", numbers, max(earlier) if earlier else new)
        old_definition, new_definition = get_definition(session, key, old), get_definition(session, key, new)
        diff = compare_bpmn(diagram_xml(session, old_definition), diagram_xml(session, new_definition))
        old_markers, new_markers = diff.markers()
        return render_template(
            "definitions/compare.html",
            key=key,
            name=new_definition.name or key,
            versions=sorted(numbers),
            old=old,
            new=new,
            changes=diff.changes,
            old_markers=old_markers,
            new_markers=new_markers,
        )


def _version_arg(name: str, versions: list[int], default: int) -> int:
    """A version from the query string; anything but a deployed version number is the default."""
    value = request.args.get(name, "")
    if value.isascii() and value.isdigit() and len(value) <= 10 and int(value) in versions:
        return int(value)
    return default
